//! A view over one record batch v2 (Kafka's `DefaultRecordBatch`).
//!
//! ```text
//! baseOffset: int64            partitionLeaderEpoch: int32   magic: int8 (= 2)
//! batchLength: int32           crc: uint32 (CRC-32C of attributes .. end)
//! attributes: int16  lastOffsetDelta: int32  baseTimestamp: int64  maxTimestamp: int64
//! producerId: int64  producerEpoch: int16    baseSequence: int32   recordsCount: int32
//! records: [Record]
//! ```
//! All integers are big-endian. `batchLength` counts the bytes after itself.

use super::compression::Compression;
use super::crc::{crc32c, crc32c_of_parts};
use super::error::RecordsError;

/// Byte ranges of the header fields, in the spec's names.
pub mod field {
    /// A byte range within the batch.
    pub type Field = core::ops::Range<usize>;

    /// First offset of the batch (assigned by the broker).
    pub const BASE_OFFSET: Field = 0..8;
    /// Bytes after this field, to the end of the batch.
    pub const BATCH_LENGTH: Field = 8..12;
    /// Leader epoch of the partition when the batch was appended.
    pub const PARTITION_LEADER_EPOCH: Field = 12..16;
    /// Format version: 2.
    pub const MAGIC: usize = 16;
    /// CRC-32C of `ATTRIBUTES` to the end of the batch.
    pub const CRC: Field = 17..21;
    /// Compression, timestamp type, transactional, control, delete horizon.
    pub const ATTRIBUTES: Field = 21..23;
    /// Offset of the last record minus `BASE_OFFSET`.
    pub const LAST_OFFSET_DELTA: Field = 23..27;
    /// Timestamp of the first record.
    pub const BASE_TIMESTAMP: Field = 27..35;
    /// Largest record timestamp (or the log append time).
    pub const MAX_TIMESTAMP: Field = 35..43;
    /// Idempotent/transactional producer id, or -1.
    pub const PRODUCER_ID: Field = 43..51;
    /// Producer epoch, or -1.
    pub const PRODUCER_EPOCH: Field = 51..53;
    /// Sequence number of the first record, or -1.
    pub const BASE_SEQUENCE: Field = 53..57;
    /// Number of records.
    pub const RECORDS_COUNT: Field = 57..61;
    /// The records.
    pub const RECORDS: usize = 61;
}

/// Size of the batch header (`RECORD_BATCH_OVERHEAD`).
pub const HEADER_LEN: usize = field::RECORDS;
/// Bytes before the part `BATCH_LENGTH` counts (`LOG_OVERHEAD`).
pub const LOG_OVERHEAD: usize = field::BATCH_LENGTH.end;
/// Smallest valid `batchLength`: a header with no records.
pub const BATCH_LENGTH_MIN: usize = HEADER_LEN - LOG_OVERHEAD;
/// The magic byte of record batch v2.
pub const MAGIC_V2: i8 = 2;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;

/// How a batch's timestamps were set (attribute bit 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker on append; `maxTimestamp` holds it.
    LogAppendTime,
}

/// A record batch v2 over `buffer`, which starts at the batch (and may go on past it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordBatch<T: AsRef<[u8]>> {
    buffer: T,
}

#[inline]
fn be<const N: usize>(data: &[u8], range: core::ops::Range<usize>) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&data[range]);
    out
}

/// The total length the header at the start of `data` announces, once its length field is in
/// `data`; checks only `batchLength` against the minimum.
pub fn peek_total_len(data: &[u8]) -> Result<usize, RecordsError> {
    let raw = data
        .get(field::BATCH_LENGTH)
        .ok_or(RecordsError::Truncated)?;
    let batch_length = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let batch_length = usize::try_from(batch_length).map_err(|_| RecordsError::InvalidLength)?;
    if batch_length < BATCH_LENGTH_MIN {
        return Err(RecordsError::InvalidLength);
    }
    Ok(LOG_OVERHEAD + batch_length)
}

impl<T: AsRef<[u8]>> RecordBatch<T> {
    /// Wrap `buffer` without checks: getters panic if it is shorter than the header. Use only on
    /// bytes that were checked before (a segment's own data).
    pub fn new_unchecked(buffer: T) -> Self {
        RecordBatch { buffer }
    }

    /// Wrap `buffer` after checking that it holds the whole batch, that `batchLength` is at least
    /// the header, the magic is 2 and the CRC-32C matches. After this no getter panics.
    pub fn new_checked(buffer: T) -> Result<Self, RecordsError> {
        let batch = Self::new_unchecked_header(buffer)?;
        if !batch.crc_valid() {
            return Err(RecordsError::CrcMismatch);
        }
        Ok(batch)
    }

