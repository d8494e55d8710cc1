//! The records inside an uncompressed v2 batch, read in place, and a builder that writes a batch.
//!
//! ```text
//! length: varint  attributes: int8  timestampDelta: varlong  offsetDelta: varint
//! keyLength: varint  key: bytes  valueLength: varint  value: bytes
//! headersCount: varint  [headerKeyLength: varint  headerKey  headerValueLength: varint  value]
//! ```
//! Varints are zig-zag encoded as in protobuf; a length of -1 means null.

use alloc::vec::Vec;

use super::batch::{self, RecordBatch, field};
use super::crc::crc32c;
use super::error::RecordsError;

/// Decode a zig-zag varint of at most 5 bytes; returns the value and the bytes read.
pub fn read_varint(data: &[u8]) -> Result<(i32, usize), RecordsError> {
    let (raw, n) = read_unsigned(data, 5)?;
    let raw = u32::try_from(raw).map_err(|_| RecordsError::InvalidRecord)?;
    Ok((((raw >> 1) as i32) ^ -((raw & 1) as i32), n))
}

/// Decode a zig-zag varlong of at most 10 bytes; returns the value and the bytes read.
pub fn read_varlong(data: &[u8]) -> Result<(i64, usize), RecordsError> {
    let (raw, n) = read_unsigned(data, 10)?;
    Ok((((raw >> 1) as i64) ^ -((raw & 1) as i64), n))
}

fn read_unsigned(data: &[u8], bytes_max: usize) -> Result<(u64, usize), RecordsError> {
    // Most lengths and deltas fit in one byte: every record reads several of them.
    if let [byte, ..] = *data {
        if byte & 0x80 == 0 {
            return Ok((u64::from(byte), 1));
        }
    }
    let mut value: u64 = 0;
    for (i, &byte) in data.iter().take(bytes_max).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(RecordsError::InvalidRecord)
}

/// Append `value` as a zig-zag varint.
pub fn write_varint(out: &mut Vec<u8>, value: i32) {
    write_unsigned(out, ((value << 1) ^ (value >> 31)) as u32 as u64);
}

