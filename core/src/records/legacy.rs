//! Legacy message sets (magic 0 and 1, Kafka's `LegacyRecord`), converted both ways.
//!
//! ```text
//! offset: int64  messageSize: int32  crc: uint32 (CRC-32 of magic .. end)  magic: int8
//! attributes: int8  [timestamp: int64, magic 1 only]  key: int32 length + bytes
//! value: int32 length + bytes   (length -1 = null)
//! ```
//! A compressed message (attribute bits 0-2 not 0) is a wrapper whose value is a compressed
//! message set. Produce v0-v2 may send such sets ([`to_v2`]); Fetch v0-v3 reads them
//! ([`down_convert`]): v0 and v1 read magic 0, v2 and v3 magic 1 (KIP-32).

use alloc::vec::Vec;

use super::batch::{RecordBatch, TimestampType};
use super::compression::{Compression, decompress};
use super::crc::crc32;
use super::error::RecordsError;
use super::record::{BatchBuilder, Records};

/// A converted legacy batch may be this many times `batch_bytes_max`: decompression of gzip or
/// lz4 wrappers is bounded by it.
pub const LEGACY_CONVERTED_FACTOR_MAX: usize = 16;

const OFFSET: core::ops::Range<usize> = 0..8;
const SIZE: core::ops::Range<usize> = 8..12;
const CRC: core::ops::Range<usize> = 12..16;
const MAGIC: usize = 16;
const ATTRIBUTES: usize = 17;
/// Offset and size fields before the message (`LOG_OVERHEAD`).
pub const LOG_OVERHEAD: usize = 12;
const ATTR_COMPRESSION_MASK: i8 = 0x07;
const ATTR_TIMESTAMP_TYPE: i8 = 0x08;

/// Fixed part of a message after the size field: crc, magic, attributes, [timestamp], two
/// length fields.
fn size_min(magic: i8) -> usize {
    if magic == 0 { 14 } else { 22 }
}

/// One legacy message, borrowed from its set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegacyMessage<'a> {
    /// The offset field (absolute; relative inside a magic 1 wrapper).
    pub offset: i64,
    /// 0 or 1.
    pub magic: i8,
    /// Attributes: compression (bits 0-2), timestamp type (bit 3, magic 1).
    pub attributes: i8,
    /// The timestamp (magic 1), or -1 (magic 0).
    pub timestamp: i64,
    /// The key, or null.
    pub key: Option<&'a [u8]>,
    /// The value, or null.
    pub value: Option<&'a [u8]>,
}

impl LegacyMessage<'_> {
    /// The codec of a wrapper's value.
    pub fn compression(&self) -> Result<Compression, RecordsError> {
        Compression::from_id((self.attributes & ATTR_COMPRESSION_MASK) as u8)
    }

    fn log_append_time(&self) -> bool {
        self.magic == 1 && self.attributes & ATTR_TIMESTAMP_TYPE != 0
    }
}

