//! Consumer groups with kcat (librdkafka's high-level KafkaConsumer, `kcat -G`), as the README's
//! "Consumer groups" section shows them.
//!
//! `kcat -G` joins a group, is assigned partitions, and commits the offsets it consumed when it
//! leaves (on `-e` at the end of its partitions, or on SIGTERM). The next member of the same group
//! starts from those committed offsets. An explicit `-o` would override them in `-G` mode, so the
//! tests use `-X auto.offset.reset=earliest`, which only applies to a group without offsets. Without
//! kcat they skip, except in CI (CI=true), where they fail.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use blazemq_tests::{Broker, require_program};

/// Bound on every kcat run and on every wait for its output.
const KCAT_TIMEOUT: Duration = Duration::from_secs(30);

/// A kcat process whose stdout and stderr lines arrive on channels; killed on drop.
struct Kcat {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Kcat {
    fn spawn(args: &[&str]) -> Kcat {
        let mut child = Command::new("kcat")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kcat starts");
        let stdout = lines(child.stdout.take().expect("stdout was piped"));
        let stderr = lines(child.stderr.take().expect("stderr was piped"));
        Kcat {
            child,
            stdout,
            stderr,
            stderr_seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a stderr line containing `needle`.
    fn wait_stderr(&mut self, needle: &str) {
        let deadline = Instant::now() + KCAT_TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.stderr_seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "kcat printed no `{needle}` within {KCAT_TIMEOUT:?}; stderr:\n{}",
            self.stderr_seen.join("\n")
        );
    }

    /// Waits (bounded) for `count` stdout lines.
    fn read_lines(&mut self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + KCAT_TIMEOUT;
        let mut got = Vec::new();
        while got.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(_) => panic!("kcat printed only {got:?} within {KCAT_TIMEOUT:?}"),
            }
        }
        got
    }

    /// Sends SIGTERM, as Ctrl-C would, and waits (bounded) for a clean exit.
    fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + KCAT_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "kcat exits 0 on SIGTERM: {status}");
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("kcat did not exit within {KCAT_TIMEOUT:?} of SIGTERM");
    }
}

impl Drop for Kcat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Produces `input` (one record per line) to `topic` with `kcat -P`.
fn produce(broker: &Broker, topic: &str, input: &[u8]) {
    let mut child = Command::new("kcat")
        .args(["-b", &broker.addr(), "-t", topic, "-P"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat starts");
    let mut stdin = child.stdin.take().expect("stdin was piped");
    stdin.write_all(input).expect("kcat reads its input");
    drop(stdin);
    let status = wait_bounded(&mut child);
    assert!(status, "kcat -P failed\nbroker:\n{}", broker.output());
}

fn wait_bounded(child: &mut Child) -> bool {
    let deadline = Instant::now() + KCAT_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("kcat did not finish within {KCAT_TIMEOUT:?}");
}

/// Runs a group member with `-e` (exit at the end of every assigned partition); returns its stdout.
fn consume_to_end(broker: &Broker, group: &str, topic: &str) -> String {
    let b = broker.addr();
    let mut kcat = Kcat::spawn(&[
        "-b",
        &b,
        "-G",
        group,
        "-X",
        "auto.offset.reset=earliest",
        "-e",
        topic,
    ]);
    let deadline = Instant::now() + KCAT_TIMEOUT;
    loop {
        if let Ok(Some(status)) = kcat.child.try_wait() {
            assert!(
                status.success(),
                "kcat -G -e failed: {status}\nbroker:\n{}",
                broker.output()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "kcat -G -e did not exit within {KCAT_TIMEOUT:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    while let Ok(line) = kcat.stdout.recv_timeout(Duration::from_secs(1)) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn group_member_gets_records_from_before_and_after_it_joined() {
    if !require_program("kcat") {
        return;
    }
    let broker = Broker::start();
    let b = broker.addr();
    produce(&broker, "my-topic", b"before-1\nbefore-2\n");

    let mut member = Kcat::spawn(&[
        "-b",
        &b,
        "-G",
        "my-group",
        "-X",
        "auto.offset.reset=earliest",
        // Unbuffered: each record reaches the pipe as it arrives.
        "-u",
        "my-topic",
    ]);
    member.wait_stderr("assigned: my-topic [0]");
    assert_eq!(member.read_lines(2), ["before-1", "before-2"]);
    produce(&broker, "my-topic", b"after-1\n");
    assert_eq!(member.read_lines(1), ["after-1"]);
    // Leaving the group commits what it consumed.
    member.terminate();

    // The same group resumes after the committed offsets: nothing is delivered twice.
    assert_eq!(consume_to_end(&broker, "my-group", "my-topic"), "");
    produce(&broker, "my-topic", b"later\n");
    assert_eq!(consume_to_end(&broker, "my-group", "my-topic"), "later\n");
    // Another group has its own offsets and reads everything.
    assert_eq!(
        consume_to_end(&broker, "other-group", "my-topic"),
        "before-1\nbefore-2\nafter-1\nlater\n"
    );
}

#[test]
fn committed_offsets_survive_a_restart_as_kcat_sees_them() {
    if !require_program("kcat") {
        return;
    }
    let mut broker = Broker::start();
    produce(&broker, "kept", b"a\nb\nc\n");
    assert_eq!(consume_to_end(&broker, "keeper", "kept"), "a\nb\nc\n");
    assert!(broker.stop().success(), "SIGTERM exits 0");
    broker.restart();
    produce(&broker, "kept", b"d\n");
    assert_eq!(consume_to_end(&broker, "keeper", "kept"), "d\n");
}
