//! The log cleaner over memory with a fake clock: what a pass keeps, when passes run, and a
//! property test against a model of Kafka's rules.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::broker::BrokerConfig;
use crate::broker::harness::{Driver, call, create, driven, fetch_request, produce_request};
use crate::codec::Records;
use crate::codec::messages::fetch_response::PartitionData;
use crate::codec::messages::{FetchResponse, ProduceRequest, ProduceResponse};
use crate::records::{BatchBuilder, RecordBatch, Records as RecordIter};
use crate::storage::MemoryStorage;

mod jobs;
mod markers;

type B = Driver<MemoryStorage>;

/// `(offset, key, value)` as read back.
type Row = (i64, String, Option<String>);

fn start() -> B {
    let config = BrokerConfig {
        segment_size_bytes: 600,
        offsets_topic_segment_bytes: 600,
        transaction_state_log_segment_bytes: 600,
        ..BrokerConfig::default()
    };
    driven(config, MemoryStorage::default())
}

/// Produce one record `key` = `value` (`None`: a tombstone) to `t-0`; its offset.
fn put(b: &mut B, key: &str, value: Option<&str>) -> i64 {
    let mut batch = BatchBuilder::new(0);
    batch.push(
        b.clock.unix_ms(),
        Some(key.as_bytes()),
        value.map(str::as_bytes),
        &[],
    );
    let req: ProduceRequest = produce_request("t", 0, batch.finish());
    let r: ProduceResponse = call(b, 9, &req);
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0);
    p.base_offset
}

/// `rounds` versions of keys `k<n>` for each n of `keys`, the values `<prefix><round>`.
fn versions(b: &mut B, keys: core::ops::Range<usize>, rounds: usize, prefix: &str) {
    for round in 0..rounds {
        for k in keys.clone() {
            let value = alloc::format!("{prefix}{round}");
            put(b, &alloc::format!("k{k}"), Some(&value));
        }
    }
}

/// Every record of `t-0` read through Fetch from offset 0, batch after batch.
fn read_all(b: &mut B) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut offset = 0;
    for _ in 0..10_000 {
        let mut resp: FetchResponse = call(b, 12, &fetch_request("t", 0, offset, 0, 1));
        let p: PartitionData = resp.responses.remove(0).partitions.remove(0);
        assert_eq!(p.error_code, 0, "fetch at {offset}");
        let bytes = match &p.records {
            Some(Records::Bytes(bytes)) => bytes.clone(),
            _ => Vec::new(),
        };
        if bytes.is_empty() {
            assert_eq!(offset, p.high_watermark, "nothing more below the end");
            return rows;
        }
        let mut rest = bytes.as_slice();
        while let Ok(batch) = RecordBatch::new_checked(rest) {
            for r in RecordIter::of_batch(&batch).flatten() {
                let key = String::from_utf8_lossy(r.key.unwrap_or_default()).into_owned();
                let value = r.value.map(|v| String::from_utf8_lossy(v).into_owned());
                rows.push((batch.base_offset() + i64::from(r.offset_delta), key, value));
            }
            offset = batch.last_offset() + 1;
            rest = &rest[batch.total_len()..];
        }
    }
    panic!("fetches did not reach the end");
}

/// Let the cleaner look and run its passes until none is left.
fn clean(b: &mut B) {
    let backoff = b.config.log_cleaner_backoff_ms;
    b.advance_ms(u64::from(backoff));
    for _ in 0..100_000 {
        b.drain().expect("drains");
        if b.cleaner.deadline.is_none_or(|d| d > b.clock.now()) {
            return;
        }
        b.advance_ms(0);
    }
    panic!("the passes did not end");
}

/// The rows of the newest record per key among `rows`.
fn newest(rows: &[Row]) -> BTreeMap<String, Row> {
    rows.iter().map(|r| (r.1.clone(), r.clone())).collect()
}

