//! Rust source for one message: its structs, their codec, defaults, and quickcheck support.
//!
//! This module walks the message and writes each struct; one submodule per generated part:
//! `types` (the struct and its defaults), `decode`, `encode`, and `arbitrary` (what round-trip
//! tests need).

mod arbitrary;
mod decode;
mod encode;
mod error_codes;
mod types;

use core::fmt::Write as _;

use crate::spec::{Field, MessageSpec, StructDef, Ty, Versions};
use arbitrary::{gen_arbitrary, gen_for_version};
use decode::gen_decode;
use encode::gen_encode;
use error_codes::{gen_visit_error_codes, has_error_codes};
use types::gen_type;

/// `TransactionalId` -> `transactional_id`; Rust keywords get a trailing `_`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let acronym_end = i > 0
                && chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || acronym_end {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// The message-wide facts every field's code depends on.
struct Ctx<'a> {
    spec: &'a MessageSpec,
    valid: Versions,
}

impl Ctx<'_> {
    /// A boolean Rust expression for "`version` is in `v`", simplified against the valid range.
    fn cond(&self, v: Versions) -> String {
        self.cond_within(v, self.valid)
    }

    /// Like [`Ctx::cond`], for code that runs only at versions in `within`.
    fn cond_within(&self, v: Versions, within: Versions) -> String {
        let within = within.intersect(self.valid);
        let Some((vlo, vhi)) = within.0 else {
            return "false".into();
        };
        match v.intersect(within).0 {
            None => "false".into(),
            Some((lo, hi)) if lo <= vlo && hi >= vhi => "true".into(),
            Some((lo, hi)) if lo == hi => format!("version == {lo}"),
            Some((lo, hi)) if lo <= vlo => format!("version <= {hi}"),
            Some((lo, hi)) if hi >= vhi => format!("version >= {lo}"),
            Some((lo, hi)) => format!("({lo}..={hi}).contains(&version)"),
        }
    }

    fn flexible_expr(&self) -> &'static str {
        if self.spec.flexible.intersect(self.valid).0.is_some() {
            "flexible"
        } else {
            "false"
        }
    }
}

/// The negation of a condition made by [`Ctx::cond`], written the way a person would.
fn negate(cond: &str) -> String {
    if cond == "true" {
        return "false".into();
    }
    if cond == "false" {
        return "true".into();
    }
    for (op, neg) in [(" >= ", " < "), (" <= ", " > "), (" == ", " != ")] {
        if let Some((a, b)) = cond.split_once(op) {
            return format!("{a}{neg}{b}");
        }
    }
    format!("!{cond}")
}

fn doc(out: &mut String, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    for line in text.lines() {
        // Spec prose like "Array[0]" is not a rustdoc link.
        let line = line.trim().replace('[', "\\[").replace(']', "\\]");
        let _ = writeln!(out, "/// {line}");
    }
}

/// Versions in which the field is written in line (present and not tagged).
fn untagged(ctx: &Ctx, f: &Field) -> Result<Versions, String> {
    f.versions.intersect(ctx.valid).subtract(f.tagged)
}

fn tagged(ctx: &Ctx, f: &Field) -> Versions {
    f.tagged.intersect(f.versions).intersect(ctx.valid)
}

fn compact_of(ctx: &Ctx, f: &Field) -> &'static str {
    if f.never_flexible {
        "false"
    } else {
        ctx.flexible_expr()
    }
}

/// Everything generated for one struct: the type, its codec, `for_version`, `Message` (top level
/// only) and `Arbitrary`. One function per generated item, so each can be read alone.
fn gen_struct(
    ctx: &Ctx,
    structs: &[StructItem],
    out: &mut String,
    (name, about, fields): &StructItem,
) -> Result<(), String> {
    gen_type(ctx, out, name, about, fields)?;
    let tagged_fields = tagged_fields(ctx, fields);
    let _ = writeln!(out, "impl {name} {{");
    gen_decode(ctx, out, fields, &tagged_fields)?;
    gen_encode(ctx, out, fields, &tagged_fields)?;
    gen_for_version(ctx, out, fields)?;
    gen_visit_error_codes(ctx.spec, structs, out, fields);
    out.push_str("}\n\n");
    if *name == ctx.spec.name {
        let visits = ctx.spec.kind == "response" && has_error_codes(fields, structs);
        gen_message_impl(ctx.spec, out, name, visits);
    }
    gen_arbitrary(out, name, fields);
    Ok(())
}

/// Whether any valid version is flexible, i.e. has a tagged-field section.
fn has_flexible(ctx: &Ctx) -> bool {
    ctx.flexible_expr() == "flexible"
}

/// The line binding `flexible` that `decode_body` and `encode_body` start with, if they use it.
fn flex_line(ctx: &Ctx) -> String {
    match ctx.spec.flexible.lowest() {
        Some(lo) if has_flexible(ctx) => format!("let flexible = version >= {lo};\n"),
        _ => String::new(),
    }
}

/// The fields tagged at some valid version, by tag: the order Kafka writes them in.
fn tagged_fields<'a>(ctx: &Ctx, fields: &'a [Field]) -> Vec<&'a Field> {
    let mut tagged_fields: Vec<&Field> = fields
        .iter()
        .filter(|f| tagged(ctx, f).0.is_some())
        .collect();
    tagged_fields.sort_by_key(|f| f.tag);
    tagged_fields
}

