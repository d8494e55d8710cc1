//! Compaction: produce latency while the log cleaner compacts a backlog of old versions, beside
//! the same latency on the same backlog in a topic that is never cleaned; the cleaner's
//! throughput; and the size of a compacted topic whose keys are updated at a steady rate.
//!
//! Sizes are what DescribeLogDirs (KIP-113) reports for the partition, as
//! `kafka-log-dirs --describe` shows them, so any broker can be measured; with a broker the tool
//! started, the blocks its partition directory takes on disk are reported too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blazemq_core::codec::Message;
use blazemq_core::codec::messages::ProduceResponse;
use blazemq_core::records::BatchBuilder;

use super::floor::worker_panicked;
use super::produce::Producer;
use super::{Bounds, Progress, RunResult, topic_name, with_broker_cpu};
use crate::args::Mode;
use crate::error::{BenchError, Result};
use crate::stats::Latencies;
use crate::wire::{self, Conn};

/// What the compaction runs send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionShape {
    /// Bytes of old versions written to each topic before the measured part.
    pub backlog_bytes: u64,
    /// Distinct keys, updated in turn.
    pub keys: usize,
    /// Records per batch of the backlog and of the steady updates.
    pub records_per_batch: usize,
    /// Bytes per record value.
    pub value_size: usize,
    /// Requests in flight while the backlog is written.
    pub inflight: usize,
    /// `segment.bytes` of the topics, if set.
    pub segment_bytes: Option<u64>,
}

/// How long the log must keep its size after shrinking before the cleaning counts as done.
const SETTLE: Duration = Duration::from_secs(3);
/// How often the partition's size is asked for.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// `min.compaction.lag.ms` of the compacted topic while its backlog is written: a day, so no
/// pass starts before the measured part; set to 0 when it begins.
const HOLD_OFF_LAG_MS: &str = "86400000";

/// Key number `i`: every key has the same length.
fn key(i: usize) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

/// One batch of `records` records whose keys are `first`, `first + 1`, ...
pub fn keyed_batch(first: usize, records: usize, value_size: usize) -> Vec<u8> {
    let value = vec![b'x'; value_size];
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut b = BatchBuilder::new(0);
    for i in first..first + records {
        b.push(now_ms, Some(&key(i)), Some(&value), &[]);
    }
    b.finish()
}

/// Produce frames that together update every key once, in key order; sent in turn, they update
/// each key once a cycle.
#[derive(Debug)]
struct KeyCycle {
    frames: Vec<Vec<u8>>,
    version: i16,
    /// Bytes of the batches of one cycle: a fully compacted log's size.
    cycle_bytes: u64,
    records_per_frame: Vec<u64>,
    batch_bytes: Vec<u64>,
    next: usize,
}

impl KeyCycle {
    fn new(version: i16, topic: &str, shape: &CompactionShape) -> Result<KeyCycle> {
        let per_batch = shape.records_per_batch.clamp(1, shape.keys.max(1));
        let mut cycle = KeyCycle {
            frames: Vec::new(),
            version,
            cycle_bytes: 0,
            records_per_frame: Vec::new(),
            batch_bytes: Vec::new(),
            next: 0,
        };
        for first in (0..shape.keys).step_by(per_batch) {
            let records = per_batch.min(shape.keys - first);
            let batch = keyed_batch(first, records, shape.value_size);
            cycle.cycle_bytes += batch.len() as u64;
            cycle.batch_bytes.push(batch.len() as u64);
            cycle.records_per_frame.push(records as u64);
            let req = wire::produce_request(topic, 0, batch);
            cycle.frames.push(wire::encode_request(version, 0, &req)?);
        }
        Ok(cycle)
    }

