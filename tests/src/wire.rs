//! Just enough of the Kafka wire format, written independently of `blazemq-core`, to send raw
//! (and deliberately broken) requests and read the answers in tests.
//!
//! Every request here uses request header v1 (api key, version, correlation id, client id) and a
//! non-flexible version of its API, so no tagged fields are involved.

use std::io::{self, Read};

/// Largest response frame the tests accept; anything larger is a broken answer, not a reason to
/// allocate.
pub const RESPONSE_SIZE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Kafka API keys used by the raw tests.
pub mod api_key {
    /// Produce.
    pub const PRODUCE: i16 = 0;
    /// Metadata.
    pub const METADATA: i16 = 3;
    /// ApiVersions.
    pub const API_VERSIONS: i16 = 18;
    /// CreateTopics.
    pub const CREATE_TOPICS: i16 = 19;
}

/// Kafka error codes the raw tests expect.
pub mod error_code {
    /// NONE.
    pub const NONE: i16 = 0;
    /// CORRUPT_MESSAGE.
    pub const CORRUPT_MESSAGE: i16 = 2;
    /// TOPIC_ALREADY_EXISTS.
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
}

/// Appends big-endian primitives and Kafka strings to a buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// INT8.
    pub fn i8(&mut self, v: i8) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// INT16.
    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// INT32.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// INT64.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Raw bytes, no length prefix.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// STRING: INT16 length, then the bytes (which need not be valid UTF-8, on purpose).
    pub fn string(&mut self, bytes: &[u8]) -> &mut Self {
        let len = i16::try_from(bytes.len()).expect("test strings are shorter than 32 KiB");
        self.i16(len).raw(bytes)
    }

    /// NULLABLE_STRING holding null.
    pub fn null_string(&mut self) -> &mut Self {
        self.i16(-1)
    }

    /// BYTES / RECORDS: INT32 length, then the bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let len = i32::try_from(bytes.len()).expect("test payloads are shorter than 2 GiB");
        self.i32(len).raw(bytes)
    }

    /// Unsigned varint, as compact lengths and tagged-field counts use.
    pub fn uvarint(&mut self, mut v: u64) -> &mut Self {
        while v >= 0x80 {
            self.buf.push((v & 0x7f) as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
        self
    }

    /// Signed varint (zig-zag), as record fields use.
    pub fn varint(&mut self, v: i64) -> &mut Self {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let byte = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                self.buf.push(byte);
                return self;
            }
            self.buf.push(byte | 0x80);
        }
    }
}

impl Writer {
    /// BOOLEAN.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.i8(i8::from(v))
    }

    /// COMPACT_STRING: unsigned varint of length + 1, then the bytes.
    pub fn compact_string(&mut self, bytes: &[u8]) -> &mut Self {
        self.uvarint(bytes.len() as u64 + 1).raw(bytes)
    }

    /// COMPACT_ARRAY length: unsigned varint of `n + 1`.
    pub fn compact_len(&mut self, n: usize) -> &mut Self {
        self.uvarint(n as u64 + 1)
    }

    /// UUID.
    pub fn uuid(&mut self, id: [u8; 16]) -> &mut Self {
        self.raw(&id)
    }
}

/// Reads big-endian primitives from a response; every read returns `None` past the end.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*head)
    }

    /// INT16.
    pub fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }

    /// INT32.
    pub fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }

    /// INT64.
    pub fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }

    /// STRING (non-null).
    pub fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.i16()?).ok()?;
        let (head, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        Some(head)
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// INT8.
    pub fn i8(&mut self) -> Option<i8> {
        self.take().map(i8::from_be_bytes)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.rest = self.rest.get(n..)?;
        Some(())
    }

    /// BYTES / RECORDS: INT32 length (-1: null, read as empty), then the bytes.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.i32()?;
        if len == -1 {
            return Some(&[]);
        }
        let (head, rest) = self.rest.split_at_checked(usize::try_from(len).ok()?)?;
        self.rest = rest;
        Some(head)
    }

    /// Unsigned varint (at most 10 bytes).
    pub fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let [byte] = self.take::<1>()?;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// Signed (zig-zag) varint.
    pub fn varint(&mut self) -> Option<i64> {
        let z = self.uvarint()?;
        Some((z >> 1) as i64 ^ -((z & 1) as i64))
    }
}

