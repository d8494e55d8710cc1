//! The partition side of transactions (KIP-98): which transactions are open on a partition (its
//! last stable offset), the markers that end them, and the index of aborted transactions that a
//! READ_COMMITTED Fetch reports.
//!
//! Each partition keeps its state in memory ([`PartitionTxns`]) and in a file of fixed-size
//! entries beside its segments (`transaction-index`, see docs/format.md), appended as
//! transactions begin and end, rewritten whole when most of it is dead, and replayed at startup.
//! A partition that never had a transaction has no file and an empty state (no allocation).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;

use super::Broker;
use crate::ErrorCode;
use crate::records::control::{ControlType, end_transaction_marker};
use crate::records::crc::crc32c;
use crate::storage::Storage;

/// One aborted transaction: its producer, its first offset, and the offset of its ABORT marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// Bytes of one entry of the transaction index file.
pub(crate) const ENTRY_LEN: usize = 32;
/// The entry format's version (byte 25).
const ENTRY_VERSION: u8 = 0;
/// The file is rewritten instead of appended to once it holds this many entries and four times
/// as many as are live: appends stay cheap, and the file stays within a small multiple of the
/// state it describes.
const COMPACT_ENTRIES_MIN: usize = 256;

/// What an entry of the file records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The producer's transaction on the partition began at `first_offset`.
    Begin = 0,
    /// It committed with a marker at `last_offset`.
    Commit = 1,
    /// It aborted with a marker at `last_offset`.
    Abort = 2,
}

/// One entry: `producer_id`, `first_offset`, `last_offset` (-1 for a begin), all big-endian
/// i64, then the kind, the version, two zero bytes and the CRC-32C of the 28 bytes before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    producer_id: i64,
    first_offset: i64,
    last_offset: i64,
}

impl Entry {
    fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[0..8].copy_from_slice(&self.producer_id.to_be_bytes());
        out[8..16].copy_from_slice(&self.first_offset.to_be_bytes());
        out[16..24].copy_from_slice(&self.last_offset.to_be_bytes());
        out[24] = self.kind as u8;
        out[25] = ENTRY_VERSION;
        let crc = crc32c(&out[..28]);
        out[28..32].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// The entry in `bytes`, or `None` if they are not one this broker wrote whole (a torn or
    /// failed write: its CRC does not match).
    fn decode(bytes: &[u8]) -> Option<Entry> {
        let bytes: &[u8; ENTRY_LEN] = bytes.try_into().ok()?;
        let crc = u32::from_be_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]);
        if crc != crc32c(&bytes[..28]) || bytes[25] != ENTRY_VERSION || bytes[26..28] != [0, 0] {
            return None;
        }
        let i64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            i64::from_be_bytes(b)
        };
        let kind = match bytes[24] {
            0 => Kind::Begin,
            1 => Kind::Commit,
            2 => Kind::Abort,
            _ => return None,
        };
        Some(Entry {
            kind,
            producer_id: i64_at(0),
            first_offset: i64_at(8),
            last_offset: i64_at(16),
        })
    }
}

/// A partition's transactions: the open ones and the aborted ones still in the log.
#[derive(Debug, Default)]
pub(crate) struct PartitionTxns {
    /// Open transactions: producer id to first offset.
    open: BTreeMap<i64, i64>,
    /// The same as `(first offset, producer id)`: the first gives the last stable offset.
    open_by_offset: BTreeSet<(i64, i64)>,
    /// Aborted transactions, ascending by last offset (markers are appended in offset order).
    aborted: VecDeque<AbortedTxn>,
    /// At least the largest `last_offset - first_offset` in `aborted`: entries ending more than
    /// this past a range cannot have begun in it, so a search stops there.
    span_max: i64,
    /// Entries in the file, live or not.
    file_entries: usize,
    /// The file may hold bytes that are not whole entries (a failed write): it is replaced whole
    /// by the next write instead of appended to.
    rewrite: bool,
}

