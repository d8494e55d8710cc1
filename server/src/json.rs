//! JSON out: the writer of the HTTP routes' answers (objects, arrays, strings, numbers and
//! booleans, with the commas placed for the caller) and the string escaping the log shares.

use std::fmt::{self, Display, Write};

/// Builds one JSON document. Calls nest as the document does: `begin_object`, then `key` and a
/// value per member, then `end_object`.
#[derive(Debug, Default)]
pub struct Json {
    out: String,
    /// Per open object or array: whether a value was written in it yet (a comma is due).
    open: Vec<bool>,
    /// A key was just written: the next value is its own, no comma before it.
    after_key: bool,
}

impl Json {
    pub fn new() -> Json {
        Json::default()
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }

    fn value_start(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(wrote) = self.open.last_mut() {
            if *wrote {
                self.out.push(',');
            }
            *wrote = true;
        }
    }

    pub fn begin_object(&mut self) -> &mut Json {
        self.value_start();
        self.out.push('{');
        self.open.push(false);
        self
    }

    pub fn end_object(&mut self) -> &mut Json {
        self.open.pop();
        self.out.push('}');
        self
    }

    pub fn begin_array(&mut self) -> &mut Json {
        self.value_start();
        self.out.push('[');
        self.open.push(false);
        self
    }

    pub fn end_array(&mut self) -> &mut Json {
        self.open.pop();
        self.out.push(']');
        self
    }

    /// A member's name; its value is the next call.
    pub fn key(&mut self, name: &str) -> &mut Json {
        self.value_start();
        escape(&mut self.out, name);
        self.out.push(':');
        self.after_key = true;
        self
    }

    pub fn string(&mut self, s: &str) -> &mut Json {
        self.value_start();
        escape(&mut self.out, s);
        self
    }

    /// A string, or `null`.
    pub fn opt_string(&mut self, s: Option<&str>) -> &mut Json {
        match s {
            Some(s) => self.string(s),
            None => self.null(),
        }
    }

    /// An integer (or any value whose `Display` is a JSON number).
    pub fn number(&mut self, n: impl Display) -> &mut Json {
        self.value_start();
        push_fmt(&mut self.out, format_args!("{n}"));
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Json {
        self.value_start();
        self.out.push_str(if b { "true" } else { "false" });
        self
    }

    pub fn null(&mut self) -> &mut Json {
        self.value_start();
        self.out.push_str("null");
        self
    }
}

/// A JSON string (RFC 8259): quotes, backslashes and control characters escaped.
pub fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                push_fmt(out, format_args!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `args` appended to `out`.
pub fn push_fmt(out: &mut String, args: fmt::Arguments<'_>) {
    out.write_fmt(args)
        .expect("writing into a String cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_with_commas() {
        let mut j = Json::new();
        j.begin_object();
        j.key("a").number(1);
        j.key("b").begin_array();
        j.string("x\"y").null().bool(true).number(-1.5);
        j.end_array();
        j.key("c").begin_object().end_object();
        j.end_object();
        let text = j.finish();
        assert_eq!(text, r#"{"a":1,"b":["x\"y",null,true,-1.5],"c":{}}"#);
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["b"][0], "x\"y");
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = String::new();
        escape(&mut out, "a\u{1}\n");
        assert_eq!(out, r#""a\u0001\n""#);
    }
}
