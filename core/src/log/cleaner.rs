//! Log compaction, the part that needs no broker: the map of each key's newest offset, and the
//! filter that keeps of a batch what Kafka's log cleaner keeps.
//!
//! Kafka's rules ([`filter_batch`]): a record whose key has a newer record in the mapped range is
//! removed; a record without a key is removed; a tombstone (null value) that a cleaning pass
//! passed `delete.retention.ms` ago is removed; records past the mapped range are kept as they
//! are; a batch of an aborted transaction is removed whole; control batches are kept. Offsets are
//! never renumbered: a kept record keeps its offset, its timestamp and its headers, and a batch
//! keeps its base offset, producer fields and leader epoch.
//!
//! A batch is either kept as it is, removed, or rewritten with its kept records, uncompressed: a
//! compressed batch is rewritten only when that makes it smaller, so cleaning never grows a
//! segment, and a segment that changed is always shorter than before (the recovery checkpoint
//! relies on it: an entry longer than its file is not trusted).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::records::batch::{HEADER_LEN, field};
use crate::records::compression::decompress_into;
use crate::records::crc::crc32c;
use crate::records::{Compression, Record, RecordBatch, RecordsError, TimestampType};

pub mod job;

/// Bytes a key costs in the map beside its own: the offset and the tree's bookkeeping.
const KEY_OVERHEAD_BYTES: usize = 48;
/// The compression and timestamp-type bits of a batch's attributes.
const COMPRESSION_MASK: i16 = 0x07;

/// Each key's newest offset in the range a pass read, within a budget of bytes (Kafka's
/// `log.cleaner.dedupe.buffer.size`): a log with more keys than fit is cleaned in several passes.
#[derive(Debug)]
pub struct KeyMap {
    newest: BTreeMap<Vec<u8>, i64>,
    bytes: usize,
    budget: usize,
}

impl KeyMap {
    /// An empty map that holds keys worth at most `budget_bytes`.
    pub fn new(budget_bytes: usize) -> Self {
        KeyMap {
            newest: BTreeMap::new(),
            bytes: 0,
            budget: budget_bytes,
        }
    }

    /// Whether the keys of a batch (`keys`) fit besides what the map holds: a batch is mapped
    /// whole or not at all, so the mapped range ends at a batch boundary.
    pub fn fits<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) -> bool {
        let mut more = 0usize;
        for key in keys {
            if !self.newest.contains_key(key) {
                more = more.saturating_add(key.len() + KEY_OVERHEAD_BYTES);
            }
        }
        self.bytes.saturating_add(more) <= self.budget
    }

    /// `key` was written at `offset`, newer than every offset put before.
    pub fn put(&mut self, key: &[u8], offset: i64) {
        match self.newest.get_mut(key) {
            Some(newest) => *newest = offset,
            None => {
                self.bytes += key.len() + KEY_OVERHEAD_BYTES;
                self.newest.insert(key.to_vec(), offset);
            }
        }
    }

    /// The newest offset of `key` mapped.
    pub fn newest(&self, key: &[u8]) -> Option<i64> {
        self.newest.get(key).copied()
    }

    /// Keys mapped.
    pub fn len(&self) -> usize {
        self.newest.len()
    }

    /// Whether no key is mapped.
    pub fn is_empty(&self) -> bool {
        self.newest.is_empty()
    }
}

/// What a pass keeps beyond the map's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    /// Records at this offset and later were not mapped: kept as they are.
    pub mapped_end: i64,
    /// Tombstones below this offset were passed by a cleaning pass at least
    /// `delete.retention.ms` ago: removed.
    pub tombstones_before: i64,
}

/// Buffers reused from batch to batch, and the bound on a batch's decompressed records.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Decompressed records.
    pub buf: Vec<u8>,
    /// The most a batch's records may decompress to (as validation bounded them when they
    /// were appended).
    pub decompressed_bytes_max: usize,
}

/// What [`filter_batch`] did with a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filtered {
    /// Every record kept: the batch is kept byte for byte (nothing was written to `out`).
    Whole,
    /// No record kept: the batch is removed.
    Removed,
    /// Some records kept: the batch holding them was written to `out`.
    Rewritten,
}

/// The keys of a batch's records with their offsets, for [`KeyMap::fits`] and mapping. Control
/// batches and batches of aborted transactions (`aborted`) have none that count. A batch whose
/// records cannot be read is an error: it is then neither mapped nor changed.
pub fn each_key(
    batch: &RecordBatch<&[u8]>,
    aborted: bool,
    scratch: &mut Scratch,
    each: &mut dyn FnMut(&[u8], i64),
) -> Result<(), RecordsError> {
    if batch.is_control() || aborted {
        return Ok(());
    }
    let base = batch.base_offset();
    for_each_record(batch, scratch, &mut |record, _| {
        if let Some(key) = record.key {
            each(key, base + i64::from(record.offset_delta));
        }
    })
}

