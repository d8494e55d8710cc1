//! One segment: record batches v2 back to back in a caller's buffer, with sparse indexes in
//! memory.
//!
//! The buffer is the segment file's mapping (or a [`crate::storage::MemorySegment`]), as long as
//! what was written to it. `len_bytes` of it hold valid batches: all of it, but after a crash,
//! until recovery cuts a torn tail. Indexes are rebuilt when a segment is opened, or on first use
//! when a recovery checkpoint vouched for its bytes, so nothing but the `.log` bytes is on disk.

use alloc::vec::Vec;
use core::cell::OnceCell;

use crate::records::batch::{HEADER_LEN, RecordBatch, TimestampType};
use crate::records::compression::{Compression, decompress};
use crate::records::legacy::DOWN_CONVERT_DECOMPRESSED_BYTES_MAX;
use crate::records::{Records, RecordsError};
use crate::storage::{SegmentBuffer, SegmentSummary, Storage, StorageError, StorageErrorKind};

/// Data between two entries of a sparse index (Kafka's `index.interval.bytes`).
pub const INDEX_INTERVAL_BYTES: usize = 4096;

/// A sparse offset index entry: the batch at `position` starts at `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OffsetEntry {
    offset: i64,
    position: u32,
}

/// A sparse time index entry: every batch before `position` has a max timestamp at most
/// `timestamp`. Entries ascend strictly in both fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TimeEntry {
    timestamp: i64,
    position: u32,
}

/// The sparse indexes of a segment, extended as batches are tracked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct SparseIndex {
    offsets: Vec<OffsetEntry>,
    times: Vec<TimeEntry>,
    bytes_since_offset_entry: usize,
    bytes_since_time_entry: usize,
}

impl SparseIndex {
    /// Account for the batch of `total` bytes at `position` whose first offset is `first`;
    /// `max_ts_before` is the largest max timestamp of the batches before it, or -1.
    fn note(&mut self, position: u32, total: usize, first: i64, max_ts_before: i64) {
        if self.bytes_since_offset_entry >= INDEX_INTERVAL_BYTES {
            self.offsets.push(OffsetEntry {
                offset: first,
                position,
            });
            self.bytes_since_offset_entry = 0;
        }
        if self.bytes_since_time_entry >= INDEX_INTERVAL_BYTES
            && self
                .times
                .last()
                .is_none_or(|e| e.timestamp < max_ts_before)
        {
            self.times.push(TimeEntry {
                timestamp: max_ts_before,
                position,
            });
            self.bytes_since_time_entry = 0;
        }
        self.bytes_since_offset_entry += total;
        self.bytes_since_time_entry += total;
    }

    /// The indexes of the batches in `data`, walked by their headers (bytes a recovery
    /// checkpoint vouched for). Stops at anything that is not a batch header rather than panic.
    fn build(data: &[u8]) -> SparseIndex {
        let mut index = SparseIndex::default();
        let mut max_ts = -1;
        let mut position = 0;
        while let Ok(batch) = RecordBatch::new_unchecked_header(&data[position..]) {
            // Positions are below a segment's u32 capacity.
            let Ok(pos32) = u32::try_from(position) else {
                break;
            };
            index.note(pos32, batch.total_len(), batch.base_offset(), max_ts);
            max_ts = max_ts.max(batch.max_timestamp());
            position += batch.total_len();
        }
        index
    }
}

/// Why a batch was not appended to a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentAppendError {
    /// The batch does not fit in what is left of the buffer.
    Full,
    /// The bytes do not start with a whole v2 batch.
    Invalid(RecordsError),
    /// The runtime failed to write the bytes.
    Storage(StorageError),
}

/// A segment over `T`.
#[derive(Debug)]
pub struct Segment<T> {
    buffer: T,
    base_offset: i64,
    len_bytes: usize,
    next_offset: i64,
    /// Largest batch max timestamp, or -1, and the position of the batch that has it.
    max_timestamp: i64,
    max_timestamp_position: u32,
    /// Wall-clock milliseconds of the last write, or -1 if unknown (the file's modification time).
    modified_ms: i64,
    /// Set from the start, except for a segment opened from a recovery checkpoint: built on
    /// first use, so a restart reads none of its bytes. Lookups take `&self` (a Fetch reads
    /// through a shared log), hence the cell; appends extend it only once it is built.
    index: OnceCell<SparseIndex>,
    /// Whether the buffer is open: a closed segment keeps its length, offsets and indexes here,
    /// and its bytes in the storage, so it is never mistaken for an empty one.
    open: bool,
    /// Responses not yet given back that send bytes of this segment: it stays open until 0.
    refs: u32,
    /// When the broker last used it, on the broker's own counter (least recently used closes
    /// first).
    last_used: u64,
}

impl<T: AsRef<[u8]>> Segment<T> {
    /// First offset the segment may hold (its file name).
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// The offset the next appended batch gets.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Bytes of batches: the write position.
    pub fn len_bytes(&self) -> usize {
        self.len_bytes
    }

