//! A partition's log: its segments in offset order, appended at the newest.
//!
//! One broker means the log end offset is also the high watermark and the last stable offset.

use alloc::vec::Vec;

use crate::records::batch;
use crate::storage::{FoundSegment, Recovery, SegmentBuffer, Storage, StorageError};

use super::error::LogError;
use super::segment::{Segment, SegmentAppendError};

/// Where an append went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended.
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// The log append time stamped on the batches, or -1 (CreateTime topics).
    pub log_append_time_ms: i64,
}

/// How an append is made: the size of a segment it may roll to, the wall clock, and whether
/// batches get the append time as their timestamps.
#[derive(Clone, Copy, Debug)]
pub struct AppendAt {
    /// The size of a new segment, should the append roll the log; also the size past which the
    /// active segment rolls (Kafka's `segment.bytes`).
    pub segment_size: usize,
    /// Kafka's `segment.ms`: the log rolls before an append whose newest timestamp is more than
    /// this after the active segment's first batch's (by the wall clock since its first append,
    /// for records without timestamps). `i64::MAX`: never.
    pub segment_ms: i64,
    /// The wall clock.
    pub unix_ms: i64,
    /// Whether the batches are stamped with `unix_ms` (LogAppendTime).
    pub log_append_time: bool,
}

/// Whole batches of one segment: `len` bytes from `start` of the segment named by
/// `segment_base_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadSlice {
    /// Base offset of the segment.
    pub segment_base_offset: i64,
    /// First byte within the segment.
    pub start: u32,
    /// Number of bytes.
    pub len: u32,
    /// The offset after the last batch in it.
    pub next_offset: i64,
}

/// A partition's log over segment buffers `T`.
#[derive(Debug)]
pub struct PartitionLog<T> {
    /// Ascending by base offset; the last one is active (appended to). Never empty.
    segments: Vec<Segment<T>>,
    /// At least the first segment's base offset; above it after DeleteRecords.
    log_start_offset: i64,
    /// Bytes of data in every segment but the active one.
    sealed_bytes: u64,
    /// The wall clock of the active segment's first append (-1: none yet), which ages a segment
    /// whose records carry no timestamps for `segment.ms`, as Kafka's segment creation time does.
    active_since_ms: i64,
}

impl<T: SegmentBuffer> PartitionLog<T> {
    /// A new, empty log whose first segment is `segment` (empty), starting at `base_offset`.
    pub fn new(segment: T, base_offset: i64) -> Self {
        PartitionLog {
            segments: alloc::vec![Segment::new(segment, base_offset)],
            log_start_offset: base_offset,
            sealed_bytes: 0,
            active_since_ms: -1,
        }
    }

    /// Recover a log from the segments the runtime found, oldest first (they are sorted here
    /// anyway). Each is opened through `storage`, recovered as [`Segment::open`] says, and
    /// closed again, so recovering holds one segment open at a time and a recovered log none;
    /// the newest must be growable to `segment_size` so appends can go on.
    pub fn open<S: Storage<Segment = T>>(
        mut found: Vec<FoundSegment<T>>,
        storage: &mut S,
    ) -> Result<Self, LogError> {
        found.sort_by_key(|f| f.base_offset);
        let mut segments: Vec<Segment<T>> = Vec::with_capacity(found.len());
        for mut f in found {
            storage.open_segment(&mut f.segment)?;
            if segments
                .last()
                .is_some_and(|prev| prev.next_offset() > f.base_offset)
            {
                // An empty file inside the previous segment's offsets is a roll whose creation
                // was reported failed (its directory sync failed, or a crash came first): the
                // log went on in the previous segment, and the file holds nothing to lose.
                if f.segment.as_ref().is_empty() {
                    storage.close_segment(&mut f.segment)?;
                    continue;
                }
                return Err(LogError::OverlappingSegments {
                    base_offset: f.base_offset,
                });
            }
            let segment = match f.recovery {
                Recovery::Checked => Segment::open(f.segment, f.base_offset, false)?,
                Recovery::HeadersTrusted => Segment::open(f.segment, f.base_offset, true)?,
                Recovery::Known(known) => Segment::open_known(f.segment, f.base_offset, known)?,
            };
            let mut segment = segment;
            segment.close(storage)?;
            segments.push(segment);
        }
        let first = segments.first().ok_or(LogError::NoSegments)?;
        let log_start_offset = first.base_offset();
        let sealed_bytes = segments[..segments.len() - 1]
            .iter()
            .map(|s| s.len_bytes() as u64)
            .sum();
        Ok(PartitionLog {
            segments,
            log_start_offset,
            sealed_bytes,
            active_since_ms: -1,
        })
    }

    fn active(&mut self) -> &mut Segment<T> {
        self.segments
            .last_mut()
            .expect("a log has at least one segment")
    }

