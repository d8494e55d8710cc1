//! Compaction: produce latency while the log cleaner compacts a backlog of old versions, beside
//! the same latency, in the same run and to the same topic, while the cleaner is idle; the
//! cleaner's throughput; and the size of a compacted topic whose keys are updated at a steady
//! rate.
//!
//! Sizes are what DescribeLogDirs (KIP-113) reports for the partition, as
//! `kafka-log-dirs --describe` shows them, so any broker can be measured; with a broker the tool
//! started, the blocks its partition directory takes on disk are reported too. The cleaning
//! window starts one `log.cleaner.backoff.ms` after cleaning is allowed, which is when
//! BlazeMQ's cleaner looks after a quiet spell. A broker whose cleaner may look earlier (Kafka's
//! looks within one backoff) may start before the window: the run fails if the log shrank
//! before it, and otherwise the window misses the start of the cleaning.

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
use super::{Bounds, Progress, RunResult, topic_name};
use crate::args::Mode;
use crate::error::{BenchError, Result};
use crate::stats::Latencies;
use crate::wire::{self, Conn};

/// What the compaction runs send.
#[derive(Clone, Debug, PartialEq)]
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
    /// The broker's `log.cleaner.backoff.ms`: how long after a request its cleaner looks for a
    /// log to clean.
    pub cleaner_backoff: Duration,
    /// `min.cleanable.dirty.ratio` of the topics, if set.
    pub dirty_ratio: Option<f64>,
}

impl CompactionShape {
    /// The settings of a compacted topic of this shape.
    fn topic_configs(&self) -> Vec<(&'static str, String)> {
        let mut configs = vec![("cleanup.policy", "compact".to_string())];
        if let Some(b) = self.segment_bytes {
            configs.push(("segment.bytes", b.to_string()));
        }
        if let Some(r) = self.dirty_ratio {
            configs.push(("min.cleanable.dirty.ratio", r.to_string()));
        }
        configs
    }
}

/// How long the log must keep its size after shrinking before the cleaning counts as done.
const SETTLE: Duration = Duration::from_secs(3);
/// How often the partition's size is asked for: the resolution of the cleaning window.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// `min.compaction.lag.ms` of the compacted topics while their backlog is written: a day, so no
/// pass starts before the measured part; set to 0 for the cleaned one when it begins.
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
    let last_shrink = last_shrink(samples)?;
    let now = samples.last()?.at;
    let smaller = samples.iter().any(|s| s.log_bytes < before);
    (smaller && now.saturating_sub(last_shrink) >= SETTLE).then_some(last_shrink)
}

/// The time of the last sample smaller than the one before it.
fn last_shrink(samples: &[Sample]) -> Option<Duration> {
    samples
        .windows(2)
        .rev()
        .find(|w| w[1].log_bytes < w[0].log_bytes)
        .map(|w| w[1].at)
}

/// Each request's start (since the run's start) and latency.
type Timed = Vec<(Duration, Duration)>;

