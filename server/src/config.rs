//! The broker's settings: one table (below) names each setting's flag, environment variable, YAML
//! key and default. Flags beat `BLAZEMQ_*` variables, which beat the YAML file given with
//! `--config`, which beats the defaults. An unknown flag, `BLAZEMQ_*` variable or YAML key, or a
//! bad value, is an error naming it, reported before anything touches the disk.

mod sources;
mod values;
mod yaml;

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use blazemq_core::broker::{CleanupPolicy, FaultRule, defaults};
use blazemq_core::limits::Limits;

use crate::logging::{Format, Level};

pub use sources::Source;

/// One setting as documented in `--help` and the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Key in the YAML file.
    pub key: &'static str,
    /// Command-line flag, without the leading `--`.
    pub flag: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// Placeholder for the value in `--help`.
    pub value: &'static str,
    /// Default, as it would be written (empty: derived, see `help`).
    pub default: &'static str,
    /// One line on what it does.
    pub help: &'static str,
}

const fn setting(
    key: &'static str,
    flag: &'static str,
    env: &'static str,
    value: &'static str,
    default: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        key,
        flag,
        env,
        value,
        default,
        help,
    }
}

/// Every setting, in `--help` order.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    setting("bind_address", "bind-address", "BLAZEMQ_BIND_ADDRESS", "ADDR", "0.0.0.0",
        "IP address to listen on; `::` listens on IPv6 and IPv4"),
    setting("port", "port", "BLAZEMQ_PORT", "PORT", "9092",
        "TCP port to listen on (0: any free port)"),
    setting("advertised_host", "advertised-host", "BLAZEMQ_ADVERTISED_HOST", "HOST", "",
        "host clients are told to connect to [default: the bind address; 127.0.0.1 for 0.0.0.0 and ::]"),
    setting("log_dir", "log-dir", "BLAZEMQ_LOG_DIR", "DIR", "/tmp/blazemq/data",
        "directory holding the partition logs"),
    setting("segment_size", "segment-size", "BLAZEMQ_SEGMENT_SIZE", "BYTES", defaults::SEGMENT_BYTES,
        "largest size a segment file grows to before the log rolls, the default segment.bytes of \
         topics (Kafka's log.segment.bytes): from 1024 to 2147483647 bytes (Kafka's int bound, so \
         2047MiB or 2GB but not 2GiB), plain or with a suffix K/KiB, M/MiB, G/GiB (powers of 1024) \
         or KB, MB, GB (powers of 1000)"),
    setting("broker_id", "broker-id", "BLAZEMQ_BROKER_ID", "ID", "0",
        "this broker's node id"),
    setting("num_partitions", "num-partitions", "BLAZEMQ_NUM_PARTITIONS", "N", "1",
        "partitions of an auto-created topic"),
    setting("auto_create_topics", "auto-create-topics", "BLAZEMQ_AUTO_CREATE_TOPICS", "BOOL", "true",
        "create unknown topics on Metadata and Produce"),
    setting("retention_ms", "retention-ms", "BLAZEMQ_RETENTION_MS", "MS", defaults::RETENTION_MS,
        "how long records are kept (-1: forever)"),
    setting("log_retention_bytes", "log-retention-bytes", "BLAZEMQ_LOG_RETENTION_BYTES", "BYTES", defaults::RETENTION_BYTES,
        "bytes a partition keeps, the default retention.bytes of topics (Kafka's log.retention.bytes; \
         -1: no bound)"),
    setting("log_cleanup_policy", "log-cleanup-policy", "BLAZEMQ_LOG_CLEANUP_POLICY", "POLICY", "delete",
        "the default cleanup.policy of topics (Kafka's log.cleanup.policy): delete, compact or \
         compact,delete"),
    setting("log_segment_ms", "log-segment-ms", "BLAZEMQ_LOG_SEGMENT_MS", "MS", defaults::SEGMENT_MS,
        "the log rolls at an append whose records are this much newer than the segment's first, the \
         default segment.ms of topics (Kafka's log.roll.ms)"),
    setting("offsets_topic_segment_bytes", "offsets-topic-segment-bytes",
        "BLAZEMQ_OFFSETS_TOPIC_SEGMENT_BYTES", "BYTES", "104857600",
        "segment size of the offsets log (Kafka's offsets.topic.segment.bytes), smaller than other \
         logs' so that it is compacted early; bounds and suffixes of segment_size"),
    setting("transaction_state_log_segment_bytes", "transaction-state-log-segment-bytes",
        "BLAZEMQ_TRANSACTION_STATE_LOG_SEGMENT_BYTES", "BYTES", "104857600",
        "segment size of the transaction log (Kafka's transaction.state.log.segment.bytes); bounds \
         and suffixes of segment_size"),
    setting("offsets_retention_minutes", "offsets-retention-minutes",
        "BLAZEMQ_OFFSETS_RETENTION_MINUTES", "MIN", "10080",
        "committed offsets of a group empty this long expire, and the group with them (Kafka's \
         offsets.retention.minutes)"),
    setting("offsets_retention_check_interval_ms", "offsets-retention-check-interval-ms",
        "BLAZEMQ_OFFSETS_RETENTION_CHECK_INTERVAL_MS", "MS", "600000",
        "how often expired offsets are looked for (Kafka's offsets.retention.check.interval.ms)"),
    setting("max_request_size", "max-request-size", "BLAZEMQ_MAX_REQUEST_SIZE", "BYTES", "104857600",
        "largest request frame accepted; a larger one closes the connection"),
    setting("group_initial_rebalance_delay_ms", "group-initial-rebalance-delay-ms",
        "BLAZEMQ_GROUP_INITIAL_REBALANCE_DELAY_MS", "MS", "0",
        "wait for more members before the first rebalance of an empty group"),
    setting("group_min_session_timeout_ms", "group-min-session-timeout-ms",
        "BLAZEMQ_GROUP_MIN_SESSION_TIMEOUT_MS", "MS", "6000",
        "shortest session timeout a group member may ask for (Kafka's group.min.session.timeout.ms)"),
    setting("group_max_session_timeout_ms", "group-max-session-timeout-ms",
        "BLAZEMQ_GROUP_MAX_SESSION_TIMEOUT_MS", "MS", "1800000",
        "longest session timeout a group member may ask for (Kafka's group.max.session.timeout.ms)"),
    setting("log_flush_offset_checkpoint_interval_ms", "log-flush-offset-checkpoint-interval-ms",
        "BLAZEMQ_LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS", "MS", "60000",
        "how often the recovery checkpoint is written while records arrive; a restart after a \
         crash checks only what was written since the last one"),
    setting("transaction_max_timeout_ms", "transaction-max-timeout-ms",
        "BLAZEMQ_TRANSACTION_MAX_TIMEOUT_MS", "MS", "900000",
        "longest transaction timeout a producer may ask for (Kafka's transaction.max.timeout.ms)"),
    setting("transactional_id_expiration_ms", "transactional-id-expiration-ms",
        "BLAZEMQ_TRANSACTIONAL_ID_EXPIRATION_MS", "MS", "604800000",
        "how long a transactional id with no open transaction is kept after its last use \
         (Kafka's transactional.id.expiration.ms)"),
    setting("log_cleaner_dedupe_buffer_size", "log-cleaner-dedupe-buffer-size",
        "BLAZEMQ_LOG_CLEANER_DEDUPE_BUFFER_SIZE", "BYTES", "134217728",
        "the most memory the log cleaner's map of keys takes in one pass; a compacted log with \
         more keys is cleaned in several passes (Kafka's log.cleaner.dedupe.buffer.size)"),
    setting("log_cleaner_backoff_ms", "log-cleaner-backoff-ms",
        "BLAZEMQ_LOG_CLEANER_BACKOFF_MS", "MS", "15000",
        "how long after client traffic the log cleaner looks for a compacted log to clean \
         (Kafka's log.cleaner.backoff.ms); an idle broker never wakes for it"),
    setting("producer_id_expiration_ms", "producer-id-expiration-ms",
        "BLAZEMQ_PRODUCER_ID_EXPIRATION_MS", "MS", "86400000",
        "how long an idempotent producer's sequence state is kept on a partition after its last \
         batch there, unless a transaction of it is open (Kafka's producer.id.expiration.ms)"),
    setting("max_open_segments", "max-open-segments", "BLAZEMQ_MAX_OPEN_SEGMENTS", "N", "512",
        "segment files kept open and mapped at once; past it the least recently used one closes \
         and reopens when next used (each holds a file descriptor)"),
    setting("num_io_threads", "num-io-threads", "BLAZEMQ_NUM_IO_THREADS", "N", "1",
        "accepted for compatibility: the event loop is single-threaded"),
    setting("max_connection_output_bytes", "max-connection-output-bytes",
        "BLAZEMQ_MAX_CONNECTION_OUTPUT_BYTES", "BYTES", "4MiB",
        "memory a connection's unsent responses may hold before it is no longer read (record data \
         sent from segments is not counted); accepts suffixes like segment_size"),
    setting("message_pool_blocks", "message-pool-blocks", "BLAZEMQ_MESSAGE_POOL_BLOCKS", "N", "1024",
        "accepted for compatibility: output is bounded by max_connection_output_bytes"),
    setting("message_pool_block_size", "message-pool-block-size", "BLAZEMQ_MESSAGE_POOL_BLOCK_SIZE",
        "BYTES", "65536", "size of the buffer each socket read fills"),
    setting("replication_factor", "replication-factor", "BLAZEMQ_REPLICATION_FACTOR", "N", "1",
        "accepted for compatibility: must be 1 or -1 (one broker)"),
    setting("faults", "faults", "BLAZEMQ_FAULTS", "RULES", "",
        "fault rules in force from startup, for client tests, separated by `;`, as \
         `api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3` (README: Fault injection) [default: none]"),
    setting("log_level", "log-level", "BLAZEMQ_LOG_LEVEL", "LEVEL", "info",
        "least important lines written to stderr: error, warn, info (startup, topics, groups, \
         shutdown), debug (also connections, refused requests and answers with errors) or trace"),
    setting("log_format", "log-format", "BLAZEMQ_LOG_FORMAT", "FORMAT", "text",
        "stderr lines as text (time, level, message, key=value) or json (one object a line)"),
    setting("metrics_listener", "metrics-listener", "BLAZEMQ_METRICS_LISTENER", "ADDR:PORT", "",
        "HTTP listener of Prometheus metrics (/metrics), fault injection (/faults) and the web \
         console (/), e.g. 127.0.0.1:9644 (port 0: any free port) [default: off; \
         127.0.0.1:9644 when console is true]"),
    setting("console", "console", "BLAZEMQ_CONSOLE", "BOOL", "false",
        "serve the web console at / of the metrics listener"),
    setting("console_write", "console-write", "BLAZEMQ_CONSOLE_WRITE", "BOOL", "false",
        "let the console produce records and reset groups' offsets (read-only otherwise)"),
];