    /// Append validated v2 batches (as [`crate::records::validate_batches`] passed them),
    /// assigning offsets from the log end. When the active segment is full it is sealed and a new
    /// one of `segment_size` bytes is created at the log end. A batch larger than `segment_size`
    /// is refused before anything is written.
    ///
    /// `unix_ms` is the wall clock of the append: retention ages a segment whose records carry
    /// no timestamps by it.
    pub fn append<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        topic: &str,
        partition: i32,
        batches: &[u8],
        segment_size: usize,
        unix_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let at = AppendAt {
            segment_size,
            segment_ms: i64::MAX,
            unix_ms,
            log_append_time: false,
        };
        self.append_at(storage, topic, partition, batches, at)
    }

    /// [`PartitionLog::append`] as `at` says; with `at.log_append_time` (a topic whose
    /// `message.timestamp.type` is LogAppendTime) every batch is stamped with `at.unix_ms` (see
    /// [`Segment::append`]), which the result carries.
    pub fn append_at<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        topic: &str,
        partition: i32,
        batches: &[u8],
        at: AppendAt,
    ) -> Result<AppendInfo, LogError> {
        let AppendAt {
            segment_size,
            segment_ms,
            unix_ms,
            log_append_time,
        } = at;
        let stamp = log_append_time.then_some(unix_ms);
        if batches.is_empty() {
            return Err(LogError::InvalidBatch(crate::records::RecordsError::Empty));
        }
        let mut rest = batches;
        let mut max_timestamp = -1;
        while !rest.is_empty() {
            let header =
                batch::RecordBatch::new_unchecked_header(rest).map_err(LogError::InvalidBatch)?;
            let total = header.total_len();
            if total > segment_size.min(u32::MAX as usize) {
                return Err(LogError::BatchTooLarge);
            }
            max_timestamp = max_timestamp.max(header.max_timestamp());
            rest = &rest[total..];
        }
        let active = self.active();
        if !active.is_open() {
            return Err(LogError::SegmentClosed {
                base_offset: active.base_offset(),
            });
        }
        let max_timestamp = stamp.unwrap_or(max_timestamp);
        if self.reached_segment_ms(segment_ms, unix_ms, max_timestamp) {
            self.roll(storage, topic, partition, segment_size)?;
        }
        let base_offset = self.log_end_offset();
        let mut rest = batches;
        while !rest.is_empty() {
            let total = self.append_one(storage, topic, partition, rest, segment_size, stamp)?;
            rest = &rest[total..];
        }
        self.active().set_modified_ms(unix_ms);
        if self.active_since_ms < 0 {
            self.active_since_ms = unix_ms;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: self.log_end_offset() - 1,
            log_append_time_ms: stamp.unwrap_or(-1),
        })
    }

    /// Kafka's `LogSegment.shouldRoll` by time: the active segment holds data, and the newest
    /// timestamp appended now is more than `segment_ms` after the largest one of its first batch
    /// (with no timestamp there, the wall clock more than `segment_ms` after its first append).
    fn reached_segment_ms(&self, segment_ms: i64, unix_ms: i64, max_timestamp: i64) -> bool {
        let Some(active) = self.segments.last().filter(|s| !s.is_empty()) else {
            return false;
        };
        let first = batch::RecordBatch::new_unchecked_header(active.data())
            .map_or(-1, |b| b.max_timestamp());
        let waited = if first >= 0 {
            max_timestamp.saturating_sub(first)
        } else if self.active_since_ms >= 0 {
            unix_ms.saturating_sub(self.active_since_ms)
        } else {
            0
        };
        waited > segment_ms
    }

    fn append_one<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        topic: &str,
        partition: i32,
        batch: &[u8],
        segment_size: usize,
        stamp: Option<i64>,
    ) -> Result<usize, LogError> {
        let offset = self.log_end_offset();
        // Kafka rolls when the batch would take the segment past `segment.bytes`, which may be
        // below the capacity the segment was created with (the topic's config changed).
        let total = batch::peek_total_len(batch).map_err(LogError::InvalidBatch)?;
        let active = self.active();
        if !active.is_empty() && active.len_bytes().saturating_add(total) > segment_size {
            self.roll(storage, topic, partition, segment_size)?;
        }
        match self.active().append(batch, offset, stamp) {
            Ok(total) => return Ok(total),
            Err(SegmentAppendError::Invalid(e)) => return Err(LogError::InvalidBatch(e)),
            Err(SegmentAppendError::Storage(e)) => return Err(LogError::Storage(e)),
            Err(SegmentAppendError::Full) => {}
        }
        if self.active().is_empty() {
            // Only a segment opened smaller than segment_size can be empty and too small; a new
            // one would need the same file name.
            return Err(LogError::BatchTooLarge);
        }
        self.roll(storage, topic, partition, segment_size)?;
        match self.active().append(batch, offset, stamp) {
            Ok(total) => Ok(total),
            Err(SegmentAppendError::Invalid(e)) => Err(LogError::InvalidBatch(e)),
            Err(SegmentAppendError::Storage(e)) => Err(LogError::Storage(e)),
            Err(SegmentAppendError::Full) => Err(LogError::BatchTooLarge),
        }
    }

    /// Create the next segment at the log end, then seal the old active one to its length. If
    /// sealing fails the old segment stays valid (only untrimmed: recovery scans it).
    ///
    /// The old segment is closed first, so a roll opens no more segments than it finds open
    /// (the cap on open segments holds through it); a reader of its tail opens it again. One
    /// that an unsent response reads from stays open until the response comes back.
    fn roll<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        topic: &str,
        partition: i32,
        segment_size: usize,
    ) -> Result<(), LogError> {
        let base_offset = self.log_end_offset();
        if self.active().refs() == 0 {
            self.active().close(storage)?;
        }
        let buffer = storage.create_segment(topic, partition, base_offset, segment_size)?;
        let old = self.active();
        let len = old.len_bytes();
        let sealed = storage.seal_segment(old.buffer_mut(), len);
        self.sealed_bytes += len as u64;
        self.segments.push(Segment::new(buffer, base_offset));
        self.active_since_ms = -1;
        sealed.map_err(LogError::from)
    }

    /// Stop appending for shutdown: trim the active segment to its data length, so the next
    /// start need not scan it.
    pub fn seal_active<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
    ) -> Result<(), StorageError> {
        let active = self.active();
        let len = active.len_bytes();
        storage.seal_segment(active.buffer_mut(), len)
    }

    /// Open the segment with base offset `base_offset` through `storage` (see
    /// [`Segment::reopen`]); `Ok(true)` if it was closed. `Ok(false)` also when no such segment
    /// is left (retention deleted it).
    pub fn open_segment<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        base_offset: i64,
    ) -> Result<bool, StorageError> {
        match self.segment_mut(base_offset) {
            Some(segment) if !segment.is_open() => segment.reopen(storage).map(|()| true),
            _ => Ok(false),
        }
    }

    /// Close every segment (a new partition's first one, once created).
    pub fn close_all<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
    ) -> Result<(), StorageError> {
        self.segments
            .iter_mut()
            .try_for_each(|segment| segment.close(storage))
    }

    /// Open every segment (tests reading a recovered log directly).
    #[cfg(test)]
    pub(crate) fn open_all<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
    ) -> Result<(), StorageError> {
        self.segments
            .iter_mut()
            .try_for_each(|segment| segment.reopen(storage))
    }

    /// The segments after the one with base offset `base_offset`.
    pub fn segments_mut_after(
        &mut self,
        base_offset: i64,
    ) -> impl Iterator<Item = &mut Segment<T>> {
        let from = self
            .segments
            .partition_point(|s| s.base_offset() <= base_offset);
        self.segments[from..].iter_mut()
    }

    /// The segment with base offset `base_offset`.
    pub fn segment_mut(&mut self, base_offset: i64) -> Option<&mut Segment<T>> {
        let i = self
            .segments
            .binary_search_by_key(&base_offset, Segment::base_offset)
            .ok()?;
        self.segments.get_mut(i)
    }

    /// Raise the log start offset to `offset` (DeleteRecords, or the recorded offset at
    /// recovery); a lower offset changes nothing. Past the log end (the high watermark) it is
    /// OFFSET_OUT_OF_RANGE. Segments below it stay until [`PartitionLog::delete_old_segments`].
    pub fn raise_log_start_offset(&mut self, offset: i64) -> Result<(), LogError> {
        if offset > self.log_end_offset() {
            return Err(LogError::OffsetOutOfRange);
        }
        self.log_start_offset = self.log_start_offset.max(offset);
        Ok(())
    }

    /// Segments opened at startup have no known last write: those whose records carry no
    /// timestamp then age from `unix_ms` (the broker's start), where Kafka would read the file's
    /// modification time.
    pub fn set_unknown_modified_ms(&mut self, unix_ms: i64) {
        for segment in &mut self.segments {
            if segment.modified_ms() < 0 {
                segment.set_modified_ms(unix_ms);
            }
        }
    }

    /// Remove the oldest segment, which must not be the active one, hand its buffer to the
    /// storage for deletion, and raise the log start offset to the next segment's base offset.
    /// Oldest first, so a crash part-way leaves a log whose first segment still tells its start.
    pub(super) fn delete_first_segment<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
    ) -> Result<(), StorageError> {
        assert!(
            self.segments.len() > 1,
            "the active segment is never deleted"
        );
        let first = self.segments.remove(0);
        self.sealed_bytes -= first.len_bytes() as u64;
        self.log_start_offset = self.log_start_offset.max(self.segments[0].base_offset());
        storage.delete_segment(first.into_buffer())
    }

    /// Remove sealed segment `base_offset`, not the first, which the log cleaner emptied: every
    /// record it held has a newer one later in the log. Reads skip the gap it leaves.
    /// `Ok(false)`: there is no such segment and nothing changed.
    pub fn remove_emptied<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        base_offset: i64,
    ) -> Result<bool, StorageError> {
        let sealed = self.segments.len() - 1;
        let Some(i) = self.segments[1..sealed]
            .iter()
            .position(|s| s.base_offset() == base_offset)
        else {
            return Ok(false);
        };
        let segment = self.segments.remove(i + 1);
        self.sealed_bytes -= segment.len_bytes() as u64;
        storage.delete_segment(segment.into_buffer())?;
        Ok(true)
    }

    /// Put the log cleaner's rewrite `cleaned` (its bytes written to `len_bytes`) in place of
    /// sealed segment `base_offset`, through [`Storage::replace_segment`]. The rewrite keeps the
    /// old segment's last write time. `Ok(false)`: there is no such sealed segment (retention
    /// took it meanwhile) and nothing changed; on an error nothing changed either.
    pub fn replace_sealed<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        base_offset: i64,
        mut cleaned: T,
        len_bytes: usize,
    ) -> Result<bool, StorageError> {
        let sealed = self.segments.len() - 1;
        let Some(i) = self.segments[..sealed]
            .iter()
            .position(|s| s.base_offset() == base_offset)
        else {
            return Ok(false);
        };
        storage.replace_segment(self.segments[i].buffer_mut(), &mut cleaned, len_bytes)?;
        let mut segment = Segment::open(cleaned, base_offset, true)?;
        segment.set_modified_ms(self.segments[i].modified_ms());
        self.sealed_bytes -= self.segments[i].len_bytes() as u64;
        self.sealed_bytes += segment.len_bytes() as u64;
        self.segments[i] = segment;
        Ok(true)
    }
}

