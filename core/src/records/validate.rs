//! What a Produce must pass before its records reach a log (Kafka's `LogValidator` and
//! `ProduceRequest.validateRecords`).
//!
//! v2 batches are checked in place and appended as they came (the log assigns offsets); a legacy
//! message set is converted to one v2 batch here, since segments hold only v2.

use alloc::vec::Vec;

use super::batch::{self, MAGIC_V2, RecordBatch};
use super::compression::Compression;
use super::error::RecordsError;
use super::legacy;
use super::record::Records;

/// A converted legacy batch may be this many times `batch_bytes_max`: decompression of gzip or
/// lz4 wrappers is bounded by it.
pub const LEGACY_CONVERTED_FACTOR_MAX: usize = 16;

/// The outcome of [`validate_batches`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedRecords {
    /// Magic of the records as sent: 2, or 0/1 for a legacy set.
    pub magic: i8,
    /// Batches (v2) or outer messages (legacy).
    pub batch_count: u32,
    /// Records in all batches (for compressed v2 batches, as their headers claim).
    pub record_count: u64,
    /// Largest `maxTimestamp`, or -1 when there is none.
    pub max_timestamp: i64,
    /// Some batch is zstd-compressed (allowed only from Produce v7, KIP-110).
    pub has_zstd: bool,
    /// Producer id of the first batch (-1 when not idempotent, and for legacy sets).
    pub producer_id: i64,
    /// Producer epoch of the first batch.
    pub producer_epoch: i16,
    /// Base sequence of the first batch.
    pub base_sequence: i32,
    /// The first batch is transactional.
    pub is_transactional: bool,
    /// The legacy set converted to one v2 batch; `None` for v2 input (append it as sent).
    pub converted: Option<Vec<u8>>,
}

impl ValidatedRecords {
    /// Whether the client sent a legacy message set.
    pub fn is_legacy(&self) -> bool {
        self.magic < MAGIC_V2
    }

    /// The v2 batches to append: the converted batch, or `original` itself.
    pub fn batches<'a>(&'a self, original: &'a [u8]) -> &'a [u8] {
        self.converted.as_deref().unwrap_or(original)
    }

    /// The rules that depend on the Produce version: from v3 exactly one batch of magic 2
    /// (INVALID_RECORD); zstd only from v7 (UNSUPPORTED_COMPRESSION_TYPE).
    pub fn check_produce_version(&self, version: i16) -> Result<(), RecordsError> {
        if version >= 3 && (self.is_legacy() || self.batch_count != 1) {
            return Err(RecordsError::InvalidProduceBatches);
        }
        if version < 7 && self.has_zstd {
            return Err(RecordsError::UnsupportedCompression(Compression::Zstd));
        }
        Ok(())
    }
}

/// Validate the records of one partition of a Produce. Every batch (or legacy message) is at most
/// `batch_bytes_max` bytes (`message.max.bytes`).
pub fn validate_batches(
    buf: &[u8],
    batch_bytes_max: usize,
) -> Result<ValidatedRecords, RecordsError> {
    // Both formats keep the magic byte at offset 16.
    let magic = *buf.get(batch::field::MAGIC).ok_or(RecordsError::Empty)? as i8;
    match magic {
        MAGIC_V2 => validate_v2(buf, batch_bytes_max),
        0 | 1 => validate_legacy(buf, batch_bytes_max),
        other => Err(RecordsError::UnknownMagic(other)),
    }
}

fn validate_legacy(buf: &[u8], batch_bytes_max: usize) -> Result<ValidatedRecords, RecordsError> {
    let output_max = batch_bytes_max.saturating_mul(LEGACY_CONVERTED_FACTOR_MAX);
    let (converted, summary) = legacy::to_v2(buf, batch_bytes_max, output_max)?;
    Ok(ValidatedRecords {
        magic: summary.magic,
        batch_count: summary.outer_count,
        record_count: u64::from(summary.record_count),
        max_timestamp: summary.max_timestamp,
        has_zstd: false,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        is_transactional: false,
        converted: Some(converted),
    })
}