fn be_i32(data: &[u8], at: usize) -> Result<i32, RecordsError> {
    let b = data.get(at..at + 4).ok_or(RecordsError::Truncated)?;
    Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn bytes_field(data: &[u8], at: usize) -> Result<(Option<&[u8]>, usize), RecordsError> {
    match be_i32(data, at)? {
        -1 => Ok((None, at + 4)),
        n => {
            let n = usize::try_from(n).map_err(|_| RecordsError::InvalidRecord)?;
            let bytes = data
                .get(at + 4..at + 4 + n)
                .ok_or(RecordsError::InvalidRecord)?;
            Ok((Some(bytes), at + 4 + n))
        }
    }
}

/// Parse the message at the start of `data`; returns it and its total length (with the 12
/// bytes of offset and size). Checks sizes, magic and CRC.
pub fn parse_message(data: &[u8]) -> Result<(LegacyMessage<'_>, usize), RecordsError> {
    let size =
        usize::try_from(be_i32(data, SIZE.start)?).map_err(|_| RecordsError::InvalidLength)?;
    let total = LOG_OVERHEAD + size;
    let msg = data.get(..total).ok_or(RecordsError::Truncated)?;
    let magic = *msg.get(MAGIC).ok_or(RecordsError::InvalidLength)? as i8;
    if magic != 0 && magic != 1 {
        return Err(RecordsError::UnknownMagic(magic));
    }
    if size < size_min(magic) {
        return Err(RecordsError::InvalidLength);
    }
    let crc = u32::from_be_bytes([msg[CRC.start], msg[13], msg[14], msg[15]]);
    if crc != crc32(&msg[MAGIC..]) {
        return Err(RecordsError::CrcMismatch);
    }
    let mut offset_bytes = [0; 8];
    offset_bytes.copy_from_slice(&msg[OFFSET]);
    let (timestamp, at) = if magic == 1 {
        let mut ts = [0; 8];
        ts.copy_from_slice(&msg[18..26]);
        (i64::from_be_bytes(ts), 26)
    } else {
        (-1, 18)
    };
    let (key, at) = bytes_field(msg, at)?;
    let (value, at) = bytes_field(msg, at)?;
    if at != total {
        return Err(RecordsError::InvalidRecord);
    }
    let message = LegacyMessage {
        offset: i64::from_be_bytes(offset_bytes),
        magic,
        attributes: msg[ATTRIBUTES] as i8,
        timestamp,
        key,
        value,
    };
    Ok((message, total))
}

/// Iterator over the messages of a set; a set that ends inside a message is an error.
#[derive(Debug)]
pub struct MessageSet<'a> {
    data: &'a [u8],
}

impl<'a> MessageSet<'a> {
    /// The messages in `data`.
    pub fn new(data: &'a [u8]) -> Self {
        MessageSet { data }
    }
}

impl<'a> Iterator for MessageSet<'a> {
    type Item = Result<LegacyMessage<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        match parse_message(self.data) {
            Ok((message, used)) => {
                self.data = &self.data[used..];
                Some(Ok(message))
            }
            Err(e) => {
                self.data = &[];
                Some(Err(e))
            }
        }
    }
}

/// What [`to_v2`] found in a legacy set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegacySummary {
    /// Magic of every message (they must agree).
    pub magic: i8,
    /// Messages outside wrappers (Kafka's "shallow" count).
    pub outer_count: u32,
    /// Records in the converted batch.
    pub record_count: u32,
    /// Largest timestamp, or -1 (magic 0).
    pub max_timestamp: i64,
}

/// Convert a legacy message set (Produce v0-v2) into one uncompressed v2 batch at offset 0.
///
/// Each outer message is at most `message_bytes_max` bytes (MESSAGE_TOO_LARGE); wrappers are
/// decompressed (gzip, lz4) and the converted batch is at most `output_bytes_max` bytes.
pub fn to_v2(
    set: &[u8],
    message_bytes_max: usize,
    output_bytes_max: usize,
) -> Result<(Vec<u8>, LegacySummary), RecordsError> {
    let mut builder = BatchBuilder::new(0);
    let mut summary = LegacySummary {
        magic: -1,
        outer_count: 0,
        record_count: 0,
        max_timestamp: -1,
    };
    let mut rest = set;
    while !rest.is_empty() {
        let (outer, used) = parse_message(rest)?;
        if used > message_bytes_max {
            return Err(RecordsError::MessageTooLarge);
        }
        rest = &rest[used..];
        if summary.outer_count > 0 && outer.magic != summary.magic {
            return Err(RecordsError::InvalidRecord);
        }
        summary.magic = outer.magic;
        summary.outer_count += 1;
        let codec = outer.compression()?;
        // zstd exists only in magic 2 batches (KIP-110): Kafka refuses it in older formats.
        if codec == Compression::Zstd {
            return Err(RecordsError::UnsupportedCompression(codec.id()));
        }
        if codec == Compression::None {
            push(&mut builder, &outer, outer.timestamp, output_bytes_max)?;
            continue;
        }
        let room = output_bytes_max.saturating_sub(builder.size_bytes());
        let inner_set = decompress(codec, outer.value.unwrap_or(&[]), room)?;
        for inner in MessageSet::new(&inner_set) {
            let inner = inner?;
            // Kafka: one level of wrapping, and inner magic equal to the wrapper's.
            if inner.compression()? != Compression::None || inner.magic != outer.magic {
                return Err(RecordsError::InvalidRecord);
            }
            let ts = if outer.log_append_time() {
                outer.timestamp
            } else {
                inner.timestamp
            };
            push(&mut builder, &inner, ts, output_bytes_max)?;
        }
    }
    if builder.is_empty() {
        return Err(RecordsError::Empty);
    }
    summary.record_count = builder.len() as u32;
    let batch = builder.finish();
    if summary.magic == 1 {
        summary.max_timestamp = RecordBatch::new_unchecked(&batch[..]).max_timestamp();
    }
    Ok((batch, summary))
}

