//! The protocol versions the simulated clients speak and the records they read back; requests
//! are built and responses decoded by the broker's test harness, re-exported here.

pub use blazemq_core::broker::harness::{
    batch, correlation_id, fetch_request, produce_request, request, response,
};
use blazemq_core::codec::Records;
use blazemq_core::records::{RecordBatch, Records as RecordIter};

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
