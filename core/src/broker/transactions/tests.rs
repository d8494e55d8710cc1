//! The transaction APIs end to end through the broker: Kafka's answers, what survives a
//! restart, timeouts.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::broker::harness::{Driver, broker, call, create, driven, produce_request};
use crate::codec::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use crate::codec::messages::offset_fetch_request::OffsetFetchRequestTopic;
use crate::codec::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use crate::codec::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, DescribeTransactionsRequest, DescribeTransactionsResponse,
    EndTxnRequest, EndTxnResponse, InitProducerIdRequest, InitProducerIdResponse,
    ListTransactionsRequest, ListTransactionsResponse, MetadataRequest, MetadataResponse,
    OffsetFetchRequest, OffsetFetchResponse, ProduceRequest, ProduceResponse,
    TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use crate::records::BatchBuilder;
use crate::storage::MemoryStorage;

const PRODUCER_FENCED: i16 = 90;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const OPERATION_NOT_ATTEMPTED: i16 = 55;
const UNSTABLE_OFFSET_COMMIT: i16 = 88;
const TRANSACTION_ABORTABLE: i16 = 120;

type B = Driver<MemoryStorage>;

fn init(b: &mut B, id: &str, timeout_ms: i32) -> (i16, i64, i16) {
    let req = InitProducerIdRequest {
        transactional_id: Some(id.into()),
        transaction_timeout_ms: timeout_ms,
        producer_id: -1,
        producer_epoch: -1,
    };
    let r: InitProducerIdResponse = call(b, 4, &req);
    (r.error_code, r.producer_id, r.producer_epoch)
}

/// AddPartitionsToTxn v3: each partition's error, in request order.
fn add(b: &mut B, id: &str, pid: i64, epoch: i16, parts: &[(&str, i32)]) -> Vec<i16> {
    add_at(b, 3, id, pid, epoch, parts)
}

fn add_at(b: &mut B, v: i16, id: &str, pid: i64, epoch: i16, parts: &[(&str, i32)]) -> Vec<i16> {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for &(t, p) in parts {
        match topics.iter_mut().find(|x| x.name == t) {
            Some(x) => x.partitions.push(p),
            None => topics.push(AddPartitionsToTxnTopic {
                name: t.into(),
                partitions: vec![p],
            }),
        }
    }
    let req = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: id.into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: topics,
        ..Default::default()
    };
    let r: AddPartitionsToTxnResponse = call(b, v, &req);
    r.results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
        })
        .collect()
}

fn end(b: &mut B, v: i16, id: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
    let req = EndTxnRequest {
        transactional_id: id.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: commit,
    };
    let r: EndTxnResponse = call(b, v, &req);
    r.error_code
}

/// `(state, partitions)` DescribeTransactions reports for `id`, or its error as the state.
fn describe(b: &mut B, id: &str) -> (String, Vec<(String, i32)>) {
    let req = DescribeTransactionsRequest {
        transactional_ids: vec![id.into()],
    };
    let r: DescribeTransactionsResponse = call(b, 0, &req);
    let s = &r.transaction_states[0];
    if s.error_code != 0 {
        return (alloc::format!("error {}", s.error_code), Vec::new());
    }
    let parts = s
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|&p| (t.topic.clone(), p)))
        .collect();
    (s.transaction_state.clone(), parts)
}

fn txn_batch(pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
    let mut batch = BatchBuilder::new(0).producer(pid, epoch, seq, true);
    batch.push(1_000, None, Some(b"v"), &[]);
    batch.finish()
}

fn produce_txn(b: &mut B, v: i16, id: &str, partition: i32, batch: Vec<u8>) -> i16 {
    let mut req: ProduceRequest = produce_request("t", partition, batch);
    req.transactional_id = Some(id.into());
    let r: ProduceResponse = call(b, v, &req);
    r.responses[0].partition_responses[0].error_code
}