fn validate_v2(buf: &[u8], batch_bytes_max: usize) -> Result<ValidatedRecords, RecordsError> {
    let mut out = ValidatedRecords {
        magic: MAGIC_V2,
        batch_count: 0,
        record_count: 0,
        max_timestamp: -1,
        has_zstd: false,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        is_transactional: false,
        converted: None,
    };
    let mut rest = buf;
    while !rest.is_empty() {
        // Checked before the CRC so an oversized batch costs no checksum (RecordTooLarge).
        if batch::peek_total_len(rest)? > batch_bytes_max {
            return Err(RecordsError::MessageTooLarge);
        }
        let batch = RecordBatch::new_checked(rest)?;
        check_batch(&batch)?;
        if out.batch_count == 0 {
            out.producer_id = batch.producer_id();
            out.producer_epoch = batch.producer_epoch();
            out.base_sequence = batch.base_sequence();
            out.is_transactional = batch.is_transactional();
        }
        out.batch_count += 1;
        out.record_count += batch.records_count() as u64;
        out.max_timestamp = out.max_timestamp.max(batch.max_timestamp());
        out.has_zstd |= batch.compression()? == Compression::Zstd;
        rest = &rest[batch.total_len()..];
    }
    Ok(out)
}

/// Kafka's `LogValidator.validateBatch` for a batch from a client, plus a walk over the records
/// of an uncompressed batch (compressed ones are stored as sent, their CRC checked).
fn check_batch(batch: &RecordBatch<&[u8]>) -> Result<(), RecordsError> {
    let compression = batch.compression()?;
    let count = batch.records_count();
    if batch.last_offset_delta() < 0 || count <= 0 || count - 1 != batch.last_offset_delta() {
        return Err(RecordsError::InvalidBatch);
    }
    if batch.is_control() {
        // "Clients are not allowed to write control records".
        return Err(RecordsError::InvalidBatch);
    }
    let has_producer_id = batch.producer_id() >= 0;
    if (batch.is_transactional() && !has_producer_id)
        || (has_producer_id && batch.base_sequence() < 0)
    {
        return Err(RecordsError::InvalidBatch);
    }
    if compression == Compression::None {
        let walked = Records::new(batch.records_bytes(), count as u32).check_all()?;
        if walked != count as u32 {
            return Err(RecordsError::InvalidRecord);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::records::batch::field;
    use crate::records::crc::crc32c;
    use crate::records::record::BatchBuilder;

    fn batch(n: usize, ts: i64) -> Vec<u8> {
        let mut b = BatchBuilder::new(0);
        for i in 0..n {
            b.push(ts + i as i64, None, Some(b"value"), &[]);
        }
        b.finish()
    }

    fn refresh_crc(b: &mut [u8]) {
        let crc = crc32c(&b[field::ATTRIBUTES.start..]);
        b[field::CRC].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn counts_batches_records_and_max_timestamp() {
        let mut buf = batch(3, 100);
        buf.extend_from_slice(&batch(2, 500));
        let v = validate_batches(&buf, 1 << 20).expect("valid");
        assert_eq!((v.magic, v.batch_count, v.record_count), (2, 2, 5));
        assert_eq!(v.max_timestamp, 501);
        assert_eq!(v.batches(&buf), &buf[..]);
        assert_eq!(
            v.check_produce_version(3),
            Err(RecordsError::InvalidProduceBatches)
        );
        assert_eq!(v.check_produce_version(2), Ok(()));
        let one = validate_batches(&buf[..batch(3, 100).len()], 1 << 20).expect("valid");
        assert_eq!(one.check_produce_version(9), Ok(()));
    }

    #[test]
    fn kafka_error_codes_for_bad_batches() {
        let good = batch(2, 0);
        let code = |b: &[u8], max| {
            validate_batches(b, max)
                .map(|_| ())
                .map_err(|e| e.error_code())
        };
        assert_eq!(code(&good, 10), Err(ErrorCode::MessageTooLarge));
        let mut bad_crc = good.clone();
        bad_crc[good.len() - 1] ^= 1;
        assert_eq!(code(&bad_crc, 1 << 20), Err(ErrorCode::CorruptMessage));
        assert_eq!(
            code(&good[..good.len() - 1], 1 << 20),
            Err(ErrorCode::CorruptMessage)
        );
        assert_eq!(code(&[], 1 << 20), Err(ErrorCode::CorruptMessage));
        let mut count = good.clone();
        count[field::RECORDS_COUNT].copy_from_slice(&3i32.to_be_bytes());
        refresh_crc(&mut count);
        assert_eq!(code(&count, 1 << 20), Err(ErrorCode::InvalidRecord));
        let mut control = good.clone();
        control[field::ATTRIBUTES.end - 1] |= 0x20;
        refresh_crc(&mut control);
        assert_eq!(code(&control, 1 << 20), Err(ErrorCode::InvalidRecord));
        let mut txn = good.clone();
        txn[field::ATTRIBUTES.end - 1] |= 0x10;
        refresh_crc(&mut txn);
        assert_eq!(code(&txn, 1 << 20), Err(ErrorCode::InvalidRecord));
        let mut codec = good.clone();
        codec[field::ATTRIBUTES.end - 1] |= 0x05;
        refresh_crc(&mut codec);
        assert_eq!(code(&codec, 1 << 20), Err(ErrorCode::CorruptMessage));
        let mut magic = good.clone();
        magic[field::MAGIC] = 3;
        assert_eq!(code(&magic, 1 << 20), Err(ErrorCode::CorruptMessage));
    }

    #[test]
    fn idempotent_markers_pass_through_and_zstd_needs_v7() {
        let mut b = BatchBuilder::new(0).producer(7, 2, 10, true);
        b.push(1, None, Some(b"x"), &[]);
        let mut buf = b.finish();
        let v = validate_batches(&buf, 1 << 20).expect("valid");
        assert_eq!(
            (v.producer_id, v.producer_epoch, v.base_sequence),
            (7, 2, 10)
        );
        assert!(v.is_transactional);
        // A zstd batch: stored as sent, refused below Produce v7.
        buf[field::ATTRIBUTES.end - 1] |= 0x04;
        refresh_crc(&mut buf);
        let v = validate_batches(&buf, 1 << 20).expect("valid");
        assert!(v.has_zstd);
        assert_eq!(
            v.check_produce_version(6).map_err(|e| e.error_code()),
            Err(ErrorCode::UnsupportedCompressionType)
        );
        assert_eq!(v.check_produce_version(7), Ok(()));
    }

    #[test]
    fn damaged_input_is_an_error_never_a_panic() {
        let mut buf = batch(3, 100);
        buf.extend_from_slice(&batch(1, 200));
        let mut set = Vec::new();
        legacy::write_message(&mut set, 1, 0, 5, false, Some(b"k"), Some(b"a"));
        legacy::write_message(&mut set, 0, 1, 5, false, None, None);
        for input in [&buf, &set] {
            for i in 0..input.len() {
                for x in [0x01, 0x80, 0xff] {
                    let mut b = input.clone();
                    b[i] ^= x;
                    let _ = validate_batches(&b, 1 << 20);
                }
            }
            // A prefix is an error, unless it ends exactly after the first batch or message.
            for cut in 0..input.len() {
                let v = validate_batches(&input[..cut], 1 << 20);
                assert!(
                    v.is_err() || v.is_ok_and(|v| v.batch_count == 1),
                    "cut {cut}"
                );
            }
        }
    }

    #[test]
    fn legacy_sets_are_converted() {
        let mut set = Vec::new();
        legacy::write_message(&mut set, 1, 0, 5, false, None, Some(b"a"));
        legacy::write_message(&mut set, 1, 0, 9, false, None, Some(b"b"));
        let v = validate_batches(&set, 1 << 20).expect("valid");
        assert!(v.is_legacy());
        assert_eq!((v.batch_count, v.record_count, v.max_timestamp), (2, 2, 9));
        let converted = RecordBatch::new_checked(v.batches(&set)).expect("v2");
        assert_eq!(converted.records_count(), 2);
        assert_eq!(v.check_produce_version(2), Ok(()));
        assert_eq!(
            v.check_produce_version(3),
            Err(RecordsError::InvalidProduceBatches)
        );
    }
}