    /// Whether no batch is stored.
    pub fn is_empty(&self) -> bool {
        self.len_bytes == 0
    }

    /// The buffer.
    pub fn buffer(&self) -> &T {
        &self.buffer
    }

    /// The stored batches. The segment must be open ([`Segment::is_open`]): the log checks it
    /// before every read, and reports a closed segment as [`super::LogError::SegmentClosed`].
    pub fn data(&self) -> &[u8] {
        assert!(self.open, "a closed segment is opened before it is read");
        &self.buffer.as_ref()[..self.len_bytes]
    }

    /// Whether its buffer is open (readable and writable).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Responses holding bytes of this segment, not yet given back.
    pub fn refs(&self) -> u32 {
        self.refs
    }

    /// A response now sends bytes of this segment.
    pub fn hold(&mut self) {
        self.refs = self.refs.saturating_add(1);
    }

    /// A response that sent bytes of this segment was given back.
    pub fn release(&mut self) {
        self.refs = self.refs.saturating_sub(1);
    }

    /// The broker's counter at its last use.
    pub fn last_used(&self) -> u64 {
        self.last_used
    }

    /// Note a use at the broker's counter `tick`.
    pub fn set_last_used(&mut self, tick: u64) {
        self.last_used = tick;
    }

    /// The largest batch max timestamp and the batch position holding it.
    fn max_timestamp_batch(&self) -> Option<(i64, usize)> {
        (self.max_timestamp >= 0)
            .then_some((self.max_timestamp, self.max_timestamp_position as usize))
    }

    /// The largest batch max timestamp, if any batch has one (known without reading).
    pub fn max_timestamp_value(&self) -> Option<i64> {
        (self.max_timestamp >= 0).then_some(self.max_timestamp)
    }

    /// Whether some batch has a max timestamp at least `ts`: only then does
    /// [`Segment::find_timestamp`] read the segment.
    pub fn max_timestamp_at_least(&self, ts: i64) -> bool {
        self.max_timestamp >= ts
    }

    /// `(timestamp, offset)` of the record with the largest timestamp (ListOffsets -3).
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let (ts, position) = self.max_timestamp_batch()?;
        let batch = self.batch_at(position);
        let last = batch.last_offset();
        let offset =
            first_record_at_or_after(&batch, ts, i64::MIN, last).map_or(last, |(offset, _)| offset);
        Some((ts, offset))
    }

    /// The timestamp retention ages the segment by, as Kafka's `largestTimestamp`: the largest
    /// record timestamp, or when none is known, the time of the last write; -1 if neither is.
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            self.max_timestamp
        } else {
            self.modified_ms
        }
    }

    /// The sparse indexes, built from the batch headers on first use.
    fn index(&self) -> &SparseIndex {
        self.index.get_or_init(|| SparseIndex::build(self.data()))
    }

    /// Whether the sparse indexes are built.
    pub fn is_indexed(&self) -> bool {
        self.index.get().is_some()
    }

    /// What a recovery checkpoint records of the segment.
    pub fn summary(&self) -> SegmentSummary {
        SegmentSummary {
            len_bytes: self.len_bytes as u64,
            next_offset: self.next_offset,
            max_timestamp: self.max_timestamp,
            max_timestamp_position: self.max_timestamp_position,
            modified_ms: self.modified_ms,
        }
    }

    fn batch_at(&self, position: usize) -> RecordBatch<&[u8]> {
        // Positions come from the indexes or from walking batches this segment checked.
        RecordBatch::new_unchecked(&self.data()[position..])
    }

    /// Positions of the batches from `position` on.
    fn batches_from(
        &self,
        mut position: usize,
    ) -> impl Iterator<Item = (usize, RecordBatch<&[u8]>)> {
        core::iter::from_fn(move || {
            if position >= self.len_bytes {
                return None;
            }
            let batch = self.batch_at(position);
            let at = position;
            position += batch.total_len();
            Some((at, batch))
        })
    }

    /// Position of the batch holding `offset`, or `None` if the segment ends before it.
    pub fn find_batch(&self, offset: i64) -> Option<usize> {
        if offset >= self.next_offset {
            return None;
        }
        let offsets = &self.index().offsets;
        let i = offsets.partition_point(|e| e.offset <= offset);
        let start = if i == 0 {
            0
        } else {
            offsets[i - 1].position as usize
        };
        self.batches_from(start)
            .find(|(_, b)| b.last_offset() >= offset)
            .map(|(position, _)| position)
    }

    /// Kafka's `fetchUpperBoundOffset`: the last offset of the batch at the first sparse offset
    /// index entry at or after `position`, if any. Kafka bounds the aborted transactions a
    /// READ_COMMITTED fetch reports by it, so they come at the index's granularity.
    pub fn indexed_offset_from(&self, position: usize) -> Option<i64> {
        let offsets = &self.index().offsets;
        let i = offsets.partition_point(|e| (e.position as usize) < position);
        let entry = offsets.get(i)?;
        Some(self.batch_at(entry.position as usize).last_offset())
    }

    /// Whole batches from the one holding `offset`, adding batches while the total stays within
    /// `max_bytes`, but at least one batch (KIP-74). Returns `(start, len)`.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Option<(u32, u32)> {
        self.read_below(offset, max_bytes, i64::MAX)
            .map(|(start, len, _)| (start, len))
    }

    /// [`Segment::read`] of the batches that end below `below` only (a READ_COMMITTED fetch
    /// stops at the last stable offset, a batch boundary): `(start, len, next_offset)`, where
    /// `next_offset` follows the last batch read; `len` is 0 when the batch holding `offset`
    /// already reaches `below`.
    pub fn read_below(&self, offset: i64, max_bytes: usize, below: i64) -> Option<(u32, u32, i64)> {
        let start = self.find_batch(offset)?;
        let mut end = start;
        let mut next_offset = offset;
        for (position, batch) in self.batches_from(start) {
            let batch_end = position + batch.total_len();
            if (end > start && batch_end - start > max_bytes) || batch.last_offset() >= below {
                break;
            }
            end = batch_end;
            next_offset = batch.last_offset().saturating_add(1);
        }
        // Both fit in u32: positions are below capacity_bytes.
        Some((start as u32, (end - start) as u32, next_offset))
    }

    /// The first record at or after `min_offset` (the log start offset) whose timestamp is at
    /// least `ts`, searched from the first batch whose max timestamp is at least `ts`:
    /// `(offset, timestamp)` as ListOffsets returns them (Kafka's `findOffsetByTimestamp`).
    pub fn find_timestamp(&self, ts: i64, min_offset: i64) -> Option<(i64, i64)> {
        if self.max_timestamp < ts || self.next_offset <= min_offset {
            return None;
        }
        let times = &self.index().times;
        let i = times.partition_point(|e| e.timestamp < ts);
        let start = if i == 0 {
            0
        } else {
            times[i - 1].position as usize
        };
        self.batches_from(start)
            .filter(|(_, b)| b.max_timestamp() >= ts && b.last_offset() >= min_offset)
            .find_map(|(_, b)| first_record_at_or_after(&b, ts, min_offset, b.base_offset()))
    }
}

