//! Prometheus' text exposition format 0.0.4, written into a `String`: a family's `# HELP` and
//! `# TYPE` once, then its samples, `name{label="value",...} value` a line.

use std::fmt::Write as _;

/// The `Content-Type` of what [`Exposition`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample's value: integers as written, floats in Prometheus' spelling of the infinities.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Uint(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

/// The writer. Writing to a `String` cannot fail, so nothing here returns an error.
///
/// Names and label names are the caller's constants; label values and help text are escaped.
pub struct Exposition<'a> {
    out: &'a mut String,
}

impl<'a> Exposition<'a> {
    pub fn new(out: &'a mut String) -> Self {
        Exposition { out }
    }

    /// Start family `name`: its help text and type. Its samples follow, before the next family.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        for c in help.chars() {
            // HELP text escapes only the backslash and the line feed.
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
    }

    /// One sample of the family started last (`name` may carry a histogram's suffix).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                push_label_value(self.out, text);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        match value.into() {
            Value::Int(v) => push_display(self.out, v),
            Value::Uint(v) => push_display(self.out, v),
            Value::Float(v) if v.is_nan() => self.out.push_str("NaN"),
            Value::Float(v) if v == f64::INFINITY => self.out.push_str("+Inf"),
            Value::Float(v) if v == f64::NEG_INFINITY => self.out.push_str("-Inf"),
            Value::Float(v) => push_display(self.out, v),
        }
        self.out.push('\n');
    }
}

fn push_display(out: &mut String, v: impl std::fmt::Display) {
    write!(out, "{v}").expect("writing to a String cannot fail");
}

/// A label value escapes the backslash, the double quote and the line feed.
fn push_label_value(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}
