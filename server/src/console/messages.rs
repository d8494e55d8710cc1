//! `GET` and `POST /api/topics/{name}/messages`: records read back with Fetch (as a consumer
//! reads them, decompressed here) and one record written with Produce.

use blazemq_core::codec::Records as RecordBytes;
use blazemq_core::codec::messages::fetch_request::{FetchPartition, FetchTopic};
use blazemq_core::codec::messages::metadata_response::MetadataResponseTopic;
use blazemq_core::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use blazemq_core::codec::messages::{FetchRequest, FetchResponse, ProduceRequest, ProduceResponse};
use blazemq_core::records::batch::peek_total_len;
use blazemq_core::records::compression::decompress_into;
use blazemq_core::records::{
    BatchBuilder, Compression, Record, RecordBatch, Records, TimestampType, decompressed_bytes_max,
};

use super::kafka::{self, EARLIEST, LATEST};
use super::{Answer, hex, int_field};
use crate::http::ask::Ask;
use crate::http::{Request, Response};
use crate::json::Json;

/// Records answered when the request names no `limit`, and the most it may name.
const LIMIT_DEFAULT: usize = 50;
const LIMIT_MAX: usize = 500;
/// Fetches one browse may take to gather its records: bounds the work of one request.
const FETCHES_MAX: usize = 8;
/// Bytes one Fetch asks for (the broker answers at least one whole batch, KIP-74).
const FETCH_BYTES_MAX: i32 = 1 << 20;