/// The data length `known` vouches for, if it can describe a segment at `base_offset` holding
/// `written` bytes: within them and the `u32` positions, offsets not below the base, and the max
/// timestamp's batch header inside the data.
fn known_len(known: &SegmentSummary, base_offset: i64, written: usize) -> Option<usize> {
    let len = usize::try_from(known.len_bytes).ok()?;
    let limit = written.min(u32::MAX as usize);
    let header_end = known.max_timestamp_position as usize + HEADER_LEN;
    let max_inside = known.max_timestamp < 0 || header_end <= len;
    (len <= limit && known.next_offset >= base_offset && max_inside).then_some(len)
}

/// `(offset, timestamp)` of the first record of `batch` at or after `min_offset` with a timestamp
/// at least `ts`, or `None` if no record qualifies. When the records cannot be read (snappy,
/// zstd), `(fallback_offset, max timestamp)`, the offset held to `min_offset`.
fn first_record_at_or_after(
    batch: &RecordBatch<&[u8]>,
    ts: i64,
    min_offset: i64,
    fallback_offset: i64,
) -> Option<(i64, i64)> {
    let fallback = Some((fallback_offset.max(min_offset), batch.max_timestamp()));
    if batch.timestamp_type() == TimestampType::LogAppendTime {
        // Every record carries the append time.
        return Some((batch.base_offset().max(min_offset), batch.max_timestamp()));
    }
    let owned;
    let records = match batch.compression() {
        Ok(Compression::None) => batch.records_bytes(),
        Ok(codec) if codec.can_decompress() => {
            match decompress(
                codec,
                batch.records_bytes(),
                DOWN_CONVERT_DECOMPRESSED_BYTES_MAX,
            ) {
                Ok(bytes) => {
                    owned = bytes;
                    &owned[..]
                }
                Err(_) => return fallback,
            }
        }
        _ => return fallback,
    };
    let count = u32::try_from(batch.records_count()).unwrap_or(0);
    for record in Records::new(records, count) {
        let Ok(record) = record else { break };
        let record_ts = batch.base_timestamp().wrapping_add(record.timestamp_delta);
        let offset = batch
            .base_offset()
            .wrapping_add(i64::from(record.offset_delta));
        if offset < batch.base_offset() || offset > batch.last_offset() {
            // A record outside its batch (bytes a trusted open did not checksum) cannot be
            // believed: answer as for records that cannot be read.
            return fallback;
        }
        if record_ts >= ts && offset >= min_offset {
            return Some((offset, record_ts));
        }
    }
    None
}

