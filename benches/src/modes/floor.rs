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

/// Echoes `size`-byte messages until the peer closes; returns how many, and the CPU time this
/// thread spent on them: the kernel's cost of a request-response over loopback, the floor of a
/// broker's CPU per request.
fn echo(mut stream: TcpStream, size: usize) -> (u64, std::time::Duration) {
    let cpu = || rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let started = cpu();
    let mut buf = vec![0; size];
    let mut echoed = 0;
    while stream.read_exact(&mut buf).is_ok() && stream.write_all(&buf).is_ok() {
        echoed += 1;
    }
    let spent = std::time::Duration::try_from(cpu()).unwrap_or_default()
        - std::time::Duration::try_from(started).unwrap_or_default();
    (echoed, spent)
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
        let (stream, _) = listener.accept().ok()?;
        let _ = stream.set_nodelay(true);
        Some(echo(stream, size))
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
    let echo_cpu_us = match echo_thread.join() {
        Ok(Some((echoed, spent))) if echoed > 0 => Some(spent.as_secs_f64() * 1e6 / echoed as f64),
        _ => None,
    };
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
        broker_cpu_us_per_request: echo_cpu_us,
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
