//! Turning raw setting strings into typed, range-checked values.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use blazemq_core::broker::{CleanupPolicy, FAULT_RULES_MAX, FaultRule};
use blazemq_core::limits::Limits;

use super::sources::{Layers, parse_bool};
use super::{Config, ConfigError, setting_by_key};
use crate::logging::{Format, Level};

/// Smallest segment accepted: room for a few small batches, so rolling can be exercised.
const SEGMENT_SIZE_BYTES_MIN: u64 = 1024;
/// Kafka's `segment.bytes` is an int, and this is the default segment.bytes topics report: so
/// 2 GiB less one byte, though a mapped segment's positions (u32) could go further.
const SEGMENT_SIZE_BYTES_MAX: u64 = i32::MAX as u64;
/// Smallest `max_request_size`: below this not even a Metadata request fits.
const REQUEST_SIZE_BYTES_MIN: u64 = 1024;
/// Largest `max_request_size`: Kafka's frame size field is an int32.
const REQUEST_SIZE_BYTES_MAX: u64 = i32::MAX as u64;
/// Smallest `max_connection_output_bytes`: a few responses' worth, so a client that pipelines a
/// little is not throttled at every request.
const CONNECTION_OUTPUT_BYTES_MIN: u64 = 16 * 1024;
/// Largest `max_connection_output_bytes`: past this the bound no longer protects the process.
const CONNECTION_OUTPUT_BYTES_MAX: u64 = 1 << 30;

/// Largest `max_open_segments`: more open files than any process may hold is a typo.
const OPEN_SEGMENTS_MAX_MAX: u32 = 1 << 20;

/// Where the HTTP listener is when the console is on and `metrics_listener` is not set: on
/// loopback, since the console shows every record to whoever connects.
const CONSOLE_LISTENER_DEFAULT: SocketAddr =
    SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9644);

/// Validate every setting.
// A table: one field per setting, each with its bounds.
#[allow(clippy::too_many_lines)]
pub fn build(layers: &Layers) -> Result<Config, ConfigError> {
    let partitions_max =
        i32::try_from(Limits::default().partitions_per_topic_max).unwrap_or(i32::MAX);
    let bind_address: IpAddr = get(layers, "bind_address", parse_ip)?;
    let advertised_host = get(layers, "advertised_host", parse_host)?
        .unwrap_or_else(|| default_advertised_host(bind_address));
    let console = get(layers, "console", parse_bool)?;
    let metrics_listener = get(layers, "metrics_listener", parse_listener)?
        .or(console.then_some(CONSOLE_LISTENER_DEFAULT));
    let config = Config {
        bind_address,
        port: get(layers, "port", |s| int(s, 0, u16::MAX))?,
        advertised_host,
        log_dir: get(layers, "log_dir", parse_dir)?,
        segment_size_bytes: get(layers, "segment_size", |s| {
            size(s, SEGMENT_SIZE_BYTES_MIN, SEGMENT_SIZE_BYTES_MAX)
        })?,
        offsets_topic_segment_bytes: get(layers, "offsets_topic_segment_bytes", |s| {
            size(s, SEGMENT_SIZE_BYTES_MIN, SEGMENT_SIZE_BYTES_MAX)
        })?,
        transaction_state_log_segment_bytes: get(
            layers,
            "transaction_state_log_segment_bytes",
            |s| size(s, SEGMENT_SIZE_BYTES_MIN, SEGMENT_SIZE_BYTES_MAX),
        )?,
        broker_id: get(layers, "broker_id", |s| int(s, 0, i32::MAX))?,
        num_partitions: get(layers, "num_partitions", |s| int(s, 1, partitions_max))?,
        auto_create_topics: get(layers, "auto_create_topics", parse_bool)?,
        retention_ms: get(layers, "retention_ms", |s| int(s, -1, i64::MAX))?,
        // Kafka's bounds: log.retention.bytes none, log.roll.hours and the offsets ones at
        // least 1.
        retention_bytes: get(layers, "log_retention_bytes", |s| {
            int(s, i64::MIN, i64::MAX)
        })?,
        log_cleanup_policy: get(layers, "log_cleanup_policy", |s| {
            CleanupPolicy::parse(s)
                .ok_or_else(|| "expected delete, compact or compact,delete".into())
        })?,
        segment_ms: get(layers, "log_segment_ms", |s| int(s, 1, i64::MAX))?,
        offsets_retention_minutes: get(layers, "offsets_retention_minutes", |s| {
            int(s, 1, i32::MAX as u32)
        })?,
        offsets_retention_check_interval_ms: get(
            layers,
            "offsets_retention_check_interval_ms",
            |s| int(s, 1, i32::MAX as u32),
        )?,
        request_size_bytes_max: get(layers, "max_request_size", |s| {
            size(s, REQUEST_SIZE_BYTES_MIN, REQUEST_SIZE_BYTES_MAX)
        })
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))?,
        group_initial_rebalance_delay_ms: get(layers, "group_initial_rebalance_delay_ms", |s| {
            int(s, 0, i32::MAX as u32)
        })?,
        group_min_session_timeout_ms: get(layers, "group_min_session_timeout_ms", |s| {
            int(s, 0, i32::MAX as u32)
        })?,
        group_max_session_timeout_ms: get(layers, "group_max_session_timeout_ms", |s| {
            int(s, 0, i32::MAX as u32)
        })?,
        log_flush_offset_checkpoint_interval_ms: get(
            layers,
            "log_flush_offset_checkpoint_interval_ms",
            |s| int(s, 0, i32::MAX as u32),
        )?,
        open_segments_max: get(layers, "max_open_segments", |s| {
            int(s, 1, OPEN_SEGMENTS_MAX_MAX)
        })?,
        transaction_max_timeout_ms: get(layers, "transaction_max_timeout_ms", |s| {
            int(s, 1, i32::MAX)
        })?,
        transactional_id_expiration_ms: get(layers, "transactional_id_expiration_ms", |s| {
            int(s, 1, i64::from(i32::MAX))
        })?,
        producer_id_expiration_ms: get(layers, "producer_id_expiration_ms", |s| {
            int(s, 1, i64::from(i32::MAX))
        })?,
        log_cleaner_dedupe_buffer_size: get(layers, "log_cleaner_dedupe_buffer_size", |s| {
            size(s, 1 << 16, 1 << 40)
        })?,
        log_cleaner_backoff_ms: get(layers, "log_cleaner_backoff_ms", |s| {
            int(s, 0, i32::MAX as u32)
        })?,
        num_io_threads: get(layers, "num_io_threads", |s| int(s, 1, 1024))?,
        connection_output_bytes_max: get(layers, "max_connection_output_bytes", |s| {
            size(s, CONNECTION_OUTPUT_BYTES_MIN, CONNECTION_OUTPUT_BYTES_MAX)
        })?,
        message_pool_blocks: get(layers, "message_pool_blocks", |s| int(s, 1, 1 << 20))?,
        message_pool_block_size_bytes: get(layers, "message_pool_block_size", |s| {
            size(s, 4096, 64 << 20)
        })
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))?,
        faults: get(layers, "faults", parse_faults)?,
        log_level: get(layers, "log_level", Level::parse)?,
        log_format: get(layers, "log_format", Format::parse)?,
        metrics_listener,
        console,
        console_write: get(layers, "console_write", parse_bool)?,
    };
    let _: i16 = get(layers, "replication_factor", parse_replication_factor)?;
    Ok(config)
}