#[test]
fn only_the_newest_record_of_each_key_is_left_in_sealed_segments() {
    let mut b = start();
    create(&mut b, "t", 1, &[("cleanup.policy", "compact")]);
    versions(&mut b, 0..4, 10, "v");
    let before = read_all(&mut b);
    let end = b.topics.partition(0).expect("p").log.log_end_offset();
    assert!(b.topics.partition(0).expect("p").log.segment_count() > 3);
    clean(&mut b);
    assert!(b.storage.segments_replaced > 0);
    let after = read_all(&mut b);
    assert!(
        after.len() < before.len(),
        "{} of {}",
        after.len(),
        before.len()
    );
    // Every record read back is one written, at its offset; the newest of each key is there.
    assert!(after.iter().all(|r| before.contains(r)));
    assert_eq!(newest(&after), newest(&before));
    // Sealed segments hold one record per key at most; offsets were not renumbered.
    let active = b.topics.partition(0).expect("p").log.active_base_offset();
    let sealed: Vec<&Row> = after.iter().filter(|r| r.0 < active).collect();
    let mut keys: Vec<&String> = sealed.iter().map(|r| &r.1).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), sealed.len());
    assert_eq!(b.topics.partition(0).expect("p").log.log_end_offset(), end);
    // Nothing changed since: the next look finds nothing dirty and replaces nothing.
    let replaced = b.storage.segments_replaced;
    clean(&mut b);
    assert_eq!(b.storage.segments_replaced, replaced);
}

#[test]
fn a_topic_without_compact_is_never_cleaned() {
    let mut b = start();
    create(&mut b, "t", 1, &[]);
    versions(&mut b, 0..4, 6, "v");
    let before = read_all(&mut b);
    clean(&mut b);
    assert_eq!(
        b.cleaner.deadline, None,
        "an idle broker does not wake for the cleaner"
    );
    assert_eq!(read_all(&mut b), before);
    assert_eq!(b.storage.segments_replaced, 0);
}

#[test]
fn tombstones_are_removed_only_after_delete_retention_since_a_pass() {
    let mut b = start();
    create(
        &mut b,
        "t",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("delete.retention.ms", "60000"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    );
    put(&mut b, "gone", Some("x"));
    put(&mut b, "gone", None);
    for i in 0..20 {
        put(&mut b, &alloc::format!("k{}", i % 3), Some("filler"));
    }
    clean(&mut b);
    let rows = read_all(&mut b);
    assert!(
        rows.iter().any(|r| r.1 == "gone" && r.2.is_none()),
        "the tombstone stays"
    );
    assert!(!rows.iter().any(|r| r.1 == "gone" && r.2.is_some()));
    // A minute later, and more writes so the log is dirty again: the next pass removes it.
    b.advance_ms(60_000);
    b.drain().expect("drains");
    for i in 0..20 {
        put(&mut b, &alloc::format!("k{}", i % 3), Some("more"));
    }
    clean(&mut b);
    let rows = read_all(&mut b);
    assert!(!rows.iter().any(|r| r.1 == "gone"), "{rows:?}");
}

#[test]
fn records_newer_than_the_minimum_lag_are_not_cleaned() {
    let mut b = start();
    create(
        &mut b,
        "t",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("min.compaction.lag.ms", "600000"),
        ],
    );
    versions(&mut b, 0..4, 6, "v");
    let before = read_all(&mut b);
    clean(&mut b);
    assert_eq!(read_all(&mut b), before, "all within the lag");
    b.advance_ms(600_000);
    b.drain().expect("drains");
    put(&mut b, "k0", Some("later"));
    clean(&mut b);
    assert!(read_all(&mut b).len() < before.len());
}

#[test]
fn a_small_key_map_cleans_in_several_passes() {
    let mut b = start();
    b.config.log_cleaner_dedupe_buffer_size = 2 * 60;
    create(
        &mut b,
        "t",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    );
    versions(&mut b, 0..6, 5, "v");
    let before = read_all(&mut b);
    clean(&mut b);
    let after = read_all(&mut b);
    assert!(after.len() < before.len());
    assert!(after.iter().all(|r| before.contains(r)));
    assert_eq!(newest(&after), newest(&before));
}

/// One step of the property test.
#[derive(Clone, Debug)]
enum Op {
    Put(u8, Option<u8>),
    Clean,
    Wait,
}