#[test]
fn a_transaction_begins_adds_partitions_and_commits() {
    let mut b = broker();
    create(&mut b, "t", 2, &[]);
    let (code, pid, epoch) = init(&mut b, "tx", 60_000);
    assert_eq!((code, epoch), (0, 0));
    assert!(pid >= 0);
    assert_eq!(describe(&mut b, "tx"), (String::from("Empty"), vec![]));
    assert_eq!(add(&mut b, "tx", pid, epoch, &[("t", 0), ("t", 1)]), [0, 0]);
    assert_eq!(
        describe(&mut b, "tx"),
        (
            String::from("Ongoing"),
            vec![("t".into(), 0), ("t".into(), 1)]
        )
    );
    assert_eq!(produce_txn(&mut b, 9, "tx", 0, txn_batch(pid, epoch, 0)), 0);
    assert_eq!(end(&mut b, 3, "tx", pid, epoch, true), 0);
    assert_eq!(
        describe(&mut b, "tx"),
        (String::from("CompleteCommit"), vec![])
    );
    // A retried commit is answered as the first; aborting what committed is not.
    assert_eq!(end(&mut b, 3, "tx", pid, epoch, true), 0);
    assert_eq!(end(&mut b, 3, "tx", pid, epoch, false), INVALID_TXN_STATE);
    // Nothing is open: ending again is refused, TRANSACTION_ABORTABLE from EndTxn v4.
    let (_, pid2, epoch2) = init(&mut b, "other", 60_000);
    assert_eq!(
        end(&mut b, 3, "other", pid2, epoch2, true),
        INVALID_TXN_STATE
    );
    assert_eq!(
        end(&mut b, 4, "other", pid2, epoch2, true),
        TRANSACTION_ABORTABLE
    );
}

#[test]
fn unknown_partitions_fail_the_whole_add() {
    let mut b = broker();
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 60_000);
    assert_eq!(
        add(&mut b, "tx", pid, epoch, &[("t", 0), ("t", 5), ("nope", 0)]),
        [
            OPERATION_NOT_ATTEMPTED,
            UNKNOWN_TOPIC_OR_PARTITION,
            UNKNOWN_TOPIC_OR_PARTITION
        ]
    );
    assert_eq!(describe(&mut b, "tx").0, "Empty", "nothing was added");
    assert_eq!(
        add(&mut b, "nobody", 5, 0, &[("t", 0)]),
        [INVALID_PRODUCER_ID_MAPPING]
    );
}

#[test]
fn a_new_producer_fences_the_old_one_with_the_versions_error() {
    let mut b = broker();
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 60_000);
    assert_eq!(add(&mut b, "tx", pid, epoch, &[("t", 0)]), [0]);
    // The second producer's init aborts the open transaction and bumps the epoch twice, as
    // Kafka's fence and the producer's retry do.
    let (code, pid2, epoch2) = init(&mut b, "tx", 60_000);
    assert_eq!((code, pid2, epoch2), (0, pid, epoch + 2));
    assert_eq!(describe(&mut b, "tx"), (String::from("Empty"), vec![]));
    assert_eq!(
        end(&mut b, 1, "tx", pid, epoch, true),
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(end(&mut b, 2, "tx", pid, epoch, true), PRODUCER_FENCED);
    assert_eq!(
        add_at(&mut b, 1, "tx", pid, epoch, &[("t", 0)]),
        [INVALID_PRODUCER_EPOCH]
    );
    assert_eq!(
        add_at(&mut b, 2, "tx", pid, epoch, &[("t", 0)]),
        [PRODUCER_FENCED]
    );
    // The old producer's batches are refused as Kafka's verification refuses them.
    assert_eq!(
        produce_txn(&mut b, 9, "tx", 0, txn_batch(pid, epoch, 1)),
        INVALID_PRODUCER_EPOCH
    );
}

#[test]
fn a_batch_to_a_partition_outside_the_transaction_is_refused() {
    let mut b = broker();
    create(&mut b, "t", 2, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 60_000);
    assert_eq!(add(&mut b, "tx", pid, epoch, &[("t", 0)]), [0]);
    assert_eq!(
        produce_txn(&mut b, 10, "tx", 1, txn_batch(pid, epoch, 0)),
        INVALID_TXN_STATE
    );
    assert_eq!(
        produce_txn(&mut b, 11, "tx", 1, txn_batch(pid, epoch, 0)),
        TRANSACTION_ABORTABLE
    );
    assert_eq!(
        produce_txn(&mut b, 11, "tx", 0, txn_batch(pid, epoch, 0)),
        0
    );
}

