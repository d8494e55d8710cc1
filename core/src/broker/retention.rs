//! Retention: sealed segments leave the front of a partition's log once `retention.ms` or
//! `retention.bytes` no longer keeps them, as Kafka's log retention does. Kafka checks every few
//! minutes; here a deadline says when the oldest sealed segment ages out, and `retention.bytes`
//! is checked after each append to a log with sealed segments, so an idle broker never wakes for
//! nothing.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::Broker;
use super::topics::Topics;
use crate::log::{AppendAt, Retention};
use crate::storage::{Storage, StorageError};
use crate::time::Instant;

/// When retention must look at the logs again.
#[derive(Debug)]
pub(super) struct RetentionTimer {
    /// The oldest sealed segment of some partition ages out then (or a little later: an earlier
    /// deadline than needed only costs a spurious check).
    pub deadline: Option<Instant>,
    /// Every partition must be checked again (startup, a topic's configs changed).
    pub dirty: bool,
}

impl RetentionTimer {
    /// Check everything at the first input with a wall clock: segments may have aged out while
    /// the broker was down. The deadline makes a runtime that has no input yet call at once.
    pub fn at_startup() -> Self {
        RetentionTimer {
            deadline: Some(Instant::default()),
            dirty: true,
        }
    }
}

impl<S: Storage> Broker<S> {
    /// The retention of topic `ti` (its own configs, else the broker's dynamic settings, else the
    /// static ones), or `None` when its `cleanup.policy` lacks `delete`: Kafka
    /// then neither ages nor sizes its segments out, and refuses DeleteRecords. The offsets log
    /// is compacted in Kafka, so it is never trimmed here either.
    pub(super) fn topic_retention(&self, ti: u32) -> Option<Retention> {
        if super::names::is_broker_log(&self.topics.topic(ti).name) {
            return None;
        }
        let s = &self.topics.topic(ti).settings;
        s.delete.then_some(Retention {
            ms: s.retention_ms,
            bytes: s.retention_bytes,
        })
    }

    /// How an append to topic `ti` is made now: its `segment.bytes` and `segment.ms` (as of
    /// now, so an alter applies to the next roll), the wall clock, and its timestamp type.
    pub(super) fn append_at(&self, ti: u32) -> AppendAt {
        let s = &self.topics.topic(ti).settings;
        AppendAt {
            segment_size: s.segment_bytes,
            segment_ms: s.segment_ms,
            unix_ms: self.unix_ms,
            log_append_time: s.log_append_time,
        }
    }

    /// Run retention if its deadline has come or something changed. Cheap otherwise: called for
    /// every input that brings the wall clock along with `now` (a stale wall clock would put the
    /// next deadline late).
    pub(super) fn retention_check(&mut self) {
        let due = self.retention.deadline.is_some_and(|d| d <= self.now);
        if self.retention.dirty || due {
            self.run_retention();
        }
    }

    /// Apply retention to every partition, then set the deadline to when the next oldest sealed
    /// segment ages out.
    fn run_retention(&mut self) {
        self.retention.dirty = false;
        let work: Vec<(Retention, u32)> = self
            .topics
            .iter()
            .flat_map(|(ti, topic)| {
                let retention = self.topic_retention(ti).unwrap_or(Retention::KEEP_ALL);
                topic.partitions.iter().map(move |&pi| (retention, pi))
            })
            .collect();
        let mut moved = Vec::new();
        let mut next_due: Option<i64> = None;
        for (retention, pi) in work {
            let Some(p) = self.topics.partition_mut(pi) else {
                continue;
            };
            let start = p.log.log_start_offset();
            // A segment whose file cannot be removed has still left the log; the error has no
            // one to go to, and a restart finds the file again and deletes it then.
            let _ = p
                .log
                .delete_old_segments(&mut self.storage, retention, self.unix_ms);
            if p.log.log_start_offset() != start {
                moved.push(pi);
            }
            if let Some(due) = p.log.retention_due_ms(retention) {
                next_due = Some(next_due.map_or(due, |d| d.min(due)));
            }
        }
        self.retention.deadline = next_due.map(|due| self.instant_of(due));
        for &pi in &moved {
            self.prune_transactions(pi);
        }
        // Parked fetches below the new start now get OFFSET_OUT_OF_RANGE.
        self.wake_fetches(&moved);
    }

    /// After an append to partition `pi` of topic `ti` whose log has sealed segments: delete what
    /// `retention.bytes` no longer keeps, and let the oldest segment's age join the deadline
    /// (a roll may have just sealed the partition's first segment).
    pub(super) fn retention_after_append(&mut self, ti: u32, pi: u32) {
        let Some(retention) = self.topic_retention(ti) else {
            return;
        };
        let unix_ms = self.unix_ms;
        let Some(p) = self.topics.partition_mut(pi) else {
            return;
        };
        let start = p.log.log_start_offset();
        if retention.bytes >= 0 {
            // As in `run_retention`, a failed removal is retried at the next start.
            let _ = p
                .log
                .delete_old_segments(&mut self.storage, retention, unix_ms);
        }
        let moved = p.log.log_start_offset() != start;
        if let Some(due) = p.log.retention_due_ms(retention) {
            let at = self.instant_of(due);
            self.retention.deadline = Some(self.retention.deadline.map_or(at, |d| d.min(at)));
        }
        if moved {
            self.prune_transactions(pi);
        }
    }

    /// The monotonic instant at which the wall clock reads `unix_ms` (now if it already has).
    pub(super) fn instant_of(&self, unix_ms: i64) -> Instant {
        let wait = u64::try_from(unix_ms.saturating_sub(self.unix_ms)).unwrap_or(0);
        self.now + Duration::from_millis(wait)
    }
}

/// At startup: raise each partition's log start offset to what DeleteRecords recorded for it
/// (never past the log end: records a power loss took cannot be below the start), and age
/// segments without timestamps from `unix_ms`.
pub(super) fn recover<S: Storage>(
    storage: &mut S,
    topics: &mut Topics<S::Segment>,
    unix_ms: i64,
) -> Result<(), StorageError> {
    let partitions: Vec<(String, Vec<u32>)> = topics
        .iter()
        .map(|(_, t)| (t.name.clone(), t.partitions.clone()))
        .collect();
    for (name, pis) in partitions {
        for (index, pi) in pis.into_iter().enumerate() {
            let index = i32::try_from(index).unwrap_or(i32::MAX);
            let recorded = storage.read_log_start_offset(&name, index)?;
            let Some(p) = topics.partition_mut(pi) else {
                continue;
            };
            p.log.set_unknown_modified_ms(unix_ms);
            if let Some(offset) = recorded {
                let end = p.log.log_end_offset();
                // Within the log end by construction: cannot fail.
                let _ = p.log.raise_log_start_offset(offset.min(end));
            }
            // Aborted transactions below the start are of no use to any fetch; the file keeps
            // them until its next rewrite.
            p.txns.prune(p.log.log_start_offset());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
