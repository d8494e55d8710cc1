//! Long-poll Fetches waiting for data or their deadline, indexed so that neither a Produce nor a
//! turn of the loop costs more than the fetches it actually touches: by partition (who a Produce
//! wakes), by deadline (the next timer, and who is due), and by connection (who a close drops).
//!
//! A consumer tailing a topic parks nearly every Fetch, so parking allocates nothing once warm:
//! a fetch is kept as its raw request body in a slot whose buffers are reused by the next park,
//! and every index is a `Vec` that keeps its capacity. The number of slots is bounded by the
//! broker's `parked_requests_max`, which it checks before parking.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

use super::{ConnId, Hdr};
use crate::time::Instant;

/// A request body larger than this is not kept in its slot once answered, so one huge Fetch
/// does not pin its memory for good.
const BODY_BYTES_KEPT_MAX: usize = 16 * 1024;
/// Likewise for a fetch naming very many partitions.
const PARTITIONS_KEPT_MAX: usize = 4 * 1024;

/// A parked fetch as the broker reads it back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParkedFetch<'a> {
    pub hdr: Hdr,
    /// The request body as received, read again with `FetchView` when woken or expired.
    pub body: &'a [u8],
}

/// One place for a parked fetch. Its buffers outlive the fetch and serve the next one.
#[derive(Debug)]
struct Slot {
    /// The id of the fetch in the slot (a generation above the slot's index), so an id held
    /// after its fetch was answered never names the slot's next fetch.
    id: u64,
    live: bool,
    conn: ConnId,
    hdr: Hdr,
    body: Vec<u8>,
    /// Partitions whose appends may complete the fetch.
    partitions: Vec<u32>,
}

#[derive(Debug, Default)]
pub(crate) struct ParkedFetches {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    /// Earliest deadline first. Entries of fetches answered early stay until they reach the
    /// top or the heap is compacted: removing from the middle of a heap would cost a scan.
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    /// By the broker's partition index (dense): the ids waiting on it.
    by_partition: Vec<Vec<u64>>,
    /// Sorted by connection: a binary search finds a closing connection's fetch.
    by_conn: Vec<(ConnId, u64)>,
}

fn slot_of(id: u64) -> usize {
    (id & u64::from(u32::MAX)) as usize
}

impl ParkedFetches {
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Park the fetch `body` of `conn` until `deadline`, woken by appends to `partitions`. The
    /// list is swapped with the slot's old one, so both keep their capacity.
    pub(crate) fn insert(
        &mut self,
        conn: ConnId,
        hdr: Hdr,
        deadline: Instant,
        body: &[u8],
        partitions: &mut Vec<u32>,
    ) -> u64 {
        // A connection parks one request at a time: later frames wait behind it.
        self.remove_conn(conn);
        let index = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                self.slots.push(Slot {
                    id: self.slots.len() as u64,
                    live: false,
                    conn,
                    hdr,
                    body: Vec::new(),
                    partitions: Vec::new(),
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        // The next generation of the slot; the low half stays the index.
        let id = slot.id.wrapping_add(1 << 32);
        slot.id = id;
        slot.live = true;
        slot.conn = conn;
        slot.hdr = hdr;
        slot.body.clear();
        slot.body.extend_from_slice(body);
        core::mem::swap(&mut slot.partitions, partitions);
        partitions.clear();
        for &p in &slot.partitions {
            let p = p as usize;
            if self.by_partition.len() <= p {
                self.by_partition.resize_with(p + 1, Vec::new);
            }
            let ids = &mut self.by_partition[p];
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        self.deadlines.push(Reverse((deadline, id)));
        let at = self.by_conn.partition_point(|&(c, _)| c < conn);
        self.by_conn.insert(at, (conn, id));
        self.live += 1;
        id
    }

    fn slot(&self, id: u64) -> Option<&Slot> {
        self.slots.get(slot_of(id)).filter(|s| s.live && s.id == id)
    }

    pub(crate) fn get(&self, id: u64) -> Option<ParkedFetch<'_>> {
        self.slot(id).map(|s| ParkedFetch {
            hdr: s.hdr,
            body: &s.body,
        })
    }

    /// Forget fetch `id`; returns its connection and header.
    pub(crate) fn remove(&mut self, id: u64) -> Option<(ConnId, Hdr)> {
        self.slot(id)?;
        let slot = &mut self.slots[slot_of(id)];
        slot.live = false;
        for &p in &slot.partitions {
            if let Some(ids) = self.by_partition.get_mut(p as usize) {
                ids.retain(|&x| x != id);
            }
        }
        if let Ok(at) = self.by_conn.binary_search_by_key(&slot.conn, |&(c, _)| c) {
            if self.by_conn[at].1 == id {
                self.by_conn.remove(at);
            }
        }
        let answered = (slot.conn, slot.hdr);
        if slot.body.capacity() > BODY_BYTES_KEPT_MAX {
            slot.body = Vec::new();
        }
        if slot.partitions.capacity() > PARTITIONS_KEPT_MAX {
            slot.partitions = Vec::new();
        }
        self.free.push(slot_of(id) as u32);
        self.live -= 1;
        self.compact_deadlines();
        Some(answered)
    }

    pub(crate) fn remove_conn(&mut self, conn: ConnId) {
        if let Ok(at) = self.by_conn.binary_search_by_key(&conn, |&(c, _)| c) {
            let id = self.by_conn[at].1;
            self.remove(id);
        }
    }

    /// Drop deadlines of answered fetches once they outnumber the live ones, so the heap
    /// stays within twice the parked count (plus slack that makes this rare).
    fn compact_deadlines(&mut self) {
        if self.deadlines.len() > 2 * self.live + 64 {
            let slots = &self.slots;
            self.deadlines.retain(|&Reverse((_, id))| {
                slots.get(slot_of(id)).is_some_and(|s| s.live && s.id == id)
            });
        }
    }

    /// Pop deadlines of fetches already answered off the top of the heap.
    fn skip_answered(&mut self) {
        while let Some(&Reverse((_, id))) = self.deadlines.peek() {
            if self.slot(id).is_some() {
                return;
            }
            self.deadlines.pop();
        }
    }

    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.skip_answered();
        self.deadlines.peek().map(|&Reverse((d, _))| d)
    }

    /// The parked fetch with the earliest deadline at or before `now`, taken off the deadline
    /// index (the caller answers and removes it).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<u64> {
        self.skip_answered();
        let &Reverse((deadline, id)) = self.deadlines.peek()?;
        if deadline > now {
            return None;
        }
        self.deadlines.pop();
        Some(id)
    }

