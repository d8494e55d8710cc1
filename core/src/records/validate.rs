//! What a Produce must pass before its records reach a log (Kafka's `LogValidator` and
//! `ProduceRequest.validateRecords`).
//!
//! v2 batches are checked in place and appended as they came (the log assigns offsets); a legacy
//! message set is converted to one v2 batch here, since segments hold only v2. The records of a
//! compressed batch are decompressed into one buffer, reused from batch to batch, and walked
//! without building them, as an uncompressed batch's are.

use alloc::vec::Vec;

use super::batch::{self, MAGIC_V2, RecordBatch};
use super::compression::{Compression, decompress_into};
use super::error::RecordsError;
use super::legacy::{self, LEGACY_CONVERTED_FACTOR_MAX};
use super::record::Records;

/// The records of a compressed v2 batch may decompress to this many times `batch_bytes_max`
/// (`message.max.bytes`), and to at least [`DECOMPRESSED_BYTES_FLOOR`]. Kafka sets no such
/// bound; one is needed so a small batch cannot inflate to gigabytes, and 16 is well above what
/// the codecs reach on real records. Past it, MESSAGE_TOO_LARGE.
pub const DECOMPRESSED_FACTOR_MAX: usize = 16;

/// The decompressed bound for topics with a small `message.max.bytes`.
pub const DECOMPRESSED_BYTES_FLOOR: usize = 1024 * 1024;

/// How large the decompressed records of one batch may be, for a `batch_bytes_max`.
pub fn decompressed_bytes_max(batch_bytes_max: usize) -> usize {
    batch_bytes_max
        .saturating_mul(DECOMPRESSED_FACTOR_MAX)
        .max(DECOMPRESSED_BYTES_FLOOR)
}

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
            return Err(RecordsError::UnsupportedCompression(Compression::Zstd.id()));
        }
        Ok(())
    }
}

/// Kafka's `ProduceRequest.validateRecords`, checked before anything else of a partition's
/// records: from Produce v3 they hold exactly one whole record batch of magic 2 (else
/// INVALID_RECORD: a length past the bytes, no batch at all and a legacy magic byte included),
/// and zstd only from v7.
pub fn check_produce_shape(buf: &[u8], version: i16) -> Result<(), RecordsError> {
    if version < 3 {
        return Ok(());
    }
    // Kafka's batch iterator finds no batch where the bytes end before the length says, and
    // refuses a length below the format's minimum as corrupt (CORRUPT_MESSAGE).
    let whole = |bytes: &[u8]| match batch::peek_total_len(bytes) {
        Ok(len) => Ok(len <= bytes.len() && len > batch::field::MAGIC),
        Err(RecordsError::Truncated) => Ok(false),
        Err(e) => Err(e),
    };
    if !whole(buf)? {
        return Err(RecordsError::InvalidProduceBatches);
    }
    match buf[batch::field::MAGIC] as i8 {
        MAGIC_V2 => {}
        0 | 1 => return Err(RecordsError::InvalidProduceBatches),
        other => return Err(RecordsError::UnknownMagic(other)),
    }
    let first =
        RecordBatch::new_unchecked_header(buf).map_err(|_| RecordsError::InvalidProduceBatches)?;
    if version < 7 && first.compression() == Ok(Compression::Zstd) {
        return Err(RecordsError::UnsupportedCompression(Compression::Zstd.id()));
    }
    if whole(&buf[first.total_len()..]).unwrap_or(false) {
        return Err(RecordsError::InvalidProduceBatches);
    }
    Ok(())
}

/// Validate the records of one partition of a Produce. Every batch (or legacy message) is at most
/// `batch_bytes_max` bytes (`message.max.bytes`).
pub fn validate_batches(
    buf: &[u8],
    batch_bytes_max: usize,
) -> Result<ValidatedRecords, RecordsError> {
    validate_batches_with(buf, batch_bytes_max, &mut Vec::new())
}