impl<T: SegmentBuffer> Segment<T> {
    /// Bytes the buffer can grow to. Positions are `u32` (as in Kafka's index files), so only
    /// the first 4 GiB of a larger capacity are used.
    pub fn capacity_bytes(&self) -> usize {
        self.buffer.capacity_bytes().min(u32::MAX as usize)
    }

    /// An empty segment starting at `base_offset` over an empty `buffer`.
    pub fn new(buffer: T, base_offset: i64) -> Self {
        Segment {
            buffer,
            base_offset,
            len_bytes: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            max_timestamp_position: 0,
            modified_ms: -1,
            index: OnceCell::from(SparseIndex::default()),
            open: true,
            refs: 0,
            last_used: 0,
        }
    }

    /// Open the buffer again through `storage` after [`Segment::close`]. The file must hold at
    /// least the bytes this segment knows of: a shorter one lost acknowledged data (an error,
    /// the segment stays closed); bytes past them were never acknowledged (a failed write's
    /// remains) and are cut, as recovery would cut them.
    pub fn reopen<S: Storage<Segment = T>>(&mut self, storage: &mut S) -> Result<(), StorageError> {
        if self.open {
            return Ok(());
        }
        storage.open_segment(&mut self.buffer)?;
        let stored = self.buffer.as_ref().len();
        if stored < self.len_bytes {
            let closed = storage.close_segment(&mut self.buffer);
            let lost = StorageError::new(
                StorageErrorKind::Corrupt,
                alloc::format!(
                    "segment {} holds {stored} bytes, {} were written",
                    self.base_offset,
                    self.len_bytes
                ),
            );
            return Err(closed.err().unwrap_or(lost));
        }
        if stored > self.len_bytes {
            self.buffer.truncate(self.len_bytes)?;
        }
        self.open = true;
        Ok(())
    }

    /// Release the buffer (its file descriptor and mapping) through `storage`; what the log
    /// knows of the segment stays. Closing a closed segment changes nothing.
    pub fn close<S: Storage<Segment = T>>(&mut self, storage: &mut S) -> Result<(), StorageError> {
        if self.open {
            storage.close_segment(&mut self.buffer)?;
            self.open = false;
        }
        Ok(())
    }

    /// Write the v2 batch at the start of `batch` into the segment as offsets `base_offset..`,
    /// with its base offset and leader epoch patched (both outside the CRC); returns its length.
    /// With `log_append_time`, the batch is stamped with it as Kafka does for a LogAppendTime
    /// topic: timestamp type LogAppendTime, `maxTimestamp` the append time, a new CRC.
    ///
    /// The patched header is built on the stack and written with the rest of the batch in one
    /// [`SegmentBuffer::write_at`], so the stored bytes are written once and never read back.
    pub fn append(
        &mut self,
        batch: &[u8],
        base_offset: i64,
        log_append_time: Option<i64>,
    ) -> Result<usize, SegmentAppendError> {
        if !self.open {
            return Err(SegmentAppendError::Storage(StorageError::new(
                StorageErrorKind::Invalid,
                "an append into a closed segment",
            )));
        }
        let view = RecordBatch::new_unchecked_header(batch).map_err(SegmentAppendError::Invalid)?;
        let total = view.total_len();
        if view.last_offset_delta() < 0 {
            return Err(SegmentAppendError::Invalid(RecordsError::InvalidBatch));
        }
        if total > self.capacity_bytes() - self.len_bytes {
            return Err(SegmentAppendError::Full);
        }
        assert!(
            base_offset >= self.next_offset,
            "offsets within a segment ascend"
        );
        let start = self.len_bytes;
        let end = start + total;
        assert!(
            end <= self.capacity_bytes(),
            "a batch ends within the segment's capacity"
        );
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(&batch[..HEADER_LEN]);
        let mut header = RecordBatch::new_unchecked(&mut head[..]);
        header.set_base_offset(base_offset);
        header.set_partition_leader_epoch(super::PARTITION_LEADER_EPOCH);
        if let Some(ts) = log_append_time {
            header.set_header_log_append_time(ts, &batch[HEADER_LEN..total]);
        }
        self.buffer
            .write_at(start, &head, &batch[HEADER_LEN..total])
            .map_err(SegmentAppendError::Storage)?;
        let header = RecordBatch::new_unchecked(&head[..]);
        self.track(
            start,
            total,
            base_offset,
            header.last_offset(),
            header.max_timestamp(),
        );
        Ok(total)
    }

    /// Account for the batch just stored at `position`: write position, next offset, max
    /// timestamp and the sparse indexes.
    fn track(&mut self, position: usize, total: usize, first: i64, last: i64, max_ts: i64) {
        let pos32 =
            u32::try_from(position).expect("positions are below capacity_bytes (<= u32::MAX)");
        // Not built yet: it will be, from every batch, this one included.
        if let Some(index) = self.index.get_mut() {
            index.note(pos32, total, first, self.max_timestamp);
        }
        if max_ts > self.max_timestamp {
            self.max_timestamp = max_ts;
            self.max_timestamp_position = pos32;
        }
        self.len_bytes = position + total;
        self.next_offset = last + 1;
    }

