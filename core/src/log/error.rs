//! Why a log operation failed, and the Kafka error code it answers with.

use crate::error::ErrorCode;
use crate::records::RecordsError;
use crate::storage::StorageError;

/// A failed log operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogError {
    /// The offset is below the log start or above the log end.
    OffsetOutOfRange,
    /// A batch larger than a whole segment (Kafka's `RecordBatchTooLargeException`).
    BatchTooLarge,
    /// The bytes handed to `append` are not v2 batches (they should have been validated).
    InvalidBatch(RecordsError),
    /// The runtime failed to create or seal a segment.
    Storage(StorageError),
    /// `open` was given no segment.
    NoSegments,
    /// Found segments overlap: one holds offsets at or past the next one's base offset.
    OverlappingSegments {
        /// Base offset of the later segment.
        base_offset: i64,
    },
    /// The segment the operation needs is closed: the caller opens it
    /// ([`super::PartitionLog::open_segment`]) and asks again. Never an answer to a client.
    SegmentClosed {
        /// Base offset of the closed segment.
        base_offset: i64,
    },
}

impl LogError {
    /// The Kafka error code for the failure.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            LogError::OffsetOutOfRange => ErrorCode::OffsetOutOfRange,
            LogError::BatchTooLarge => ErrorCode::RecordListTooLarge,
            LogError::InvalidBatch(e) => e.error_code(),
            LogError::Storage(_)
            | LogError::NoSegments
            | LogError::OverlappingSegments { .. }
            | LogError::SegmentClosed { .. } => ErrorCode::KafkaStorageError,
        }
    }
}

impl From<StorageError> for LogError {
    fn from(e: StorageError) -> Self {
        LogError::Storage(e)
    }
}