/// The winning value of `key`, parsed; an error names the key, the value and its source.
fn get<T>(
    layers: &Layers,
    key: &'static str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let setting = setting_by_key(key).expect("every key built here is in SETTINGS");
    let (raw, source) = layers.get(setting);
    parse(raw.trim()).map_err(|reason| ConfigError::BadValue {
        key: setting.key,
        source,
        value: raw.to_owned(),
        reason,
    })
}

/// Fault rules separated by `;` (empty: none), each as `FaultRule::parse` reads it.
fn parse_faults(s: &str) -> Result<Vec<FaultRule>, String> {
    let rules = s
        .split(';')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .enumerate()
        .map(|(i, text)| {
            FaultRule::parse(text).map_err(|e| format!("rule {} `{text}`: {e}", i + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if rules.len() > FAULT_RULES_MAX {
        return Err(format!("at most {FAULT_RULES_MAX} rules"));
    }
    Ok(rules)
}

/// `host:port` (`[::1]:9644` for IPv6), or empty for none.
fn parse_listener(s: &str) -> Result<Option<SocketAddr>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| "expected an address and port, like 127.0.0.1:9644 or [::1]:9644".into())
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    IpAddr::from_str(s).map_err(|_| "expected an IPv4 or IPv6 address".into())
}

/// `None` for the empty default: derive from the bind address.
fn parse_host(s: &str) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    if unbracketed.contains(':') {
        return IpAddr::from_str(unbracketed)
            .map(|ip| Some(ip.to_string()))
            .map_err(|_| "expected a host name or an IP address".into());
    }
    let valid = unbracketed.len() <= 253
        && unbracketed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if valid {
        Ok(Some(unbracketed.to_owned()))
    } else {
        Err("expected a host name or an IP address".into())
    }
}

/// Clients cannot connect to a wildcard address: advertise loopback for those.
pub fn default_advertised_host(bind: IpAddr) -> String {
    if bind.is_unspecified() {
        "127.0.0.1".into()
    } else {
        bind.to_string()
    }
}

fn parse_dir(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        Err("expected a directory path".into())
    } else {
        Ok(PathBuf::from(s))
    }
}

fn parse_replication_factor(s: &str) -> Result<i16, String> {
    match s {
        "1" => Ok(1),
        "-1" => Ok(-1),
        _ => Err("a single broker holds one replica: use 1 or -1".into()),
    }
}

/// An integer in `min..=max`.
fn int<T>(s: &str, min: T, max: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + Copy + std::fmt::Display,
{
    let n: T = s
        .parse()
        .map_err(|_| format!("expected an integer from {min} to {max}"))?;
    if n < min || n > max {
        return Err(format!("must be from {min} to {max}"));
    }
    Ok(n)
}

/// A byte count in `min..=max`: plain bytes or with a suffix (KiB, MiB, GiB, TiB: powers of 1024;
/// KB, MB, GB, TB: powers of 1000; K, M, G, T: powers of 1024), case-insensitive.
pub fn size(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(digits_end);
    let expected = || format!("expected a byte count like 1048576 or 64MiB, from {min} to {max}");
    let n: u64 = digits.parse().map_err(|_| expected())?;
    let unit: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(expected()),
    };
    let bytes = n.checked_mul(unit).ok_or_else(expected)?;
    if bytes < min || bytes > max {
        return Err(format!("{bytes} bytes: must be from {min} to {max}"));
    }
    Ok(bytes)
}
