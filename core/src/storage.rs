//! What `core` asks of the runtime for durable state: segment buffers and small metadata files.
//!
//! A server maps files (`memmap2`) and writes them with `pwrite`; a test or another runtime hands
//! out [`MemorySegment`]s. Calls are synchronous and cheap: creating a segment makes an empty file.
//!
//! A segment is open (a file descriptor and a mapping on a server) only while `core` uses it:
//! recovery opens one at a time, and the broker keeps at most `max_open_segments` open, closing
//! the least recently used ([`Storage::close_segment`]) and opening it again when it is next
//! read or written ([`Storage::open_segment`]). A closed segment keeps its length, offsets and
//! indexes in `core`, so it is never taken for an empty one.
//!
//! A segment buffer holds what was written to it and nothing more: it grows with each write up to
//! its capacity, so reading it never touches space that was only reserved, and a write that cannot
//! be stored (a full disk) comes back as a [`StorageError`], never as a signal.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::ErrorCode;

/// What kind of fault the runtime met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// No space left on the device, or a quota reached (ENOSPC, EDQUOT).
    NoSpace,
    /// The device or file system failed (EIO and every other OS error).
    Io,
    /// A file the broker expected is gone.
    NotFound,
    /// Stored bytes do not hold what the broker wrote (a bad file name, a metadata file that
    /// does not parse).
    Corrupt,
    /// The broker asked for something the storage cannot do (a write past a segment's
    /// capacity, a partition name that would leave the data directory): a bug, not a fault.
    Invalid,
}

/// Why the runtime could not do what `core` asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError {
    /// What kind of fault it was.
    pub kind: StorageErrorKind,
    /// What failed, with the path and the OS error, for the log.
    pub reason: String,
}

impl StorageError {
    /// An error of `kind`, described by `reason`.
    pub fn new(kind: StorageErrorKind, reason: impl Into<String>) -> Self {
        StorageError {
            kind,
            reason: reason.into(),
        }
    }

    /// The Kafka error code a request touching the failed partition gets: Kafka takes a log
    /// directory with a fault offline and answers KAFKA_STORAGE_ERROR for its partitions, which
    /// clients retry. A missing file means the partition is gone.
    pub fn error_code(&self) -> ErrorCode {
        match self.kind {
            StorageErrorKind::NotFound => ErrorCode::UnknownTopicOrPartition,
            StorageErrorKind::NoSpace
            | StorageErrorKind::Io
            | StorageErrorKind::Corrupt
            | StorageErrorKind::Invalid => ErrorCode::KafkaStorageError,
        }
    }
}

impl core::fmt::Display for StorageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A partition's existing segments as the runtime found them at startup, oldest first.
#[derive(Debug)]
pub struct FoundPartition<S> {
    /// Topic name (from the directory name `<topic>-<partition>`).
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The segments, ascending by base offset.
    pub segments: Vec<FoundSegment<S>>,
    /// The partition's metadata file as last written by [`Storage::write_metadata`], if any.
    pub metadata: Option<Vec<u8>>,
    /// The partition's transaction index as [`Storage::append_transaction_index`] and
    /// [`Storage::write_transaction_index`] left it (a power loss may have torn its tail), if
    /// the partition has one: most never had a transaction and have none.
    pub transaction_index: Option<Vec<u8>>,
}

/// One segment file found at startup.
#[derive(Debug)]
pub struct FoundSegment<S> {
    /// The base offset its file name carries.
    pub base_offset: i64,
    /// Its bytes, as long as its file, once opened with [`Storage::open_segment`] (it may come
    /// closed). The newest segment of a partition grows to `segment_size` so appends can go on,
    /// older ones stay at their length.
    pub segment: S,
    /// How much of its bytes recovery may trust.
    pub recovery: Recovery,
}

/// How a found segment is recovered: how much of its bytes are trusted without a CRC check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// After a crash: every batch's CRC is checked from the start and a torn tail is cut off.
    Checked,
    /// After a clean shutdown: the batch headers are walked to rebuild the indexes.
    HeadersTrusted,
    /// A recovery checkpoint vouches for the first `len_bytes` bytes, durable before it was
    /// written: they are not read at all; only what follows is CRC-checked.
    Known(SegmentSummary),
}

/// What a segment's first `len_bytes` bytes hold, as a recovery checkpoint records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Bytes of whole batches from the segment's start.
    pub len_bytes: u64,
    /// The offset after the last batch in them.
    pub next_offset: i64,
    /// Largest batch max timestamp in them, or -1.
    pub max_timestamp: i64,
    /// Position of the batch holding `max_timestamp` (0 when it is -1).
    pub max_timestamp_position: u32,
    /// Wall-clock milliseconds of the segment's last write, or -1 if unknown.
    pub modified_ms: i64,
}