    /// Like [`RecordBatch::new_checked`] without the CRC: for bytes already checked once (a
    /// segment written by this broker and shut down cleanly).
    pub fn new_unchecked_header(buffer: T) -> Result<Self, RecordsError> {
        let data = buffer.as_ref();
        let total = peek_total_len(data)?;
        if data.len() < HEADER_LEN || data.len() < total {
            return Err(RecordsError::Truncated);
        }
        let magic = data[field::MAGIC] as i8;
        if magic != MAGIC_V2 {
            return Err(RecordsError::UnknownMagic(magic));
        }
        Ok(RecordBatch { buffer })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn data(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// `baseOffset`.
    pub fn base_offset(&self) -> i64 {
        i64::from_be_bytes(be(self.data(), field::BASE_OFFSET))
    }

    /// `batchLength`.
    pub fn batch_length(&self) -> i32 {
        i32::from_be_bytes(be(self.data(), field::BATCH_LENGTH))
    }

    /// The batch's size on the wire: `batchLength` plus the 12 bytes before it.
    pub fn total_len(&self) -> usize {
        // Checked in new_checked: batch_length >= BATCH_LENGTH_MIN > 0.
        LOG_OVERHEAD + usize::try_from(self.batch_length()).unwrap_or(0)
    }

    /// The batch's bytes, exactly `total_len` of them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data()[..self.total_len()]
    }

    /// `partitionLeaderEpoch`.
    pub fn partition_leader_epoch(&self) -> i32 {
        i32::from_be_bytes(be(self.data(), field::PARTITION_LEADER_EPOCH))
    }

    /// `magic` (2 once checked).
    pub fn magic(&self) -> i8 {
        self.data()[field::MAGIC] as i8
    }

    /// `crc` as stored.
    pub fn crc(&self) -> u32 {
        u32::from_be_bytes(be(self.data(), field::CRC))
    }

    /// Whether the stored CRC matches the bytes.
    pub fn crc_valid(&self) -> bool {
        self.crc() == crc32c(&self.as_bytes()[field::ATTRIBUTES.start..])
    }

    /// `attributes`.
    pub fn attributes(&self) -> i16 {
        i16::from_be_bytes(be(self.data(), field::ATTRIBUTES))
    }

    /// The compression codec of the records (attribute bits 0-2).
    pub fn compression(&self) -> Result<Compression, RecordsError> {
        Compression::from_id((self.attributes() & ATTR_COMPRESSION_MASK) as u8)
    }

    /// The timestamp type (attribute bit 3).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes() & ATTR_TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Part of a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes() & ATTR_TRANSACTIONAL != 0
    }

