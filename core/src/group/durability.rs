//! Nothing is acknowledged before it is stored: the caller writes the coordinator's records and
//! reports the outcome, and only then do commits take effect, rebalances finish and their
//! answers go out.
//!
//! Changes come in two kinds. A commit, a finished SyncGroup, a static member's takeover and a
//! deletion are [`Staged`]: made when their records are stored, undone when they are not, and
//! their requests answered with the write's error. A group emptied by members leaving or
//! expiring is already so in memory (as in Kafka, a classic group's membership is not rolled
//! back): its record is kept and written with the next records, or at a retry deadline, so the
//! log catches up; until then a restart brings back the previous generation, whose members
//! then expire.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::coordinator::GroupCoordinator;
use super::records::GroupRecord;
use super::staged::Staged;
use super::state::{Group, State};
use super::types::SyncAnswer;
use crate::error::ErrorCode;
use crate::time::Instant;

/// How long a record that could not be written waits before the next try when nothing else
/// writes: the disk gets a moment, and a broken one is not hammered.
pub(crate) const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Kafka's error for a coordinator write that failed with `append_error` (the group
/// coordinator's `appendGroupMetadataErrorToResponseError` and its operations' exception
/// handler agree, for offsets and group metadata alike): a broken log sends the client to find
/// the coordinator again, a full one is the broker's problem, anything else is passed on.
pub fn coordinator_error(append_error: ErrorCode) -> ErrorCode {
    match append_error {
        ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotLeaderOrFollower | ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        ErrorCode::MessageTooLarge
        | ErrorCode::RecordListTooLarge
        | ErrorCode::InvalidFetchSize => ErrorCode::UnknownServerError,
        other => other,
    }
}

impl GroupCoordinator {
    /// The records to append to the offsets log, oldest first, in one write. Then call
    /// [`GroupCoordinator::records_stored`] or [`GroupCoordinator::records_failed`] (also when
    /// there are none: staged changes without records are settled then).
    pub fn records(&self) -> impl ExactSizeIterator<Item = &GroupRecord> {
        self.out.records.iter().map(|p| &p.record)
    }

    /// The records are in the log: their changes take effect and their answers go out.
    pub fn records_stored(&mut self) {
        self.out.records.clear();
        self.out.retries = 0;
        self.retry_at = None;
        for change in core::mem::take(&mut self.out.staged) {
            self.apply_staged(change);
        }
    }

    /// The records could not be written; `append_error` is why. Staged changes are undone and
    /// their parked requests answered with Kafka's coordinator error; records of changes
    /// already made are kept for the next write. Returns the error for the request that
    /// caused records since the last write, `None` if only earlier records failed again.
    pub fn records_failed(&mut self, now: Instant, append_error: ErrorCode) -> Option<ErrorCode> {
        let error = coordinator_error(append_error);
        let caused = self.out.records.len() > self.out.retries;
        let mut records = core::mem::take(&mut self.out.records);
        records.retain(|p| p.keep);
        // A group record holds the group's whole state: only the newest of each key matters.
        let mut seen = BTreeSet::new();
        let mut newest_first: Vec<_> = records
            .into_iter()
            .rev()
            .filter(|p| seen.insert(p.record.key.clone()))
            .collect();
        newest_first.reverse();
        self.out.records = newest_first;
        self.out.retries = self.out.records.len();
        self.retry_at = (!self.out.records.is_empty()).then(|| now + RETRY_BACKOFF);
        let staged = core::mem::take(&mut self.out.staged);
        // Undone newest first, so each restores what the one before it left.
        for change in staged.into_iter().rev() {
            self.undo_staged(change, error);
        }
        caused.then_some(error)
    }

