//! Changes that wait for their records: made when the records are stored, undone when they are
//! not (see `durability`).

use alloc::string::String;

use super::state::{Committed, Group};
use crate::time::Instant;

/// A change that waits for its record.
#[derive(Debug)]
pub(crate) enum Staged {
    /// A committed offset: the group (created if a simple consumer's) takes it once stored.
    Offset {
        group_id: String,
        key: (String, i32),
        committed: Committed,
    },
    /// The leader's SyncGroup: the assignments are in the members, the group becomes Stable
    /// and the parked syncs are answered once stored. `now` is when the sync came.
    Sync {
        group_id: String,
        generation: i32,
        now: Instant,
    },
    /// A committed offset deleted (OffsetDelete): it goes once the tombstone is stored.
    DeleteOffset {
        group_id: String,
        key: (String, i32),
    },
    /// The group as it was before the change: put back if the record is not stored.
    Restore { group_id: String, before: Group },
}
