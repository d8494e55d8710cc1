//! A Produce frame of one batch, encoded once and sent many times: each send rewrites the
//! correlation id and, for an idempotent or transactional producer's batch, the base sequence
//! and the CRC that covers it, as a producer's successive batches carry them.

use std::collections::VecDeque;
use std::time::Instant;

use blazemq_core::codec::Message;
use blazemq_core::codec::messages::ProduceResponse;
use blazemq_core::records::BatchBuilder;
use blazemq_core::records::batch::field;
use blazemq_core::records::crc::crc32c;

use crate::error::{BenchError, Result};
use crate::modes::batch_of;
use crate::stats::Latencies;
use crate::txn::Transactional;
use crate::wire::{self, Conn};

/// Every batch is sent with acks=all, which a transactional (idempotent) producer must use; the
/// plain batches beside them use it too, so that only the transaction differs.
const ACKS_ALL: i16 = -1;

/// The sequence after `records` records from `sequence`: Kafka's sequences wrap to 0 after
/// `i32::MAX`.
fn next_sequence(sequence: i32, records: i32) -> i32 {
    let next = i64::from(sequence) + i64::from(records);
    (next % (i64::from(i32::MAX) + 1)) as i32
}

/// A batch's CRC for any base sequence without reading the batch again. CRC-32C is affine in
/// its input (`crc(a ^ b) = crc(a) ^ crc(b) ^ crc(0)` for inputs of one length), so the CRC
/// with sequence `s` is the CRC with sequence 0 with, for each bit set in `s`, what setting that
/// bit alone changes: 32 CRCs of the batch once, then a few XORs a send, where a CRC of each
/// 10 KB batch would be client work the plain run does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SequenceCrc {
    at_zero: u32,
    bit_changes: [u32; 32],
}

impl SequenceCrc {
    /// For `batch` (its sequence field is overwritten while computing).
    fn new(batch: &mut [u8]) -> SequenceCrc {
        let mut crc_with = |sequence: u32| {
            batch[field::BASE_SEQUENCE].copy_from_slice(&sequence.to_be_bytes());
            crc32c(&batch[field::ATTRIBUTES.start..])
        };
        let at_zero = crc_with(0);
        let bit_changes = core::array::from_fn(|bit| crc_with(1 << bit) ^ at_zero);
        SequenceCrc {
            at_zero,
            bit_changes,
        }
    }

    /// The batch's CRC with base sequence `sequence`.
    fn of(&self, sequence: i32) -> u32 {
        let bits = sequence as u32;
        (0..32)
            .filter(|b| bits & (1 << b) != 0)
            .fold(self.at_zero, |crc, b| crc ^ self.bit_changes[b])
    }
}

/// A Produce frame of one batch to one partition, encoded once. Each send rewrites the
/// correlation id and, for a producer's batch, the base sequence and the CRC that covers it.
#[derive(Debug)]
pub struct BatchFrame {
    frame: Vec<u8>,
    version: i16,
    /// Where the batch starts in the frame, when its sequence is rewritten.
    batch_at: Option<usize>,
    /// The batch's CRC by sequence, for a producer's batch.
    crc: Option<SequenceCrc>,
    batch_len: usize,
    records: i32,
    next_sequence: i32,
    last_base_offset: i64,
}

impl BatchFrame {
    /// A frame of `records_per_batch` records to `topic` partition 0 at `version`: the
    /// producer's transactional batches when `txn` is given, plain batches otherwise.
    pub fn new(
        version: i16,
        topic: &str,
        records_per_batch: usize,
        value_size: usize,
        txn: Option<&Transactional>,
    ) -> Result<BatchFrame> {
        let builder = match txn {
            Some(t) => BatchBuilder::new(0).producer(t.producer_id, t.producer_epoch, 0, true),
            None => BatchBuilder::new(0),
        };
        let mut batch = batch_of(builder, records_per_batch, value_size);
        let crc = txn.map(|_| SequenceCrc::new(&mut batch));
        if let Some(c) = &crc {
            // Sequence 0 again, as `SequenceCrc::new` leaves its last trial in the field.
            batch[field::BASE_SEQUENCE].copy_from_slice(&0i32.to_be_bytes());
            batch[field::CRC].copy_from_slice(&c.of(0).to_be_bytes());
        }
        let req = wire::produce_request_as(
            topic,
            0,
            batch.clone(),
            ACKS_ALL,
            txn.map(|t| t.transactional_id.as_str()),
        );
        let frame = wire::encode_request(version, 0, &req)?;
        let batch_at = match txn {
            None => None,
            Some(_) => Some(
                frame
                    .windows(batch.len())
                    .rposition(|w| w == batch)
                    .ok_or_else(|| BenchError::Protocol("no batch in the produce frame".into()))?,
            ),
        };
        Ok(BatchFrame {
            frame,
            version,
            batch_at,
            crc,
            batch_len: batch.len(),
            records: i32::try_from(records_per_batch).unwrap_or(i32::MAX),
            next_sequence: 0,
            last_base_offset: -1,
        })
    }

    /// Bytes of the batch.
    pub fn batch_len(&self) -> usize {
        self.batch_len
    }