/// One record read back.
#[derive(Debug)]
struct Row {
    offset: i64,
    timestamp: i64,
    log_append_time: bool,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Up to `limit` records of one partition from an offset, a time, or (with neither) the last
/// `limit`.
pub(super) fn browse(ask: &mut impl Ask, name: &str, req: &Request<'_>) -> Answer {
    let partition = int_field(req, "partition", 0i32)?.unwrap_or(0);
    let limit = int_field(req, "limit", 1usize)?
        .unwrap_or(LIMIT_DEFAULT)
        .min(LIMIT_MAX);
    let offset = int_field(req, "offset", 0i64)?;
    let timestamp = int_field(req, "timestamp", 0i64)?;
    let topic = kafka::topic(ask, name)?;
    check_partition(&topic, partition)?;
    let start = offset_at(ask, name, partition, EARLIEST)?;
    let end = offset_at(ask, name, partition, LATEST)?;
    let from = match (offset, timestamp) {
        (Some(offset), _) => offset,
        // No record at or after the time: nothing to show, from the end.
        (None, Some(time)) => Some(offset_at(ask, name, partition, time)?)
            .filter(|&o| o >= 0)
            .unwrap_or(end),
        (None, None) => end.saturating_sub(i64::try_from(limit).unwrap_or(i64::MAX)),
    }
    .max(start);
    let (rows, next) = fetch_rows(ask, name, partition, from, end, limit)?;
    let mut j = Json::new();
    j.begin_object();
    j.key("topic").string(name);
    j.key("partition").number(partition);
    j.key("log_start_offset").number(start);
    j.key("end_offset").number(end);
    j.key("from").number(from);
    j.key("next_offset").number(next);
    j.key("records").begin_array();
    for row in &rows {
        write_row(&mut j, row);
    }
    j.end_array().end_object();
    Ok(Response::json(200, j.finish()))
}

/// The offset ListOffsets answers for one partition at `timestamp`.
fn offset_at(
    ask: &mut impl Ask,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<i64, Response> {
    let partitions = [(topic.to_owned(), vec![partition])];
    let offsets = kafka::list_offsets(ask, &partitions, timestamp)?;
    offsets
        .get(&(topic.to_owned(), partition))
        .copied()
        .ok_or_else(|| Response::error(502, "ListOffsets answered no offset"))
}

fn check_partition(topic: &MetadataResponseTopic, partition: i32) -> Result<(), Response> {
    if topic
        .partitions
        .iter()
        .any(|p| p.partition_index == partition)
    {
        return Ok(());
    }
    Err(Response::error(
        404,
        &format!("the topic has no partition {partition}"),
    ))
}

/// Records from `from` until `limit` of them, the end offset, or [`FETCHES_MAX`] fetches; and
/// the offset to read next.
fn fetch_rows(
    ask: &mut impl Ask,
    topic: &str,
    partition: i32,
    from: i64,
    end: i64,
    limit: usize,
) -> Result<(Vec<Row>, i64), Response> {
    let mut rows = Vec::new();
    let mut next = from;
    for _ in 0..FETCHES_MAX {
        if rows.len() >= limit || next >= end {
            break;
        }
        let data = fetch(ask, topic, partition, next)?;
        let after = read_batches(&data, next, limit, &mut rows)?;
        if after <= next {
            break;
        }
        next = after;
    }
    let next = rows.last().map_or(next, |row| row.offset.saturating_add(1));
    Ok((rows, next))
}

/// The record batches of one Fetch of `partition` at `offset`, answered at once.
fn fetch(
    ask: &mut impl Ask,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<Vec<u8>, Response> {
    let request = FetchRequest {
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: FETCH_BYTES_MAX,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: FETCH_BYTES_MAX,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let response: FetchResponse = kafka::asked(ask.ask(12, &request))?;
    if response.error_code != 0 {
        return Err(kafka::error(response.error_code, "fetch"));
    }
    let answer = response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .next();
    let answer = answer.ok_or_else(|| Response::error(502, "Fetch answered no partition"))?;
    if answer.error_code != 0 {
        return Err(kafka::error(answer.error_code, "fetch"));
    }
    match answer.records {
        Some(RecordBytes::Bytes(bytes)) => Ok(bytes),
        None => Ok(Vec::new()),
        Some(RecordBytes::Segment(_)) => Err(Response::error(502, "Fetch answered no bytes")),
    }
}

/// Appends the records of `data` at or after `from` to `rows` until it holds `limit`; returns
/// the offset after the last whole batch read. Control batches (transaction markers) are
/// skipped, as consumers skip them; a batch cut short at the end of the answer is left.
fn read_batches(
    mut data: &[u8],
    from: i64,
    limit: usize,
    rows: &mut Vec<Row>,
) -> Result<i64, Response> {
    let corrupt = |e| Response::error(502, &format!("a record batch does not read: {e}"));
    let mut next = from;
    let mut scratch = Vec::new();
    while rows.len() < limit {
        let Some(bytes) = peek_total_len(data).ok().and_then(|n| data.get(..n)) else {
            break;
        };
        data = &data[bytes.len()..];
        let batch = RecordBatch::new_checked(bytes).map_err(corrupt)?;
        next = next.max(batch.last_offset().saturating_add(1));
        if batch.is_control() {
            continue;
        }
        let compression = batch.compression().map_err(corrupt)?;
        let records = if compression == Compression::None {
            batch.records_bytes()
        } else {
            let max = decompressed_bytes_max(bytes.len());
            decompress_into(compression, batch.records_bytes(), max, &mut scratch)
                .map_err(corrupt)?;
            &scratch
        };
        let count = u32::try_from(batch.records_count()).unwrap_or(0);
        for record in Records::new(records, count) {
            let record = record.map_err(corrupt)?;
            let offset = batch
                .base_offset()
                .saturating_add(i64::from(record.offset_delta));
            if offset >= from && rows.len() < limit {
                rows.push(Row::new(&batch, &record, offset));
            }
        }
    }
    Ok(next)
}

impl Row {
    fn new(batch: &RecordBatch<&[u8]>, record: &Record<'_>, offset: i64) -> Row {
        let log_append_time = batch.timestamp_type() == TimestampType::LogAppendTime;
        let timestamp = if log_append_time {
            batch.max_timestamp()
        } else {
            batch.base_timestamp().wrapping_add(record.timestamp_delta)
        };
        Row {
            offset,
            timestamp,
            log_append_time,
            key: record.key.map(<[u8]>::to_vec),
            value: record.value.map(<[u8]>::to_vec),
            headers: record
                .headers()
                .filter_map(Result::ok)
                .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)))
                .collect(),
        }
    }
}

fn write_row(j: &mut Json, row: &Row) {
    j.begin_object();
    j.key("offset").number(row.offset);
    j.key("timestamp").number(row.timestamp);
    let kind = if row.log_append_time {
        "LogAppendTime"
    } else {
        "CreateTime"
    };
    j.key("timestamp_type").string(kind);
    j.key("key")
        .opt_string(row.key.as_deref().map(hex).as_deref());
    j.key("value")
        .opt_string(row.value.as_deref().map(hex).as_deref());
    j.key("headers").begin_array();
    for (key, value) in &row.headers {
        j.begin_object();
        j.key("key").string(&String::from_utf8_lossy(key));
        j.key("value")
            .opt_string(value.as_deref().map(hex).as_deref());
        j.end_object();
    }
    j.end_array();
    j.end_object();
}

/// Writes one record: the form's `key` (empty: none), `value` (absent: null, a tombstone) and
/// `headers` (a `name=value` per line; a line without `=` is a header with a null value) to
/// `partition`, or to the key's partition as Kafka's default partitioner picks it.
pub(super) fn produce(ask: &mut impl Ask, name: &str, req: &Request<'_>) -> Answer {
    let topic = kafka::topic(ask, name)?;
    let key = req.form("key").filter(|k| !k.is_empty());
    let value = req.form("value");
    let headers_text = req.form("headers").unwrap_or_default();
    let headers = parse_headers(&headers_text);
    let partition = match int_field(req, "partition", 0i32)? {
        Some(partition) => partition,
        None => default_partition(key.as_deref().map(str::as_bytes), topic.partitions.len())?,
    };
    check_partition(&topic, partition)?;
    let mut batch = BatchBuilder::new(0);
    batch.push(
        unix_ms(),
        key.as_deref().map(str::as_bytes),
        value.as_deref().map(str::as_bytes),
        &headers,
    );
    let request = ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 5_000,
        topic_data: vec![TopicProduceData {
            name: name.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(RecordBytes::Bytes(batch.finish())),
            }],
        }],
    };
    let response: ProduceResponse = kafka::asked(ask.ask(9, &request))?;
    let answer = response
        .responses
        .into_iter()
        .flat_map(|t| t.partition_responses)
        .next()
        .ok_or_else(|| Response::error(502, "Produce answered no partition"))?;
    if answer.error_code != 0 {
        let message = answer.error_message.unwrap_or_default();
        return Err(kafka::error(
            answer.error_code,
            &format!("produce {message}"),
        ));
    }
    let mut j = Json::new();
    j.begin_object();
    j.key("topic").string(name);
    j.key("partition").number(partition);
    j.key("offset").number(answer.base_offset);
    j.end_object();
    Ok(Response::json(200, j.finish()))
}

/// `name=value` lines; blank lines are skipped.
fn parse_headers(text: &str) -> Vec<(&[u8], Option<&[u8]>)> {
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_once('=') {
            Some((name, value)) => (name.as_bytes(), Some(value.as_bytes())),
            None => (line.as_bytes(), None),
        })
        .collect()
}

/// The partition Kafka's default partitioner gives `key` (murmur2, as the Java client), or for
/// no key one that changes with the clock.
fn default_partition(key: Option<&[u8]>, partitions: usize) -> Result<i32, Response> {
    let partitions = u32::try_from(partitions)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Response::error(502, "the topic has no partitions"))?;
    let hash = match key {
        Some(key) => murmur2(key) & 0x7fff_ffff,
        None => u32::try_from(unix_ms().rem_euclid(i64::from(partitions))).unwrap_or(0),
    };
    i32::try_from(hash % partitions).map_err(|_| Response::error(502, "partition out of range"))
}

/// Kafka's `Utils.murmur2`.
pub(super) fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut h: u32 = 0x9747_b28c ^ len;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= u32::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// Milliseconds since the Unix epoch: a produced record's CreateTime.
pub(super) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
