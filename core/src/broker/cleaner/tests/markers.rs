//! Transaction markers, as Kafka's cleaner treats them: a marker stays while a record of its
//! transaction does, and goes once none is left and a pass passed it `delete.retention.ms`
//! ago; an aborted transaction's records go at the first pass.

use alloc::vec::Vec;

use super::{B, clean, put, start};
use crate::broker::harness::{call, create, produce_request};
use crate::codec::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use crate::codec::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse,
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
};
use crate::records::control::{ControlType, read_marker};
use crate::records::{BatchBuilder, RecordBatch, Records as RecordIter};

/// One transaction of `id` writing `key` = `value` to `t-0`, committed or aborted; each under
/// a new epoch (InitProducerId), so its sequence starts at 0.
fn transaction(b: &mut B, id: &str, key: &str, value: &str, commit: bool) {
    let init = InitProducerIdRequest {
        transactional_id: Some(id.into()),
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
    };
    let r: InitProducerIdResponse = call(b, 4, &init);
    assert_eq!(r.error_code, 0);
    let (pid, epoch) = (r.producer_id, r.producer_epoch);
    let add = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: id.into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: alloc::vec![AddPartitionsToTxnTopic {
            name: "t".into(),
            partitions: alloc::vec![0],
        }],
        ..Default::default()
    };
    let r: AddPartitionsToTxnResponse = call(b, 3, &add);
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let mut batch = BatchBuilder::new(0).producer(pid, epoch, 0, true);
    batch.push(
        b.clock.unix_ms(),
        Some(key.as_bytes()),
        Some(value.as_bytes()),
        &[],
    );
    let mut req: ProduceRequest = produce_request("t", 0, batch.finish());
    req.transactional_id = Some(id.into());
    let r: ProduceResponse = call(b, 9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let end = EndTxnRequest {
        transactional_id: id.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: commit,
    };
    let r: EndTxnResponse = call(b, 3, &end);
    assert_eq!(r.error_code, 0);
}

/// The markers (kind) and the keys of the transactional records `t-0` holds, oldest first.
fn markers_and_txn_keys(b: &B) -> (Vec<ControlType>, Vec<Vec<u8>>) {
    let log = &b.topics.partition(0).expect("p").log;
    let (mut markers, mut keys) = (Vec::new(), Vec::new());
    for s in log.segments() {
        let mut rest = &s.buffer().as_ref()[..s.len_bytes()];
        while let Ok(batch) = RecordBatch::new_checked(rest) {
            if let Some(marker) = read_marker(&batch) {
                markers.push(marker.kind);
            } else if batch.is_transactional() {
                for r in RecordIter::of_batch(&batch).flatten() {
                    keys.push(r.key.unwrap_or_default().to_vec());
                }
            }
            rest = &rest[batch.total_len()..];
        }
    }
    (markers, keys)
}

/// Versions of keys written outside transactions, enough to roll and seal segments.
fn plain_writes(b: &mut B, round: &str) {
    for i in 0..12 {
        put(
            b,
            &alloc::format!("p{}", i % 3),
            Some(&alloc::format!("{round}{i}")),
        );
    }
}

#[test]
fn markers_go_once_no_record_of_their_transaction_is_left_and_a_pass_passed_them_long_ago() {
    let mut b = start();
    // Any dirty segment makes a pass: the second one here has little to clean.
    let configs = [
        ("cleanup.policy", "compact"),
        ("min.cleanable.dirty.ratio", "0.01"),
    ];
    create(&mut b, "t", 1, &configs);
    // Committed, its record later overwritten; aborted; committed, its record the newest.
    transaction(&mut b, "app", "a", "1", true);
    transaction(&mut b, "app", "b", "1", false);
    transaction(&mut b, "app", "c", "1", true);
    put(&mut b, "a", Some("2"));
    plain_writes(&mut b, "x");
    clean(&mut b);
    let (markers, keys) = markers_and_txn_keys(&b);
    assert_eq!(
        keys,
        [b"c".to_vec()],
        "the overwritten and the aborted records went"
    );
    assert_eq!(
        markers,
        [ControlType::Commit, ControlType::Abort, ControlType::Commit],
        "every marker stays until a pass passed it delete.retention.ms ago"
    );
    // A day (delete.retention.ms) later, the next pass removes the markers of the two
    // transactions with no record left, and keeps the one whose record is there.
    b.advance_ms(86_400_000);
    plain_writes(&mut b, "y");
    clean(&mut b);
    assert_eq!(
        b.cleaner.passes.get(&0).map(Vec::len),
        Some(2),
        "a second pass"
    );
    let (markers, keys) = markers_and_txn_keys(&b);
    assert_eq!(keys, [b"c".to_vec()]);
    assert_eq!(markers, [ControlType::Commit]);
}