/// The validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `bind_address`.
    pub bind_address: IpAddr,
    /// `port` (0: the OS picks one).
    pub port: u16,
    /// `advertised_host`, with the default derived from the bind address.
    pub advertised_host: String,
    /// `log_dir`.
    pub log_dir: PathBuf,
    /// `segment_size` in bytes.
    pub segment_size_bytes: u64,
    /// `offsets_topic_segment_bytes`.
    pub offsets_topic_segment_bytes: u64,
    /// `transaction_state_log_segment_bytes`.
    pub transaction_state_log_segment_bytes: u64,
    /// `broker_id`.
    pub broker_id: i32,
    /// `num_partitions`.
    pub num_partitions: i32,
    /// `auto_create_topics`.
    pub auto_create_topics: bool,
    /// `retention_ms` (-1: forever).
    pub retention_ms: i64,
    /// `log_retention_bytes` (negative: no bound).
    pub retention_bytes: i64,
    /// `log_cleanup_policy`.
    pub log_cleanup_policy: CleanupPolicy,
    /// `log_segment_ms`.
    pub segment_ms: i64,
    /// `offsets_retention_minutes`.
    pub offsets_retention_minutes: u32,
    /// `offsets_retention_check_interval_ms`.
    pub offsets_retention_check_interval_ms: u32,
    /// `max_request_size` in bytes.
    pub request_size_bytes_max: u32,
    /// `group_initial_rebalance_delay_ms`.
    pub group_initial_rebalance_delay_ms: u32,
    /// `group_min_session_timeout_ms`.
    pub group_min_session_timeout_ms: u32,
    /// `group_max_session_timeout_ms`.
    pub group_max_session_timeout_ms: u32,
    /// `log_flush_offset_checkpoint_interval_ms`.
    pub log_flush_offset_checkpoint_interval_ms: u32,
    /// `max_open_segments`.
    pub open_segments_max: u32,
    /// `transaction_max_timeout_ms`.
    pub transaction_max_timeout_ms: i32,
    /// `transactional_id_expiration_ms`.
    pub transactional_id_expiration_ms: i64,
    /// `producer_id_expiration_ms`.
    pub producer_id_expiration_ms: i64,
    /// `log_cleaner_dedupe_buffer_size` in bytes.
    pub log_cleaner_dedupe_buffer_size: u64,
    /// `log_cleaner_backoff_ms`.
    pub log_cleaner_backoff_ms: u32,
    /// `num_io_threads` as given (only 1 is used).
    pub num_io_threads: u32,
    /// `max_connection_output_bytes`.
    pub connection_output_bytes_max: u64,
    /// `message_pool_blocks` as given (accepted, no longer used).
    pub message_pool_blocks: u32,
    /// `message_pool_block_size` in bytes.
    pub message_pool_block_size_bytes: u32,
    /// `faults`: fault rules in force from startup.
    pub faults: Vec<FaultRule>,
    /// `log_level`.
    pub log_level: Level,
    /// `log_format`.
    pub log_format: Format,
    /// `metrics_listener`, with the console's default; `None`: no HTTP listener.
    pub metrics_listener: Option<SocketAddr>,
    /// `console`.
    pub console: bool,
    /// `console_write`.
    pub console_write: bool,
}

