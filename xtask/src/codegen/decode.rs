//! `decode_body`: parser calls for each field, in line and tagged.

use core::fmt::Write as _;

use super::types::is_option;
use super::{
    Ctx, compact_of, flex_line, has_flexible, snake_case, tag_of, tagged, tagged_compact, untagged,
};
use crate::spec::{Field, Prim, Ty};

fn elem_reader(t: &Ty, compact: &str, name: &str) -> String {
    match t {
        Ty::Prim(Prim::String) => format!("|i| p::string(i, {compact}, {name:?})"),
        Ty::Prim(Prim::Bytes) => format!("|i| p::bytes(i, {compact}, {name:?})"),
        Ty::Prim(p) => prim_reader_fn(p).into(),
        Ty::Struct(s) => format!("|i| {s}::decode_body(i, version)"),
        Ty::Array(_) => panic!("{name}: arrays of arrays are not in Kafka's spec"),
    }
}

fn prim_reader_fn(p: &Prim) -> &'static str {
    match p {
        Prim::Int8 => "p::int8",
        Prim::Int16 => "p::int16",
        Prim::Int32 => "p::int32",
        Prim::Int64 => "p::int64",
        Prim::Uint16 => "p::uint16",
        Prim::Uint32 => "p::uint32",
        Prim::Float64 => "p::float64",
        Prim::Bool => "p::boolean",
        Prim::Uuid => "p::uuid",
        Prim::String | Prim::Bytes | Prim::Records => unreachable!("length-prefixed"),
    }
}

/// A parser call reading field `f` from `src`.
fn reader(ctx: &Ctx, f: &Field, src: &str, compact: &str) -> String {
    let name = &f.name;
    let nullable = ctx.cond_within(f.nullable, f.versions);
    let opt = is_option(f);
    match &f.ty {
        Ty::Prim(Prim::String) if opt => {
            format!("p::nullable_string({src}, {compact}, {nullable}, {name:?})")
        }
        Ty::Prim(Prim::String) => format!("p::string({src}, {compact}, {name:?})"),
        Ty::Prim(Prim::Bytes) if opt => {
            format!("p::nullable_bytes({src}, {compact}, {nullable}, {name:?})")
        }
        Ty::Prim(Prim::Bytes) => format!("p::bytes({src}, {compact}, {name:?})"),
        Ty::Prim(Prim::Records) => format!("p::records({src}, {compact}, {nullable}, {name:?})"),
        Ty::Prim(p) => format!("{}({src})", prim_reader_fn(p)),
        Ty::Struct(s) if opt => format!(
            "p::nullable_struct({src}, {nullable}, {name:?}, |i| {s}::decode_body(i, version))"
        ),
        Ty::Struct(s) => format!("{s}::decode_body({src}, version)"),
        Ty::Array(inner) => {
            let elem = elem_reader(inner, compact, name);
            if opt {
                format!("p::nullable_array({src}, {compact}, {nullable}, {name:?}, {elem})")
            } else {
                format!("p::array({src}, {compact}, {name:?}, {elem})")
            }
        }
    }
}

/// `decode_body`: the in-line fields in spec order, then the tagged-field section.
pub(super) fn gen_decode(
    ctx: &Ctx,
    out: &mut String,
    fields: &[Field],
    tagged_fields: &[&Field],
) -> Result<(), String> {
    out.push_str(
        "    /// Reads the struct at `version` (already checked against the message's range).\n",
    );
    out.push_str(
        "    pub(crate) fn decode_body(input: &[u8], version: i16) -> p::Parsed<'_, Self> {\n",
    );
    out.push_str(&flex_line(ctx));
    out.push_str("let mut input = input;\nlet mut this = Self::default();\n");
    for f in fields {
        let u = untagged(ctx, f)?;
        let c = ctx.cond(u);
        if c == "false" {
            continue;
        }
        let read = reader(ctx, f, "input", compact_of(ctx, f));
        let stmt = format!("(input, this.{}) = {read}?;", snake_case(&f.name));
        if c == "true" {
            let _ = writeln!(out, "{stmt}");
        } else {
            let _ = writeln!(out, "if {c} {{\n{stmt}\n}}");
        }
    }
    if has_flexible(ctx) {
        decode_tagged(ctx, out, tagged_fields)?;
    }
    out.push_str("Ok((input, this))\n}\n\n");
    Ok(())
}

/// The `if flexible` block reading the tagged-field section into `this`.
fn decode_tagged(ctx: &Ctx, out: &mut String, tagged_fields: &[&Field]) -> Result<(), String> {
    out.push_str("if flexible {\n");
    if tagged_fields.is_empty() {
        out.push_str("input = p::tagged_fields(input, |_, _| Ok(()))?.0;\n");
    } else {
        out.push_str("input = p::tagged_fields(input, |tag, data| {\n");
        out.push_str("// Kafka skips tags it does not know.\n");
        for f in tagged_fields {
            let tag = tag_of(f)?;
            let c = ctx.cond(tagged(ctx, f));
            let guard = if c == "true" {
                String::new()
            } else {
                format!(" && {c}")
            };
            let read = reader(ctx, f, "data", tagged_compact(f));
            let _ = writeln!(
                out,
                "if tag == {tag}{guard} {{\n(_, this.{}) = {read}?;\n}}",
                snake_case(&f.name)
            );
        }
        out.push_str("Ok(())\n})?\n.0;\n");
    }
    out.push_str("}\n");
    Ok(())
}
