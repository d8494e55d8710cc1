//! The broker's settings that `core` acts on. Parsing them is the server's job.

use alloc::string::String;

use crate::limits::Limits;

/// The default cap on open segments: half of the 1024 file descriptors a process typically
/// gets (the soft `RLIMIT_NOFILE`), leaving the other half to connections and the broker's own
/// files. Partitions beyond it that are all in use reopen their segments as they take turns.
pub const OPEN_SEGMENTS_MAX_DEFAULT: u32 = 512;

/// Kafka's `offsets.topic.segment.bytes` and `transaction.state.log.segment.bytes` default:
/// 100 MiB.
pub const INTERNAL_LOG_SEGMENT_BYTES_DEFAULT: u64 = 100 << 20;
/// Kafka's `log.cleaner.dedupe.buffer.size` default: 128 MiB.
pub const LOG_CLEANER_DEDUPE_BUFFER_SIZE_DEFAULT: u64 = 128 << 20;

/// Kafka's `log.cleaner.backoff.ms` default.
pub const LOG_CLEANER_BACKOFF_MS_DEFAULT: u32 = 15_000;

/// Defaults shared by Kafka's topic configs (`topic_config`'s table), the broker settings
/// that stand for them in [`BrokerConfig`], and a runtime's own table of settings: written once,
/// as the text a setting holds.
pub mod defaults {
    /// Kafka's `log.retention.ms` (`log.retention.hours`: 168) and `retention.ms` default.
    pub const RETENTION_MS: &str = "604800000";
    /// Kafka's `log.retention.bytes` and `retention.bytes` default: no bound.
    pub const RETENTION_BYTES: &str = "-1";
    /// Kafka's `log.segment.bytes` and `segment.bytes` default: 1 GiB.
    pub const SEGMENT_BYTES: &str = "1073741824";
    /// Kafka's `log.roll.ms` (`log.roll.hours`: 168) and `segment.ms` default.
    pub const SEGMENT_MS: &str = "604800000";
}

/// Kafka's `log.cleanup.policy`: what topics that set no `cleanup.policy` do with old records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Segments age and size out (`delete`, Kafka's default).
    #[default]
    Delete,
    /// The newest record of each key is kept (`compact`).
    Compact,
    /// Both (`compact,delete`).
    CompactDelete,
}

impl CleanupPolicy {
    /// A comma-separated list of `delete` and `compact`, in any order, each at most once.
    pub fn parse(s: &str) -> Option<Self> {
        let (mut delete, mut compact) = (false, false);
        for item in s.split(',') {
            let seen = match item.trim() {
                "delete" => core::mem::replace(&mut delete, true),
                "compact" => core::mem::replace(&mut compact, true),
                _ => return None,
            };
            if seen {
                return None;
            }
        }
        match (delete, compact) {
            (true, false) => Some(CleanupPolicy::Delete),
            (false, true) => Some(CleanupPolicy::Compact),
            (true, true) => Some(CleanupPolicy::CompactDelete),
            (false, false) => None,
        }
    }

    /// As a `cleanup.policy` value.
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }
}

/// The value of a decimal default, at compile time (a malformed one fails the build).
const fn decimal(s: &str) -> i64 {
    let bytes = s.as_bytes();
    let (negative, mut i) = match bytes {
        [b'-', ..] => (true, 1),
        _ => (false, 0),
    };
    assert!(i < bytes.len(), "an empty default");
    let mut n: i64 = 0;
    while i < bytes.len() {
        let d = bytes[i];
        assert!(d.is_ascii_digit(), "a default that is not a decimal");
        n = n * 10 + (d - b'0') as i64;
        i += 1;
    }
    if negative { -n } else { n }
}

const RETENTION_MS_DEFAULT: i64 = decimal(defaults::RETENTION_MS);
const RETENTION_BYTES_DEFAULT: i64 = decimal(defaults::RETENTION_BYTES);
const SEGMENT_BYTES_DEFAULT: u64 = decimal(defaults::SEGMENT_BYTES) as u64;
const SEGMENT_MS_DEFAULT: i64 = decimal(defaults::SEGMENT_MS);

