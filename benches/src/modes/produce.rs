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
    /// Where the partition index sits in `frame`.
    partition_at: usize,
    /// Partitions `send` cycles through, from `partition` (1: always `partition`).
    spread: i32,
    /// Sends so far, to pick the next partition.
    sent: u64,
}

/// Where the partition index (an int32) sits in a Produce frame: the first byte at which the
/// frames for partitions 0 and 1 differ is the last byte of the index. Found by encoding rather
/// than by walking the format, so it holds at every Produce version.
fn partition_offset(version: i16, topic: &str, records: &[u8]) -> Result<usize> {
    let frame = |p| {
        wire::encode_request(
            version,
            0,
            &wire::produce_request(topic, p, records.to_vec()),
        )
    };
    let (a, b) = (frame(0)?, frame(1)?);
    a.iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .and_then(|i| i.checked_sub(3))
        .ok_or_else(|| {
            crate::BenchError::Protocol("no partition index in the produce frame".into())
        })
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
        let partition_at = partition_offset(version, topic, &records)?;
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
            partition_at,
            spread: 1,
            sent: 0,
        })
    }

    /// A new connection to `addr` (the broker restarted there); the topic is not created again.
    pub fn reconnect(&mut self, addr: SocketAddr) -> Result<()> {
        self.conn = Conn::connect(addr)?;
        Ok(())
    }

    /// Sends `records` from now on (the frame is encoded again).
    pub fn replace_records(&mut self, records: Vec<u8>) -> Result<()> {
        let req = wire::produce_request(&self.topic, self.partition, records.clone());
        self.frame = wire::encode_request(self.version, 0, &req)?;
        self.partition_at = partition_offset(self.version, &self.topic, &records)?;
        Ok(())
    }

    /// From now on, successive sends go to partitions `partition`, `partition + 1`, ... up to
    /// `partitions - 1`, then from 0 again: `partitions` partitions in turn.
    pub fn spread_over(&mut self, partitions: i32) {
        self.spread = partitions.max(1);
    }

    /// The partition the next send goes to.
    fn next_partition(&self) -> i32 {
        if self.spread <= 1 {
            return self.partition;
        }
        let step = (self.sent % self.spread as u64) as i32;
        (self.partition.rem_euclid(self.spread) + step) % self.spread
    }

    /// Size of the request frame on the wire.
    pub fn frame_len(&self) -> usize {
        self.frame.len()
    }

    /// Sends the frame; returns its correlation id.
    pub fn send(&mut self) -> Result<i32> {
        let id = self.conn.next_correlation_id();
        wire::set_correlation_id(&mut self.frame, id);
        if self.spread > 1 {
            let p = self.next_partition();
            self.frame[self.partition_at..self.partition_at + 4].copy_from_slice(&p.to_be_bytes());
        }
        self.sent += 1;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn the_partition_index_is_found_and_rewritten_in_place() {
        let records = batch(2, 10);
        for version in [3, 8, wire::Versions::PREFERRED.produce] {
            let at = partition_offset(version, "t", &records).unwrap();
            let mut frame =
                wire::encode_request(version, 0, &wire::produce_request("t", 0, records.clone()))
                    .unwrap();
            frame[at..at + 4].copy_from_slice(&0x0102_0304i32.to_be_bytes());
            let expected = wire::encode_request(
                version,
                0,
                &wire::produce_request("t", 0x0102_0304, records.clone()),
            )
            .unwrap();
            assert_eq!(frame, expected, "v{version}");
        }
    }
}