    /// Sends the next frame; returns its correlation id, records and batch bytes.
    fn send(&mut self, conn: &mut Conn) -> Result<(i32, u64, u64)> {
        let i = self.next;
        self.next = (i + 1) % self.frames.len();
        let id = conn.next_correlation_id();
        wire::set_correlation_id(&mut self.frames[i], id);
        conn.send(&self.frames[i])?;
        Ok((id, self.records_per_frame[i], self.batch_bytes[i]))
    }

    /// Reads the answer to `correlation_id`.
    fn recv(&self, conn: &mut Conn, correlation_id: i32) -> Result<i64> {
        let body = conn.recv()?;
        let resp: ProduceResponse =
            wire::decode_response(ProduceResponse::API_KEY, self.version, correlation_id, body)?;
        wire::produce_base_offset(&resp)
    }
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Written {
    requests: u64,
    records: u64,
    bytes: u64,
}

/// Writes whole key cycles, `inflight` requests pipelined, until at least `target` batch bytes.
fn backlog(
    conn: &mut Conn,
    cycle: &mut KeyCycle,
    inflight: usize,
    target: u64,
    done: &AtomicU64,
) -> Result<Written> {
    let mut w = Written::default();
    let mut outstanding = VecDeque::with_capacity(inflight);
    let mut sent_bytes = 0;
    loop {
        // Whole cycles, so every key has as many old versions as the others.
        while outstanding.len() < inflight && (sent_bytes < target || cycle.next != 0) {
            let (id, records, bytes) = cycle.send(conn)?;
            outstanding.push_back((id, records, bytes));
            sent_bytes += bytes;
        }
        let Some((id, records, bytes)) = outstanding.pop_front() else {
            return Ok(w);
        };
        cycle.recv(conn, id)?;
        w.requests += 1;
        w.records += records;
        w.bytes += bytes;
        done.store(w.bytes, Ordering::Relaxed);
    }
}

/// The size of a partition at a moment of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Since the run's start.
    pub at: Duration,
    /// The partition's size, as DescribeLogDirs reports it.
    pub log_bytes: i64,
    /// Blocks its directory takes on disk (only for a broker the tool started).
    pub disk_bytes: Option<u64>,
}

/// Blocks the files of `dir` take on disk (not their lengths: a segment may be preallocated or
/// sparse); `None` if it cannot be read.
pub fn disk_usage(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    let entries = std::fs::read_dir(dir).ok()?;
    let mut total = 0;
    for entry in entries.flatten() {
        // A file the broker removes meanwhile counts as gone.
        if let Ok(m) = entry.metadata() {
            total += m.blocks() * 512;
        }
    }
    Some(total)
}

/// Samples the size of `topic` partition 0 every [`SAMPLE_EVERY`] until `enough` says so.
fn sample_sizes(
    conn: &mut Conn,
    topic: &str,
    dir: Option<&Path>,
    started: Instant,
    mut enough: impl FnMut(&[Sample]) -> bool,
) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    loop {
        let log_bytes = conn.partition_size(topic, 0)?.ok_or_else(|| {
            BenchError::Protocol(format!("DescribeLogDirs does not list {topic}-0"))
        })?;
        samples.push(Sample {
            at: started.elapsed(),
            log_bytes,
            disk_bytes: dir.and_then(disk_usage),
        });
        if enough(&samples) {
            return Ok(samples);
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
}

/// When the cleaning of a backlog of `before` bytes is over: the log shrank, and has not shrunk
/// for [`SETTLE`] since. `Some(time of the last shrink)` then.
fn cleaning_over(samples: &[Sample], before: i64) -> Option<Duration> {
    let last_shrink = samples
        .windows(2)
        .rev()
        .find(|w| w[1].log_bytes < w[0].log_bytes)
        .map(|w| w[1].at)?;
    let now = samples.last()?.at;
    let smaller = samples.iter().any(|s| s.log_bytes < before);
    (smaller && now.saturating_sub(last_shrink) >= SETTLE).then_some(last_shrink)
}

/// One request in flight until `stop`, or `limit`: each request's start (since `started`) and
/// latency.
fn timed_round_trips(
    producer: &mut Producer,
    started: Instant,
    stop: &AtomicBool,
    limit: Duration,
    done: &AtomicU64,
) -> Result<Vec<(Duration, Duration)>> {
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
        let sent = Instant::now();
        let id = producer.send()?;
        producer.recv(id)?;
        out.push((sent.duration_since(started), sent.elapsed()));
        done.store(out.len() as u64, Ordering::Relaxed);
    }
    Ok(out)
}