/// A size-prefixed request with header v1.
pub fn request(api_key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut header = Writer::new();
    header
        .i16(api_key)
        .i16(version)
        .i32(correlation_id)
        .string(b"blazemq-tests")
        .raw(body);
    let mut frame = Writer::new();
    frame.bytes(&header.buf);
    frame.buf
}

/// A size-prefixed request with header v2, for flexible versions: header v1 plus an empty tagged
/// field section. The body is sent as given.
pub fn request_flexible(api_key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut header = Writer::new();
    header
        .i16(api_key)
        .i16(version)
        .i32(correlation_id)
        .string(b"blazemq-tests")
        .uvarint(0)
        .raw(body);
    let mut frame = Writer::new();
    frame.bytes(&header.buf);
    frame.buf
}

/// ApiVersions at `version` 0..=2 (empty body, non-flexible).
pub fn api_versions_request(version: i16, correlation_id: i32) -> Vec<u8> {
    request(api_key::API_VERSIONS, version, correlation_id, &[])
}

/// CreateTopics v2 (the oldest version Kafka 4 still serves): one topic, `partitions`
/// partitions, replication factor 1.
pub fn create_topics_request(correlation_id: i32, topic: &[u8], partitions: i32) -> Vec<u8> {
    create_topics_request_with(correlation_id, topic, partitions, &[])
}

/// [`create_topics_request`] with topic configs `(name, value)`.
pub fn create_topics_request_with(
    correlation_id: i32,
    topic: &[u8],
    partitions: i32,
    configs: &[(&[u8], &[u8])],
) -> Vec<u8> {
    let mut body = Writer::new();
    body.i32(1) // topics
        .string(topic)
        .i32(partitions)
        .i16(1) // replication factor
        .i32(0) // assignments
        .i32(i32::try_from(configs.len()).expect("few configs"));
    for (name, value) in configs {
        body.string(name).string(value);
    }
    body.i32(5_000) // timeout_ms
        .i8(0); // validate_only: false
    request(api_key::CREATE_TOPICS, 2, correlation_id, &body.buf)
}

/// Metadata v1 for the given topic names.
pub fn metadata_request(correlation_id: i32, topics: &[&[u8]]) -> Vec<u8> {
    let mut body = Writer::new();
    body.i32(i32::try_from(topics.len()).expect("few topics"));
    for topic in topics {
        body.string(topic);
    }
    request(api_key::METADATA, 1, correlation_id, &body.buf)
}

/// Produce v3 (the first version with record batch v2) of one batch to one partition, acks=-1.
pub fn produce_request(correlation_id: i32, topic: &[u8], partition: i32, batch: &[u8]) -> Vec<u8> {
    let mut body = Writer::new();
    body.null_string() // transactional_id
        .i16(-1) // acks: all
        .i32(5_000) // timeout_ms
        .i32(1) // topics
        .string(topic)
        .i32(1) // partitions
        .i32(partition)
        .bytes(batch);
    request(api_key::PRODUCE, 3, correlation_id, &body.buf)
}

/// The error code of the first partition of the first topic in a Produce v3 response body
/// (after the correlation id).
pub fn produce_response_error(body: &[u8]) -> Option<i16> {
    let mut r = Reader::new(body);
    let _topics = r.i32()?;
    let _name = r.string()?;
    let _partitions = r.i32()?;
    let _index = r.i32()?;
    r.i16()
}

/// The error code and base offset of the first partition of the first topic in a Produce v3
/// response body (after the correlation id).
pub fn produce_response_result(body: &[u8]) -> Option<(i16, i64)> {
    let mut r = Reader::new(body);
    let _topics = r.i32()?;
    let _name = r.string()?;
    let _partitions = r.i32()?;
    let _index = r.i32()?;
    Some((r.i16()?, r.i64()?))
}

/// The error code of the first topic in a CreateTopics v2 response body (after the correlation
/// id).
pub fn create_topics_response_error(body: &[u8]) -> Option<i16> {
    let mut r = Reader::new(body);
    let _throttle_time_ms = r.i32()?;
    let _topics = r.i32()?;
    let _name = r.string()?;
    r.i16()
}

/// A record batch v2 (magic 2, no compression) of `values`, with a correct CRC-32C.
pub fn record_batch(timestamp_ms: i64, values: &[&[u8]]) -> Vec<u8> {
    let records: Vec<(Option<&[u8]>, &[u8])> = values.iter().map(|v| (None, *v)).collect();
    keyed_record_batch(timestamp_ms, &records)
}

