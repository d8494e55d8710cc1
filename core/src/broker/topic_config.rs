//! Topic-level configuration names Kafka accepts, their defaults and how their values parse.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::config::{BrokerConfig, defaults};

/// How a config value must parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A 64-bit integer of at least this value.
    Long(i64),
    /// A 32-bit integer of at least this value.
    Int(i64),
    /// An integer within these bounds.
    IntIn(i64, i64),
    Bool,
    Double,
    OneOf(&'static [&'static str]),
    /// A comma-separated list whose items must each be one of these.
    ListOf(&'static [&'static str]),
    /// `*`, or a comma-separated list of `partition:broker` pairs (Kafka's
    /// ThrottledReplicaListValidator).
    ReplicaList,
}

/// No lower bound beyond the type's.
const NO_MIN: i64 = i64::MIN;

/// The smallest `segment.bytes` a topic may set (Kafka 4: 1 MiB).
pub const SEGMENT_BYTES_MIN: i64 = 1 << 20;

/// Kafka 4's topic configs (LogConfig) with their defaults: the ones Kafka 4.0 removed
/// (`message.format.version`, `message.downconversion.enable`,
/// `message.timestamp.difference.max.ms`) are unknown, as there. `segment.bytes`/`retention.ms`
/// defaults are the broker's own and are filled in from the broker configuration.
const TOPIC_CONFIGS: &[(&str, &str, Kind)] = &[
    (
        "cleanup.policy",
        "delete",
        Kind::ListOf(&["delete", "compact"]),
    ),
    (
        "compression.type",
        "producer",
        Kind::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
    ),
    // -1 is the codec's own default level.
    ("compression.gzip.level", "-1", Kind::IntIn(-1, 9)),
    ("compression.lz4.level", "9", Kind::IntIn(1, 17)),
    ("compression.zstd.level", "3", Kind::IntIn(-131072, 22)),
    ("delete.retention.ms", "86400000", Kind::Long(NO_MIN)),
    ("file.delete.delay.ms", "60000", Kind::Long(NO_MIN)),
    ("flush.messages", "9223372036854775807", Kind::Long(NO_MIN)),
    ("flush.ms", "9223372036854775807", Kind::Long(NO_MIN)),
    (
        "follower.replication.throttled.replicas",
        "",
        Kind::ReplicaList,
    ),
    ("index.interval.bytes", "4096", Kind::Int(NO_MIN)),
    (
        "leader.replication.throttled.replicas",
        "",
        Kind::ReplicaList,
    ),
    ("local.retention.bytes", "-2", Kind::Long(NO_MIN)),
    ("local.retention.ms", "-2", Kind::Long(NO_MIN)),
    (
        "max.compaction.lag.ms",
        "9223372036854775807",
        Kind::Long(NO_MIN),
    ),
    ("max.message.bytes", "1048588", Kind::Int(1)),
    // Kafka 4 refuses records stamped more than an hour ahead by default.
    ("message.timestamp.after.max.ms", "3600000", Kind::Long(0)),
    (
        "message.timestamp.before.max.ms",
        "9223372036854775807",
        Kind::Long(NO_MIN),
    ),
    (
        "message.timestamp.type",
        "CreateTime",
        Kind::OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    ("min.cleanable.dirty.ratio", "0.5", Kind::Double),
    ("min.compaction.lag.ms", "0", Kind::Long(NO_MIN)),
    ("min.insync.replicas", "1", Kind::Int(1)),
    ("preallocate", "false", Kind::Bool),
    ("remote.log.copy.disable", "false", Kind::Bool),
    ("remote.log.delete.on.disable", "false", Kind::Bool),
    ("remote.storage.enable", "false", Kind::Bool),
    // Kafka sets no bound: below 0 keeps every byte.
    (
        "retention.bytes",
        defaults::RETENTION_BYTES,
        Kind::Long(NO_MIN),
    ),
    ("retention.ms", defaults::RETENTION_MS, Kind::Long(-1)),
    // Kafka 4 refuses segments under 1 MiB for topics (LogConfig's SEGMENT_BYTES validator).
    (
        "segment.bytes",
        defaults::SEGMENT_BYTES,
        Kind::Int(SEGMENT_BYTES_MIN),
    ),
    ("segment.index.bytes", "10485760", Kind::Int(NO_MIN)),
    ("segment.jitter.ms", "0", Kind::Long(0)),
    ("segment.ms", defaults::SEGMENT_MS, Kind::Long(1)),
    ("unclean.leader.election.enable", "false", Kind::Bool),
];

/// Whether `v` is a Java double literal within `[0, 1]`, the range Kafka's one double topic
/// config (`min.cleanable.dirty.ratio`) allows. `NaN` passes, as Kafka's range check lets it
/// through; Java's `d`/`f` suffixes are accepted.
///
/// Decided on the decimal digits, not by parsing a float (that would bring the float parser and
/// its tables into the binary): a value passes if it rounds into the range as Java rounds it,
/// so up to `1 + 2^-53`. A negative value that Java would round to `-0.0` (below `2^-1075` in
/// magnitude) is refused here.
fn is_ratio(v: &str) -> bool {
    let v = v.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(v);
    let (negative, v) = split_sign(v);
    if v == "NaN" {
        return true;
    }
    let (mantissa, exponent) = match v.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (v, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return false;
    }
    let exponent = match exponent.map(split_sign) {
        None => 0,
        Some((_, "")) => return false,
        Some((_, e)) if !digits(e) => return false,
        Some((minus, e)) => {
            let n = e.bytes().fold(0i64, |n, b| {
                n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
            });
            if minus { -n } else { n }
        }
    };
    let mut sig = int.bytes().chain(frac.bytes()).skip_while(|&b| b == b'0');
    let lead = int.len() + frac.len() - sig.clone().count();
    let Some(first) = sig.next() else {
        return true; // zero, of either sign
    };
    // The value is 0.d1d2... times 10 to the power `point`.
    let point = (int.len() as i64 - lead as i64).saturating_add(exponent);
    if negative || point >= 2 || (point == 1 && first != b'1') {
        return false;
    }
    if point <= 0 {
        return true;
    }
    // 1.d2d3...: within range while d2d3... is at most 2^-53's digits, which round to 1.0.
    const HALF_ULP: &[u8] = b"00000000000000011102230246251565404236316680908203125";
    let mut bound = HALF_ULP.iter().copied().chain(core::iter::repeat(b'0'));
    sig.find_map(|d| {
        let b = bound.next().unwrap_or(b'0');
        (d != b).then_some(d < b)
    })
    .unwrap_or(true)
}

/// A leading `+` or `-` and the rest: whether it was `-`.
fn split_sign(s: &str) -> (bool, &str) {
    match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    }
}

