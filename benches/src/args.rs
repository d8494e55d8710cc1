//! The command line of `blazemq-bench`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::codecs::Codec;
use crate::error::{BenchError, Result};

/// The usage text for `--help` and for a wrong command line.
pub const USAGE: &str = "\
blazemq-bench: latency and throughput of a Kafka broker over loopback

USAGE:
  blazemq-bench --broker-cmd \"CMD\" [OPTIONS]   start the broker ({port} and {dir} are filled in)
  blazemq-bench --bootstrap HOST:PORT [OPTIONS] use a running broker

OPTIONS:
  --modes LIST            floor,produce,throughput,fetch,e2e,create,txn,fetch-committed,
                          compaction,compaction-disk (default: the first five)
  --duration SECS         length of each run (default 10; --quick: 2)
  --requests N            stop each run after N requests (or records, for fetch and e2e)
  --quick                 short runs (~2 s per mode) and a 1 s idle measurement, for CI
  --value-size BYTES      record value size (default 100)
  --connections LIST      connections for throughput runs (default 1,4)
  --partitions LIST       partitions of the throughput topic; each connection's requests go to
                          them in turn (default 1); one run per connections x partitions pair
  --compression LIST      codecs of the throughput runs' batches: none,gzip,snappy,lz4,zstd
                          (default none); one run per codec, with JSON-like values
  --inflight N            pipelined requests per connection in throughput runs (default 8)
  --batch N               records per request in throughput and fetch runs (default 100)
  --fetch-max-bytes N     Fetch max_bytes (default 1048576)
  --txn-records LIST      records per transaction in txn and fetch-committed runs, each a
                          multiple of --batch (default 100,10000); one run per size
  --e2e-rate N            records per second the e2e producer sends (default 1000)
  --idle-secs SECS        idle CPU measurement of a started broker, after start and again
                          after the load (default 10; --quick: 1)
  --idle-connections K    hold K idle connections open from after start to the end, and
                          report the broker's Anonymous memory per connection (default 0)
  --memory-partitions P   after start, create a topic of P partitions and report the broker's
                          Anonymous memory per partition (default 0: not measured)
  --starts N              start and SIGTERM the broker N more times with an empty data dir:
                          startup and exit times (median, min, max) (default 0)
  --create-topics N       topics (1 partition each) of the create run's one CreateTopics,
                          sent while another connection produces (default 10000)
  --restart-partitions P  --starts times (at least once): write a batch to each of P partitions,
                          then restart the broker on that data: SIGTERM to exit with data just
                          written, startup with data (default 0)
  --compaction-bytes N    backlog of old versions written to each topic of the compaction run
                          (default 1GiB; --quick: 64MiB); suffixes KiB, MiB, GiB
  --compaction-keys N     distinct keys of the compaction runs (default 10000)
  --compaction-secs SECS  length of the compaction-disk run (default 600; --quick: 5)
  --compaction-rate N     records per second the compaction-disk run sends (default 1000)
  --segment-bytes N       segment.bytes of the compaction runs' topics (default: not set, the
                          broker's own; BlazeMQ follows its --segment-size)
  --min-cleanable-dirty-ratio R
                          min.cleanable.dirty.ratio of the compaction runs' topics (default: not
                          set, the broker's own; Kafka's is 0.5)
  --cleaner-backoff-ms MS the broker's log.cleaner.backoff.ms: the compaction run measures from
                          that long after it allows cleaning (default 15000, Kafka's and BlazeMQ's)
  --versus-cmd \"CMD\"    a second broker command, run beside --broker-cmd's: each of
                          --rounds rounds starts each broker in turn (alternating which goes
                          first), runs --modes against it and stops it; prints each run's
                          median records/s for both and their ratio (idle, memory and
                          lifecycle measurements are skipped)
  --rounds N              rounds of a --versus-cmd comparison (default 3)
  --json FILE             also write the results as JSON
  --help                  this text
";

/// Largest partition count the tool asks a topic for.
pub const PARTITIONS_MAX: i32 = 100_000;

