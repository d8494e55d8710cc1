//! The coordinator's bounds and settings, with their units.

use core::time::Duration;

/// Bounds on what clients can make the coordinator hold. Crossing one gets a Kafka error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupLimits {
    /// Groups held at once (with members or with committed offsets). A JoinGroup or OffsetCommit
    /// that would create one more gets `COORDINATOR_NOT_AVAILABLE`, which clients retry.
    pub groups_max: u32,
    /// Members of one group, counting those told `MEMBER_ID_REQUIRED` and not yet back
    /// (Kafka's `group.max.size`); one more gets `GROUP_MAX_SIZE_REACHED`.
    pub members_per_group_max: u32,
    /// Bytes of one member's protocol metadata (all its protocols together) or of one
    /// assignment; more gets `INVALID_REQUEST`.
    pub metadata_bytes_max: u32,
    /// Bytes of one committed offset's metadata string (Kafka's `offset.metadata.max.bytes`);
    /// more gets `OFFSET_METADATA_TOO_LARGE` for that partition.
    pub offset_metadata_bytes_max: u32,
    /// Committed offsets held across all groups; a commit past it gets
    /// `INVALID_COMMIT_OFFSET_SIZE` for the partitions that do not fit, as Kafka answers a commit
    /// its offsets log cannot take.
    pub offsets_max: u32,
}

impl Default for GroupLimits {
    fn default() -> Self {
        GroupLimits {
            groups_max: 10_000,
            members_per_group_max: 1_000,
            metadata_bytes_max: 1024 * 1024,
            offset_metadata_bytes_max: 4096,
            offsets_max: 1_000_000,
        }
    }
}

/// The coordinator's settings: Kafka's `group.*` broker configuration plus its bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// Bounds on held state.
    pub limits: GroupLimits,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits
    /// for more members (extended by this much while members keep arriving, up to the
    /// rebalance timeout). Kafka's default is 3 s; BlazeMQ's is 0 so a lone consumer starts at
    /// once.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms`: shorter session timeouts get `INVALID_SESSION_TIMEOUT`.
    pub session_timeout_min: Duration,
    /// `group.max.session.timeout.ms`: longer session timeouts get `INVALID_SESSION_TIMEOUT`.
    pub session_timeout_max: Duration,
    /// Seed of the generator behind member ids, so a run replays exactly.
    pub seed: u64,
    /// `offsets.retention.minutes`, in milliseconds: committed offsets of a group that has had
    /// no members this long (a standalone consumer's: this long after their commit) expire.
    /// `i64::MAX` keeps them forever.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`: how often expired offsets are looked for, so an
    /// idle broker holding groups wakes at most this often.
    pub offsets_retention_check_interval: Duration,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            limits: GroupLimits::default(),
            initial_rebalance_delay: Duration::ZERO,
            session_timeout_min: Duration::from_millis(6_000),
            session_timeout_max: Duration::from_millis(1_800_000),
            seed: 0,
            offsets_retention_ms: 10_080 * 60_000,
            offsets_retention_check_interval: Duration::from_millis(600_000),
        }
    }
}
