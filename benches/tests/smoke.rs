//! `blazemq-bench --quick` against the debug broker: every mode runs, the counts it checks hold,
//! and the numbers it reports are sane. Timings are never asserted, only that they exist.
//!
//! The broker binary is `target/debug/blazemq` (`cargo build -p blazemq` first); without it the
//! test says so and passes (it fails under CI), since this crate cannot build another crate's
//! binary.
// The workspace lint steers no_std-capable code to `core`; this code is std by nature.
#![allow(clippy::std_instead_of_core)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the benches crate sits in the workspace")
        .to_path_buf()
}

/// The value after `"key":` in compact JSON, up to the next `,` or `}`.
fn field<'a>(json: &'a str, key: &str) -> Vec<&'a str> {
    let pat = format!("\"{key}\":");
    json.match_indices(&pat)
        .map(|(i, _)| {
            let rest = &json[i + pat.len()..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// The non-null values of `key`, as numbers.
fn numbers(json: &str, key: &str) -> Vec<f64> {
    field(json, key)
        .into_iter()
        .filter(|v| *v != "null")
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{key} is a number: {v}"))
        })
        .collect()
}

#[test]
fn quick_run_against_the_debug_broker() {
    let broker = workspace_root().join("target/debug/blazemq");
    if !broker.is_file() {
        // CI builds the broker before the tests; a developer may run this crate's tests alone.
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is not built",
            broker.display()
        );
        eprintln!("skipped: {} is not built", broker.display());
        return;
    }
    let (stdout, json) = quick_run(&broker);
    check_runs(&stdout, &json);
    check_broker_facts(&json);
}

/// Runs `blazemq-bench --quick` briefly against `broker`, which must succeed; returns its table
/// and its JSON report.
fn quick_run(broker: &Path) -> (String, String) {
    let json_path =
        std::env::temp_dir().join(format!("blazemq-bench-smoke-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_blazemq-bench"))
        .args([
            "--quick",
            "--duration",
            "1",
            "--idle-secs",
            "0.5",
            "--connections",
            "2",
            "--partitions",
            "3",
            "--idle-connections",
            "2",
            "--starts",
            "1",
            "--broker-cmd",
            &format!("{} --port {{port}} --log-dir {{dir}}", broker.display()),
            "--json",
        ])
        .arg(&json_path)
        .output()
        .expect("blazemq-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let json = std::fs::read_to_string(&json_path).expect("the JSON report is written");
    let _ = std::fs::remove_file(&json_path);
    (stdout, json)
}

/// Every mode ran, checked its counts, and reported sane figures, with ratios to the floor.
fn check_runs(stdout: &str, json: &str) {
    for mode in ["floor", "produce", "throughput", "fetch", "e2e"] {
        assert!(
            stdout.contains(&format!("== {mode} ==")),
            "{mode} in the table:\n{stdout}"
        );
    }
    assert!(stdout.contains("x floor"), "ratios to the floor:\n{stdout}");
    assert!(stdout.contains("count checked"), "{stdout}");
    assert_eq!(field(json, "mode").len(), 5, "one run per mode:\n{json}");
    for requests in numbers(json, "requests") {
        assert!(requests >= 1.0, "every run made requests:\n{json}");
    }
    for key in ["p50", "p99", "max"] {
        // Latencies of every run, plus the floor ratios of the four broker runs.
        let values = numbers(json, key);
        assert_eq!(values.len(), 5 + 4, "{key}:\n{json}");
        assert!(values.iter().all(|v| *v > 0.0), "{key} positive:\n{json}");
    }
    let (p50, max) = (numbers(json, "p50"), numbers(json, "max"));
    assert!(p50[0] <= max[0], "p50 at most max:\n{json}");
    assert!(
        numbers(json, "records_per_s")
            .iter()
            .skip(1)
            .all(|r| *r > 0.0)
    );
    assert!(
        stdout.contains(", 3 part"),
        "the partition count:\n{stdout}"
    );
    assert_eq!(
        numbers(json, "broker_cpu_us_per_request").len(),
        2,
        "the floor reports its echo server's CPU and the produce run the broker's"
    );
    assert!(
        stdout.contains("echo server CPU per request") && stdout.contains("x the echo server's"),
        "CPU per request against the floor's:\n{stdout}"
    );
}

/// The facts of the broker the tool started: startup, memory, size, a clean exit, idle CPU.
fn check_broker_facts(json: &str) {
    assert!(numbers(json, "startup_ms")[0] > 0.0);
    assert!(numbers(json, "anonymous_kib").iter().all(|k| *k > 0.0));
    assert!(numbers(json, "binary_bytes")[0] > 0.0);
    assert_eq!(field(json, "exit_code"), ["0"], "a clean exit on SIGTERM");
    assert_eq!(numbers(json, "exit_ms").len(), 1, "{json}");
    for part in [
        r#""idle_connections":{"count":2,"#,
        r#""startup_empty":{"n":1,"#,
        r#""idle_cpu_after_load":{"#,
    ] {
        assert!(json.contains(part), "{part} in:\n{json}");
    }
}

#[test]
fn a_bad_command_line_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_blazemq-bench"))
        .args(["--modes", "nope", "--bootstrap", "127.0.0.1:1"])
        .output()
        .expect("blazemq-bench runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown mode"));
}