/// Append `value` as a zig-zag varlong.
pub fn write_varlong(out: &mut Vec<u8>, value: i64) {
    write_unsigned(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn write_unsigned(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The zig-zag varint at `*pos` of `data`, moving `*pos` past it.
#[inline(always)]
fn varint_at(data: &[u8], pos: &mut usize) -> Option<i32> {
    let rest = data.get(*pos..)?;
    // Deltas and short lengths take one byte, a record of 64 to 8191 bytes two.
    let (raw, n) = match *rest {
        [b0, ..] if b0 < 0x80 => (u32::from(b0), 1),
        [b0, b1, ..] if b1 < 0x80 => (u32::from(b0 & 0x7f) | (u32::from(b1) << 7), 2),
        _ => {
            let (value, n) = read_varint(rest).ok()?;
            *pos += n;
            return Some(value);
        }
    };
    *pos += n;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Moves `*pos` past the varint-length-prefixed bytes there; returns whether they were null.
#[inline(always)]
fn skip_bytes_at(data: &[u8], pos: &mut usize) -> Option<bool> {
    let len = varint_at(data, pos)?;
    if len == -1 {
        return Some(true);
    }
    let end = pos.checked_add(usize::try_from(len).ok()?)?;
    if end > data.len() {
        return None;
    }
    *pos = end;
    Some(false)
}

/// [`Record::check`] without the error type: positions into one slice, no record built.
fn check_record(data: &[u8]) -> Option<usize> {
    let mut pos = 0;
    let length = usize::try_from(varint_at(data, &mut pos)?).ok()?;
    let end = pos.checked_add(length)?;
    let record = data.get(..end)?;
    // Attributes.
    if pos >= end {
        return None;
    }
    pos += 1;
    let (_timestamp_delta, n) = read_varlong(&record[pos..]).ok()?;
    pos += n;
    let _offset_delta = varint_at(record, &mut pos)?;
    skip_bytes_at(record, &mut pos)?;
    skip_bytes_at(record, &mut pos)?;
    let headers = u32::try_from(varint_at(record, &mut pos)?).ok()?;
    // Every header takes at least two bytes, so this ends within the record.
    for _ in 0..headers {
        if skip_bytes_at(record, &mut pos)? {
            return None;
        }
        skip_bytes_at(record, &mut pos)?;
    }
    (pos == end).then_some(end)
}

/// The offset delta of the record that `record` holds, already checked by [`check_record`].
fn offset_delta_of(record: &[u8]) -> Option<i32> {
    let mut pos = 0;
    varint_at(record, &mut pos)?; // length
    pos += 1; // attributes
    let (_timestamp_delta, n) = read_varlong(record.get(pos..)?).ok()?;
    pos += n;
    varint_at(record, &mut pos)
}

/// A cursor over borrowed bytes that fails instead of running past the end.
struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Result<i32, RecordsError> {
        let (v, n) = read_varint(self.data)?;
        self.data = &self.data[n..];
        Ok(v)
    }

    fn varlong(&mut self) -> Result<i64, RecordsError> {
        let (v, n) = read_varlong(self.data)?;
        self.data = &self.data[n..];
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordsError> {
        if n > self.data.len() {
            return Err(RecordsError::InvalidRecord);
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    /// Bytes prefixed by a varint length; -1 is null, other negatives are an error.
    fn nullable_bytes(&mut self) -> Result<Option<&'a [u8]>, RecordsError> {
        match self.varint()? {
            -1 => Ok(None),
            n => {
                let n = usize::try_from(n).map_err(|_| RecordsError::InvalidRecord)?;
                self.take(n).map(Some)
            }
        }
    }
}

/// One record header: a key (never null) and a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The header key (UTF-8 by convention; not checked, as Kafka does not).
    pub key: &'a [u8],
    /// The header value, or null.
    pub value: Option<&'a [u8]>,
}

/// One record, borrowed from its batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Record attributes (unused by Kafka so far).
    pub attributes: i8,
    /// Timestamp minus the batch's `baseTimestamp`.
    pub timestamp_delta: i64,
    /// Offset minus the batch's `baseOffset`.
    pub offset_delta: i32,
    /// The key, or null.
    pub key: Option<&'a [u8]>,
    /// The value, or null (a tombstone).
    pub value: Option<&'a [u8]>,
    headers_count: u32,
    headers: &'a [u8],
}

impl<'a> Record<'a> {
    /// Parse one record (length prefix included) at the start of `data`; returns it and the
    /// bytes it took. Every length is checked against the bytes received.
    pub fn parse(data: &'a [u8]) -> Result<(Record<'a>, usize), RecordsError> {
        let (length, n) = read_varint(data)?;
        let length = usize::try_from(length).map_err(|_| RecordsError::InvalidRecord)?;
        let body = data.get(n..n + length).ok_or(RecordsError::InvalidRecord)?;
        let mut c = Cursor { data: body };
        let attributes = c.take(1)?[0] as i8;
        let timestamp_delta = c.varlong()?;
        let offset_delta = c.varint()?;
        let key = c.nullable_bytes()?;
        let value = c.nullable_bytes()?;
        let headers_count = u32::try_from(c.varint()?).map_err(|_| RecordsError::InvalidRecord)?;
        let headers = c.data;
        let record = Record {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers_count,
            headers,
        };
        // The headers must fill the rest of the record exactly (Kafka checks the same).
        let mut it = record.headers();
        for header in &mut it {
            header?;
        }
        if !it.cursor.data.is_empty() {
            return Err(RecordsError::InvalidRecord);
        }
        Ok((record, n + length))
    }

    /// Check one record at the start of `data` exactly as [`Record::parse`] does, without
    /// building it; returns the bytes it took. Validation of a produced batch walks every
    /// record this way.
    pub fn check(data: &[u8]) -> Result<usize, RecordsError> {
        check_record(data).ok_or(RecordsError::InvalidRecord)
    }

    /// The record's headers (already checked by [`Record::parse`]).
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            cursor: Cursor { data: self.headers },
            remaining: self.headers_count,
        }
    }

    /// Number of headers.
    pub fn headers_count(&self) -> u32 {
        self.headers_count
    }
}

/// Iterator over a record's headers.
pub struct Headers<'a> {
    cursor: Cursor<'a>,
    remaining: u32,
}