/// [`validate_batches`] with a caller's buffer for decompressed records, so that a caller
/// validating many requests allocates it once (it grows to the largest batch decompressed, at
/// most [`decompressed_bytes_max`]). Uncompressed batches never touch it.
pub fn validate_batches_with(
    buf: &[u8],
    batch_bytes_max: usize,
    scratch: &mut Vec<u8>,
) -> Result<ValidatedRecords, RecordsError> {
    // Both formats keep the magic byte at offset 16.
    let magic = *buf.get(batch::field::MAGIC).ok_or(RecordsError::Empty)? as i8;
    match magic {
        MAGIC_V2 => validate_v2(buf, batch_bytes_max, scratch),
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

fn validate_v2(
    buf: &[u8],
    batch_bytes_max: usize,
    scratch: &mut Vec<u8>,
) -> Result<ValidatedRecords, RecordsError> {
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
        let compression = batch.compression()?;
        if compression != Compression::None {
            let bytes_max = decompressed_bytes_max(batch_bytes_max);
            check_compressed(&batch, compression, bytes_max, scratch)?;
        }
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
/// of an uncompressed batch (compressed ones are walked by [`check_compressed`]).
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

/// Kafka's `LogValidator.validateMessagesAndAssignOffsetsCompressed` for a v2 batch: its records
/// must decompress (else CORRUPT_MESSAGE), parse, number exactly `recordsCount` with nothing
/// after them, and carry offset deltas 0, 1, 2, ... (else INVALID_RECORD, Kafka's
/// `InvalidRecordException` from `DefaultRecord` and the batch iterator).
fn check_compressed(
    batch: &RecordBatch<&[u8]>,
    compression: Compression,
    decompressed_bytes_max: usize,
    scratch: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let records = records_of(batch, compression, decompressed_bytes_max, scratch)?;
    // `check_batch` has made sure the count is positive.
    let count = u32::try_from(batch.records_count()).map_err(|_| RecordsError::InvalidBatch)?;
    Records::new(records, count).check_all_in_order()?;
    Ok(())
}

/// The records of `batch`: its own bytes if uncompressed, else decompressed into `scratch` (at
/// most `decompressed_bytes_max`).
fn records_of<'a>(
    batch: &'a RecordBatch<&[u8]>,
    compression: Compression,
    decompressed_bytes_max: usize,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], RecordsError> {
    if compression == Compression::None {
        return Ok(batch.records_bytes());
    }
    decompress_into(
        compression,
        batch.records_bytes(),
        decompressed_bytes_max,
        scratch,
    )?;
    Ok(scratch.as_slice())
}

/// The index within its batch of each record without a key, in the first batch of `buf` that has
/// any: Kafka's `LogValidator.validateKey`, which a compacted topic's records must pass
/// (KIP-467). Kafka numbers the records of each batch from 0 and refuses at the first batch with
/// such records; from Produce v3 there is only one. `buf` holds batches that
/// [`validate_batches`] passed; a compressed batch is decompressed into `scratch` (at most
/// `decompressed_bytes_max`, as validation bounds it).
pub fn keyless_records(
    buf: &[u8],
    decompressed_bytes_max: usize,
    scratch: &mut Vec<u8>,
) -> Result<Vec<i32>, RecordsError> {
    let mut keyless = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() && keyless.is_empty() {
        let batch = RecordBatch::new_checked(rest)?;
        let count = u32::try_from(batch.records_count()).map_err(|_| RecordsError::InvalidBatch)?;
        let records = records_of(
            &batch,
            batch.compression()?,
            decompressed_bytes_max,
            scratch,
        )?;
        for (index, record) in (0..).zip(Records::new(records, count)) {
            if record?.key.is_none() {
                keyless.push(index);
            }
        }
        rest = &rest[batch.total_len()..];
    }
    Ok(keyless)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::records::batch::field;
    use crate::records::crc::crc32c;
    use crate::records::record::BatchBuilder;
    use crate::records::test_codecs::{compress, compressed, with_records};

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
    fn keyless_records_are_found_in_plain_and_compressed_batches() {
        let mut b = BatchBuilder::new(0);
        for (i, key) in [Some(&b"a"[..]), None, Some(b"b"), None, None]
            .iter()
            .enumerate()
        {
            b.push(i as i64, *key, Some(b"v"), &[]);
        }
        let plain = b.finish();
        let mut scratch = Vec::new();
        let found = |buf: &[u8], scratch: &mut Vec<u8>| {
            keyless_records(buf, 1 << 20, scratch).expect("valid batches")
        };
        assert_eq!(found(&plain, &mut scratch), [1, 3, 4]);
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert_eq!(found(&compressed(&plain, codec), &mut scratch), [1, 3, 4]);
        }
        // Keyed records only: nothing; and each batch numbers its records from 0, the first
        // batch with keyless records being the one reported (as Kafka's validator refuses it).
        let mut keyed = BatchBuilder::new(0);
        keyed.push(0, Some(b"k"), None, &[]);
        let keyed = keyed.finish();
        assert!(found(&keyed, &mut scratch).is_empty());
        let mut two = keyed.clone();
        two.extend_from_slice(&plain);
        two.extend_from_slice(&batch(2, 0));
        assert_eq!(found(&two, &mut scratch), [1, 3, 4]);
        // Past the decompressed bound: refused, as validation refuses it.
        let gz = compressed(&plain, Compression::Gzip);
        assert_eq!(
            keyless_records(&gz, 8, &mut scratch).map_err(|e| e.error_code()),
            Err(ErrorCode::MessageTooLarge)
        );
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
        let buf = b.finish();
        let v = validate_batches(&buf, 1 << 20).expect("valid");
        assert_eq!(
            (v.producer_id, v.producer_epoch, v.base_sequence),
            (7, 2, 10)
        );
        assert!(v.is_transactional);
        // A zstd batch: stored as sent, refused below Produce v7.
        let buf = compressed(&buf, Compression::Zstd);
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

    const CODECS: [Compression; 4] = [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn code(b: &[u8], max: usize) -> Result<(), ErrorCode> {
        validate_batches(b, max)
            .map(|_| ())
            .map_err(|e| e.error_code())
    }

    fn records_of(b: &[u8]) -> &[u8] {
        &b[batch::HEADER_LEN..]
    }

    #[test]
    fn compressed_batches_are_decompressed_walked_and_kept_as_sent() {
        for codec in CODECS {
            let sent = compressed(&batch(100, 1_000), codec);
            let v = validate_batches(&sent, 1 << 20).expect("valid");
            assert_eq!((v.batch_count, v.record_count), (1, 100), "{codec:?}");
            assert_eq!(v.batches(&sent), &sent[..]);
            assert_eq!(v.has_zstd, codec == Compression::Zstd);
            // Several batches in one call share the buffer.
            let mut two = sent.clone();
            two.extend_from_slice(&compressed(&batch(3, 5), codec));
            let mut scratch = Vec::new();
            let v = validate_batches_with(&two, 1 << 20, &mut scratch).expect("valid");
            assert_eq!((v.batch_count, v.record_count), (2, 103));
        }
    }

    #[test]
    fn garbage_and_truncated_compressed_data_is_corrupt_message() {
        for codec in CODECS {
            let plain = batch(20, 0);
            let good = compress(codec, records_of(&plain));
            let garbage = with_records(&plain, codec, b"this is not compressed data at all");
            assert_eq!(
                code(&garbage, 1 << 20),
                Err(ErrorCode::CorruptMessage),
                "{codec:?}"
            );
            for cut in [0, 1, good.len() / 2, good.len() - 1] {
                let truncated = with_records(&plain, codec, &good[..cut]);
                assert_eq!(
                    code(&truncated, 1 << 20),
                    Err(ErrorCode::CorruptMessage),
                    "{codec:?} cut to {cut} of {}",
                    good.len()
                );
            }
            // Every other damage is an error or a valid batch, never a panic.
            let sent = with_records(&plain, codec, &good);
            for i in batch::HEADER_LEN..sent.len() {
                let mut b = sent.clone();
                b[i] ^= 0x41;
                let crc = crc32c(&b[field::ATTRIBUTES.start..]);
                b[field::CRC].copy_from_slice(&crc.to_be_bytes());
                let _ = validate_batches(&b, 1 << 20);
            }
        }
    }

    #[test]
    fn bad_records_inside_compressed_batches_are_invalid_record() {
        let plain = batch(3, 0);
        let records = records_of(&plain);
        let mut claims_four = plain.clone();
        claims_four[field::RECORDS_COUNT].copy_from_slice(&4i32.to_be_bytes());
        claims_four[field::LAST_OFFSET_DELTA].copy_from_slice(&3i32.to_be_bytes());
        let mut claims_two = plain.clone();
        claims_two[field::RECORDS_COUNT].copy_from_slice(&2i32.to_be_bytes());
        claims_two[field::LAST_OFFSET_DELTA].copy_from_slice(&1i32.to_be_bytes());
        let mut trailing = records.to_vec();
        trailing.push(0);
        let cut_short = &records[..records.len() - 1];
        let mut bad_varint = records.to_vec();
        bad_varint[0] = 0xff; // the first record's length runs on into its body
        bad_varint[1] = 0xff;
        // Record 0 says offset delta 1 (zig-zag 0x02): deltas 1, 1, 2.
        let mut out_of_order = records.to_vec();
        assert_eq!(out_of_order[3], 0x00, "record 0's offset delta");
        out_of_order[3] = 0x02;
        for codec in CODECS {
            for (what, sent) in [
                ("count 4, 3 present", compressed(&claims_four, codec)),
                ("count 2, 3 present", compressed(&claims_two, codec)),
                (
                    "a byte after the records",
                    with_records(&plain, codec, &compress(codec, &trailing)),
                ),
                (
                    "the last record cut short",
                    with_records(&plain, codec, &compress(codec, cut_short)),
                ),
                (
                    "a bad varint",
                    with_records(&plain, codec, &compress(codec, &bad_varint)),
                ),
                (
                    "offset deltas out of order",
                    with_records(&plain, codec, &compress(codec, &out_of_order)),
                ),
            ] {
                assert_eq!(
                    code(&sent, 1 << 20),
                    Err(ErrorCode::InvalidRecord),
                    "{codec:?}: {what}"
                );
            }
        }
        // Uncompressed, offset deltas are not checked (Kafka's in-place path does not either).
        let sent = with_records(&plain, Compression::None, &out_of_order);
        assert_eq!(code(&sent, 1 << 20), Ok(()));
    }

    #[test]
    fn a_decompression_bomb_is_message_too_large() {
        // 10 MiB of zeros in 10 records; compressed, each codec's batch is under 512 KiB.
        let zeros = alloc::vec![0u8; 1 << 20];
        let mut b = BatchBuilder::new(0);
        for i in 0..10 {
            b.push(i, None, Some(&zeros), &[]);
        }
        let plain = b.finish();
        let batch_bytes_max = 512 * 1024;
        assert!(decompressed_bytes_max(batch_bytes_max) < plain.len());
        for codec in CODECS {
            let sent = compressed(&plain, codec);
            assert!(sent.len() < batch_bytes_max, "{codec:?}: {}", sent.len());
            assert_eq!(
                code(&sent, batch_bytes_max),
                Err(ErrorCode::MessageTooLarge),
                "{codec:?}"
            );
            // Under a larger message.max.bytes the same batch is valid: the bound decided.
            assert_eq!(code(&sent, 1 << 20), Ok(()), "{codec:?}");
        }
        assert_eq!(decompressed_bytes_max(1000), DECOMPRESSED_BYTES_FLOOR);
    }
}
