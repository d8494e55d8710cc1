//! The floor: a TCP echo ping-pong over loopback in this process, with the produce run's request
//! size. No broker can answer faster than the kernel moves those bytes twice.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use super::{Bounds, Progress, RunResult};
use crate::args::Mode;
use crate::error::Result;
use crate::stats::Latencies;
use crate::wire::IO_TIMEOUT;

/// Echoes `size`-byte messages until the peer closes.
fn echo(mut stream: TcpStream, size: usize) {
    let mut buf = vec![0; size];
    while stream.read_exact(&mut buf).is_ok() {
        if stream.write_all(&buf).is_err() {
            return;
        }
    }
}

fn ping_pong(
    stream: &mut TcpStream,
    msg: &mut [u8],
    bounds: &Bounds,
    done: &AtomicU64,
) -> Result<(Latencies, std::time::Duration)> {
    let mut latencies = Latencies::new();
    let started = Instant::now();
    let mut n = 0;
    while !bounds.reached(started, n) {
        let sent = Instant::now();
        stream.write_all(msg)?;
        stream.read_exact(msg)?;
        latencies.record(sent.elapsed());
        n += 1;
        done.store(n, Ordering::Relaxed);
    }
    Ok((latencies, started.elapsed()))
}

/// Runs the echo ping-pong with `size`-byte messages after `warmup`.
pub fn run(size: usize, warmup: &Bounds, bounds: &Bounds) -> Result<RunResult> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    let echo_thread = std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nodelay(true);
            echo(stream, size);
        }
    });
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut msg = vec![0xa5; size];
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let mut progress = Progress::new("floor", "round trips", bounds);
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = ping_pong(&mut stream, &mut msg, warmup, &AtomicU64::new(0))
                .and_then(|_| ping_pong(&mut stream, &mut msg, bounds, &done));
            finished.store(true, Ordering::Relaxed);
            r
        });
        progress.watch(&done, || finished.load(Ordering::Relaxed));
        worker.join()
    });
    drop(stream);
    let _ = echo_thread.join();
    let (latencies, elapsed) = outcome.map_err(|_| worker_panicked())??;
    let requests = latencies.count();
    Ok(RunResult {
        mode: Mode::Floor,
        label: format!("echo of {size} B, 1 in flight"),
        elapsed,
        requests,
        records: 0,
        bytes: requests * size as u64,
        latency: latencies.summary(),
        broker_cpu_us_per_request: None,
        notes: Vec::new(),
    })
}

/// The error for a worker thread that panicked (a bug in the tool, reported, not propagated).
pub(crate) fn worker_panicked() -> crate::BenchError {
    crate::BenchError::Protocol("a worker thread panicked".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn echo_round_trips_are_counted_and_timed() {
        let count = |n| Bounds {
            duration: Duration::from_secs(60),
            count: Some(n),
        };
        let r = run(300, &count(5), &count(50)).expect("echo runs");
        assert_eq!(r.requests, 50);
        assert_eq!(r.bytes, 50 * 300);
        assert!(r.latency.p50_us() > 0.0);
        assert!(r.latency.max_us >= r.latency.p50_us());
    }
}
