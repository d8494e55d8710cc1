//! The offsets log replayed at startup into the coordinator, oldest record first.

use alloc::string::String;

use super::coordinator::GroupCoordinator;
use super::records::{RecordError, Stored, offset_tombstone, read};
use super::state::{Committed, Group};
use crate::time::Instant;

impl GroupCoordinator {
    /// Replays one record of the offsets log at startup, oldest first. A group comes back
    /// Stable (members' sessions start at `now`) or Empty; its offsets as last committed.
    /// A record that fails changes nothing.
    pub fn apply(&mut self, now: Instant, key: &[u8], value: &[u8]) -> Result<(), RecordError> {
        match read(now, key, value)? {
            Stored::Offset {
                group,
                topic,
                partition,
                committed,
            } => {
                // A newer record of an orphaned key speaks for itself.
                let key = (group, topic, partition);
                self.orphans.remove(&key);
                let (group, topic, partition) = key;
                self.apply_offset(group, (topic, partition), committed);
            }
            Stored::Group { id, group: None } => {
                if let Some(g) = self.groups.get(&id) {
                    let keys = g.offsets.keys();
                    let orphans = keys.map(|(t, p)| (id.clone(), t.clone(), *p));
                    self.orphans.extend(orphans);
                }
                self.forget_group(&id);
            }
            Stored::Group {
                id,
                group: Some(mut g),
            } => {
                if let Some(old) = self.groups.remove(&id) {
                    g.offsets = old.offsets;
                }
                self.groups.insert(id, g);
            }
        }
        Ok(())
    }

    /// The replay is over: offsets a group tombstone deleted without tombstones of their own
    /// get them now (written at the first deadline, `now`), so a compacted log, which drops the
    /// group's tombstone in time, cannot bring them back.
    pub fn replay_done(&mut self, now: Instant) {
        for (group, topic, partition) in core::mem::take(&mut self.orphans) {
            self.out.record(offset_tombstone(&group, &topic, partition));
        }
        if !self.out.records.is_empty() {
            self.out.retries = self.out.records.len();
            self.retry_at = Some(now);
        }
    }

    fn apply_offset(&mut self, group_id: String, key: (String, i32), c: Option<Committed>) {
        let Some(c) = c else {
            if let Some(g) = self.groups.get_mut(&group_id) {
                if g.offsets.remove(&key).is_some() {
                    self.offsets_held = self.offsets_held.saturating_sub(1);
                }
            }
            return;
        };
        let g = self.groups.entry(group_id).or_insert_with(Group::new);
        if g.offsets.insert(key, c).is_none() {
            self.offsets_held += 1;
        }
    }
}