    /// A control batch: transaction markers (attribute bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes() & ATTR_CONTROL != 0
    }

    /// `lastOffsetDelta`.
    pub fn last_offset_delta(&self) -> i32 {
        i32::from_be_bytes(be(self.data(), field::LAST_OFFSET_DELTA))
    }

    /// Offset of the last record: `baseOffset + lastOffsetDelta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset()
            .wrapping_add(i64::from(self.last_offset_delta()))
    }

    /// `baseTimestamp`.
    pub fn base_timestamp(&self) -> i64 {
        i64::from_be_bytes(be(self.data(), field::BASE_TIMESTAMP))
    }

    /// `maxTimestamp`.
    pub fn max_timestamp(&self) -> i64 {
        i64::from_be_bytes(be(self.data(), field::MAX_TIMESTAMP))
    }

    /// `producerId` (-1 when not idempotent).
    pub fn producer_id(&self) -> i64 {
        i64::from_be_bytes(be(self.data(), field::PRODUCER_ID))
    }

    /// `producerEpoch`.
    pub fn producer_epoch(&self) -> i16 {
        i16::from_be_bytes(be(self.data(), field::PRODUCER_EPOCH))
    }

    /// `baseSequence`.
    pub fn base_sequence(&self) -> i32 {
        i32::from_be_bytes(be(self.data(), field::BASE_SEQUENCE))
    }

    /// `recordsCount`.
    pub fn records_count(&self) -> i32 {
        i32::from_be_bytes(be(self.data(), field::RECORDS_COUNT))
    }

    /// The record bytes after the header (compressed when `compression()` is not `None`).
    pub fn records_bytes(&self) -> &[u8] {
        &self.as_bytes()[field::RECORDS..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RecordBatch<T> {
    fn data_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set `baseOffset` (outside the CRC: no recomputation).
    pub fn set_base_offset(&mut self, offset: i64) {
        self.data_mut()[field::BASE_OFFSET].copy_from_slice(&offset.to_be_bytes());
    }

    /// Set `partitionLeaderEpoch` (outside the CRC).
    pub fn set_partition_leader_epoch(&mut self, epoch: i32) {
        self.data_mut()[field::PARTITION_LEADER_EPOCH].copy_from_slice(&epoch.to_be_bytes());
    }

    /// Stamp the log append time: `maxTimestamp = ts`, timestamp type LogAppendTime, new CRC.
    pub fn set_max_timestamp_log_append_time(&mut self, ts: i64) {
        let attributes = self.attributes() | ATTR_TIMESTAMP_TYPE;
        let data = self.data_mut();
        data[field::MAX_TIMESTAMP].copy_from_slice(&ts.to_be_bytes());
        data[field::ATTRIBUTES].copy_from_slice(&attributes.to_be_bytes());
        self.fill_crc();
    }

    /// [`RecordBatch::set_max_timestamp_log_append_time`] on a buffer that holds only the
    /// header (its first [`HEADER_LEN`] bytes); `records` are the rest of the batch.
    pub fn set_header_log_append_time(&mut self, ts: i64, records: &[u8]) {
        let attributes = self.attributes() | ATTR_TIMESTAMP_TYPE;
        let data = self.data_mut();
        data[field::MAX_TIMESTAMP].copy_from_slice(&ts.to_be_bytes());
        data[field::ATTRIBUTES].copy_from_slice(&attributes.to_be_bytes());
        let crc = crc32c_of_parts(&data[field::ATTRIBUTES.start..HEADER_LEN], records);
        data[field::CRC].copy_from_slice(&crc.to_be_bytes());
    }

    /// Recompute and store the CRC-32C.
    pub fn fill_crc(&mut self) {
        let total = self.total_len();
        let crc = crc32c(&self.data()[field::ATTRIBUTES.start..total]);
        self.data_mut()[field::CRC].copy_from_slice(&crc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::record::BatchBuilder;
    use alloc::vec::Vec;

    #[test]
    fn stamping_a_header_apart_from_its_records_matches_stamping_the_batch() {
        let mut whole = sample();
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(&whole[..HEADER_LEN]);
        RecordBatch::new_unchecked(&mut head[..])
            .set_header_log_append_time(1_234_567, &whole[HEADER_LEN..]);
        RecordBatch::new_unchecked(&mut whole[..]).set_max_timestamp_log_append_time(1_234_567);
        assert_eq!(head[..], whole[..HEADER_LEN]);
        let batch = RecordBatch::new_checked(&whole[..]).expect("valid");
        assert!(batch.crc_valid());
        assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    }

    fn sample() -> Vec<u8> {
        let mut b = BatchBuilder::new(0);
        b.push(1_000, Some(b"k"), Some(b"v"), &[]);
        b.push(1_005, None, Some(b"w"), &[]);
        b.finish()
    }

    #[test]
    fn getters_read_the_header() {
        let bytes = sample();
        let batch = RecordBatch::new_checked(&bytes[..]).expect("valid");
        assert_eq!(batch.base_offset(), 0);
        assert_eq!(batch.total_len(), bytes.len());
        assert_eq!(batch.magic(), 2);
        assert_eq!(batch.records_count(), 2);
        assert_eq!(batch.last_offset_delta(), 1);
        assert_eq!(batch.base_timestamp(), 1_000);
        assert_eq!(batch.max_timestamp(), 1_005);
        assert_eq!(batch.producer_id(), -1);
        assert_eq!(batch.producer_epoch(), -1);
        assert_eq!(batch.base_sequence(), -1);
        assert_eq!(batch.compression(), Ok(Compression::None));
        assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
        assert!(!batch.is_transactional() && !batch.is_control());
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error_not_a_panic() {
        let bytes = sample();
        for cut in 0..bytes.len() {
            assert!(
                RecordBatch::new_checked(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        for i in field::MAGIC..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(RecordBatch::new_checked(&b[..]).is_err(), "flip {i}");
        }
    }

    #[test]
    fn rejects_short_length_and_wrong_magic() {
        let mut b = sample();
        b[field::BATCH_LENGTH].copy_from_slice(&48i32.to_be_bytes());
        assert_eq!(
            RecordBatch::new_checked(&b[..]).err(),
            Some(RecordsError::InvalidLength)
        );
        let mut b = sample();
        b[field::BATCH_LENGTH].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            RecordBatch::new_checked(&b[..]).err(),
            Some(RecordsError::InvalidLength)
        );
        let mut b = sample();
        b[field::MAGIC] = 1;
        assert_eq!(
            RecordBatch::new_checked(&b[..]).err(),
            Some(RecordsError::UnknownMagic(1))
        );
    }

    #[test]
    fn setters_outside_the_crc_keep_it_valid() {
        let mut bytes = sample();
        let mut batch = RecordBatch::new_checked(&mut bytes[..]).expect("valid");
        batch.set_base_offset(42);
        batch.set_partition_leader_epoch(7);
        assert!(batch.crc_valid());
        assert_eq!(batch.base_offset(), 42);
        assert_eq!(batch.last_offset(), 43);
        assert_eq!(batch.partition_leader_epoch(), 7);
        batch.set_max_timestamp_log_append_time(9_999);
        assert!(batch.crc_valid());
        assert_eq!(batch.max_timestamp(), 9_999);
        assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    }
}
