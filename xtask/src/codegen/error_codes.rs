//! `visit_error_codes`: every error code a response carries, top level and nested (per topic,
//! per partition), for the broker's error counts. Kafka's responses count theirs by hand
//! (`AbstractResponse.errorCounts`); generated, none is forgotten.

use core::fmt::Write as _;

use super::{StructItem, snake_case, types::is_option};
use crate::spec::{Field, MessageSpec, Prim, Ty};

/// Whether `f` is an error code: an int16 named `ErrorCode` or `...ErrorCode`
/// (`PartitionErrorCode`, `TopicConfigErrorCode`).
fn is_error_code(f: &Field) -> bool {
    f.ty == Ty::Prim(Prim::Int16) && f.name.ends_with("ErrorCode")
}

/// The struct a field holds (alone or in an array), if any.
fn struct_of(f: &Field) -> Option<&str> {
    match &f.ty {
        Ty::Struct(s) => Some(s),
        Ty::Array(inner) => match &**inner {
            Ty::Struct(s) => Some(s),
            _ => None,
        },
        Ty::Prim(_) => None,
    }
}

/// Whether field `f` holds an error code, itself or in the struct it holds. Kafka's structs do
/// not nest themselves, so the walk ends.
fn holds_error_codes(f: &Field, structs: &[StructItem]) -> bool {
    is_error_code(f)
        || struct_of(f).is_some_and(|s| {
            structs
                .iter()
                .find(|(name, _, _)| name == s)
                .is_some_and(|(_, _, fields)| has_error_codes(fields, structs))
        })
}

/// Whether `fields` hold an error code; `structs` are the message's struct definitions.
pub(super) fn has_error_codes(fields: &[Field], structs: &[StructItem]) -> bool {
    fields.iter().any(|f| holds_error_codes(f, structs))
}

/// The struct's `visit_error_codes` (responses only; none for a struct without error codes).
pub(super) fn gen_visit_error_codes(
    spec: &MessageSpec,
    structs: &[StructItem],
    out: &mut String,
    fields: &[Field],
) {
    if spec.kind != "response" || !has_error_codes(fields, structs) {
        return;
    }
    out.push_str("\n/// Calls `f` with each error code held here and below.\n");
    out.push_str("    pub fn visit_error_codes<F: FnMut(i16)>(&self, f: &mut F) {\n");
    for field in fields {
        let access = format!("self.{}", snake_case(&field.name));
        if is_error_code(field) {
            let _ = writeln!(out, "f({access});");
            continue;
        }
        if !holds_error_codes(field, structs) {
            continue;
        }
        let line = match (&field.ty, is_option(field)) {
            (Ty::Array(_), false) => {
                format!("for v in &{access} {{ v.visit_error_codes(f); }}")
            }
            (Ty::Array(_), true) => {
                format!("for v in {access}.iter().flatten() {{ v.visit_error_codes(f); }}")
            }
            (_, false) => format!("{access}.visit_error_codes(f);"),
            (_, true) => {
                format!("if let Some(v) = &{access} {{ v.visit_error_codes(f); }}")
            }
        };
        let _ = writeln!(out, "{line}");
    }
    out.push_str("}\n");
}