/// A record batch v2 of `(key, value)` records (`None`: a null key).
pub fn keyed_record_batch(timestamp_ms: i64, values: &[(Option<&[u8]>, &[u8])]) -> Vec<u8> {
    let mut records = Writer::new();
    for (delta, (key, value)) in (0i64..).zip(values) {
        let mut record = Writer::new();
        record
            .i8(0) // attributes
            .varint(0) // timestamp delta
            .varint(delta); // offset delta
        match key {
            Some(key) => record
                .varint(i64::try_from(key.len()).expect("small keys"))
                .raw(key),
            None => record.varint(-1),
        };
        record
            .varint(i64::try_from(value.len()).expect("small values"))
            .raw(value)
            .varint(0); // headers
        records
            .varint(i64::try_from(record.buf.len()).expect("small records"))
            .raw(&record.buf);
    }
    let count = i32::try_from(values.len()).expect("few records");
    // Everything from attributes on is covered by the CRC.
    let mut crc_covered = Writer::new();
    crc_covered
        .i16(0) // attributes
        .i32(count - 1) // last offset delta
        .i64(timestamp_ms) // base timestamp
        .i64(timestamp_ms) // max timestamp
        .i64(-1) // producer id
        .i16(-1) // producer epoch
        .i32(-1) // base sequence
        .i32(count)
        .raw(&records.buf);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&crc_covered.buf);
    let mut after_length = Writer::new();
    after_length
        .i32(0) // partition leader epoch
        .i8(2) // magic
        .i32(i32::from_be_bytes(crc.to_be_bytes()))
        .raw(&crc_covered.buf);
    let mut batch = Writer::new();
    batch.i64(0).bytes(&after_length.buf); // base offset, batch length
    batch.buf
}

/// Byte offset of the CRC field in a record batch v2.
pub const BATCH_CRC_OFFSET: usize = 17;

/// Reads one size-prefixed frame and returns it without the size.
pub fn read_frame(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = usize::try_from(i32::from_be_bytes(size))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative response size"))?;
    if size > RESPONSE_SIZE_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "response too large",
        ));
    }
    let mut frame = vec![0u8; size];
    stream.read_exact(&mut frame)?;
    Ok(frame)
}

/// Sends `request` and reads one response frame; checks the correlation id and returns the body.
pub fn round_trip(
    stream: &mut (impl Read + io::Write),
    request: &[u8],
    correlation_id: i32,
) -> io::Result<Vec<u8>> {
    stream.write_all(request)?;
    let frame = read_frame(stream)?;
    let mut r = Reader::new(&frame);
    if r.i32() != Some(correlation_id) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "wrong correlation id",
        ));
    }
    Ok(frame[4..].to_vec())
}

/// Byte offsets of record batch v2 fields that the fault tests rewrite (then [`reseal_crc`]).
pub mod batch_field {
    /// BATCH_LENGTH (INT32).
    pub const LENGTH: usize = 8;
    /// MAGIC (INT8).
    pub const MAGIC: usize = 16;
    /// ATTRIBUTES (INT16), the first byte the CRC covers.
    pub const ATTRIBUTES: usize = 21;
    /// LAST_OFFSET_DELTA (INT32).
    pub const LAST_OFFSET_DELTA: usize = 23;
    /// BASE_TIMESTAMP (INT64).
    pub const BASE_TIMESTAMP: usize = 27;
    /// MAX_TIMESTAMP (INT64).
    pub const MAX_TIMESTAMP: usize = 35;
    /// PRODUCER_ID (INT64).
    pub const PRODUCER_ID: usize = 43;
    /// PRODUCER_EPOCH (INT16).
    pub const PRODUCER_EPOCH: usize = 51;
    /// BASE_SEQUENCE (INT32).
    pub const BASE_SEQUENCE: usize = 53;
    /// RECORDS_COUNT (INT32).
    pub const RECORDS_COUNT: usize = 57;
}

/// Recomputes a record batch's CRC-32C after its fields were rewritten, so only the rewrite
/// is wrong.
pub fn reseal_crc(batch: &mut [u8]) {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&batch[batch_field::ATTRIBUTES..]);
    batch[BATCH_CRC_OFFSET..BATCH_CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Overwrites `bytes.len()` bytes of `batch` at `at` and reseals the CRC.
pub fn patch_batch(batch: &mut [u8], at: usize, bytes: &[u8]) {
    batch[at..at + bytes.len()].copy_from_slice(bytes);
    reseal_crc(batch);
}

/// Size-prefixes `payload` (a request header and body) into a frame.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Writer::new();
    frame.bytes(payload);
    frame.buf
}