impl PartitionTxns {
    /// The first offset of the oldest open transaction.
    pub(crate) fn first_open_offset(&self) -> Option<i64> {
        self.open_by_offset.first().map(|&(first, _)| first)
    }

    /// The first offset of `producer_id`'s open transaction, if one is open.
    pub(crate) fn open_since(&self, producer_id: i64) -> Option<i64> {
        self.open.get(&producer_id).copied()
    }

    /// Open transactions, as `(producer id, first offset)`, by producer id.
    #[cfg(test)]
    pub(crate) fn open(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.open.iter().map(|(&p, &f)| (p, f))
    }

    /// Every aborted transaction kept, ascending by last offset.
    #[cfg(test)]
    pub(crate) fn aborted(&self) -> impl Iterator<Item = &AbortedTxn> {
        self.aborted.iter()
    }

    /// The aborted transactions that overlap offsets `from..to` (Kafka: last offset at least
    /// `from`, first offset below `to`), in the order of their markers. Found by a binary search
    /// on the last offsets and a walk that stops `span_max` past `to`: the log is not read.
    pub(crate) fn aborted_overlapping(
        &self,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = &AbortedTxn> {
        let start = self.aborted.partition_point(|a| a.last_offset < from);
        let stop = to.saturating_add(self.span_max);
        self.aborted
            .range(start..)
            .take_while(move |a| a.last_offset <= stop)
            .filter(move |a| a.first_offset < to)
    }

    /// `producer_id` appended a transactional batch at `base_offset`: opens its transaction if
    /// none is open. The entry to record, if one opened.
    fn begin(&mut self, producer_id: i64, base_offset: i64) -> Option<Entry> {
        if self.open.contains_key(&producer_id) {
            return None;
        }
        self.open.insert(producer_id, base_offset);
        self.open_by_offset.insert((base_offset, producer_id));
        Some(Entry {
            kind: Kind::Begin,
            producer_id,
            first_offset: base_offset,
            last_offset: -1,
        })
    }

    /// A marker of `producer_id` at `marker_offset` ends its open transaction, if any: the
    /// entry to record then.
    fn end(&mut self, producer_id: i64, marker_offset: i64, commit: bool) -> Option<Entry> {
        let first_offset = self.open.remove(&producer_id)?;
        self.open_by_offset.remove(&(first_offset, producer_id));
        if !commit {
            self.push_aborted(AbortedTxn {
                producer_id,
                first_offset,
                last_offset: marker_offset,
            });
        }
        Some(Entry {
            kind: if commit { Kind::Commit } else { Kind::Abort },
            producer_id,
            first_offset,
            last_offset: marker_offset,
        })
    }

    fn push_aborted(&mut self, txn: AbortedTxn) {
        self.span_max = self
            .span_max
            .max(txn.last_offset.saturating_sub(txn.first_offset));
        // Markers come in offset order; a rewritten file lists them in order too.
        let at = self
            .aborted
            .partition_point(|a| a.last_offset <= txn.last_offset);
        self.aborted.insert(at, txn);
    }

    /// Drop the aborted transactions whose marker is below `log_start_offset`: no fetch can
    /// reach them. Open transactions stay (the last stable offset is held to the log start).
    /// Whether anything was dropped.
    pub(crate) fn prune(&mut self, log_start_offset: i64) -> bool {
        let before = self.aborted.len();
        while self
            .aborted
            .front()
            .is_some_and(|a| a.last_offset < log_start_offset)
        {
            self.aborted.pop_front();
        }
        if self.aborted.is_empty() {
            self.span_max = 0;
        }
        self.aborted.len() != before
    }

    fn live(&self) -> usize {
        self.open.len() + self.aborted.len()
    }

    /// The file's whole content for the state now: the aborted transactions, then the open ones.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.live() * ENTRY_LEN);
        for a in &self.aborted {
            let entry = Entry {
                kind: Kind::Abort,
                producer_id: a.producer_id,
                first_offset: a.first_offset,
                last_offset: a.last_offset,
            };
            out.extend_from_slice(&entry.encode());
        }
        for (&producer_id, &first_offset) in &self.open {
            let entry = Entry {
                kind: Kind::Begin,
                producer_id,
                first_offset,
                last_offset: -1,
            };
            out.extend_from_slice(&entry.encode());
        }
        out
    }