impl core::fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Headers")
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<'a> Iterator for Headers<'a> {
    type Item = Result<Header<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let header = (|| {
            let key = self
                .cursor
                .nullable_bytes()?
                .ok_or(RecordsError::InvalidRecord)?;
            let value = self.cursor.nullable_bytes()?;
            Ok(Header { key, value })
        })();
        if header.is_err() {
            self.remaining = 0;
        }
        Some(header)
    }
}

/// Iterator over the records of uncompressed record bytes (a batch's `records` part, or the
/// output of decompression). Yields at most the announced count; stops after the first error.
#[derive(Debug)]
pub struct Records<'a> {
    data: &'a [u8],
    remaining: u32,
}

impl<'a> Records<'a> {
    /// Records in `data`, of which there should be `count`.
    pub fn new(data: &'a [u8], count: u32) -> Self {
        Records {
            data,
            remaining: count,
        }
    }

    /// The records of an uncompressed batch.
    pub fn of_batch<T: AsRef<[u8]> + ?Sized>(batch: &'a RecordBatch<&'a T>) -> Self {
        let count = u32::try_from(batch.records_count()).unwrap_or(0);
        Records::new(batch.records_bytes(), count)
    }

    /// Bytes after the records read so far.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// Check every record and that they fill `data` exactly; returns the count.
    pub fn check_all(self) -> Result<u32, RecordsError> {
        let mut data = self.data;
        for _ in 0..self.remaining {
            let used = Record::check(data)?;
            data = &data[used..];
        }
        if !data.is_empty() {
            return Err(RecordsError::InvalidRecord);
        }
        Ok(self.remaining)
    }

    /// [`Records::check_all`], and that the offset deltas are 0, 1, 2, ... in order.
    ///
    /// For decompressed records, whose batch is stored as sent: Kafka rewrites a compressed
    /// batch whose inner offsets are off (for old v1 clients), which would take recompressing
    /// it here; no v2 client writes them, so such a batch is refused (INVALID_RECORD).
    pub fn check_all_in_order(self) -> Result<u32, RecordsError> {
        let mut data = self.data;
        for expected in 0..self.remaining {
            let used = Record::check(data)?;
            // The walk above stays the uncompressed path's own; the delta is read again here.
            if offset_delta_of(&data[..used]).and_then(|d| u32::try_from(d).ok()) != Some(expected)
            {
                return Err(RecordsError::InvalidRecord);
            }
            data = &data[used..];
        }
        if !data.is_empty() {
            return Err(RecordsError::InvalidRecord);
        }
        Ok(self.remaining)
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        match Record::parse(self.data) {
            Ok((record, used)) => {
                self.data = &self.data[used..];
                self.remaining -= 1;
                Some(Ok(record))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }
}

/// Writes one uncompressed v2 batch, record by record, with offset deltas 0, 1, 2, ...
///
/// Used by tests, by the legacy conversion, and by the broker's internal logs.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    attributes: i16,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
}

impl BatchBuilder {
    /// A batch starting at `base_offset`, no producer id, CreateTime, uncompressed.
    pub fn new(base_offset: i64) -> Self {
        let mut buf = Vec::with_capacity(batch::HEADER_LEN + 64);
        buf.resize(batch::HEADER_LEN, 0);
        buf[field::BASE_OFFSET].copy_from_slice(&base_offset.to_be_bytes());
        BatchBuilder {
            buf,
            count: 0,
            base_timestamp: -1,
            max_timestamp: -1,
            attributes: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
        }
    }

