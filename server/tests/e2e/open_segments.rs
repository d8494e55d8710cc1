//! Two thousand partitions under a cap of 16 open segments: writing and reading every one keeps
//! the broker's open segment files and their mappings at the cap, a restart (after kill -9, and
//! after a clean stop) opens none until used, and every record comes back.
#![allow(clippy::std_instead_of_core)]

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use blazemq_core::codec::Records;
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::fetch_request::{FetchPartition, FetchTopic};
use blazemq_core::codec::messages::produce_request::PartitionProduceData;
use blazemq_core::codec::messages::{
    CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse,
};
use blazemq_core::records::{BatchBuilder, RecordBatch, Records as RecordIter};

use crate::support::{self, Broker, call, connect, produce_at};

const TOPIC: &str = "lazy";
const PARTITIONS: i32 = 2_000;
/// `max_open_segments` of the broker under test.
const CAP: usize = 16;
/// Partitions per Produce and per Fetch request: a Fetch holds open the segments it sends
/// from until it is written, so this plus the cap bounds what a sample may catch.
const PER_REQUEST: i32 = 50;
/// Batches produced to every partition.
const ROUNDS: usize = 2;
/// Records per batch.
const RECORDS: usize = 3;

/// Start the broker on `dir` with the cap.
fn start(dir: &Path) -> Broker {
    let cap = CAP.to_string();
    let args = ["--segment-size", "64KiB", "--retention-ms", "-1"];
    support::start(dir, &[&args[..], &["--max-open-segments", &cap]].concat()).0
}

/// Segment files `pid` holds open, and mappings of them, as /proc shows them.
fn segments_held(pid: u32, dir: &Path) -> (usize, usize) {
    let dir = dir.to_str().expect("utf-8 temp path");
    let is_segment = |name: &str| name.starts_with(dir) && name.ends_with(".log");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_str().is_some_and(is_segment))
        .count();
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("proc maps");
    let mapped = maps
        .lines()
        .filter(|l| l.split_whitespace().nth(5).is_some_and(is_segment))
        .count();
    (fds, mapped)
}

/// Segment files held now are within `bound`, as are their mappings.
fn assert_held_within(broker: &Broker, dir: &Path, bound: usize, when: &str) {
    let (fds, maps) = segments_held(broker.pid(), dir);
    assert!(
        fds <= bound && maps <= bound,
        "{when}: {fds} segment files open, {maps} mapped, bound {bound}"
    );
}

/// Record `r` of batch `b` of partition `p`: it names all three, so a misplaced record shows.
fn value(p: i32, b: usize, r: usize) -> Vec<u8> {
    format!("partition {p} batch {b} record {r}").into_bytes()
}

fn create(stream: &mut TcpStream) {
    let req = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: TOPIC.into(),
            num_partitions: PARTITIONS,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 60_000,
        validate_only: false,
    };
    let resp: CreateTopicsResponse = call(stream, 7, &req);
    assert_eq!(resp.topics[0].error_code, 0, "{:?}", resp.topics[0]);
}

/// Batch `b` of every partition, `PER_REQUEST` partitions a request, checking the held files.
fn produce_round(stream: &mut TcpStream, broker: &Broker, dir: &Path, b: usize) {
    for first in (0..PARTITIONS).step_by(PER_REQUEST as usize) {
        let partition_data = (first..first + PER_REQUEST)
            .map(|p| {
                let mut builder = BatchBuilder::new(0);
                for r in 0..RECORDS {
                    builder.push(1_000 + r as i64, None, Some(&value(p, b, r)), &[]);
                }
                PartitionProduceData {
                    index: p,
                    records: Some(Records::Bytes(builder.finish())),
                }
            })
            .collect();
        produce_at(stream, TOPIC, partition_data, (b * RECORDS) as i64);
        // A Produce response holds no segment: the cap holds exactly.
        assert_held_within(broker, dir, CAP, "after a produce");
    }
}

/// Every record of `PER_REQUEST` partitions from `first`, read with one Fetch from offset 0.
fn fetch_from(stream: &mut TcpStream, first: i32) -> Vec<(i32, Vec<Vec<u8>>)> {
    let req = FetchRequest {
        replica_id: -1,
        max_bytes: 64 << 20,
        topics: vec![FetchTopic {
            topic: TOPIC.into(),
            partitions: (first..first + PER_REQUEST)
                .map(|p| FetchPartition {
                    partition: p,
                    current_leader_epoch: -1,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp: FetchResponse = call(stream, 11, &req);
    let mut out = Vec::new();
    for data in &resp.responses[0].partitions {
        assert_eq!(data.error_code, 0, "partition {}", data.partition_index);
        let Some(Records::Bytes(mut bytes)) = data.records.clone() else {
            panic!("no records for partition {}", data.partition_index);
        };
        let mut values = Vec::new();
        while !bytes.is_empty() {
            let batch = RecordBatch::new_checked(&bytes[..]).expect("a whole, valid batch");
            for record in RecordIter::of_batch(&batch) {
                values.push(record.expect("record").value.expect("value").to_vec());
            }
            let len = batch.total_len();
            bytes.drain(..len);
        }
        out.push((data.partition_index, values));
    }
    out
}

/// Read every partition back and compare; the held files stay within the cap plus what one
/// Fetch response may hold while it is written.
fn read_all(broker: &Broker, dir: &Path) {
    let mut stream = connect(broker.port);
    for first in (0..PARTITIONS).step_by(PER_REQUEST as usize) {
        for (p, values) in fetch_from(&mut stream, first) {
            let expected: Vec<Vec<u8>> = (0..ROUNDS)
                .flat_map(|b| (0..RECORDS).map(move |r| value(p, b, r)))
                .collect();
            assert_eq!(values, expected, "partition {p}");
        }
        assert_held_within(broker, dir, CAP + PER_REQUEST as usize, "after a fetch");
    }
    // Once the last response is written and given back, the cap holds exactly.
    std::thread::sleep(Duration::from_millis(100));
    assert_held_within(broker, dir, CAP, "after reading everything");
}

#[test]
fn two_thousand_partitions_hold_at_most_the_cap_of_open_segments() {
    let began = Instant::now();
    // Memory-backed where there is one: creating and removing 6,000 files on a busy disk
    // takes longer than the rest of the test, and says nothing about open segments.
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("temp dir");
    let broker = start(dir.path());
    let mut stream = connect(broker.port);
    create(&mut stream);
    assert_held_within(&broker, dir.path(), 0, "after creating the partitions");
    for b in 0..ROUNDS {
        produce_round(&mut stream, &broker, dir.path(), b);
    }
    read_all(&broker, dir.path());
    drop(stream);

    // kill -9: the restart opens nothing until a partition is read, and loses nothing.
    drop(broker);
    let broker = start(dir.path());
    assert_held_within(&broker, dir.path(), 0, "after a restart from kill -9");
    read_all(&broker, dir.path());

    // A clean stop (SIGTERM), then the same.
    let status = Command::new("kill")
        .args(["-TERM", &broker.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let mut broker = broker;
    let exit = broker.child.wait().expect("broker exits");
    assert!(exit.success(), "a clean stop exits 0: {exit}");
    let broker = start(dir.path());
    assert_held_within(&broker, dir.path(), 0, "after a restart from a clean stop");
    read_all(&broker, dir.path());
    drop(broker);
    drop(dir);
    eprintln!(
        "{PARTITIONS} partitions, cap {CAP}: done in {:?}",
        began.elapsed()
    );
}