    /// Recover a segment from its bytes (an open buffer).
    ///
    /// `trusted` (a clean shutdown): the batch headers are walked to rebuild the indexes; if they
    /// do not add up to the buffer's length, the segment is checked as after a crash. Otherwise
    /// every batch's length, magic, CRC-32C and offsets are checked from the start, the data ends
    /// at the first batch that is torn, zero or invalid, and the bytes after it are cut off so a
    /// later crash cannot revive them. Only the bytes written are read, never the capacity.
    pub fn open(buffer: T, base_offset: i64, trusted: bool) -> Result<Self, StorageError> {
        let mut segment = Segment::new(buffer, base_offset);
        let written = segment.buffer.as_ref().len();
        if trusted {
            if segment.walk(false) == written {
                return Ok(segment);
            }
            segment = Segment::new(segment.buffer, base_offset);
        }
        let valid = segment.walk(true);
        if valid < written {
            segment.buffer.truncate(valid)?;
        }
        Ok(segment)
    }

    /// Recover a segment whose first `known.len_bytes` bytes a recovery checkpoint vouches for:
    /// they are not read (the indexes are built on first use); only the bytes after them,
    /// written after the checkpoint, are CRC-checked batch by batch, and a torn tail is cut. A
    /// summary that cannot describe this buffer (longer than its bytes, the max timestamp's
    /// batch outside them) is not trusted: the segment is checked whole, as after a crash.
    pub fn open_known(
        buffer: T,
        base_offset: i64,
        known: SegmentSummary,
    ) -> Result<Self, StorageError> {
        let written = buffer.as_ref().len();
        let Some(len) = known_len(&known, base_offset, written) else {
            return Segment::open(buffer, base_offset, false);
        };
        let mut segment = Segment::new(buffer, base_offset);
        segment.len_bytes = len;
        segment.next_offset = known.next_offset;
        segment.max_timestamp = known.max_timestamp;
        segment.max_timestamp_position = known.max_timestamp_position;
        segment.modified_ms = known.modified_ms;
        segment.index = OnceCell::new();
        let valid = segment.walk(true);
        if valid > len {
            // Written after the checkpoint: the last write's time is not known any more.
            segment.modified_ms = -1;
        }
        if valid < written {
            segment.buffer.truncate(valid)?;
        }
        Ok(segment)
    }

    /// Track batches from position 0 while they are valid and end within the written bytes (and
    /// the `u32` positions); returns the data length reached.
    fn walk(&mut self, check_crc: bool) -> usize {
        let limit = self.buffer.as_ref().len().min(u32::MAX as usize);
        loop {
            let position = self.len_bytes;
            let rest = &self.buffer.as_ref()[position..limit];
            let batch = if check_crc {
                RecordBatch::new_checked(rest)
            } else {
                RecordBatch::new_unchecked_header(rest)
            };
            let Ok(batch) = batch else { return position };
            // A batch must leave an offset after it: one ending at i64::MAX (or wrapping past
            // it) would overflow the next offset.
            let ends_in_range = batch
                .base_offset()
                .checked_add(i64::from(batch.last_offset_delta()))
                .is_some_and(|last| last < i64::MAX);
            if batch.base_offset() < self.next_offset
                || batch.last_offset_delta() < 0
                || !ends_in_range
            {
                return position;
            }
            let total = batch.total_len();
            let (first, last, max_ts) = (
                batch.base_offset(),
                batch.last_offset(),
                batch.max_timestamp(),
            );
            self.track(position, total, first, last, max_ts);
        }
    }

    /// The buffer, to seal it through the storage.
    pub fn buffer_mut(&mut self) -> &mut T {
        &mut self.buffer
    }

    /// The buffer, to hand it back to the storage for deletion.
    pub fn into_buffer(self) -> T {
        self.buffer
    }

    /// Wall-clock milliseconds of the last write, or -1 if unknown.
    pub fn modified_ms(&self) -> i64 {
        self.modified_ms
    }

