//! Log lines on stderr: a time, a level, a message and `key=value` fields, as text
//! (`2026-12-05T21:53:19.123Z INFO  topic created topic=orders`) or as one JSON object a line
//! (`{"ts":"...","level":"INFO","msg":"topic created","topic":"orders"}`).
//!
//! The macros test the level before anything is built: a line below the level costs one atomic
//! load and a comparison. A line is formatted whole and written with one `write` call, so lines
//! from the loop and from the storage threads never interleave.

use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use crate::json::{self, push_fmt};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// How much a line matters; a level shows its own lines and those above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// The broker cannot do what it should (a failed write).
    Error = 1,
    /// Something is off but handled.
    Warn = 2,
    /// Changes worth knowing about: startup, topics, groups, shutdown.
    Info = 3,
    /// Connections and refused requests.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

impl Level {
    /// The setting's values, in order.
    pub const NAMES: &'static str = "error, warn, info, debug, trace";

    /// The name in a text line, padded to five characters so messages line up.
    fn padded(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }

    /// `error`, `warn`, ... (any case).
    pub fn parse(s: &str) -> Result<Level, String> {
        match s.to_ascii_lowercase().as_str() {
            "error" => Ok(Level::Error),
            "warn" | "warning" => Ok(Level::Warn),
            "info" => Ok(Level::Info),
            "debug" => Ok(Level::Debug),
            "trace" => Ok(Level::Trace),
            _ => Err(format!("expected one of {}", Level::NAMES)),
        }
    }
}

/// How a line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Time, level, message, `key=value` fields.
    Text,
    /// One JSON object a line: `ts`, `level`, `msg`, then the fields.
    Json,
}

impl Format {
    /// `text` or `json` (any case).
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            _ => Err("expected text or json".into()),
        }
    }
}

static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JSON: AtomicU8 = AtomicU8::new(0);

/// Set the level and format, once the configuration is read (until then: info, text).
pub fn init(level: Level, format: Format) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
    JSON.store(u8::from(format == Format::Json), Ordering::Relaxed);
}

/// Whether lines at `level` are written: the check every macro makes first.
#[inline(always)]
pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// A field's value, typed so JSON gets numbers as numbers.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    /// Text.
    Str(&'a str),
    /// A signed number.
    Int(i64),
    /// An unsigned number.
    Uint(u64),
    /// `true` or `false`.
    Bool(bool),
    /// A duration, written in milliseconds with three decimals (a number in JSON).
    Millis(Duration),
    /// Anything else, written as text.
    Display(&'a dyn fmt::Display),
}

/// What may be a field's value.
pub trait ToValue {
    /// The value to write.
    fn to_value(&self) -> Value<'_>;
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Str(self)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Str(self)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

macro_rules! to_value_as {
    ($variant:ident, $as:ty: $($t:ty),*) => {
        $(impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                Value::$variant(<$as>::from(*self))
            }
        })*
    };
}
to_value_as!(Int, i64: i16, i32, i64);
to_value_as!(Uint, u64: u16, u32, u64);
to_value_as!(Bool, bool: bool);

impl ToValue for usize {
    fn to_value(&self) -> Value<'_> {
        Value::Uint(u64::try_from(*self).unwrap_or(u64::MAX))
    }
}

impl ToValue for Duration {
    fn to_value(&self) -> Value<'_> {
        Value::Millis(*self)
    }
}

macro_rules! to_value_display {
    ($($t:ty),*) => {
        $(impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                Value::Display(self)
            }
        })*
    };
}
to_value_display!(
    SocketAddr,
    std::net::IpAddr,
    std::io::Error,
    blazemq_core::storage::StorageError,
    std::path::Display<'_>
);

impl ToValue for Path {
    fn to_value(&self) -> Value<'_> {
        // Non-UTF-8 paths are rare; their lossy form is still a useful line.
        match self.to_str() {
            Some(s) => Value::Str(s),
            None => Value::Display(&"<non-UTF-8 path>"),
        }
    }
}

/// One field: its key and value.
pub type Field<'a> = (&'a str, &'a dyn ToValue);

/// Write a line at `level` now (the macros check [`enabled`] first).
pub fn write(level: Level, msg: &str, fields: &[Field<'_>]) {
    let format = if JSON.load(Ordering::Relaxed) == 1 {
        Format::Json
    } else {
        Format::Text
    };
    let mut line = String::with_capacity(128);
    format_line(
        &mut line,
        blazemq_platform::unix_ms(),
        level,
        format,
        msg,
        fields,
    );
    let written = std::io::stderr().lock().write_all(line.as_bytes());
    // Nowhere to report a failed write to stderr: the line is lost, the broker goes on.
    drop(written);
}

/// A line at `level`: `log!(Level::Info, "message", key = value, ...)`; keys are identifiers or
/// string literals. Nothing is evaluated unless the level is enabled.
#[macro_export]
macro_rules! log {
    ($level:expr, $msg:expr $(, $key:tt = $value:expr)* $(,)?) => {
        if $crate::logging::enabled($level) {
            $crate::logging::write(
                $level,
                $msg,
                &[$(($crate::log_key!($key), &$value as &dyn $crate::logging::ToValue)),*],
            );
        }
    };
}

/// A field's key as text.
#[macro_export]
macro_rules! log_key {
    ($key:ident) => {
        stringify!($key)
    };
    ($key:literal) => {
        $key
    };
}

/// [`log!`] at error.
#[macro_export]
macro_rules! error {
    ($($t:tt)*) => { $crate::log!($crate::logging::Level::Error, $($t)*) };
}
/// [`log!`] at warn.
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::log!($crate::logging::Level::Warn, $($t)*) };
}
/// [`log!`] at info.
#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::log!($crate::logging::Level::Info, $($t)*) };
}
/// [`log!`] at debug.
#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => { $crate::log!($crate::logging::Level::Debug, $($t)*) };
}

