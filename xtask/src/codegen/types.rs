//! The Rust side of each field: its type, its default, and the struct declaration.

use core::fmt::Write as _;

use super::{Ctx, doc, snake_case};
use crate::spec::{Field, Prim, Ty};

pub(super) fn is_option(f: &Field) -> bool {
    f.nullable.0.is_some() || f.ty == Ty::Prim(Prim::Records)
}

pub(super) fn prim_rust(p: &Prim) -> &'static str {
    match p {
        Prim::Int8 => "i8",
        Prim::Int16 => "i16",
        Prim::Int32 => "i32",
        Prim::Int64 => "i64",
        Prim::Uint16 => "u16",
        Prim::Uint32 => "u32",
        Prim::Float64 => "f64",
        Prim::Bool => "bool",
        Prim::Uuid => "Uuid",
        Prim::String => "String",
        Prim::Bytes => "Vec<u8>",
        Prim::Records => "Records",
    }
}

fn ty_rust(t: &Ty) -> String {
    match t {
        Ty::Prim(p) => prim_rust(p).into(),
        Ty::Struct(s) => s.clone(),
        Ty::Array(inner) => format!("Vec<{}>", ty_rust(inner)),
    }
}

fn field_rust(f: &Field) -> String {
    if is_option(f) {
        format!("Option<{}>", ty_rust(&f.ty))
    } else {
        ty_rust(&f.ty)
    }
}

fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => body.parse::<i128>().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// The default of the field's non-null value as a Rust expression.
pub(super) fn inner_default(f: &Field) -> Result<String, String> {
    let d = f.default.as_deref().filter(|d| *d != "null");
    Ok(match &f.ty {
        Ty::Prim(p) => match p {
            Prim::Int8 | Prim::Int16 | Prim::Int32 | Prim::Int64 | Prim::Uint16 | Prim::Uint32 => {
                match d {
                    Some(d) => {
                        let v =
                            parse_int(d).ok_or_else(|| format!("{}: bad default {d:?}", f.name))?;
                        match (p, v) {
                            (Prim::Int32, v) if v == i32::MIN as i128 => "i32::MIN".into(),
                            (Prim::Int32, v) if v == i32::MAX as i128 => "i32::MAX".into(),
                            (Prim::Int64, v) if v == i64::MIN as i128 => "i64::MIN".into(),
                            (_, v) => v.to_string(),
                        }
                    }
                    None => "0".into(),
                }
            }
            Prim::Float64 => match d {
                Some(d) => {
                    let v: f64 = d
                        .parse()
                        .map_err(|_| format!("{}: bad default {d:?}", f.name))?;
                    format!("{v:?}")
                }
                None => "0.0".into(),
            },
            Prim::Bool => match d {
                Some(d) if d.eq_ignore_ascii_case("true") => "true".into(),
                Some(d) if d.eq_ignore_ascii_case("false") => "false".into(),
                Some(d) => return Err(format!("{}: bad default {d:?}", f.name)),
                None => "false".into(),
            },
            Prim::Uuid => "Uuid::ZERO".into(),
            Prim::String => match d {
                Some(d) if !d.is_empty() => format!("String::from({d:?})"),
                _ => "String::new()".into(),
            },
            Prim::Bytes => "Vec::new()".into(),
            Prim::Records => "Records::default()".into(),
        },
        Ty::Struct(s) => format!("{s}::default()"),
        Ty::Array(_) => "Vec::new()".into(),
    })
}

/// The field's default as a Rust expression (Kafka's: "null" -> None; records default to null).
pub(super) fn default_expr(f: &Field) -> Result<String, String> {
    let inner = inner_default(f)?;
    if !is_option(f) {
        return Ok(inner);
    }
    if f.default.as_deref() == Some("null") || f.ty == Ty::Prim(Prim::Records) {
        Ok("None".into())
    } else {
        Ok(format!("Some({inner})"))
    }
}

/// Whether `#[derive(Default)]` gives the spec's defaults.
fn default_is_derivable(f: &Field) -> Result<bool, String> {
    let d = default_expr(f)?;
    Ok(matches!(
        d.as_str(),
        "0" | "0.0" | "false" | "String::new()" | "Vec::new()" | "None" | "Uuid::ZERO"
    ) || d.ends_with("::default()"))
}

/// Rust expression: does `self.x` differ from its default?
pub(super) fn non_default(f: &Field, access: &str) -> Result<String, String> {
    let d = default_expr(f)?;
    Ok(match d.as_str() {
        "None" => format!("{access}.is_some()"),
        "false" => access.to_string(),
        "true" => format!("!{access}"),
        "String::new()" | "Vec::new()" => format!("!{access}.is_empty()"),
        _ => format!("{access} != {d}"),
    })
}

/// The struct declaration, and `Default`: derived where that gives the spec's defaults, written
/// out where it does not.
pub(super) fn gen_type(
    ctx: &Ctx,
    out: &mut String,
    name: &str,
    about: &str,
    fields: &[Field],
) -> Result<(), String> {
    if about.trim().is_empty() {
        doc(out, &format!("`{name}`, part of `{}`.", ctx.spec.name));
    } else {
        doc(out, about);
    }
    let derivable = fields
        .iter()
        .map(default_is_derivable)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .all(|d| d);
    if derivable {
        out.push_str("#[derive(Clone, Debug, PartialEq, Default)]\n");
    } else {
        out.push_str("#[derive(Clone, Debug, PartialEq)]\n");
    }
    let _ = writeln!(out, "pub struct {name} {{");
    for f in fields {
        if f.about.trim().is_empty() {
            doc(out, &format!("`{}`.", f.name));
        } else {
            doc(out, &f.about);
        }
        let _ = writeln!(
            out,
            "    ///\n    /// Versions: {}.",
            f.versions.intersect(ctx.valid)
        );
        let _ = writeln!(out, "    pub {}: {},", snake_case(&f.name), field_rust(f));
    }
    out.push_str("}\n\n");
    if !derivable {
        gen_default_impl(out, name, fields)?;
    }
    Ok(())
}

/// `impl Default` with the spec's default for each field.
fn gen_default_impl(out: &mut String, name: &str, fields: &[Field]) -> Result<(), String> {
    let _ = writeln!(
        out,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        {name} {{"
    );
    for f in fields {
        let _ = writeln!(
            out,
            "            {}: {},",
            snake_case(&f.name),
            default_expr(f)?
        );
    }
    out.push_str("        }\n    }\n}\n\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_defaults() {
        assert_eq!(parse_int("0x7fffffff"), Some(i32::MAX as i128));
        assert_eq!(parse_int("-2147483648"), Some(i32::MIN as i128));
    }
}