/// Largest transaction the tool sends, in records.
pub const TXN_RECORDS_MAX: usize = 10_000_000;

/// One kind of run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// TCP echo ping-pong in this process: the machine's floor.
    Floor,
    /// One connection, one request in flight, one record per request.
    Produce,
    /// N connections, pipelined batches.
    Throughput,
    /// Consume from offset 0 and check the count.
    Fetch,
    /// A producer and a long-polling consumer: send to receipt.
    E2e,
    /// One CreateTopics of many topics while another connection produces.
    Create,
    /// Committed transactions beside the same batches without one.
    Txn,
    /// READ_COMMITTED beside READ_UNCOMMITTED over committed transactions.
    FetchCommitted,
    /// Produce latency while the log cleaner compacts a backlog, beside no cleaning.
    Compaction,
    /// The size of a compacted topic whose keys are updated at a steady rate.
    CompactionDisk,
}

impl Mode {
    /// Every mode, in the order they run.
    pub const ALL: [Mode; 10] = [
        Mode::Floor,
        Mode::Produce,
        Mode::Throughput,
        Mode::Fetch,
        Mode::E2e,
        Mode::Create,
        Mode::Txn,
        Mode::FetchCommitted,
        Mode::Compaction,
        Mode::CompactionDisk,
    ];

    /// The modes run when `--modes` is not given: creating thousands of topics leaves them
    /// behind in the broker's data, so it runs only when asked for; the transaction modes need
    /// a broker with transactions (most Kafka-compatible peers have none) and would triple the
    /// default run's length; the compaction modes write gigabytes and run for minutes.
    pub const DEFAULT: [Mode; 5] = [
        Mode::Floor,
        Mode::Produce,
        Mode::Throughput,
        Mode::Fetch,
        Mode::E2e,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Floor => "floor",
            Mode::Produce => "produce",
            Mode::Throughput => "throughput",
            Mode::Fetch => "fetch",
            Mode::E2e => "e2e",
            Mode::Create => "create",
            Mode::Txn => "txn",
            Mode::FetchCommitted => "fetch-committed",
            Mode::Compaction => "compaction",
            Mode::CompactionDisk => "compaction-disk",
        }
    }

    fn parse(s: &str) -> Result<Mode> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| BenchError::Usage(format!("unknown mode {s:?}")))
    }
}

/// Where the broker is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Start it with this command template.
    Command(String),
    /// It runs at this address.
    Bootstrap(SocketAddr),
}

/// Everything the command line sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The broker.
    pub target: Target,
    /// The runs, in order.
    pub modes: Vec<Mode>,
    /// Length of each run.
    pub duration: Duration,
    /// Requests (or records) per run, when bounded by count.
    pub requests: Option<u64>,
    /// Warm-up before the produce run is measured.
    pub warmup: Duration,
    /// Record value size in bytes.
    pub value_size: usize,
    /// Connection counts of the throughput runs.
    pub connections: Vec<usize>,
    /// Partition counts of the throughput runs.
    pub partitions: Vec<usize>,
    /// Codecs of the throughput runs' batches.
    pub compression: Vec<Codec>,
    /// Requests in flight per connection in throughput runs.
    pub inflight: usize,
    /// Records per request in throughput and fetch runs.
    pub batch: usize,
    /// Fetch `max_bytes`.
    pub fetch_max_bytes: i32,
    /// Records per transaction of the transaction runs.
    pub txn_records: Vec<usize>,
    /// Records per second of the e2e producer.
    pub e2e_rate: u32,
    /// Idle CPU measurement of a started broker.
    pub idle: Duration,
    /// Idle connections held open during the run.
    pub idle_connections: usize,
    /// Partitions created to measure memory per partition (0: not measured).
    pub memory_partitions: usize,
    /// Extra starts with an empty data directory.
    pub starts: usize,
    /// Partitions written before restart measurements (0: none).
    pub restart_partitions: usize,
    /// Topics of the create run's CreateTopics request.
    pub create_topics: usize,
    /// Backlog bytes written to each topic of the compaction run.
    pub compaction_bytes: u64,
    /// Distinct keys of the compaction runs.
    pub compaction_keys: usize,
    /// Length of the compaction-disk run.
    pub compaction_duration: Duration,
    /// Records per second of the compaction-disk run.
    pub compaction_rate: u32,
    /// `segment.bytes` of the compaction runs' topics, if set.
    pub segment_bytes: Option<u64>,
    /// The broker's `log.cleaner.backoff.ms`.
    pub cleaner_backoff: Duration,
    /// `min.cleanable.dirty.ratio` of the compaction runs' topics, if set.
    pub dirty_ratio: Option<f64>,
    /// A second broker command to compare with the first, side by side.
    pub versus: Option<String>,
    /// Rounds of the comparison.
    pub rounds: usize,
    /// Where to write the JSON report.
    pub json: Option<PathBuf>,
    /// Short runs.
    pub quick: bool,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// Run with these options.
    Run(Box<Options>),
    /// Print the usage.
    Help,
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| BenchError::Usage(format!("{flag}: not a valid number: {v:?}")))
}

