//! The partition side of transactions through the broker's face: transactional batches appended
//! to the log directly (as the produce path does once the coordinator allows them), markers
//! written as the coordinator writes them, and Fetch and ListOffsets answered at both isolation
//! levels.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::{AbortedTxn, ENTRY_LEN, PartitionTxns};
use crate::broker::harness::{Driver, broker, call, create, driven, fetch_request};
use crate::broker::{BrokerConfig, ConnId};
use crate::codec::Records;
use crate::codec::messages::fetch_response::PartitionData;
use crate::codec::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use crate::codec::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse,
};
use crate::log::AppendAt;
use crate::records::control::{ControlType, read_marker};
use crate::records::{BatchBuilder, RecordBatch};
use crate::storage::{FoundPartition, MemorySegment, MemoryStorage, Recovery};

const TOPIC: &str = "t";
const P1: i64 = 1001;
const P2: i64 = 2002;
const READ_UNCOMMITTED: i8 = 0;
const READ_COMMITTED: i8 = 1;

/// A broker with topic `t` (one partition) and that partition's index.
fn setup() -> (Driver<MemoryStorage>, u32) {
    let mut b = broker();
    create(&mut b, TOPIC, 1, &[]);
    let pi = partition_index(&b);
    (b, pi)
}

fn partition_index(b: &Driver<MemoryStorage>) -> u32 {
    let ti = b.topics.by_name(TOPIC).expect("topic");
    b.topics.partition_of(ti, 0).expect("partition")
}

/// Append a batch of `records` records of `producer_id` (transactional if `txn`, then reported
/// as the produce path reports it); its base offset.
fn append(
    b: &mut Driver<MemoryStorage>,
    pi: u32,
    producer_id: i64,
    records: usize,
    txn: bool,
) -> i64 {
    let mut batch = BatchBuilder::new(0).producer(producer_id, 0, 0, txn);
    for i in 0..records {
        batch.push(1_000 + i as i64, None, Some(b"value"), &[]);
    }
    let at = AppendAt {
        segment_size: 4096,
        segment_ms: i64::MAX,
        unix_ms: 1,
        log_append_time: false,
    };
    let info = b
        .append_log(pi, TOPIC, 0, &batch.finish(), at)
        .expect("appended");
    if txn {
        b.transaction_appended(pi, producer_id, info.base_offset)
            .expect("recorded");
    }
    info.base_offset
}

fn marker(b: &mut Driver<MemoryStorage>, pi: u32, producer_id: i64, commit: bool) -> i64 {
    b.write_transaction_marker(pi, producer_id, 0, commit, 5)
        .expect("marker written")
}

/// Fetch v`version` of partition 0 from `offset` at `isolation`, up to `max_bytes`.
fn fetch_at(
    b: &mut Driver<MemoryStorage>,
    version: i16,
    offset: i64,
    isolation: i8,
    max_bytes: i32,
) -> PartitionData {
    let mut request = fetch_request(TOPIC, 0, offset, 0, 1);
    request.isolation_level = isolation;
    request.topics[0].partitions[0].partition_max_bytes = max_bytes;
    let mut resp: FetchResponse = call(b, version, &request);
    resp.responses.remove(0).partitions.remove(0)
}

fn fetch(b: &mut Driver<MemoryStorage>, offset: i64, isolation: i8) -> PartitionData {
    fetch_at(b, 12, offset, isolation, 1 << 20)
}

/// `(base offset, last offset)` of every batch in `p`'s records.
fn batches(p: &PartitionData) -> Vec<(i64, i64)> {
    let bytes = match &p.records {
        Some(Records::Bytes(bytes)) => bytes.as_slice(),
        _ => &[],
    };
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Ok(batch) = RecordBatch::new_unchecked_header(rest) {
        out.push((batch.base_offset(), batch.last_offset()));
        rest = &rest[batch.total_len()..];
    }
    out
}

fn aborted(p: &PartitionData) -> Option<Vec<(i64, i64)>> {
    p.aborted_transactions.as_ref().map(|list| {
        list.iter()
            .map(|a| (a.producer_id, a.first_offset))
            .collect()
    })
}

