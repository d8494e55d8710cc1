//! Control batches: the transaction markers a partition gets when a transaction ends (KIP-98).
//!
//! A marker is one batch of magic 2 with the control (0x20) and transactional (0x10) attribute
//! bits, the producer's id and epoch, base sequence -1, and one record: key `[version i16 = 0,
//! type i16]` (0 ABORT, 1 COMMIT), value `[version i16 = 0, coordinator_epoch i32]`, no headers,
//! timestamps the broker's clock. Byte for byte what Kafka's `MemoryRecords.withEndTransactionMarker`
//! writes (its `ControlRecordType` and `EndTransactionMarker`).

use alloc::vec::Vec;

use super::batch::RecordBatch;
use super::record::{BatchBuilder, Record};

/// The control record types Kafka defines for transaction markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlType {
    /// The transaction aborted: readers at READ_COMMITTED drop its records.
    Abort,
    /// The transaction committed.
    Commit,
}

impl ControlType {
    /// Kafka's code for the type (the key's second field).
    pub fn code(self) -> i16 {
        match self {
            ControlType::Abort => 0,
            ControlType::Commit => 1,
        }
    }
}

/// The version of the control record key and of the marker value Kafka writes.
const CONTROL_VERSION: i16 = 0;

/// The end transaction marker of `producer_id`/`producer_epoch`, at offset 0 (the log assigns
/// the real one), stamped `timestamp`.
pub fn end_transaction_marker(
    producer_id: i64,
    producer_epoch: i16,
    kind: ControlType,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Vec<u8> {
    let mut key = [0u8; 4];
    key[..2].copy_from_slice(&CONTROL_VERSION.to_be_bytes());
    key[2..].copy_from_slice(&kind.code().to_be_bytes());
    let mut value = [0u8; 6];
    value[..2].copy_from_slice(&CONTROL_VERSION.to_be_bytes());
    value[2..].copy_from_slice(&coordinator_epoch.to_be_bytes());
    // Kafka writes markers with no sequence (-1), transactional and control.
    let mut batch = BatchBuilder::new(0)
        .producer(producer_id, producer_epoch, -1, true)
        .control();
    batch.push(timestamp, Some(&key), Some(&value), &[]);
    batch.finish()
}

/// What an end transaction marker says, read from its batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marker {
    /// ABORT or COMMIT.
    pub kind: ControlType,
    /// The coordinator epoch the value carries.
    pub coordinator_epoch: i32,
}

/// The marker a control batch holds, or `None` if `batch` is not a control batch with one
/// well-formed marker record (an uncompressed one, as Kafka writes them).
pub fn read_marker(batch: &RecordBatch<&[u8]>) -> Option<Marker> {
    if !batch.is_control() || batch.records_count() != 1 {
        return None;
    }
    let (record, _) = Record::parse(batch.records_bytes()).ok()?;
    let key = record.key?;
    let value = record.value?;
    if key.len() < 4 || value.len() < 6 {
        return None;
    }
    let kind = match i16::from_be_bytes([key[2], key[3]]) {
        0 => ControlType::Abort,
        1 => ControlType::Commit,
        _ => return None,
    };
    let coordinator_epoch = i32::from_be_bytes([value[2], value[3], value[4], value[5]]);
    Some(Marker {
        kind,
        coordinator_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_the_batch_kafka_writes() {
        let bytes = end_transaction_marker(4242, 3, ControlType::Commit, 7, 1_700_000_000_000);
        let batch = RecordBatch::new_checked(bytes.as_slice()).expect("a valid batch");
        assert!(batch.crc_valid());
        assert_eq!(batch.magic(), 2);
        // Control and transactional bits, CreateTime, uncompressed.
        assert_eq!(batch.attributes(), 0x30);
        assert_eq!(batch.producer_id(), 4242);
        assert_eq!(batch.producer_epoch(), 3);
        assert_eq!(batch.base_sequence(), -1);
        assert_eq!(batch.records_count(), 1);
        assert_eq!(batch.last_offset_delta(), 0);
        assert_eq!(batch.base_timestamp(), 1_700_000_000_000);
        assert_eq!(batch.max_timestamp(), 1_700_000_000_000);
        let (record, _) = Record::parse(batch.records_bytes()).expect("one record");
        assert_eq!(record.key, Some(&[0, 0, 0, 1][..]));
        assert_eq!(record.value, Some(&[0, 0, 0, 0, 0, 7][..]));
        assert_eq!(record.headers_count(), 0);
        assert_eq!(
            read_marker(&batch),
            Some(Marker {
                kind: ControlType::Commit,
                coordinator_epoch: 7
            })
        );
        // The record byte for byte as Kafka 4.1.1 serves a marker: length 16, attributes,
        // timestamp and offset deltas 0, key of 4 bytes, value of 6, no headers.
        assert_eq!(
            batch.records_bytes(),
            [32, 0, 0, 0, 8, 0, 0, 0, 1, 12, 0, 0, 0, 0, 0, 7, 0]
        );
        assert_eq!(bytes.len(), 61 + 17);
    }

    #[test]
    fn an_abort_marker_has_type_zero() {
        let bytes = end_transaction_marker(1, 0, ControlType::Abort, -1, 5);
        let batch = RecordBatch::new_checked(bytes.as_slice()).expect("a valid batch");
        let marker = read_marker(&batch).expect("a marker");
        assert_eq!(marker.kind, ControlType::Abort);
        assert_eq!(marker.coordinator_epoch, -1);
        let plain = BatchBuilder::new(0).finish();
        let plain = RecordBatch::new_unchecked(plain.as_slice());
        assert_eq!(read_marker(&plain), None);
    }
}
