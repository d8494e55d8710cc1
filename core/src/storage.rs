//! What `core` asks of the runtime for durable state: segment buffers and small metadata files.
//!
//! A server maps files (`memmap2`); a test or another runtime hands out `Vec<u8>`. Calls are
//! synchronous and cheap: creating a segment only sizes a sparse file and maps it.

use alloc::string::String;
use alloc::vec::Vec;

/// Why the runtime could not do what `core` asked. Maps to `KAFKA_STORAGE_ERROR` on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError {
    /// What failed, for the log.
    pub reason: String,
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
}

/// One segment file found at startup.
#[derive(Debug)]
pub struct FoundSegment<S> {
    /// The base offset its file name carries.
    pub base_offset: i64,
    /// Its bytes. The runtime maps the newest segment of a partition at full `segment_size`
    /// capacity (zero-filled past the data) so appends can go on; older ones at their length.
    pub segment: S,
    /// The data length when the broker shut down cleanly (the file was trimmed to it), so recovery
    /// need not check CRCs; `None` after a crash: recovery scans for the last valid batch.
    pub len_bytes: Option<usize>,
}

/// A segment's bytes: read in place, written at the end as batches arrive.
pub trait SegmentBuffer: AsRef<[u8]> + AsMut<[u8]> {
    /// Write `head` and then `tail` at `position`; both end within the buffer.
    ///
    /// The default copies into [`AsMut::as_mut`]. A runtime whose buffer maps a file may write
    /// through the file instead: a store into a mapped page the process has not written yet costs
    /// a page fault, a write call does not.
    fn write_at(&mut self, position: usize, head: &[u8], tail: &[u8]) -> Result<(), StorageError> {
        let middle = position + head.len();
        let end = middle + tail.len();
        let buffer = self.as_mut();
        if end > buffer.len() {
            return Err(StorageError {
                reason: alloc::format!("write to {end} past the segment's {} bytes", buffer.len()),
            });
        }
        buffer[position..middle].copy_from_slice(head);
        buffer[middle..end].copy_from_slice(tail);
        Ok(())
    }
}

impl SegmentBuffer for Vec<u8> {}

/// Durable storage provided by the runtime.
pub trait Storage {
    /// A segment's bytes: a writable memory map on a server, a `Vec<u8>` in tests.
    type Segment: SegmentBuffer;

    /// Create the segment `<topic>-<partition>/<base_offset>.log` with room for
    /// `capacity_bytes` (zero-filled; sparse where the platform allows).
    fn create_segment(
        &mut self,
        topic: &str,
        partition: i32,
        base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<Self::Segment, StorageError>;

    /// The segment is full or the broker is stopping: keep only its first `len_bytes` bytes.
    fn seal_segment(
        &mut self,
        segment: &mut Self::Segment,
        len_bytes: usize,
    ) -> Result<(), StorageError>;

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
}

/// Storage in memory: segments are `Vec<u8>`, nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    /// Every metadata file written, by `(topic, partition)`.
    pub metadata: alloc::collections::BTreeMap<(String, i32), Vec<u8>>,
    /// Every log start offset recorded, by `(topic, partition)`.
    pub log_start_offsets: alloc::collections::BTreeMap<(String, i32), i64>,
    /// Segments deleted so far.
    pub segments_deleted: usize,
}

impl Storage for MemoryStorage {
    type Segment = Vec<u8>;

    fn create_segment(
        &mut self,
        _topic: &str,
        _partition: i32,
        _base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<Vec<u8>, StorageError> {
        Ok(alloc::vec![0; capacity_bytes])
    }

    fn seal_segment(
        &mut self,
        segment: &mut Vec<u8>,
        len_bytes: usize,
    ) -> Result<(), StorageError> {
        segment.truncate(len_bytes);
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
        Ok(())
    }

    fn delete_segment(&mut self, segment: Vec<u8>) -> Result<(), StorageError> {
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
}