impl quickcheck::Arbitrary for Op {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        match u8::arbitrary(g) % 10 {
            0 => Op::Clean,
            1 => Op::Wait,
            2 => Op::Put(u8::arbitrary(g) % 8, None),
            _ => Op::Put(u8::arbitrary(g) % 8, Some(u8::arbitrary(g))),
        }
    }
}

fn compaction_keeps_the_newest_of_each_key(ops: Vec<Op>) -> bool {
    let mut b = start();
    create(
        &mut b,
        "t",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("delete.retention.ms", "1000"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    );
    let mut written: Vec<Row> = Vec::new();
    for op in ops {
        match op {
            Op::Put(k, v) => {
                let key = alloc::format!("k{k}");
                let value = v.map(|v| alloc::format!("{v:03}"));
                let offset = put(&mut b, &key, value.as_deref());
                written.push((offset, key, value));
            }
            Op::Clean => clean(&mut b),
            Op::Wait => b.advance_ms(1_000),
        }
    }
    clean(&mut b);
    let read = read_all(&mut b);
    // Everything read was written, at its offset, in order; each key's newest record is there,
    // except a tombstone, which may be gone.
    let in_order = read.windows(2).all(|w| w[0].0 < w[1].0);
    let all_written = read.iter().all(|r| written.contains(r));
    let newest_read = newest(&read);
    let newest_kept =
        newest(&written)
            .into_iter()
            .all(|(key, row)| match (newest_read.get(&key), &row.2) {
                (Some(r), _) => *r == row,
                (None, value) => value.is_none(),
            });
    in_order && all_written && newest_kept
}

#[test]
fn property_compaction_keeps_the_newest_of_each_key() {
    quickcheck::QuickCheck::new()
        .tests(60)
        .quickcheck(compaction_keeps_the_newest_of_each_key as fn(Vec<Op>) -> bool);
}

/// A simple consumer's commit (no generation) of `offset` for `t`-0 in `group`.
fn commit(b: &mut B, group: &str, offset: i64) {
    let req = crate::broker::harness::offset_commit_request(group, "t", offset);
    let resp: crate::codec::messages::OffsetCommitResponse = call(b, 7, &req);
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
}

/// The offset `group` committed for `t`-0, -1 if none.
fn committed(b: &mut B, group: &str) -> i64 {
    use crate::codec::messages::offset_fetch_request::OffsetFetchRequestTopic;
    let req = crate::codec::messages::OffsetFetchRequest {
        group_id: group.into(),
        topics: Some(alloc::vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: alloc::vec![0],
        }]),
        ..Default::default()
    };
    let resp: crate::codec::messages::OffsetFetchResponse = call(b, 7, &req);
    resp.topics[0].partitions[0].committed_offset
}

/// Bytes of batches the offsets log holds.
fn offsets_log_bytes(b: &B) -> usize {
    log_bytes(b, "__consumer_offsets")
}

/// Bytes of batches partition 0 of `topic` holds.
fn log_bytes(b: &B, topic: &str) -> usize {
    let ti = b.topics.by_name(topic).expect("created");
    let pi = b.topics.partition_of(ti, 0).expect("partition 0");
    let log = &b.topics.partition(pi).expect("live").log;
    log.segments().iter().map(|s| s.len_bytes()).sum()
}

/// `(key, whether a tombstone)` of every record the offsets log holds, oldest first.
fn offsets_log_records(b: &B) -> Vec<(Vec<u8>, bool)> {
    let ti = b.topics.by_name("__consumer_offsets").expect("created");
    let pi = b.topics.partition_of(ti, 0).expect("partition 0");
    let log = &b.topics.partition(pi).expect("live").log;
    let mut records = Vec::new();
    for s in log.segments() {
        let mut rest = &s.buffer().as_ref()[..s.len_bytes()];
        while let Ok(batch) = RecordBatch::new_checked(rest) {
            for r in RecordIter::of_batch(&batch).flatten() {
                records.push((r.key.unwrap_or_default().to_vec(), r.value.is_none()));
            }
            rest = &rest[batch.total_len()..];
        }
    }
    records
}

