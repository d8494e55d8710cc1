//! kill -9 of the binary while its log cleaner compacts a topic.
//!
//! Cycles: new versions of every key are produced (acks=all) to a `cleanup.policy=compact`
//! topic with small segments, the cleaner starts on them at once (`--log-cleaner-backoff-ms 0`),
//! and the broker is killed with SIGKILL at a random moment (seeded; the seed is printed, and
//! `BLAZEMQ_CRASH_SEED` replays one), then restarted. After every restart each key's newest
//! record is the newest acknowledged one, and every record left is one that was written, at the
//! offset it was acknowledged at: a crash never loses a record the cleaner keeps, nor shows a
//! mix of old and new segments.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blazemq_tests::wire::{self, error_code};
use blazemq_tests::{Broker, BrokerOptions};

const TOPIC: &[u8] = b"compacted";
/// Kill-restart cycles.
const CYCLES: u32 = 20;
/// Distinct keys, and the records of one produced batch.
const KEYS: usize = 200;
const BATCH_RECORDS: usize = 50;
/// Versions of every key produced per cycle.
const VERSIONS_PER_CYCLE: usize = 20;
/// Padding that makes each record about 200 bytes, so segments fill and roll.
const PADDING: usize = 160;
/// The longest a cycle waits after producing before its kill, in microseconds: the cleaner
/// starts on the new versions at once, and each segment it replaces is synced first.
const KILL_AFTER_US_MAX: u64 = 30_000;
/// The whole test's time bound, on a loaded 2-core machine.
const TIME_MAX: Duration = Duration::from_secs(120);

/// `offset -> (key, value)` of every acknowledged record.
type Written = BTreeMap<i64, (Vec<u8>, Vec<u8>)>;

fn seed() -> u64 {
    if let Ok(text) = std::env::var("BLAZEMQ_CRASH_SEED") {
        return text
            .parse()
            .unwrap_or_else(|_| panic!("BLAZEMQ_CRASH_SEED={text} is not a u64"));
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    (nanos as u64) | 1
}

fn unix_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn create_compacted(broker: &Broker) {
    let mut stream = broker.connect();
    let request = wire::create_topics_request_with(
        1,
        TOPIC,
        1,
        &[
            (b"cleanup.policy", b"compact"),
            (b"min.cleanable.dirty.ratio", b"0.1"),
        ],
    );
    let body = wire::round_trip(&mut stream, &request, 1)
        .unwrap_or_else(|e| panic!("CreateTopics: {e}\n{}", broker.output()));
    assert_eq!(
        wire::create_topics_response_error(&body),
        Some(error_code::NONE)
    );
}

/// Produce `VERSIONS_PER_CYCLE` versions of every key; records what was acknowledged.
fn produce_versions(broker: &Broker, cycle: u32, written: &mut Written) {
    let mut stream = broker.connect();
    let mut correlation_id = 0;
    for version in 0..VERSIONS_PER_CYCLE {
        for first in (0..KEYS).step_by(BATCH_RECORDS) {
            let records: Vec<(Vec<u8>, Vec<u8>)> = (first..first + BATCH_RECORDS)
                .map(|k| {
                    let key = format!("key-{k:04}").into_bytes();
                    let mut value = format!("c{cycle}-v{version}-k{k}-").into_bytes();
                    value.resize(value.len() + PADDING, b'.');
                    (key, value)
                })
                .collect();
            let refs: Vec<(Option<&[u8]>, &[u8])> = records
                .iter()
                .map(|(k, v)| (Some(k.as_slice()), v.as_slice()))
                .collect();
            let batch = wire::keyed_record_batch(unix_ms(), &refs);
            correlation_id += 1;
            let request = wire::produce_request(correlation_id, TOPIC, 0, &batch);
            let body = wire::round_trip(&mut stream, &request, correlation_id)
                .unwrap_or_else(|e| panic!("Produce: {e}\n{}", broker.output()));
            let (code, base) = wire::produce_response_result(&body).expect("a Produce answer");
            assert_eq!(code, error_code::NONE, "cycle {cycle}");
            for (offset, record) in (base..).zip(records) {
                written.insert(offset, record);
            }
        }
    }
}

/// Every record of the topic from offset 0 to the high watermark.
fn fetch_all(broker: &Broker) -> Vec<wire::FetchedRecord> {
    let mut stream = broker.connect();
    let mut records = Vec::new();
    let mut offset = 0;
    for correlation_id in 0..1_000_000 {
        let request = wire::fetch_request(correlation_id, TOPIC, 0, offset, 8 << 20);
        let body = wire::round_trip(&mut stream, &request, correlation_id)
            .unwrap_or_else(|e| panic!("Fetch: {e}\n{}", broker.output()));
        let fetched = wire::fetch_response(&body).expect("a readable Fetch response");
        assert_eq!(fetched.error_code, error_code::NONE, "Fetch at {offset}");
        let batch = wire::fetched_records(&fetched.records).expect("readable record batches");
        let next = batch.last().map(|r| r.offset + 1);
        records.extend(batch.into_iter().filter(|r| r.offset >= offset));
        match next {
            Some(next) if next > offset => offset = next,
            _ => {
                assert!(offset >= fetched.high_watermark, "stuck at {offset}");
                return records;
            }
        }
    }
    panic!("the topic was not read to its end")
}

/// Each record read is one written at its offset, in order, and each key's newest record is
/// the newest written.
fn audit(cycle: u32, read: &[wire::FetchedRecord], written: &Written) {
    let mut newest_read: BTreeMap<&[u8], (i64, &[u8])> = BTreeMap::new();
    let mut previous = -1;
    for r in read {
        assert!(r.offset > previous, "cycle {cycle}: offsets ascend");
        previous = r.offset;
        let key = r.key.as_deref().expect("every record has a key");
        assert_eq!(
            written
                .get(&r.offset)
                .map(|(k, v)| (k.as_slice(), v.as_slice())),
            Some((key, r.value.as_slice())),
            "cycle {cycle}: offset {} holds what was written there",
            r.offset
        );
        newest_read.insert(key, (r.offset, r.value.as_slice()));
    }
    let mut newest_written: BTreeMap<&[u8], (i64, &[u8])> = BTreeMap::new();
    for (offset, (k, v)) in written {
        newest_written.insert(k.as_slice(), (*offset, v.as_slice()));
    }
    assert_eq!(
        newest_read, newest_written,
        "cycle {cycle}: each key's newest record"
    );
}

/// Segment rewrites the kill cut short (their files are removed at the restart).
fn rewrites_in_progress(broker: &Broker) -> usize {
    let dir = broker.log_dir().join("compacted-0");
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".cleaned"))
            .count()
    })
}