/// Decide what compaction keeps of `batch` under `map` and `keep`; a rewritten batch is
/// appended to `out`. `aborted`: the batch belongs to an aborted transaction. A batch whose
/// records cannot be read is kept whole: cleaning never loses what it cannot understand.
pub fn filter_batch(
    batch: &RecordBatch<&[u8]>,
    map: &KeyMap,
    keep: Keep,
    aborted: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Filtered {
    if batch.is_control() {
        return Filtered::Whole;
    }
    if aborted {
        return Filtered::Removed;
    }
    let start = out.len();
    match filter_records(batch, map, keep, scratch, out) {
        Ok(filtered) => filtered,
        Err(_) => {
            out.truncate(start);
            Filtered::Whole
        }
    }
}

/// [`filter_batch`] of a data batch.
fn filter_records(
    batch: &RecordBatch<&[u8]>,
    map: &KeyMap,
    keep: Keep,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<Filtered, RecordsError> {
    let base = batch.base_offset();
    let start = out.len();
    out.extend_from_slice(&batch.as_bytes()[..HEADER_LEN]);
    let (mut kept, mut total) = (0i32, 0i32);
    let mut last_delta = 0i32;
    let mut max_timestamp = i64::MIN;
    for_each_record(batch, scratch, &mut |record, raw| {
        total += 1;
        let offset = base + i64::from(record.offset_delta);
        if retained(&record, offset, map, keep) {
            kept += 1;
            last_delta = record.offset_delta;
            max_timestamp = max_timestamp.max(batch.base_timestamp() + record.timestamp_delta);
            out.extend_from_slice(raw);
        }
    })?;
    if kept == total {
        out.truncate(start);
        return Ok(Filtered::Whole);
    }
    if kept == 0 {
        out.truncate(start);
        return Ok(Filtered::Removed);
    }
    if out.len() - start >= batch.total_len() {
        // A compressed batch that would grow uncompressed is kept as it is.
        out.truncate(start);
        return Ok(Filtered::Whole);
    }
    if batch.timestamp_type() == TimestampType::LogAppendTime {
        max_timestamp = batch.max_timestamp();
    }
    let rewritten = &mut out[start..];
    let batch_length = i32::try_from(rewritten.len() - field::BATCH_LENGTH.end)
        .map_err(|_| RecordsError::InvalidRecord)?;
    let attributes = batch.attributes() & !COMPRESSION_MASK;
    rewritten[field::BATCH_LENGTH].copy_from_slice(&batch_length.to_be_bytes());
    rewritten[field::ATTRIBUTES].copy_from_slice(&attributes.to_be_bytes());
    rewritten[field::LAST_OFFSET_DELTA].copy_from_slice(&last_delta.to_be_bytes());
    rewritten[field::MAX_TIMESTAMP].copy_from_slice(&max_timestamp.to_be_bytes());
    rewritten[field::RECORDS_COUNT].copy_from_slice(&kept.to_be_bytes());
    let crc = crc32c(&rewritten[field::ATTRIBUTES.start..]);
    rewritten[field::CRC].copy_from_slice(&crc.to_be_bytes());
    Ok(Filtered::Rewritten)
}

/// Kafka's `shouldRetainRecord`.
fn retained(record: &Record<'_>, offset: i64, map: &KeyMap, keep: Keep) -> bool {
    if offset >= keep.mapped_end {
        return true;
    }
    let Some(key) = record.key else {
        return false;
    };
    if map.newest(key).is_some_and(|newest| offset < newest) {
        return false;
    }
    record.value.is_some() || offset >= keep.tombstones_before
}

/// Hand `each` every record of `batch` with its bytes (length prefix included), decompressing
/// into `scratch` when the batch is compressed.
fn for_each_record(
    batch: &RecordBatch<&[u8]>,
    scratch: &mut Scratch,
    each: &mut dyn FnMut(Record<'_>, &[u8]),
) -> Result<(), RecordsError> {
    let codec = batch.compression()?;
    let bytes = if codec == Compression::None {
        batch.records_bytes()
    } else {
        let bound = scratch.decompressed_bytes_max;
        decompress_into(codec, batch.records_bytes(), bound, &mut scratch.buf)?;
        scratch.buf.as_slice()
    };
    let mut rest = bytes;
    for _ in 0..batch.records_count().max(0) {
        let (record, used) = Record::parse(rest)?;
        each(record, &rest[..used]);
        rest = &rest[used..];
    }
    Ok(())
}

#[cfg(test)]
mod tests;