/// Whether `v` is `*` or a list of `partition:broker` pairs (empty items allowed, as in Kafka).
fn is_replica_list(v: &str) -> bool {
    let pair = |item: &str| {
        item.is_empty()
            || item.split_once(':').is_some_and(|(p, b)| {
                [p, b]
                    .iter()
                    .all(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
            })
    };
    v == "*" || v.split(',').all(|item| pair(item.trim()))
}

/// Every topic config's name.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    TOPIC_CONFIGS.iter().map(|&(name, _, _)| name)
}

fn entry(name: &str) -> Option<&'static (&'static str, &'static str, Kind)> {
    TOPIC_CONFIGS.iter().find(|(n, _, _)| *n == name)
}

fn kind(name: &str) -> Option<Kind> {
    entry(name).map(|&(_, _, k)| k)
}

/// Whether `name` is a list config, the only kind IncrementalAlterConfigs may APPEND to or
/// SUBTRACT from.
pub(crate) fn is_list(name: &str) -> bool {
    matches!(kind(name), Some(Kind::ListOf(_) | Kind::ReplicaList))
}

/// Kafka's own default of a topic config (not the broker's), which APPEND and SUBTRACT start
/// from when the topic does not set it.
pub(crate) fn schema_default(name: &str) -> Option<&'static str> {
    entry(name).map(|&(_, d, _)| d)
}

