//! Produce latency: one connection, one request in flight, acks=1, one record per request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blazemq_core::codec::Message;
use blazemq_core::codec::messages::ProduceResponse;

use super::floor::worker_panicked;
use super::{Bounds, Progress, RunResult, batch, topic_name};
use crate::args::Mode;
use crate::error::Result;
use crate::procfs;
use crate::stats::Latencies;
use crate::wire::{self, Conn};

/// A connection sending one pre-encoded Produce frame over and over.
#[derive(Debug)]
pub struct Producer {
    conn: Conn,
    frame: Vec<u8>,
    version: i16,
    topic: String,
    partition: i32,
}

impl Producer {
    /// Connects and creates `topic` with `partitions` partitions; the frame carries `records`
    /// to `partition`.
    pub fn new(
        addr: SocketAddr,
        topic: &str,
        partitions: i32,
        partition: i32,
        records: Vec<u8>,
    ) -> Result<Producer> {
        let mut conn = Conn::connect(addr)?;
        conn.create_topic(topic, partitions)?;
        let version = conn.versions.produce;
        let frame = wire::encode_request(
            version,
            0,
            &wire::produce_request(topic, partition, records),
        )?;
        Ok(Producer {
            conn,
            frame,
            version,
            topic: topic.into(),
            partition,
        })
    }

    /// Sends `records` from now on (the frame is encoded again).
    pub fn replace_records(&mut self, records: Vec<u8>) -> Result<()> {
        let req = wire::produce_request(&self.topic, self.partition, records);
        self.frame = wire::encode_request(self.version, 0, &req)?;
        Ok(())
    }

    /// Size of the request frame on the wire.
    pub fn frame_len(&self) -> usize {
        self.frame.len()
    }

    /// Sends the frame; returns its correlation id.
    pub fn send(&mut self) -> Result<i32> {
        let id = self.conn.next_correlation_id();
        wire::set_correlation_id(&mut self.frame, id);
        self.conn.send(&self.frame)?;
        Ok(id)
    }

    /// Reads the response to `correlation_id` (responses come in request order) and returns the
    /// base offset the broker assigned.
    pub fn recv(&mut self, correlation_id: i32) -> Result<i64> {
        let body = self.conn.recv()?;
        let resp: ProduceResponse =
            wire::decode_response(ProduceResponse::API_KEY, self.version, correlation_id, body)?;
        wire::produce_base_offset(&resp)
    }

    /// One request in flight until `bounds`: latencies, requests and elapsed time.
    pub fn round_trips(
        &mut self,
        bounds: &Bounds,
        done: &AtomicU64,
    ) -> Result<(Latencies, Duration)> {
        let mut latencies = Latencies::new();
        let started = Instant::now();
        let mut n = 0;
        while !bounds.reached(started, n) {
            let sent = Instant::now();
            let id = self.send()?;
            self.recv(id)?;
            latencies.record(sent.elapsed());
            n += 1;
            done.store(n, Ordering::Relaxed);
        }
        Ok((latencies, started.elapsed()))
    }
}

/// The size of the produce run's request frame, for the floor to echo the same size.
pub fn request_len(value_size: usize) -> Result<usize> {
    let req = wire::produce_request(&topic_name("produce"), 0, batch(1, value_size));
    Ok(wire::encode_request(wire::Versions::PREFERRED.produce, 0, &req)?.len())
}

/// Runs the produce latency test. With `broker_pid`, also reports the broker's CPU time per
/// request over the measured part.
pub fn run(
    addr: SocketAddr,
    value_size: usize,
    warmup: &Bounds,
    bounds: &Bounds,
    broker_pid: Option<u32>,
) -> Result<RunResult> {
    let records = batch(1, value_size);
    let batch_len = records.len() as u64;
    let mut producer = Producer::new(addr, &topic_name("produce"), 1, 0, records)?;
    producer.round_trips(warmup, &AtomicU64::new(0))?;
    let ticks_before = broker_pid.map(procfs::cpu_ticks).transpose()?;
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let mut progress = Progress::new("produce", "requests", bounds);
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = producer.round_trips(bounds, &done);
            finished.store(true, Ordering::Relaxed);
            r
        });
        progress.watch(&done, || finished.load(Ordering::Relaxed));
        worker.join()
    });
    let (latencies, elapsed) = outcome.map_err(|_| worker_panicked())??;
    let requests = latencies.count();
    let cpu = match (broker_pid, ticks_before) {
        (Some(pid), Some(before)) => {
            let ticks = procfs::cpu_ticks(pid)?.saturating_sub(before);
            let us = ticks as f64 * 1e6 / procfs::ticks_per_second() as f64;
            Some(us / requests.max(1) as f64)
        }
        _ => None,
    };
    Ok(RunResult {
        mode: Mode::Produce,
        label: format!("1 conn, 1 in flight, 1 x {value_size} B record"),
        elapsed,
        requests,
        records: requests,
        bytes: requests * batch_len,
        latency: latencies.summary(),
        broker_cpu_us_per_request: cpu,
        notes: Vec::new(),
    })
}
