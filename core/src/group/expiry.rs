//! Committed offsets expire as Kafka's `offsets.retention.minutes` says, and a group left with
//! neither members nor offsets goes with them (Kafka's `cleanupGroupMetadata` and a classic
//! group's `offsetExpirationCondition`):
//!
//! - a group with a protocol type (its members joined once) that is Empty: every offset goes
//!   once the group has been Empty for the retention, counted from when it became Empty (from
//!   each offset's commit when that is unknown, as Kafka does for groups stored without it);
//! - a group without one (a standalone consumer that only commits): each offset goes once the
//!   retention has passed since its commit;
//! - a group with members keeps its offsets. (Kafka also expires, in a Stable consumer group,
//!   offsets of topics no member subscribes to; not done here.)
//!
//! Expired offsets are deleted by tombstones in the offsets log, so a restart agrees; an Empty
//! group left without offsets is deleted by its tombstone. The check runs every
//! `offsets.retention.check.interval.ms` while any group could expire, never more often, and
//! not before the earliest offset seen at the last look is due.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::coordinator::GroupCoordinator;
use super::state::{Expirable, Group};
use crate::time::Instant;

impl GroupCoordinator {
    /// When expired offsets are next looked for, given the most any group could lose: not
    /// before an interval after the last look, and not before the earliest offset seen then
    /// expires, unless an Empty group without offsets waits to be deleted. `None` while no
    /// group could expire (or the wall clock is not known yet): an idle broker whose groups
    /// all have members never wakes for this. A deadline already passed is due at once.
    pub(crate) fn expiry_deadline(&self, most: Expirable) -> Option<Instant> {
        if self.config.offsets_retention_ms == i64::MAX {
            return None;
        }
        let next_check = self.expiry_checked_at? + self.config.offsets_retention_check_interval;
        match most {
            Expirable::None => None,
            Expirable::Group => Some(next_check),
            // Offsets that became expirable since the last look expire no earlier than those it
            // saw: their base (a commit, a group emptied) is later than that look.
            Expirable::Offsets => {
                Some(self.next_expiry.map_or(next_check, |at| at.max(next_check)))
            }
        }
    }

    /// A tombstone the expiry staged was not stored: the offsets stay, and the next look (an
    /// interval after the last) tries again, not the expiry of the next offset.
    pub(crate) fn expiry_write_failed(&mut self) {
        self.next_expiry = None;
    }

    /// Stage the tombstones of every offset that has expired by `now`, and of every Empty
    /// group left without offsets. The drain that follows writes them; a failed write keeps
    /// the offsets, and the next check tries again.
    pub(crate) fn expire_offsets(&mut self, now: Instant) {
        self.expiry_checked_at = Some(now);
        let Some(unix_ms) = self.out.unix_ms_at(now) else {
            return;
        };
        let retention_ms = self.config.offsets_retention_ms;
        let mut doomed_groups = Vec::new();
        let mut doomed_offsets = Vec::new();
        let mut next_ms: Option<i64> = None;
        for (id, group) in self.groups.iter().filter(|(_, g)| g.can_expire()) {
            let mut expired: Vec<(String, i32)> = Vec::new();
            for (key, c) in &group.offsets {
                let at = base_ms(group)
                    .unwrap_or(c.commit_timestamp_ms)
                    .saturating_add(retention_ms);
                if at <= unix_ms {
                    expired.push(key.clone());
                } else if at < i64::MAX {
                    // (A retention so long that it saturates never expires: no deadline for it.)
                    next_ms = Some(next_ms.map_or(at, |n| n.min(at)));
                }
            }
            if expired.len() == group.offsets.len() {
                doomed_groups.push(id.clone());
            } else {
                doomed_offsets.extend(expired.into_iter().map(|key| (id.clone(), key)));
            }
        }
        let wait_ms = |at: i64| u64::try_from(at.saturating_sub(unix_ms)).unwrap_or(0);
        self.next_expiry = next_ms.map(|at| now + Duration::from_millis(wait_ms(at)));
        for id in doomed_groups {
            self.remove_group(&id);
        }
        for (id, (topic, partition)) in doomed_offsets {
            self.stage_offset_delete(&id, &topic, partition);
        }
    }
}

/// What an Empty group's offsets age from, if not each its own commit: when the group became
/// Empty, for a group whose members joined (it has a protocol type).
fn base_ms(group: &Group) -> Option<i64> {
    group.protocol_type.as_ref()?;
    group.empty_since_ms
}

// Tests: `group/tests.rs`, on its fake clock (`offsets_expire_*`, `an_empty_group_*`).