/// Kafka's `offsets.retention.minutes` default (10080 minutes: 7 days), in milliseconds.
pub const OFFSETS_RETENTION_MS_DEFAULT: i64 = 10_080 * 60_000;
/// Kafka's `offsets.retention.check.interval.ms` default: 10 minutes.
pub const OFFSETS_RETENTION_CHECK_INTERVAL_MS_DEFAULT: u32 = 600_000;

/// Kafka's `producer.id.expiration.ms` default: a day.
pub const PRODUCER_ID_EXPIRATION_MS_DEFAULT: i64 = 86_400_000;

/// Kafka's `group.min.session.timeout.ms` default.
pub const GROUP_MIN_SESSION_TIMEOUT_MS_DEFAULT: u32 = 6_000;
/// Kafka's `group.max.session.timeout.ms` default.
pub const GROUP_MAX_SESSION_TIMEOUT_MS_DEFAULT: u32 = 1_800_000;

/// Settings for [`super::Broker`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// `broker.id`: this broker's node id in Metadata.
    pub broker_id: i32,
    /// The host clients are told to connect to.
    pub advertised_host: String,
    /// The port clients are told to connect to.
    pub advertised_port: i32,
    /// The cluster id reported in Metadata (persisted by the runtime).
    pub cluster_id: String,
    /// The directory of the partition logs (`log.dirs`), as DescribeLogDirs names it.
    pub log_dir: String,
    /// Capacity of a new segment in bytes (`segment_size`, Kafka's `log.segment.bytes`): the
    /// `segment.bytes` of topics that set none.
    pub segment_size_bytes: u64,
    /// `segment.bytes` of the offsets log, set when the broker creates it (Kafka's
    /// `offsets.topic.segment.bytes`): smaller than other logs' so it rolls, and is compacted,
    /// early (the active segment never is).
    pub offsets_topic_segment_bytes: u64,
    /// `segment.bytes` of the transaction log, set when the broker creates it (Kafka's
    /// `transaction.state.log.segment.bytes`).
    pub transaction_state_log_segment_bytes: u64,
    /// How old a segment's first record may be before the next append rolls the log
    /// (`log_segment_ms`, Kafka's `log.roll.ms`): the `segment.ms` of topics that set none.
    pub segment_ms: i64,
    /// The bytes a partition keeps (`log_retention_bytes`, Kafka's `log.retention.bytes`; -1:
    /// no bound): the `retention.bytes` of topics that set none.
    pub retention_bytes: i64,
    /// The `cleanup.policy` of topics that set none (`log_cleanup_policy`, Kafka's
    /// `log.cleanup.policy`).
    pub log_cleanup_policy: CleanupPolicy,
    /// Partitions of an auto-created topic (`num.partitions`).
    pub num_partitions: i32,
    /// Whether Metadata and Produce create unknown topics (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// How long records are kept (`retention.ms`), reported as the topics' default.
    pub retention_ms: i64,
    /// How long committed offsets of a group with no members are kept, in milliseconds
    /// (`offsets.retention.minutes`; Kafka's default is 7 days). `i64::MAX` keeps them forever.
    pub offsets_retention_ms: i64,
    /// How often expired offsets are looked for (`offsets.retention.check.interval.ms`).
    pub offsets_retention_check_interval_ms: u32,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: u32,
    /// `group.min.session.timeout.ms`: shorter session timeouts get INVALID_SESSION_TIMEOUT.
    pub group_min_session_timeout_ms: u32,
    /// `group.max.session.timeout.ms`: longer session timeouts get INVALID_SESSION_TIMEOUT.
    pub group_max_session_timeout_ms: u32,
    /// How often the recovery checkpoint is written while appends go on, in milliseconds
    /// (`log.flush.offset.checkpoint.interval.ms`; the server's default is Kafka's, 60000).
    /// `None`: only at shutdown, and the broker never wakes for it.
    pub log_flush_offset_checkpoint_interval_ms: Option<u32>,
    /// Segments open at once (`max_open_segments`): past it the least recently used one that no
    /// unsent response reads from is closed (see `open_segments.rs`). Each open segment holds a
    /// file descriptor and a mapping on a server.
    pub open_segments_max: u32,
    /// The longest transaction a producer may ask for (`transaction.max.timeout.ms`).
    pub transaction_max_timeout_ms: i32,
    /// How long a transactional id with no transaction open is kept after its last use
    /// (`transactional.id.expiration.ms`).
    pub transactional_id_expiration_ms: i64,
    /// How long an idempotent producer's state is kept on a partition after its last batch
    /// there, unless it has a transaction open (`producer.id.expiration.ms`).
    pub producer_id_expiration_ms: i64,
    /// The most bytes the log cleaner's map of keys may take in one pass
    /// (`log.cleaner.dedupe.buffer.size`); a log with more keys is cleaned in several passes.
    pub log_cleaner_dedupe_buffer_size: u64,
    /// How long after client bytes the log cleaner looks for a log to clean
    /// (`log.cleaner.backoff.ms`).
    pub log_cleaner_backoff_ms: u32,
    /// Whether the runtime runs the log cleaner's passes on a thread of its own, as Kafka's
    /// cleaner threads ([`super::Broker::take_clean_job`]); otherwise the broker runs them in
    /// bounded steps between inputs, which delays the requests that arrive during a step.
    pub cleaner_jobs: bool,
    /// Seed for producer ids, member ids and topic ids, so a run replays exactly.
    pub seed: u64,
    /// The bounds.
    pub limits: Limits,
    /// Which events [`super::Broker::poll_event`] reports (none by default: nothing recorded).
    pub events: super::EventLevel,
    /// Fault rules in force from the start ([`super::FaultRule`]); rules that
    /// [`super::FaultRule::check`] refuses, and those past [`super::FAULT_RULES_MAX`], are left
    /// out, so a runtime parses and counts them first.
    pub faults: alloc::vec::Vec<super::FaultRule>,
    /// Whether requests and response error codes are counted for a runtime's metrics
    /// ([`super::Broker::request_counts`], [`super::Broker::error_counts`]); off by default.
    pub stats: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            broker_id: 0,
            advertised_host: String::from("127.0.0.1"),
            advertised_port: 9092,
            cluster_id: String::from("blazemq-cluster"),
            log_dir: String::from("/tmp/blazemq/data"),
            segment_size_bytes: SEGMENT_BYTES_DEFAULT,
            offsets_topic_segment_bytes: INTERNAL_LOG_SEGMENT_BYTES_DEFAULT,
            transaction_state_log_segment_bytes: INTERNAL_LOG_SEGMENT_BYTES_DEFAULT,
            segment_ms: SEGMENT_MS_DEFAULT,
            retention_bytes: RETENTION_BYTES_DEFAULT,
            log_cleanup_policy: CleanupPolicy::Delete,
            num_partitions: 1,
            auto_create_topics: true,
            retention_ms: RETENTION_MS_DEFAULT,
            offsets_retention_ms: OFFSETS_RETENTION_MS_DEFAULT,
            offsets_retention_check_interval_ms: OFFSETS_RETENTION_CHECK_INTERVAL_MS_DEFAULT,
            group_initial_rebalance_delay_ms: 0,
            group_min_session_timeout_ms: GROUP_MIN_SESSION_TIMEOUT_MS_DEFAULT,
            group_max_session_timeout_ms: GROUP_MAX_SESSION_TIMEOUT_MS_DEFAULT,
            log_flush_offset_checkpoint_interval_ms: None,
            open_segments_max: OPEN_SEGMENTS_MAX_DEFAULT,
            transaction_max_timeout_ms: crate::txn::TRANSACTION_MAX_TIMEOUT_MS_DEFAULT,
            transactional_id_expiration_ms: crate::txn::TRANSACTIONAL_ID_EXPIRATION_MS_DEFAULT,
            producer_id_expiration_ms: PRODUCER_ID_EXPIRATION_MS_DEFAULT,
            log_cleaner_dedupe_buffer_size: LOG_CLEANER_DEDUPE_BUFFER_SIZE_DEFAULT,
            log_cleaner_backoff_ms: LOG_CLEANER_BACKOFF_MS_DEFAULT,
            cleaner_jobs: false,
            seed: 0,
            limits: Limits::default(),
            events: super::EventLevel::Off,
            faults: alloc::vec::Vec::new(),
            stats: false,
        }
    }
}
