//! `blazemq`: configuration, the data directory, and the event loop driving `blazemq-core`.
// The workspace lint steers no_std-capable code to `core`; this binary is std by nature.
#![allow(clippy::std_instead_of_core)]

mod banner;
mod cleaner_thread;
mod config;
mod console;
mod data_dir;
mod event_loop;
mod fault_routes;
mod frame_cursor;
mod http;
mod json;
mod logging;
mod metrics;
mod out_queue;
mod storage;

use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;

use blazemq_core::broker::{Broker, BrokerConfig, EventLevel, StartError};
use blazemq_platform::wake;
use blazemq_platform::{Clock, Listener, ShutdownSignal, unix_ms};

use crate::banner::Banner;
use crate::cleaner_thread::CleanerThread;
use crate::config::{Command, Config};
use crate::data_dir::{DataDir, new_cluster_id};
use crate::event_loop::{EventLoop, Listeners, LoopConfig};
use crate::metrics::ServerMetrics;
use crate::storage::FileStorage;

/// Exit status for a configuration the broker refuses.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let command = match config::load(std::env::args_os().skip(1), std::env::vars_os()) {
        Ok(command) => command,
        Err(e) => {
            // Before the log settings are known: the default level and format.
            crate::error!("invalid configuration", error = e.to_string());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match command {
        Command::Help => print!("{}", config::help()),
        Command::Version => println!("blazemq {}", env!("CARGO_PKG_VERSION")),
        Command::Run(config) => {
            logging::init(config.log_level, config.log_format);
            if let Err(e) = run(&config) {
                crate::error!("broker failed", error = e.to_string());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Why the broker stopped with an error.
#[derive(Debug)]
enum RunError {
    Io(&'static str, std::io::Error),
    DataDir(data_dir::DataDirError),
    Listen(SocketAddr, std::io::Error),
    ListenHttp(SocketAddr, std::io::Error),
    Start(StartError),
    Shutdown(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Io(what, e) => write!(f, "{what}: {e}"),
            RunError::DataDir(e) => write!(f, "{e}"),
            RunError::ListenHttp(addr, e) => {
                write!(f, "cannot listen on {addr} (metrics_listener): {e}")
            }
            RunError::Listen(addr, e) => {
                write!(f, "cannot listen on {addr} (bind_address, port): {e}")
            }
            RunError::Start(StartError::Storage(e)) => {
                write!(f, "cannot recover the logs: {}", e.reason)
            }
            RunError::Shutdown(reason) => {
                write!(f, "shutdown could not seal the logs: {reason}")
            }
        }
    }
}

fn run(config: &Config) -> Result<(), RunError> {
    let (started, started_unix_ms) = (std::time::Instant::now(), unix_ms());
    prepare_process(config);
    // Installed first, so a signal during recovery stops the broker cleanly instead of killing it.
    let signal = ShutdownSignal::install().map_err(|e| RunError::Io("signal handlers", e))?;
    // Bound before the data directory is touched, so a port in use leaves a new directory
    // without a cluster id or a lock file.
    let bind = SocketAddr::new(config.bind_address, config.port);
    let listener = Listener::bind(bind).map_err(|e| RunError::Listen(bind, e))?;
    let listening = listener.local_addr();
    let http = config
        .metrics_listener
        .map(|addr| Listener::bind(addr).map_err(|e| RunError::ListenHttp(addr, e)))
        .transpose()?;
    let data_dir = DataDir::open(&config.log_dir, new_cluster_id).map_err(RunError::DataDir)?;
    let clean = data_dir.previous_run == data_dir::PreviousRun::Clean;
    let storage = FileStorage::new(config.log_dir.clone(), clean);
    let cleaning = storage.cleaning_files();
    let broker_config = broker_config(config, listening, &data_dir)?;
    let loop_config = LoopConfig {
        read_buffer_bytes: config.message_pool_block_size_bytes as usize,
        connection_output_bytes_max: usize::try_from(config.connection_output_bytes_max)
            .unwrap_or(usize::MAX),
        connections_max: broker_config.limits.connections_max as usize,
    };
    let recovery_started = std::time::Instant::now();
    let broker = Broker::new(broker_config, storage, unix_ms()).map_err(RunError::Start)?;
    let recovered_in = recovery_started.elapsed();
    let partitions = broker.partition_count();
    crate::info!(
        "logs recovered",
        partitions = partitions,
        took_ms = recovered_in,
        previous_run = previous_run_name(data_dir.previous_run),
        data_dir = data_dir.path(),
    );
    let http_listening = http.as_ref().map(Listener::local_addr);
    let listeners = Listeners {
        kafka: listener,
        http,
        http_context: http::routes::Context {
            console: config.console,
            console_write: config.console_write,
        },
    };
    let metrics = ServerMetrics::new(
        config.metrics_listener.is_some(),
        started,
        started_unix_ms,
        recovered_in,
    );
    let event_loop = EventLoop::new(broker, listeners, signal, Clock::new(), loop_config)
        .map_err(|e| RunError::Io("event loop", e))?
        .with_metrics(metrics);
    let (waker, wake_up) = wake::pair().map_err(|e| RunError::Io("log cleaner", e))?;
    let cleaner = CleanerThread::spawn(move |plan| cleaning.for_plan(plan), waker)
        .map_err(|e| RunError::Io("log cleaner", e))?;
    let event_loop = event_loop
        .with_cleaner(cleaner, wake_up)
        .map_err(|e| RunError::Io("event loop", e))?;
    announce(config, listening, http_listening, &data_dir, partitions);

    let (mut broker, stopped) = event_loop
        .run()
        .map_err(|e| RunError::Io("event loop", e))?;
    seal(&mut broker, &data_dir)?;
    crate::info!("broker stopped", took_ms = stopped.since.elapsed());
    Ok(())
}

/// What the process needs before anything else: thread-count advice, the open-files limit, the
/// CRC instruction.
fn prepare_process(config: &Config) {
    if config.num_io_threads != 1 {
        crate::warn!(
            "num_io_threads accepted; the event loop runs on one thread",
            num_io_threads = config.num_io_threads,
        );
    }
    blazemq_platform::fs::raise_open_files_limit();
    if let Some(update) = blazemq_platform::crc::crc32c_instruction() {
        // Before recovery, whose CRC checks are the first to profit. Only this call installs
        // one, so it cannot have been installed before.
        let installed = blazemq_core::records::crc::install_crc32c(update);
        debug_assert!(installed, "the CRC-32C instruction is installed once");
    }
}

/// The banner on stdout, and the startup's log lines.
fn announce(
    config: &Config,
    listening: SocketAddr,
    http_listening: Option<SocketAddr>,
    data_dir: &DataDir,
    partitions: usize,
) {
    let banner = Banner {
        listening,
        advertised_host: &config.advertised_host,
        advertised_port: listening.port(),
        log_dir: data_dir.path(),
        cluster_id: &data_dir.cluster_id,
        previous_run: data_dir.previous_run,
        partitions,
        segment_size_bytes: config.segment_size_bytes,
    };
    println!("{}", banner.render());
    crate::info!(
        "broker started",
        listener = listening,
        advertised = match config.advertised_host.contains(':') {
            true => format!("[{}]:{}", config.advertised_host, listening.port()),
            false => format!("{}:{}", config.advertised_host, listening.port()),
        },
        data_dir = data_dir.path(),
        cluster_id = data_dir.cluster_id,
        broker_id = config.broker_id,
        version = env!("CARGO_PKG_VERSION"),
    );
    if let Some(address) = http_listening {
        crate::info!(
            "metrics listener",
            address = address,
            console = config.console,
            console_write = config.console_write,
        );
    }
}

/// The clean shutdown's storage work: logs sealed, the recovery checkpoint and the clean marker
/// written.
fn seal(broker: &mut Broker<FileStorage>, data_dir: &DataDir) -> Result<(), RunError> {
    let sealing = std::time::Instant::now();
    broker
        .shutdown()
        .map_err(|e| RunError::Shutdown(e.reason))?;
    crate::info!(
        "logs sealed and recovery checkpoint written",
        partitions = broker.partition_count(),
        took_ms = sealing.elapsed(),
    );
    data_dir
        .mark_clean_shutdown()
        .map_err(|e| RunError::Io("writing the clean-shutdown marker", e))?;
    storage::log_suppressed_errors();
    Ok(())
}

/// What the broker core runs with: the settings, and what the listener and the data directory
/// decided.
fn broker_config(
    config: &Config,
    listening: SocketAddr,
    data_dir: &DataDir,
) -> Result<BrokerConfig, RunError> {
    Ok(BrokerConfig {
        broker_id: config.broker_id,
        advertised_host: config.advertised_host.clone(),
        advertised_port: i32::from(listening.port()),
        cluster_id: data_dir.cluster_id.clone(),
        // Absolute, as Kafka names its log directories.
        log_dir: std::fs::canonicalize(&config.log_dir)
            .unwrap_or_else(|_| config.log_dir.clone())
            .display()
            .to_string(),
        segment_size_bytes: config.segment_size_bytes,
        offsets_topic_segment_bytes: config.offsets_topic_segment_bytes,
        transaction_state_log_segment_bytes: config.transaction_state_log_segment_bytes,
        num_partitions: config.num_partitions,
        auto_create_topics: config.auto_create_topics,
        retention_ms: config.retention_ms,
        retention_bytes: config.retention_bytes,
        log_cleanup_policy: config.log_cleanup_policy,
        segment_ms: config.segment_ms,
        offsets_retention_ms: i64::from(config.offsets_retention_minutes) * 60_000,
        offsets_retention_check_interval_ms: config.offsets_retention_check_interval_ms,
        group_initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        group_min_session_timeout_ms: config.group_min_session_timeout_ms,
        group_max_session_timeout_ms: config.group_max_session_timeout_ms,
        log_flush_offset_checkpoint_interval_ms: Some(
            config.log_flush_offset_checkpoint_interval_ms,
        ),
        open_segments_max: config.open_segments_max,
        transaction_max_timeout_ms: config.transaction_max_timeout_ms,
        transactional_id_expiration_ms: config.transactional_id_expiration_ms,
        producer_id_expiration_ms: config.producer_id_expiration_ms,
        log_cleaner_dedupe_buffer_size: config.log_cleaner_dedupe_buffer_size,
        log_cleaner_backoff_ms: config.log_cleaner_backoff_ms,
        // Passes run on the cleaner's thread, off the event loop.
        cleaner_jobs: true,
        seed: blazemq_platform::random::u64().map_err(|e| RunError::Io("random seed", e))?,
        limits: config.limits(),
        events: event_level(config.log_level),
        faults: config.faults.clone(),
        // Requests and response errors are counted only for the metrics listener.
        stats: config.metrics_listener.is_some(),
    })
}

/// The broker's events worth recording at the log's level.
fn event_level(level: logging::Level) -> EventLevel {
    match level {
        logging::Level::Error | logging::Level::Warn => EventLevel::Off,
        logging::Level::Info => EventLevel::Info,
        logging::Level::Debug | logging::Level::Trace => EventLevel::Debug,
    }
}

fn previous_run_name(previous: data_dir::PreviousRun) -> &'static str {
    match previous {
        data_dir::PreviousRun::None => "none",
        data_dir::PreviousRun::Clean => "clean",
        data_dir::PreviousRun::Crashed => "crashed",
    }
}
