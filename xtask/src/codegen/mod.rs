//! Rust source for one message: its structs, their codec, defaults, and quickcheck support.

use core::fmt::Write as _;

use crate::spec::{Field, MessageSpec, Prim, StructDef, Ty, Versions};

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

fn is_option(f: &Field) -> bool {
    f.nullable.0.is_some() || f.ty == Ty::Prim(Prim::Records)
}

fn prim_rust(p: &Prim) -> &'static str {
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
fn inner_default(f: &Field) -> Result<String, String> {
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
fn default_expr(f: &Field) -> Result<String, String> {
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
fn non_default(f: &Field, access: &str) -> Result<String, String> {
    let d = default_expr(f)?;
    Ok(match d.as_str() {
        "None" => format!("{access}.is_some()"),
        "false" => access.to_string(),
        "true" => format!("!{access}"),
        "String::new()" | "Vec::new()" => format!("!{access}.is_empty()"),
        _ => format!("{access} != {d}"),
    })
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
    out: &mut String,
    name: &str,
    about: &str,
    fields: &[Field],
    top: bool,
) -> Result<(), String> {
    gen_type(ctx, out, name, about, fields)?;
    let tagged_fields = tagged_fields(ctx, fields);
    let _ = writeln!(out, "impl {name} {{");
    gen_decode(ctx, out, fields, &tagged_fields)?;
    gen_encode(ctx, out, fields, &tagged_fields)?;
    gen_for_version(ctx, out, fields)?;
    out.push_str("}\n\n");
    if top {
        gen_message_impl(ctx.spec, out, name);
    }
    gen_arbitrary(out, name, fields);
    Ok(())
}

/// The struct declaration, and `Default`: derived where that gives the spec's defaults, written
/// out where it does not.
fn gen_type(
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

fn tag_of(f: &Field) -> Result<u32, String> {
    f.tag
        .ok_or_else(|| format!("{}: tagged without tag", f.name))
}

/// Whether a tagged field's value is compact: tagged fields exist only in flexible versions.
fn tagged_compact(f: &Field) -> &'static str {
    if f.never_flexible { "false" } else { "true" }
}

/// `decode_body`: the in-line fields in spec order, then the tagged-field section.
fn gen_decode(
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

/// `encode_body`: the in-line fields in spec order, then the tagged-field section.
fn gen_encode(
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

/// `for_version`, which round-trip tests apply to arbitrary values before encoding.
fn gen_for_version(ctx: &Ctx, out: &mut String, fields: &[Field]) -> Result<(), String> {
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

/// `impl Message` for the top-level struct: the api key and the version range.
fn gen_message_impl(spec: &MessageSpec, out: &mut String, name: &str) {
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
}}
",
        lo = spec.valid.0,
        hi = spec.valid.1,
    );
}

/// `impl quickcheck::Arbitrary`, for the round-trip tests.
fn gen_arbitrary(out: &mut String, name: &str, fields: &[Field]) {
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
    for (name, about, fields) in collect_structs(spec)? {
        let top = name == spec.name;
        gen_struct(&ctx, &mut out, &name, &about, fields, top)
            .map_err(|e| format!("{}: {e}", spec.file))?;
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

    #[test]
    fn int_defaults() {
        assert_eq!(parse_int("0x7fffffff"), Some(i32::MAX as i128));
        assert_eq!(parse_int("-2147483648"), Some(i32::MIN as i128));
    }
}