/// Latencies of the requests sent before `until`, and how many.
fn latencies_until(timed: &[(Duration, Duration)], until: Duration) -> Latencies {
    let mut l = Latencies::new();
    for &(_, latency) in timed.iter().take_while(|(at, _)| *at <= until) {
        l.record(latency);
    }
    l
}

/// Megabytes.
fn mb(bytes: f64) -> f64 {
    bytes / 1e6
}

/// Fills a topic with `cleanup.policy=delete` (retention off) and one with
/// `cleanup.policy=compact` with the same backlog; then produces one keyed record at a time to
/// the compacted one from the moment its cleaning is allowed (`min.compaction.lag.ms` set to 0)
/// until its size stops shrinking, and to the other for as long. Returns the uncleaned run, then
/// the cleaned one with the cleaner's throughput and the ratios of its latencies.
pub fn run(
    addr: SocketAddr,
    shape: &CompactionShape,
    bounds: &Bounds,
    broker_pid: Option<u32>,
) -> Result<Vec<RunResult>> {
    let mut conn = Conn::connect(addr)?;
    let segment = shape.segment_bytes.map(|b| b.to_string());
    let with_segment = |mut configs: Vec<(&'static str, String)>| {
        if let Some(s) = &segment {
            configs.push(("segment.bytes", s.clone()));
        }
        configs
    };
    let plain = topic_name("compaction-delete");
    let compacted = topic_name("compaction-compact");
    let topics = [
        (
            &plain,
            with_segment(vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", "-1".into()),
                ("retention.bytes", "-1".into()),
            ]),
        ),
        (
            &compacted,
            with_segment(vec![
                ("cleanup.policy", "compact".into()),
                ("min.compaction.lag.ms", HOLD_OFF_LAG_MS.into()),
            ]),
        ),
    ];
    let mut written = Written::default();
    for (topic, configs) in &topics {
        let configs: Vec<(&str, &str)> = configs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        conn.create_topic_with(topic, 1, &configs)?;
        conn.create_topic_ready(topic, 1)?;
        let mut cycle = KeyCycle::new(conn.versions.produce, topic, shape)?;
        let fill = Bounds {
            duration: Duration::from_secs(3600),
            count: Some(shape.backlog_bytes),
        };
        written = super::watched("compaction: backlog", "bytes", &fill, |done| {
            backlog(
                &mut conn,
                &mut cycle,
                shape.inflight,
                shape.backlog_bytes,
                done,
            )
        })?;
    }
    // The backlog's dirty pages written back now, not during whichever run comes first.
    rustix::fs::sync();
    let before = conn.partition_size(&compacted, 0)?.unwrap_or(0);
    let record = keyed_batch(0, 1, shape.value_size);
    let record_len = record.len() as u64;
    let limit = bounds.hard_limit().max(Duration::from_secs(600));

    // The cleaned run: produce while the cleaner works, sample the size meanwhile.
    let mut producer = Producer::new(addr, &compacted, 1, 0, record.clone())?;
    let mut sampler = Conn::connect(addr)?;
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let mut progress = Progress::new("compaction: while cleaning", "requests", bounds);
    let started = Instant::now();
    conn.set_topic_config(&compacted, "min.compaction.lag.ms", "0")?;
    let ((timed, samples), cleaned_cpu) = with_broker_cpu(broker_pid, || {
        let outcome = std::thread::scope(|s| {
            let worker = s.spawn(|| {
                let r = timed_round_trips(&mut producer, started, &stop, limit, &done);
                finished.store(true, Ordering::Relaxed);
                r
            });
            let sampling = s.spawn(|| {
                let r = sample_sizes(&mut sampler, &compacted, None, started, |samples| {
                    finished.load(Ordering::Relaxed)
                        || cleaning_over(samples, before).is_some()
                        || started.elapsed() > limit
                });
                stop.store(true, Ordering::Relaxed);
                r
            });
            progress.watch(&done, || finished.load(Ordering::Relaxed));
            (worker.join(), sampling.join())
        });
        match outcome {
            (Ok(timed), Ok(samples)) => Ok((timed?, samples?)),
            _ => Err(worker_panicked()),
        }
    })?;
    let Some(last_shrink) = cleaning_over(&samples, before) else {
        return Err(BenchError::Protocol(format!(
            "{compacted}-0 did not shrink within {limit:?} of min.compaction.lag.ms=0 (is the \
             cleaner's backoff longer, or the backlog in the active segment?)"
        )));
    };
    let first_shrink = samples
        .iter()
        .find(|s| s.log_bytes < before)
        .map_or(last_shrink, |s| s.at);
    let after = samples
        .iter()
        .rev()
        .find(|s| s.at <= last_shrink)
        .map_or(before, |s| s.log_bytes);
    let cleaned = latencies_until(&timed, last_shrink);

    // The same length of produce to the topic that is never cleaned.
    let mut producer = Producer::new(addr, &plain, 1, 0, record)?;
    let window = Bounds {
        duration: last_shrink,
        count: None,
    };
    let ((plain_latencies, plain_elapsed), plain_cpu) = with_broker_cpu(broker_pid, || {
        super::watched("compaction: no cleaning", "requests", &window, |done| {
            producer.round_trips(&window, done)
        })
    })?;
    let cpu_per = |us: Option<f64>, n: u64| us.map(|us| us / n.max(1) as f64);
    let result = |label: String, latencies: &Latencies, elapsed: Duration, cpu: Option<f64>| {
        let requests = latencies.count();
        RunResult {
            mode: Mode::Compaction,
            label,
            elapsed,
            requests,
            records: requests,
            bytes: requests * record_len,
            latency: latencies.summary(),
            broker_cpu_us_per_request: cpu_per(cpu, requests),
            notes: Vec::new(),
        }
    };
    let backlog_label = format!(
        "{:.0} MB of {} keys x {} B",
        mb(written.bytes as f64),
        shape.keys,
        shape.value_size
    );
    let mut plain_run = result(
        format!("delete topic, {backlog_label}, not cleaned"),
        &plain_latencies,
        plain_elapsed,
        plain_cpu,
    );
    plain_run.notes.push(format!(
        "backlog: {} records in {} batches per topic, written before both runs",
        written.records, written.requests
    ));
    // The CPU of the cleaned run covers the settle time too; per request it is a bound.
    let mut cleaned_run = result(
        format!("compact topic, {backlog_label}, while cleaning"),
        &cleaned,
        last_shrink,
        cleaned_cpu,
    );
    let secs = last_shrink.as_secs_f64().max(1e-9);
    cleaned_run.notes.push(format!(
        "cleaner: log {:.1} MB -> {:.1} MB; first shrink {:.2} s, last {:.2} s after \
         min.compaction.lag.ms=0: {:.0} MB/s of log cleaned (from that change to the last \
         shrink)",
        mb(before as f64),
        mb(after as f64),
        first_shrink.as_secs_f64(),
        secs,
        mb(before as f64) / secs,
    ));
    let ratios: Vec<String> = cleaned
        .summary()
        .ratios_to(&plain_run.latency)
        .iter()
        .zip(
            crate::stats::QUANTILES
                .iter()
                .map(|(n, _)| *n)
                .chain(["max"]),
        )
        .map(|(r, name)| format!("{name} {}", r.map_or("-".into(), |r| format!("{r:.3}"))))
        .collect();
    cleaned_run.notes.push(format!(
        "x not cleaned (delete topic): {}",
        ratios.join(", ")
    ));
    Ok(vec![plain_run, cleaned_run])
}