/// One request in flight until `over(elapsed since started)` or `abort`.
fn timed_round_trips(
    producer: &mut Producer,
    started: Instant,
    abort: &AtomicBool,
    mut over: impl FnMut(Duration) -> bool,
    done: &AtomicU64,
) -> Result<Timed> {
    let mut out = Vec::new();
    loop {
        let at = started.elapsed();
        if over(at) || abort.load(Ordering::Relaxed) {
            return Ok(out);
        }
        let sent = Instant::now();
        let id = producer.send()?;
        producer.recv(id)?;
        out.push((at, sent.elapsed()));
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Latencies of the requests sent within `from..=until`.
fn latencies_within(timed: &[(Duration, Duration)], from: Duration, until: Duration) -> Latencies {
    let mut l = Latencies::new();
    for &(_, latency) in timed.iter().filter(|(at, _)| (from..=until).contains(at)) {
        l.record(latency);
    }
    l
}

/// Megabytes.
fn mb(bytes: f64) -> f64 {
    bytes / 1e6
}

/// The broker's CPU ticks now, if the tool started it.
fn ticks(pid: Option<u32>) -> Result<Option<u64>> {
    pid.map(crate::procfs::cpu_ticks).transpose()
}

/// What the producing thread of [`run`] measured, phase by phase.
#[derive(Debug, Default)]
struct Phases {
    /// From the settings change until the cleaner's look.
    before: Timed,
    /// From the cleaner's look until the cleaning is over (and settled).
    during: Timed,
    /// After the cleaning, for as long as it took.
    after: Timed,
    /// The broker's CPU ticks at the start of each phase and at the end.
    ticks: [Option<u64>; 4],
}

impl Phases {
    /// Microseconds of broker CPU from tick sample `from` to `to`, if the tool started it.
    fn cpu_us(&self, from: usize, to: usize) -> Option<f64> {
        match (self.ticks[from], self.ticks[to]) {
            (Some(a), Some(b)) => {
                Some(b.saturating_sub(a) as f64 * 1e6 / crate::procfs::ticks_per_second() as f64)
            }
            _ => None,
        }
    }
}

/// The two topics of [`run`] once their backlogs are written.
#[derive(Debug)]
struct Backlogs {
    /// Cleaning held off throughout; produced to while measuring.
    held: String,
    /// Cleaning allowed when the measured part begins.
    cleaned: String,
    /// What was written to each.
    written: Written,
    /// The cleaned topic's size before its cleaning.
    before: i64,
    /// The held topic's size then.
    held_before: i64,
}

/// What the threads of [`measure`] share.
#[derive(Debug, Default)]
struct Signals {
    abort: AtomicBool,
    finished: AtomicBool,
    /// The cleaning window's length in nanoseconds once known, 0 until then.
    window_ns: AtomicU64,
    done: AtomicU64,
}

/// What [`measure`] saw.
#[derive(Debug)]
struct Measured {
    phases: Phases,
    /// The cleaned topic's sizes.
    samples: Vec<Sample>,
    /// When the cleaner looks, since the settings change.
    look: Duration,
    /// From the look until the cleaning's last shrink.
    window: Duration,
}

/// When the samples of [`measure`] show the cleaning.
#[derive(Debug)]
struct Cleaning {
    /// The window's end: its last shrink.
    last: Duration,
    first_shrink: Duration,
    /// The cleaned topic's size at the window's end.
    after: i64,
    /// A shrink after the window: cleaning the window did not cover.
    later_shrink: Option<Duration>,
}

/// Fills two compacted topics with the same backlog of old versions, cleaning held off in both
/// by `min.compaction.lag.ms`; waits until the broker's cleaner is idle, then allows the
/// cleaning of one (`min.compaction.lag.ms` 0). Its cleaner looks `cleaner_backoff` later, as
/// BlazeMQ's and Kafka's do (`log.cleaner.backoff.ms`). One connection produces one keyed
/// record at a time to the held topic throughout (writes to the cleaned one would give the
/// cleaner more to do once they fill a segment): until that look, then until the cleaned
/// topic's size stops shrinking (the cleaning window), then for as long as that window again.
/// Returns the requests outside the window (the cleaner idle) and those within it, with the
/// cleaner's throughput and the ratios of the latencies.
pub fn run(
    addr: SocketAddr,
    shape: &CompactionShape,
    bounds: &Bounds,
    broker_pid: Option<u32>,
) -> Result<Vec<RunResult>> {
    let mut conn = Conn::connect(addr)?;
    let backlogs = fill_backlogs(&mut conn, shape)?;
    let record = keyed_batch(0, 1, shape.value_size);
    let record_len = record.len() as u64;
    let mut producer = Producer::new(addr, &backlogs.held, 1, 0, record)?;
    let mut sampler = Conn::connect(addr)?;
    go_quiet(shape.cleaner_backoff);
    let measured = measure(
        &mut conn,
        &mut producer,
        &mut sampler,
        &backlogs,
        shape.cleaner_backoff,
        bounds,
        broker_pid,
    )?;
    let cleaning = cleaning(&measured, &backlogs)?;
    let held_run = held_run(shape, &backlogs, &measured, record_len);
    let cleaned_run = cleaned_run(&backlogs, &measured, &cleaning, &held_run, record_len);
    Ok(vec![held_run, cleaned_run])
}

/// Creates the held and the cleaned topic, cleaning held off in both, and writes the same
/// backlog to each.
fn fill_backlogs(conn: &mut Conn, shape: &CompactionShape) -> Result<Backlogs> {
    let mut configs = shape.topic_configs();
    configs.push(("min.compaction.lag.ms", HOLD_OFF_LAG_MS.to_string()));
    let configs: Vec<(&str, &str)> = configs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let held = topic_name("compaction-held");
    let cleaned = topic_name("compaction-cleaned");
    let mut written = Written::default();
    for topic in [&held, &cleaned] {
        conn.create_topic_with(topic, 1, &configs)?;
        conn.create_topic_ready(topic, 1)?;
        let mut cycle = KeyCycle::new(conn.versions.produce, topic, shape)?;
        let fill = Bounds {
            duration: Duration::from_secs(3600),
            count: Some(shape.backlog_bytes),
        };
        written = super::watched("compaction: backlog", "bytes", &fill, |done| {
            backlog(conn, &mut cycle, shape.inflight, shape.backlog_bytes, done)
        })?;
    }
    let before = conn.partition_size(&cleaned, 0)?.unwrap_or(0);
    let held_before = conn.partition_size(&held, 0)?.unwrap_or(0);
    Ok(Backlogs {
        held,
        cleaned,
        written,
        before,
        held_before,
    })
}

/// Writes the backlog's dirty pages back now, not during the measured part; and sends no
/// request for longer than the backoff, so the cleaner's next look comes exactly one backoff
/// after the settings change (a look is due one backoff after the first request that follows
/// the previous look).
fn go_quiet(cleaner_backoff: Duration) {
    rustix::fs::sync();
    let quiet = cleaner_backoff + Duration::from_secs(1);
    eprintln!(
        "compaction: {:.0} s without requests, for the cleaner to go idle",
        quiet.as_secs_f64()
    );
    std::thread::sleep(quiet);
}

/// Allows the cleaning of the cleaned topic, then produces to the held one phase by phase
/// while another connection samples the cleaned one's size, until the cleaning window is known
/// and as long again.
fn measure(
    conn: &mut Conn,
    producer: &mut Producer,
    sampler: &mut Conn,
    backlogs: &Backlogs,
    look: Duration,
    bounds: &Bounds,
    broker_pid: Option<u32>,
) -> Result<Measured> {
    let limit = bounds.hard_limit().max(Duration::from_secs(600));
    let sig = Signals::default();
    let progress_bounds = Bounds {
        duration: limit,
        count: None,
    };
    let mut progress = Progress::new("compaction", "requests", &progress_bounds);
    let started = Instant::now();
    let cleaned = &backlogs.cleaned;
    conn.set_topic_config(cleaned, "min.compaction.lag.ms", "0")?;
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = produce_phases(producer, started, look, limit, &sig, broker_pid);
            sig.finished.store(true, Ordering::Relaxed);
            r
        });
        let sampling = s.spawn(|| {
            let r = sample_cleaning(sampler, cleaned, backlogs.before, look, started, &sig);
            if r.is_err() {
                sig.abort.store(true, Ordering::Relaxed);
            }
            r
        });
        progress.watch(&sig.done, || sig.finished.load(Ordering::Relaxed));
        (worker.join(), sampling.join())
    });
    let (phases, samples) = match outcome {
        (Ok(p), Ok(s)) => (p?, s?),
        _ => return Err(worker_panicked()),
    };
    let window = Duration::from_nanos(sig.window_ns.load(Ordering::Relaxed));
    if window.is_zero() {
        return Err(BenchError::Protocol(format!(
            "{cleaned}-0 did not shrink within {limit:?} of min.compaction.lag.ms=0 (is the \
             cleaner's backoff longer than --cleaner-backoff-ms, or the backlog in the active \
             segment?)"
        )));
    }
    Ok(Measured {
        phases,
        samples,
        look,
        window,
    })
}