fn positive(flag: &str, v: &str) -> Result<u64> {
    let n: u64 = number(flag, v)?;
    if n == 0 {
        return Err(BenchError::Usage(format!("{flag} must be at least 1")));
    }
    Ok(n)
}

/// A byte count, with an optional `KiB`, `MiB` or `GiB` suffix; at least 1.
fn bytes(flag: &str, v: &str) -> Result<u64> {
    let (digits, shift) = [("KiB", 10), ("MiB", 20), ("GiB", 30)]
        .into_iter()
        .find_map(|(suffix, shift)| v.strip_suffix(suffix).map(|d| (d, shift)))
        .unwrap_or((v, 0));
    positive(flag, digits.trim())?
        .checked_mul(1 << shift)
        .ok_or_else(|| BenchError::Usage(format!("{flag}: {v} is too large")))
}

fn seconds(flag: &str, v: &str) -> Result<Duration> {
    let s: f64 = number(flag, v)?;
    if !(0.0..=86_400.0).contains(&s) {
        return Err(BenchError::Usage(format!(
            "{flag}: {v} is out of 0..=86400"
        )));
    }
    Ok(Duration::from_secs_f64(s))
}

/// Parses the arguments after the program name.
/// The flags of a command line, in order, each with its value; `--quick` apart.
#[derive(Debug, Default)]
struct RawArgs {
    flags: Vec<(String, String)>,
    quick: bool,
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed> {
    let Some(raw) = raw_flags(args)? else {
        return Ok(Parsed::Help);
    };
    let mut o = defaults(raw.quick);
    let mut target = None;
    for (flag, v) in raw.flags {
        apply(&mut o, &mut target, &flag, &v)?;
    }
    o.target = target.ok_or_else(|| {
        BenchError::Usage("give --broker-cmd \"CMD\" or --bootstrap HOST:PORT".into())
    })?;
    validate(&o)?;
    Ok(Parsed::Run(Box::new(o)))
}

/// Splits the command line into flags and values (`--flag value` or `--flag=value`); `None`
/// when it asks for help.
fn raw_flags<I: IntoIterator<Item = String>>(args: I) -> Result<Option<RawArgs>> {
    let mut args = args.into_iter();
    let mut raw = RawArgs::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--quick" => raw.quick = true,
            flag if flag.starts_with("--") => {
                let (flag, value) = match flag.split_once('=') {
                    Some((f, v)) => (f.to_string(), v.to_string()),
                    None => {
                        let v = args
                            .next()
                            .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
                        (flag.to_string(), v)
                    }
                };
                raw.flags.push((flag, value));
            }
            other => return Err(BenchError::Usage(format!("unexpected argument {other:?}"))),
        }
    }
    Ok(Some(raw))
}