impl Config {
    /// The bounds `core` enforces, with the configured request size.
    pub fn limits(&self) -> Limits {
        Limits {
            request_size_bytes_max: self.request_size_bytes_max,
            ..Limits::default()
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run the broker.
    Run(Box<Config>),
    /// Print the settings and exit.
    Help,
    /// Print the version and exit.
    Version,
}

/// Why the configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A flag that is not a setting.
    UnknownFlag(String),
    /// A `BLAZEMQ_*` environment variable that is not a setting.
    UnknownEnv(String),
    /// A YAML key that is not a setting.
    UnknownKey {
        /// The key.
        key: String,
        /// The file it is in.
        file: PathBuf,
    },
    /// A setting's value could not be used.
    BadValue {
        /// The setting's YAML key.
        key: &'static str,
        /// Where the value came from.
        source: Source,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The command line itself is malformed (a flag without its value, a stray argument, ...).
    Usage(String),
    /// The YAML file could not be read or parsed.
    File {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownFlag(flag) => {
                write!(f, "unknown option '{flag}' (see --help for the settings)")
            }
            ConfigError::UnknownEnv(name) => write!(
                f,
                "unknown environment variable '{name}' (see --help for the settings)"
            ),
            ConfigError::UnknownKey { key, file } => write!(
                f,
                "unknown setting '{key}' in {} (see --help for the settings)",
                file.display()
            ),
            ConfigError::BadValue {
                key,
                source,
                value,
                reason,
            } => write!(f, "invalid value '{value}' for {key} ({source}): {reason}"),
            ConfigError::Usage(message) => write!(f, "{message}"),
            ConfigError::File { file, reason } => {
                write!(f, "cannot read config file {}: {reason}", file.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Read the configuration from `args` (without the program name), the environment's variables
/// `env`, and the YAML file named by `--config`.
pub fn load(
    args: impl IntoIterator<Item = OsString>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Command, ConfigError> {
    let layers = match sources::gather(args, env)? {
        sources::Gathered::Help => return Ok(Command::Help),
        sources::Gathered::Version => return Ok(Command::Version),
        sources::Gathered::Layers(layers) => layers,
    };
    values::build(&layers).map(|config| Command::Run(Box::new(config)))
}

/// The `--help` text, generated from [`SETTINGS`].
pub fn help() -> String {
    let mut out = String::from(
        "Usage: blazemq [--config FILE.yaml] [--SETTING VALUE]...\n\n\
         A Kafka-compatible message broker.\n\n\
         Each setting is a flag, an environment variable or a key in the YAML file given with\n\
         --config; flags beat environment variables, which beat the file, which beats the default.\n\n\
         Options:\n  \
         --config FILE   YAML file of settings (keys as below)\n  \
         -h, --help      print this help\n  \
         -V, --version   print the version\n\nSettings:\n",
    );
    for s in SETTINGS {
        let default = if s.default.is_empty() {
            String::new()
        } else {
            format!(" [default: {}]", s.default)
        };
        out.push_str(&format!(
            "  --{} {}\n      {}{default}\n      env {}, yaml {}\n",
            s.flag, s.value, s.help, s.env, s.key
        ));
    }
    out
}

/// The setting with YAML key `key`.
fn setting_by_key(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

#[cfg(test)]
mod tests;