#[test]
fn transaction_timeouts_are_bounded_by_the_broker() {
    let mut b = broker();
    assert_eq!(init(&mut b, "tx", 900_001).0, INVALID_TRANSACTION_TIMEOUT);
    assert_eq!(init(&mut b, "tx", 0).0, INVALID_TRANSACTION_TIMEOUT);
    assert_eq!(init(&mut b, "", 1000).0, 42, "INVALID_REQUEST");
    assert_eq!(init(&mut b, "tx", 900_000).0, 0);
}

fn fetch_offset(b: &mut B, group: &str, require_stable: bool) -> (i64, i16) {
    let req = OffsetFetchRequest {
        group_id: group.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0],
        }]),
        require_stable,
        ..Default::default()
    };
    let r: OffsetFetchResponse = call(b, 7, &req);
    let p = &r.topics[0].partitions[0];
    (p.committed_offset, p.error_code)
}

fn txn_commit_offset(b: &mut B, id: &str, pid: i64, epoch: i16, offset: i64) -> i16 {
    let req = TxnOffsetCommitRequest {
        transactional_id: id.into(),
        group_id: "g".into(),
        producer_id: pid,
        producer_epoch: epoch,
        generation_id: -1,
        member_id: String::new(),
        topics: vec![TxnOffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![TxnOffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_leader_epoch: -1,
                committed_metadata: Some("m".into()),
            }],
        }],
        ..Default::default()
    };
    let r: TxnOffsetCommitResponse = call(b, 3, &req);
    r.topics[0].partitions[0].error_code
}

fn add_offsets(b: &mut B, id: &str, pid: i64, epoch: i16) -> i16 {
    let req = AddOffsetsToTxnRequest {
        transactional_id: id.into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: "g".into(),
    };
    let r: AddOffsetsToTxnResponse = call(b, 3, &req);
    r.error_code
}

#[test]
fn transactional_offsets_show_only_once_committed() {
    let mut b = broker();
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 60_000);
    // TxnOffsetCommit before AddOffsetsToTxn: the offsets log is not in the transaction.
    assert_eq!(
        txn_commit_offset(&mut b, "tx", pid, epoch, 5),
        INVALID_TXN_STATE
    );
    assert_eq!(add_offsets(&mut b, "tx", pid, epoch), 0);
    assert_eq!(txn_commit_offset(&mut b, "tx", pid, epoch, 5), 0);
    assert_eq!(
        fetch_offset(&mut b, "g", false),
        (-1, 0),
        "pending: not yet visible"
    );
    assert_eq!(
        fetch_offset(&mut b, "g", true),
        (-1, UNSTABLE_OFFSET_COMMIT)
    );
    assert_eq!(end(&mut b, 3, "tx", pid, epoch, true), 0);
    assert_eq!(fetch_offset(&mut b, "g", true), (5, 0));
    // An aborted transaction's offsets never show.
    assert_eq!(add_offsets(&mut b, "tx", pid, epoch), 0);
    assert_eq!(txn_commit_offset(&mut b, "tx", pid, epoch, 9), 0);
    assert_eq!(end(&mut b, 3, "tx", pid, epoch, false), 0);
    assert_eq!(fetch_offset(&mut b, "g", true), (5, 0));
}

#[test]
fn an_open_transaction_times_out_aborts_and_fences_its_producer() {
    let mut b = broker();
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 1_000);
    assert_eq!(add(&mut b, "tx", pid, epoch, &[("t", 0)]), [0]);
    assert!(b.deadline().is_some(), "the timeout is a deadline");
    b.advance_ms(999);
    b.drain().expect("drains");
    assert_eq!(describe(&mut b, "tx").0, "Ongoing");
    b.advance_ms(1);
    b.drain().expect("drains");
    assert_eq!(describe(&mut b, "tx").0, "CompleteAbort");
    assert_eq!(end(&mut b, 3, "tx", pid, epoch, true), PRODUCER_FENCED);
    let (code, _, epoch2) = init(&mut b, "tx", 1_000);
    assert_eq!((code, epoch2), (0, epoch + 2));
    // Nothing open: the coordinator's next deadline is the idle id's expiry, a week on.
    let week = core::time::Duration::from_millis(604_800_000 - 2_000);
    let now = b.now;
    assert!(b.txn_deadline.is_some_and(|d| d >= now + week));
}

