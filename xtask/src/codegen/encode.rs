//! `encode_body`: writer calls for each field, in line and tagged, and the error for a value
//! a version cannot carry.

use core::fmt::Write as _;

use super::types::{is_option, non_default};
use super::{
    Ctx, compact_of, flex_line, has_flexible, negate, snake_case, tag_of, tagged, tagged_compact,
    untagged,
};
use crate::spec::{Field, Prim, Ty};

fn prim_writer(p: &Prim, v: &str) -> String {
    let m = match p {
        Prim::Int8 => "put_i8",
        Prim::Int16 => "put_i16",
        Prim::Int32 => "put_i32",
        Prim::Int64 => "put_i64",
        Prim::Uint16 => "put_u16",
        Prim::Uint32 => "put_u32",
        Prim::Float64 => "put_f64",
        Prim::Bool => "put_bool",
        Prim::Uuid => "put_uuid",
        Prim::String | Prim::Bytes | Prim::Records => unreachable!("length-prefixed"),
    };
    format!("w.{m}({v});")
}

fn elem_writer(t: &Ty, compact: &str) -> String {
    match t {
        Ty::Prim(Prim::String) => format!("|w, v| w.put_string(v, {compact})"),
        Ty::Prim(Prim::Bytes) => format!("|w, v| w.put_bytes(v, {compact})"),
        Ty::Prim(p) => format!("|w, v| {{ {} Ok(()) }}", prim_writer(p, "*v")),
        Ty::Struct(_) => "|w, v| v.encode_body(w, version)".into(),
        Ty::Array(_) => unreachable!("arrays of arrays are not in Kafka's spec"),
    }
}

/// Statements writing field `f` (as `self.<ident>`) to `w`.
fn writer(ctx: &Ctx, f: &Field, compact: &str) -> String {
    let name = &f.name;
    let access = format!("self.{}", snake_case(name));
    let nullable = ctx.cond_within(f.nullable, f.versions);
    let opt = is_option(f);
    match &f.ty {
        Ty::Prim(Prim::String) if opt => {
            format!("w.put_nullable_string({access}.as_deref(), {compact}, {nullable}, {name:?})?;")
        }
        Ty::Prim(Prim::String) => format!("w.put_string(&{access}, {compact})?;"),
        Ty::Prim(Prim::Bytes) if opt => {
            format!("w.put_nullable_bytes({access}.as_deref(), {compact}, {nullable}, {name:?})?;")
        }
        Ty::Prim(Prim::Bytes) => format!("w.put_bytes(&{access}, {compact})?;"),
        Ty::Prim(Prim::Records) => {
            format!("w.put_nullable_records({access}.as_ref(), {compact}, {nullable}, {name:?})?;")
        }
        Ty::Prim(p) => prim_writer(p, &access),
        Ty::Struct(_) if opt => format!(
            "w.put_nullable_struct({access}.as_ref(), {nullable}, {name:?}, |w, v| v.encode_body(w, version))?;"
        ),
        Ty::Struct(_) => format!("{access}.encode_body(w, version)?;"),
        Ty::Array(inner) => {
            let elem = elem_writer(inner, compact);
            if opt {
                format!(
                    "w.put_nullable_array({access}.as_deref(), {compact}, {nullable}, {name:?}, {elem})?;"
                )
            } else {
                format!("w.put_array(&{access}, {compact}, {elem})?;")
            }
        }
    }
}

/// `encode_body`: the in-line fields in spec order, then the tagged-field section.
pub(super) fn gen_encode(
    ctx: &Ctx,
    out: &mut String,
    fields: &[Field],
    tagged_fields: &[&Field],
) -> Result<(), String> {
    out.push_str(
        "    /// Writes the struct at `version` (already checked against the message's range).\n",
    );
    out.push_str("    pub(crate) fn encode_body(&self, w: &mut Writer, version: i16) -> Result<(), EncodeError> {\n");
    out.push_str(&flex_line(ctx));
    for f in fields {
        encode_in_line(ctx, out, f)?;
    }
    if has_flexible(ctx) {
        encode_tagged(ctx, out, tagged_fields)?;
    }
    out.push_str("Ok(())\n}\n");
    Ok(())
}

/// Writes `f` at the versions that carry it in line; at the others, the check from
/// [`unsupported_check`].
fn encode_in_line(ctx: &Ctx, out: &mut String, f: &Field) -> Result<(), String> {
    let c = ctx.cond(untagged(ctx, f)?);
    let write = writer(ctx, f, compact_of(ctx, f));
    match (c.as_str(), unsupported_check(ctx, f)?) {
        ("true", _) => {
            let _ = writeln!(out, "{write}");
        }
        ("false", None) => {}
        ("false", Some(check)) => {
            let _ = writeln!(out, "{check}");
        }
        (c, None) => {
            let _ = writeln!(out, "if {c} {{\n{write}\n}}");
        }
        (c, Some(check)) => {
            let _ = writeln!(out, "if {c} {{\n{write}\n}} else {check}");
        }
    }
    Ok(())
}

/// Kafka's rule for a non-ignorable field: encoding a non-default value at a version that cannot
/// carry it (not tagged there either) is an error. `None` for an ignorable field, or one every
/// version carries tagged.
fn unsupported_check(ctx: &Ctx, f: &Field) -> Result<Option<String>, String> {
    if f.ignorable {
        return Ok(None);
    }
    let t = ctx.cond(tagged(ctx, f));
    let nd = non_default(f, &format!("self.{}", snake_case(&f.name)))?;
    let mut parts = Vec::new();
    if t != "false" {
        parts.push(negate(&t));
    }
    parts.push(nd);
    Ok((t != "true").then(|| {
        format!(
            "if {} {{\nreturn Err(EncodeError::UnsupportedField({:?}));\n}}",
            parts.join(" && "),
            f.name
        )
    }))
}

/// The `if flexible` block writing the tagged-field section; a field is written only where its
/// version tags it and its value differs from the default.
fn encode_tagged(ctx: &Ctx, out: &mut String, tagged_fields: &[&Field]) -> Result<(), String> {
    out.push_str("if flexible {\n");
    if tagged_fields.is_empty() {
        out.push_str("w.put_tagged_fields(p::TaggedFields::new())?;\n");
    } else {
        out.push_str("let mut tagged = p::TaggedFields::new();\n");
        for f in tagged_fields {
            let tag = tag_of(f)?;
            let c = ctx.cond(tagged(ctx, f));
            let nd = non_default(f, &format!("self.{}", snake_case(&f.name)))?;
            let cond = if c == "true" {
                nd
            } else {
                format!("{c} && {nd}")
            };
            let write = writer(ctx, f, tagged_compact(f));
            let _ = writeln!(
                out,
                "if {cond} {{\ntagged.field({tag}, |w| {{\n{write}\nOk(())\n}})?;\n}}"
            );
        }
        out.push_str("w.put_tagged_fields(tagged)?;\n");
    }
    out.push_str("}\n");
    Ok(())
}
