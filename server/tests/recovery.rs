//! A restart after kill -9 reads only what was written since the last recovery checkpoint:
//! 300 MiB (or, with `RECOVERY_BATCHES=410`, 10 GiB) over 100 partitions come back in under a
//! second, and the restarted broker's resident memory stays within 16 MiB of an idle broker's,
//! as it maps but never reads them.
#![allow(clippy::std_instead_of_core)]

mod support;

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use blazemq_core::codec::Records;
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::fetch_request::{FetchPartition, FetchTopic};
use blazemq_core::codec::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use blazemq_core::codec::messages::produce_request::PartitionProduceData;
use blazemq_core::codec::messages::{
    CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse,
};
use blazemq_core::log::RecoveryCheckpoint;
use blazemq_core::records::{BatchBuilder, RecordBatch};
use support::{Broker, call, connect, produce_at};

const TOPIC: &str = "recovery";
const PARTITIONS: i32 = 100;
/// Batches per partition, of `RECORDS` records of `VALUE_BYTES`: 12 x 256 KiB = 3 MiB each.
/// `RECOVERY_BATCHES` overrides it for a larger run: 410 is 10 GiB over the 100 partitions.
const BATCHES_DEFAULT: usize = 12;
const RECORDS: usize = 8;
const VALUE_BYTES: usize = 32 * 1024;
/// Partitions per Produce request.
const PARTITIONS_PER_REQUEST: i32 = 10;
/// Restart after kill -9, spawn to ready.
const RESTART_MAX: Duration = Duration::from_secs(1);
/// Resident memory the restarted broker may hold above an idle one's.
const RSS_ABOVE_IDLE_MAX_KIB: u64 = 16 * 1024;

fn batches() -> usize {
    std::env::var("RECOVERY_BATCHES")
        .ok()
        .map(|v| v.parse().expect("RECOVERY_BATCHES is a number of batches"))
        .unwrap_or(BATCHES_DEFAULT)
}

/// Start the broker on `dir`; returns it and the time from spawn to ready.
fn start(dir: &Path) -> (Broker, Duration) {
    let args = [
        "--segment-size",
        "1MiB",
        "--max-request-size",
        "16MiB",
        "--log-flush-offset-checkpoint-interval-ms",
        "100",
        // The records carry timestamps from 1970: kept anyway.
        "--retention-ms",
        "-1",
    ];
    support::start(dir, &args)
}

/// VmRSS of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// Batch `b` of partition `p`: values whose bytes name both, so a misplaced batch shows.
fn batch(p: i32, b: usize) -> Vec<u8> {
    let mut builder = BatchBuilder::new(0);
    for r in 0..RECORDS {
        let seed = (p as usize * 131 + b * 17 + r) as u8;
        let value: Vec<u8> = (0..VALUE_BYTES)
            .map(|i| seed.wrapping_add(i as u8))
            .collect();
        builder.push(1_000 + (b * RECORDS + r) as i64, None, Some(&value), &[]);
    }
    builder.finish()
}

/// Produce every batch; returns the bytes stored.
fn produce_all(stream: &mut TcpStream) -> u64 {
    let mut stored = 0;
    for b in 0..batches() {
        for first in (0..PARTITIONS).step_by(PARTITIONS_PER_REQUEST as usize) {
            let partition_data: Vec<_> = (first..first + PARTITIONS_PER_REQUEST)
                .map(|p| {
                    let bytes = batch(p, b);
                    stored += bytes.len() as u64;
                    PartitionProduceData {
                        index: p,
                        records: Some(Records::Bytes(bytes)),
                    }
                })
                .collect();
            produce_at(stream, TOPIC, partition_data, (b * RECORDS) as i64);
        }
    }
    stored
}

/// Wait (bounded) until the checkpoint on disk vouches for `bytes`.
fn wait_for_checkpoint(dir: &Path, bytes: u64) -> Duration {
    let began = Instant::now();
    let path = dir.join("recovery-point-offset-checkpoint");
    loop {
        let vouched = std::fs::read(&path)
            .ok()
            .and_then(|b| RecoveryCheckpoint::decode(&b))
            .map_or(0, |c| c.vouched_bytes());
        if vouched == bytes {
            return began.elapsed();
        }
        assert!(
            began.elapsed() < Duration::from_secs(300),
            "the checkpoint vouches for {vouched} of {bytes} bytes after 300 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log end offset of every partition (ListOffsets, latest).
fn log_ends(stream: &mut TcpStream) -> Vec<i64> {
    let req = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: TOPIC.into(),
            partitions: (0..PARTITIONS)
                .map(|p| ListOffsetsPartition {
                    partition_index: p,
                    current_leader_epoch: -1,
                    timestamp: -1,
                    max_num_offsets: 1,
                })
                .collect(),
        }],
        ..Default::default()
    };
    let resp: ListOffsetsResponse = call(stream, 5, &req);
    resp.topics[0]
        .partitions
        .iter()
        .map(|p| {
            assert_eq!(p.error_code, 0);
            p.offset
        })
        .collect()
}