/// The records of the offsets log whose key names `group`.
fn of_group(records: &[(Vec<u8>, bool)], group: &str) -> Vec<bool> {
    let name = group.as_bytes();
    records
        .iter()
        .filter(|(k, _)| k.windows(name.len()).any(|w| w == name))
        .map(|(_, tombstone)| *tombstone)
        .collect()
}

/// The broker after a crash: what its storage holds, replayed, its clocks where they were.
fn restarted(b: B) -> B {
    restarted_with(b, None)
}

/// [`restarted`], with `cleaner_checkpoint` as the cleaner's checkpoint it finds.
fn restarted_with(b: B, cleaner_checkpoint: Option<Vec<u8>>) -> B {
    let metadata = b.storage.metadata.clone();
    let found = b.found_after_crash(|t, p| metadata.get(&(String::from(t), p)).cloned());
    let clock = b.clock;
    let config = b.config.clone();
    let mut storage = MemoryStorage {
        found,
        cleaner_checkpoint,
        ..MemoryStorage::default()
    };
    storage.metadata = metadata;
    let mut b = Driver::start(config, storage, clock).expect("restarts");
    b.accept(crate::broker::harness::CONN);
    b
}

#[test]
fn the_offsets_log_is_compacted_to_the_offsets_held_and_replays_the_same() {
    let mut b = start();
    create(&mut b, "t", 1, &[]);
    for round in 0..40 {
        commit(&mut b, "kept", round);
        commit(&mut b, "gone", round);
    }
    let written = offsets_log_bytes(&b);
    let req = crate::codec::messages::DeleteGroupsRequest {
        groups_names: alloc::vec!["gone".into()],
    };
    let resp: crate::codec::messages::DeleteGroupsResponse = call(&mut b, 2, &req);
    assert_eq!(resp.results[0].error_code, 0);
    clean(&mut b);
    // Left: the newest commit of "kept" and the tombstones of "gone" (its offset's and its
    // own), in the segments, and whatever the active segment holds.
    let cleaned = offsets_log_bytes(&b);
    assert!(cleaned * 4 < written, "{cleaned} of {written} bytes");
    // (The active segment, never cleaned, may still hold the last commit of "gone".)
    let gone = of_group(&offsets_log_records(&b), "gone");
    assert!(gone.ends_with(&[true, true]) && gone.len() <= 3, "{gone:?}");
    let mut b = restarted(b);
    assert_eq!(
        (committed(&mut b, "kept"), committed(&mut b, "gone")),
        (39, -1)
    );

    // Tombstones go in a pass once one that cleaned past them ended a day
    // (delete.retention.ms) ago; the restart forgot the passes, so two more days of commits
    // and passes, and "gone" stays gone with no record of it left.
    let mut round = 40;
    for _ in 0..2 {
        b.advance_ms(86_400_000);
        for _ in 0..40 {
            commit(&mut b, "kept", round);
            round += 1;
        }
        clean(&mut b);
    }
    let mut b = restarted(b);
    assert_eq!(
        (committed(&mut b, "kept"), committed(&mut b, "gone")),
        (119, -1)
    );
    assert_eq!(
        of_group(&offsets_log_records(&b), "gone"),
        Vec::<bool>::new()
    );
    assert!(offsets_log_bytes(&b) * 2 < written);
}

/// InitProducerId for transactional id `id`: `(error, producer id, epoch)`.
fn init_producer(b: &mut B, id: &str) -> (i16, i64, i16) {
    let req = crate::codec::messages::InitProducerIdRequest {
        transactional_id: Some(id.into()),
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
    };
    let r: crate::codec::messages::InitProducerIdResponse = call(b, 4, &req);
    (r.error_code, r.producer_id, r.producer_epoch)
}