/// The producing thread of [`measure`]: until the cleaner's `look`, then until the cleaning
/// window is known (or `limit`), then for as long as that window.
fn produce_phases(
    producer: &mut Producer,
    started: Instant,
    look: Duration,
    limit: Duration,
    sig: &Signals,
    broker_pid: Option<u32>,
) -> Result<Phases> {
    let (abort, done) = (&sig.abort, &sig.done);
    let mut p = Phases::default();
    p.ticks[0] = ticks(broker_pid)?;
    p.before = timed_round_trips(producer, started, abort, |at| at >= look, done)?;
    p.ticks[1] = ticks(broker_pid)?;
    p.during = timed_round_trips(
        producer,
        started,
        abort,
        |at| sig.window_ns.load(Ordering::Relaxed) != 0 || at > limit,
        done,
    )?;
    p.ticks[2] = ticks(broker_pid)?;
    let from = started.elapsed();
    let window = Duration::from_nanos(sig.window_ns.load(Ordering::Relaxed));
    p.after = timed_round_trips(producer, started, abort, |at| at >= from + window, done)?;
    p.ticks[3] = ticks(broker_pid)?;
    Ok(p)
}

/// The sampling thread of [`measure`]: samples the cleaned topic's size, sets the window once
/// the cleaning of its `before` bytes is over, and stops when the producing thread does.
fn sample_cleaning(
    sampler: &mut Conn,
    cleaned: &str,
    before: i64,
    look: Duration,
    started: Instant,
    sig: &Signals,
) -> Result<Vec<Sample>> {
    sample_sizes(sampler, cleaned, None, started, |samples| {
        if sig.window_ns.load(Ordering::Relaxed) == 0 {
            if let Some(last) = cleaning_over(samples, before) {
                let window = last.saturating_sub(look).max(Duration::from_nanos(1));
                sig.window_ns
                    .store(window.as_nanos() as u64, Ordering::Relaxed);
            }
        }
        sig.finished.load(Ordering::Relaxed)
    })
}