/// [`to_v2`] with Produce's bounds: messages up to `batch_bytes_max`, the converted batch up to
/// [`LEGACY_CONVERTED_FACTOR_MAX`] times that.
pub fn to_batch_v2(set: &[u8], batch_bytes_max: usize) -> Result<Vec<u8>, RecordsError> {
    let output_max = batch_bytes_max.saturating_mul(LEGACY_CONVERTED_FACTOR_MAX);
    to_v2(set, batch_bytes_max, output_max).map(|(batch, _)| batch)
}

fn push(
    builder: &mut BatchBuilder,
    message: &LegacyMessage<'_>,
    timestamp: i64,
    output_bytes_max: usize,
) -> Result<(), RecordsError> {
    let grows = 32 + message.key.map_or(0, <[u8]>::len) + message.value.map_or(0, <[u8]>::len);
    if builder.size_bytes() + grows > output_bytes_max {
        return Err(RecordsError::MessageTooLarge);
    }
    builder.push(timestamp, message.key, message.value, &[]);
    Ok(())
}

/// Bound on one batch's decompressed records during down-conversion.
pub const DOWN_CONVERT_DECOMPRESSED_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Down-convert v2 batches (whole, as a log read returns them) to an uncompressed message set of
/// `magic` 0 or 1 with absolute offsets, for Fetch v0-v3. Records before `first_offset` (the
/// fetch offset, inside the first batch) are left out, as Kafka does.
pub fn down_convert(batches: &[u8], magic: i8, first_offset: i64) -> Result<Vec<u8>, RecordsError> {
    down_convert_bounded(
        batches,
        magic,
        first_offset,
        usize::MAX,
        DOWN_CONVERT_DECOMPRESSED_BYTES_MAX,
    )
}