/// The options before any flag: shorter runs with `--quick`.
fn defaults(quick: bool) -> Options {
    Options {
        target: Target::Bootstrap(SocketAddr::from(([127, 0, 0, 1], 9092))),
        modes: Mode::DEFAULT.to_vec(),
        duration: Duration::from_secs(if quick { 2 } else { 10 }),
        requests: None,
        warmup: Duration::from_millis(if quick { 200 } else { 1_000 }),
        value_size: 100,
        connections: vec![1, 4],
        partitions: vec![1],
        compression: vec![Codec::None],
        inflight: 8,
        batch: 100,
        fetch_max_bytes: 1 << 20,
        txn_records: vec![100, 10_000],
        e2e_rate: 1_000,
        idle: Duration::from_secs(if quick { 1 } else { 10 }),
        idle_connections: 0,
        memory_partitions: 0,
        starts: 0,
        restart_partitions: 0,
        create_topics: 10_000,
        compaction_bytes: if quick { 64 << 20 } else { 1 << 30 },
        compaction_keys: 10_000,
        compaction_duration: Duration::from_secs(if quick { 5 } else { 600 }),
        compaction_rate: 1_000,
        segment_bytes: None,
        cleaner_backoff: Duration::from_secs(15),
        dirty_ratio: None,
        versus: None,
        rounds: 3,
        json: None,
        quick,
    }
}

/// Sets the option of `flag` to `v`, or the target for `--broker-cmd` and `--bootstrap`.
fn apply(o: &mut Options, target: &mut Option<Target>, flag: &str, v: &str) -> Result<()> {
    if let Some(t) = target_flag(flag, v)? {
        *target = Some(t);
        return Ok(());
    }
    let known = run_flag(o, flag, v)?
        || load_flag(o, flag, v)?
        || broker_flag(o, flag, v)?
        || compaction_flag(o, flag, v)?;
    if known {
        Ok(())
    } else {
        Err(BenchError::Usage(format!("unknown option {flag}")))
    }
}

/// `--broker-cmd` and `--bootstrap`: the broker measured; `None` for another flag.
fn target_flag(f: &str, v: &str) -> Result<Option<Target>> {
    Ok(match f {
        "--broker-cmd" => Some(Target::Command(v.to_string())),
        "--bootstrap" => {
            let addr = v
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| BenchError::Usage(format!("--bootstrap: cannot resolve {v:?}")))?;
            Some(Target::Bootstrap(addr))
        }
        _ => None,
    })
}

/// What runs, for how long, and where its results go; `false` for another flag.
fn run_flag(o: &mut Options, f: &str, v: &str) -> Result<bool> {
    match f {
        "--modes" => {
            o.modes = v
                .split(',')
                .map(|m| Mode::parse(m.trim()))
                .collect::<Result<_>>()?
        }
        "--duration" => o.duration = seconds(f, v)?,
        "--requests" => o.requests = Some(positive(f, v)?),
        "--versus-cmd" => o.versus = Some(v.to_string()),
        "--rounds" => o.rounds = positive(f, v)?.min(1_000) as usize,
        "--json" => o.json = Some(PathBuf::from(v)),
        _ => return Ok(false),
    }
    Ok(true)
}

