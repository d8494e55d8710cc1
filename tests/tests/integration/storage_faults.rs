//! Storage faults against the real binary: a data directory on a small tmpfs that fills up.
//!
//! A full disk must come back to producers as KAFKA_STORAGE_ERROR for the partition written, never
//! as a crash; every acknowledged record must still be there, at dense offsets, once space
//! returns; and the broker must restart on the still-full disk. The tmpfs is mounted for the
//! test, which needs root (CI runs as root; elsewhere the test is skipped unless CI=true).

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use blazemq_tests::wire::{self, error_code};
use blazemq_tests::{Broker, BrokerOptions, in_ci, serves_api_versions};

/// Size of the tmpfs: small, so a few thousand batches fill it.
const TMPFS_BYTES: usize = 8 << 20;
/// KAFKA_STORAGE_ERROR.
const KAFKA_STORAGE_ERROR: i16 = 56;
/// Produce requests sent before the disk must have filled: bounds the loop.
const BATCHES_MAX: usize = 20_000;

/// A tmpfs mounted on a fresh directory, unmounted (lazily) on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one, or `None` where this process may not mount (then the test is skipped;
    /// with CI=true it fails instead).
    fn mount(bytes: usize) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status();
        if status.is_ok_and(|s| s.success()) {
            return Some(Tmpfs { dir });
        }
        assert!(
            !in_ci(),
            "CI=true: mounting a tmpfs must work (run as root)"
        );
        eprintln!("skipping: cannot mount a tmpfs here (not root?)");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
        if !unmounted.is_ok_and(|s| s.success()) {
            eprintln!("could not unmount {}", self.dir.path().display());
        }
    }
}

/// Sends one Produce of `batch` to partition 0 of `topic`; returns (error, base offset).
fn produce(stream: &mut TcpStream, correlation_id: i32, topic: &[u8], batch: &[u8]) -> (i16, i64) {
    let request = wire::produce_request(correlation_id, topic, 0, batch);
    let body = wire::round_trip(stream, &request, correlation_id)
        .expect("the broker answers every produce");
    wire::produce_response_result(&body).expect("a produce response")
}

fn create_topic(broker: &Broker, topic: &[u8]) {
    let mut stream = broker.connect();
    let body = wire::round_trip(&mut stream, &wire::create_topics_request(1, topic, 1), 1)
        .expect("create topic");
    assert_eq!(
        wire::create_topics_response_error(&body),
        Some(error_code::NONE)
    );
}

/// Produces `batch` (one record) until the disk is full; asserts every answer is success at the
/// next dense offset or KAFKA_STORAGE_ERROR; returns the log end offset.
fn fill(broker: &Broker, topic: &[u8], batch: &[u8], mut acked: i64) -> i64 {
    let mut stream = broker.connect();
    let mut storage_errors = 0;
    for i in 0..BATCHES_MAX {
        let correlation = i32::try_from(i).expect("bounded");
        match produce(&mut stream, correlation, topic, batch) {
            (error_code::NONE, base) => {
                assert_eq!(base, acked, "offsets stay dense across failed writes");
                acked += 1;
                storage_errors = 0;
            }
            (KAFKA_STORAGE_ERROR, -1) => {
                storage_errors += 1;
                if storage_errors == 20 {
                    return acked;
                }
            }
            other => panic!("unexpected answer {other:?}\n{}", broker.output()),
        }
    }
    panic!(
        "{BATCHES_MAX} batches did not fill {TMPFS_BYTES} bytes\n{}",
        broker.output()
    );
}

/// A file of `bytes` in the tmpfs, taking space until the test frees it: "space returns".
fn take_space(tmpfs: &Tmpfs, name: &str, bytes: usize) -> PathBuf {
    let filler = tmpfs.path().join(name);
    std::fs::write(&filler, vec![7u8; bytes]).expect("the filler fits");
    filler
}

#[test]
fn a_full_disk_is_an_error_code_and_nothing_acknowledged_is_lost() {
    let Some(tmpfs) = Tmpfs::mount(TMPFS_BYTES) else {
        return;
    };
    let first_filler = take_space(&tmpfs, "filler-1", 2 << 20);
    let second_filler = take_space(&tmpfs, "filler-2", 1 << 20);
    let mut broker = Broker::start_with(
        BrokerOptions::default()
            .data_in(tmpfs.path())
            .arg("--segment-size")
            .arg("1MiB"),
    );
    create_topic(&broker, b"small");
    create_topic(&broker, b"large");
    // Timestamps of now: retention (7 days) must not delete what fills the disk.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis();
    let now_ms = i64::try_from(now_ms).expect("milliseconds fit in i64");
    let small = wire::record_batch(now_ms, &[&[1u8; 1000]]);
    let large_value = vec![2u8; 64 << 10];
    let large = wire::record_batch(now_ms, &[&large_value]);

    // 1 KiB batches until the disk is full; then 64 KiB ones into the space that returns.
    let small_acked = fill(&broker, b"small", &small, 0);
    eprintln!("acknowledged before the disk filled: {small_acked} small batches");
    assert!(small_acked > 1000, "only {small_acked} small batches fit");
    std::fs::remove_file(&first_filler).expect("free the first filler");
    let large_acked = fill(&broker, b"large", &large, 0);
    eprintln!("acknowledged in the space that returned: {large_acked} large batches");
    assert!(large_acked > 10, "only {large_acked} large batches fit");
    assert!(broker.is_running(), "{}", broker.output());
    assert!(serves_api_versions(&broker), "still serving when full");
    // Logged with the path and the OS error, once per cause a minute, not once per request.
    let output = broker.output();
    let logged = output.matches("storage error error=\"cannot write").count();
    assert!(
        (1..=4).contains(&logged) && output.contains("No space left on device"),
        "{logged} storage error lines for 40 refused writes:\n{output}"
    );

    // A restart on the still-full disk, after a crash and after a clean stop.
    broker.kill9();
    broker.restart();
    assert!(serves_api_versions(&broker), "restarted on a full disk");
    assert!(broker.stop().success(), "a clean stop on a full disk");
    broker.restart();
    assert!(
        serves_api_versions(&broker),
        "restarted again on a full disk"
    );

    // Space returns: writes are accepted again, right after every acknowledged record.
    std::fs::remove_file(&second_filler).expect("free the second filler");
    let mut stream = broker.connect();
    assert_eq!(
        produce(&mut stream, 1, b"small", &small),
        (error_code::NONE, small_acked),
        "{}",
        broker.output()
    );
    assert_eq!(
        produce(&mut stream, 2, b"large", &large),
        (error_code::NONE, large_acked),
        "{}",
        broker.output()
    );
    assert!(broker.stop().success());
}
