//! The group APIs over a disk that fills up on demand: nothing is answered as done that the
//! offsets log did not store, and what was answered survives a restart.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;

use crate::ErrorCode;
use crate::broker::BrokerConfig;
use crate::broker::harness::{Driver, call, create, driven};
use crate::codec::messages::join_group_request::JoinGroupRequestProtocol;
use crate::codec::messages::offset_fetch_request::OffsetFetchRequestTopic;
use crate::codec::messages::sync_group_request::SyncGroupRequestAssignment;
use crate::codec::messages::*;
use crate::storage::{
    FoundPartition, MemorySegment, MemoryStorage, SegmentBuffer, Storage, StorageError,
    StorageErrorKind,
};

/// A segment whose writes fail while its disk is full.
#[derive(Clone, Debug)]
struct Segment {
    bytes: MemorySegment,
    full: Rc<Cell<bool>>,
}

impl AsRef<[u8]> for Segment {
    fn as_ref(&self) -> &[u8] {
        self.bytes.as_ref()
    }
}

impl SegmentBuffer for Segment {
    fn capacity_bytes(&self) -> usize {
        self.bytes.capacity_bytes()
    }

    fn write_at(&mut self, position: usize, head: &[u8], tail: &[u8]) -> Result<(), StorageError> {
        if self.full.get() {
            return Err(no_space());
        }
        self.bytes.write_at(position, head, tail)
    }

    fn truncate(&mut self, len_bytes: usize) -> Result<(), StorageError> {
        self.bytes.truncate(len_bytes)
    }
}

fn no_space() -> StorageError {
    StorageError::new(StorageErrorKind::NoSpace, "no space left on device")
}

/// [`MemoryStorage`] with a disk that is full while `full` is set.
#[derive(Debug, Default)]
struct FillingStorage {
    inner: MemoryStorage,
    full: Rc<Cell<bool>>,
    /// What a restart finds.
    found: Vec<FoundPartition<Segment>>,
}

impl Storage for FillingStorage {
    type Segment = Segment;

    fn recover(
        &mut self,
        _segment_size_bytes: usize,
    ) -> Result<Vec<FoundPartition<Segment>>, StorageError> {
        Ok(core::mem::take(&mut self.found))
    }

    fn create_segment(
        &mut self,
        topic: &str,
        partition: i32,
        base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<Segment, StorageError> {
        if self.full.get() {
            return Err(no_space());
        }
        let bytes = self
            .inner
            .create_segment(topic, partition, base_offset, capacity_bytes)?;
        Ok(Segment {
            bytes,
            full: self.full.clone(),
        })
    }

    fn seal_segment(
        &mut self,
        segment: &mut Segment,
        len_bytes: usize,
    ) -> Result<(), StorageError> {
        self.inner.seal_segment(&mut segment.bytes, len_bytes)
    }

    fn write_metadata(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        self.inner.write_metadata(topic, partition, bytes)
    }

    fn delete_partition(&mut self, topic: &str, partition: i32) -> Result<(), StorageError> {
        self.inner.delete_partition(topic, partition)
    }

    fn delete_segment(&mut self, segment: Segment) -> Result<(), StorageError> {
        self.inner.delete_segment(segment.bytes)
    }

    fn write_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), StorageError> {
        self.inner.write_log_start_offset(topic, partition, offset)
    }

    fn read_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, StorageError> {
        self.inner.read_log_start_offset(topic, partition)
    }

    fn append_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        if self.full.get() {
            return Err(no_space());
        }
        self.inner.append_transaction_index(topic, partition, bytes)
    }

    fn write_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        if self.full.get() && !bytes.is_empty() {
            return Err(no_space());
        }
        self.inner.write_transaction_index(topic, partition, bytes)
    }

    fn write_broker_configs(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.inner.write_broker_configs(bytes)
    }

    fn read_broker_configs(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.read_broker_configs()
    }
}

const NOT_COORDINATOR: i16 = 16;

fn start(
    mut storage: FillingStorage,
    found: Vec<FoundPartition<Segment>>,
) -> Driver<FillingStorage> {
    let config = BrokerConfig {
        segment_size_bytes: 4096,
        ..BrokerConfig::default()
    };
    storage.found = found;
    driven(config, storage)
}

/// What a restart after a crash finds: the storage and every partition's segments.
fn crash(mut b: Driver<FillingStorage>) -> (FillingStorage, Vec<FoundPartition<Segment>>) {
    let found = b.found_after_crash(|_, _| None);
    (core::mem::take(&mut b.storage), found)
}