    /// Mark the batch idempotent (and transactional if `transactional`).
    pub fn producer(
        mut self,
        id: i64,
        epoch: i16,
        base_sequence: i32,
        transactional: bool,
    ) -> Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        if transactional {
            self.attributes |= 0x10;
        }
        self
    }

    /// Mark the batch a control batch.
    pub fn control(mut self) -> Self {
        self.attributes |= 0x20;
        self
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the batch if finished now.
    pub fn size_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Append a record with the next offset delta. The first record's timestamp becomes the
    /// batch's `baseTimestamp`.
    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&[u8], Option<&[u8]>)],
    ) {
        if self.count == 0 {
            self.base_timestamp = timestamp;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let mut body =
            Vec::with_capacity(16 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len));
        body.push(0); // attributes
        write_varlong(&mut body, timestamp.wrapping_sub(self.base_timestamp));
        write_varint(&mut body, self.count);
        write_nullable(&mut body, key);
        write_nullable(&mut body, value);
        write_varint(&mut body, len_i32(headers.len()));
        for (k, v) in headers {
            write_nullable(&mut body, Some(k));
            write_nullable(&mut body, *v);
        }
        write_varint(&mut self.buf, len_i32(body.len()));
        self.buf.extend_from_slice(&body);
        self.count += 1;
    }

    /// The finished batch, CRC included.
    pub fn finish(self) -> Vec<u8> {
        let mut buf = self.buf;
        let batch_length = len_i32(buf.len() - batch::LOG_OVERHEAD);
        let last_offset_delta = (self.count - 1).max(0);
        buf[field::BATCH_LENGTH].copy_from_slice(&batch_length.to_be_bytes());
        buf[field::PARTITION_LEADER_EPOCH].copy_from_slice(&(-1i32).to_be_bytes());
        buf[field::MAGIC] = batch::MAGIC_V2 as u8;
        buf[field::ATTRIBUTES].copy_from_slice(&self.attributes.to_be_bytes());
        buf[field::LAST_OFFSET_DELTA].copy_from_slice(&last_offset_delta.to_be_bytes());
        buf[field::BASE_TIMESTAMP].copy_from_slice(&self.base_timestamp.to_be_bytes());
        buf[field::MAX_TIMESTAMP].copy_from_slice(&self.max_timestamp.to_be_bytes());
        buf[field::PRODUCER_ID].copy_from_slice(&self.producer_id.to_be_bytes());
        buf[field::PRODUCER_EPOCH].copy_from_slice(&self.producer_epoch.to_be_bytes());
        buf[field::BASE_SEQUENCE].copy_from_slice(&self.base_sequence.to_be_bytes());
        buf[field::RECORDS_COUNT].copy_from_slice(&self.count.to_be_bytes());
        let crc = crc32c(&buf[field::ATTRIBUTES.start..]);
        buf[field::CRC].copy_from_slice(&crc.to_be_bytes());
        buf
    }
}

fn len_i32(len: usize) -> i32 {
    i32::try_from(len).expect("a record batch is smaller than 2 GiB (bounded by message.max.bytes)")
}

