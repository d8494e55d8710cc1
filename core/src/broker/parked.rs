//! Long-poll Fetches waiting for data or their deadline, indexed so that neither a Produce nor a
//! turn of the loop costs more than the fetches it actually touches: by partition (who a Produce
//! wakes), by deadline (the next timer, and who is due), and by connection (who a close drops).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use super::ConnId;
use super::fetch::ParkedFetch;
use crate::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct ParkedFetches {
    by_id: BTreeMap<u64, ParkedFetch>,
    by_deadline: BTreeSet<(Instant, u64)>,
    by_partition: BTreeMap<u32, Vec<u64>>,
    by_conn: BTreeMap<ConnId, u64>,
    next_id: u64,
}

impl ParkedFetches {
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn insert(&mut self, fetch: ParkedFetch) {
        let id = self.next_id;
        self.next_id += 1;
        self.by_deadline.insert((fetch.deadline, id));
        for &p in &fetch.partitions {
            let ids = self.by_partition.entry(p).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        // A connection parks one request at a time: later frames wait behind it.
        if let Some(old) = self.by_conn.insert(fetch.conn, id) {
            self.remove(old);
        }
        self.by_id.insert(id, fetch);
    }

    pub(crate) fn get(&self, id: u64) -> Option<&ParkedFetch> {
        self.by_id.get(&id)
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<ParkedFetch> {
        let fetch = self.by_id.remove(&id)?;
        self.by_deadline.remove(&(fetch.deadline, id));
        for p in &fetch.partitions {
            if let Some(ids) = self.by_partition.get_mut(p) {
                ids.retain(|&x| x != id);
                if ids.is_empty() {
                    self.by_partition.remove(p);
                }
            }
        }
        if self.by_conn.get(&fetch.conn) == Some(&id) {
            self.by_conn.remove(&fetch.conn);
        }
        Some(fetch)
    }

    pub(crate) fn remove_conn(&mut self, conn: ConnId) {
        if let Some(id) = self.by_conn.get(&conn).copied() {
            self.remove(id);
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|&(d, _)| d)
    }

    /// Fetches whose deadline is at or before `now`, earliest first.
    pub(crate) fn due(&self, now: Instant) -> Vec<u64> {
        self.by_deadline
            .iter()
            .take_while(|&&(d, _)| d <= now)
            .map(|&(_, id)| id)
            .collect()
    }

    /// Fetches waiting on any of `partitions`, each once.
    pub(crate) fn waiting_on(&self, partitions: &[u32], out: &mut Vec<u64>) {
        out.clear();
        for p in partitions {
            if let Some(ids) = self.by_partition.get(p) {
                for &id in ids {
                    if !out.contains(&id) {
                        out.push(id);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::Hdr;
    use crate::codec::messages::FetchRequest;
    use core::time::Duration;

    fn fetch(conn: u64, ms: u64, partitions: &[u32]) -> ParkedFetch {
        ParkedFetch {
            conn: ConnId(conn),
            hdr: Hdr {
                api_key: 1,
                api_version: 12,
                correlation_id: 0,
            },
            request: FetchRequest::default(),
            deadline: Instant::default() + Duration::from_millis(ms),
            partitions: partitions.to_vec(),
        }
    }

    #[test]
    fn indices_follow_inserts_and_removals() {
        let mut p = ParkedFetches::default();
        p.insert(fetch(1, 50, &[3, 4]));
        p.insert(fetch(2, 20, &[4]));
        assert_eq!(
            p.next_deadline(),
            Some(Instant::default() + Duration::from_millis(20))
        );
        let mut out = Vec::new();
        p.waiting_on(&[4, 3], &mut out);
        assert_eq!(out.len(), 2, "each fetch once");
        p.waiting_on(&[9], &mut out);
        assert!(out.is_empty());
        let due = p.due(Instant::default() + Duration::from_millis(30));
        assert_eq!(due.len(), 1);
        assert_eq!(p.remove(due[0]).map(|f| f.conn), Some(ConnId(2)));
        p.remove_conn(ConnId(1));
        assert_eq!(p.len(), 0);
        assert_eq!(p.next_deadline(), None);
        assert!(p.by_partition.is_empty() && p.by_conn.is_empty());
    }
}