#[test]
fn the_transaction_log_is_replayed_at_a_restart() {
    let mut b = broker();
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 60_000);
    assert_eq!(add(&mut b, "tx", pid, epoch, &[("t", 0)]), [0]);
    assert_eq!(add_offsets(&mut b, "tx", pid, epoch), 0);
    assert_eq!(txn_commit_offset(&mut b, "tx", pid, epoch, 3), 0);
    let (_, done_pid, done_epoch) = init(&mut b, "done", 60_000);
    let config = b.config().clone();
    let metadata = b.storage.metadata.clone();
    let found = b.found_after_crash(|t, p| metadata.get(&(String::from(t), p)).cloned());
    let storage = MemoryStorage {
        found,
        metadata,
        ..MemoryStorage::default()
    };
    let mut again = driven(config, storage);
    assert_eq!(
        describe(&mut again, "tx"),
        (
            String::from("Ongoing"),
            vec![("__consumer_offsets".into(), 0), ("t".into(), 0)]
        )
    );
    assert_eq!(
        fetch_offset(&mut again, "g", true),
        (-1, UNSTABLE_OFFSET_COMMIT)
    );
    assert_eq!(end(&mut again, 3, "tx", pid, epoch, true), 0);
    assert_eq!(fetch_offset(&mut again, "g", true), (3, 0));
    assert_eq!(describe(&mut again, "done").0, "Empty");
    // Producer ids issued after the restart are new ones.
    let (_, fresh, _) = init(&mut again, "fresh", 60_000);
    assert!(fresh != pid && fresh != done_pid);
    assert_eq!(done_epoch, 0);
    // The transaction log is internal, as Kafka's is.
    let all = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let md: MetadataResponse = call(&mut again, 12, &all);
    let internal: Vec<_> = md
        .topics
        .iter()
        .filter(|t| t.is_internal)
        .map(|t| t.name.clone().unwrap_or_default())
        .collect();
    assert!(
        internal.contains(&String::from("__transaction_state")),
        "{internal:?}"
    );
}

#[test]
fn list_transactions_filters_by_state() {
    let mut b = broker();
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "open", 60_000);
    assert_eq!(add(&mut b, "open", pid, epoch, &[("t", 0)]), [0]);
    init(&mut b, "idle", 60_000);
    let list = |b: &mut B, states: &[&str]| {
        let req = ListTransactionsRequest {
            state_filters: states.iter().map(|s| String::from(*s)).collect(),
            duration_filter: -1,
            ..Default::default()
        };
        let r: ListTransactionsResponse = call(b, 1, &req);
        let names: Vec<String> = r
            .transaction_states
            .iter()
            .map(|s| alloc::format!("{}={}", s.transactional_id, s.transaction_state))
            .collect();
        (names, r.unknown_state_filters)
    };
    assert_eq!(
        list(&mut b, &[]),
        (
            vec![String::from("idle=Empty"), String::from("open=Ongoing")],
            vec![]
        )
    );
    assert_eq!(
        list(&mut b, &["Ongoing"]).0,
        vec![String::from("open=Ongoing")]
    );
    assert_eq!(
        list(&mut b, &["Nope"]),
        (vec![], vec![String::from("Nope")])
    );
    assert_eq!(
        describe(&mut b, "missing").0,
        "error 105",
        "TRANSACTIONAL_ID_NOT_FOUND"
    );
}

#[test]
fn an_idle_transactional_id_expires() {
    let config = crate::broker::BrokerConfig {
        transactional_id_expiration_ms: 5_000,
        ..crate::broker::BrokerConfig::default()
    };
    let mut b = driven(config, MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 60_000);
    assert_eq!(add(&mut b, "tx", pid, epoch, &[("t", 0)]), [0]);
    b.advance_ms(10_000);
    b.drain().expect("drains");
    assert_eq!(
        describe(&mut b, "tx").0,
        "Ongoing",
        "an open transaction stays"
    );
    assert_eq!(end(&mut b, 3, "tx", pid, epoch, false), 0);
    b.advance_ms(4_999);
    b.drain().expect("drains");
    assert_eq!(describe(&mut b, "tx").0, "CompleteAbort");
    b.advance_ms(1);
    b.drain().expect("drains");
    assert_eq!(describe(&mut b, "tx").0, "error 105");
    assert_eq!(
        b.txn_deadline, None,
        "nothing left for the coordinator to do"
    );
    // Its producer can no longer resume: the id maps to no producer.
    assert_eq!(
        end(&mut b, 3, "tx", pid, epoch, true),
        INVALID_PRODUCER_ID_MAPPING
    );
}