    fn apply_staged(&mut self, change: Staged) {
        match change {
            Staged::Offset {
                group_id,
                key,
                committed,
            } => {
                let group = self.groups.entry(group_id).or_insert_with(Group::new);
                if group.offsets.insert(key, committed).is_none() {
                    self.offsets_held += 1;
                }
            }
            Staged::Sync {
                group_id,
                generation,
                ..
            } => self.sync_stored(&group_id, generation),
            Staged::DeleteOffset { group_id, key } => {
                let removed = self
                    .groups
                    .get_mut(&group_id)
                    .and_then(|g| g.offsets.remove(&key));
                if removed.is_some() {
                    self.offsets_held = self.offsets_held.saturating_sub(1);
                }
            }
            Staged::Restore { .. } => {}
        }
    }

    fn undo_staged(&mut self, change: Staged, error: ErrorCode) {
        match change {
            Staged::Offset { .. } => {}
            // The offsets stay: expiry looks again (a failed OffsetDelete costs it a look).
            Staged::DeleteOffset { .. } => self.expiry_write_failed(),
            Staged::Sync {
                group_id,
                generation,
                now,
            } => self.sync_failed(&group_id, generation, now, error),
            Staged::Restore { group_id, before } => {
                self.expiry_write_failed();
                if let Some(now) = self.groups.remove(&group_id) {
                    self.offsets_held = self.offsets_held.saturating_sub(now.offsets.len());
                }
                self.offsets_held += before.offsets.len();
                self.groups.insert(group_id, before);
            }
        }
    }

    /// The leader's assignments are stored: Stable, and every parked sync gets its assignment.
    fn sync_stored(&mut self, group_id: &str, generation: i32) {
        let Some(group) = completing(&mut self.groups, group_id, generation) else {
            return;
        };
        group.state = State::Stable;
        let answers: Vec<_> = group
            .members
            .values_mut()
            .filter_map(|m| m.sync.take().map(|t| (t, m.assignment.clone())))
            .collect();
        for (ticket, assignment) in answers {
            let answer = group.sync_answer(assignment);
            self.out.sync(ticket, answer);
        }
    }

    /// Kafka's answer to assignments it could not store: every parked sync gets the error, the
    /// assignments are dropped and the group rebalances again.
    fn sync_failed(&mut self, group_id: &str, generation: i32, now: Instant, error: ErrorCode) {
        let delay = self.config.initial_rebalance_delay;
        let Some(group) = completing(&mut self.groups, group_id, generation) else {
            return;
        };
        for m in group.members.values_mut() {
            m.assignment.clear();
            if let Some(ticket) = m.sync.take() {
                self.out.sync(ticket, SyncAnswer::error(error));
            }
        }
        group.prepare_rebalance(now, delay, &mut self.out);
        group.try_complete_join(group_id, now, &mut self.out);
    }
}

/// The group, if it still waits on this generation's sync: nothing has moved it on since.
fn completing<'a>(
    groups: &'a mut BTreeMap<String, Group>,
    group_id: &str,
    generation: i32,
) -> Option<&'a mut Group> {
    groups.get_mut(group_id).filter(|g| {
        g.generation == generation && matches!(g.state, State::CompletingRebalance { .. })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_errors_map_as_kafka_maps_them() {
        let cases = [
            (ErrorCode::KafkaStorageError, ErrorCode::NotCoordinator),
            (ErrorCode::NotLeaderOrFollower, ErrorCode::NotCoordinator),
            (
                ErrorCode::UnknownTopicOrPartition,
                ErrorCode::CoordinatorNotAvailable,
            ),
            (
                ErrorCode::NotEnoughReplicas,
                ErrorCode::CoordinatorNotAvailable,
            ),
            (
                ErrorCode::RequestTimedOut,
                ErrorCode::CoordinatorNotAvailable,
            ),
            (ErrorCode::RecordListTooLarge, ErrorCode::UnknownServerError),
            (ErrorCode::MessageTooLarge, ErrorCode::UnknownServerError),
            (ErrorCode::InvalidFetchSize, ErrorCode::UnknownServerError),
            (ErrorCode::CorruptMessage, ErrorCode::CorruptMessage),
            (ErrorCode::UnknownServerError, ErrorCode::UnknownServerError),
        ];
        for (append, answered) in cases {
            assert_eq!(coordinator_error(append), answered, "{append:?}");
        }
    }
}