    /// Note a write at wall-clock `unix_ms`.
    pub fn set_modified_ms(&mut self, unix_ms: i64) {
        self.modified_ms = unix_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::BatchBuilder;
    use crate::storage::MemorySegment;
    use alloc::vec;

    fn empty(capacity: usize) -> MemorySegment {
        MemorySegment::new(capacity)
    }

    fn holding(bytes: Vec<u8>) -> MemorySegment {
        MemorySegment::from_bytes(bytes, 100_000)
    }

    fn batch(records: usize, ts: i64, value_len: usize) -> Vec<u8> {
        let mut b = BatchBuilder::new(0);
        let value = vec![7u8; value_len];
        for i in 0..records {
            b.push(ts + i as i64, None, Some(&value), &[]);
        }
        b.finish()
    }

    #[test]
    fn append_patches_offsets_and_keeps_the_crc() {
        let mut seg = Segment::new(empty(10_000), 100);
        let b = batch(3, 1_000, 10);
        assert_eq!(seg.append(&b, 100, None), Ok(b.len()));
        let stored = seg.batch_at(0);
        assert_eq!(stored.base_offset(), 100);
        assert_eq!(stored.partition_leader_epoch(), 0);
        assert!(stored.crc_valid());
        assert_eq!(seg.next_offset(), 103);
        assert_eq!(seg.len_bytes(), b.len());
        assert_eq!(seg.find_batch(102), Some(0));
        assert_eq!(seg.find_batch(103), None);
        assert_eq!(seg.max_timestamp(), Some((1_002, 102)));
        assert_eq!(seg.find_timestamp(1_001, 0), Some((101, 1_001)));
        assert_eq!(seg.find_timestamp(1_003, 0), None);
        // Not below the log start offset.
        assert_eq!(seg.find_timestamp(1_000, 102), Some((102, 1_002)));
        assert_eq!(seg.find_timestamp(1_000, 103), None);
        // Retention ages a segment by its records' timestamps, else by its last write.
        assert_eq!(seg.largest_timestamp(), 1_002);
        let mut empty = Segment::new(empty(100), 0);
        assert_eq!(empty.largest_timestamp(), -1);
        empty.set_modified_ms(77);
        assert_eq!(empty.largest_timestamp(), 77);
    }

    #[test]
    fn full_is_reported_not_written() {
        let b = batch(1, 0, 100);
        let mut seg = Segment::new(empty(b.len() * 2 - 1), 0);
        assert!(seg.append(&b, 0, None).is_ok());
        assert_eq!(
            seg.append(&b, 1, None).err(),
            Some(SegmentAppendError::Full)
        );
        assert_eq!(seg.len_bytes(), b.len());
        assert_eq!(
            seg.append(&b[..30], 1, None).err(),
            Some(SegmentAppendError::Invalid(RecordsError::Truncated))
        );
    }

    #[test]
    #[should_panic(expected = "offsets within a segment ascend")]
    fn offsets_going_back_is_a_bug() {
        let b = batch(2, 0, 1);
        let mut seg = Segment::new(empty(1_000), 0);
        seg.append(&b, 0, None).expect("fits");
        let result = seg.append(&b, 1, None);
        unreachable!("an append going back returned {result:?}");
    }

    #[test]
    fn sparse_index_finds_every_offset() {
        let mut seg = Segment::new(empty(200_000), 0);
        let mut next = 0;
        let mut starts = Vec::new();
        for i in 0..100 {
            let b = batch(1 + i % 3, i as i64 * 10, 300);
            starts.push((next, seg.len_bytes()));
            let position = seg.len_bytes();
            seg.append(&b, next, None).expect("fits");
            next = seg.batch_at(position).last_offset() + 1;
        }
        assert!(seg.index().offsets.len() > 5);
        assert!(seg.index().times.len() > 5);
        for (i, &(first, position)) in starts.iter().enumerate() {
            let last = starts.get(i + 1).map_or(next, |s| s.0) - 1;
            for o in first..=last {
                assert_eq!(seg.find_batch(o), Some(position), "offset {o}");
            }
        }
        // Timestamps: batch i starts at 10 * i.
        assert_eq!(seg.find_timestamp(505, 0), Some((starts[51].0, 510)));
        assert_eq!(seg.find_timestamp(0, 0), Some((0, 0)));
        // From a start offset in the middle: the first record there, its own timestamp.
        let (mid, _) = starts[60];
        assert_eq!(seg.find_timestamp(0, mid), Some((mid, 600)));
    }

    #[test]
    fn open_over_arbitrary_bytes_never_panics() {
        let b = batch(2, 0, 20);
        let mut buf = vec![0u8; 1_000];
        buf[..b.len()].copy_from_slice(&b);
        buf[b.len()..2 * b.len()].copy_from_slice(&b);
        for i in 0..2 * b.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut damaged = buf.clone();
                damaged[i] ^= x;
                let seg = Segment::open(holding(damaged.clone()), 0, false).expect("opens");
                assert!(seg.len_bytes() <= 2 * b.len());
                assert_eq!(seg.buffer().as_ref().len(), seg.len_bytes(), "tail cut");
                let seg = Segment::open(holding(damaged), 0, true).expect("opens");
                assert!(seg.len_bytes() <= 2 * b.len());
            }
        }
        // Trusted bytes that do not add up are checked, not trusted.
        let seg = Segment::open(holding(buf.clone()), 0, true).expect("opens");
        assert_eq!(seg.len_bytes(), b.len(), "the second batch repeats offsets");
        assert_eq!(seg.buffer().as_ref().len(), b.len());
        let seg = Segment::open(holding(vec![0xffu8; 100]), 0, true).expect("opens");
        assert_eq!(seg.len_bytes(), 0);
    }

    #[test]
    fn recovery_reads_only_what_was_written_and_appends_go_on() {
        let b = batch(3, 5, 40);
        let mut bytes = b.clone();
        bytes.extend_from_slice(&b[..b.len() / 2]);
        // Capacity far beyond the data: nothing past the written bytes exists to be read.
        let seg = MemorySegment::from_bytes(bytes, 1 << 30);
        let mut seg = Segment::open(seg, 0, false).expect("opens");
        assert_eq!((seg.len_bytes(), seg.next_offset()), (b.len(), 3));
        assert_eq!(seg.buffer().as_ref().len(), b.len(), "the torn half is cut");
        assert_eq!(seg.append(&b, 3, None), Ok(b.len()));
        assert_eq!(seg.next_offset(), 6);
        assert!(RecordBatch::new_checked(&seg.data()[b.len()..]).is_ok());
    }

    #[test]
    fn recovery_stops_before_a_batch_whose_offsets_overflow() {
        let b = batch(1, 5, 10);
        let mut last = b.clone();
        last[..8].copy_from_slice(&i64::MAX.to_be_bytes());
        let mut bytes = b.clone();
        bytes.extend_from_slice(&last);
        for trusted in [false, true] {
            let seg = Segment::open(holding(bytes.clone()), 0, trusted).expect("opens");
            assert_eq!((seg.len_bytes(), seg.next_offset()), (b.len(), 1));
        }
    }

    #[test]
    fn lookups_ignore_records_outside_their_batch() {
        // A trusted segment whose record claims offset delta 5 in a batch of one record, as a
        // flipped bit after a clean shutdown would leave it.
        let mut b = batch(1, 5, 10);
        let delta_at = HEADER_LEN + 1 + 1 + 1; // length, attributes, timestamp delta
        assert_eq!(b[delta_at], 0, "offset delta 0 as a varint");
        b[delta_at] = 10; // zigzag 5
        let seg = Segment::open(holding(b), 0, true).expect("opens");
        assert_eq!(seg.next_offset(), 1);
        assert_eq!(seg.max_timestamp(), Some((5, 0)));
        assert_eq!(seg.find_timestamp(0, 0), Some((0, 5)));
    }

    #[test]
    fn clean_open_rebuilds_the_same_state() {
        let mut seg = Segment::new(empty(50_000), 0);
        let mut next = 0;
        for i in 0..40 {
            seg.append(&batch(2, i, 500), next, None).expect("fits");
            next = seg.next_offset();
        }
        let len = seg.len_bytes();
        let buf = seg.buffer.clone().into_bytes();
        let clean = Segment::open(holding(buf.clone()), 0, true).expect("opens");
        let crashed = Segment::open(holding(buf), 0, false).expect("opens");
        for other in [&clean, &crashed] {
            assert_eq!(other.len_bytes(), len);
            assert_eq!(other.next_offset(), next);
            assert_eq!(other.index(), seg.index());
            assert_eq!(other.max_timestamp(), seg.max_timestamp());
        }
    }

    /// A segment of 40 batches of two records (timestamps out of order), its summary after the
    /// first `at` batches, and its bytes.
    fn written(at: usize) -> (Segment<MemorySegment>, SegmentSummary) {
        let mut seg = Segment::new(empty(100_000), 10);
        let mut summary = seg.summary();
        for i in 0..40i64 {
            if i as usize == at {
                summary = seg.summary();
            }
            let ts = if i % 7 == 3 { 90_000 - i } else { 1_000 * i };
            seg.append(&batch(2, ts, 300), seg.next_offset(), None)
                .expect("fits");
            seg.set_modified_ms(5_000 + i);
        }
        if at >= 40 {
            summary = seg.summary();
        }
        (seg, summary)
    }

    #[test]
    fn open_known_reads_none_of_the_vouched_bytes() {
        let (seg, known) = written(25);
        let mut bytes = seg.buffer().clone().into_bytes();
        let len = known.len_bytes as usize;
        // Garbage where the checkpoint vouches: were it read (CRC or headers), the data would
        // end at 0. Only the batch holding the max timestamp is read, and only on demand.
        bytes[..len].fill(0xee);
        let opened = Segment::open_known(holding(bytes), 10, known).expect("opens");
        assert!(!opened.is_indexed());
        assert_eq!(
            opened.len_bytes(),
            seg.len_bytes(),
            "the tail was checked and kept"
        );
        assert_eq!(opened.next_offset(), seg.next_offset());
        assert_eq!(opened.largest_timestamp(), seg.largest_timestamp());
        assert_eq!(opened.modified_ms(), -1, "written after the checkpoint");
        // Nothing after the checkpoint: the numbers are the checkpoint's, the last write too.
        let (seg, known) = written(40);
        let mut bytes = seg.buffer().clone().into_bytes();
        bytes.fill(0xee);
        let opened = Segment::open_known(holding(bytes), 10, known).expect("opens");
        assert_eq!(opened.summary(), seg.summary());
        assert_eq!(opened.modified_ms(), 5_039);
    }

    #[test]
    fn open_known_checks_the_tail_and_cuts_it_where_torn() {
        let (seg, known) = written(30);
        let good = seg.buffer().clone().into_bytes();
        let last = seg.len_bytes() - batch(2, 0, 300).len();
        // The last batch torn: cut, the earlier tail kept.
        let mut torn = good.clone();
        torn.truncate(seg.len_bytes() - 20);
        let opened = Segment::open_known(holding(torn), 10, known).expect("opens");
        assert_eq!(opened.len_bytes(), last);
        assert_eq!(
            opened.buffer().as_ref().len(),
            last,
            "the torn bytes are cut"
        );
        assert_eq!(opened.next_offset(), seg.next_offset() - 2);
        // A flipped byte in the first batch after the checkpoint: the data ends at it.
        let mut flipped = good.clone();
        flipped[known.len_bytes as usize + 40] ^= 1;
        let opened = Segment::open_known(holding(flipped), 10, known).expect("opens");
        assert_eq!(opened.len_bytes(), known.len_bytes as usize);
        assert_eq!(opened.next_offset(), known.next_offset);
        assert_eq!(opened.buffer().as_ref().len(), known.len_bytes as usize);
        // Zeros after the data (a preallocated tail) are cut too.
        let mut zeros = good;
        zeros.extend_from_slice(&[0; 500]);
        let opened = Segment::open_known(holding(zeros), 10, known).expect("opens");
        assert_eq!(opened.summary().len_bytes, seg.summary().len_bytes);
        assert_eq!(opened.buffer().as_ref().len(), seg.len_bytes());
    }

    #[test]
    fn a_checkpoint_that_cannot_describe_the_bytes_is_not_trusted() {
        let (seg, known) = written(40);
        let bytes = seg.buffer().clone().into_bytes();
        // Longer than the file (a crash lost bytes it vouched for): checked whole.
        let mut short = bytes.clone();
        short.truncate(known.len_bytes as usize - 10);
        let opened = Segment::open_known(holding(short), 10, known).expect("opens");
        assert!(opened.is_indexed(), "checked, not trusted");
        assert_eq!(opened.next_offset(), seg.next_offset() - 2);
        // The max timestamp's batch outside the data, offsets below the base.
        for bad in [
            SegmentSummary {
                max_timestamp_position: known.len_bytes as u32,
                ..known
            },
            SegmentSummary {
                next_offset: 9,
                ..known
            },
        ] {
            let opened = Segment::open_known(holding(bytes.clone()), 10, bad).expect("opens");
            assert!(opened.is_indexed());
            assert_eq!(opened.summary().len_bytes, known.len_bytes);
            assert_eq!(opened.max_timestamp(), seg.max_timestamp());
        }
    }

    #[test]
    fn a_lazy_index_answers_as_an_eager_one() {
        let (eager, known) = written(40);
        let bytes = eager.buffer().clone().into_bytes();
        let mut lazy = Segment::open_known(holding(bytes.clone()), 10, known).expect("opens");
        assert!(!lazy.is_indexed());
        assert_eq!(lazy.max_timestamp(), eager.max_timestamp());
        assert!(!lazy.is_indexed(), "the max timestamp needs no index");
        for o in 0..eager.next_offset() + 1 {
            assert_eq!(lazy.find_batch(o), eager.find_batch(o), "offset {o}");
            assert_eq!(lazy.read(o, 1_000), eager.read(o, 1_000), "offset {o}");
        }
        assert!(lazy.is_indexed());
        assert_eq!(lazy.index(), eager.index());
        for ts in (0..100_000).step_by(997) {
            for start in [0, 30, 60] {
                assert_eq!(
                    lazy.find_timestamp(ts, start),
                    eager.find_timestamp(ts, start)
                );
            }
        }
        // Appends before and after the index is built keep it as an eager segment's.
        let mut eager = Segment::open(holding(bytes.clone()), 10, true).expect("opens");
        let mut unbuilt = Segment::open_known(holding(bytes), 10, known).expect("opens");
        for i in 0..30 {
            let b = batch(3, 200_000 + i, 200);
            for seg in [&mut eager, &mut lazy, &mut unbuilt] {
                seg.append(&b, seg.next_offset(), None).expect("fits");
            }
        }
        assert!(!unbuilt.is_indexed());
        assert_eq!(
            unbuilt.find_timestamp(200_010, 0),
            eager.find_timestamp(200_010, 0)
        );
        assert_eq!(lazy.index(), eager.index());
        assert_eq!(unbuilt.index(), eager.index());
        let known_write = SegmentSummary {
            modified_ms: -1,
            ..unbuilt.summary()
        };
        assert_eq!(
            known_write,
            eager.summary(),
            "a header walk knows no last write"
        );
    }
}
