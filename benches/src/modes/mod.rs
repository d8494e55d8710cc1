//! The runs. Each takes the options and a broker address and returns [`RunResult`]s; every loop
//! ends on the run's bounds (a duration or a request count), never on the broker alone.

pub mod compaction;
pub mod create;
pub mod e2e;
pub mod fetch;
pub mod fetch_committed;
pub mod floor;
pub mod produce;
pub mod throughput;
pub mod txn;

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blazemq_core::records::BatchBuilder;

use crate::args::Mode;
use crate::stats::Summary;

/// When a run stops: after `duration`, or after `count` requests (or records) if set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Wall time of the measured part.
    pub duration: Duration,
    /// Requests (records for fetch and e2e) of the measured part.
    pub count: Option<u64>,
}

impl Bounds {
    /// Whether a run that started at `started` and has done `done` is over.
    pub fn reached(&self, started: Instant, done: u64) -> bool {
        match self.count {
            Some(n) => done >= n,
            None => started.elapsed() >= self.duration,
        }
    }

    /// A share of the count for one of `parts` connections (at least 1).
    pub fn share(&self, parts: usize) -> Bounds {
        Bounds {
            duration: self.duration,
            count: self.count.map(|n| n.div_ceil(parts.max(1) as u64).max(1)),
        }
    }

    /// The longest a run may take before it is a failure: runs bounded by count have no
    /// duration of their own, so this keeps them from hanging on a stuck broker.
    pub fn hard_limit(&self) -> Duration {
        (self.duration * 10).max(Duration::from_secs(60))
    }
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// The mode.
    pub mode: Mode,
    /// What was run, e.g. `4 conn x 8 in flight x 100 records`.
    pub label: String,
    /// Wall time of the measured part.
    pub elapsed: Duration,
    /// Requests (round trips) measured.
    pub requests: u64,
    /// Records carried.
    pub records: u64,
    /// Bytes carried: record batch bytes (echo bytes for the floor).
    pub bytes: u64,
    /// Latency per request (per record for e2e).
    pub latency: Summary,
    /// CPU time per request of the answering side over the run: the broker's when the tool
    /// started it, the echo thread's for the floor (the kernel's share of a round trip).
    pub broker_cpu_us_per_request: Option<f64>,
    /// Checks the run made, e.g. the fetched record count.
    pub notes: Vec<String>,
}

impl RunResult {
    /// Per second of the measured part.
    pub fn rate(&self, n: u64) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { n as f64 / secs } else { 0.0 }
    }
}

/// A topic name no earlier run used, so each run starts from an empty log.
pub fn topic_name(mode: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("blazemq-bench-{mode}-{}-{nanos}-{n}", std::process::id())
}

/// One uncompressed batch of `records` records with `value_size`-byte values.
pub fn batch(records: usize, value_size: usize) -> Vec<u8> {
    batch_of(BatchBuilder::new(0), records, value_size)
}

/// [`batch`] from `b`, a builder that may set the producer.
pub fn batch_of(mut b: BatchBuilder, records: usize, value_size: usize) -> Vec<u8> {
    let value = vec![b'x'; value_size];
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for _ in 0..records {
        b.push(now_ms, None, Some(&value), &[]);
    }
    b.finish()
}

/// Runs `work` and measures the CPU time the broker `pid` (when the tool started it) spent
/// meanwhile, in microseconds (at the kernel's clock tick granularity, 10 ms on most systems).
pub fn with_broker_cpu<T>(
    pid: Option<u32>,
    work: impl FnOnce() -> crate::error::Result<T>,
) -> crate::error::Result<(T, Option<f64>)> {
    let before = pid.map(crate::procfs::cpu_ticks).transpose()?;
    let out = work()?;
    let us = match (pid, before) {
        (Some(pid), Some(before)) => {
            let ticks = crate::procfs::cpu_ticks(pid)?.saturating_sub(before);
            Some(ticks as f64 * 1e6 / crate::procfs::ticks_per_second() as f64)
        }
        _ => None,
    };
    Ok((out, us))
}

/// Runs `work` on its own thread while this one prints progress from the count it keeps.
pub fn watched<T: Send>(
    name: &str,
    unit: &'static str,
    bounds: &Bounds,
    work: impl FnOnce(&AtomicU64) -> crate::error::Result<T> + Send,
) -> crate::error::Result<T> {
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let mut progress = Progress::new(name, unit, bounds);
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = work(&done);
            finished.store(true, Ordering::Relaxed);
            r
        });
        progress.watch(&done, || finished.load(Ordering::Relaxed));
        worker.join()
    });
    outcome.map_err(|_| floor::worker_panicked())?
}

/// A progress line on stderr for runs long enough to want one: rewritten in place on a
/// terminal, one line every few seconds otherwise.
#[derive(Debug)]
pub struct Progress {
    name: String,
    unit: &'static str,
    started: Instant,
    last: Instant,
    every: Duration,
    tty: bool,
    enabled: bool,
    printed: bool,
}

impl Progress {
    /// Runs bounded by less than this print no progress.
    const LONG_RUN: Duration = Duration::from_secs(3);

    /// A progress line for the run `name`, counting `unit`.
    pub fn new(name: &str, unit: &'static str, bounds: &Bounds) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let now = Instant::now();
        Progress {
            name: name.into(),
            unit,
            started: now,
            last: now,
            every: if tty {
                Duration::from_millis(250)
            } else {
                Duration::from_secs(5)
            },
            tty,
            enabled: bounds.count.is_some() || bounds.duration >= Self::LONG_RUN,
            printed: false,
        }
    }

    /// Reports `done` so far, if it is time to.
    pub fn update(&mut self, done: u64) {
        if !self.enabled || self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let line = format!(
            "{}: {secs:.1} s, {done} {}, {rate:.0}/s",
            self.name, self.unit
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        self.printed = true;
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.tty && self.printed {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }

    /// Polls `done` until `finished` says the workers are done, printing progress.
    pub fn watch(&mut self, done: &AtomicU64, finished: impl Fn() -> bool) {
        while !finished() {
            self.update(done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(50));
        }
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazemq_core::records::RecordBatch;

    #[test]
    fn bounds_by_time_and_by_count() {
        let by_count = Bounds {
            duration: Duration::from_secs(100),
            count: Some(10),
        };
        let now = Instant::now();
        assert!(!by_count.reached(now, 9));
        assert!(by_count.reached(now, 10));
        assert_eq!(by_count.share(4).count, Some(3));
        assert_eq!(by_count.share(0).count, Some(10));
        let by_time = Bounds {
            duration: Duration::ZERO,
            count: None,
        };
        assert!(by_time.reached(now, 0));
        assert_eq!(by_time.hard_limit(), Duration::from_secs(60));
    }

    #[test]
    fn batches_are_valid_and_topics_unique() {
        let b = batch(3, 10);
        let view = RecordBatch::new_checked(&b[..]).expect("valid batch");
        assert_eq!(view.records_count(), 3);
        let empty_values = batch(1, 0);
        assert!(RecordBatch::new_checked(&empty_values[..]).is_ok());
        assert_ne!(topic_name("x"), topic_name("x"));
    }
}