/// A segment's bytes: read in place, written at the end as batches arrive.
///
/// [`AsRef::as_ref`] is what was written so far (after a crash, possibly with a torn tail that
/// recovery cuts with [`SegmentBuffer::truncate`]); it never includes space only reserved.
pub trait SegmentBuffer: AsRef<[u8]> {
    /// Bytes the segment may grow to.
    fn capacity_bytes(&self) -> usize;

    /// Write `head` and then `tail` at `position`, which is at most the current length; the
    /// buffer grows to hold them, within its capacity. On an error nothing past the old length
    /// is kept.
    fn write_at(&mut self, position: usize, head: &[u8], tail: &[u8]) -> Result<(), StorageError>;

    /// Keep only the first `len_bytes` bytes (recovery cutting a torn tail).
    fn truncate(&mut self, len_bytes: usize) -> Result<(), StorageError>;
}

/// A segment in memory: a `Vec<u8>` that grows with what is written, up to a capacity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemorySegment {
    bytes: Vec<u8>,
    capacity_bytes: usize,
}

impl MemorySegment {
    /// An empty segment that may grow to `capacity_bytes`.
    pub fn new(capacity_bytes: usize) -> Self {
        MemorySegment {
            bytes: Vec::new(),
            capacity_bytes,
        }
    }

    /// A segment holding `bytes` (as found after a restart), growable to `capacity_bytes` or
    /// its length, whichever is larger.
    pub fn from_bytes(bytes: Vec<u8>, capacity_bytes: usize) -> Self {
        let capacity_bytes = capacity_bytes.max(bytes.len());
        MemorySegment {
            bytes,
            capacity_bytes,
        }
    }