    /// Fetches waiting on any of `partitions`, each once.
    pub(crate) fn waiting_on(&self, partitions: &[u32], out: &mut Vec<u64>) {
        out.clear();
        for &p in partitions {
            if let Some(ids) = self.by_partition.get(p as usize) {
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
    use core::time::Duration;

    const HDR: Hdr = Hdr {
        api_key: 1,
        api_version: 12,
        correlation_id: 0,
    };

    fn at(ms: u64) -> Instant {
        Instant::default() + Duration::from_millis(ms)
    }

    fn park(p: &mut ParkedFetches, conn: u64, ms: u64, partitions: &[u32]) -> u64 {
        let mut list = partitions.to_vec();
        p.insert(ConnId(conn), HDR, at(ms), &[conn as u8; 3], &mut list)
    }

    #[test]
    fn indices_follow_inserts_and_removals() {
        let mut p = ParkedFetches::default();
        let a = park(&mut p, 1, 50, &[3, 4]);
        park(&mut p, 2, 20, &[4]);
        assert_eq!(p.next_deadline(), Some(at(20)));
        assert_eq!(p.get(a).map(|f| f.body), Some(&[1u8; 3][..]));
        let mut out = Vec::new();
        p.waiting_on(&[4, 3], &mut out);
        assert_eq!(out.len(), 2, "each fetch once");
        p.waiting_on(&[9], &mut out);
        assert!(out.is_empty());
        let due = p.pop_due(at(30)).expect("one is due");
        assert_eq!(p.pop_due(at(30)), None, "the other is not");
        assert_eq!(p.remove(due).map(|(c, _)| c), Some(ConnId(2)));
        p.remove_conn(ConnId(1));
        assert_eq!(p.len(), 0);
        assert_eq!(p.next_deadline(), None);
        assert!(p.by_partition.iter().all(Vec::is_empty) && p.by_conn.is_empty());
    }

    #[test]
    fn an_answered_fetch_leaves_no_deadline_and_its_id_goes_stale() {
        let mut p = ParkedFetches::default();
        let old = park(&mut p, 1, 10, &[0]);
        assert!(p.remove(old).is_some());
        assert_eq!(p.next_deadline(), None, "its deadline is skipped");
        let new = park(&mut p, 1, 30, &[0]);
        assert_eq!(slot_of(new), slot_of(old), "the slot is reused");
        assert!(p.get(old).is_none() && p.remove(old).is_none());
        assert_eq!(p.pop_due(at(20)), None);
        assert_eq!(p.pop_due(at(30)), Some(new));
    }

    #[test]
    fn a_connection_parks_one_fetch_at_a_time() {
        let mut p = ParkedFetches::default();
        let first = park(&mut p, 7, 10, &[1]);
        let second = park(&mut p, 7, 20, &[2]);
        assert_eq!(p.len(), 1);
        assert!(p.get(first).is_none() && p.get(second).is_some());
        let mut out = Vec::new();
        p.waiting_on(&[1, 2], &mut out);
        assert_eq!(out, [second]);
    }

    #[test]
    fn the_deadline_heap_stays_bounded_when_fetches_are_answered_early() {
        let mut p = ParkedFetches::default();
        for i in 0..10_000 {
            let id = park(&mut p, i % 3, 1_000 + i, &[0]);
            p.remove(id);
        }
        assert!(p.deadlines.len() <= 64 + 1, "{}", p.deadlines.len());
        assert!(p.slots.len() <= 1);
    }

    #[test]
    fn parking_again_reuses_the_slots_buffers() {
        let mut p = ParkedFetches::default();
        let mut list = alloc::vec![1, 2, 3];
        let id = p.insert(ConnId(1), HDR, at(5), &[9; 100], &mut list);
        p.remove(id);
        let body_ptr = p.slots[0].body.as_ptr();
        let mut list = alloc::vec![4];
        p.insert(ConnId(2), HDR, at(5), &[8; 50], &mut list);
        assert_eq!(p.slots[0].body.as_ptr(), body_ptr);
        assert_eq!(
            list.capacity(),
            3,
            "the caller gets the slot's old list back, empty"
        );
        assert!(list.is_empty());
    }
}