/// A simple consumer's commit (no generation) of `offset` for `t`-0; the partition's error.
fn commit(b: &mut Driver<FillingStorage>, offset: i64) -> i16 {
    let mut req = crate::broker::harness::offset_commit_request("g", "t", offset);
    req.topics[0].partitions[0].committed_metadata = Some("m".into());
    let resp: OffsetCommitResponse = call(b, 7, &req);
    resp.topics[0].partitions[0].error_code
}

/// The offset committed for `t`-0 in `g`, -1 if none.
fn fetch(b: &mut Driver<FillingStorage>) -> i64 {
    let req = OffsetFetchRequest {
        group_id: "g".into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0],
        }]),
        ..Default::default()
    };
    let resp: OffsetFetchResponse = call(b, 7, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.committed_offset
}

/// A v5 join of `member_id` (empty: a new member) to `g`; its answer.
fn join(b: &mut Driver<FillingStorage>, member_id: &str) -> JoinGroupResponse {
    let req = JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        member_id: member_id.into(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: vec![1],
        }],
        ..Default::default()
    };
    call(b, 5, &req)
}

/// The leader's sync assigning `assignment` to itself.
fn sync(b: &mut Driver<FillingStorage>, generation: i32, member_id: &str) -> SyncGroupResponse {
    let req = SyncGroupRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member_id.into(),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: member_id.into(),
            assignment: vec![7],
        }],
        ..Default::default()
    };
    call(b, 5, &req)
}

#[test]
fn a_commit_the_disk_refuses_is_answered_with_the_error_and_not_taken() {
    let mut b = start(FillingStorage::default(), Vec::new());
    create(&mut b, "t", 1, &[]);
    assert_eq!(commit(&mut b, 5), 0);
    assert_eq!(fetch(&mut b), 5);

    b.storage.full.set(true);
    assert_eq!(
        commit(&mut b, 9),
        NOT_COORDINATOR,
        "KAFKA_STORAGE_ERROR, as Kafka maps it"
    );
    assert_eq!(fetch(&mut b), 5, "the refused commit changed nothing");

    b.storage.full.set(false);
    assert_eq!(commit(&mut b, 11), 0);
    assert_eq!(fetch(&mut b), 11);

    let (storage, found) = crash(b);
    let mut b = start(storage, found);
    assert_eq!(fetch(&mut b), 11, "what was acknowledged is replayed");
}

#[test]
fn a_rebalance_the_disk_refuses_fails_the_sync_and_a_rejoin_completes() {
    let mut b = start(FillingStorage::default(), Vec::new());
    let first = join(&mut b, "");
    assert_eq!(first.error_code, ErrorCode::MemberIdRequired.code());
    let member = first.member_id;
    let joined = join(&mut b, &member);
    assert_eq!((joined.error_code, joined.generation_id), (0, 1));

    b.storage.full.set(true);
    let synced = sync(&mut b, 1, &member);
    assert_eq!(synced.error_code, NOT_COORDINATOR);
    assert!(synced.assignment.is_empty());
    let described: DescribeGroupsResponse = call(
        &mut b,
        5,
        &DescribeGroupsRequest {
            groups: vec!["g".into()],
            ..Default::default()
        },
    );
    assert_eq!(described.groups[0].group_state, "PreparingRebalance");

    b.storage.full.set(false);
    let rejoined = join(&mut b, &member);
    assert_eq!((rejoined.error_code, rejoined.generation_id), (0, 2));
    let synced = sync(&mut b, 2, &member);
    assert_eq!((synced.error_code, synced.assignment), (0, vec![7]));

    let (storage, found) = crash(b);
    let mut b = start(storage, found);
    let described: DescribeGroupsResponse = call(
        &mut b,
        5,
        &DescribeGroupsRequest {
            groups: vec!["g".into()],
            ..Default::default()
        },
    );
    let g = &described.groups[0];
    assert_eq!(g.group_state, "Stable", "the stored generation is replayed");
    assert_eq!(g.members[0].member_assignment, vec![7]);
}

/// OffsetDelete of `t`-0 and of `t`-`other` in `g`: the top-level error and each partition's.
fn delete_offsets(b: &mut Driver<FillingStorage>, other: i32) -> (i16, Vec<(i32, i16)>) {
    use crate::codec::messages::offset_delete_request::{
        OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    let partition = |partition_index| OffsetDeleteRequestPartition { partition_index };
    let req = OffsetDeleteRequest {
        group_id: "g".into(),
        topics: vec![OffsetDeleteRequestTopic {
            name: "t".into(),
            partitions: vec![partition(0), partition(other)],
        }],
    };
    let resp: OffsetDeleteResponse = call(b, 0, &req);
    let partitions = resp
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
        })
        .collect();
    (resp.error_code, partitions)
}