/// Check one `name=value` pair of a topic's configs; the error text is what Kafka says.
pub(crate) fn validate(name: &str, value: Option<&str>) -> Result<(), String> {
    let Some(kind) = kind(name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    let Some(value) = value else {
        return Err(format!(
            "Null value not supported for topic configs: {name}"
        ));
    };
    let v = value.trim();
    let ok = match kind {
        Kind::Long(min) => v.parse::<i64>().is_ok_and(|n| n >= min),
        Kind::Int(min) => v
            .parse::<i64>()
            .is_ok_and(|n| n >= min && i32::try_from(n).is_ok()),
        Kind::IntIn(min, max) => v.parse::<i64>().is_ok_and(|n| (min..=max).contains(&n)),
        Kind::Bool => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        Kind::Double => is_ratio(v),
        Kind::OneOf(allowed) => allowed.contains(&v),
        Kind::ListOf(allowed) => v.split(',').all(|item| allowed.contains(&item.trim())),
        Kind::ReplicaList => is_replica_list(v),
    };
    // The partition metadata file holds one config a line.
    if ok && !value.contains(['\n', '\r']) {
        Ok(())
    } else {
        Err(format!("Invalid value {value} for configuration {name}"))
    }
}

/// `(topic config, broker setting it defaults to)`: Kafka's `ServerTopicConfigSynonyms`, where
/// Kafka lists the broker setting as a synonym (the primary one, which has a default value).
/// `retention.ms`, `segment.ms`, `segment.jitter.ms` and `flush.ms` have none (their `log.*.ms`
/// settings default to null, their `*.hours` fallbacks are not listed), as Kafka 4 answers.
const BROKER_SYNONYMS: &[(&str, &str)] = &[
    ("cleanup.policy", "log.cleanup.policy"),
    ("compression.type", "compression.type"),
    ("delete.retention.ms", "log.cleaner.delete.retention.ms"),
    ("file.delete.delay.ms", "log.segment.delete.delay.ms"),
    ("flush.messages", "log.flush.interval.messages"),
    ("index.interval.bytes", "log.index.interval.bytes"),
    ("local.retention.bytes", "log.local.retention.bytes"),
    ("local.retention.ms", "log.local.retention.ms"),
    ("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms"),
    ("max.message.bytes", "message.max.bytes"),
    (
        "message.timestamp.after.max.ms",
        "log.message.timestamp.after.max.ms",
    ),
    (
        "message.timestamp.before.max.ms",
        "log.message.timestamp.before.max.ms",
    ),
    ("message.timestamp.type", "log.message.timestamp.type"),
    (
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
    ),
    ("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"),
    ("min.insync.replicas", "min.insync.replicas"),
    ("retention.bytes", "log.retention.bytes"),
    ("segment.bytes", "log.segment.bytes"),
    ("segment.index.bytes", "log.index.size.max.bytes"),
    (
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
    ),
];

/// Broker settings that are a topic config's default without being listed as its synonym:
/// Kafka's `log.retention.ms` (listed only once set), `log.roll.ms` and `log.roll.jitter.ms`.
const UNLISTED_BROKER_SYNONYMS: &[(&str, &str)] = &[
    ("retention.ms", "log.retention.ms"),
    ("segment.ms", "log.roll.ms"),
    ("segment.jitter.ms", "log.roll.jitter.ms"),
    ("flush.ms", "log.flush.interval.ms"),
];

/// The broker setting Kafka lists as the synonym of a topic config's default.
pub(crate) fn broker_synonym(name: &str) -> Option<&'static str> {
    BROKER_SYNONYMS
        .iter()
        .find(|(topic, _)| *topic == name)
        .map(|&(_, broker)| broker)
}

