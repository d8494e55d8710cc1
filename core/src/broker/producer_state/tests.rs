//! Idempotent producers across a restart (clean, after a crash with and without a checkpoint)
//! and their expiration.

use alloc::string::String;
use alloc::vec::Vec;

use super::EXPIRATION_CHECK_INTERVAL;
use crate::broker::BrokerConfig;
use crate::broker::harness::{Driver, call, create, driven, produce_request};
use crate::codec::messages::{ProduceRequest, ProduceResponse};
use crate::records::BatchBuilder;
use crate::storage::MemoryStorage;
use crate::time::Instant;

type B = Driver<MemoryStorage>;

const PID: i64 = 7;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;
/// Wall-clock time of the test broker's start.
const T0: i64 = 1_700_000_000_000;

fn config() -> BrokerConfig {
    BrokerConfig {
        segment_size_bytes: 1_000,
        log_flush_offset_checkpoint_interval_ms: Some(1_000),
        // Longer than the check interval, so a check can find a producer not yet expired.
        producer_id_expiration_ms: 900_000,
        ..BrokerConfig::default()
    }
}

fn start(storage: MemoryStorage) -> B {
    let mut b = driven(config(), storage);
    b.clock.set_unix_ms(T0);
    b
}

/// `(error code, base offset)` of one idempotent batch of `records` records from `PID`.
fn produce(b: &mut B, epoch: i16, seq: i32, records: usize) -> (i16, i64) {
    let mut batch = BatchBuilder::new(0).producer(PID, epoch, seq, false);
    for _ in 0..records {
        batch.push(b.clock.unix_ms(), None, Some(&[3; 60]), &[]);
    }
    let req: ProduceRequest = produce_request("t", 0, batch.finish());
    let r: ProduceResponse = call(b, 9, &req);
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn log_end(b: &B) -> i64 {
    b.topics
        .partition(0)
        .expect("partition")
        .log
        .log_end_offset()
}

/// The broker restarted on what `b` stored: its segments as a crash leaves them (each checked
/// whole unless the checkpoint vouches for it), its checkpoint if one was written.
fn restarted(b: &B) -> B {
    let metadata = &b.storage.metadata;
    let found = b.found_after_crash(|t, p| metadata.get(&(String::from(t), p)).cloned());
    let storage = MemoryStorage {
        found,
        metadata: b.storage.metadata.clone(),
        recovery_checkpoint: b.storage.recovery_checkpoint.clone(),
        ..MemoryStorage::default()
    };
    start(storage)
}

/// Ten batches of 3 records (sequences 0 to 29) over several segments; returns their offsets.
fn ten_batches(b: &mut B) -> Vec<i64> {
    (0..10)
        .map(|i| {
            let (code, offset) = produce(b, 0, i * 3, 3);
            assert_eq!(code, 0);
            offset
        })
        .collect()
}

/// After a restart the producer goes on as before it: a retry of one of its last five batches
/// is answered with its offset and appends nothing, a gap is refused, the next batch appended.
fn goes_on(mut b: B, offsets: &[i64], end: i64) {
    assert_eq!(log_end(&b), end);
    assert_eq!(
        produce(&mut b, 0, 27, 3),
        (0, offsets[9]),
        "the last batch again"
    );
    assert_eq!(
        produce(&mut b, 0, 18, 3),
        (0, offsets[6]),
        "the fifth from last"
    );
    assert_eq!(log_end(&b), end, "a duplicate appends nothing");
    assert_eq!(produce(&mut b, 0, 31, 1).0, OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(produce(&mut b, 0, 30, 1), (0, end));
}

#[test]
fn a_clean_restart_keeps_every_producer() {
    let mut b = start(MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    let offsets = ten_batches(&mut b);
    let end = log_end(&b);
    assert!(
        b.topics
            .partition(0)
            .expect("partition")
            .log
            .segment_count()
            > 2
    );
    b.shutdown().expect("shuts down");
    let again = restarted(&b);
    assert!(
        again
            .topics
            .partition(0)
            .expect("partition")
            .log
            .segments()
            .iter()
            .all(|s| !s.is_indexed()),
        "nothing read: the checkpoint vouched for every segment and held the producers"
    );
    goes_on(again, &offsets, end);
}

#[test]
fn a_crash_without_a_checkpoint_reads_the_producers_from_the_log() {
    let mut b = start(MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    let offsets = ten_batches(&mut b);
    let end = log_end(&b);
    assert_eq!(b.storage.recovery_checkpoints_written, 0);
    goes_on(restarted(&b), &offsets, end);
}

#[test]
fn a_crash_after_a_checkpoint_reads_only_the_batches_after_it() {
    let mut b = start(MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    let mut offsets = Vec::new();
    for i in 0..6 {
        offsets.push(produce(&mut b, 0, i * 3, 3).1);
    }
    b.advance_ms(1_000);
    b.drain().expect("drains");
    assert_eq!(b.storage.recovery_checkpoints_written, 1);
    for i in 6..10 {
        offsets.push(produce(&mut b, 0, i * 3, 3).1);
    }
    let end = log_end(&b);
    goes_on(restarted(&b), &offsets, end);
}

#[test]
fn a_newer_epoch_stays_in_force_after_a_restart() {
    let mut b = start(MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    assert_eq!(produce(&mut b, 0, 0, 1).0, 0);
    assert_eq!(produce(&mut b, 1, 0, 1).0, 0);
    b.shutdown().expect("shuts down");
    let mut again = restarted(&b);
    assert_eq!(produce(&mut again, 0, 1, 1).0, INVALID_PRODUCER_EPOCH);
    assert_eq!(produce(&mut again, 1, 1, 1).0, 0);
}

#[test]
fn an_idle_producer_is_forgotten_after_its_expiration() {
    let mut b = start(MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    assert_eq!(produce(&mut b, 0, 0, 1).0, 0);
    // The check runs every interval while a producer is known.
    let first_check = Instant::default() + EXPIRATION_CHECK_INTERVAL;
    assert!(b.deadline().is_some_and(|d| d <= first_check));
    // 10 minutes on: not yet expired (15), so still known.
    b.advance_to(first_check);
    b.drain().expect("drains");
    assert_eq!(produce(&mut b, 0, 5, 1).0, OUT_OF_ORDER_SEQUENCE_NUMBER);
    // 20 minutes on: forgotten at the check, so any sequence starts it afresh, as for a
    // producer never seen; with none left, no check is due.
    b.advance_to(first_check + EXPIRATION_CHECK_INTERVAL);
    b.drain().expect("drains");
    assert!(b.producers.is_empty());
    assert_eq!(b.producer_expiry, None);
    assert_eq!(produce(&mut b, 0, 5, 1).0, 0);
    assert!(
        b.producer_expiry.is_some(),
        "armed again by the new producer"
    );
}

#[test]
fn a_producer_with_a_transaction_open_is_not_forgotten() {
    let mut b = start(MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    assert_eq!(produce(&mut b, 0, 0, 1).0, 0);
    // An open transaction of PID on the partition, as a transactional append records it.
    b.transaction_appended(0, PID, 0).expect("recorded");
    b.advance_to(Instant::default() + EXPIRATION_CHECK_INTERVAL * 3);
    b.drain().expect("drains");
    assert_eq!(b.producers.snapshot(0).count(), 1);
    assert_eq!(produce(&mut b, 0, 5, 1).0, OUT_OF_ORDER_SEQUENCE_NUMBER);
}
