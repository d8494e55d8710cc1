//! The README's quick start with kcat (librdkafka), exactly as a user types it.
//!
//! kcat is strict about ApiVersions and Metadata responses (librdkafka negotiates every API from
//! them), so these tests catch encodings our own decoder would accept. Without kcat they skip,
//! except in CI (CI=true), where they fail.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use blazemq_tests::{Broker, require_program};

const KCAT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs kcat with `args`, feeding `stdin`; fails the test if it runs past [`KCAT_TIMEOUT`].
fn kcat(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat starts");
    let pid = child.id();
    let mut input = child.stdin.take().expect("stdin was piped");
    input.write_all(stdin).expect("kcat reads its input");
    drop(input);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(KCAT_TIMEOUT) {
        Ok(output) => output.expect("kcat runs"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("kcat {args:?} did not finish within {KCAT_TIMEOUT:?}");
        }
    }
}

/// Runs kcat and asserts it exited 0; returns its stdout.
fn kcat_ok(broker: &Broker, args: &[&str], stdin: &[u8]) -> String {
    let output = kcat(args, stdin);
    assert!(
        output.status.success(),
        "kcat {args:?} failed: {}\nstderr: {}\nbroker:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        broker.output()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn quick_start_list_produce_consume() {
    if !require_program("kcat") {
        return;
    }
    let broker = Broker::start();
    let b = broker.addr();

    let listing = kcat_ok(&broker, &["-b", &b, "-L"], b"");
    assert!(listing.contains(" 1 brokers:"), "{listing}");
    assert!(
        listing.contains(&format!(":{} ", broker.port()))
            || listing.contains(&format!(":{}\n", broker.port())),
        "the broker advertises its port: {listing}"
    );

    // One message, exactly as in the README.
    kcat_ok(&broker, &["-b", &b, "-t", "my-topic", "-P"], b"hello\n");
    let listing = kcat_ok(&broker, &["-b", &b, "-L"], b"");
    assert!(listing.contains("topic \"my-topic\" with"), "{listing}");

    // Several messages, one per line.
    kcat_ok(
        &broker,
        &["-b", &b, "-t", "my-topic", "-P"],
        b"second\nthird\nfourth\n",
    );
    let consumed = kcat_ok(&broker, &["-b", &b, "-t", "my-topic", "-C", "-e"], b"");
    assert_eq!(consumed, "hello\nsecond\nthird\nfourth\n");
}

#[test]
fn localhost_bootstrap_works() {
    if !require_program("kcat") {
        return;
    }
    let broker = Broker::start();
    let b = format!("localhost:{}", broker.port());
    let listing = kcat_ok(&broker, &["-b", &b, "-L"], b"");
    assert!(listing.contains(" 1 brokers:"), "{listing}");
    kcat_ok(
        &broker,
        &["-b", &b, "-t", "local", "-P"],
        b"via localhost\n",
    );
    let consumed = kcat_ok(&broker, &["-b", &b, "-t", "local", "-C", "-e"], b"");
    assert_eq!(consumed, "via localhost\n");
}

#[test]
fn keys_offsets_and_partitions_round_trip() {
    if !require_program("kcat") {
        return;
    }
    let broker = Broker::start();
    let b = broker.addr();
    let input: String = (0..50).map(|i| format!("k{i}:value-{i}\n")).collect();
    kcat_ok(
        &broker,
        &["-b", &b, "-t", "keyed", "-P", "-K:", "-p", "0"],
        input.as_bytes(),
    );
    let consumed = kcat_ok(
        &broker,
        &[
            "-b",
            &b,
            "-t",
            "keyed",
            "-C",
            "-e",
            "-p",
            "0",
            "-f",
            "%p %o %k=%s\n",
        ],
        b"",
    );
    let expected: String = (0..50).map(|i| format!("0 {i} k{i}=value-{i}\n")).collect();
    assert_eq!(consumed, expected);

    // From an offset in the middle, and the last two only.
    let from_45 = kcat_ok(
        &broker,
        &[
            "-b", &b, "-t", "keyed", "-C", "-e", "-p", "0", "-o", "45", "-f", "%o\n",
        ],
        b"",
    );
    assert_eq!(from_45, "45\n46\n47\n48\n49\n");
    let last_two = kcat_ok(
        &broker,
        &[
            "-b", &b, "-t", "keyed", "-C", "-e", "-p", "0", "-o", "-2", "-f", "%s\n",
        ],
        b"",
    );
    assert_eq!(last_two, "value-48\nvalue-49\n");
}

#[test]
fn records_survive_restart_as_kcat_sees_them() {
    if !require_program("kcat") {
        return;
    }
    let mut broker = Broker::start();
    let b = broker.addr();
    kcat_ok(&broker, &["-b", &b, "-t", "kept", "-P"], b"a\nb\nc\n");
    assert!(broker.stop().success(), "SIGTERM exits 0");
    broker.restart();
    let consumed = kcat_ok(&broker, &["-b", &b, "-t", "kept", "-C", "-e"], b"");
    assert_eq!(consumed, "a\nb\nc\n");
}
