//! The `blazemq` binary end to end: start on a free port with a fresh data directory, serve a
//! hand-built ApiVersions request, stop on SIGTERM, refuse bad configuration.
#![allow(clippy::std_instead_of_core)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, BIN, Broker, READY_LINE, connect, free_port};

fn command(dir: &Path, port: u16) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["--port", &port.to_string(), "--log-dir"])
        .arg(dir)
        .args(["--segment-size", "1MiB"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Start the broker and wait (bounded) for its ready line.
fn start(dir: &Path) -> Broker {
    start_with(dir, &[])
}

fn start_with(dir: &Path, args: &[&str]) -> Broker {
    support::start(dir, &[&["--segment-size", "1MiB"], args].concat()).0
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

fn wait_within(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// ApiVersions v0: size, api key 18, version 0, correlation id, client id; empty body.
fn api_versions_v0(correlation_id: i32) -> Vec<u8> {
    let client_id = b"binary-test";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// One response frame: its correlation id and the rest of its body.
fn read_response(stream: &mut TcpStream) -> (i32, Vec<u8>) {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("response size");
    let size = i32::from_be_bytes(size);
    assert!((4..1 << 20).contains(&size), "implausible size {size}");
    let mut body = vec![0u8; size as usize];
    stream.read_exact(&mut body).expect("response body");
    let correlation_id = i32::from_be_bytes(body[..4].try_into().expect("4 bytes"));
    (correlation_id, body[4..].to_vec())
}

#[test]
fn serves_api_versions_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut broker = start(dir.path());
    assert!(
        broker.banner.contains(env!("CARGO_PKG_VERSION")),
        "{}",
        broker.banner
    );
    assert!(broker.banner.contains(&format!(":{}", broker.port)));
    assert!(broker.banner.contains("advertised  127.0.0.1"));
    assert!(broker.banner.contains("1 MiB"));

    // Needs the broker's ApiVersions handler in core.
    let mut stream = connect(broker.port);
    stream.write_all(&api_versions_v0(0x5eed)).expect("send");
    let (correlation_id, body) = read_response(&mut stream);
    assert_eq!(correlation_id, 0x5eed);
    assert_eq!(&body[..2], &[0, 0], "error code NONE");

    // Pipelined requests, split at awkward places, are answered in order.
    let mut bytes = Vec::new();
    for id in 1..=3 {
        bytes.extend_from_slice(&api_versions_v0(id));
    }
    for piece in bytes.chunks(7) {
        stream.write_all(piece).expect("send piece");
        stream.flush().expect("flush");
    }
    for id in 1..=3 {
        assert_eq!(read_response(&mut stream).0, id);
    }

    sigterm(&broker.child);
    let status = wait_within(&mut broker.child, Duration::from_secs(1));
    assert!(status.success(), "{status:?}");
    assert!(dir.path().join(".clean_shutdown").exists());
    let meta = std::fs::read_to_string(dir.path().join("meta.properties")).expect("meta");
    let cluster_id = meta
        .lines()
        .find_map(|l| l.strip_prefix("cluster.id="))
        .expect("a cluster id")
        .to_owned();
    assert_eq!(cluster_id.len(), 22);

    // A restart finds the marker, consumes it, and keeps the cluster id.
    let restarted = start(dir.path());
    assert!(
        restarted.banner.contains("clean restart"),
        "{}",
        restarted.banner
    );
    assert!(restarted.banner.contains(&cluster_id));
    assert!(!dir.path().join(".clean_shutdown").exists());
}

#[test]
fn a_second_broker_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = start(dir.path());
    let output = command(dir.path(), free_port())
        .output()
        .expect("run second broker");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another broker"), "{stderr}");
}

#[cfg(target_os = "linux")]
#[test]
fn idle_broker_uses_no_cpu() {
    fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = start(dir.path());
    let _idle_client = connect(broker.port);
    std::thread::sleep(Duration::from_millis(200));
    let before = cpu_ticks(broker.child.id());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(broker.child.id()) - before;
    // Clock ticks are 10 ms: a busy loop would use about 100.
    assert!(used <= 2, "{used} ticks in an idle second");
}

fn run_to_exit(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run blazemq")
}

#[test]
fn bad_configuration_exits_2_naming_the_setting_before_touching_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 temp path");

    let output = run_to_exit(&["--port", "abc", "--log-dir", data_arg], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("port") && stderr.contains("abc"),
        "{stderr}"
    );

    std::fs::write(dir.path().join("blazemq.yaml"), "port: 1\nlog_dirs: /x\n").expect("yaml");
    let output = run_to_exit(
        &["--config", "blazemq.yaml", "--log-dir", data_arg],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("log_dirs"), "{stderr}");

    let output = run_to_exit(&["--bogus"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--bogus"));

    assert!(
        !data.exists(),
        "nothing written for a refused configuration"
    );
}

#[test]
fn help_lists_every_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run_to_exit(&["--help"], dir.path());
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--bind-address",
        "--port",
        "--advertised-host",
        "--log-dir",
        "--segment-size",
        "--broker-id",
        "--num-partitions",
        "--auto-create-topics",
        "--retention-ms",
        "--max-request-size",
        "--group-initial-rebalance-delay-ms",
        "--num-io-threads",
        "--max-connection-output-bytes",
        "--message-pool-blocks",
        "--message-pool-block-size",
        "--replication-factor",
        "BLAZEMQ_PORT",
        "--config",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn a_client_that_reads_late_gets_every_response_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    // The smallest output bound and 4 KiB reads: the broker stops reading this client almost
    // at once, in the middle of a read, and resumes from what it set aside.
    let mut child = command(dir.path(), port)
        .args([
            "--max-connection-output-bytes",
            "16KiB",
            "--message-pool-block-size",
            "4KiB",
        ])
        .spawn()
        .expect("spawn blazemq");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.any(|line| line.is_ok_and(|l| l == READY_LINE));
    assert!(ready, "the broker printed no ready line");
    let _running = Broker {
        child,
        port,
        banner: String::new(),
    };

    const REQUESTS: i32 = 20_000;
    let mut writer = connect(port);
    let mut reader = writer.try_clone().expect("clone stream");
    let sender = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        for id in 0..REQUESTS {
            bytes.extend_from_slice(&api_versions_v0(id));
        }
        // Blocks while the broker holds off reading: that is the point.
        writer.write_all(&bytes).expect("send all requests");
    });
    // Let the broker's queue for us fill before reading anything.
    std::thread::sleep(Duration::from_millis(300));
    for id in 0..REQUESTS {
        assert_eq!(read_response(&mut reader).0, id);
    }
    sender.join().expect("sender finished");
}

#[test]
fn dual_stack_bind_serves_ipv4_and_ipv6_clients() {
    if TcpListener::bind("[::1]:0").is_err() {
        return; // no IPv6 on this host
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = start_with(dir.path(), &["--bind-address", "::"]);
    assert!(
        broker.banner.contains("advertised  127.0.0.1"),
        "{}",
        broker.banner
    );
    for host in ["127.0.0.1", "::1"] {
        let mut stream = TcpStream::connect((host, broker.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        stream.write_all(&api_versions_v0(7)).expect("send");
        assert_eq!(read_response(&mut stream).0, 7, "via {host}");
    }
}