/// The shape of the load: connections, partitions, batches, sizes and rates; `false` for
/// another flag.
fn load_flag(o: &mut Options, f: &str, v: &str) -> Result<bool> {
    let counts = |v: &str| -> Result<Vec<usize>> {
        v.split(',')
            .map(|c| positive(f, c.trim()).map(|n| n as usize))
            .collect()
    };
    match f {
        "--value-size" => o.value_size = number(f, v)?,
        "--connections" => o.connections = counts(v)?,
        "--partitions" => o.partitions = counts(v)?,
        "--txn-records" => o.txn_records = counts(v)?,
        "--compression" => {
            o.compression = v
                .split(',')
                .map(|c| Codec::parse(c.trim()))
                .collect::<Result<_>>()?
        }
        "--create-topics" => o.create_topics = positive(f, v)? as usize,
        "--inflight" => o.inflight = positive(f, v)? as usize,
        "--batch" => o.batch = positive(f, v)? as usize,
        "--fetch-max-bytes" => {
            o.fetch_max_bytes = i32::try_from(positive(f, v)?)
                .map_err(|_| BenchError::Usage(format!("{f} must fit in an int32")))?
        }
        "--e2e-rate" => {
            o.e2e_rate = u32::try_from(positive(f, v)?)
                .map_err(|_| BenchError::Usage(format!("{f} is too large")))?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The broker's own costs: idle CPU, memory per unit, starts and restarts; `false` for another
/// flag.
fn broker_flag(o: &mut Options, f: &str, v: &str) -> Result<bool> {
    match f {
        "--idle-connections" => o.idle_connections = number(f, v)?,
        "--memory-partitions" => o.memory_partitions = number(f, v)?,
        "--starts" => o.starts = number(f, v)?,
        "--restart-partitions" => o.restart_partitions = number(f, v)?,
        "--idle-secs" => o.idle = seconds(f, v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The compaction runs and the settings of their topics; `false` for another flag.
fn compaction_flag(o: &mut Options, f: &str, v: &str) -> Result<bool> {
    match f {
        "--compaction-bytes" => o.compaction_bytes = bytes(f, v)?,
        "--compaction-keys" => o.compaction_keys = positive(f, v)? as usize,
        "--compaction-secs" => o.compaction_duration = seconds(f, v)?,
        "--compaction-rate" => {
            o.compaction_rate = u32::try_from(positive(f, v)?)
                .map_err(|_| BenchError::Usage(format!("{f} is too large")))?
        }
        "--segment-bytes" => o.segment_bytes = Some(bytes(f, v)?),
        "--min-cleanable-dirty-ratio" => match number::<f64>(f, v)? {
            r if (0.0..=1.0).contains(&r) => o.dirty_ratio = Some(r),
            _ => return Err(BenchError::Usage(format!("{f} is between 0 and 1"))),
        },
        "--cleaner-backoff-ms" => match positive(f, v)? {
            ms @ ..=3_600_000 => o.cleaner_backoff = Duration::from_millis(ms),
            _ => return Err(BenchError::Usage(format!("{f} is at most 3600000"))),
        },
        _ => return Ok(false),
    }
    Ok(true)
}

/// The limits the options must keep, across flags.
fn validate(o: &Options) -> Result<()> {
    if o.versus.is_some() && !matches!(o.target, Target::Command(_)) {
        return Err(BenchError::Usage(
            "--versus-cmd compares with --broker-cmd's broker: give both".into(),
        ));
    }
    if o.fetch_max_bytes > crate::wire::FETCH_BYTES_MAX {
        return Err(BenchError::Usage(
            "--fetch-max-bytes is at most 512 MiB".into(),
        ));
    }
    if o.value_size > 16 << 20 {
        return Err(BenchError::Usage("--value-size is at most 16 MiB".into()));
    }
    if o.connections.iter().any(|&c| c > 1024) || o.inflight > 1024 || o.batch > 100_000 {
        return Err(BenchError::Usage(
            "--connections and --inflight are at most 1024, --batch at most 100000".into(),
        ));
    }
    if o.txn_records
        .iter()
        .any(|&n| n % o.batch != 0 || n > TXN_RECORDS_MAX)
    {
        return Err(BenchError::Usage(format!(
            "--txn-records must be multiples of --batch ({}), at most {TXN_RECORDS_MAX}",
            o.batch
        )));
    }
    let partitions_max = PARTITIONS_MAX as usize;
    if o.partitions.iter().any(|&p| p > partitions_max)
        || o.memory_partitions > partitions_max
        || o.restart_partitions > partitions_max
        || o.create_topics > partitions_max
    {
        return Err(BenchError::Usage(format!(
            "partition counts are at most {PARTITIONS_MAX}"
        )));
    }
    if o.compaction_keys > 10_000_000 || o.compaction_bytes > 1 << 40 {
        return Err(BenchError::Usage(
            "--compaction-keys is at most 10000000, --compaction-bytes at most 1TiB".into(),
        ));
    }
    if o.idle_connections > 10_000 || o.starts > 10_000 {
        return Err(BenchError::Usage(
            "--idle-connections and --starts are at most 10000".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Parsed::Run(o) => Ok(*o),
            Parsed::Help => panic!("help"),
        }
    }

    #[test]
    fn versus_takes_a_second_command_and_rounds() {
        let o = run(&["--broker-cmd", "a", "--versus-cmd", "b c"]).unwrap();
        assert_eq!((o.versus.as_deref(), o.rounds), (Some("b c"), 3));
        let o = run(&["--broker-cmd", "a", "--versus-cmd", "b", "--rounds", "5"]).unwrap();
        assert_eq!(o.rounds, 5);
        assert_eq!(run(&["--bootstrap", "127.0.0.1:1"]).unwrap().versus, None);
    }

    #[test]
    fn defaults_and_quick() {
        let o = run(&["--bootstrap", "127.0.0.1:9999"]).unwrap();
        assert_eq!(
            o.target,
            Target::Bootstrap("127.0.0.1:9999".parse().unwrap())
        );
        assert_eq!(o.modes, Mode::DEFAULT);
        assert_eq!(o.create_topics, 10_000);
        assert_eq!(o.compression, [Codec::None]);
        assert_eq!(o.duration, Duration::from_secs(10));
        assert_eq!((o.value_size, o.inflight, o.batch), (100, 8, 100));
        assert_eq!(o.connections, [1, 4]);
        assert_eq!(o.partitions, [1]);
        assert_eq!(
            (
                o.idle_connections,
                o.memory_partitions,
                o.starts,
                o.restart_partitions
            ),
            (0, 0, 0, 0)
        );
        assert_eq!(o.fetch_max_bytes, 1 << 20);
        assert_eq!(o.txn_records, [100, 10_000]);
        assert_eq!((o.compaction_bytes, o.compaction_keys), (1 << 30, 10_000));
        assert_eq!(o.compaction_duration, Duration::from_secs(600));
        assert_eq!((o.compaction_rate, o.segment_bytes), (1_000, None));
        assert_eq!(o.cleaner_backoff, Duration::from_secs(15));
        assert_eq!(o.dirty_ratio, None);
        let q = run(&["--quick", "--broker-cmd", "b --port {port}"]).unwrap();
        assert_eq!(q.duration, Duration::from_secs(2));
        assert_eq!(q.target, Target::Command("b --port {port}".into()));
        assert_eq!(q.compaction_bytes, 64 << 20);
        assert_eq!(q.compaction_duration, Duration::from_secs(5));
        let d = run(&["--quick", "--bootstrap=127.0.0.1:1", "--duration=0.5"]).unwrap();
        assert_eq!(d.duration, Duration::from_millis(500));
    }

    #[test]
    fn every_run_and_load_option() {
        let o = run(&[
            "--bootstrap",
            "127.0.0.1:1",
            "--modes",
            "fetch, floor,txn,fetch-committed",
            "--requests",
            "50",
            "--value-size",
            "0",
            "--connections",
            "2,3",
            "--inflight",
            "1",
            "--batch",
            "7",
            "--fetch-max-bytes",
            "4096",
            "--e2e-rate",
            "10",
            "--json",
            "out.json",
            "--partitions",
            "1,100",
            "--create-topics",
            "500",
            "--compression",
            "none, zstd",
            "--txn-records",
            "7,700",
        ])
        .unwrap();
        assert_eq!(o.compression, [Codec::None, Codec::Zstd]);
        assert_eq!(o.txn_records, [7, 700]);
        assert_eq!(o.partitions, [1, 100]);
        assert_eq!(o.create_topics, 500);
        assert_eq!(
            o.modes,
            [Mode::Fetch, Mode::Floor, Mode::Txn, Mode::FetchCommitted]
        );
        assert_eq!(o.requests, Some(50));
        assert_eq!((o.value_size, o.inflight, o.batch), (0, 1, 7));
        assert_eq!(o.connections, [2, 3]);
        assert_eq!((o.fetch_max_bytes, o.e2e_rate), (4096, 10));
        assert_eq!(o.json, Some(PathBuf::from("out.json")));
    }

    #[test]
    fn every_broker_and_compaction_option() {
        let o = run(&[
            "--bootstrap",
            "127.0.0.1:1",
            "--idle-secs",
            "0",
            "--idle-connections",
            "100",
            "--memory-partitions",
            "1000",
            "--starts",
            "20",
            "--restart-partitions",
            "1000",
            "--compaction-bytes",
            "2MiB",
            "--compaction-keys",
            "50",
            "--compaction-secs",
            "1.5",
            "--compaction-rate",
            "200",
            "--segment-bytes",
            "4096",
            "--cleaner-backoff-ms",
            "1500",
            "--min-cleanable-dirty-ratio",
            "0.1",
        ])
        .unwrap();
        assert_eq!((o.compaction_bytes, o.compaction_keys), (2 << 20, 50));
        assert_eq!(o.compaction_duration, Duration::from_millis(1500));
        assert_eq!((o.compaction_rate, o.segment_bytes), (200, Some(4096)));
        assert_eq!(o.cleaner_backoff, Duration::from_millis(1500));
        assert_eq!(o.dirty_ratio, Some(0.1));
        assert_eq!(
            (
                o.idle_connections,
                o.memory_partitions,
                o.starts,
                o.restart_partitions
            ),
            (100, 1000, 20, 1000)
        );
        assert_eq!(o.idle, Duration::ZERO);
    }

    #[test]
    fn mistakes_are_usage_errors() {
        for bad in [
            &["--modes", "produce"][..],
            &["--bootstrap", "127.0.0.1:1", "--modes", "nope"],
            &["--bootstrap", "127.0.0.1:1", "--inflight", "0"],
            &["--bootstrap", "127.0.0.1:1", "--duration", "-1"],
            &["--bootstrap", "127.0.0.1:1", "--batch"],
            &["--bootstrap", "127.0.0.1:1", "--frobnicate", "1"],
            &["--bootstrap", "127.0.0.1:1", "stray"],
            &[
                "--bootstrap",
                "127.0.0.1:1",
                "--fetch-max-bytes",
                "3000000000",
            ],
            &["--bootstrap", "127.0.0.1:1", "--connections", "1,99999"],
            &["--bootstrap", "127.0.0.1:1", "--partitions", "0"],
            &["--bootstrap", "127.0.0.1:1", "--versus-cmd", "b"],
            &["--broker-cmd", "a", "--versus-cmd", "b", "--rounds", "0"],
            &["--bootstrap", "127.0.0.1:1", "--partitions", "200000"],
            &["--bootstrap", "127.0.0.1:1", "--idle-connections", "-1"],
            &["--bootstrap", "127.0.0.1:1", "--txn-records", "150"],
            &["--bootstrap", "127.0.0.1:1", "--txn-records", "0"],
            &["--bootstrap", "127.0.0.1:1", "--compaction-bytes", "1TB"],
            &["--bootstrap", "127.0.0.1:1", "--compaction-bytes", "0MiB"],
            &[
                "--bootstrap",
                "127.0.0.1:1",
                "--segment-bytes",
                "99999999999GiB",
            ],
            &["--bootstrap", "127.0.0.1:1", "--compaction-keys", "0"],
            &[
                "--bootstrap",
                "127.0.0.1:1",
                "--cleaner-backoff-ms",
                "3600001",
            ],
            &[
                "--bootstrap",
                "127.0.0.1:1",
                "--fetch-max-bytes",
                "600000000",
            ],
        ] {
            assert!(matches!(run(bad), Err(BenchError::Usage(_))), "{bad:?}");
        }
        assert_eq!(parse(["--help".to_string()]).unwrap(), Parsed::Help);
    }
}