#[test]
fn an_unreachable_broker_fails_cleanly() {
    // Port 1 on loopback: nothing listens, the connect is refused at once.
    let out = Command::new(env!("CARGO_BIN_EXE_blazemq-bench"))
        .args([
            "--modes",
            "produce",
            "--bootstrap",
            "127.0.0.1:1",
            "--quick",
        ])
        .output()
        .expect("blazemq-bench runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("blazemq-bench:"));
}

/// The transaction modes: committed transactions of two sizes beside plain batches, and a fill
/// of commits read at both isolation levels with every count checked. Against the broker in
/// BLAZEMQ_BOOTSTRAP when set (e.g. Kafka from scripts/kafka-reference.sh), else the debug one.
#[test]
fn transaction_modes_commit_and_read_back_every_record() {
    let target = match std::env::var("BLAZEMQ_BOOTSTRAP") {
        Ok(addr) => vec!["--bootstrap".to_string(), addr],
        Err(_) => {
            let broker = workspace_root().join("target/debug/blazemq");
            if !broker.is_file() {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{} is not built",
                    broker.display()
                );
                eprintln!("skipped: {} is not built", broker.display());
                return;
            }
            vec![
                "--broker-cmd".to_string(),
                format!("{} --port {{port}} --log-dir {{dir}}", broker.display()),
            ]
        }
    };
    let json_path =
        std::env::temp_dir().join(format!("blazemq-bench-txn-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_blazemq-bench"))
        .args([
            "--modes",
            "txn,fetch-committed",
            "--quick",
            "--duration",
            "1",
            "--idle-secs",
            "0",
            "--txn-records",
            "100,1000",
            "--json",
        ])
        .arg(&json_path)
        .args(&target)
        .output()
        .expect("blazemq-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    for part in [
        "== txn ==",
        "non-transactional, 1 conn x 8 in flight x 100 x 100 B",
        "txn of 100 records",
        "txn of 1000 records",
        "x non-transactional records/s: ",
        "== fetch-committed ==",
        "x read_uncommitted records/s: ",
        "no aborted transaction listed",
    ] {
        assert!(stdout.contains(part), "{part} in:\n{stdout}");
    }
    let json = std::fs::read_to_string(&json_path).expect("the JSON report is written");
    let _ = std::fs::remove_file(&json_path);
    // txn: the plain run and one per size; fetch-committed: two levels per size.
    assert_eq!(field(&json, "mode").len(), 3 + 2 * 2, "{json}");
    let records = numbers(&json, "records");
    assert!(records.iter().all(|r| *r >= 100.0), "{json}");
    // Whole transactions only.
    assert_eq!(records[1] % 100.0, 0.0, "{json}");
    assert_eq!(records[2] % 1000.0, 0.0, "{json}");
    assert!(numbers(&json, "records_per_s").iter().all(|r| *r > 0.0));
}

/// The compaction modes: a backlog cleaned while a producer measures, beside the same backlog
/// held; and a compacted topic's size against its live data.
#[test]
fn compaction_modes_clean_the_backlog_and_size_the_log() {
    let broker = workspace_root().join("target/debug/blazemq");
    if !broker.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is not built",
            broker.display()
        );
        eprintln!("skipped: {} is not built", broker.display());
        return;
    }
    let json_path = std::env::temp_dir().join(format!(
        "blazemq-bench-compaction-{}.json",
        std::process::id()
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_blazemq-bench"))
        .args([
            "--modes",
            "compaction,compaction-disk",
            "--quick",
            "--idle-secs",
            "0",
            "--compaction-bytes",
            "4MiB",
            "--segment-bytes",
            "1MiB",
            "--cleaner-backoff-ms",
            "500",
            "--compaction-secs",
            "2",
            "--json",
        ])
        .arg(&json_path)
        .arg("--broker-cmd")
        .arg(format!(
            "{} --port {{port}} --log-dir {{dir}} --log-cleaner-backoff-ms 500",
            broker.display()
        ))
        .output()
        .expect("blazemq-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    for part in [
        "== compaction ==",
        "MB of 10000 keys x 100 B per topic",
        "while the cleaner compacts the other topic",
        "look at 0.50 s after min.compaction.lag.ms=0",
        "MB/s of log cleaned",
        "x cleaner idle: p50 ",
        "== compaction-disk ==",
        "live data: 10000 keys in",
    ] {
        assert!(stdout.contains(part), "{part} in:\n{stdout}");
    }
    assert!(!stdout.contains("shrank again"), "{stdout}");
    let json = std::fs::read_to_string(&json_path).expect("the JSON report is written");
    std::fs::remove_file(&json_path).expect("the JSON report removed");
    assert_eq!(field(&json, "mode").len(), 3, "{json}");
    // Requests with the cleaner idle, within the cleaning window, and the steady updates.
    assert!(
        numbers(&json, "requests").iter().all(|r| *r > 0.0),
        "{json}"
    );
}