/// [`down_convert`] with bounds.
///
/// Control batches are left out (old clients know no transactions) and headers are dropped.
/// Stops before the message that would pass `bytes_max`, but always keeps the first (KIP-74).
/// Compressed batches are decompressed to at most `decompressed_bytes_max` each; zstd answers
/// UNSUPPORTED_COMPRESSION_TYPE, as Kafka does.
pub fn down_convert_bounded(
    batches: &[u8],
    magic: i8,
    first_offset: i64,
    bytes_max: usize,
    decompressed_bytes_max: usize,
) -> Result<Vec<u8>, RecordsError> {
    if magic != 0 && magic != 1 {
        return Err(RecordsError::UnknownMagic(magic));
    }
    let mut out = Vec::new();
    let mut rest = batches;
    while !rest.is_empty() {
        // A read returns whole batches; a torn tail ends the conversion.
        let Ok(batch) = RecordBatch::new_unchecked_header(rest) else {
            break;
        };
        rest = &rest[batch.total_len()..];
        if batch.is_control() {
            continue;
        }
        let codec = batch.compression()?;
        // Kafka does not down-convert zstd (KIP-110: UNSUPPORTED_COMPRESSION_TYPE below Fetch
        // v10), though it could be decompressed here.
        if codec == Compression::Zstd {
            return Err(RecordsError::UnsupportedCompression(codec.id()));
        }
        let owned;
        let records = if codec == Compression::None {
            batch.records_bytes()
        } else {
            owned = decompress(codec, batch.records_bytes(), decompressed_bytes_max)?;
            &owned[..]
        };
        let count = u32::try_from(batch.records_count()).unwrap_or(0);
        for record in Records::new(records, count) {
            let record = record?;
            let offset = batch
                .base_offset()
                .wrapping_add(i64::from(record.offset_delta));
            if offset < first_offset {
                continue;
            }
            let timestamp = match batch.timestamp_type() {
                TimestampType::LogAppendTime => batch.max_timestamp(),
                TimestampType::CreateTime => {
                    batch.base_timestamp().wrapping_add(record.timestamp_delta)
                }
            };
            let append_time = batch.timestamp_type() == TimestampType::LogAppendTime;
            let before = out.len();
            write_message(
                &mut out,
                magic,
                offset,
                timestamp,
                append_time,
                record.key,
                record.value,
            );
            if out.len() > bytes_max && before > 0 {
                out.truncate(before);
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// Append one uncompressed legacy message.
pub fn write_message(
    out: &mut Vec<u8>,
    magic: i8,
    offset: i64,
    timestamp: i64,
    log_append_time: bool,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    let start = out.len();
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&[0; 8]); // size and crc, filled below
    out.push(magic as u8);
    let attributes = if magic == 1 && log_append_time {
        ATTR_TIMESTAMP_TYPE
    } else {
        0
    };
    out.push(attributes as u8);
    if magic == 1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                let len = i32::try_from(b.len()).expect("a record is smaller than its batch");
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    let size = i32::try_from(out.len() - start - LOG_OVERHEAD)
        .expect("a message is smaller than its batch");
    out[start + 8..start + 12].copy_from_slice(&size.to_be_bytes());
    let crc = crc32(&out[start + MAGIC..]);
    out[start + 12..start + 16].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_codecs;
    use alloc::vec;

    fn gzip(data: &[u8]) -> Vec<u8> {
        // A stored (uncompressed) deflate block inside a gzip member: enough to test the path.
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        out.push(1);
        let len = data.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&crc32(data).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    fn wrapper(magic: i8, codec: u8, inner: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_message(&mut out, magic, 2, 500, false, None, Some(inner));
        // Set the codec bits and fix the CRC.
        out[ATTRIBUTES] = codec;
        let crc = crc32(&out[MAGIC..]);
        out[12..16].copy_from_slice(&crc.to_be_bytes());
        out
    }

    #[test]
    fn magic_0_and_1_sets_convert_to_v2() {
        for magic in [0, 1] {
            let mut set = Vec::new();
            write_message(&mut set, magic, 0, 100, false, Some(b"k"), Some(b"a"));
            write_message(&mut set, magic, 1, 300, false, None, Some(b"b"));
            let (batch, summary) = to_v2(&set, 1000, 10_000).expect("valid set");
            assert_eq!(summary.outer_count, 2);
            assert_eq!(summary.record_count, 2);
            assert_eq!(summary.max_timestamp, if magic == 1 { 300 } else { -1 });
            let view = RecordBatch::new_checked(&batch[..]).expect("valid batch");
            let records: Vec<_> = Records::of_batch(&view).map(|r| r.expect("ok")).collect();
            assert_eq!(records[0].key, Some(&b"k"[..]));
            assert_eq!(records[1].value, Some(&b"b"[..]));
        }
    }

    #[test]
    fn gzip_wrappers_are_unpacked() {
        let mut inner = Vec::new();
        for i in 0..3 {
            write_message(&mut inner, 1, i, 1_000 + i, false, None, Some(b"x"));
        }
        let set = wrapper(1, 1, &gzip(&inner));
        let (batch, summary) = to_v2(&set, 1000, 10_000).expect("valid set");
        assert_eq!((summary.outer_count, summary.record_count), (1, 3));
        assert_eq!(summary.max_timestamp, 1_002);
        let view = RecordBatch::new_checked(&batch[..]).expect("valid");
        assert_eq!(view.records_count(), 3);
        // Snappy (xerial-framed, as the Java client writes it) and lz4 wrappers too.
        for codec in [Compression::Snappy, Compression::Lz4] {
            let set = wrapper(1, codec.id(), &test_codecs::compress(codec, &inner));
            let (_, summary) = to_v2(&set, 1000, 10_000).expect("valid set");
            assert_eq!((summary.outer_count, summary.record_count), (1, 3));
        }
        // zstd needs magic 2.
        let set = wrapper(1, 4, &test_codecs::compress(Compression::Zstd, &inner));
        assert_eq!(
            to_v2(&set, 1000, 10_000).err(),
            Some(RecordsError::UnsupportedCompression(Compression::Zstd.id()))
        );
    }

    #[test]
    fn bad_sets_are_errors() {
        let mut set = Vec::new();
        write_message(&mut set, 1, 0, 1, false, Some(b"k"), Some(b"v"));
        let mut flipped = set.clone();
        let n = flipped.len();
        flipped[n - 1] ^= 1;
        assert_eq!(
            to_v2(&flipped, 1000, 1000).err(),
            Some(RecordsError::CrcMismatch)
        );
        for cut in 1..set.len() {
            assert!(to_v2(&set[..cut], 1000, 1000).is_err());
        }
        assert_eq!(
            to_v2(&set, 10, 1000).err(),
            Some(RecordsError::MessageTooLarge)
        );
        assert_eq!(to_v2(&[], 10, 1000).err(), Some(RecordsError::Empty));
        let mut mixed = set.clone();
        write_message(&mut mixed, 0, 1, 1, false, None, None);
        assert_eq!(
            to_v2(&mixed, 1000, 1000).err(),
            Some(RecordsError::InvalidRecord)
        );
    }

    #[test]
    fn v2_down_converts_with_absolute_offsets() {
        let mut b = BatchBuilder::new(0);
        b.push(1_000, Some(b"k"), Some(b"v1"), &[(b"h", None)]);
        b.push(1_010, None, Some(b"v2"), &[]);
        let mut batch = b.finish();
        RecordBatch::new_unchecked(&mut batch[..]).set_base_offset(40);
        let mut control = BatchBuilder::new(42).control();
        control.push(0, Some(b"\0\0\0\0"), Some(b"\0\0\0\0\0\0"), &[]);
        batch.extend_from_slice(&control.finish());
        for magic in [0i8, 1] {
            let set = down_convert(&batch, magic, 0).expect("converts");
            let messages: Vec<_> = MessageSet::new(&set).map(|m| m.expect("valid")).collect();
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0].offset, 40);
            assert_eq!(messages[1].offset, 41);
            assert_eq!(messages[0].magic, magic);
            assert_eq!(messages[1].timestamp, if magic == 1 { 1_010 } else { -1 });
            assert_eq!(messages[0].key, Some(&b"k"[..]));
            assert_eq!(messages[1].value, Some(&b"v2"[..]));
        }
        // One message at least, even past bytes_max.
        let set = down_convert_bounded(&batch, 1, 0, 1, 1 << 20).expect("converts");
        assert_eq!(MessageSet::new(&set).count(), 1);
        // From the fetch offset on, inside the first batch.
        let set = down_convert(&batch, 1, 41).expect("converts");
        let offsets: Vec<_> = MessageSet::new(&set)
            .map(|m| m.expect("ok").offset)
            .collect();
        assert_eq!(offsets, vec![41]);
    }

    #[test]
    fn compressed_v2_down_converts_except_zstd() {
        let mut b = BatchBuilder::new(0);
        b.push(1_000, Some(b"k"), Some(b"v1"), &[]);
        b.push(1_010, None, Some(b"v2"), &[]);
        let plain = b.finish();
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
            let batch = test_codecs::compressed(&plain, codec);
            let set = down_convert(&batch, 1, 0).expect("converts");
            let values: Vec<_> = MessageSet::new(&set)
                .map(|m| m.expect("valid").value)
                .collect();
            assert_eq!(
                values,
                vec![Some(&b"v1"[..]), Some(&b"v2"[..])],
                "{codec:?}"
            );
        }
        let batch = test_codecs::compressed(&plain, Compression::Zstd);
        assert_eq!(
            down_convert(&batch, 1, 0),
            Err(RecordsError::UnsupportedCompression(Compression::Zstd.id()))
        );
    }
}