/// Updates `shape.keys` keys of a compacted topic in turn, `rate` records a second in batches
/// of `shape.records_per_batch`, for `duration`, and samples the partition's size meanwhile:
/// its largest against the live data (one batch per key cycle, what a fully compacted log
/// holds). `dir` is the broker's data directory when the tool started it.
pub fn disk(
    addr: SocketAddr,
    shape: &CompactionShape,
    rate: u32,
    duration: Duration,
    dir: Option<&Path>,
) -> Result<RunResult> {
    let topic = topic_name("compaction-disk");
    let mut conn = Conn::connect(addr)?;
    let mut configs = vec![("cleanup.policy", "compact".to_string())];
    if let Some(b) = shape.segment_bytes {
        configs.push(("segment.bytes", b.to_string()));
    }
    let configs: Vec<(&str, &str)> = configs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    conn.create_topic_with(&topic, 1, &configs)?;
    conn.create_topic_ready(&topic, 1)?;
    let mut cycle = KeyCycle::new(conn.versions.produce, &topic, shape)?;
    let live = cycle.cycle_bytes;
    let per_batch = shape.records_per_batch.clamp(1, shape.keys.max(1)) as f64;
    let interval = Duration::from_secs_f64(per_batch / f64::from(rate.max(1)));
    let partition_dir: Option<PathBuf> = dir.map(|d| d.join(format!("{topic}-0")));
    let mut sampler = Conn::connect(addr)?;
    let bounds = Bounds {
        duration,
        count: None,
    };
    let finished = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let mut progress = Progress::new("compaction-disk", "records", &bounds);
    let started = Instant::now();
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = steady(&mut conn, &mut cycle, interval, duration, &done);
            finished.store(true, Ordering::Relaxed);
            r
        });
        let sampling = s.spawn(|| {
            sample_sizes(
                &mut sampler,
                &topic,
                partition_dir.as_deref(),
                started,
                |_| finished.load(Ordering::Relaxed),
            )
        });
        progress.watch(&done, || finished.load(Ordering::Relaxed));
        (worker.join(), sampling.join())
    });
    let ((latencies, w), samples) = match outcome {
        (Ok(l), Ok(s)) => (l?, s?),
        _ => return Err(worker_panicked()),
    };
    let max = samples.iter().map(|s| s.log_bytes).max().unwrap_or(0);
    let last = samples.last().map_or(0, |s| s.log_bytes);
    let mut sizes: Vec<i64> = samples.iter().map(|s| s.log_bytes).collect();
    sizes.sort_unstable();
    let median = sizes.get(sizes.len() / 2).copied().unwrap_or(0);
    let of_live = |b: f64| b / live.max(1) as f64;
    let mut notes = vec![
        format!(
            "live data: {} keys in {:.3} MB (one batch per key cycle); {} updates of each",
            shape.keys,
            mb(live as f64),
            w.records / shape.keys.max(1) as u64
        ),
        format!(
            "log size over {} samples: max {:.3} MB ({:.2}x live), median {:.3} MB ({:.2}x), \
             at the end {:.3} MB ({:.2}x)",
            samples.len(),
            mb(max as f64),
            of_live(max as f64),
            mb(median as f64),
            of_live(median as f64),
            mb(last as f64),
            of_live(last as f64)
        ),
    ];
    if let Some(disk_max) = samples.iter().filter_map(|s| s.disk_bytes).max() {
        notes.push(format!(
            "disk blocks of the partition directory: max {:.3} MB ({:.2}x live)",
            mb(disk_max as f64),
            of_live(disk_max as f64)
        ));
    }
    Ok(RunResult {
        mode: Mode::CompactionDisk,
        label: format!(
            "{} keys, {rate} records/s in batches of {per_batch}, {} B values",
            shape.keys, shape.value_size
        ),
        elapsed: started.elapsed(),
        requests: w.requests,
        records: w.records,
        bytes: w.bytes,
        latency: latencies.summary(),
        broker_cpu_us_per_request: None,
        notes,
    })
}