/// Append one line, newline included.
pub fn format_line(
    out: &mut String,
    unix_ms: i64,
    level: Level,
    format: Format,
    msg: &str,
    fields: &[Field<'_>],
) {
    let mut scratch = String::new();
    match format {
        Format::Text => {
            write_timestamp(out, unix_ms);
            out.push(' ');
            out.push_str(level.padded());
            out.push(' ');
            escape_text(out, msg, false);
            for (key, value) in fields {
                out.push(' ');
                escape_text(out, key, true);
                out.push('=');
                match value.to_value() {
                    Value::Str(s) => escape_text(out, s, true),
                    Value::Display(d) => {
                        scratch.clear();
                        push_fmt(&mut scratch, format_args!("{d}"));
                        escape_text(out, &scratch, true);
                    }
                    other => write_number(out, other),
                }
            }
        }
        Format::Json => {
            out.push_str("{\"ts\":\"");
            write_timestamp(out, unix_ms);
            out.push_str("\",\"level\":\"");
            out.push_str(level.padded().trim_end());
            out.push_str("\",\"msg\":");
            json::escape(out, msg);
            for (key, value) in fields {
                out.push(',');
                json::escape(out, key);
                out.push(':');
                match value.to_value() {
                    Value::Str(s) => json::escape(out, s),
                    Value::Display(d) => {
                        scratch.clear();
                        push_fmt(&mut scratch, format_args!("{d}"));
                        json::escape(out, &scratch);
                    }
                    other => write_number(out, other),
                }
            }
            out.push('}');
        }
    }
    out.push('\n');
}

/// Numbers, booleans and durations: the same in text and JSON.
fn write_number(out: &mut String, value: Value<'_>) {
    match value {
        Value::Int(n) => push_fmt(out, format_args!("{n}")),
        Value::Uint(n) => push_fmt(out, format_args!("{n}")),
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        // Integer arithmetic: no float formatting code in the binary for this.
        Value::Millis(d) => {
            let micros = d.as_micros();
            push_fmt(out, format_args!("{}.{:03}", micros / 1000, micros % 1000));
        }
        Value::Str(_) | Value::Display(_) => {}
    }
}

/// Text: a value with a space, `"`, `=`, `\` or a control character (or none at all) is quoted
/// and escaped, so `key=value` pairs split unambiguously; a message is never quoted, only its
/// control characters escaped, so a line stays one line.
fn escape_text(out: &mut String, s: &str, quote_if_needed: bool) {
    let needs_quotes = quote_if_needed
        && (s.is_empty()
            || s.chars()
                .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control()));
    if !needs_quotes && !s.chars().any(char::is_control) {
        out.push_str(s);
        return;
    }
    if needs_quotes {
        out.push('"');
    }
    for c in s.chars() {
        match c {
            '"' if needs_quotes => out.push_str("\\\""),
            '\\' if needs_quotes => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => push_fmt(out, format_args!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    if needs_quotes {
        out.push('"');
    }
}

/// `2026-12-05T21:53:19.123Z` for milliseconds since the Unix epoch (UTC).
fn write_timestamp(out: &mut String, unix_ms: i64) {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    push_fmt(
        out,
        format_args!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        ),
    );
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Lets the first line of each cause through, then at most one a window, counting those held
/// back: a full disk fails every append, and the log says so once a minute, not per request.
/// A fixed number of causes is tracked; a new one past it takes the slot logged longest ago.
#[derive(Debug)]
pub struct RateLimiter<K, const N: usize> {
    slots: [Option<Slot<K>>; N],
    window_ms: i64,
}

#[derive(Clone, Copy, Debug)]
struct Slot<K> {
    key: K,
    /// When its last line was written.
    logged_ms: i64,
    /// Lines held back since.
    suppressed: u64,
}

impl<K: Copy + Eq, const N: usize> RateLimiter<K, N> {
    /// A limiter letting one line a cause through every `window_ms`.
    pub const fn new(window_ms: i64) -> Self {
        RateLimiter {
            slots: [const { None }; N],
            window_ms,
        }
    }

    /// Whether a line for `key` is written at `now_ms`: `Some(n)` with the `n` lines held back
    /// since its last one, or `None` (held back and counted).
    pub fn check(&mut self, key: K, now_ms: i64) -> Option<u64> {
        if let Some(slot) = self.slots.iter_mut().flatten().find(|s| s.key == key) {
            if now_ms.saturating_sub(slot.logged_ms) < self.window_ms {
                slot.suppressed = slot.suppressed.saturating_add(1);
                return None;
            }
            slot.logged_ms = now_ms;
            return Some(std::mem::take(&mut slot.suppressed));
        }
        let new = Slot {
            key,
            logged_ms: now_ms,
            suppressed: 0,
        };
        let free = self.slots.iter().position(Option::is_none);
        let index = free.unwrap_or_else(|| {
            (0..N)
                .min_by_key(|&i| self.slots[i].map_or(i64::MIN, |s| s.logged_ms))
                .unwrap_or(0)
        });
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(new);
        }
        Some(0)
    }

    /// The causes with lines held back, and how many, counts reset: for a last line at exit.
    pub fn take_suppressed(&mut self) -> Vec<(K, u64)> {
        self.slots
            .iter_mut()
            .flatten()
            .filter(|s| s.suppressed > 0)
            .map(|s| (s.key, std::mem::take(&mut s.suppressed)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