/// Where the samples of `m` show the cleaning; an error if it started before the cleaner's
/// look, which the window would miss.
fn cleaning(m: &Measured, backlogs: &Backlogs) -> Result<Cleaning> {
    let before = backlogs.before;
    let last = m.look + m.window;
    let first_shrink = m
        .samples
        .iter()
        .find(|s| s.log_bytes < before)
        .map_or(last, |s| s.at);
    if first_shrink < m.look {
        return Err(BenchError::Protocol(format!(
            "{}-0 shrank {:.2} s after min.compaction.lag.ms=0, before the cleaner's look \
             at {:.2} s (--cleaner-backoff-ms): the window would miss part of the cleaning",
            backlogs.cleaned,
            first_shrink.as_secs_f64(),
            m.look.as_secs_f64()
        )));
    }
    let after = m
        .samples
        .iter()
        .rev()
        .find(|s| s.at <= last)
        .map_or(before, |s| s.log_bytes);
    Ok(Cleaning {
        last,
        first_shrink,
        after,
        later_shrink: last_shrink(&m.samples).filter(|&t| t > last),
    })
}

/// A result of [`run`]: one-record requests of `record_len` bytes, and `cpu` the broker's CPU
/// over `n` requests.
fn compaction_result(
    label: String,
    latencies: &Latencies,
    elapsed: Duration,
    cpu: Option<f64>,
    n: u64,
    record_len: u64,
) -> RunResult {
    let requests = latencies.count();
    RunResult {
        mode: Mode::Compaction,
        label,
        elapsed,
        requests,
        records: requests,
        bytes: requests * record_len,
        latency: latencies.summary(),
        broker_cpu_us_per_request: cpu.map(|us| us / n.max(1) as f64),
        notes: Vec::new(),
    }
}

/// The requests while the cleaner is idle: before its look (after a warm-up) and after the
/// cleaning.
fn held_run(
    shape: &CompactionShape,
    backlogs: &Backlogs,
    m: &Measured,
    record_len: u64,
) -> RunResult {
    let (phases, look, window) = (&m.phases, m.look, m.window);
    let warmup = Duration::from_secs(1).min(look / 2);
    let held_before_phase = latencies_within(&phases.before, warmup, look);
    let held_after_phase = latencies_within(&phases.after, Duration::ZERO, Duration::MAX);
    let mut held_latencies = held_before_phase.clone();
    held_latencies.merge(&held_after_phase);
    let held_cpu = phases
        .cpu_us(0, 1)
        .zip(phases.cpu_us(2, 3))
        .map(|(a, b)| a + b);
    let held_requests = (phases.before.len() + phases.after.len()) as u64;
    let written = backlogs.written;
    let backlog_label = format!(
        "{:.0} MB of {} keys x {} B",
        mb(written.bytes as f64),
        shape.keys,
        shape.value_size
    );
    let p999 = |l: &Latencies| l.summary().quantiles_us[3];
    let held_elapsed = look.saturating_sub(warmup) + window;
    let mut held_run = compaction_result(
        format!("cleaner idle, {backlog_label} per topic"),
        &held_latencies,
        held_elapsed,
        held_cpu,
        held_requests,
        record_len,
    );
    held_run.notes.push(format!(
        "backlog: {} records in {} batches per topic ({:.1} MB logged); produced to the held \
         topic (min.compaction.lag.ms 1 day) {:.2}-{:.2} s after the other's change (before the \
         cleaner's look) and for {:.2} s after the cleaning; p99.9 {:.0} us before, {:.0} us \
         after",
        written.records,
        written.requests,
        mb(backlogs.held_before as f64),
        warmup.as_secs_f64(),
        look.as_secs_f64(),
        window.as_secs_f64(),
        p999(&held_before_phase),
        p999(&held_after_phase),
    ));
    held_run
}

