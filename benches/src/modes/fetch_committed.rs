//! READ_COMMITTED beside READ_UNCOMMITTED: fill a fresh partition with committed transactions
//! (for half the run, as `fetch` fills), then consume it from offset 0 at each isolation level.
//! With nothing aborted and nothing open both read the same batches, markers included, so the
//! difference is what the broker does for READ_COMMITTED: the last stable offset and the aborted
//! transactions it looks up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use blazemq_core::codec::messages::{FetchRequest, FetchResponse};

use super::fetch::{Consumed, READ_COMMITTED, READ_UNCOMMITTED, consume};
use super::txn::{TxnProducer, TxnShape};
use super::{Bounds, RunResult, topic_name, watched, with_broker_cpu};
use crate::args::Mode;
use crate::error::{BenchError, Result};
use crate::stats::Latencies;
use crate::wire::{self, Conn};

/// Pipelined produce requests within each transaction of the fill.
const FILL_INFLIGHT: usize = 8;

/// Waits until the partition's high watermark and last stable offset are both `end`: Kafka
/// writes a transaction's markers after it answers EndTxn, so the last one may still be on its
/// way.
fn wait_stable(conn: &mut Conn, topic: &str, end: i64, limit: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let req = FetchRequest {
            isolation_level: READ_COMMITTED,
            ..wire::fetch_request(topic, 0, 0, 1, 0)
        };
        let resp: FetchResponse = conn.call(conn.versions.fetch, &req)?;
        let p = wire::fetched_partition(&resp)?;
        let (hw, lso) = (p.high_watermark, p.last_stable_offset);
        if hw == end && lso == end {
            return Ok(());
        }
        if hw > end || started.elapsed() > limit {
            return Err(BenchError::Protocol(format!(
                "expected {end} offsets (records and one marker a transaction), the broker \
                 reports high watermark {hw} and last stable offset {lso}"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What each pass must have read: every record, every marker, to the end, nothing aborted.
fn check(name: &str, c: &Consumed, records: u64, txns: u64, end: i64) -> Result<()> {
    if c.records != records || c.control != txns || c.next_offset != end || c.aborted != 0 {
        return Err(BenchError::Protocol(format!(
            "{name}: {records} records in {txns} committed transactions produced (end offset \
             {end}); read {} records, {} markers, {} aborted transactions, up to offset {}",
            c.records, c.control, c.aborted, c.next_offset
        )));
    }
    Ok(())
}

/// One pass from offset 0 at `isolation_level`.
fn pass(
    addr: SocketAddr,
    topic: &str,
    end: i64,
    max_bytes: i32,
    isolation_level: i8,
    bounds: &Bounds,
) -> Result<(Consumed, Latencies)> {
    let mut conn = Conn::connect(addr)?;
    let name = match isolation_level {
        READ_COMMITTED => "fetch-committed: read_committed",
        _ => "fetch-committed: read_uncommitted",
    };
    watched(name, "records", bounds, |done| {
        consume(
            &mut conn,
            topic,
            end,
            max_bytes,
            isolation_level,
            bounds.hard_limit(),
            done,
        )
    })
}

/// Timed passes per isolation level, alternating, so that a stall of the machine lands in one
/// pass of one level and the median passes over it.
const PASSES: usize = 9;

/// The median of `passes` by elapsed time.
fn median(mut passes: Vec<Consumed>) -> Option<Consumed> {
    passes.sort_by_key(|c| c.elapsed);
    passes.get(passes.len() / 2).copied()
}

/// Fills `topic` with committed transactions for half of `bounds`, and waits until they are all
/// stable; returns the transactions, their records, and the partition's end offset.
fn fill(
    addr: SocketAddr,
    topic: &str,
    shape: &TxnShape,
    bounds: &Bounds,
) -> Result<(u64, u64, i64)> {
    let mut producer = TxnProducer::new(addr, topic, shape)?;
    let fill = Bounds {
        duration: bounds.duration / 2,
        count: bounds.count,
    };
    let (txns, _, _) = watched("fetch-committed: fill", "records", &fill, |done| {
        producer.run(&fill, done)
    })?;
    let records = txns * shape.txn_records as u64;
    // One partition: each transaction's records and its one COMMIT marker.
    let end = i64::try_from(records + txns).unwrap_or(i64::MAX);
    wait_stable(&mut Conn::connect(addr)?, topic, end, bounds.hard_limit())?;
    Ok((txns, records, end))
}

/// The records per second of `passes`, slowest first.
fn sorted_rates(passes: &[Consumed]) -> Vec<f64> {
    let mut rates: Vec<f64> = passes
        .iter()
        .map(|c| c.records as f64 / c.elapsed.as_secs_f64().max(1e-9))
        .collect();
    rates.sort_by(f64::total_cmp);
    rates
}

/// Fills a partition with committed transactions of `shape.txn_records` records, reads it with
/// READ_UNCOMMITTED once untimed (every segment opened and its pages touched), then reads it
/// nine times at each level, alternately; each level's median pass is its result.
pub fn run(
    addr: SocketAddr,
    shape: &TxnShape,
    max_bytes: i32,
    bounds: &Bounds,
    broker_pid: Option<u32>,
) -> Result<Vec<RunResult>> {
    let shape = TxnShape {
        inflight: FILL_INFLIGHT,
        ..*shape
    };
    let topic = topic_name("fetch-committed");
    let (txns, records, end) = fill(addr, &topic, &shape, bounds)?;
    let (warm, _) = pass(addr, &topic, end, max_bytes, READ_UNCOMMITTED, bounds)?;
    check("read_uncommitted (warm-up)", &warm, records, txns, end)?;
    let levels = [
        (READ_UNCOMMITTED, "read_uncommitted"),
        (READ_COMMITTED, "read_committed"),
    ];
    let mut passes: [(Vec<Consumed>, Latencies, Option<f64>); 2] = Default::default();
    for _ in 0..PASSES {
        for ((level, name), (done, latencies, cpu)) in levels.iter().zip(passes.iter_mut()) {
            let ((c, l), us) = with_broker_cpu(broker_pid, || {
                pass(addr, &topic, end, max_bytes, *level, bounds)
            })?;
            check(name, &c, records, txns, end)?;
            done.push(c);
            latencies.merge(&l);
            *cpu = us.map(|us| us + cpu.unwrap_or(0.0));
        }
    }
    let mut runs = Vec::new();
    for ((_, name), (done, latencies, cpu)) in levels.into_iter().zip(passes) {
        let spread = sorted_rates(&done);
        let m = median(done).ok_or_else(|| BenchError::Protocol("no pass ran".into()))?;
        let mut result = RunResult {
            mode: Mode::FetchCommitted,
            label: format!(
                "{name}, max_bytes {max_bytes}, txns of {} x ({} x {} B)",
                shape.txn_records, shape.records_per_batch, shape.value_size
            ),
            elapsed: m.elapsed,
            requests: latencies.count() / PASSES as u64,
            records: m.records,
            bytes: m.bytes,
            latency: latencies.summary(),
            broker_cpu_us_per_request: cpu.map(|us| us / latencies.count().max(1) as f64),
            notes: vec![
                format!(
                    "count checked: {records} records and {txns} markers produced and read in \
                     each pass, no aborted transaction listed"
                ),
                format!(
                    "median of {PASSES} passes (records/s {:.0} to {:.0}); latencies of all",
                    spread.first().copied().unwrap_or(0.0),
                    spread.last().copied().unwrap_or(0.0)
                ),
            ],
        };
        let rate = result.rate(result.records);
        if let Some(uncommitted) = runs.first().map(|r: &RunResult| r.rate(r.records)) {
            result.notes.push(format!(
                "x read_uncommitted records/s: {:.3}",
                rate / f64::max(uncommitted, f64::MIN_POSITIVE)
            ));
        }
        runs.push(result);
    }
    Ok(runs)
}
