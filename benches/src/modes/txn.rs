//! Transactional produce throughput: one connection commits transactions of N records, sent as
//! pipelined batches, beside the same batches sent without a transaction.
//!
//! A transaction is what a Java producer sends for `beginTransaction`, `send`s to one
//! partition, and `commitTransaction`: AddPartitionsToTxn, the batches (the producer's id and
//! epoch, base sequences continuing per partition, the transactional bit), and once every batch
//! is answered, EndTxn(commit).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blazemq_core::codec::Message;
use blazemq_core::codec::messages::ProduceResponse;
use blazemq_core::records::BatchBuilder;
use blazemq_core::records::batch::field;
use blazemq_core::records::crc::crc32c;

use super::{Bounds, RunResult, batch_of, topic_name, watched, with_broker_cpu};
use crate::args::Mode;
use crate::error::{BenchError, Result};
use crate::stats::Latencies;
use crate::txn::Transactional;
use crate::wire::{self, Conn};

/// Every batch is sent with acks=all, which a transactional (idempotent) producer must use.
const ACKS_ALL: i16 = -1;

/// What a transactional run sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnShape {
    /// Produce requests in flight within a transaction.
    pub inflight: usize,
    /// Records per request (one batch).
    pub records_per_batch: usize,
    /// Bytes per record value.
    pub value_size: usize,
    /// Records per transaction: a whole number of batches.
    pub txn_records: usize,
}

impl TxnShape {
    /// Batches per transaction.
    pub fn batches_per_txn(&self) -> u64 {
        (self.txn_records / self.records_per_batch.max(1)).max(1) as u64
    }
}

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
        let mut outstanding = std::collections::VecDeque::with_capacity(inflight);
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

/// A transactional producer on one connection to partition 0 of a topic it creates.
#[derive(Debug)]
pub struct TxnProducer {
    conn: Conn,
    txn: Transactional,
    frame: BatchFrame,
    topic: String,
    shape: TxnShape,
    /// Produce latencies within transactions.
    pub requests: Latencies,
}

impl TxnProducer {
    /// Connects, creates `topic` (one partition), finds the coordinator and gets a producer id.
    pub fn new(addr: SocketAddr, topic: &str, shape: &TxnShape) -> Result<TxnProducer> {
        let mut conn = Conn::connect(addr)?;
        conn.create_topic_ready(topic, 1)?;
        let txn = Transactional::init(&mut conn, &topic_name("txn-id"))?;
        let frame = BatchFrame::new(
            conn.versions.produce,
            topic,
            shape.records_per_batch,
            shape.value_size,
            Some(&txn),
        )?;
        Ok(TxnProducer {
            conn,
            txn,
            frame,
            topic: topic.into(),
            shape: *shape,
            requests: Latencies::new(),
        })
    }

    /// One committed transaction; returns its length.
    pub fn transaction(&mut self) -> Result<Duration> {
        let started = Instant::now();
        self.txn.add_partition(&mut self.conn, &self.topic, 0)?;
        let batches = self.shape.batches_per_txn();
        self.frame.pipeline(
            &mut self.conn,
            self.shape.inflight,
            |sent| sent < batches,
            &mut self.requests,
        )?;
        self.txn.commit(&mut self.conn)?;
        Ok(started.elapsed())
    }

    /// Commits transactions until `bounds` (a count is of records, rounded up to whole
    /// transactions): `(transactions, per-transaction latencies, elapsed)`.
    pub fn run(&mut self, bounds: &Bounds, done: &AtomicU64) -> Result<(u64, Latencies, Duration)> {
        let txn_records = self.shape.txn_records as u64;
        let mut latencies = Latencies::new();
        let started = Instant::now();
        let mut txns = 0u64;
        while !bounds.reached(started, txns * txn_records) {
            latencies.record(self.transaction()?);
            txns += 1;
            done.store(txns * txn_records, Ordering::Relaxed);
            if started.elapsed() > bounds.hard_limit() {
                return Err(BenchError::Protocol(format!(
                    "{txns} transactions in {:?}: the run is stuck",
                    bounds.hard_limit()
                )));
            }
        }
        Ok((txns, latencies, started.elapsed()))
    }

    /// AddPartitionsToTxn requests retried after CONCURRENT_TRANSACTIONS.
    pub fn retries(&self) -> u64 {
        self.txn.retries
    }

    /// Bytes of each batch.
    pub fn batch_len(&self) -> usize {
        self.frame.batch_len()
    }
}