/// The broker setting whose value a topic that does not set `name` takes, listed or not.
pub(crate) fn broker_setting(name: &str) -> Option<&'static str> {
    BROKER_SYNONYMS
        .iter()
        .chain(UNLISTED_BROKER_SYNONYMS)
        .find(|(topic, _)| *topic == name)
        .map(|&(_, broker)| broker)
}

/// The topic config whose default the broker setting `name` is.
pub(crate) fn topic_config_of(name: &str) -> Option<&'static str> {
    BROKER_SYNONYMS
        .iter()
        .chain(UNLISTED_BROKER_SYNONYMS)
        .find(|(_, broker)| *broker == name)
        .map(|&(topic, _)| topic)
}

/// Kafka's `ConfigType` of a topic config, as DescribeConfigs v3+ reports it (0: unknown).
pub(crate) fn config_type(name: &str) -> i8 {
    match kind(name) {
        Some(Kind::Bool) => 1,
        Some(Kind::OneOf(_)) => 2,
        Some(Kind::Int(_) | Kind::IntIn(..)) => 3,
        Some(Kind::Long(_)) => 5,
        Some(Kind::Double) => 6,
        Some(Kind::ListOf(_) | Kind::ReplicaList) => 7,
        None => 0,
    }
}

/// Every topic config with its effective value and whether the topic sets it (else a default:
/// the broker's own setting where it has one, see [`static_default`]).
pub(crate) fn effective(
    set: &[(String, String)],
    broker: &BrokerConfig,
) -> Vec<(String, String, bool)> {
    TOPIC_CONFIGS
        .iter()
        .map(
            |&(name, default, _)| match set.iter().find(|(n, _)| n == name) {
                Some((_, v)) => (name.to_string(), v.clone(), true),
                None => {
                    let value = static_default(name, broker).unwrap_or_else(|| default.to_string());
                    (name.to_string(), value, false)
                }
            },
        )
        .collect()
}

