//! End to end: a paced producer and a long-polling consumer; the latency of each record is the
//! time from its send to its receipt. The send time travels in the record's value.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blazemq_core::codec::messages::FetchResponse;
use blazemq_core::records::Records;

use super::floor::worker_panicked;
use super::produce::Producer;
use super::{Bounds, Progress, RunResult, topic_name};
use crate::args::Mode;
use crate::error::{BenchError, Result};
use crate::stats::Latencies;
use crate::wire::{self, Conn};

/// How long a consumer's Fetch waits for data (Kafka's default `fetch.max.wait.ms`).
const FETCH_WAIT_MS: i32 = 500;
/// Bytes of the send time at the front of each value.
const STAMP_LEN: usize = 8;

/// A one-record batch whose value starts with `sent_ns` (nanoseconds since the run's start).
fn stamped_batch(sent_ns: u64, value_size: usize) -> Vec<u8> {
    let mut value = vec![b'x'; value_size.max(STAMP_LEN)];
    value[..STAMP_LEN].copy_from_slice(&sent_ns.to_be_bytes());
    let mut b = blazemq_core::records::BatchBuilder::new(0);
    b.push(0, None, Some(&value), &[]);
    b.finish()
}

/// The send time a record's value carries.
fn stamp(value: Option<&[u8]>) -> Result<u64> {
    value
        .and_then(|v| v.first_chunk::<STAMP_LEN>())
        .map(|s| u64::from_be_bytes(*s))
        .ok_or_else(|| BenchError::Protocol("a record without its send time".into()))
}

/// Sends one stamped record per request at `rate` per second until `bounds`; returns how many.
fn produce(
    addr: SocketAddr,
    topic: &str,
    base: Instant,
    rate: u32,
    value_size: usize,
    bounds: &Bounds,
) -> Result<u64> {
    let mut producer = Producer::new(addr, topic, 1, 0, stamped_batch(0, value_size))?;
    let interval = Duration::from_secs(1) / rate.max(1);
    let started = Instant::now();
    let mut sent = 0u64;
    while !bounds.reached(started, sent) {
        // Paced from the start, so a slow send is caught up rather than shifting every later one.
        let due = started + interval * u32::try_from(sent).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let ns = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        producer.replace_records(stamped_batch(ns, value_size))?;
        let id = producer.send()?;
        producer.recv(id)?;
        sent += 1;
    }
    Ok(sent)
}

/// Long-polls from offset 0 until `produced` (once known) records arrived.
fn consume(
    conn: &mut Conn,
    topic: &str,
    base: Instant,
    produced: &AtomicU64,
    producer_done: &AtomicBool,
    hard_limit: Duration,
    done: &AtomicU64,
) -> Result<Latencies> {
    let version = conn.versions.fetch;
    let mut latencies = Latencies::new();
    let (mut next, mut received) = (0i64, 0u64);
    let started = Instant::now();
    while !(producer_done.load(Ordering::Acquire) && received >= produced.load(Ordering::Acquire)) {
        if started.elapsed() > hard_limit {
            return Err(BenchError::Protocol(format!(
                "received {received} of {} records in {hard_limit:?}",
                produced.load(Ordering::Acquire)
            )));
        }
        let req = wire::fetch_request(topic, 0, next, 1 << 20, FETCH_WAIT_MS);
        let resp: FetchResponse = conn.call(version, &req)?;
        let arrived = base.elapsed();
        let (bytes, _) = wire::fetched(&resp)?;
        for batch in wire::whole_batches(bytes, next)? {
            for record in Records::of_batch(&batch) {
                let record =
                    record.map_err(|e| BenchError::Protocol(format!("bad record fetched: {e}")))?;
                if batch.base_offset() + i64::from(record.offset_delta) < next {
                    continue;
                }
                let sent = Duration::from_nanos(stamp(record.value)?);
                latencies.record(arrived.saturating_sub(sent));
                received += 1;
            }
            next = batch.last_offset() + 1;
        }
        done.store(received, Ordering::Relaxed);
    }
    Ok(latencies)
}

/// Runs the end-to-end test.
pub fn run(addr: SocketAddr, value_size: usize, rate: u32, bounds: &Bounds) -> Result<RunResult> {
    let topic = topic_name("e2e");
    let mut conn = Conn::connect(addr)?;
    conn.create_topic(&topic, 1)?;
    let base = Instant::now();
    let produced = AtomicU64::new(0);
    let producer_done = AtomicBool::new(false);
    let consumer_done = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let mut progress = Progress::new("e2e", "records", bounds);
    let (sent, consumed) = std::thread::scope(|s| {
        let consumer = s.spawn(|| {
            let r = consume(
                &mut conn,
                &topic,
                base,
                &produced,
                &producer_done,
                bounds.hard_limit(),
                &done,
            );
            consumer_done.store(true, Ordering::Relaxed);
            r
        });
        let producer = s.spawn(|| {
            let r = produce(addr, &topic, base, rate, value_size, bounds);
            produced.store(*r.as_ref().unwrap_or(&0), Ordering::Release);
            producer_done.store(true, Ordering::Release);
            r
        });
        progress.watch(&done, || consumer_done.load(Ordering::Relaxed));
        (producer.join(), consumer.join())
    });
    let elapsed = base.elapsed();
    let sent = sent.map_err(|_| worker_panicked())??;
    let latencies = consumed.map_err(|_| worker_panicked())??;
    if latencies.count() != sent {
        return Err(BenchError::Protocol(format!(
            "sent {sent} records, received {}",
            latencies.count()
        )));
    }
    Ok(RunResult {
        mode: Mode::E2e,
        label: format!(
            "{rate} records/s of {} B, fetch wait {FETCH_WAIT_MS} ms",
            value_size.max(STAMP_LEN)
        ),
        elapsed,
        requests: sent,
        records: sent,
        bytes: 0,
        latency: latencies.summary(),
        broker_cpu_us_per_request: None,
        notes: vec![format!(
            "count checked: {sent} records sent, {sent} received"
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazemq_core::records::RecordBatch;

    #[test]
    fn stamps_travel_in_values() {
        let b = stamped_batch(123_456_789, 100);
        let view = RecordBatch::new_checked(&b[..]).expect("valid batch");
        let record = Records::of_batch(&view)
            .next()
            .expect("one record")
            .expect("valid");
        assert_eq!(record.value.map(<[u8]>::len), Some(100));
        assert_eq!(stamp(record.value).expect("stamped"), 123_456_789);
        assert!(stamp(Some(b"short")).is_err());
        assert!(stamp(None).is_err());
        assert_eq!(
            RecordBatch::new_checked(&stamped_batch(1, 0)[..])
                .map(|v| v.total_len())
                .ok(),
            Some(stamped_batch(1, 8).len()),
            "values are at least the stamp"
        );
    }
}