    /// Whether the file should be replaced by [`PartitionTxns::encode`] rather than grow.
    fn needs_compaction(&self, adding: usize) -> bool {
        let entries = self.file_entries + adding;
        self.rewrite || (entries >= COMPACT_ENTRIES_MIN && entries > self.live().saturating_mul(4))
    }

    /// The state a file holds, for a log that ends at `log_end_offset`; and whether the file
    /// must be rewritten: it ends in a torn entry, or names offsets a power loss took from the
    /// log (a transaction that began there is gone; one whose marker is gone is open again).
    pub(crate) fn recover(bytes: &[u8], log_end_offset: i64) -> (PartitionTxns, bool) {
        let mut txns = PartitionTxns::default();
        let mut exact = bytes.len() % ENTRY_LEN == 0;
        for chunk in bytes.chunks(ENTRY_LEN) {
            let Some(entry) = Entry::decode(chunk) else {
                // A torn or failed write: nothing after it was acknowledged as written whole.
                exact = false;
                break;
            };
            txns.file_entries += 1;
            match entry.kind {
                Kind::Begin if entry.first_offset < log_end_offset => {
                    let _ = txns.begin(entry.producer_id, entry.first_offset);
                }
                Kind::Commit | Kind::Abort if entry.last_offset < log_end_offset => {
                    let first = txns.open.get(&entry.producer_id).copied();
                    if first == Some(entry.first_offset) {
                        let _ = txns.end(
                            entry.producer_id,
                            entry.last_offset,
                            entry.kind == Kind::Commit,
                        );
                    } else if entry.kind == Kind::Abort {
                        // A rewritten file lists aborted transactions without their begin.
                        txns.push_aborted(AbortedTxn {
                            producer_id: entry.producer_id,
                            first_offset: entry.first_offset,
                            last_offset: entry.last_offset,
                        });
                    }
                }
                _ => exact = false,
            }
        }
        if !exact {
            txns.rewrite = true;
        }
        (txns, !exact)
    }

    /// The file was replaced by [`PartitionTxns::encode`].
    pub(crate) fn replaced(&mut self) {
        self.file_entries = self.live();
        self.rewrite = false;
    }
}

