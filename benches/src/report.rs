//! The results as a compact table per mode and as JSON (written by hand: a few objects, no
//! serialisation framework).

use std::fmt::Write as _;
use std::time::Duration;

use crate::args::Mode;
use crate::lifecycle::{Lifecycle, Spread};
use crate::modes::RunResult;
use crate::procfs::Memory;
use crate::stats::{QUANTILES, Summary};

/// CPU use of an idle broker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IdleCpu {
    /// How long it was watched.
    pub secs: f64,
    /// User plus system clock ticks in that time.
    pub ticks: u64,
    /// Ticks as a share of one core over that time.
    pub percent: f64,
}

/// The broker's `Anonymous` memory before and after adding `count` of something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerUnit {
    /// How many were added.
    pub count: usize,
    /// `Anonymous` before, in KiB.
    pub before_kib: u64,
    /// `Anonymous` after, in KiB.
    pub after_kib: u64,
}

impl PerUnit {
    /// Bytes per unit added (0 when memory did not grow).
    pub fn bytes_each(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 * 1024.0 / self.count.max(1) as f64
    }
}

/// What the tool learnt about a broker it started (all `None` for `--bootstrap`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrokerReport {
    /// The command line, after substitution.
    pub command: Option<String>,
    /// Where it listened.
    pub address: String,
    /// Spawn to first ApiVersions answer.
    pub startup: Option<Duration>,
    /// CPU while idle, after start.
    pub idle_cpu: Option<IdleCpu>,
    /// CPU while idle, after every run.
    pub idle_cpu_after_load: Option<IdleCpu>,
    /// Memory for the idle connections held open.
    pub idle_connections: Option<PerUnit>,
    /// Memory for the partitions of an empty topic.
    pub partitions: Option<PerUnit>,
    /// Memory once started (after the idle measurement).
    pub memory_after_start: Option<Memory>,
    /// Memory after every run.
    pub memory_after_load: Option<Memory>,
    /// Size of the binary.
    pub binary_bytes: Option<u64>,
    /// Exit code after SIGTERM (`Some(None)`: killed by a signal).
    pub exit_code: Option<Option<i32>>,
    /// From SIGTERM to the exit.
    pub exit_after: Option<Duration>,
    /// Extra starts and restarts.
    pub lifecycle: Option<Lifecycle>,
}

/// Everything one invocation measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// The broker.
    pub broker: BrokerReport,
    /// The runs, in order.
    pub runs: Vec<RunResult>,
}