/// A tagged field's tag; a spec giving `taggedVersions` without a `tag` is malformed.
fn tag_of(f: &Field) -> Result<u32, String> {
    f.tag
        .ok_or_else(|| format!("{}: tagged without tag", f.name))
}

/// Whether a tagged field's value is compact: tagged fields exist only in flexible versions.
fn tagged_compact(f: &Field) -> &'static str {
    if f.never_flexible { "false" } else { "true" }
}

/// `impl Message` for the top-level struct: the api key and the version range, and for a
/// response that `visits` error codes, its visitor.
fn gen_message_impl(spec: &MessageSpec, out: &mut String, name: &str, visits: bool) {
    let key = spec.api_key.unwrap_or(-1);
    let ffv = spec
        .flexible
        .lowest()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "i16::MAX".into());
    let _ = writeln!(
        out,
        "impl Message for {name} {{
    const API_KEY: i16 = {key};
    const LOWEST_VERSION: i16 = {lo};
    const HIGHEST_VERSION: i16 = {hi};
    const FIRST_FLEXIBLE_VERSION: i16 = {ffv};

    fn decode(input: &[u8], version: i16) -> p::Parsed<'_, Self> {{
        check_decode_version::<Self>(version)?;
        Self::decode_body(input, version)
    }}

    fn encode(&self, w: &mut Writer, version: i16) -> Result<(), EncodeError> {{
        check_encode_version::<Self>(version)?;
        self.encode_body(w, version)
    }}
{visit}}}
",
        lo = spec.valid.0,
        hi = spec.valid.1,
        visit = if visits {
            "\n    fn visit_error_codes<F: FnMut(i16)>(&self, f: &mut F) {\n        \
             Self::visit_error_codes(self, f)\n    }\n"
        } else {
            ""
        },
    );
}

/// A struct to generate: its name, doc text and fields.
type StructItem<'a> = (String, String, &'a [Field]);

/// Every struct the message defines, in order of first appearance (top level first).
fn collect_structs(spec: &MessageSpec) -> Result<Vec<StructItem<'_>>, String> {
    fn walk<'a>(
        fields: &'a [Field],
        out: &mut Vec<StructItem<'a>>,
        common: &'a [StructDef],
    ) -> Result<(), String> {
        for f in fields {
            let base = match &f.ty {
                Ty::Struct(s) => Some(s),
                Ty::Array(inner) => match &**inner {
                    Ty::Struct(s) => Some(s),
                    _ => None,
                },
                _ => None,
            };
            let Some(base) = base else { continue };
            if !f.fields.is_empty() {
                if out.iter().any(|(n, _, _)| n == base) {
                    return Err(format!("struct {base} defined twice"));
                }
                out.push((base.clone(), f.about.clone(), &f.fields));
                walk(&f.fields, out, common)?;
            } else if !common.iter().any(|c| &c.name == base)
                && !out.iter().any(|(n, _, _)| n == base)
            {
                return Err(format!("struct {base} is not defined"));
            }
        }
        Ok(())
    }
    let about = match spec.api_key {
        Some(k) => format!(
            "Kafka's `{}` (api key {k}), versions {}-{}.",
            spec.name, spec.valid.0, spec.valid.1
        ),
        None => format!(
            "Kafka's `{}`, versions {}-{}.",
            spec.name, spec.valid.0, spec.valid.1
        ),
    };
    let mut out = vec![(spec.name.clone(), about, spec.fields.as_slice())];
    walk(&spec.fields, &mut out, &spec.common)?;
    for c in &spec.common {
        out.push((c.name.clone(), c.about.clone(), c.fields.as_slice()));
        walk(&c.fields, &mut out, &spec.common)?;
    }
    Ok(out)
}

pub fn header_line(spec: &MessageSpec) -> String {
    format!(
        "// Generated by xtask codegen from {}. Do not edit.\n",
        spec.file
    )
}

/// The whole module for one message, before rustfmt.
pub fn message_module(spec: &MessageSpec) -> Result<String, String> {
    let ctx = Ctx {
        spec,
        valid: Versions(Some(spec.valid)),
    };
    let mut out = header_line(spec);
    let _ = writeln!(
        out,
        "//! `{}`: see the struct docs for fields and versions.\n",
        spec.name
    );
    // Every module gets the same imports and every struct the same `decode_body` shape, so a
    // struct without fields or without version-dependent ones leaves an import, `mut` or
    // `version` unused. The generated file says so rather than the generator special-casing it.
    out.push_str(
        "// Every module has the same imports and every struct the same codec shape; some go \
         unused.\n",
    );
    out.push_str("#![allow(unused_mut, unused_variables, unused_imports)]\n\n");
    out.push_str(
        "use alloc::string::String;\nuse alloc::vec::Vec;\n\n\
         use crate::codec::primitives::{self as p, EncodeError, Records, Uuid, Writer};\n\
         use crate::codec::{Message, check_decode_version, check_encode_version};\n\
         #[cfg(feature = \"arbitrary\")]\nuse crate::codec::arbitrary as a;\n\n",
    );
    let structs = collect_structs(spec)?;
    for item in &structs {
        gen_struct(&ctx, &structs, &mut out, item).map_err(|e| format!("{}: {e}", spec.file))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("TransactionalId"), "transactional_id");
        assert_eq!(snake_case("TopicId"), "topic_id");
        assert_eq!(snake_case("Type"), "type_");
        assert_eq!(snake_case("ISRChanged"), "isr_changed");
        assert_eq!(snake_case("Match"), "match_");
        assert_eq!(snake_case("ProducerId2"), "producer_id2");
    }
}