/// Fetch the batch at `offset` of partition `p` and compare it with what was produced.
fn check_batch(stream: &mut TcpStream, p: i32, b: usize) {
    let offset = (b * RECORDS) as i64;
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: TOPIC.into(),
            partitions: vec![FetchPartition {
                partition: p,
                current_leader_epoch: -1,
                fetch_offset: offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp: FetchResponse = call(stream, 11, &req);
    let data = &resp.responses[0].partitions[0];
    assert_eq!(data.error_code, 0);
    let Some(Records::Bytes(bytes)) = &data.records else {
        panic!("no records for partition {p} at {offset}");
    };
    let stored = RecordBatch::new_checked(&bytes[..]).expect("a whole batch with a valid CRC");
    assert_eq!(stored.base_offset(), offset);
    let produced = batch(p, b);
    // Base offset and leader epoch are the broker's; from the magic byte on it is the client's.
    assert_eq!(
        &stored.as_bytes()[16..],
        &produced[16..],
        "partition {p} batch {b}"
    );
}

fn spot_checks(port: u16) {
    let mut stream = connect(port);
    let ends = log_ends(&mut stream);
    assert_eq!(
        ends,
        vec![(batches() * RECORDS) as i64; PARTITIONS as usize]
    );
    for (p, b) in [
        (0, 0),
        (0, batches() - 1),
        (37, 5),
        (63, 3),
        (99, batches() - 1),
        (99, 0),
    ] {
        check_batch(&mut stream, p, b);
    }
}

#[test]
fn restart_after_kill_9_reads_only_what_the_checkpoint_does_not_vouch_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut broker, first_start) = start(dir.path());
    let mut stream = connect(broker.port);
    let req = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: TOPIC.into(),
            num_partitions: PARTITIONS,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let resp: CreateTopicsResponse = call(&mut stream, 2, &req);
    assert_eq!(resp.topics[0].error_code, 0);
    let idle_kib = rss_kib(broker.child.id());

    let began = Instant::now();
    let stored = produce_all(&mut stream);
    let produced_in = began.elapsed();
    let checkpoint_after = wait_for_checkpoint(dir.path(), stored);
    broker.child.kill().expect("kill -9");
    broker.child.wait().expect("reaped");
    drop(stream);
    drop(broker);

    let (broker, restart) = start(dir.path());
    let restarted_kib = rss_kib(broker.child.id());
    spot_checks(broker.port);
    let after_reads_kib = rss_kib(broker.child.id());
    println!(
        "stored {} MiB over {PARTITIONS} partitions in {produced_in:?}; checkpoint vouched for \
         all of it {checkpoint_after:?} later; first start {first_start:?}; restart after kill -9 \
         to ready {restart:?}; VmRSS idle {idle_kib} KiB, after restart {restarted_kib} KiB \
         (+{} KiB), after spot checks {after_reads_kib} KiB",
        stored >> 20,
        restarted_kib.saturating_sub(idle_kib),
    );
    assert!(restart < RESTART_MAX, "restart took {restart:?}");
    assert!(
        restarted_kib < idle_kib + RSS_ABOVE_IDLE_MAX_KIB,
        "VmRSS {restarted_kib} KiB after restart, idle {idle_kib} KiB"
    );
    drop(broker);

    // For comparison: the same crash without the checkpoint checks every byte.
    std::fs::remove_file(dir.path().join("recovery-point-offset-checkpoint"))
        .expect("checkpoint removed");
    let (broker, unchecked) = start(dir.path());
    let unchecked_kib = rss_kib(broker.child.id());
    println!(
        "without the checkpoint: restart to ready {unchecked:?}, VmRSS {unchecked_kib} KiB \
         (+{} KiB)",
        unchecked_kib.saturating_sub(idle_kib)
    );
    spot_checks(broker.port);
}