#[test]
fn kill_9_while_cleaning_never_loses_a_key_s_newest_record() {
    let seed = seed();
    println!("compaction crash seed {seed} (BLAZEMQ_CRASH_SEED replays it)");
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let options = BrokerOptions::default()
        .arg("--segment-size")
        .arg("32768")
        .arg("--log-cleaner-backoff-ms")
        .arg("0");
    let mut broker = Broker::start_with(options);
    create_compacted(&broker);
    let started = Instant::now();
    let mut written = Written::new();
    let mut compacted = false;
    let mut cut_rewrites = 0;
    for cycle in 0..CYCLES {
        produce_versions(&broker, cycle, &mut written);
        thread::sleep(Duration::from_micros(next() % (KILL_AFTER_US_MAX + 1)));
        broker.kill9();
        cut_rewrites += rewrites_in_progress(&broker);
        broker.restart();
        let read = fetch_all(&broker);
        audit(cycle, &read, &written);
        compacted |= read.len() < written.len();
        assert!(started.elapsed() < TIME_MAX, "cycle {cycle}: too slow");
    }
    assert!(compacted, "the cleaner removed old versions in some cycle");
    // Let the last cleaning finish (on the cleaner's thread, beside whatever else the machine
    // runs): far fewer records than written are left.
    let waited = Instant::now();
    let mut read = fetch_all(&broker);
    while read.len() >= written.len() / 2 && waited.elapsed() < Duration::from_secs(20) {
        thread::sleep(Duration::from_millis(200));
        read = fetch_all(&broker);
    }
    audit(CYCLES, &read, &written);
    assert!(
        read.len() < written.len() / 2,
        "{} of {} records left",
        read.len(),
        written.len()
    );
    println!(
        "{CYCLES} cycles in {:?}: {} of {} records left; {cut_rewrites} kills cut a segment's \
         rewrite",
        started.elapsed(),
        read.len(),
        written.len()
    );
}