#[test]
fn offset_delete_removes_a_stored_offset_and_names_the_partitions_the_broker_lacks() {
    let mut b = start(FillingStorage::default(), Vec::new());
    create(&mut b, "t", 1, &[]);
    assert_eq!(
        delete_offsets(&mut b, 0).0,
        ErrorCode::GroupIdNotFound.code()
    );
    assert_eq!(commit(&mut b, 5), 0);

    b.storage.full.set(true);
    assert_eq!(delete_offsets(&mut b, 0), (NOT_COORDINATOR, vec![]));
    assert_eq!(fetch(&mut b), 5, "the refused tombstone changed nothing");

    b.storage.full.set(false);
    let unknown = ErrorCode::UnknownTopicOrPartition.code();
    assert_eq!(delete_offsets(&mut b, 3), (0, vec![(0, 0), (3, unknown)]));
    assert_eq!(fetch(&mut b), -1);

    let (storage, found) = crash(b);
    let mut b = start(storage, found);
    assert_eq!(fetch(&mut b), -1, "the tombstone is replayed");
}

#[test]
fn the_session_timeout_bounds_are_the_brokers_settings() {
    let join_with = |config: BrokerConfig, session_ms: i32| {
        let mut b = driven(config, crate::storage::MemoryStorage::default());
        let req = JoinGroupRequest {
            group_id: "g".into(),
            session_timeout_ms: session_ms,
            rebalance_timeout_ms: 30_000,
            member_id: String::new(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: vec![1],
            }],
            ..Default::default()
        };
        let resp: JoinGroupResponse = call(&mut b, 3, &req);
        resp.error_code
    };
    let invalid = ErrorCode::InvalidSessionTimeout.code();
    assert_eq!(
        join_with(BrokerConfig::default(), 1_000),
        invalid,
        "Kafka's 6 s minimum"
    );
    let lowered = BrokerConfig {
        group_min_session_timeout_ms: 500,
        group_max_session_timeout_ms: 2_000,
        ..BrokerConfig::default()
    };
    assert_eq!(join_with(lowered.clone(), 1_000), 0);
    assert_eq!(join_with(lowered.clone(), 499), invalid);
    assert_eq!(join_with(lowered, 2_001), invalid);
}

/// A broker whose offsets expire after a minute, looked for every 10 s, over `storage` (with
/// `found` recovered), its wall clock reading `unix_ms` at start.
fn start_expiring(
    mut storage: FillingStorage,
    found: Vec<FoundPartition<Segment>>,
    unix_ms: i64,
) -> Driver<FillingStorage> {
    let config = BrokerConfig {
        segment_size_bytes: 4096,
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 10_000,
        ..BrokerConfig::default()
    };
    storage.found = found;
    let clock = crate::broker::harness::Clock::new(crate::time::Instant::default(), unix_ms);
    let mut b = Driver::start(config, storage, clock).expect("starts");
    b.accept(crate::broker::harness::CONN);
    b
}

/// Move both clocks on by `ms`, firing every deadline on the way.
fn advance(b: &mut Driver<FillingStorage>, ms: u64) {
    b.advance_ms(ms);
    let drained = b.drain().expect("outputs end");
    assert!(drained.sent.is_empty() && drained.closed.is_empty());
}

fn listed_groups(b: &mut Driver<FillingStorage>) -> Vec<String> {
    let resp: ListGroupsResponse = call(b, 4, &ListGroupsRequest::default());
    resp.groups.into_iter().map(|g| g.group_id).collect()
}

#[test]
fn committed_offsets_expire_across_a_restart_and_the_group_leaves_list_groups() {
    const T0: i64 = 1_700_000_000_000;
    let mut b = start_expiring(FillingStorage::default(), Vec::new(), T0);
    create(&mut b, "t", 1, &[]);
    assert_eq!(commit(&mut b, 5), 0);
    advance(&mut b, 30_000);
    assert_eq!(fetch(&mut b), 5);
    // Down for 20 s: the wall clock went on.
    let (storage, found) = crash(b);
    let mut b = start_expiring(storage, found, T0 + 50_000);
    assert_eq!(
        (fetch(&mut b), listed_groups(&mut b)),
        (5, vec![String::from("g")])
    );
    // The first look comes an interval after the start; the offset (committed at T0) has
    // expired by then, and with it the group.
    advance(&mut b, 9_999);
    assert_eq!(fetch(&mut b), 5);
    advance(&mut b, 1);
    assert_eq!(
        (fetch(&mut b), listed_groups(&mut b)),
        (-1, Vec::<String>::new())
    );
    // The tombstone is in the offsets log: a restart agrees, and nothing is left to wake for.
    let (storage, found) = crash(b);
    let mut b = start_expiring(storage, found, T0 + 70_000);
    assert_eq!(
        (fetch(&mut b), listed_groups(&mut b)),
        (-1, Vec::<String>::new())
    );
    assert_eq!(b.group_deadline, None);
}
