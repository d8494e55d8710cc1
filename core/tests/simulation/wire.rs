//! Requests as a client writes them (the codec's message structs, encoded), responses as a
//! client reads them, and the record batches inside.

use blazemq_core::codec::messages::{RequestHeader, ResponseHeader};
use blazemq_core::codec::{
    Message, Records, Writer, request_header_version, response_header_version,
};
use blazemq_core::records::{BatchBuilder, RecordBatch, Records as RecordIter};

/// The versions the simulated clients speak: recent, flexible ones, as a Kafka 4.x client sends.
pub const PRODUCE_V: i16 = 9;
pub const FETCH_V: i16 = 12;
pub const LIST_OFFSETS_V: i16 = 7;
pub const METADATA_V: i16 = 12;
pub const CREATE_TOPICS_V: i16 = 7;
pub const FIND_COORDINATOR_V: i16 = 3;
pub const JOIN_GROUP_V: i16 = 7;
pub const SYNC_GROUP_V: i16 = 5;
pub const HEARTBEAT_V: i16 = 4;
pub const OFFSET_COMMIT_V: i16 = 8;
pub const OFFSET_FETCH_V: i16 = 7;
pub const LEAVE_GROUP_V: i16 = 4;

/// A whole request frame: size prefix, header, body.
pub fn frame<M: Message>(version: i16, correlation_id: i32, body: &M) -> Vec<u8> {
    let header = RequestHeader {
        request_api_key: M::API_KEY,
        request_api_version: version,
        correlation_id,
        client_id: Some("sim".into()),
    };
    let mut w = Writer::new();
    w.put_i32(0);
    header
        .encode(&mut w, request_header_version(M::API_KEY, version))
        .expect("a request the simulator builds encodes");
    body.encode(&mut w, version)
        .expect("a request the simulator builds encodes");
    let mut bytes = w.into_bytes();
    let size = i32::try_from(bytes.len() - 4).expect("requests are small");
    bytes[..4].copy_from_slice(&size.to_be_bytes());
    bytes
}

/// The correlation id of a response frame, checking its size prefix.
pub fn correlation_id(frame: &[u8]) -> Result<i32, String> {
    let size = frame
        .get(..4)
        .ok_or("a response shorter than its size prefix")?;
    let size = i32::from_be_bytes(size.try_into().map_err(|_| "size")?);
    if usize::try_from(size).ok() != Some(frame.len() - 4) {
        return Err(format!("size prefix {size} for {} bytes", frame.len() - 4));
    }
    let id = frame.get(4..8).ok_or("no correlation id")?;
    Ok(i32::from_be_bytes(id.try_into().map_err(|_| "id")?))
}

/// Decode a response frame of `M` at `version`.
pub fn decode<M: Message>(api_key: i16, version: i16, frame: &[u8]) -> Result<M, String> {
    let header_version = response_header_version(api_key, version);
    let (rest, _) = ResponseHeader::decode(&frame[4..], header_version)
        .map_err(|e| format!("response header of api {api_key}: {e:?}"))?;
    M::decode_complete(rest, version).map_err(|e| format!("response of api {api_key}: {e:?}"))
}

/// One batch of records with these values (keys empty), as a producer without idempotence
/// sends it.
pub fn batch(values: &[Vec<u8>], unix_ms: i64) -> Vec<u8> {
    let mut b = BatchBuilder::new(0);
    for v in values {
        b.push(unix_ms, None, Some(v), &[]);
    }
    b.finish()
}

/// A record read back: its offset and value.
pub type Read = (i64, Vec<u8>);

/// The records of fetched batches, each batch CRC-checked; `Err` names what did not parse.
pub fn records(records: &Option<Records>) -> Result<Vec<Read>, String> {
    let mut bytes: &[u8] = match records {
        None => return Ok(Vec::new()),
        Some(Records::Bytes(b)) => b,
        Some(other) => return Err(format!("records not inline: {other:?}")),
    };
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let batch = RecordBatch::new_checked(bytes).map_err(|e| format!("fetched batch: {e:?}"))?;
        let base = batch.base_offset();
        for record in RecordIter::of_batch(&batch) {
            let record = record.map_err(|e| format!("fetched record: {e:?}"))?;
            let value = record.value.unwrap_or_default().to_vec();
            out.push((base + i64::from(record.offset_delta), value));
        }
        bytes = &bytes[batch.total_len()..];
    }
    Ok(out)
}