/// Fetch API key.
pub const FETCH: i16 = 1;
/// ListOffsets API key.
pub const LIST_OFFSETS: i16 = 2;

/// Fetch v4 (non-flexible, by topic name) of one partition from `offset`, waiting at most
/// `max_wait_ms` for `min_bytes`.
pub fn fetch_request(
    correlation_id: i32,
    topic: &[u8],
    partition: i32,
    offset: i64,
    max_bytes: i32,
) -> Vec<u8> {
    let mut body = Writer::new();
    body.i32(-1) // replica_id: a consumer
        .i32(0) // max_wait_ms: answer at once
        .i32(0) // min_bytes
        .i32(max_bytes)
        .i8(0) // isolation_level: read uncommitted
        .i32(1) // topics
        .string(topic)
        .i32(1) // partitions
        .i32(partition)
        .i64(offset)
        .i32(max_bytes); // partition_max_bytes
    request(FETCH, 4, correlation_id, &body.buf)
}

/// One partition of a Fetch v4 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPartition {
    /// Its error code.
    pub error_code: i16,
    /// The high watermark.
    pub high_watermark: i64,
    /// The record batches, as sent.
    pub records: Vec<u8>,
}

/// The first partition of the first topic of a Fetch v4 response body (after the correlation
/// id).
pub fn fetch_response(body: &[u8]) -> Option<FetchedPartition> {
    let mut r = Reader::new(body);
    let _throttle_time_ms = r.i32()?;
    let _topics = r.i32()?;
    let _name = r.string()?;
    let _partitions = r.i32()?;
    let _index = r.i32()?;
    let error_code = r.i16()?;
    let high_watermark = r.i64()?;
    let _last_stable_offset = r.i64()?;
    let aborted = r.i32()?;
    if aborted > 0 {
        r.skip(usize::try_from(aborted).ok()? * 16)?;
    }
    let records = r.bytes()?.to_vec();
    Some(FetchedPartition {
        error_code,
        high_watermark,
        records,
    })
}

/// One record read back from a fetched batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedRecord {
    /// Its offset.
    pub offset: i64,
    /// Its key (`None` for null).
    pub key: Option<Vec<u8>>,
    /// Its value (empty for null).
    pub value: Vec<u8>,
}

/// The records of uncompressed v2 batches, in order. A partial batch at the end (a Fetch may cut
/// one) is ignored; anything else unreadable is `None`.
pub fn fetched_records(mut bytes: &[u8]) -> Option<Vec<FetchedRecord>> {
    let mut out = Vec::new();
    while bytes.len() >= 12 {
        let mut r = Reader::new(bytes);
        let base_offset = r.i64()?;
        let length = usize::try_from(r.i32()?).ok()?;
        let Some(batch) = bytes.get(12..12 + length) else {
            break;
        };
        batch_records(base_offset, batch, &mut out)?;
        bytes = &bytes[12 + length..];
    }
    Some(out)
}

/// Appends the records of one batch (the bytes after its length field) to `out`.
fn batch_records(base_offset: i64, batch: &[u8], out: &mut Vec<FetchedRecord>) -> Option<()> {
    let mut r = Reader::new(batch);
    r.skip(4)?; // partition leader epoch
    if r.i8()? != 2 {
        return None;
    }
    r.skip(4)?; // crc
    let attributes = r.i16()?;
    if attributes & 0x7 != 0 {
        return None; // compressed: the tests send none
    }
    r.skip(4 + 8 + 8 + 8 + 2 + 4)?;
    let count = r.i32()?;
    for _ in 0..count {
        let _length = r.varint()?;
        let _attributes = r.i8()?;
        let _timestamp_delta = r.varint()?;
        let offset_delta = r.varint()?;
        let key_len = r.varint()?;
        let key = match usize::try_from(key_len) {
            Ok(len) => {
                let key = batch.get(batch.len() - r.remaining()..)?.get(..len)?;
                r.skip(len)?;
                Some(key.to_vec())
            }
            Err(_) => None,
        };
        let value_len = usize::try_from(r.varint()?.max(0)).ok()?;
        let value = batch.get(batch.len() - r.remaining()..)?.get(..value_len)?;
        r.skip(value_len)?;
        for _ in 0..r.varint()? {
            let key_len = usize::try_from(r.varint()?).ok()?;
            r.skip(key_len)?;
            let value_len = r.varint()?;
            r.skip(usize::try_from(value_len.max(0)).ok()?)?;
        }
        out.push(FetchedRecord {
            offset: base_offset + offset_delta,
            key,
            value: value.to_vec(),
        });
    }
    Some(())
}