/// A number in a few significant digits.
fn num(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Megabytes (10^6 bytes) per second.
fn mb_per_s(r: &RunResult) -> f64 {
    r.rate(r.bytes) / 1e6
}

impl Report {
    /// The floor's latencies, if a floor ran.
    pub fn floor(&self) -> Option<&Summary> {
        self.runs
            .iter()
            .find(|r| r.mode == Mode::Floor)
            .map(|r| &r.latency)
    }

    /// The table: broker facts, then one section per mode with a `x floor` row under each run
    /// when a floor ran.
    pub fn table(&self) -> String {
        let mut out = String::new();
        self.broker_lines(&mut out);
        let label_width = self
            .runs
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(0)
            .max(8);
        let mut modes: Vec<Mode> = Vec::new();
        for r in &self.runs {
            if !modes.contains(&r.mode) {
                modes.push(r.mode);
            }
        }
        for mode in modes {
            let _ = writeln!(out, "\n== {} ==", mode.name());
            let mut header = format!(
                "{:<label_width$} {:>9} {:>9} {:>10} {:>8}",
                "run", "requests", "req/s", "records/s", "MB/s"
            );
            for (name, _) in QUANTILES {
                let _ = write!(header, " {:>8}", format!("{name} us"));
            }
            let _ = writeln!(out, "{header} {:>8}", "max us");
            for r in self.runs.iter().filter(|r| r.mode == mode) {
                self.run_lines(&mut out, r, label_width);
            }
        }
        out
    }

    fn broker_lines(&self, out: &mut String) {
        let b = &self.broker;
        let _ = writeln!(
            out,
            "broker: {}",
            b.command.as_deref().unwrap_or(&b.address)
        );
        if let Some(s) = b.startup {
            let _ = writeln!(
                out,
                "  startup (spawn to first ApiVersions answer): {:.1} ms",
                s.as_secs_f64() * 1e3
            );
        }
        Self::resource_lines(b, out);
        if let Some(code) = b.exit_code {
            let code = code.map_or("killed by a signal".to_string(), |c| c.to_string());
            let after = b.exit_after.map_or(String::new(), |d| {
                format!(" in {:.1} ms", d.as_secs_f64() * 1e3)
            });
            let _ = writeln!(out, "  exit after SIGTERM: {code}{after}");
        }
        if let Some(l) = &b.lifecycle {
            Self::lifecycle_lines(l, out);
        }
    }

    /// Idle CPU, memory and binary size.
    fn resource_lines(b: &BrokerReport, out: &mut String) {
        for (when, idle) in [("start", b.idle_cpu), ("load", b.idle_cpu_after_load)] {
            if let Some(i) = idle {
                let _ = writeln!(
                    out,
                    "  idle CPU after {when} over {:.1} s: {} ticks ({:.2}% of a core)",
                    i.secs, i.ticks, i.percent
                );
            }
        }
        for (what, unit) in [
            ("idle connection", b.idle_connections),
            ("partition", b.partitions),
        ] {
            if let Some(u) = unit {
                let _ = writeln!(
                    out,
                    "  memory per {what}: {} B (Anonymous {} -> {} KiB over {})",
                    num(u.bytes_each()),
                    u.before_kib,
                    u.after_kib,
                    u.count
                );
            }
        }
        for (when, m) in [
            ("start", b.memory_after_start),
            ("load", b.memory_after_load),
        ] {
            if let Some(m) = m {
                let _ = writeln!(
                    out,
                    "  memory after {when}: Anonymous {} KiB, VmRSS {} KiB",
                    m.anonymous_kib, m.rss_kib
                );
            }
        }
        if let Some(n) = b.binary_bytes {
            let _ = writeln!(
                out,
                "  binary size: {n} bytes ({:.1} MiB)",
                n as f64 / 1048576.0
            );
        }
    }

    /// Startup and exit times over repeated restarts.
    fn lifecycle_lines(l: &Lifecycle, out: &mut String) {
        let ms = |s: &Spread| {
            format!(
                "median {:.2} ms, min {:.2}, max {:.2} over {}",
                s.median.as_secs_f64() * 1e3,
                s.min.as_secs_f64() * 1e3,
                s.max.as_secs_f64() * 1e3,
                s.n
            )
        };
        if let Some(s) = &l.startup_empty {
            let _ = writeln!(out, "  startup, empty data dir: {}", ms(s));
        }
        if let Some(s) = &l.exit {
            let _ = writeln!(out, "  SIGTERM to exit, idle: {}", ms(s));
        }
        if let Some(s) = &l.startup_with_data {
            let _ = writeln!(
                out,
                "  startup, {} partitions with data: {}",
                l.restart_partitions,
                ms(s)
            );
        }
        if let Some(s) = &l.exit_with_data {
            let _ = writeln!(
                out,
                "  SIGTERM to exit, a batch just written to each of {} partitions: {}",
                l.restart_partitions,
                ms(s)
            );
        }
        if l.unclean_exits > 0 {
            let _ = writeln!(out, "  exits other than 0: {}", l.unclean_exits);
        }
    }

    fn run_lines(&self, out: &mut String, r: &RunResult, label_width: usize) {
        let mut line = format!(
            "{:<label_width$} {:>9} {:>9} {:>10} {:>8}",
            r.label,
            r.requests,
            num(r.rate(r.requests)),
            num(r.rate(r.records)),
            num(mb_per_s(r)),
        );
        for q in r.latency.quantiles_us {
            let _ = write!(line, " {:>8}", num(q));
        }
        let _ = writeln!(out, "{line} {:>8}", num(r.latency.max_us));
        if let Some(floor) = self.floor().filter(|_| r.mode != Mode::Floor) {
            let mut ratios = format!("{:<w$}", "  x floor", w = label_width + 40);
            for ratio in r.latency.ratios_to(floor) {
                let _ = write!(
                    ratios,
                    " {:>8}",
                    ratio.map_or("-".into(), |x| format!("{}x", num(x)))
                );
            }
            let _ = writeln!(out, "{ratios}");
        }
        if let Some(cpu) = r.broker_cpu_us_per_request {
            let whose = match r.mode {
                Mode::Floor => "echo server",
                _ => "broker",
            };
            let floor_cpu = self
                .runs
                .iter()
                .find(|f| f.mode == Mode::Floor && r.mode != Mode::Floor)
                .and_then(|f| f.broker_cpu_us_per_request)
                .filter(|&f| f > 0.0);
            let versus = floor_cpu.map_or(String::new(), |f| {
                format!(" ({}x the echo server's)", num(cpu / f))
            });
            let _ = writeln!(out, "  {whose} CPU per request: {} us{versus}", num(cpu));
        }
        for note in &r.notes {
            let _ = writeln!(out, "  {note}");
        }
    }

    /// The report as one JSON object.
    pub fn json(&self) -> String {
        let floor = self.floor();
        let runs = self
            .runs
            .iter()
            .map(|r| {
                let ratios = floor.filter(|_| r.mode != Mode::Floor).map(|f| {
                    let names = QUANTILES.iter().map(|(n, _)| *n).chain(["max"]);
                    Json::Obj(
                        names
                            .zip(r.latency.ratios_to(f))
                            .map(|(n, x)| (n.to_string(), x.map_or(Json::Null, Json::Num)))
                            .collect(),
                    )
                });
                Json::obj([
                    ("mode", Json::Str(r.mode.name().into())),
                    ("label", Json::Str(r.label.clone())),
                    ("elapsed_s", Json::Num(r.elapsed.as_secs_f64())),
                    ("requests", Json::Num(r.requests as f64)),
                    ("records", Json::Num(r.records as f64)),
                    ("bytes", Json::Num(r.bytes as f64)),
                    ("requests_per_s", Json::Num(r.rate(r.requests))),
                    ("records_per_s", Json::Num(r.rate(r.records))),
                    ("mb_per_s", Json::Num(mb_per_s(r))),
                    ("latency_us", latency_json(&r.latency)),
                    ("floor_ratio", ratios.unwrap_or(Json::Null)),
                    (
                        "broker_cpu_us_per_request",
                        opt_num(r.broker_cpu_us_per_request),
                    ),
                    (
                        "notes",
                        Json::Arr(r.notes.iter().cloned().map(Json::Str).collect()),
                    ),
                ])
            })
            .collect();
        Json::obj([
            ("tool", Json::Str("blazemq-bench".into())),
            ("version", Json::Str(env!("CARGO_PKG_VERSION").into())),
            ("broker", self.broker_json()),
            ("runs", Json::Arr(runs)),
        ])
        .to_string()
    }

    fn broker_json(&self) -> Json {
        let b = &self.broker;
        let memory = |m: Option<Memory>| {
            m.map_or(Json::Null, |m| {
                Json::obj([
                    ("anonymous_kib", Json::Num(m.anonymous_kib as f64)),
                    ("rss_kib", Json::Num(m.rss_kib as f64)),
                ])
            })
        };
        Json::obj([
            ("command", b.command.clone().map_or(Json::Null, Json::Str)),
            ("address", Json::Str(b.address.clone())),
            (
                "startup_ms",
                opt_num(b.startup.map(|d| d.as_secs_f64() * 1e3)),
            ),
            ("idle_cpu", idle_json(b.idle_cpu)),
            ("idle_cpu_after_load", idle_json(b.idle_cpu_after_load)),
            ("idle_connections", per_unit_json(b.idle_connections)),
            ("partitions_memory", per_unit_json(b.partitions)),
            ("memory_after_start", memory(b.memory_after_start)),
            ("memory_after_load", memory(b.memory_after_load)),
            ("binary_bytes", opt_num(b.binary_bytes.map(|n| n as f64))),
            ("exit_code", opt_num(b.exit_code.flatten().map(f64::from))),
            (
                "exit_ms",
                opt_num(b.exit_after.map(|d| d.as_secs_f64() * 1e3)),
            ),
            (
                "lifecycle",
                b.lifecycle.as_ref().map_or(Json::Null, lifecycle_json),
            ),
        ])
    }
}

fn idle_json(idle: Option<IdleCpu>) -> Json {
    idle.map_or(Json::Null, |i| {
        Json::obj([
            ("secs", Json::Num(i.secs)),
            ("ticks", Json::Num(i.ticks as f64)),
            ("percent_of_core", Json::Num(i.percent)),
        ])
    })
}

fn per_unit_json(unit: Option<PerUnit>) -> Json {
    unit.map_or(Json::Null, |u| {
        Json::obj([
            ("count", Json::Num(u.count as f64)),
            ("anonymous_before_kib", Json::Num(u.before_kib as f64)),
            ("anonymous_after_kib", Json::Num(u.after_kib as f64)),
            ("bytes_each", Json::Num(u.bytes_each())),
        ])
    })
}

fn spread_json(s: Option<Spread>) -> Json {
    let ms = |d: Duration| Json::Num(d.as_secs_f64() * 1e3);
    s.map_or(Json::Null, |s| {
        Json::obj([
            ("n", Json::Num(s.n as f64)),
            ("median_ms", ms(s.median)),
            ("min_ms", ms(s.min)),
            ("max_ms", ms(s.max)),
        ])
    })
}

fn lifecycle_json(l: &Lifecycle) -> Json {
    Json::obj([
        ("startup_empty", spread_json(l.startup_empty)),
        ("exit", spread_json(l.exit)),
        ("unclean_exits", Json::Num(l.unclean_exits as f64)),
        ("restart_partitions", Json::Num(l.restart_partitions as f64)),
        ("startup_with_data", spread_json(l.startup_with_data)),
        ("exit_with_data", spread_json(l.exit_with_data)),
    ])
}

fn opt_num(v: Option<f64>) -> Json {
    v.map_or(Json::Null, Json::Num)
}

fn latency_json(s: &Summary) -> Json {
    let mut fields: Vec<(String, Json)> = QUANTILES
        .iter()
        .zip(s.quantiles_us)
        .map(|((n, _), v)| (n.to_string(), Json::Num(v)))
        .collect();
    fields.push(("max".into(), Json::Num(s.max_us)));
    fields.push(("count".into(), Json::Num(s.count as f64)));
    Json::Obj(fields)
}

/// A JSON value; `Display` writes it compactly.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// A number; not finite ones are written as `null`, which JSON has instead.
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, fields in order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An object from `(name, value)` pairs.
    pub fn obj<const N: usize>(fields: [(&str, Json); N]) -> Json {
        Json::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}

fn write_str(f: &mut std::fmt::Formatter<'_>, s: &str) -> std::fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Num(v) if v.is_finite() => write!(f, "{v}"),
            Json::Num(_) => f.write_str("null"),
            Json::Str(s) => write_str(f, s),
            Json::Arr(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Json::Obj(fields) => {
                f.write_char('{')?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write_str(f, k)?;
                    write!(f, ":{v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Latencies;

    #[test]
    fn json_escapes_and_numbers() {
        let j = Json::obj([
            ("s", Json::Str("a\"b\\c\nd\u{1}é".into())),
            ("n", Json::Num(1.5)),
            ("i", Json::Num(3.0)),
            ("nan", Json::Num(f64::NAN)),
            ("a", Json::Arr(vec![Json::Null, Json::Arr(vec![])])),
        ]);
        assert_eq!(
            j.to_string(),
            r#"{"s":"a\"b\\c\nd\u0001é","n":1.5,"i":3,"nan":null,"a":[null,[]]}"#
        );
    }

    fn run(mode: Mode, us: u64) -> RunResult {
        let mut l = Latencies::new();
        l.record(Duration::from_micros(us));
        RunResult {
            mode,
            label: format!("{} run", mode.name()),
            elapsed: Duration::from_secs(2),
            requests: 10,
            records: 1000,
            bytes: 4_000_000,
            latency: l.summary(),
            broker_cpu_us_per_request: match mode {
                Mode::Produce => Some(12.5),
                Mode::Floor => Some(4.0),
                _ => None,
            },
            notes: vec!["checked".into()],
        }
    }

    #[test]
    fn table_and_json_carry_every_run_and_the_floor_ratio() {
        let report = Report {
            broker: BrokerReport {
                command: Some("blazemq --port 1".into()),
                startup: Some(Duration::from_millis(12)),
                exit_code: Some(Some(0)),
                exit_after: Some(Duration::from_millis(3)),
                idle_connections: Some(PerUnit {
                    count: 100,
                    before_kib: 500,
                    after_kib: 600,
                }),
                lifecycle: Some(Lifecycle {
                    startup_empty: Spread::of(vec![Duration::from_micros(700)]),
                    ..Default::default()
                }),
                ..Default::default()
            },
            runs: vec![run(Mode::Floor, 10), run(Mode::Produce, 30)],
        };
        let table = report.table();
        assert!(table.contains("== floor =="), "{table}");
        assert!(table.contains("== produce =="), "{table}");
        assert!(table.contains("x floor"), "{table}");
        assert!(table.contains("3.00x"), "{table}");
        assert!(
            table.contains("broker CPU per request: 12.5 us (3.12x the echo server's)"),
            "{table}"
        );
        assert!(
            table.contains("echo server CPU per request: 4.00 us"),
            "{table}"
        );
        assert!(table.contains("startup"), "{table}");
        assert!(table.contains("exit after SIGTERM: 0 in 3.0 ms"), "{table}");
        assert!(
            table.contains("memory per idle connection: 1024 B"),
            "{table}"
        );
        assert!(
            table.contains("startup, empty data dir: median 0.70 ms"),
            "{table}"
        );
        let json = report.json();
        assert!(json.contains(r#""mode":"produce""#), "{json}");
        assert!(json.contains(r#""records_per_s":500"#), "{json}");
        assert!(json.contains(r#""mb_per_s":2"#), "{json}");
        assert!(json.contains(r#""floor_ratio":{"p50":2.99"#), "{json}");
        assert!(
            json.contains(r#""floor_ratio":null"#),
            "none for the floor itself"
        );
        assert!(json.contains(r#""startup_ms":12"#), "{json}");
        assert!(json.contains(r#""exit_code":0"#), "{json}");
        assert!(json.contains(r#""bytes_each":1024"#), "{json}");
        assert!(
            json.contains(r#""startup_empty":{"n":1,"median_ms":0.7"#),
            "{json}"
        );
    }
}