impl<T: AsRef<[u8]>> PartitionLog<T> {
    /// First offset a Fetch may ask for.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Offset the next record will get; also the high watermark on one broker.
    pub fn log_end_offset(&self) -> i64 {
        self.segments
            .last()
            .map_or(self.log_start_offset, Segment::next_offset)
    }

    /// The segment with base offset `base_offset`.
    pub fn segment(&self, base_offset: i64) -> Option<&Segment<T>> {
        let i = self
            .segments
            .binary_search_by_key(&base_offset, Segment::base_offset)
            .ok()?;
        self.segments.get(i)
    }

    /// Base offset of the active segment (the newest, appended to).
    pub fn active_base_offset(&self) -> i64 {
        self.segments
            .last()
            .map_or(self.log_start_offset, Segment::base_offset)
    }

    /// Number of segments (at least one).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The segments, oldest first; the last is active.
    pub fn segments(&self) -> &[Segment<T>] {
        &self.segments
    }

    /// Bytes of record batches in every segment (Kafka's `Log.size`, as `retention.bytes`
    /// measures it).
    pub fn size_bytes(&self) -> u64 {
        self.sealed_bytes + self.segments.last().map_or(0, |s| s.len_bytes() as u64)
    }

    /// Whole batches from the one holding `offset`, up to `max_bytes` but at least one batch
    /// (KIP-74), within one segment (ask again from the next offset for more). `Ok(None)` at the
    /// log end; OFFSET_OUT_OF_RANGE below the start or past the end; [`LogError::SegmentClosed`]
    /// when the segment holding `offset` is closed.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Option<ReadSlice>, LogError> {
        self.read_below(offset, max_bytes, i64::MAX)
    }

    /// [`PartitionLog::read`] of the batches that end below `below` only (the last stable
    /// offset of a READ_COMMITTED fetch): `Ok(None)` when the batch holding `offset` reaches it.
    pub fn read_below(
        &self,
        offset: i64,
        max_bytes: usize,
        below: i64,
    ) -> Result<Option<ReadSlice>, LogError> {
        if offset < self.log_start_offset || offset > self.log_end_offset() {
            return Err(LogError::OffsetOutOfRange);
        }
        if offset >= below {
            return Ok(None);
        }
        // The segment whose base is the greatest at or below `offset`; later ones if it ends
        // before `offset` (a gap between segments).
        let first = self
            .segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        for segment in &self.segments[first..] {
            if offset < segment.next_offset() && !segment.is_open() {
                return Err(closed(segment));
            }
            if let Some((start, len, next_offset)) = segment.read_below(offset, max_bytes, below) {
                if len == 0 {
                    return Ok(None);
                }
                return Ok(Some(ReadSlice {
                    segment_base_offset: segment.base_offset(),
                    start,
                    len,
                    next_offset,
                }));
            }
        }
        Ok(None)
    }

    /// The offset bounding the aborted transactions a READ_COMMITTED fetch of `slice` reports,
    /// as Kafka's `LocalLog.addAbortedTransactions` finds it: from the segment's sparse offset
    /// index past the data read, else the next segment's base offset, else the log end offset.
    /// At least the offset after the data, so every transaction the data holds is reported;
    /// Kafka reports some beyond it too, which consumers ignore.
    pub fn fetch_upper_bound(&self, slice: &ReadSlice) -> i64 {
        let i = self
            .segments
            .partition_point(|s| s.base_offset() <= slice.segment_base_offset);
        let end = slice.start as usize + slice.len as usize;
        let indexed = i
            .checked_sub(1)
            .and_then(|i| self.segments.get(i))
            .filter(|s| s.is_open() && s.base_offset() == slice.segment_base_offset)
            .and_then(|s| s.indexed_offset_from(end));
        let bound = match (indexed, self.segments.get(i)) {
            (Some(offset), _) => offset,
            (None, Some(next)) => next.base_offset(),
            (None, None) => self.log_end_offset(),
        };
        bound.max(slice.next_offset)
    }

    /// `len` bytes from `start` of the segment with base offset `segment_base_offset`, or `None`
    /// if there is no such segment or range, or the segment is closed.
    pub fn segment_bytes(&self, segment_base_offset: i64, start: u32, len: u32) -> Option<&[u8]> {
        let i = self
            .segments
            .binary_search_by_key(&segment_base_offset, Segment::base_offset)
            .ok()?;
        let start = start as usize;
        let segment = &self.segments[i];
        if !segment.is_open() {
            return None;
        }
        segment.data().get(start..start.checked_add(len as usize)?)
    }

    /// `(offset, timestamp)` of the first record at or after the log start offset with a
    /// timestamp at least `ts`, searched from the first batch whose max timestamp is at least `ts`
    /// (ListOffsets by timestamp). [`LogError::SegmentClosed`] when a segment it must read is
    /// closed.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        let start = self.log_start_offset;
        for segment in &self.segments {
            // Only a segment that may hold such a record is read (as `find_timestamp` decides).
            if segment.max_timestamp_at_least(ts) && segment.next_offset() > start {
                if !segment.is_open() {
                    return Err(closed(segment));
                }
                if let Some(found) = segment.find_timestamp(ts, start) {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    /// `(timestamp, offset)` of the record with the largest timestamp (ListOffsets -3); the
    /// earliest segment wins a tie, as in Kafka. [`LogError::SegmentClosed`] when that segment
    /// is closed (its record is read to find the offset).
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<&Segment<T>> = None;
        for segment in &self.segments {
            let Some(ts) = segment.max_timestamp_value() else {
                continue;
            };
            if best
                .and_then(Segment::max_timestamp_value)
                .is_none_or(|b| ts > b)
            {
                best = Some(segment);
            }
        }
        match best {
            None => Ok(None),
            Some(segment) if !segment.is_open() => Err(closed(segment)),
            Some(segment) => Ok(segment.max_timestamp()),
        }
    }
}

fn closed<T: AsRef<[u8]>>(segment: &Segment<T>) -> LogError {
    LogError::SegmentClosed {
        base_offset: segment.base_offset(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::records::{BatchBuilder, RecordBatch};
    use crate::storage::{MemorySegment, MemoryStorage};
    use alloc::vec;

    const SEGMENT: usize = 2_000;

    /// The log recovered from `found`, every segment opened again to be read directly.
    pub(crate) fn recovered(
        found: Vec<FoundSegment<MemorySegment>>,
        what: &str,
    ) -> PartitionLog<MemorySegment> {
        let mut storage = MemoryStorage::default();
        let mut log = PartitionLog::open(found, &mut storage).expect(what);
        assert!(
            log.segments().iter().all(|s| !s.is_open()),
            "recovered closed"
        );
        log.open_all(&mut storage).expect("opens");
        log
    }

    /// A batch of `n` records with timestamps `ts, ts+1, ...` and 100-byte values.
    fn batch(n: usize, ts: i64) -> Vec<u8> {
        let mut b = BatchBuilder::new(0);
        for i in 0..n {
            b.push(ts + i as i64, Some(b"key"), Some(&[i as u8; 100]), &[]);
        }
        b.finish()
    }

    fn log_with(batches: &[Vec<u8>]) -> (PartitionLog<MemorySegment>, MemoryStorage) {
        let mut storage = MemoryStorage::default();
        let mut log = PartitionLog::new(MemorySegment::new(SEGMENT), 0);
        for b in batches {
            log.append(&mut storage, "t", 0, b, SEGMENT, 0)
                .expect("append");
        }
        let n = log.segments.len();
        assert!(
            log.segments[..n - 1].iter().all(|s| !s.is_open()),
            "a roll closes the segment it seals"
        );
        // Opened again to be read here.
        log.open_all(&mut storage).expect("opens");
        (log, storage)
    }

    /// Every record offset read back through `read` and `segment_bytes`, in order.
    fn read_all(log: &PartitionLog<MemorySegment>, max_bytes: usize) -> Vec<i64> {
        let mut offsets = Vec::new();
        let mut next = log.log_start_offset();
        for _ in 0..10_000 {
            let Some(slice) = log.read(next, max_bytes).expect("in range") else {
                break;
            };
            let mut bytes = log
                .segment_bytes(slice.segment_base_offset, slice.start, slice.len)
                .expect("slice exists");
            while !bytes.is_empty() {
                let b = RecordBatch::new_checked(bytes).expect("whole, valid batches");
                offsets.extend(b.base_offset()..=b.last_offset());
                next = b.last_offset() + 1;
                bytes = &bytes[b.total_len()..];
            }
        }
        offsets
    }

    #[test]
    fn a_closed_segment_is_reported_never_read_as_empty() {
        let batches: Vec<_> = (0..30).map(|i| batch(1, i)).collect();
        let (mut log, mut storage) = log_with(&batches);
        let first = log.segments[0].base_offset();
        let second = log.segments[1].base_offset();
        log.close_all(&mut storage).expect("closes");
        let closed = Err(LogError::SegmentClosed { base_offset: first });
        assert_eq!(log.read(0, 100).map(|_| ()), closed);
        assert_eq!(log.offset_for_timestamp(0).map(|_| ()), closed);
        assert_eq!(log.segment_bytes(first, 0, 1), None);
        let in_second = Err(LogError::SegmentClosed {
            base_offset: second,
        });
        assert_eq!(log.read(second, 100).map(|_| ()), in_second);
        let active = log.active_base_offset();
        assert_eq!(
            log.max_timestamp().map(|_| ()),
            Err(LogError::SegmentClosed {
                base_offset: active
            })
        );
        assert_eq!(
            log.append(&mut storage, "t", 0, &batch(1, 0), SEGMENT, 0),
            Err(LogError::SegmentClosed {
                base_offset: active
            })
        );
        // Opened again, everything reads as before, and the log end did not move.
        assert_eq!(log.open_segment(&mut storage, first), Ok(true));
        assert_eq!(log.open_segment(&mut storage, first), Ok(false), "open");
        assert!(log.read(0, 100).expect("reads").is_some());
        log.open_all(&mut storage).expect("opens");
        assert_eq!(read_all(&log, 1 << 20), (0..30).collect::<Vec<_>>());
    }

    #[test]
    fn empty_log() {
        let (log, _) = log_with(&[]);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
        assert_eq!(log.read(0, 100), Ok(None));
        assert_eq!(log.read(1, 100), Err(LogError::OffsetOutOfRange));
        assert_eq!(
            log.read(-1, 100).map_err(|e| e.error_code()),
            Err(ErrorCode::OffsetOutOfRange)
        );
        assert_eq!(log.offset_for_timestamp(0), Ok(None));
        assert_eq!(log.max_timestamp(), Ok(None));
    }

    #[test]
    fn appends_roll_segments_and_every_offset_reads_back() {
        let batches: Vec<_> = (0..30)
            .map(|i| batch(1 + i % 4, 1_000 * i as i64))
            .collect();
        let (mut log, mut storage) = log_with(&batches);
        let total: usize = (0..30).map(|i| 1 + i % 4).sum();
        assert_eq!(log.log_end_offset(), total as i64);
        assert!(log.segment_count() > 3, "segments rolled");
        // Sealed segments were trimmed to their data.
        for s in &log.segments[..log.segments.len() - 1] {
            assert_eq!(s.capacity_bytes(), s.len_bytes());
        }
        let all: Vec<i64> = (0..total as i64).collect();
        assert_eq!(read_all(&log, 1), all, "one batch at a time (KIP-74)");
        assert_eq!(read_all(&log, 1 << 20), all, "a segment at a time");
        // A read starting at any offset starts with the batch holding it.
        for o in 0..total as i64 {
            let slice = log.read(o, 0).expect("in range").expect("data");
            let bytes = log
                .segment_bytes(slice.segment_base_offset, slice.start, slice.len)
                .expect("bytes");
            let b = RecordBatch::new_checked(bytes).expect("valid");
            assert!(b.base_offset() <= o && o <= b.last_offset());
            assert_eq!(
                b.total_len(),
                bytes.len(),
                "max_bytes 0 still returns one whole batch"
            );
        }
        // Appends go on after the last offset, and info says where.
        let info = log
            .append(&mut storage, "t", 0, &batch(2, 0), SEGMENT, 0)
            .expect("append");
        assert_eq!(
            (info.base_offset, info.last_offset, info.log_append_time_ms),
            (total as i64, total as i64 + 1, -1)
        );
        assert_eq!(log.segment_bytes(0, 0, u32::MAX), None);
        assert_eq!(log.segment_bytes(12_345, 0, 1), None);
    }

    #[test]
    fn segment_ms_and_a_smaller_segment_size_roll_the_active_segment() {
        let mut storage = MemoryStorage::default();
        let mut log = PartitionLog::new(MemorySegment::new(SEGMENT), 0);
        let at = |unix_ms, segment_size, segment_ms| AppendAt {
            segment_size,
            segment_ms,
            unix_ms,
            log_append_time: false,
        };
        let mut append = |log: &mut PartitionLog<_>, b: &[u8], at| {
            log.append_at(&mut storage, "t", 0, b, at).expect("append");
            log.segments()
                .iter()
                .map(|s| s.base_offset())
                .collect::<Vec<_>>()
        };
        // By the records' timestamps: rolled once the newest is more than segment.ms after the
        // segment's first, whatever the wall clock says; never while the segment is empty.
        assert_eq!(append(&mut log, &batch(1, 1_000), at(0, SEGMENT, 1)), [0]);
        assert_eq!(append(&mut log, &batch(1, 1_100), at(0, SEGMENT, 100)), [0]);
        assert_eq!(
            append(&mut log, &batch(1, 1_101), at(0, SEGMENT, 100)),
            [0, 2]
        );
        assert_eq!(
            append(&mut log, &batch(1, 1_000), at(99_999, SEGMENT, 100)),
            [0, 2]
        );
        // Records without timestamps (-1) age by the wall clock since the segment's first append.
        let mut log = PartitionLog::new(MemorySegment::new(SEGMENT), 0);
        assert_eq!(
            append(&mut log, &batch(1, -1), at(5_000, SEGMENT, 100)),
            [0]
        );
        assert_eq!(
            append(&mut log, &batch(1, -1), at(5_100, SEGMENT, 100)),
            [0]
        );
        assert_eq!(
            append(&mut log, &batch(1, -1), at(5_101, SEGMENT, 100)),
            [0, 2]
        );
        assert_eq!(
            append(&mut log, &batch(1, -1), at(5_201, SEGMENT, 100)),
            [0, 2]
        );
        assert_eq!(
            append(&mut log, &batch(1, -1), at(5_202, SEGMENT, 100)),
            [0, 2, 4]
        );
        // segment.bytes made smaller than the active segment was created with: the batch that
        // would take it past the new size rolls it, and the new segment has the new size.
        let len = batch(1, 0).len();
        let small = 2 * len;
        assert_eq!(
            append(&mut log, &batch(1, 0), at(5_202, small, i64::MAX)),
            [0, 2, 4]
        );
        assert_eq!(
            append(&mut log, &batch(1, 0), at(5_202, small, i64::MAX)),
            [0, 2, 4, 6]
        );
        assert_eq!(
            log.segments().last().map(|s| s.capacity_bytes()),
            Some(small)
        );
    }

    #[test]
    fn several_batches_in_one_append_and_too_large_batches() {
        let mut two = batch(2, 0);
        two.extend_from_slice(&batch(3, 10));
        let (mut log, mut storage) = log_with(&[two]);
        assert_eq!(log.log_end_offset(), 5);
        let huge = batch(50, 0);
        assert!(huge.len() > SEGMENT);
        let err = log
            .append(&mut storage, "t", 0, &huge, SEGMENT, 0)
            .expect_err("too large");
        assert_eq!(err.error_code(), ErrorCode::RecordListTooLarge);
        assert_eq!(log.log_end_offset(), 5, "nothing written");
        let err = log
            .append(&mut storage, "t", 0, &batch(1, 0)[..70], SEGMENT, 0)
            .expect_err("torn");
        assert_eq!(err.error_code(), ErrorCode::CorruptMessage);
        assert!(log.append(&mut storage, "t", 0, &[], SEGMENT, 0).is_err());
    }

    #[test]
    fn offsets_by_timestamp() {
        // Timestamps out of order across batches: 5000.., 1000.., 9000.., 3000..
        let batches: Vec<_> = [5_000, 1_000, 9_000, 3_000]
            .iter()
            .map(|&t| batch(3, t))
            .collect();
        let (log, _) = log_with(&batches);
        assert_eq!(log.offset_for_timestamp(0), Ok(Some((0, 5_000))));
        assert_eq!(log.offset_for_timestamp(5_001), Ok(Some((1, 5_001))));
        assert_eq!(log.offset_for_timestamp(5_003), Ok(Some((6, 9_000))));
        assert_eq!(log.offset_for_timestamp(9_002), Ok(Some((8, 9_002))));
        assert_eq!(log.offset_for_timestamp(9_003), Ok(None));
        assert_eq!(log.max_timestamp(), Ok(Some((9_002, 8))));
        // Nothing below the log start offset is found (Kafka searches from it).
        let mut log = log;
        log.raise_log_start_offset(4).expect("in range");
        assert_eq!(log.offset_for_timestamp(0), Ok(Some((4, 1_001))));
        assert_eq!(log.offset_for_timestamp(5_001), Ok(Some((6, 9_000))));
    }

    /// The log's segments as a restart after a crash finds them, the newest changed by `last`
    /// (given its bytes and data length) and growable to `SEGMENT` bytes.
    fn reopen(
        log: &PartitionLog<MemorySegment>,
        last: impl Fn(&mut Vec<u8>, usize),
    ) -> PartitionLog<MemorySegment> {
        let n = log.segments.len();
        let found = log
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut bytes = s.buffer().clone().into_bytes();
                if i + 1 == n {
                    last(&mut bytes, s.len_bytes());
                }
                FoundSegment {
                    base_offset: s.base_offset(),
                    segment: MemorySegment::from_bytes(bytes, SEGMENT),
                    recovery: if i + 1 < n {
                        Recovery::HeadersTrusted
                    } else {
                        Recovery::Checked
                    },
                }
            })
            .collect();
        recovered(found, "recovers")
    }

    #[test]
    fn recovery_after_a_clean_shutdown_and_after_crashes() {
        let batches: Vec<_> = (0..12).map(|i| batch(2, i * 10)).collect();
        let (mut log, mut storage) = log_with(&batches);
        let end = log.log_end_offset();
        let active_start = log
            .segments
            .last()
            .map(|s| s.base_offset())
            .expect("segment");
        let batch_len = batches[0].len();

        // Crash with nothing wrong: everything back.
        let same = reopen(&log, |_, _| {});
        assert_eq!(same.log_end_offset(), end);
        assert_eq!(read_all(&same, 1 << 20), (0..end).collect::<Vec<_>>());

        // A torn last batch: cut in the middle (the rest never reached the disk).
        let torn = reopen(&log, |b, len| b[len - batch_len / 2..].fill(0));
        assert_eq!(torn.log_end_offset(), end - 2);
        // A flipped CRC byte in the last batch.
        let flipped = reopen(&log, |b, len| b[len - batch_len + 18] ^= 0xff);
        assert_eq!(flipped.log_end_offset(), end - 2);
        // Garbage after the end (zeros of a preallocated tail, then stale bytes) is cut off.
        let mut garbage = reopen(&log, |b, _| {
            b.extend_from_slice(&[0; 100]);
            b.extend_from_slice(&[0xab; 100]);
        });
        assert_eq!(garbage.log_end_offset(), end);
        let active = garbage.segments.last().expect("segment");
        assert_eq!(active.buffer().as_ref().len(), active.len_bytes());
        // A middle batch damaged: the data ends before it, and later batches are gone for good.
        let mid = reopen(&log, |b, _| b[batch_len + 30] ^= 1);
        assert_eq!(mid.log_end_offset(), active_start + 2);
        let active = mid.segments.last().expect("segment");
        assert_eq!(active.buffer().as_ref().len(), batch_len);
        // Appends go on after a recovery.
        garbage
            .append(&mut storage, "t", 0, &batch(1, 0), SEGMENT, 0)
            .expect("append");
        assert_eq!(garbage.log_end_offset(), end + 1);

        // A clean shutdown: the active segment trimmed, reopened with its length.
        log.seal_active(&mut storage).expect("seal");
        let found = log
            .segments
            .iter()
            .map(|s| FoundSegment {
                base_offset: s.base_offset(),
                segment: s.buffer().clone(),
                recovery: Recovery::HeadersTrusted,
            })
            .collect();
        let clean = recovered(found, "recovers");
        assert_eq!(clean.log_end_offset(), end);
        assert_eq!(clean.size_bytes(), log.size_bytes());
        assert_eq!(same.size_bytes(), log.size_bytes());
        assert_eq!(clean.max_timestamp(), log.max_timestamp());
    }

    #[test]
    fn open_refuses_nothing_and_overlaps() {
        assert_eq!(
            PartitionLog::<MemorySegment>::open(Vec::new(), &mut MemoryStorage::default()).err(),
            Some(LogError::NoSegments)
        );
        let (log, _) = log_with(&[batch(3, 0)]);
        let seg = |base| FoundSegment {
            base_offset: base,
            segment: log.segments[0].buffer().clone(),
            recovery: Recovery::Checked,
        };
        assert_eq!(
            PartitionLog::open(vec![seg(0), seg(2)], &mut MemoryStorage::default()).err(),
            Some(LogError::OverlappingSegments { base_offset: 2 })
        );
        // A base offset past the data recovers as empty, not as the old offsets.
        let later = recovered(vec![seg(10)], "opens");
        assert_eq!(later.log_end_offset(), 10);
    }

    #[test]
    fn an_empty_segment_left_by_a_failed_roll_is_skipped() {
        let (log, mut storage) = log_with(&[batch(3, 0)]);
        let found = |base| FoundSegment {
            base_offset: base,
            segment: MemorySegment::new(SEGMENT),
            recovery: Recovery::Checked,
        };
        let data = FoundSegment {
            base_offset: 0,
            segment: log.segments[0].buffer().clone(),
            recovery: Recovery::Checked,
        };
        // A roll at offset 1 failed after making its file; the log went on to offset 3.
        let mut reopened = recovered(vec![data, found(1)], "opens");
        assert_eq!(reopened.log_end_offset(), 3);
        assert_eq!(reopened.segment_count(), 1);
        reopened
            .append(&mut storage, "t", 0, &batch(1, 0), SEGMENT, 0)
            .expect("appends go on");
        assert_eq!(read_all(&reopened, 1 << 20), vec![0, 1, 2, 3]);
    }
}