/// ListOffsets v1 of one partition at `timestamp` (-1 latest, -2 earliest).
pub fn list_offsets_request(
    correlation_id: i32,
    topic: &[u8],
    partition: i32,
    timestamp: i64,
) -> Vec<u8> {
    let mut body = Writer::new();
    body.i32(-1) // replica_id
        .i32(1)
        .string(topic)
        .i32(1)
        .i32(partition)
        .i64(timestamp);
    request(LIST_OFFSETS, 1, correlation_id, &body.buf)
}

/// The error code and offset of the first partition of a ListOffsets v1 response body.
pub fn list_offsets_response(body: &[u8]) -> Option<(i16, i64)> {
    let mut r = Reader::new(body);
    let _topics = r.i32()?;
    let _name = r.string()?;
    let _partitions = r.i32()?;
    let _index = r.i32()?;
    let error_code = r.i16()?;
    let _timestamp = r.i64()?;
    Some((error_code, r.i64()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_is_zigzag() {
        let mut w = Writer::new();
        w.varint(0).varint(-1).varint(1).varint(300);
        assert_eq!(w.buf, [0x00, 0x01, 0x02, 0xd8, 0x04]);
        let mut w = Writer::new();
        w.uvarint(0).uvarint(300).uvarint(u64::from(u32::MAX));
        assert_eq!(w.buf, [0x00, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    }

    #[test]
    fn record_batch_lengths_and_crc_agree() {
        let batch = record_batch(1_000, &[b"a", b"bc"]);
        let mut r = Reader::new(&batch);
        assert_eq!(r.i64(), Some(0));
        let length = usize::try_from(r.i32().unwrap_or(-1)).unwrap_or(0);
        assert_eq!(length, batch.len() - 12);
        let crc = u32::from_be_bytes(
            batch[BATCH_CRC_OFFSET..BATCH_CRC_OFFSET + 4]
                .try_into()
                .unwrap_or_default(),
        );
        let expected = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&batch[21..]);
        assert_eq!(crc, expected);
        assert_eq!(batch[16], 2, "magic");
    }

    #[test]
    fn request_frame_carries_its_size() {
        let frame = api_versions_request(0, 7);
        let mut r = Reader::new(&frame);
        assert_eq!(r.i32(), Some(i32::try_from(frame.len() - 4).unwrap_or(-1)));
        assert_eq!(r.i16(), Some(api_key::API_VERSIONS));
        assert_eq!(r.i16(), Some(0));
        assert_eq!(r.i32(), Some(7));
    }

    #[test]
    fn fetched_records_reads_back_a_batch() {
        let mut batch = record_batch(5, &[b"x", b"yz"]);
        batch[..8].copy_from_slice(&40i64.to_be_bytes());
        let mut two = batch.clone();
        two.extend_from_slice(&batch[..20]); // a partial batch, as a Fetch may end
        let records = fetched_records(&two).unwrap_or_default();
        let got: Vec<(i64, &[u8])> = records.iter().map(|r| (r.offset, &r.value[..])).collect();
        assert_eq!(got, [(40, &b"x"[..]), (41, &b"yz"[..])]);
    }

    #[test]
    fn patched_batches_keep_a_valid_crc() {
        let mut batch = record_batch(5, &[b"x"]);
        patch_batch(&mut batch, batch_field::PRODUCER_ID, &7i64.to_be_bytes());
        let crc = u32::from_be_bytes(
            batch[BATCH_CRC_OFFSET..BATCH_CRC_OFFSET + 4]
                .try_into()
                .unwrap_or_default(),
        );
        let expected = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&batch[21..]);
        assert_eq!(crc, expected);
        let mut r = Reader::new(&batch[batch_field::PRODUCER_ID..]);
        assert_eq!(r.i64(), Some(7));
    }
}
