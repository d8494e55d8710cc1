//! One transactional id's metadata and the states of its transaction.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;

/// Kafka's `TransactionState`, with the ids it writes to its transaction log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    /// Every state, in id order.
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.get(usize::from(id)).copied()
    }

    /// The name DescribeTransactions and ListTransactions report.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state named `name`, as ListTransactions filters name them (case-insensitively).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

/// An offset a transaction commits for a group once it commits (TxnOffsetCommit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// Offsets by group, then by `(topic, partition)`.
pub type PendingOffsets = BTreeMap<String, BTreeMap<(String, i32), PendingOffset>>;

/// What the coordinator knows of one transactional id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMetadata {
    pub producer_id: i64,
    /// The producer id before the last rotation (an exhausted epoch), or -1.
    pub last_producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump, so a retried InitProducerId is recognised; -1 if none.
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// The partitions of the open transaction, `(topic, partition)`.
    pub partitions: BTreeSet<(String, i32)>,
    /// When the last transaction began (its first partition was added); -1 before the first.
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// Offsets of the open transaction, committed to their groups when it commits.
    pub offsets: PendingOffsets,
}

/// Epochs stop one short of `i16::MAX`: Kafka's `isEpochExhausted`.
pub(crate) fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

impl TxnMetadata {
    /// A transactional id seen for the first time: its producer id, no epoch yet.
    pub fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            producer_id,
            last_producer_id: -1,
            producer_epoch: -1,
            last_producer_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now_ms,
            offsets: BTreeMap::new(),
        }
    }

    /// When an open transaction times out, in wall-clock milliseconds.
    pub fn expires_ms(&self) -> Option<i64> {
        (self.state == TxnState::Ongoing)
            .then(|| self.start_ms.saturating_add(i64::from(self.timeout_ms)))
    }

    /// The transaction's end: Prepare* becomes Complete*, its partitions and offsets are done.
    /// Its start time stays, as Kafka's DescribeTransactions reports it after the end.
    pub fn completed(&self, now_ms: i64) -> Self {
        let state = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            _ => TxnState::CompleteAbort,
        };
        TxnMetadata {
            state,
            partitions: BTreeSet::new(),
            offsets: BTreeMap::new(),
            last_update_ms: now_ms,
            ..self.clone()
        }
    }
}
