//! Throughput: N connections, each with a window of pipelined Produce requests of a batch each.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::floor::worker_panicked;
use super::produce::Producer;
use super::{Bounds, Progress, RunResult, batch, topic_name};
use crate::args::Mode;
use crate::codecs::{Codec, compressed, json_batch};
use crate::error::Result;
use crate::stats::Latencies;

/// Keeps up to `inflight` requests outstanding on `producer` until `bounds`; adds each
/// completed request to `done`. Responses come in request order, so the oldest send time
/// belongs to the next response.
pub fn pipelined(
    producer: &mut Producer,
    inflight: usize,
    bounds: &Bounds,
    done: &AtomicU64,
) -> Result<(Latencies, Duration)> {
    let mut latencies = Latencies::new();
    let mut outstanding: VecDeque<(i32, Instant)> = VecDeque::with_capacity(inflight);
    let started = Instant::now();
    let (mut sent, mut completed) = (0u64, 0u64);
    loop {
        while outstanding.len() < inflight && !bounds.reached(started, sent) {
            let at = Instant::now();
            outstanding.push_back((producer.send()?, at));
            sent += 1;
        }
        let Some((id, at)) = outstanding.pop_front() else {
            break;
        };
        producer.recv(id)?;
        latencies.record(at.elapsed());
        completed += 1;
        done.fetch_add(1, Ordering::Relaxed);
        if started.elapsed() > bounds.hard_limit() {
            return Err(crate::BenchError::Protocol(format!(
                "{completed} requests in {:?}: the run is stuck",
                bounds.hard_limit()
            )));
        }
    }
    Ok((latencies, started.elapsed()))
}

/// What a throughput run sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Connections, each with its own window of requests.
    pub connections: usize,
    /// Partitions of the topic.
    pub partitions: usize,
    /// Requests in flight per connection.
    pub inflight: usize,
    /// Records per request (one batch).
    pub records_per_batch: usize,
    /// Bytes per record value.
    pub value_size: usize,
    /// The batch's compression.
    pub codec: Codec,
}

/// The batch every request of a run carries. Uncompressed runs keep their values of one
/// repeated byte; compressed ones send JSON-like values, which compress as real data does.
fn run_batch(shape: &Shape) -> Vec<u8> {
    match shape.codec {
        Codec::None => batch(shape.records_per_batch, shape.value_size),
        codec => compressed(
            &json_batch(shape.records_per_batch, shape.value_size, false),
            codec,
        ),
    }
}

/// Runs the throughput test with `connections` connections over one topic of `partitions`
/// partitions: connection `c` starts at partition `c mod partitions` and sends each request to
/// the next partition in turn, so the records are spread evenly over all of them.
pub fn run(addr: SocketAddr, shape: &Shape, bounds: &Bounds) -> Result<RunResult> {
    let Shape {
        connections,
        partitions,
        inflight,
        records_per_batch,
        value_size,
        codec,
    } = *shape;
    let records = run_batch(shape);
    let batch_len = records.len() as u64;
    let topic = topic_name("throughput");
    let partition_count = i32::try_from(partitions).unwrap_or(i32::MAX).max(1);
    let mut producers = (0..connections)
        .map(|c| {
            let first = i32::try_from(c % partitions.max(1)).unwrap_or(0);
            let mut p = Producer::new(addr, &topic, partition_count, first, records.clone())?;
            p.spread_over(partition_count);
            Ok(p)
        })
        .collect::<Result<Vec<_>>>()?;
    let share = bounds.share(connections);
    let done = AtomicU64::new(0);
    let running = AtomicUsize::new(connections);
    let name = format!("throughput x{connections} / {partitions} partitions");
    let mut progress = Progress::new(&name, "requests", bounds);
    let outcomes = std::thread::scope(|s| {
        let workers: Vec<_> = producers
            .iter_mut()
            .map(|p| {
                let (done, running) = (&done, &running);
                s.spawn(move || {
                    let r = pipelined(p, inflight, &share, done);
                    running.fetch_sub(1, Ordering::Relaxed);
                    r
                })
            })
            .collect();
        progress.watch(&done, || running.load(Ordering::Relaxed) == 0);
        workers.into_iter().map(|w| w.join()).collect::<Vec<_>>()
    });
    // Timed by the workers themselves (the longest): the progress watcher wakes every 50 ms.
    let mut elapsed = Duration::ZERO;
    let mut latencies = Latencies::new();
    for outcome in outcomes {
        let (l, worked) = outcome.map_err(|_| worker_panicked())??;
        elapsed = elapsed.max(worked);
        latencies.merge(&l);
    }
    let requests = latencies.count();
    Ok(RunResult {
        mode: Mode::Throughput,
        label: match codec {
            Codec::None => format!(
                "{connections} conn x {inflight} in flight x {records_per_batch} x {value_size} B, {partitions} part"
            ),
            codec => format!(
                "{connections} conn x {inflight} in flight x {records_per_batch} x {value_size} B, {partitions} part, {}",
                codec.name()
            ),
        },
        elapsed,
        requests,
        records: requests * records_per_batch as u64,
        bytes: requests * batch_len,
        latency: latencies.summary(),
        broker_cpu_us_per_request: None,
        notes: Vec::new(),
    })
}
