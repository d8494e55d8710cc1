//! Kafka's message spec (the JSON files of `common/message`), read into plain types.

use std::fmt;

use serde_json::Value;

/// An inclusive version range; `None` is the spec's "none".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions(pub Option<(i16, i16)>);

impl Versions {
    pub const NONE: Versions = Versions(None);

    /// Parses "3+", "0-7", "1" or "none".
    pub fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        if s == "none" || s.is_empty() {
            return Ok(Versions::NONE);
        }
        let num = |t: &str| {
            t.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version {s:?}: {e}"))
        };
        if let Some(lo) = s.strip_suffix('+') {
            return Ok(Versions(Some((num(lo)?, i16::MAX))));
        }
        if let Some((lo, hi)) = s.split_once('-') {
            return Ok(Versions(Some((num(lo)?, num(hi)?))));
        }
        let v = num(s)?;
        Ok(Versions(Some((v, v))))
    }

    pub fn intersect(self, other: Versions) -> Versions {
        match (self.0, other.0) {
            (Some((a, b)), Some((c, d))) if a.max(c) <= b.min(d) => {
                Versions(Some((a.max(c), b.min(d))))
            }
            _ => Versions::NONE,
        }
    }

    /// `self` minus `other`, which must not split `self` in two.
    pub fn subtract(self, other: Versions) -> Result<Versions, String> {
        let (Some((a, b)), Some((c, d))) = (self.0, other.0) else {
            return Ok(self);
        };
        if d < a || c > b {
            return Ok(self);
        }
        if c <= a && d >= b {
            return Ok(Versions::NONE);
        }
        if c <= a {
            return Ok(Versions(Some((d + 1, b))));
        }
        if d >= b {
            return Ok(Versions(Some((a, c - 1))));
        }
        Err(format!("{self} minus {other} is not one range"))
    }

    pub fn lowest(self) -> Option<i16> {
        self.0.map(|(lo, _)| lo)
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some((lo, i16::MAX)) => write!(f, "{lo}+"),
            Some((lo, hi)) => write!(f, "{lo}-{hi}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prim {
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    Bool,
    Uuid,
    String,
    Bytes,
    Records,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    Prim(Prim),
    Struct(String),
    Array(Box<Ty>),
}

impl Ty {
    fn parse(s: &str) -> Ty {
        if let Some(inner) = s.strip_prefix("[]") {
            return Ty::Array(Box::new(Ty::parse(inner)));
        }
        let p = match s {
            "int8" => Prim::Int8,
            "int16" => Prim::Int16,
            "int32" => Prim::Int32,
            "int64" => Prim::Int64,
            "uint16" => Prim::Uint16,
            "uint32" => Prim::Uint32,
            "float64" => Prim::Float64,
            "bool" => Prim::Bool,
            "uuid" => Prim::Uuid,
            "string" => Prim::String,
            "bytes" => Prim::Bytes,
            "records" => Prim::Records,
            other => return Ty::Struct(other.to_string()),
        };
        Ty::Prim(p)
    }
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub versions: Versions,
    pub nullable: Versions,
    pub tagged: Versions,
    pub tag: Option<u32>,
    pub ignorable: bool,
    pub default: Option<String>,
    /// The field's own `"flexibleVersions": "none"`: never compact.
    pub never_flexible: bool,
    pub about: String,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug)]
pub struct StructDef {
    pub name: String,
    pub about: String,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug)]
pub struct MessageSpec {
    pub file: String,
    pub name: String,
    pub kind: String,
    pub api_key: Option<i16>,
    pub valid: (i16, i16),
    pub flexible: Versions,
    pub fields: Vec<Field>,
    pub common: Vec<StructDef>,
}