/// The requests within the cleaning window, with the cleaner's throughput and CPU, and their
/// latencies against those of `held_run`.
fn cleaned_run(
    backlogs: &Backlogs,
    m: &Measured,
    c: &Cleaning,
    held_run: &RunResult,
    record_len: u64,
) -> RunResult {
    let (before, look, window) = (backlogs.before, m.look, m.window);
    let cleaning = latencies_within(&m.phases.during, look, c.last);
    // The CPU of the cleaning phase covers the settle time too, as do its requests.
    let mut cleaned_run = compaction_result(
        "while the cleaner compacts the other topic".to_string(),
        &cleaning,
        window,
        m.phases.cpu_us(1, 2),
        m.phases.during.len() as u64,
        record_len,
    );
    let secs = window.as_secs_f64().max(1e-9);
    cleaned_run.notes.push(format!(
        "cleaner: log {:.1} MB -> {:.1} MB; look at {:.2} s after min.compaction.lag.ms=0, \
         first shrink {:.2} s, last {:.2} s (sampled every {} ms): {:.0} MB/s of log cleaned \
         (from the look to the last shrink)",
        mb(before as f64),
        mb(c.after as f64),
        look.as_secs_f64(),
        c.first_shrink.as_secs_f64(),
        c.last.as_secs_f64(),
        SAMPLE_EVERY.as_millis(),
        mb(before as f64) / secs,
    ));
    if let Some(cpu) = m.phases.cpu_us(1, 2) {
        cleaned_run.notes.push(cleaner_cpu_note(m, cpu, before));
    }
    if let Some(t) = c.later_shrink {
        cleaned_run.notes.push(format!(
            "the log shrank again at {:.2} s, after the window: the figures miss that cleaning",
            t.as_secs_f64()
        ));
    }
    cleaned_run
        .notes
        .push(ratios_note(&cleaning, &held_run.latency));
    cleaned_run
}

/// The broker's `cpu` microseconds from the cleaner's look until the cleaning phase's last
/// request, per GB of the `before` bytes of log.
fn cleaner_cpu_note(m: &Measured, cpu: f64, before: i64) -> String {
    let phase = m.phases.during.last().map_or(m.window, |&(at, latency)| {
        (at + latency).saturating_sub(m.look)
    });
    format!(
        "broker CPU from the look until the phase's last request (the window and \
         {} s of settling): {:.2} s in {:.2} s, {:.1} s of CPU per GB of log",
        SETTLE.as_secs(),
        cpu / 1e6,
        phase.as_secs_f64(),
        cpu / 1e6 / (before.max(1) as f64 / 1e9),
    )
}

/// The quantiles of `cleaning` against those of `idle`.
fn ratios_note(cleaning: &Latencies, idle: &crate::stats::Summary) -> String {
    let ratios: Vec<String> = cleaning
        .summary()
        .ratios_to(idle)
        .iter()
        .zip(
            crate::stats::QUANTILES
                .iter()
                .map(|(n, _)| *n)
                .chain(["max"]),
        )
        .map(|(r, name)| format!("{name} {}", r.map_or("-".into(), |r| format!("{r:.3}"))))
        .collect();
    format!("x cleaner idle: {}", ratios.join(", "))
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
    let configs = shape.topic_configs();
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
    let notes = disk_notes(shape, live, w, &samples);
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

/// What the samples of [`disk`] show against the `live` bytes of `shape`, after `w` was written.
fn disk_notes(shape: &CompactionShape, live: u64, w: Written, samples: &[Sample]) -> Vec<String> {
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
    notes
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
            cleaner_backoff: Duration::from_secs(15),
            dirty_ratio: None,
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
        assert_eq!(latencies_within(&timed, ms(0), ms(5)).count(), 2);
        assert_eq!(latencies_within(&timed, ms(5), ms(100)).count(), 2);
        assert_eq!(latencies_within(&timed, ms(0), ms(100)).count(), 3);
    }

    #[test]
    fn disk_usage_counts_blocks() {
        let dir = std::env::temp_dir().join(format!("blazemq-bench-du-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        std::fs::write(dir.join("a"), vec![1u8; 10_000]).expect("a file");
        let used = disk_usage(&dir);
        std::fs::remove_dir_all(&dir).expect("the temp dir removed");
        assert!(used.is_some_and(|b| b >= 8192), "{used:?}");
        assert_eq!(disk_usage(Path::new("/no/such/dir")), None);
    }
}