/// One batch every `interval` (late ones sent at once, not skipped), one in flight, for
/// `duration`.
fn steady(
    conn: &mut Conn,
    cycle: &mut KeyCycle,
    interval: Duration,
    duration: Duration,
    done: &AtomicU64,
) -> Result<(Latencies, Written)> {
    let mut latencies = Latencies::new();
    let mut w = Written::default();
    let started = Instant::now();
    let mut due = started;
    while started.elapsed() < duration {
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = Instant::now();
        let (id, records, bytes) = cycle.send(conn)?;
        cycle.recv(conn, id)?;
        latencies.record(sent.elapsed());
        w.requests += 1;
        w.records += records;
        w.bytes += bytes;
        done.store(w.records, Ordering::Relaxed);
        due += interval;
    }
    Ok((latencies, w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazemq_core::records::RecordBatch;

    fn sample(ms: u64, log_bytes: i64) -> Sample {
        Sample {
            at: Duration::from_millis(ms),
            log_bytes,
            disk_bytes: None,
        }
    }

    #[test]
    fn keyed_batches_carry_consecutive_keys() {
        let b = keyed_batch(7, 3, 10);
        let view = RecordBatch::new_checked(&b[..]).expect("valid batch");
        assert_eq!(view.records_count(), 3);
        assert_eq!(key(7), b"key-00000007");
        assert!(b.windows(12).any(|w| w == key(9)));
        assert!(!b.windows(12).any(|w| w == key(10)));
    }

    #[test]
    fn a_cycle_updates_every_key_once() {
        let shape = CompactionShape {
            backlog_bytes: 0,
            keys: 250,
            records_per_batch: 100,
            value_size: 10,
            inflight: 1,
            segment_bytes: None,
        };
        let c = KeyCycle::new(9, "t", &shape).expect("frames");
        assert_eq!(c.records_per_frame, [100, 100, 50]);
        assert_eq!(c.cycle_bytes, c.batch_bytes.iter().sum::<u64>());
    }

    #[test]
    fn cleaning_is_over_once_the_log_shrank_and_settled() {
        let before = 1000;
        let growing = [sample(0, 1000), sample(100, 1010), sample(5000, 1020)];
        assert_eq!(cleaning_over(&growing, before), None, "never shrank");
        let shrinking = [sample(0, 1000), sample(100, 600), sample(200, 100)];
        assert_eq!(cleaning_over(&shrinking, before), None, "not settled");
        let settled = [
            sample(0, 1000),
            sample(100, 600),
            sample(200, 100),
            sample(200 + 3000, 110),
        ];
        assert_eq!(
            cleaning_over(&settled, before),
            Some(Duration::from_millis(200))
        );
    }

    #[test]
    fn latencies_are_cut_at_the_window() {
        let ms = Duration::from_millis;
        let timed = [(ms(0), ms(1)), (ms(5), ms(2)), (ms(10), ms(3))];
        assert_eq!(latencies_until(&timed, ms(5)).count(), 2);
        assert_eq!(latencies_until(&timed, ms(100)).count(), 3);
    }

    #[test]
    fn disk_usage_counts_blocks() {
        let dir = std::env::temp_dir().join(format!("blazemq-bench-du-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        std::fs::write(dir.join("a"), vec![1u8; 10_000]).expect("a file");
        let used = disk_usage(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(used.is_some_and(|b| b >= 8192), "{used:?}");
        assert_eq!(disk_usage(Path::new("/no/such/dir")), None);
    }
}