/// The same batches without a transaction: one connection, `inflight` pipelined, acks=all.
fn plain(
    addr: SocketAddr,
    shape: &TxnShape,
    bounds: &Bounds,
    broker_pid: Option<u32>,
) -> Result<RunResult> {
    let topic = topic_name("txn-plain");
    let mut conn = Conn::connect(addr)?;
    conn.create_topic_ready(&topic, 1)?;
    let mut frame = BatchFrame::new(
        conn.versions.produce,
        &topic,
        shape.records_per_batch,
        shape.value_size,
        None,
    )?;
    let per_batch = shape.records_per_batch as u64;
    let ((sent, latencies, elapsed), cpu) = with_broker_cpu(broker_pid, || {
        watched("txn: non-transactional", "records", bounds, |done| {
            let mut latencies = Latencies::new();
            let started = Instant::now();
            let more = |sent: u64| {
                done.store(sent * per_batch, Ordering::Relaxed);
                !bounds.reached(started, sent * per_batch)
            };
            let sent = frame.pipeline(&mut conn, shape.inflight, more, &mut latencies)?;
            Ok((sent, latencies, started.elapsed()))
        })
    })?;
    Ok(RunResult {
        mode: Mode::Txn,
        label: format!(
            "non-transactional, 1 conn x {} in flight x {} x {} B",
            shape.inflight, shape.records_per_batch, shape.value_size
        ),
        elapsed,
        requests: sent,
        records: sent * per_batch,
        bytes: sent * frame.batch_len() as u64,
        latency: latencies.summary(),
        broker_cpu_us_per_request: cpu.map(|us| us / sent.max(1) as f64),
        notes: vec![format!(
            "acks=all; latency per request{}",
            per_record_cpu(cpu, sent * per_batch)
        )],
    })
}

/// One run of transactions of `shape.txn_records` records, `plain_rate` the non-transactional
/// records/s to compare with.
fn transactional(
    addr: SocketAddr,
    shape: &TxnShape,
    bounds: &Bounds,
    plain_rate: f64,
    broker_pid: Option<u32>,
) -> Result<RunResult> {
    let topic = topic_name("txn");
    let mut producer = TxnProducer::new(addr, &topic, shape)?;
    let name = format!("txn: {} records a transaction", shape.txn_records);
    let ((txns, latencies, elapsed), cpu) = with_broker_cpu(broker_pid, || {
        watched(&name, "records", bounds, |done| producer.run(bounds, done))
    })?;
    let batches = txns * shape.batches_per_txn();
    let retries = producer.retries();
    let requests = batches + txns * 2 + retries;
    let mut result = RunResult {
        mode: Mode::Txn,
        label: format!(
            "txn of {} records, 1 conn x {} in flight x {} x {} B",
            shape.txn_records, shape.inflight, shape.records_per_batch, shape.value_size
        ),
        elapsed,
        // AddPartitionsToTxn and EndTxn beside the batches.
        requests,
        records: txns * shape.txn_records as u64,
        bytes: batches * producer.batch_len() as u64,
        latency: latencies.summary(),
        broker_cpu_us_per_request: cpu.map(|us| us / requests.max(1) as f64),
        notes: Vec::new(),
    };
    let ratio = result.rate(result.records) / plain_rate.max(f64::MIN_POSITIVE);
    result.notes = vec![
        format!(
            "{txns} transactions committed (every answer error code 0); latency per transaction, \
             AddPartitionsToTxn to EndTxn answered; produce p50 {:.0} us{}",
            producer.requests.summary().p50_us(),
            per_record_cpu(cpu, result.records)
        ),
        format!("x non-transactional records/s: {ratio:.3}"),
    ];
    if retries > 0 {
        result.notes.push(format!(
            "{retries} AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS, sent again after 20 ms"
        ));
    }
    Ok(result)
}

/// `; broker CPU per 1,000 records: N us` when the broker's CPU was measured.
fn per_record_cpu(us: Option<f64>, records: u64) -> String {
    us.map_or(String::new(), |us| {
        format!(
            "; broker CPU per 1,000 records: {:.0} us",
            us * 1000.0 / records.max(1) as f64
        )
    })
}

/// The non-transactional run, then one run per transaction size in `txn_records`; with
/// `broker_pid`, the broker's CPU time of each.
pub fn run(
    addr: SocketAddr,
    shape: &TxnShape,
    txn_records: &[usize],
    bounds: &Bounds,
    broker_pid: Option<u32>,
) -> Result<Vec<RunResult>> {
    let base = plain(addr, shape, bounds, broker_pid)?;
    let plain_rate = base.rate(base.records);
    let mut runs = vec![base];
    for &n in txn_records {
        let shape = TxnShape {
            txn_records: n,
            ..*shape
        };
        runs.push(transactional(addr, &shape, bounds, plain_rate, broker_pid)?);
    }
    Ok(runs)
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

    #[test]
    fn a_transaction_is_whole_batches() {
        let shape = TxnShape {
            inflight: 8,
            records_per_batch: 100,
            value_size: 100,
            txn_records: 10_000,
        };
        assert_eq!(shape.batches_per_txn(), 100);
        let one = TxnShape {
            txn_records: 100,
            ..shape
        };
        assert_eq!(one.batches_per_txn(), 1);
    }
}