#[test]
fn describe_producers_names_each_producer_and_its_open_transaction() {
    use crate::codec::messages::describe_producers_request::TopicRequest;
    use crate::codec::messages::{DescribeProducersRequest, DescribeProducersResponse};
    let mut b = broker();
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 60_000);
    assert_eq!(add(&mut b, "tx", pid, epoch, &[("t", 0)]), [0]);
    let mut first = BatchBuilder::new(0).producer(pid, epoch, 0, true);
    first.push(1_000, None, Some(b"a"), &[]);
    first.push(2_000, None, Some(b"b"), &[]);
    assert_eq!(produce_txn(&mut b, 9, "tx", 0, first.finish()), 0);
    assert_eq!(produce_txn(&mut b, 9, "tx", 0, txn_batch(pid, epoch, 2)), 0);
    let describe_producers = |b: &mut B| {
        let req = DescribeProducersRequest {
            topics: vec![TopicRequest {
                name: "t".into(),
                partition_indexes: vec![0, 9],
            }],
        };
        let r: DescribeProducersResponse = call(b, 0, &req);
        r.topics[0]
            .partitions
            .iter()
            .map(|p| {
                let producers: Vec<_> = p
                    .active_producers
                    .iter()
                    .map(|s| {
                        (
                            s.producer_id,
                            s.producer_epoch,
                            s.last_sequence,
                            s.last_timestamp,
                            s.current_txn_start_offset,
                        )
                    })
                    .collect();
                (p.partition_index, p.error_code, producers)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        describe_producers(&mut b),
        vec![
            (0, 0, vec![(pid, i32::from(epoch), 2, 1_000, 0)]),
            (9, UNKNOWN_TOPIC_OR_PARTITION, vec![])
        ]
    );
    assert_eq!(end(&mut b, 3, "tx", pid, epoch, true), 0);
    assert_eq!(
        describe_producers(&mut b)[0].2[0].4,
        -1,
        "no transaction open"
    );
}

#[test]
fn a_transaction_prepared_before_a_crash_is_completed_after_the_restart() {
    use crate::codec::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use crate::codec::messages::{ListOffsetsRequest, ListOffsetsResponse};
    let mut b = broker();
    create(&mut b, "t", 1, &[]);
    let (_, pid, epoch) = init(&mut b, "tx", 60_000);
    assert_eq!(add(&mut b, "tx", pid, epoch, &[("t", 0)]), [0]);
    assert_eq!(produce_txn(&mut b, 9, "tx", 0, txn_batch(pid, epoch, 0)), 0);
    // The crash comes after PrepareCommit is stored, before any marker is written.
    let unix_ms = b.unix_ms;
    let prepared = b
        .txns
        .prepare_end("tx", pid, epoch, true, unix_ms)
        .expect("ends")
        .expect("prepared");
    b.store_txn("tx", prepared).expect("stored");
    let found = b.found_after_crash_with(
        |t, p| b.storage.metadata.get(&(String::from(t), p)).cloned(),
        |t, p| {
            b.storage
                .transaction_indexes
                .get(&(String::from(t), p))
                .cloned()
        },
    );
    let storage = MemoryStorage {
        found,
        metadata: b.storage.metadata.clone(),
        transaction_indexes: b.storage.transaction_indexes.clone(),
        ..MemoryStorage::default()
    };
    let mut again = driven(b.config().clone(), storage);
    assert_eq!(describe(&mut again, "tx").0, "PrepareCommit");
    assert_eq!(again.deadline(), Some(again.now), "due at once");
    // The runtime fires a deadline that is due.
    again.timeout();
    again.drain().expect("drains");
    assert_eq!(describe(&mut again, "tx").0, "CompleteCommit");
    let latest = ListOffsetsRequest {
        replica_id: -1,
        isolation_level: 1,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let r: ListOffsetsResponse = call(&mut again, 7, &latest);
    // The batch at 0, its COMMIT marker at 1: nothing is left open.
    assert_eq!(
        r.topics[0].partitions[0].offset, 2,
        "the last stable offset"
    );
}
