//! Why record bytes were refused, and the Kafka error code each reason gets.

use crate::error::ErrorCode;

/// What is wrong with record bytes a client sent (or, in recovery, with bytes read back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordsError {
    /// The bytes end before the batch or message they announce does.
    Truncated,
    /// A batch length or message size below the format's minimum (or negative).
    InvalidLength,
    /// A magic byte this broker does not know (only 0, 1 and 2 exist).
    UnknownMagic(i8),
    /// The stored checksum does not match the bytes.
    CrcMismatch,
    /// Compression codec ids 5 to 7 are not assigned.
    UnknownCompression(u8),
    /// A known codec (its attribute id) that the format or version at hand does not allow.
    UnsupportedCompression(u8),
    /// Compressed data that does not decompress.
    Decompression,
    /// Decompressed data larger than the bound the caller allows.
    DecompressedTooLarge,
    /// A record inside a batch is malformed (bad varint, negative length, count mismatch).
    InvalidRecord,
    /// A batch breaks one of Kafka's rules for Produce (offset range, count, control batch from
    /// a client, producer fields).
    InvalidBatch,
    /// A batch (or legacy message) larger than `message.max.bytes`.
    MessageTooLarge,
    /// Produce v3+ must carry exactly one batch, of magic 2.
    InvalidProduceBatches,
    /// No record batch at all.
    Empty,
}

impl RecordsError {
    /// The Kafka error code a Produce (or Fetch conversion) answers with.
    ///
    /// Kafka raises `CorruptRecordException` (CORRUPT_MESSAGE) for framing and checksum errors and
    /// `InvalidRecordException` (INVALID_RECORD) for well-framed batches that break its rules.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            RecordsError::Truncated
            | RecordsError::InvalidLength
            | RecordsError::UnknownMagic(_)
            | RecordsError::CrcMismatch
            | RecordsError::UnknownCompression(_)
            | RecordsError::Decompression
            | RecordsError::Empty => ErrorCode::CorruptMessage,
            RecordsError::UnsupportedCompression(_) => ErrorCode::UnsupportedCompressionType,
            RecordsError::DecompressedTooLarge | RecordsError::MessageTooLarge => {
                ErrorCode::MessageTooLarge
            }
            RecordsError::InvalidRecord
            | RecordsError::InvalidBatch
            | RecordsError::InvalidProduceBatches => ErrorCode::InvalidRecord,
        }
    }
}

impl core::fmt::Display for RecordsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{self:?} ({})", self.error_code())
    }
}