    /// Gives a producer's batch the next sequence (and the CRC that covers it).
    fn stamp_sequence(&mut self) {
        if let (Some(at), Some(crc)) = (self.batch_at, &self.crc) {
            let batch = &mut self.frame[at..at + self.batch_len];
            batch[field::BASE_SEQUENCE].copy_from_slice(&self.next_sequence.to_be_bytes());
            batch[field::CRC].copy_from_slice(&crc.of(self.next_sequence).to_be_bytes());
            self.next_sequence = next_sequence(self.next_sequence, self.records);
        }
    }

    /// Sends the frame with the next sequence; returns its correlation id.
    pub fn send(&mut self, conn: &mut Conn) -> Result<i32> {
        self.stamp_sequence();
        let id = conn.next_correlation_id();
        wire::set_correlation_id(&mut self.frame, id);
        conn.send(&self.frame)?;
        Ok(id)
    }

    /// Reads the answer to `correlation_id`: no error, and a base offset past the last one.
    pub fn recv(&mut self, conn: &mut Conn, correlation_id: i32) -> Result<()> {
        let body = conn.recv()?;
        let resp: ProduceResponse =
            wire::decode_response(ProduceResponse::API_KEY, self.version, correlation_id, body)?;
        let base = wire::produce_base_offset(&resp)?;
        if base <= self.last_base_offset {
            return Err(BenchError::Protocol(format!(
                "a batch appended at offset {base}, after one at {}",
                self.last_base_offset
            )));
        }
        self.last_base_offset = base;
        Ok(())
    }

    /// Keeps up to `inflight` sends outstanding while `more(sent)` says so, then reads every
    /// answer; records each request's latency. Returns the requests sent.
    pub fn pipeline(
        &mut self,
        conn: &mut Conn,
        inflight: usize,
        mut more: impl FnMut(u64) -> bool,
        latencies: &mut Latencies,
    ) -> Result<u64> {
        let mut outstanding = VecDeque::with_capacity(inflight);
        let mut sent = 0u64;
        loop {
            while outstanding.len() < inflight && more(sent) {
                let at = Instant::now();
                outstanding.push_back((self.send(conn)?, at));
                sent += 1;
            }
            let Some((id, at)) = outstanding.pop_front() else {
                return Ok(sent);
            };
            self.recv(conn, id)?;
            latencies.record(at.elapsed());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use crate::txn::TxnVersions;
    use blazemq_core::codec::Records;
    use blazemq_core::codec::messages::ProduceRequest;
    use blazemq_core::records::RecordBatch;

    fn txn() -> Transactional {
        Transactional {
            transactional_id: "t-id".into(),
            producer_id: 7,
            producer_epoch: 3,
            versions: TxnVersions {
                find_coordinator: 6,
                init_producer_id: 5,
                add_partitions: 3,
                end_txn: 4,
            },
            retries: 0,
        }
    }

    /// The batch of a frame as the broker decodes it.
    fn sent_batch(frame: &[u8], version: i16) -> Vec<u8> {
        let (_, body) = blazemq_core::codec::decode_request_header(&frame[4..]).unwrap();
        let req = ProduceRequest::decode_complete(body, version).unwrap();
        assert_eq!(req.transactional_id.as_deref(), Some("t-id"));
        assert_eq!(req.acks, -1);
        match &req.topic_data[0].partition_data[0].records {
            Some(Records::Bytes(b)) => b.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_send_continues_the_sequence_with_a_valid_crc() {
        for version in [3, 9, 11] {
            let mut f = BatchFrame::new(version, "t", 5, 10, Some(&txn())).unwrap();
            for expected in [0, 5, 10] {
                f.stamp_sequence();
                let bytes = sent_batch(&f.frame, version);
                let b = RecordBatch::new_checked(&bytes[..]).unwrap();
                assert_eq!(b.base_sequence(), expected, "v{version}");
                assert_eq!((b.producer_id(), b.producer_epoch()), (7, 3));
                assert!(b.is_transactional() && !b.is_control());
                assert_eq!(b.records_count(), 5);
            }
        }
    }

    #[test]
    fn plain_frames_are_sent_unchanged() {
        let mut f = BatchFrame::new(11, "t", 5, 10, None).unwrap();
        let before = f.frame.clone();
        f.stamp_sequence();
        assert_eq!(f.frame, before);
        let (_, body) = blazemq_core::codec::decode_request_header(&f.frame[4..]).unwrap();
        let req = ProduceRequest::decode_complete(body, 11).unwrap();
        assert_eq!((req.transactional_id, req.acks), (None, -1));
    }

    #[test]
    fn the_crc_by_sequence_is_the_crc_of_the_batch() {
        let mut batch = batch_of(BatchBuilder::new(0).producer(1, 0, 0, true), 3, 20);
        let crc = SequenceCrc::new(&mut batch);
        for sequence in [0, 1, 5, 100, 0x5555_5555, i32::MAX] {
            batch[field::BASE_SEQUENCE].copy_from_slice(&sequence.to_be_bytes());
            assert_eq!(crc.of(sequence), crc32c(&batch[field::ATTRIBUTES.start..]));
        }
    }

    #[test]
    fn sequences_wrap_as_kafkas_do() {
        assert_eq!(next_sequence(0, 100), 100);
        assert_eq!(next_sequence(i32::MAX - 1, 2), 0);
        assert_eq!(next_sequence(i32::MAX, 5), 4);
    }
}