    /// Its bytes, taken out (to simulate a restart over them).
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl AsRef<[u8]> for MemorySegment {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl SegmentBuffer for MemorySegment {
    fn capacity_bytes(&self) -> usize {
        self.capacity_bytes
    }

    fn write_at(&mut self, position: usize, head: &[u8], tail: &[u8]) -> Result<(), StorageError> {
        let end = position
            .checked_add(head.len() + tail.len())
            .filter(|&end| position <= self.bytes.len() && end <= self.capacity_bytes)
            .ok_or_else(|| {
                StorageError::new(
                    StorageErrorKind::Invalid,
                    alloc::format!(
                        "write at {position} of {} bytes: the segment holds {} of {}",
                        head.len() + tail.len(),
                        self.bytes.len(),
                        self.capacity_bytes
                    ),
                )
            })?;
        if end > self.bytes.len() {
            self.bytes.resize(end, 0);
        }
        let middle = position + head.len();
        self.bytes[position..middle].copy_from_slice(head);
        self.bytes[middle..end].copy_from_slice(tail);
        Ok(())
    }

    fn truncate(&mut self, len_bytes: usize) -> Result<(), StorageError> {
        self.bytes.truncate(len_bytes);
        Ok(())
    }
}

/// Durable storage provided by the runtime.
pub trait Storage {
    /// A segment's bytes: a writable memory map on a server, a `Vec<u8>` in tests.
    type Segment: SegmentBuffer;

    /// Every partition stored, with its segments oldest first, for
    /// [`crate::broker::Broker::new`] to recover: the newest segment of each growable to
    /// `segment_size_bytes` so appends go on, older ones sealed at their length. The segments
    /// may come closed (no file open, nothing mapped): recovery opens each in turn with
    /// [`Storage::open_segment`] and closes it again, so ten thousand partitions never hold ten
    /// thousand files open.
    fn recover(
        &mut self,
        segment_size_bytes: usize,
    ) -> Result<Vec<FoundPartition<Self::Segment>>, StorageError>;

    /// Create the segment `<topic>-<partition>/<base_offset>.log`, empty, growable to
    /// `capacity_bytes`.
    fn create_segment(
        &mut self,
        topic: &str,
        partition: i32,
        base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<Self::Segment, StorageError>;

    /// Make a closed segment's bytes readable and writable again (open and map its file), as
    /// long as its file: `core` closes segments it has not used lately, and every segment
    /// [`Storage::recover`] hands over may come closed. Opening an open segment changes nothing.
    ///
    /// A storage that holds segments in memory may keep them open all along: the default does
    /// nothing.
    fn open_segment(&mut self, _segment: &mut Self::Segment) -> Result<(), StorageError> {
        Ok(())
    }

    /// Release a segment's file descriptor and mapping; its bytes stay stored, and `core`
    /// neither reads nor writes the buffer until [`Storage::open_segment`] opens it again. A
    /// closed segment may still be sealed ([`Storage::seal_segment`]) or deleted.
    fn close_segment(&mut self, _segment: &mut Self::Segment) -> Result<(), StorageError> {
        Ok(())
    }

    /// The segment is full or the broker is stopping: keep only its first `len_bytes` bytes and
    /// let it grow no more. A closed segment's file already holds exactly what was written.
    fn seal_segment(
        &mut self,
        segment: &mut Self::Segment,
        len_bytes: usize,
    ) -> Result<(), StorageError>;

    /// Create `<topic>-<partition>/<base_offset>.cleaned`, empty, growable to
    /// `capacity_bytes`: the log cleaner's rewrite of segment `base_offset`, not part of the log
    /// until [`Storage::replace_segment`] puts it in place (a file a crash leaves is removed at
    /// recovery). The default refuses: a storage without it is never compacted.
    fn create_cleaned_segment(
        &mut self,
        topic: &str,
        partition: i32,
        base_offset: i64,
        _capacity_bytes: usize,
    ) -> Result<Self::Segment, StorageError> {
        Err(StorageError::new(
            StorageErrorKind::Invalid,
            alloc::format!("{topic}-{partition}: cannot clean {base_offset}: no compaction here"),
        ))
    }

    /// Put `cleaned`, sealed at `len_bytes`, in place of segment `old` (same partition and base
    /// offset), atomically and durably: after a crash at any point the partition holds either
    /// all of `old` or all of `cleaned`. On success `core` drops `old`'s buffer without another
    /// call; on an error both stay as they were.
    fn replace_segment(
        &mut self,
        _old: &mut Self::Segment,
        _cleaned: &mut Self::Segment,
        _len_bytes: usize,
    ) -> Result<(), StorageError> {
        Err(StorageError::new(
            StorageErrorKind::Invalid,
            "no compaction here",
        ))
    }

    /// Replace the partition's metadata file with `bytes`, atomically.
    fn write_metadata(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError>;

    /// Remove the partition's directory and everything in it.
    fn delete_partition(&mut self, topic: &str, partition: i32) -> Result<(), StorageError>;

    /// Delete a segment that left the log (retention or DeleteRecords): release its buffer
    /// (unmap it), then remove its file. The log has already forgotten it.
    fn delete_segment(&mut self, segment: Self::Segment) -> Result<(), StorageError>;

    /// Record the partition's log start offset, raised by DeleteRecords above its first
    /// segment's base offset: replace the partition's log start offset file atomically and
    /// durably, before any segment below the offset is deleted.
    fn write_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), StorageError>;

    /// The offset [`Storage::write_log_start_offset`] last recorded for the partition, if any.
    fn read_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, StorageError>;

    /// Append `bytes` (whole entries, see docs/format.md) to the partition's transaction index,
    /// creating it. As durable as segment bytes when this returns: a process crash keeps them,
    /// a power loss may take or tear the newest. On an error part of `bytes` may be stored; the
    /// broker then replaces the file ([`Storage::write_transaction_index`]) before appending.
    /// [`Storage::recover`] hands the file back in [`FoundPartition::transaction_index`].
    fn append_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError>;

    /// Replace the partition's transaction index with `bytes`, atomically and durably (a crash
    /// leaves the old file or the new one); empty `bytes` remove it. Deleting the partition
    /// removes it too.
    fn write_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError>;

    /// Replace the recovery checkpoint with `bytes` (see [`crate::log::checkpoint`]), which
    /// vouches for segment bytes written before this call. The runtime must make those bytes
    /// durable before the checkpoint is, and may do both later, off the caller's thread; a newer
    /// checkpoint may replace one not yet written. A storage that keeps none drops it: without a
    /// checkpoint recovery checks segments as before, which is always correct.
    fn write_recovery_checkpoint(&mut self, _bytes: &[u8]) -> Result<(), StorageError> {
        Ok(())
    }

    /// The recovery checkpoint as last written durably, if any (read once, at startup).
    fn read_recovery_checkpoint(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(None)
    }

    /// Replace the broker's dynamic settings (see `broker/dynamic_configs.rs`) with `bytes`,
    /// atomically and durably: they are acknowledged once this returns.
    fn write_broker_configs(&mut self, bytes: &[u8]) -> Result<(), StorageError>;

    /// The dynamic settings as last written, if any (read once, at startup).
    fn read_broker_configs(&mut self) -> Result<Option<Vec<u8>>, StorageError>;

    /// Replace the log cleaner's checkpoint (what its passes have cleaned) with `bytes`. Losing
    /// it costs only cleaning again: no sync is needed. Kept nowhere by default.
    fn write_cleaner_checkpoint(&mut self, _bytes: &[u8]) -> Result<(), StorageError> {
        Ok(())
    }

    /// The log cleaner's checkpoint as last written, if any (read once, at startup).
    fn read_cleaner_checkpoint(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(None)
    }

    /// The broker stops: finish background work, so that every checkpoint handed to
    /// [`Storage::write_recovery_checkpoint`] is written (or its failure returned).
    fn close(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Storage in memory: segments are [`MemorySegment`]s, nothing survives the process. Closing a
/// segment keeps its bytes where they are (there is no descriptor to give back), so
/// [`Storage::open_segment`] and [`Storage::close_segment`] do nothing.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    /// Every metadata file written, by `(topic, partition)`.
    pub metadata: alloc::collections::BTreeMap<(String, i32), Vec<u8>>,
    /// Every log start offset recorded, by `(topic, partition)`.
    pub log_start_offsets: alloc::collections::BTreeMap<(String, i32), i64>,
    /// Segments deleted so far.
    pub segments_deleted: usize,
    /// What [`Storage::recover`] hands the broker: a test fills it to simulate a restart.
    pub found: Vec<FoundPartition<MemorySegment>>,
    /// The recovery checkpoint last written.
    pub recovery_checkpoint: Option<Vec<u8>>,
    /// Recovery checkpoints written so far.
    pub recovery_checkpoints_written: usize,
    /// Segments the log cleaner replaced.
    pub segments_replaced: usize,
    /// The dynamic broker settings last written.
    pub broker_configs: Option<Vec<u8>>,
    /// The log cleaner's checkpoint last written.
    pub cleaner_checkpoint: Option<Vec<u8>>,
    /// Every transaction index, by `(topic, partition)`.
    pub transaction_indexes: alloc::collections::BTreeMap<(String, i32), Vec<u8>>,
}

impl Storage for MemoryStorage {
    type Segment = MemorySegment;

    fn recover(
        &mut self,
        _segment_size_bytes: usize,
    ) -> Result<Vec<FoundPartition<MemorySegment>>, StorageError> {
        Ok(core::mem::take(&mut self.found))
    }

    fn create_segment(
        &mut self,
        _topic: &str,
        _partition: i32,
        _base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<MemorySegment, StorageError> {
        Ok(MemorySegment::new(capacity_bytes))
    }

    fn seal_segment(
        &mut self,
        segment: &mut MemorySegment,
        len_bytes: usize,
    ) -> Result<(), StorageError> {
        segment.bytes.truncate(len_bytes);
        segment.capacity_bytes = segment.bytes.len();
        Ok(())
    }

    fn write_metadata(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        self.metadata
            .insert((String::from(topic), partition), bytes.to_vec());
        Ok(())
    }

    fn delete_partition(&mut self, topic: &str, partition: i32) -> Result<(), StorageError> {
        let key = (String::from(topic), partition);
        self.metadata.remove(&key);
        self.log_start_offsets.remove(&key);
        self.transaction_indexes.remove(&key);
        Ok(())
    }

    fn delete_segment(&mut self, segment: MemorySegment) -> Result<(), StorageError> {
        drop(segment);
        self.segments_deleted += 1;
        Ok(())
    }

    fn write_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), StorageError> {
        self.log_start_offsets
            .insert((String::from(topic), partition), offset);
        Ok(())
    }

    fn read_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, StorageError> {
        Ok(self
            .log_start_offsets
            .get(&(String::from(topic), partition))
            .copied())
    }

    fn append_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        self.transaction_indexes
            .entry((String::from(topic), partition))
            .or_default()
            .extend_from_slice(bytes);
        Ok(())
    }

    fn write_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        let key = (String::from(topic), partition);
        if bytes.is_empty() {
            self.transaction_indexes.remove(&key);
        } else {
            self.transaction_indexes.insert(key, bytes.to_vec());
        }
        Ok(())
    }

    fn create_cleaned_segment(
        &mut self,
        _topic: &str,
        _partition: i32,
        _base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<MemorySegment, StorageError> {
        Ok(MemorySegment::new(capacity_bytes))
    }

    fn replace_segment(
        &mut self,
        _old: &mut MemorySegment,
        cleaned: &mut MemorySegment,
        len_bytes: usize,
    ) -> Result<(), StorageError> {
        cleaned.truncate(len_bytes)?;
        self.segments_replaced += 1;
        Ok(())
    }

    fn write_recovery_checkpoint(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.recovery_checkpoint = Some(bytes.to_vec());
        self.recovery_checkpoints_written += 1;
        Ok(())
    }

    fn read_recovery_checkpoint(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.recovery_checkpoint.clone())
    }

    fn write_broker_configs(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.broker_configs = Some(bytes.to_vec());
        Ok(())
    }

    fn read_broker_configs(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.broker_configs.clone())
    }

    fn write_cleaner_checkpoint(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.cleaner_checkpoint = Some(bytes.to_vec());
        Ok(())
    }

    fn read_cleaner_checkpoint(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.cleaner_checkpoint.clone())
    }
}