/// Drops the `//` comment lines Kafka's spec files carry (JSON has no comments).
pub fn strip_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn default_text(v: &Value) -> Option<String> {
    match v.get("default")? {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_fields(v: &Value, ctx: &str) -> Result<Vec<Field>, String> {
    let Some(list) = v.get("fields").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    list.iter().map(|f| parse_field(f, ctx)).collect()
}

fn parse_field(v: &Value, ctx: &str) -> Result<Field, String> {
    let name = str_of(v, "name").ok_or_else(|| format!("{ctx}: field without name"))?;
    let ctx = format!("{ctx}.{name}");
    let ty = str_of(v, "type").ok_or_else(|| format!("{ctx}: no type"))?;
    let versions =
        Versions::parse(str_of(v, "versions").ok_or_else(|| format!("{ctx}: no versions"))?)?;
    let tag = match v.get("tag") {
        Some(t) => Some(
            // One spec file writes the tag as a string ("0").
            t.as_u64()
                .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
                .and_then(|t| u32::try_from(t).ok())
                .ok_or_else(|| format!("{ctx}: bad tag"))?,
        ),
        None => None,
    };
    Ok(Field {
        name: name.to_string(),
        ty: Ty::parse(ty),
        versions,
        nullable: Versions::parse(str_of(v, "nullableVersions").unwrap_or("none"))?,
        tagged: Versions::parse(str_of(v, "taggedVersions").unwrap_or("none"))?,
        tag,
        ignorable: v.get("ignorable").and_then(Value::as_bool).unwrap_or(false),
        default: default_text(v),
        never_flexible: str_of(v, "flexibleVersions") == Some("none"),
        about: str_of(v, "about").unwrap_or("").to_string(),
        fields: parse_fields(v, &ctx)?,
    })
}

pub fn parse_message(file: &str, text: &str) -> Result<MessageSpec, String> {
    let v: Value =
        serde_json::from_str(&strip_comments(text)).map_err(|e| format!("{file}: {e}"))?;
    let name = str_of(&v, "name")
        .ok_or_else(|| format!("{file}: no name"))?
        .to_string();
    let kind = str_of(&v, "type").unwrap_or("").to_string();
    let valid = Versions::parse(str_of(&v, "validVersions").unwrap_or("none"))?
        .0
        .ok_or_else(|| format!("{file}: no valid versions"))?;
    let common = match v.get("commonStructs").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .map(|c| {
                Ok(StructDef {
                    name: str_of(c, "name").unwrap_or("").to_string(),
                    about: str_of(c, "about").unwrap_or("").to_string(),
                    fields: parse_fields(c, file)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?,
        None => Vec::new(),
    };
    Ok(MessageSpec {
        file: file.to_string(),
        name: name.clone(),
        kind,
        api_key: v
            .get("apiKey")
            .and_then(Value::as_i64)
            .and_then(|k| i16::try_from(k).ok()),
        valid,
        flexible: Versions::parse(str_of(&v, "flexibleVersions").unwrap_or("none"))?,
        fields: parse_fields(&v, &name)?,
        common,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn version_ranges() {
        assert_eq!(
            Versions::parse("3+").unwrap(),
            Versions(Some((3, i16::MAX)))
        );
        assert_eq!(Versions::parse("0-7").unwrap(), Versions(Some((0, 7))));
        assert_eq!(Versions::parse("none").unwrap(), Versions::NONE);
        let all = Versions(Some((0, 11)));
        assert_eq!(
            all.subtract(Versions::parse("9+").unwrap()).unwrap(),
            Versions(Some((0, 8)))
        );
        assert!(all.subtract(Versions(Some((3, 4)))).is_err());
    }

    #[test]
    fn comments_are_stripped() {
        let m = parse_message(
            "X.json",
            "// c\n{\"name\":\"XRequest\",\"type\":\"request\",\"apiKey\":1,\"validVersions\":\"0-2\",\
             \"flexibleVersions\":\"none\",\"fields\":[]}",
        )
        .unwrap();
        assert_eq!((m.api_key, m.valid), (Some(1), (0, 2)));
    }
}
