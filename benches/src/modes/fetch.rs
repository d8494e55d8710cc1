//! Fetch throughput: fill a fresh partition with pipelined Produce batches, then consume it from
//! offset 0 and check that every record produced comes back, in order.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blazemq_core::codec::messages::{FetchRequest, FetchResponse};

use super::floor::worker_panicked;
use super::produce::Producer;
use super::throughput::pipelined;
use super::{Bounds, Progress, RunResult, batch, topic_name};
use crate::args::Mode;
use crate::error::{BenchError, Result};
use crate::stats::Latencies;
use crate::wire::{self, Conn};

/// Pipelined produce requests while filling the partition.
const FILL_INFLIGHT: usize = 8;

/// Kafka's READ_UNCOMMITTED isolation level: everything up to the high watermark.
pub const READ_UNCOMMITTED: i8 = 0;
/// Kafka's READ_COMMITTED: up to the last stable offset, with the aborted transactions listed.
pub const READ_COMMITTED: i8 = 1;

/// What a consumer read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    /// Records read (data records: control batches are counted in `control`).
    pub records: u64,
    /// Transaction markers read (one record per control batch).
    pub control: u64,
    /// Aborted transactions the answers listed.
    pub aborted: u64,
    /// Record batch bytes read (whole batches, as the broker sent them).
    pub bytes: u64,
    /// The offset after the last record read.
    pub next_offset: i64,
    /// From the first Fetch sent to the last answer read.
    pub elapsed: Duration,
}

/// Fetches from offset 0 until `end` (exclusive) at `isolation_level`, one Fetch in flight,
/// recording each Fetch's latency. Counts each record once, however the broker cuts its answers.
pub fn consume(
    conn: &mut Conn,
    topic: &str,
    end: i64,
    max_bytes: i32,
    isolation_level: i8,
    hard_limit: Duration,
    done: &AtomicU64,
) -> Result<(Consumed, Latencies)> {
    let version = conn.versions.fetch;
    let mut latencies = Latencies::new();
    let mut c = Consumed::default();
    let started = Instant::now();
    while c.next_offset < end {
        if started.elapsed() > hard_limit {
            return Err(BenchError::Protocol(format!(
                "fetched up to offset {} of {end} in {hard_limit:?}",
                c.next_offset
            )));
        }
        let sent = Instant::now();
        let req = FetchRequest {
            isolation_level,
            ..wire::fetch_request(topic, 0, c.next_offset, max_bytes, 500)
        };
        let resp: FetchResponse = conn.call(version, &req)?;
        latencies.record(sent.elapsed());
        let aborted = wire::fetched_partition(&resp)?
            .aborted_transactions
            .as_ref();
        c.aborted += aborted.map_or(0, |a| a.len() as u64);
        let (bytes, _high_watermark) = wire::fetched(&resp)?;
        for b in wire::whole_batches(bytes, c.next_offset)? {
            // A batch that starts before the fetch offset holds records already counted.
            let first = b.base_offset().max(c.next_offset);
            let offsets = u64::try_from(b.last_offset() + 1 - first).unwrap_or(0);
            if b.is_control() {
                c.control += offsets;
            } else {
                c.records += offsets;
            }
            c.bytes += b.total_len() as u64;
            c.next_offset = b.last_offset() + 1;
        }
        done.store(c.records, Ordering::Relaxed);
    }
    c.elapsed = started.elapsed();
    Ok((c, latencies))
}

/// Fills a partition for half the run (or with `bounds.count` records), then fetches it all.
pub fn run(
    addr: SocketAddr,
    records_per_batch: usize,
    value_size: usize,
    max_bytes: i32,
    bounds: &Bounds,
) -> Result<RunResult> {
    let topic = topic_name("fetch");
    let mut producer = Producer::new(addr, &topic, 1, 0, batch(records_per_batch, value_size))?;
    let fill = Bounds {
        duration: bounds.duration / 2,
        count: bounds.count.map(|n| n.div_ceil(records_per_batch as u64)),
    };
    let (produced, _) = pipelined(&mut producer, FILL_INFLIGHT, &fill, &AtomicU64::new(0))?;
    let end = i64::try_from(produced.count() * records_per_batch as u64).unwrap_or(i64::MAX);
    let mut conn = Conn::connect(addr)?;
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let mut progress = Progress::new("fetch", "records", bounds);
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = consume(
                &mut conn,
                &topic,
                end,
                max_bytes,
                READ_UNCOMMITTED,
                bounds.hard_limit(),
                &done,
            );
            finished.store(true, Ordering::Relaxed);
            r
        });
        progress.watch(&done, || finished.load(Ordering::Relaxed));
        worker.join()
    });
    let (consumed, latencies) = outcome.map_err(|_| worker_panicked())??;
    // Timed by the consumer itself: the progress watcher wakes only every 50 ms.
    let elapsed = consumed.elapsed;
    if consumed.records != end as u64 || consumed.next_offset != end {
        return Err(BenchError::Protocol(format!(
            "produced {end} records, fetched {} up to offset {}",
            consumed.records, consumed.next_offset
        )));
    }
    Ok(RunResult {
        mode: Mode::Fetch,
        label: format!(
            "1 conn, max_bytes {max_bytes}, {records_per_batch} x {value_size} B batches"
        ),
        elapsed,
        requests: latencies.count(),
        records: consumed.records,
        bytes: consumed.bytes,
        latency: latencies.summary(),
        broker_cpu_us_per_request: None,
        notes: vec![format!(
            "count checked: {end} records produced, {end} fetched"
        )],
    })
}