/// The value the broker's static settings give topic config `name` of a topic that does not set
/// it, where they differ from Kafka's schema default: `cleanup.policy`, `retention.ms`,
/// `retention.bytes`, `segment.bytes` and `segment.ms` (Kafka's `log.cleanup.policy`,
/// `log.retention.*`, `log.segment.bytes`, `log.roll.*`).
pub(crate) fn static_default(name: &str, broker: &BrokerConfig) -> Option<String> {
    let n = match name {
        "cleanup.policy" => return Some(String::from(broker.log_cleanup_policy.as_str())),
        "retention.ms" => broker.retention_ms,
        "retention.bytes" => broker.retention_bytes,
        "segment.bytes" => i64::try_from(broker.segment_size_bytes.min(i32::MAX as u64))
            .unwrap_or(i64::from(i32::MAX)),
        "segment.ms" => broker.segment_ms,
        _ => return None,
    };
    Some(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_rejects_unknown_and_bad_values() {
        assert!(validate("retention.ms", Some("1000")).is_ok());
        assert!(validate("cleanup.policy", Some("compact,delete")).is_ok());
        assert!(validate("cleanup.policy", Some("forever")).is_err());
        assert!(validate("retention.ms", Some("soon")).is_err());
        assert!(
            validate("no.such.config", Some("1"))
                .is_err_and(|e| e.contains("Unknown topic config"))
        );
        // Kafka 4.1.1's bounds (scripts/kafka-reference.sh).
        assert!(validate("segment.bytes", Some("1048575")).is_err());
        assert!(validate("segment.bytes", Some("1048576")).is_ok());
        assert!(validate("segment.ms", Some("0")).is_err());
        assert!(validate("segment.ms", Some("1")).is_ok());
        assert!(validate("segment.jitter.ms", Some("-1")).is_err());
        assert!(validate("retention.bytes", Some("-2")).is_ok());
        assert!(validate("index.interval.bytes", Some("-2147483648")).is_ok());
        assert!(validate("index.interval.bytes", Some("2147483648")).is_err());
        assert!(validate("index.interval.bytes", Some("-2147483649")).is_err());
        assert!(validate("retention.ms", Some("-2")).is_err());
        assert!(validate("flush.ms", Some("-9223372036854775808")).is_ok());
        assert!(validate("retention.ms", None).is_err());
    }

    #[test]
    fn throttled_replicas_are_a_star_or_partition_broker_pairs() {
        let name = "leader.replication.throttled.replicas";
        for ok in ["", "*", "0:0", "0:0,1:0", " 0:1 , 2:0 ", "0:0,"] {
            assert!(validate(name, Some(ok)).is_ok(), "{ok:?}");
        }
        for bad in ["x", "0", "0:", ":0", "*,0:0", "0:0:0", "a:0"] {
            assert!(validate(name, Some(bad)).is_err(), "{bad:?}");
        }
        assert!(is_list(name) && is_list("cleanup.policy") && !is_list("retention.ms"));
        assert_eq!(config_type(name), 7);
    }

    #[test]
    fn values_with_line_breaks_are_refused() {
        assert!(
            validate(
                "leader.replication.throttled.replicas",
                Some("*\nconfig.x: y")
            )
            .is_err()
        );
        assert!(validate("compression.type", Some("zstd\r")).is_err());
        assert!(
            validate("message.format.version", Some("3.0")).is_err(),
            "gone in Kafka 4"
        );
        assert!(validate("compression.zstd.level", Some("22")).is_ok());
        assert!(validate("compression.zstd.level", Some("23")).is_err());
        assert!(validate("compression.gzip.level", Some("-2")).is_err());
        assert_eq!(schema_default("cleanup.policy"), Some("delete"));
        assert_eq!(schema_default("no.such.config"), None);
    }

    #[test]
    fn ratios_are_checked_like_kafkas_between_0_and_1() {
        for ok in [
            "0",
            "0.5",
            ".5",
            "1",
            "1.0",
            "1.000",
            "0.999",
            "5e-1",
            "10E-1",
            "0.1e1",
            "-0.0",
            "0d",
            "0.5f",
            "+0.25",
            "NaN",
            "100e-2",
            "0e99",
            "1e-999999999999",
            "1.0000000000000001",
            "1.000000000000000111022302462515654042363166809082031250",
            "-NaN",
            "0.0000000000e5",
        ] {
            assert!(is_ratio(ok), "{ok} is a ratio");
        }
        for bad in [
            "",
            ".",
            "1.5",
            "2",
            "1.0001",
            "-0.1",
            "1e1",
            "0.2e1",
            "abc",
            "0.5x",
            "1e",
            "e1",
            "Infinity",
            "1e+",
            "--1",
            "0x1p-1",
            "1e999999999999",
            "11e-1",
            "1.00000000000000012",
            "1.000000000000000111022302462515654042363166809082031251",
            "nan",
            "-1e-999",
            "1e-+1",
            "1.2.3",
        ] {
            assert!(!is_ratio(bad), "{bad} is not a ratio");
        }
        assert!(validate("min.cleanable.dirty.ratio", Some(" 0.5 ")).is_ok());
        assert!(validate("min.cleanable.dirty.ratio", Some("1.5")).is_err());
    }

    #[test]
    fn effective_merges_defaults() {
        let set = [(String::from("retention.ms"), String::from("5"))];
        let broker = BrokerConfig {
            retention_ms: 99,
            segment_size_bytes: 1 << 20,
            segment_ms: 60_000,
            retention_bytes: 1 << 30,
            ..BrokerConfig::default()
        };
        let all = effective(&set, &broker);
        assert!(
            all.iter()
                .any(|(n, v, s)| n == "segment.ms" && v == "60000" && !*s)
        );
        assert!(
            all.iter()
                .any(|(n, v, s)| n == "retention.bytes" && v == "1073741824" && !*s)
        );
        assert!(
            all.iter()
                .any(|(n, v, s)| n == "retention.ms" && v == "5" && *s)
        );
        assert!(
            all.iter()
                .any(|(n, v, s)| n == "segment.bytes" && v == "1048576" && !*s)
        );
        assert_eq!(all.len(), TOPIC_CONFIGS.len());
    }
}