fn list_latest(b: &mut Driver<MemoryStorage>, isolation: i8) -> i64 {
    let request = ListOffsetsRequest {
        replica_id: -1,
        isolation_level: isolation,
        topics: vec![ListOffsetsTopic {
            name: TOPIC.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let resp: ListOffsetsResponse = call(b, 7, &request);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

/// Two producers interleaved: P1 aborts, P2 commits, then P1 again (open).
///
/// ```text
/// 0 plain | 1-2 P1 | 3 P2 | 4 P1 | 5 ABORT P1 | 6 P2 | 7 COMMIT P2 | 8 plain | 9 P1 (open)
/// ```
fn interleaved(b: &mut Driver<MemoryStorage>, pi: u32) {
    assert_eq!(append(b, pi, -1, 1, false), 0);
    assert_eq!(append(b, pi, P1, 2, true), 1);
    assert_eq!(append(b, pi, P2, 1, true), 3);
    assert_eq!(b.last_stable_offset(pi), 1);
    assert_eq!(append(b, pi, P1, 1, true), 4);
    assert_eq!(marker(b, pi, P1, false), 5);
    // P2 is still open from 3.
    assert_eq!(b.last_stable_offset(pi), 3);
    assert_eq!(append(b, pi, P2, 1, true), 6);
    assert_eq!(marker(b, pi, P2, true), 7);
    assert_eq!(b.last_stable_offset(pi), 8);
    assert_eq!(append(b, pi, -1, 1, false), 8);
    assert_eq!(append(b, pi, P1, 1, true), 9);
    assert_eq!(b.last_stable_offset(pi), 9);
}

#[test]
fn the_last_stable_offset_is_the_oldest_open_transaction() {
    let (mut b, pi) = setup();
    assert_eq!(
        b.last_stable_offset(pi),
        0,
        "the high watermark: nothing open"
    );
    interleaved(&mut b, pi);
    // A second marker with nothing open is still written, and changes nothing else.
    assert_eq!(marker(&mut b, pi, P2, true), 10);
    assert_eq!(b.last_stable_offset(pi), 9);
    assert_eq!(marker(&mut b, pi, P1, true), 11);
    assert_eq!(b.last_stable_offset(pi), 12);
}

#[test]
fn read_committed_stops_at_the_last_stable_offset_and_reports_aborted_transactions() {
    let (mut b, pi) = setup();
    interleaved(&mut b, pi);
    // READ_UNCOMMITTED: every batch, no list, the LSO in its field.
    let p = fetch(&mut b, 0, READ_UNCOMMITTED);
    assert_eq!((p.high_watermark, p.last_stable_offset), (10, 9));
    assert_eq!(batches(&p).last(), Some(&(9, 9)));
    assert_eq!(aborted(&p), None);
    // READ_COMMITTED: up to 8, cut before P1's open transaction; P1's abort overlaps.
    let p = fetch(&mut b, 0, READ_COMMITTED);
    assert_eq!((p.high_watermark, p.last_stable_offset), (10, 9));
    let got = batches(&p);
    assert_eq!(got.first(), Some(&(0, 0)));
    assert_eq!(got.last(), Some(&(8, 8)));
    assert_eq!(aborted(&p), Some(vec![(P1, 1)]));
    // From the LSO on: nothing yet, and an empty list (not null), as Kafka answers.
    let p = fetch(&mut b, 9, READ_COMMITTED);
    assert_eq!(batches(&p), []);
    assert_eq!(aborted(&p), Some(Vec::new()));
    // Past the abort marker: the aborted transaction is behind the range.
    let p = fetch(&mut b, 6, READ_COMMITTED);
    assert_eq!(batches(&p).first(), Some(&(6, 6)));
    assert_eq!(aborted(&p), Some(Vec::new()));
    // From inside the aborted transaction: it still overlaps.
    let p = fetch(&mut b, 5, READ_COMMITTED);
    assert_eq!(aborted(&p), Some(vec![(P1, 1)]));
    // Now P1 aborts again: the second one overlaps a fetch from 9, the first does not.
    assert_eq!(marker(&mut b, pi, P1, false), 10);
    let p = fetch(&mut b, 9, READ_COMMITTED);
    assert_eq!(batches(&p), [(9, 9), (10, 10)]);
    assert_eq!(p.last_stable_offset, 11);
    assert_eq!(aborted(&p), Some(vec![(P1, 9)]));
    let p = fetch(&mut b, 0, READ_COMMITTED);
    assert_eq!(aborted(&p), Some(vec![(P1, 1), (P1, 9)]));
}

#[test]
fn a_small_read_committed_fetch_reports_transactions_up_to_kafkas_bound() {
    let (mut b, pi) = setup();
    interleaved(&mut b, pi);
    // One batch at a time (KIP-74: the first batch even if larger than the limit). Kafka bounds
    // the list by its sparse offset index, else the segment's end: P1's abort is reported
    // though it begins after the data (as Kafka 4.1.1 answers the same log).
    let p = fetch_at(&mut b, 12, 0, READ_COMMITTED, 1);
    assert_eq!(batches(&p), [(0, 0)]);
    assert_eq!(aborted(&p), Some(vec![(P1, 1)]));
    let p = fetch_at(&mut b, 12, 1, READ_COMMITTED, 1);
    assert_eq!(batches(&p), [(1, 2)]);
    assert_eq!(aborted(&p), Some(vec![(P1, 1)]));
    // Fetch v4, the first version with isolation: the same rules.
    let p = fetch_at(&mut b, 4, 0, READ_COMMITTED, 1 << 20);
    assert_eq!(batches(&p).last(), Some(&(8, 8)));
    assert_eq!(p.last_stable_offset, 9);
    assert_eq!(aborted(&p), Some(vec![(P1, 1)]));
}

#[test]
fn a_transaction_in_a_later_segment_is_not_reported_for_an_earlier_one() {
    let (mut b, pi) = setup();
    // A batch that nearly fills the first 4 KiB segment: the next one rolls the log.
    let at = AppendAt {
        segment_size: 4096,
        segment_ms: i64::MAX,
        unix_ms: 1,
        log_append_time: false,
    };
    let mut big = BatchBuilder::new(0);
    big.push(1, None, Some(&[7; 4_000]), &[]);
    b.append_log(pi, TOPIC, 0, &big.finish(), at)
        .expect("appended");
    assert_eq!(append(&mut b, pi, P1, 1, true), 1);
    assert_eq!(marker(&mut b, pi, P1, false), 2);
    let log = &b.topics.partition(pi).expect("partition").log;
    assert_eq!(log.segment_count(), 2);
    let p = fetch_at(&mut b, 12, 0, READ_COMMITTED, 1);
    assert_eq!(batches(&p), [(0, 0)]);
    assert_eq!(
        aborted(&p),
        Some(Vec::new()),
        "bounded by the next segment's base"
    );
    let p = fetch_at(&mut b, 12, 1, READ_COMMITTED, 1);
    assert_eq!(batches(&p), [(1, 1)]);
    assert_eq!(aborted(&p), Some(vec![(P1, 1)]));
}

#[test]
fn list_offsets_latest_at_read_committed_is_the_last_stable_offset() {
    let (mut b, pi) = setup();
    append(&mut b, pi, -1, 3, false);
    append(&mut b, pi, P1, 2, true);
    assert_eq!(list_latest(&mut b, READ_UNCOMMITTED), 5);
    assert_eq!(list_latest(&mut b, READ_COMMITTED), 3);
    marker(&mut b, pi, P1, true);
    assert_eq!(list_latest(&mut b, READ_COMMITTED), 6);
}

#[test]
fn markers_are_control_batches_served_as_kafka_serves_them() {
    let (mut b, pi) = setup();
    append(&mut b, pi, P1, 1, true);
    marker(&mut b, pi, P1, false);
    append(&mut b, pi, P2, 1, true);
    b.write_transaction_marker(pi, P2, 3, true, 9)
        .expect("written");
    let p = fetch(&mut b, 0, READ_COMMITTED);
    let Some(Records::Bytes(bytes)) = &p.records else {
        panic!("records: {:?}", p.records);
    };
    let mut markers = Vec::new();
    let mut rest = bytes.as_slice();
    while let Ok(batch) = RecordBatch::new_checked(rest) {
        if batch.is_control() {
            assert!(batch.is_transactional());
            assert_eq!(batch.base_sequence(), -1);
            assert_eq!(batch.records_count(), 1);
            // The broker's clock (1 ms in the harness) and the leader epoch the log stamps.
            assert_eq!(batch.max_timestamp(), 1);
            assert_eq!(batch.partition_leader_epoch(), 0);
            let m = read_marker(&batch).expect("a marker");
            markers.push((
                batch.base_offset(),
                batch.producer_id(),
                batch.producer_epoch(),
                m.kind,
                m.coordinator_epoch,
            ));
        }
        rest = &rest[batch.total_len()..];
    }
    assert_eq!(
        markers,
        [
            (1, P1, 0, ControlType::Abort, 5),
            (3, P2, 3, ControlType::Commit, 9)
        ]
    );
    assert_eq!(aborted(&p), Some(vec![(P1, 0)]));
}

#[test]
fn a_parked_read_committed_fetch_wakes_when_a_marker_moves_the_last_stable_offset() {
    let (mut b, pi) = setup();
    append(&mut b, pi, P1, 1, true);
    let mut request = fetch_request(TOPIC, 0, 0, 5_000, 1);
    request.isolation_level = READ_COMMITTED;
    let conn = ConnId(2);
    b.accept(conn);
    b.send(conn, 12, &request);
    let drained = b.drain().expect("drained");
    assert!(drained.on(conn).is_empty(), "nothing below the LSO: parked");
    // More transactional data does not satisfy it.
    append(&mut b, pi, P1, 1, true);
    b.wake_fetches(&[pi]);
    assert!(b.drain().expect("drained").on(conn).is_empty());
    marker(&mut b, pi, P1, true);
    let drained = b.drain().expect("drained");
    let frames = drained.on(conn);
    assert_eq!(frames.len(), 1, "answered by the marker");
    let resp: FetchResponse = crate::broker::harness::response(12, frames[0]).expect("decodes");
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.last_stable_offset, 3);
    assert_eq!(batches(p), [(0, 0), (1, 1), (2, 2)]);
}

/// What a restart finds: every partition's one segment and metadata, and its transaction
/// index as the storage holds it.
fn found(b: &Driver<MemoryStorage>) -> Vec<FoundPartition<MemorySegment>> {
    b.found_after_crash_with(
        |t, p| b.storage.metadata.get(&(String::from(t), p)).cloned(),
        |t, p| {
            b.storage
                .transaction_indexes
                .get(&(String::from(t), p))
                .cloned()
        },
    )
}

fn restarted(
    b: &Driver<MemoryStorage>,
    found: Vec<FoundPartition<MemorySegment>>,
) -> Driver<MemoryStorage> {
    let storage = MemoryStorage {
        found,
        metadata: b.storage.metadata.clone(),
        transaction_indexes: b.storage.transaction_indexes.clone(),
        ..MemoryStorage::default()
    };
    driven(b.config().clone(), storage)
}

fn state(b: &Driver<MemoryStorage>, pi: u32) -> (Vec<(i64, i64)>, Vec<AbortedTxn>) {
    let txns = &b.topics.partition(pi).expect("partition").txns;
    (txns.open().collect(), txns.aborted().copied().collect())
}

#[test]
fn open_and_aborted_transactions_survive_a_restart() {
    let (mut b, pi) = setup();
    interleaved(&mut b, pi);
    let before = state(&b, pi);
    assert_eq!(before.0, [(P1, 9)]);
    assert_eq!(
        before.1,
        [AbortedTxn {
            producer_id: P1,
            first_offset: 1,
            last_offset: 5
        }]
    );
    let mut again = restarted(&b, found(&b));
    let pi = partition_index(&again);
    assert_eq!(state(&again, pi), before);
    assert_eq!(again.last_stable_offset(pi), 9);
    let p = fetch(&mut again, 0, READ_COMMITTED);
    assert_eq!(aborted(&p), Some(vec![(P1, 1)]));
    // The restarted broker goes on: P1's open transaction ends.
    assert_eq!(marker(&mut again, pi, P1, true), 10);
    assert_eq!(again.last_stable_offset(pi), 11);
}

#[test]
fn a_partition_without_transactions_has_no_index() {
    let (mut b, pi) = setup();
    append(&mut b, pi, -1, 3, false);
    append(&mut b, pi, 7, 1, false);
    assert!(b.storage.transaction_indexes.is_empty());
    let again = restarted(&b, found(&b));
    let pi = partition_index(&again);
    assert_eq!(state(&again, pi), (Vec::new(), Vec::new()));
}

#[test]
fn after_a_power_loss_the_index_is_cut_to_what_the_log_kept() {
    let (mut b, pi) = setup();
    interleaved(&mut b, pi);
    let key = (String::from(TOPIC), 0);
    // A torn last entry: half of P1's begin at 9.
    let mut index = b.storage.transaction_indexes[&key].clone();
    index.truncate(index.len() - ENTRY_LEN / 2);
    // And the log lost its last batch (P1 at 9) with it.
    let mut found = found(&b);
    let segment = found[0].segments[0].segment.clone().into_bytes();
    let last = {
        let mut at = 0;
        let mut last = 0;
        while let Ok(batch) = RecordBatch::new_unchecked_header(&segment[at..]) {
            last = at;
            at += batch.total_len();
        }
        last
    };
    found[0].segments[0].segment = MemorySegment::from_bytes(segment[..last].to_vec(), 4096);
    found[0].transaction_index = Some(index);
    let again = restarted(&b, found);
    let pi = partition_index(&again);
    let (open, aborted) = state(&again, pi);
    assert_eq!(open, []);
    assert_eq!(aborted.len(), 1);
    assert_eq!(again.last_stable_offset(pi), 9);
    // The file was mended: whole entries only, and what the state holds.
    let mended = &again.storage.transaction_indexes[&key];
    assert_eq!(mended.len(), ENTRY_LEN);
}

#[test]
fn an_index_naming_offsets_past_the_log_end_forgets_them() {
    let (mut b, pi) = setup();
    append(&mut b, pi, P1, 1, true);
    append(&mut b, pi, P2, 1, true);
    marker(&mut b, pi, P1, false);
    // The log lost the ABORT marker (offset 2), the index kept it: P1 is open again.
    let mut found = found(&b);
    let segment = found[0].segments[0].segment.clone().into_bytes();
    let two = {
        let first = RecordBatch::new_unchecked_header(&segment[..]).expect("batch");
        let second =
            RecordBatch::new_unchecked_header(&segment[first.total_len()..]).expect("batch");
        first.total_len() + second.total_len()
    };
    found[0].segments[0].segment = MemorySegment::from_bytes(segment[..two].to_vec(), 4096);
    found[0].segments[0].recovery = Recovery::Checked;
    let again = restarted(&b, found);
    let pi = partition_index(&again);
    assert_eq!(state(&again, pi), (vec![(P1, 0), (P2, 1)], Vec::new()));
    assert_eq!(again.last_stable_offset(pi), 0);
}

#[test]
fn delete_records_prunes_aborted_transactions_below_the_start() {
    let (mut b, pi) = setup();
    interleaved(&mut b, pi);
    let delete = |offset| DeleteRecordsRequest {
        topics: vec![
            crate::codec::messages::delete_records_request::DeleteRecordsTopic {
                name: TOPIC.into(),
                partitions: vec![
                    crate::codec::messages::delete_records_request::DeleteRecordsPartition {
                        partition_index: 0,
                        offset,
                    },
                ],
            },
        ],
        timeout_ms: 1000,
    };
    let resp: DeleteRecordsResponse = call(&mut b, 2, &delete(5));
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    // The ABORT marker at 5 is still in the log: kept.
    assert_eq!(state(&b, pi).1.len(), 1);
    let p = fetch(&mut b, 5, READ_COMMITTED);
    assert_eq!(aborted(&p), Some(vec![(P1, 1)]));
    let resp: DeleteRecordsResponse = call(&mut b, 2, &delete(6));
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    assert_eq!(state(&b, pi).1, []);
    // P1's open transaction at 9 stays, and the LSO with it.
    assert_eq!(b.last_stable_offset(pi), 9);
}

#[test]
fn the_last_stable_offset_is_held_to_the_log_start() {
    let (mut b, pi) = setup();
    append(&mut b, pi, P1, 1, true);
    append(&mut b, pi, -1, 3, false);
    // Kafka bounds deletion by the high watermark, not the LSO: an open transaction's first
    // records may go; the LSO is then the log start offset.
    let log = &mut b.topics.partition_mut(pi).expect("partition").log;
    log.raise_log_start_offset(2).expect("raised");
    assert_eq!(b.last_stable_offset(pi), 2);
}

#[test]
fn retention_prunes_the_index_with_the_segments() {
    let config = BrokerConfig {
        segment_size_bytes: 512,
        ..BrokerConfig::default()
    };
    let mut b = driven(config, MemoryStorage::default());
    create(&mut b, TOPIC, 1, &[("retention.bytes", "600")]);
    let pi = partition_index(&b);
    // Several aborted transactions, each a batch and a marker; segments roll on the way.
    for _ in 0..12 {
        let at = AppendAt {
            segment_size: 512,
            segment_ms: i64::MAX,
            unix_ms: 1,
            log_append_time: false,
        };
        let mut batch = BatchBuilder::new(0).producer(P1, 0, 0, true);
        batch.push(1, None, Some(&[1; 60]), &[]);
        let info = b
            .append_log(pi, TOPIC, 0, &batch.finish(), at)
            .expect("appended");
        b.transaction_appended(pi, P1, info.base_offset)
            .expect("recorded");
        // The marker's append applies retention.bytes, as a produce does.
        marker(&mut b, pi, P1, false);
    }
    let log = &b.topics.partition(pi).expect("partition").log;
    let start = log.log_start_offset();
    assert!(start > 0, "retention deleted segments");
    let (_, kept) = state(&b, pi);
    assert!(!kept.is_empty());
    assert!(
        kept.iter().all(|a| a.last_offset >= start),
        "{kept:?} from {start}"
    );
    assert_eq!(
        kept.len() as i64,
        (24 - start + 1) / 2,
        "every abort still in the log"
    );
}

#[test]
fn a_long_lived_partition_keeps_its_index_file_small() {
    let (mut b, pi) = setup();
    for _ in 0..400 {
        append(&mut b, pi, P1, 1, true);
        marker(&mut b, pi, P1, true);
    }
    let key = (String::from(TOPIC), 0);
    let file = b.storage.transaction_indexes.get(&key).map_or(0, Vec::len);
    assert!(
        file <= super::COMPACT_ENTRIES_MIN * ENTRY_LEN,
        "{file} bytes"
    );
    let again = restarted(&b, found(&b));
    let pi = partition_index(&again);
    assert_eq!(state(&again, pi), (Vec::new(), Vec::new()));
}

#[test]
fn deleting_the_topic_removes_its_index() {
    let (mut b, pi) = setup();
    append(&mut b, pi, P1, 1, true);
    assert!(!b.storage.transaction_indexes.is_empty());
    let request = crate::codec::messages::DeleteTopicsRequest {
        topic_names: vec![TOPIC.into()],
        timeout_ms: 1000,
        ..Default::default()
    };
    let _: crate::codec::messages::DeleteTopicsResponse = call(&mut b, 4, &request);
    assert!(b.storage.transaction_indexes.is_empty());
}

/// The overlap search agrees with a scan of every aborted transaction, for random histories
/// of interleaved producers and every range.
#[test]
fn the_overlap_search_agrees_with_a_full_scan() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..50 {
        let mut txns = PartitionTxns::default();
        let mut offset = 0;
        for _ in 0..40 {
            let producer = next(4) as i64;
            if txns.open.contains_key(&producer) && next(3) == 0 {
                let _ = txns.end(producer, offset, next(2) == 0);
            } else {
                let _ = txns.begin(producer, offset);
            }
            offset += 1 + next(3) as i64;
        }
        let all: Vec<AbortedTxn> = txns.aborted.iter().copied().collect();
        for from in 0..offset {
            for to in from + 1..=offset + 1 {
                let fast: Vec<AbortedTxn> = txns.aborted_overlapping(from, to).copied().collect();
                let slow: Vec<AbortedTxn> = all
                    .iter()
                    .filter(|a| a.last_offset >= from && a.first_offset < to)
                    .copied()
                    .collect();
                assert_eq!(fast, slow, "{from}..{to}");
            }
        }
        // The file round-trips the state.
        let (back, mend) = PartitionTxns::recover(&txns.encode(), offset);
        assert!(!mend);
        assert_eq!(back.open, txns.open);
        assert_eq!(back.aborted, txns.aborted);
        assert_eq!(back.first_open_offset(), txns.first_open_offset());
    }
}

#[test]
fn a_corrupt_entry_ends_the_replay() {
    let mut txns = PartitionTxns::default();
    let _ = txns.begin(P1, 0);
    let _ = txns.end(P1, 3, false);
    let _ = txns.begin(P2, 4);
    let mut bytes = txns.encode();
    assert_eq!(bytes.len(), 2 * ENTRY_LEN);
    bytes[ENTRY_LEN + 3] ^= 0x40;
    let (back, mend) = PartitionTxns::recover(&bytes, 10);
    assert!(mend);
    assert_eq!(back.open.len(), 0, "the bad entry and after are dropped");
    assert_eq!(back.aborted.len(), 1);
    let (_, mend) = PartitionTxns::recover(&[], 10);
    assert!(!mend);
}