impl<S: Storage> Broker<S> {
    /// A transactional batch of `producer_id` was appended to partition `pi` at `base_offset`:
    /// the first one since the producer's last marker there opens its transaction on `pi`.
    pub(super) fn transaction_appended(
        &mut self,
        pi: u32,
        producer_id: i64,
        base_offset: i64,
    ) -> Result<(), ErrorCode> {
        let p = self
            .topics
            .partition_mut(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        match p.txns.begin(producer_id, base_offset) {
            Some(entry) => self.record_txn_entry(pi, &entry),
            None => Ok(()),
        }
    }

    /// Append a control batch (COMMIT if `commit`, else ABORT) of `producer_id`/`producer_epoch`
    /// at the end of partition `pi`, closing the producer's open transaction there (a marker for
    /// a producer with no open transaction on `pi` is still written, as Kafka writes it). Wakes
    /// parked fetches. Returns the marker's offset, or KAFKA_STORAGE_ERROR etc.
    // The transaction coordinator calls it (EndTxn); until it is merged only tests do.
    pub(super) fn write_transaction_marker(
        &mut self,
        pi: u32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Result<i64, ErrorCode> {
        let (ti, topic, index) = self
            .partition_name(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let kind = if commit {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        let batch = end_transaction_marker(
            producer_id,
            producer_epoch,
            kind,
            coordinator_epoch,
            self.unix_ms,
        );
        // Kafka's validation stamps every batch of a LogAppendTime topic, markers included.
        let at = self.append_at(ti);
        let info = self
            .append_log(pi, &topic, index, &batch, at)
            .map_err(|e| e.error_code())?;
        let marker_offset = info.base_offset;
        self.producers
            .marker(pi, producer_id, producer_epoch, self.unix_ms);
        let sealed = self
            .topics
            .partition(pi)
            .is_some_and(|p| p.log.segment_count() > 1);
        if sealed {
            // As after a produce: only a log with sealed segments has anything to delete.
            self.retention_after_append(ti, pi);
        }
        let ended = self
            .topics
            .partition_mut(pi)
            .and_then(|p| p.txns.end(producer_id, marker_offset, commit));
        let recorded = match ended {
            Some(entry) => self.record_txn_entry(pi, &entry),
            None => Ok(()),
        };
        // The marker is in the log whatever the index did: readers of either isolation see it,
        // and the last stable offset may have moved.
        self.wake_fetches(&[pi]);
        recorded.map(|()| marker_offset)
    }

    /// The partition's last stable offset: the first offset of its oldest open transaction, or
    /// its high watermark (log end offset) when none is open.
    pub(super) fn last_stable_offset(&self, pi: u32) -> i64 {
        let Some(p) = self.topics.partition(pi) else {
            return -1;
        };
        let high_watermark = p.log.log_end_offset();
        match p.txns.first_open_offset() {
            // Retention may have deleted an open transaction's first records (it is bounded by
            // the high watermark): Kafka then holds the LSO to the log start offset.
            Some(first) => first.max(p.log.log_start_offset()).min(high_watermark),
            None => high_watermark,
        }
    }

    /// Partition `pi`'s log start offset moved (retention, DeleteRecords): forget the aborted
    /// transactions below it, and shrink the file if most of it is now dead.
    pub(super) fn prune_transactions(&mut self, pi: u32) {
        let Some(p) = self.topics.partition_mut(pi) else {
            return;
        };
        let start = p.log.log_start_offset();
        if p.txns.prune(start) && p.txns.needs_compaction(0) {
            // A failure leaves the old file, whose dead entries a later write or restart drops.
            let _ = self.replace_txn_file(pi);
        }
    }

    /// `(topic index, topic name, partition index)` of partition `pi`.
    pub(super) fn partition_name(&self, pi: u32) -> Option<(u32, String, i32)> {
        let p = self.topics.partition(pi)?;
        let name = self.topics.topic(p.topic).name.clone();
        Some((p.topic, name, p.index))
    }

    /// Record `entry`, just applied to partition `pi`'s state, in its file: appended, or the
    /// file replaced whole when compaction is due or an earlier write failed.
    fn record_txn_entry(&mut self, pi: u32, entry: &Entry) -> Result<(), ErrorCode> {
        let p = self
            .topics
            .partition(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        if p.txns.needs_compaction(1) {
            return self.replace_txn_file(pi);
        }
        let (topic, index) = (&self.topics.topic(p.topic).name, p.index);
        let written = self
            .storage
            .append_transaction_index(topic, index, &entry.encode());
        let p = self
            .topics
            .partition_mut(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        match written {
            Ok(()) => {
                p.txns.file_entries += 1;
                Ok(())
            }
            Err(e) => {
                // Part of the entry may be in the file: the next write replaces it whole.
                p.txns.rewrite = true;
                Err(e.error_code())
            }
        }
    }

    /// Replace partition `pi`'s file with its state; an empty state removes it.
    fn replace_txn_file(&mut self, pi: u32) -> Result<(), ErrorCode> {
        let p = self
            .topics
            .partition(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let (topic, index) = (&self.topics.topic(p.topic).name, p.index);
        let bytes = p.txns.encode();
        let written = self.storage.write_transaction_index(topic, index, &bytes);
        let p = self
            .topics
            .partition_mut(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        match written {
            Ok(()) => {
                p.txns.replaced();
                Ok(())
            }
            Err(e) => {
                p.txns.rewrite = true;
                Err(e.error_code())
            }
        }
    }
}

#[cfg(test)]
mod tests;