#[test]
fn the_transaction_log_is_compacted_to_the_ids_held_and_replays_the_same() {
    let mut b = start();
    let mut last = (0, 0, 0);
    for _ in 0..40 {
        last = init_producer(&mut b, "app-1");
        assert_eq!(last.0, 0);
    }
    assert_eq!(init_producer(&mut b, "app-2").0, 0);
    let written = log_bytes(&b, "__transaction_state");
    clean(&mut b);
    let cleaned = log_bytes(&b, "__transaction_state");
    assert!(cleaned * 4 < written, "{cleaned} of {written} bytes");
    // The newest state of each id is what a restart replays: the next epoch follows on.
    let mut b = restarted(b);
    let (error, producer_id, epoch) = init_producer(&mut b, "app-1");
    assert_eq!((error, producer_id, epoch), (0, last.1, last.2 + 1));
}

#[test]
fn a_restart_keeps_what_the_passes_cleaned_and_when() {
    let mut b = start();
    create(&mut b, "t", 1, &[("cleanup.policy", "compact")]);
    versions(&mut b, 0..4, 10, "v");
    let tombstone = put(&mut b, "k0", None);
    versions(&mut b, 1..4, 10, "u");
    clean(&mut b);
    let first_dirty = b.cleaner.first_dirty.get(&0).copied().expect("cleaned");
    assert!(first_dirty > tombstone, "the pass went past the tombstone");
    let passes = b.cleaner.passes.get(&0).cloned().expect("a pass");
    let rows = read_all(&mut b);
    assert!(
        rows.iter().any(|r| r.1 == "k0" && r.2.is_none()),
        "the tombstone is kept"
    );
    // After a crash: the same progress, so the next look finds nothing to clean.
    let checkpoint = b.storage.cleaner_checkpoint.clone();
    assert!(checkpoint.is_some());
    let mut b = restarted_with(b, checkpoint);
    assert_eq!(b.cleaner.first_dirty.get(&0), Some(&first_dirty));
    assert_eq!(b.cleaner.passes.get(&0), Some(&passes));
    clean(&mut b);
    assert_eq!(b.storage.segments_replaced, 0, "nothing cleaned again");
    assert_eq!(read_all(&mut b), rows);
    // The tombstone goes a day (delete.retention.ms) after the pass before the restart passed
    // it, at the first pass after that day (without the checkpoint it would wait a day after
    // a pass of this run).
    b.advance_ms(86_400_000);
    versions(&mut b, 1..4, 10, "w");
    clean(&mut b);
    assert!(b.storage.segments_replaced > 0, "a pass ran");
    assert!(
        !read_all(&mut b).iter().any(|r| r.1 == "k0"),
        "the tombstone went"
    );
}

#[test]
fn a_checkpoint_of_a_deleted_topic_is_not_applied_to_a_new_one_of_its_name() {
    let mut b = start();
    create(&mut b, "t", 1, &[("cleanup.policy", "compact")]);
    for round in 0..10 {
        put(&mut b, "k", Some(&alloc::format!("v{round}")));
    }
    clean(&mut b);
    let checkpoint = b.storage.cleaner_checkpoint.clone();
    let mut b = restarted_with(b, None);
    let req = crate::codec::messages::DeleteTopicsRequest {
        topic_names: alloc::vec!["t".into()],
        timeout_ms: 1000,
        ..Default::default()
    };
    let deleted: crate::codec::messages::DeleteTopicsResponse = call(&mut b, 4, &req);
    assert_eq!(deleted.responses[0].error_code, 0);
    create(&mut b, "t", 1, &[("cleanup.policy", "compact")]);
    let b = restarted_with(b, checkpoint);
    assert!(b.cleaner.first_dirty.is_empty(), "another topic id");
}

#[test]
fn the_broker_creates_its_logs_compacted_in_kafkas_smaller_segments() {
    let mut b = driven(BrokerConfig::default(), MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    commit(&mut b, "g", 1);
    assert_eq!(init_producer(&mut b, "app").0, 0);
    for log in ["__consumer_offsets", "__transaction_state"] {
        let ti = b.topics.by_name(log).expect("created");
        let settings = &b.topics.topic(ti).settings;
        assert!(settings.compact, "{log}");
        assert_eq!(settings.segment_bytes, 100 << 20, "{log}");
    }
}
