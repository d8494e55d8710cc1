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

use super::{Bounds, RunResult, topic_name, watched, with_broker_cpu};
use crate::args::Mode;
use crate::error::{BenchError, Result};
use crate::frame::BatchFrame;
use crate::stats::Latencies;
use crate::txn::Transactional;
use crate::wire::Conn;

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
mod tests {
    use super::*;

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