fn write_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => write_varint(out, -1),
        Some(b) => {
            write_varint(out, len_i32(b.len()));
            out.extend_from_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn varints_round_trip_and_match_kafka() {
        // Kafka's ByteUtils: 0 -> 00, -1 -> 01, 1 -> 02, 63 -> 7e, -64 -> 7f, 64 -> 80 01.
        for (v, bytes) in [
            (0, vec![0x00]),
            (-1, vec![0x01]),
            (1, vec![0x02]),
            (63, vec![0x7e]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
        ] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(out, bytes);
            assert_eq!(read_varint(&out), Ok((v, bytes.len())));
        }
        for v in [i32::MIN, i32::MAX, -300, 300] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(read_varint(&out), Ok((v, out.len())));
        }
        for v in [i64::MIN, i64::MAX, -1, 1 << 40] {
            let mut out = Vec::new();
            write_varlong(&mut out, v);
            assert_eq!(read_varlong(&out), Ok((v, out.len())));
        }
        assert!(read_varint(&[0x80; 6]).is_err());
        assert!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f]).is_err()); // 35 bits
        assert!(read_varlong(&[0x80; 11]).is_err());
        assert!(read_varint(&[]).is_err());
    }

    #[test]
    fn builder_output_iterates_back() {
        let mut b = BatchBuilder::new(10).producer(5, 1, 100, true);
        b.push(
            2_000,
            Some(b"key"),
            Some(b"value"),
            &[(b"h1", Some(b"x")), (b"h2", None)],
        );
        b.push(1_990, None, None, &[]);
        let bytes = b.finish();
        let batch = RecordBatch::new_checked(&bytes[..]).expect("valid");
        assert_eq!(batch.base_offset(), 10);
        assert_eq!(batch.last_offset(), 11);
        assert_eq!(batch.max_timestamp(), 2_000);
        assert!(batch.is_transactional());
        assert_eq!(batch.producer_id(), 5);
        let records: Vec<_> = Records::of_batch(&batch)
            .collect::<Result<_, _>>()
            .expect("valid records");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].key, Some(&b"key"[..]));
        assert_eq!(records[0].value, Some(&b"value"[..]));
        let headers: Vec<_> = records[0]
            .headers()
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(
            headers,
            vec![
                Header {
                    key: b"h1",
                    value: Some(b"x")
                },
                Header {
                    key: b"h2",
                    value: None
                }
            ]
        );
        assert_eq!(records[1].timestamp_delta, -10);
        assert_eq!(records[1].offset_delta, 1);
        assert_eq!(records[1].key, None);
        assert_eq!(records[1].value, None);
        assert_eq!(Records::of_batch(&batch).check_all(), Ok(2));
    }

    #[test]
    fn the_varint_fast_paths_read_what_the_general_reader_reads() {
        for b0 in 0..=255u8 {
            for b1 in 0..=255u8 {
                for data in [&[b0][..], &[b0, b1], &[b0, b1, 0x01], &[b0, b1, 0x81, 0x01]] {
                    let mut pos = 0;
                    let fast = varint_at(data, &mut pos).map(|v| (v, pos));
                    let general = read_varint(data).ok();
                    assert_eq!(fast, general, "{data:?}");
                }
            }
        }
    }

    #[test]
    fn malformed_records_are_errors() {
        // One record with one-byte lengths, one with two-byte lengths.
        let long = [7u8; 200];
        for (key, value) in [(&b"k"[..], &b"value"[..]), (&long[..70], &long[..])] {
            malformed_record_is_an_error(key, value);
        }
    }

    fn malformed_record_is_an_error(key: &[u8], value: &[u8]) {
        let mut b = BatchBuilder::new(0);
        b.push(0, Some(key), Some(value), &[(b"h", Some(b"v"))]);
        let bytes = b.finish();
        let records = &bytes[batch::HEADER_LEN..];
        // Every truncation and every single-byte change parses or fails, never panics.
        for cut in 0..records.len() {
            assert!(Records::new(&records[..cut], 1).check_all().is_err());
        }
        for i in 0..records.len() {
            for x in 1..=255u8 {
                let mut r = records.to_vec();
                r[i] ^= x;
                // The check that validation uses agrees with the full parse.
                let parsed = Record::parse(&r).map(|(_, used)| used);
                assert_eq!(Record::check(&r), parsed, "byte {i} ^ {x:#x}");
                let _ = Records::new(&r, 1).check_all();
            }
        }
        // A claimed count larger than what is there.
        assert!(Records::new(records, 2).check_all().is_err());
        // A huge claimed key length allocates nothing and fails.
        let mut r = Vec::new();
        write_varint(&mut r, 8);
        r.extend_from_slice(&[0, 0, 0]);
        write_varint(&mut r, i32::MAX);
        r.extend_from_slice(&[0; 3]);
        assert!(Records::new(&r, 1).check_all().is_err());
    }
}
