//! `blazemq-bench`: latency and throughput of a Kafka broker over loopback. See `--help`.
// The workspace lint steers no_std-capable code to `core`; this code is std by nature.
#![allow(clippy::std_instead_of_core)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use blazemq_benches::args::{self, Mode, Options, Parsed, Target, USAGE};
use blazemq_benches::broker::SpawnedBroker;
use blazemq_benches::error::Result;
use blazemq_benches::lifecycle::{self, Lifecycle};
use blazemq_benches::modes::{self, Bounds, RunResult, topic_name};
use blazemq_benches::procfs;
use blazemq_benches::report::{IdleCpu, PerUnit, Report};
use blazemq_benches::versus::Versus;
use blazemq_benches::wire::Conn;

fn main() -> ExitCode {
    match args::parse(std::env::args().skip(1)) {
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Parsed::Run(options)) if options.versus.is_some() => match run_versus(&options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("blazemq-bench: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Parsed::Run(options)) => {
            let mut report = Report::default();
            let outcome = run(&options, &mut report);
            print!("{}", report.table());
            if let Some(path) = &options.json {
                if let Err(e) = std::fs::write(path, report.json() + "\n") {
                    eprintln!("blazemq-bench: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("blazemq-bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("blazemq-bench: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Starts the broker if asked, runs every mode, and fills `report` as it goes, so a failure
/// still reports what ran before it.
fn run(o: &Options, report: &mut Report) -> Result<()> {
    let (mut spawned, addr) = match &o.target {
        Target::Command(template) => {
            eprintln!("starting the broker...");
            let broker = SpawnedBroker::start(template)?;
            let addr = broker.addr;
            (Some(broker), addr)
        }
        Target::Bootstrap(addr) => (None, *addr),
    };
    report.broker.address = addr.to_string();
    let pid = spawned.as_ref().map(SpawnedBroker::pid);
    let dir = spawned.as_ref().map(|b| b.dir.clone());
    if let Some(b) = &spawned {
        report.broker.command = Some(b.command.clone());
        report.broker.startup = Some(b.startup);
        report.broker.binary_bytes = b.binary_bytes;
        report.broker.memory_after_start = Some(procfs::memory(b.pid())?);
    }
    // Held open until the end, so the idle measurements see them too.
    let idle_conns = memory_per_unit(o, addr, pid, report)?;
    if let Some(pid) = pid {
        report.broker.idle_cpu = Some(idle_cpu(pid, o.idle)?);
    }
    let (bounds, warmup) = run_bounds(o);
    for &mode in &o.modes {
        eprintln!("running {}...", mode.name());
        for result in run_mode(mode, o, addr, &warmup, &bounds, pid, dir.as_deref())? {
            report.runs.push(result);
        }
    }
    if let Some(b) = spawned.as_mut() {
        report.broker.idle_cpu_after_load = Some(idle_cpu(b.pid(), o.idle)?);
        report.broker.memory_after_load = Some(procfs::memory(b.pid())?);
        drop(idle_conns);
        let exit = b.stop()?;
        report.broker.exit_code = Some(exit.code);
        report.broker.exit_after = Some(exit.after);
    }
    lifecycle_runs(o, report)?;
    Ok(())
}

/// Opens `--idle-connections` connections and creates `--memory-partitions` partitions,
/// reporting the broker's memory per unit of each when the tool started it; returns the
/// connections.
fn memory_per_unit(
    o: &Options,
    addr: std::net::SocketAddr,
    pid: Option<u32>,
    report: &mut Report,
) -> Result<Vec<Conn>> {
    let mut idle_conns = Vec::with_capacity(o.idle_connections);
    if o.idle_connections > 0 {
        let before = pid.map(procfs::memory).transpose()?;
        for _ in 0..o.idle_connections {
            idle_conns.push(Conn::connect(addr)?);
        }
        if let (Some(pid), Some(before)) = (pid, before) {
            report.broker.idle_connections = Some(PerUnit {
                count: o.idle_connections,
                before_kib: before.anonymous_kib,
                after_kib: procfs::memory(pid)?.anonymous_kib,
            });
        }
    }
    if o.memory_partitions > 0 {
        let before = pid.map(procfs::memory).transpose()?;
        let count = i32::try_from(o.memory_partitions).unwrap_or(i32::MAX);
        Conn::connect(addr)?.create_topic(&topic_name("partitions"), count)?;
        if let (Some(pid), Some(before)) = (pid, before) {
            report.broker.partitions = Some(PerUnit {
                count: o.memory_partitions,
                before_kib: before.anonymous_kib,
                after_kib: procfs::memory(pid)?.anonymous_kib,
            });
        }
    }
    Ok(idle_conns)
}

/// `--starts` and `--restart-partitions`: the broker started again, empty and with data, when
/// the tool starts it.
fn lifecycle_runs(o: &Options, report: &mut Report) -> Result<()> {
    if let Target::Command(template) = &o.target {
        let mut l = Lifecycle::default();
        if o.starts > 0 {
            eprintln!("starting the broker {} more times...", o.starts);
            lifecycle::starts(template, o.starts, &mut l)?;
        }
        if o.restart_partitions > 0 {
            eprintln!(
                "restarting the broker on {} partitions with data...",
                o.restart_partitions
            );
            lifecycle::restarts(
                template,
                o.restart_partitions,
                o.batch,
                o.value_size,
                o.starts,
                &mut l,
            )?;
        }
        if o.starts > 0 || o.restart_partitions > 0 {
            report.broker.lifecycle = Some(l);
        }
    }
    Ok(())
}

/// `--versus-cmd`: rounds of both brokers in turn, the same modes against each; the table of
/// their records/s goes to stdout.
fn run_versus(o: &Options) -> Result<()> {
    let (Target::Command(a), Some(b)) = (&o.target, &o.versus) else {
        return Err(blazemq_benches::BenchError::Usage(
            "--versus-cmd needs --broker-cmd".into(),
        ));
    };
    let (bounds, warmup) = run_bounds(o);
    let mut versus = Versus::default();
    for round in 0..o.rounds {
        // A then B in even rounds, B then A in odd ones.
        for side in [round % 2 == 1, round % 2 == 0] {
            let template = if side { b } else { a };
            eprintln!("round {}/{}: {template}", round + 1, o.rounds);
            let mut broker = SpawnedBroker::start(template)?;
            let mut results = Vec::new();
            for &mode in &o.modes {
                let pid = Some(broker.pid());
                let dir = Some(broker.dir.as_path());
                results.extend(run_mode(mode, o, broker.addr, &warmup, &bounds, pid, dir)?);
            }
            broker.stop()?;
            versus.add(side, &results);
        }
    }
    print!("{}", versus.table(a, b));
    Ok(())
}

fn run_mode(
    mode: Mode,
    o: &Options,
    addr: std::net::SocketAddr,
    warmup: &Bounds,
    bounds: &Bounds,
    pid: Option<u32>,
    dir: Option<&std::path::Path>,
) -> Result<Vec<RunResult>> {
    Ok(match mode {
        Mode::Floor => {
            let size = modes::produce::request_len(o.value_size)?;
            vec![modes::floor::run(size, warmup, bounds)?]
        }
        Mode::Produce => vec![modes::produce::run(
            addr,
            o.value_size,
            warmup,
            bounds,
            pid,
        )?],
        Mode::Throughput => {
            let mut runs = Vec::new();
            for &codec in &o.compression {
                for &p in &o.partitions {
                    for &c in &o.connections {
                        let shape = modes::throughput::Shape {
                            connections: c,
                            partitions: p,
                            inflight: o.inflight,
                            records_per_batch: o.batch,
                            value_size: o.value_size,
                            codec,
                        };
                        runs.push(modes::throughput::run(addr, &shape, bounds)?);
                    }
                }
            }
            runs
        }
        Mode::Fetch => vec![modes::fetch::run(
            addr,
            o.batch,
            o.value_size,
            o.fetch_max_bytes,
            bounds,
        )?],
        Mode::E2e => vec![modes::e2e::run(addr, o.value_size, o.e2e_rate, bounds)?],
        Mode::Create => vec![modes::create::run(
            addr,
            o.create_topics,
            o.value_size,
            warmup,
            bounds,
        )?],
        Mode::Txn => modes::txn::run(addr, &txn_shape(o, 0), &o.txn_records, bounds, pid)?,
        Mode::FetchCommitted => {
            let mut runs = Vec::new();
            for &n in &o.txn_records {
                let shape = txn_shape(o, n);
                runs.extend(modes::fetch_committed::run(
                    addr,
                    &shape,
                    o.fetch_max_bytes,
                    bounds,
                    pid,
                )?);
            }
            runs
        }
        Mode::Compaction => modes::compaction::run(addr, &compaction_shape(o), bounds, pid)?,
        Mode::CompactionDisk => vec![modes::compaction::disk(
            addr,
            &compaction_shape(o),
            o.compaction_rate,
            o.compaction_duration,
            dir,
        )?],
    })
}

/// The compaction runs' shape from the options.
fn compaction_shape(o: &Options) -> modes::compaction::CompactionShape {
    modes::compaction::CompactionShape {
        backlog_bytes: o.compaction_bytes,
        keys: o.compaction_keys,
        records_per_batch: o.batch,
        value_size: o.value_size,
        inflight: o.inflight,
        segment_bytes: o.segment_bytes,
        cleaner_backoff: o.cleaner_backoff,
        dirty_ratio: o.dirty_ratio,
    }
}

/// The transaction runs' shape from the options, with `txn_records` records a transaction.
fn txn_shape(o: &Options, txn_records: usize) -> modes::txn::TxnShape {
    modes::txn::TxnShape {
        inflight: o.inflight,
        records_per_batch: o.batch,
        value_size: o.value_size,
        txn_records,
    }
}

/// CPU ticks of an idle broker over `secs`.
fn idle_cpu(pid: u32, secs: Duration) -> Result<IdleCpu> {
    let before = procfs::cpu_ticks(pid)?;
    let started = Instant::now();
    std::thread::sleep(secs);
    let ticks = procfs::cpu_ticks(pid)?.saturating_sub(before);
    let secs = started.elapsed().as_secs_f64();
    let percent = ticks as f64 * 100.0 / (procfs::ticks_per_second() as f64 * secs.max(1e-9));
    Ok(IdleCpu {
        secs,
        ticks,
        percent,
    })
}

/// How long each mode measures, and its warm-up (a tenth of a request count, at least one).
fn run_bounds(o: &Options) -> (Bounds, Bounds) {
    let bounds = Bounds {
        duration: o.duration,
        count: o.requests,
    };
    let warmup = Bounds {
        duration: o.warmup,
        count: o.requests.map(|n| (n / 10).max(1)),
    };
    (bounds, warmup)
}
