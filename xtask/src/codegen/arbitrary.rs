//! What the round-trip tests need: `for_version`, which fits a value to a version, and
//! `quickcheck::Arbitrary`.

use core::fmt::Write as _;

use super::types::{default_expr, inner_default, is_option, prim_rust};
use super::{Ctx, negate, snake_case, tagged, untagged};
use crate::spec::{Field, Prim, Ty};

/// `for_version`, which round-trip tests apply to arbitrary values before encoding.
pub(super) fn gen_for_version(ctx: &Ctx, out: &mut String, fields: &[Field]) -> Result<(), String> {
    out.push_str(
        "\n/// Resets what `version` cannot carry to its default (fields the version lacks, null \
         where it allows none), so that encoding at `version` and decoding gives `self` back.\n",
    );
    out.push_str("#[cfg(feature = \"arbitrary\")]\n");
    out.push_str("pub fn for_version(&mut self, version: i16) {\n");
    for f in fields {
        for_version_field(ctx, out, f)?;
    }
    out.push_str("}\n");
    Ok(())
}

/// `for_version`'s statements for `f`: where the version carries the field, fill a null it cannot
/// carry and recurse into structs; elsewhere reset the field to its default.
fn for_version_field(ctx: &Ctx, out: &mut String, f: &Field) -> Result<(), String> {
    let id = snake_case(&f.name);
    let present = present_cond(ctx, f)?;
    let mut body = String::new();
    if let Some(fill) = null_fill(ctx, f, &id)? {
        let _ = writeln!(body, "{fill}");
    }
    if let Some(r) = for_version_recurse(f, &id) {
        let _ = writeln!(body, "{r}");
    }
    let reset = format!("self.{id} = {};", default_expr(f)?);
    match present.as_str() {
        "true" => out.push_str(&body),
        "false" => {
            let _ = writeln!(out, "{reset}");
        }
        p if body.is_empty() => {
            let _ = writeln!(out, "if {} {{\n{reset}\n}}", negate(p));
        }
        p => {
            let _ = writeln!(out, "if {p} {{\n{body}}} else {{\n{reset}\n}}");
        }
    }
    Ok(())
}

/// The condition for "`version` carries `f`", in line or tagged.
fn present_cond(ctx: &Ctx, f: &Field) -> Result<String, String> {
    let untagged_c = ctx.cond(untagged(ctx, f)?);
    let tagged_c = ctx.cond(tagged(ctx, f));
    Ok(match (untagged_c.as_str(), tagged_c.as_str()) {
        ("true", _) | (_, "true") => "true".to_string(),
        ("false", "false") => "false".to_string(),
        ("false", t) => t.to_string(),
        (u, "false") => u.to_string(),
        (u, t) => format!("({u}) || ({t})"),
    })
}

/// For an `Option` field some versions cannot make null: a statement replacing `None` with the
/// inner default at those versions.
fn null_fill(ctx: &Ctx, f: &Field, id: &str) -> Result<Option<String>, String> {
    if !is_option(f) {
        return Ok(None);
    }
    let nc = ctx.cond_within(f.nullable, f.versions);
    if nc == "true" {
        return Ok(None);
    }
    let inner = inner_default(f)?;
    let cond = match nc.as_str() {
        "false" => format!("self.{id}.is_none()"),
        nc => format!("{} && self.{id}.is_none()", negate(nc)),
    };
    Ok(Some(format!(
        "if {cond} {{\nself.{id} = Some({inner});\n}}"
    )))
}

/// The call applying `for_version` to the structs inside `f`, if it holds any.
fn for_version_recurse(f: &Field, id: &str) -> Option<String> {
    match (&f.ty, is_option(f)) {
        (Ty::Struct(_), false) => Some(format!("self.{id}.for_version(version);")),
        (Ty::Struct(_), true) => Some(format!(
            "if let Some(v) = &mut self.{id} {{\nv.for_version(version);\n}}"
        )),
        (Ty::Array(inner), opt) if matches!(**inner, Ty::Struct(_)) => {
            let iter = if opt {
                format!("self.{id}.iter_mut().flatten()")
            } else {
                format!("&mut self.{id}")
            };
            Some(format!("for v in {iter} {{\nv.for_version(version);\n}}"))
        }
        _ => None,
    }
}

/// `impl quickcheck::Arbitrary`, for the round-trip tests.
pub(super) fn gen_arbitrary(out: &mut String, name: &str, fields: &[Field]) {
    let _ = writeln!(
        out,
        "#[cfg(feature = \"arbitrary\")]\nimpl quickcheck::Arbitrary for {name} {{\n    fn arbitrary(g: &mut quickcheck::Gen) -> Self {{\n        {name} {{"
    );
    for f in fields {
        let inner = arb_ty(&f.ty);
        let e = if is_option(f) {
            format!("a::option(g, {})", arb_fn(&f.ty))
        } else {
            inner
        };
        let _ = writeln!(out, "            {}: {e},", snake_case(&f.name));
    }
    out.push_str("        }\n    }\n}\n\n");
}

fn arb_ty(t: &Ty) -> String {
    match t {
        Ty::Array(inner) => format!("a::vec(g, {})", arb_fn(inner)),
        _ => format!("{}(g)", arb_fn(t)),
    }
}

/// A generator for `t` as a function path, or a closure where none exists.
fn arb_fn(t: &Ty) -> String {
    match t {
        Ty::Prim(Prim::Float64) => "a::float".into(),
        Ty::Prim(Prim::String) => "a::string".into(),
        Ty::Prim(Prim::Bytes) => "a::bytes".into(),
        Ty::Prim(Prim::Uuid) => "a::uuid".into(),
        Ty::Prim(Prim::Records) => "a::records".into(),
        Ty::Prim(p) => format!("<{} as quickcheck::Arbitrary>::arbitrary", prim_rust(p)),
        Ty::Struct(s) => format!("<{s} as quickcheck::Arbitrary>::arbitrary"),
        Ty::Array(_) => format!("|g| {}", arb_ty(t)),
    }
}
