use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;

use super::*;

/// 2026-12-05T21:53:19.123Z.
const AT: i64 = 1_796_507_599_123;

fn line(format: Format, msg: &str, fields: &[Field<'_>]) -> String {
    let mut out = String::new();
    format_line(&mut out, AT, Level::Info, format, msg, fields);
    out
}

#[test]
fn text_lines_carry_time_level_message_and_fields() {
    let addr: SocketAddr = "127.0.0.1:9092".parse().expect("an address");
    let text = line(
        Format::Text,
        "topic created",
        &[
            ("topic", &"orders"),
            ("partitions", &3i32),
            ("offset", &u64::MAX),
            ("internal", &false),
            ("took_ms", &Duration::from_micros(12_345)),
            ("peer", &addr),
        ],
    );
    assert_eq!(
        text,
        "2026-12-05T21:53:19.123Z INFO  topic created topic=orders partitions=3 \
         offset=18446744073709551615 internal=false took_ms=12.345 peer=127.0.0.1:9092\n"
    );
    let mut out = String::new();
    format_line(&mut out, AT, Level::Error, Format::Text, "m", &[]);
    assert_eq!(out, "2026-12-05T21:53:19.123Z ERROR m\n");
}

#[test]
fn text_values_are_quoted_when_they_would_not_split_cleanly() {
    let nasty = "a b=\"c\"\\d\ne\u{1}";
    let text = line(
        Format::Text,
        "two\nlines",
        &[("v", &nasty), ("empty", &""), ("plain", &"x-y.z/0")],
    );
    assert_eq!(
        text,
        "2026-12-05T21:53:19.123Z INFO  two\\nlines v=\"a b=\\\"c\\\"\\\\d\\ne\\u{1}\" empty=\"\" \
         plain=x-y.z/0\n"
    );
    assert_eq!(
        text.matches('\n').count(),
        1,
        "one line whatever the values"
    );
}

#[test]
fn json_lines_are_objects_with_typed_fields_and_escaped_strings() {
    let nasty = "quote\" backslash\\ newline\n tab\t bell\u{7} del\u{7f} é 🦀";
    let err = std::io::Error::other("disk \"full\"");
    let json = line(
        Format::Json,
        "msg with \"quotes\"",
        &[
            ("s", &nasty),
            ("n", &-5i64),
            ("u", &7usize),
            ("b", &true),
            ("took_ms", &Duration::from_micros(1_002)),
            ("error", &err),
        ],
    );
    assert!(
        json.ends_with("}\n") && json.matches('\n').count() == 1,
        "{json}"
    );
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["ts"], "2026-12-05T21:53:19.123Z");
    assert_eq!(value["level"], "INFO");
    assert_eq!(value["msg"], "msg with \"quotes\"");
    assert_eq!(value["s"], nasty, "round trips");
    assert_eq!(value["n"], -5);
    assert_eq!(value["u"], 7);
    assert_eq!(value["b"], true);
    assert_eq!(value["took_ms"].as_f64(), Some(1.002));
    assert_eq!(value["error"], "disk \"full\"");
    assert!(
        json.contains("\\u0007") && json.contains("\\u007f"),
        "{json}"
    );
}

#[test]
fn timestamps_are_utc_calendar_dates() {
    let ts = |ms| {
        let mut out = String::new();
        write_timestamp(&mut out, ms);
        out
    };
    assert_eq!(ts(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(ts(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
    assert_eq!(ts(-1000), "1969-12-31T23:59:59.000Z");
    assert_eq!(ts(AT), "2026-12-05T21:53:19.123Z");
}

#[test]
fn levels_and_formats_parse_from_settings() {
    assert_eq!(Level::parse("DEBUG"), Ok(Level::Debug));
    assert_eq!(Level::parse("warn"), Ok(Level::Warn));
    assert!(Level::parse("verbose").is_err());
    assert_eq!(Format::parse("Json"), Ok(Format::Json));
    assert!(Format::parse("yaml").is_err());
}

/// The only test that changes the process's level (tests run in parallel).
#[test]
fn lines_below_the_level_are_not_built() {
    let built = Cell::new(0);
    let value = || {
        built.set(built.get() + 1);
        "v"
    };
    init(Level::Warn, Format::Text);
    assert!(enabled(Level::Error) && enabled(Level::Warn));
    assert!(!enabled(Level::Info) && !enabled(Level::Debug) && !enabled(Level::Trace));
    crate::info!("not written", key = value());
    crate::debug!("not written", key = value());
    assert_eq!(
        built.get(),
        0,
        "arguments of a disabled line are not evaluated"
    );
    crate::warn!("written by a test", key = value());
    assert_eq!(built.get(), 1);
    init(Level::Trace, Format::Json);
    assert!(enabled(Level::Trace));
    init(Level::Info, Format::Text);
}

#[test]
fn the_rate_limiter_lets_one_line_a_cause_through_a_window_and_counts_the_rest() {
    let mut limiter: RateLimiter<u8, 2> = RateLimiter::new(60_000);
    assert_eq!(limiter.check(1, 0), Some(0), "the first line of a cause");
    assert_eq!(limiter.check(1, 1), None);
    assert_eq!(limiter.check(1, 59_999), None);
    assert_eq!(
        limiter.check(2, 59_999),
        Some(0),
        "another cause is its own"
    );
    assert_eq!(
        limiter.check(1, 60_000),
        Some(2),
        "with the count held back"
    );
    assert_eq!(limiter.check(1, 60_001), None);
    assert_eq!(limiter.take_suppressed(), vec![(1, 1)]);
    assert_eq!(limiter.take_suppressed(), vec![], "counts reset");
    // Full: a third cause takes the slot logged longest ago (2, at 59,999).
    assert_eq!(limiter.check(3, 70_000), Some(0));
    assert_eq!(limiter.check(1, 70_001), None, "1 kept its slot");
    assert_eq!(limiter.check(2, 70_002), Some(0), "2 was forgotten");
}
