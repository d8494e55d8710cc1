//! DeleteRecords and retention through the broker's face: request bytes in, response bytes out,
//! in-memory segments and a fake clock that moves both the monotonic and the wall clock.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::ErrorCode;
use crate::broker::BrokerConfig;
use crate::broker::ConnId;
use crate::broker::harness::{self, Clock, Driver, fetch_request, produce_request};
use crate::codec::Message;
use crate::codec::Records;
use crate::codec::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use crate::codec::messages::fetch_response::PartitionData;
use crate::codec::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use crate::codec::messages::produce_response::PartitionProduceResponse;
use crate::codec::messages::*;
use crate::records::RecordBatch;
use crate::storage::{FoundPartition, MemorySegment, MemoryStorage};
use crate::time::Instant;

/// The wall clock when the broker starts.
const T0: i64 = 1_700_000_000_000;
/// Three of the test's batches fit a segment, a fourth does not.
const SEGMENT: u64 = 1024;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A batch of two records with timestamp `ts` and 100-byte values.
fn batch(ts: i64) -> Vec<u8> {
    // Keyed, so that a compacted topic takes it too.
    let mut b = crate::records::BatchBuilder::new(0);
    b.push(ts, Some(b"a"), Some(&[7; 100]), &[]);
    b.push(ts, Some(b"b"), Some(&[8; 100]), &[]);
    b.finish()
}

struct Harness {
    /// Its clock reads `T0` at its origin, and both clocks move together.
    broker: Driver<MemoryStorage>,
}

impl Harness {
    fn new() -> Self {
        Self::with(MemoryStorage::default(), Vec::new())
    }

    /// A broker over `found`, with the default `retention_ms` (7 days).
    fn with(storage: MemoryStorage, found: Vec<FoundPartition<MemorySegment>>) -> Self {
        Self::start(storage, found, BrokerConfig::default().retention_ms)
    }

    fn start(
        storage: MemoryStorage,
        found: Vec<FoundPartition<MemorySegment>>,
        retention_ms: i64,
    ) -> Self {
        let config = BrokerConfig {
            retention_ms,
            ..Self::config()
        };
        Self::configured(config, storage, found)
    }

    /// The configuration of these tests: segments of `SEGMENT` bytes.
    fn config() -> BrokerConfig {
        BrokerConfig {
            segment_size_bytes: SEGMENT,
            seed: 3,
            ..BrokerConfig::default()
        }
    }

    fn configured(
        config: BrokerConfig,
        mut storage: MemoryStorage,
        found: Vec<FoundPartition<MemorySegment>>,
    ) -> Self {
        storage.found = found;
        let clock = Clock::new(Instant::default(), T0);
        let broker = Driver::start(config, storage, clock).expect("starts");
        Harness { broker }
    }

    fn connect(&mut self, conn: u64) {
        self.broker.accept(ConnId(conn));
    }

    /// Move both clocks on by `ms`, firing every deadline on the way; nothing is answered.
    fn advance(&mut self, ms: u64) {
        self.broker.advance_ms(ms);
        assert!(self.drain().0.is_empty());
    }

    fn feed<M: Message>(&mut self, conn: u64, v: i16, body: &M) -> i32 {
        self.broker.send(ConnId(conn), v, body)
    }

    /// Every response sent, by connection, and the deadline the broker asks for.
    fn drain(&mut self) -> (Vec<(u64, Vec<u8>)>, Option<Instant>) {
        let drained = self.broker.drain().expect("outputs end");
        assert_eq!(drained.closed, [], "no connection closed");
        let sent = drained.sent.into_iter().map(|(c, f)| (c.0, f)).collect();
        (sent, drained.deadline)
    }

    fn deadline(&mut self) -> Option<Instant> {
        let (sent, deadline) = self.drain();
        assert!(sent.is_empty());
        deadline
    }

    /// One request on connection 1 and its one response.
    fn call<Req: Message, Resp: Message>(&mut self, v: i16, body: &Req) -> Resp {
        self.broker.call(ConnId(1), v, body).expect("one response")
    }

    fn create(&mut self, name: &str, configs: &[(&str, &str)]) {
        self.broker
            .create(ConnId(1), name, 1, configs)
            .expect("created");
    }

    fn produce(&mut self, topic: &str, ts: i64) -> PartitionProduceResponse {
        let request = produce_request(topic, 0, batch(ts));
        let mut resp: ProduceResponse = self.call(9, &request);
        let p = resp.responses[0].partition_responses.remove(0);
        assert_eq!(p.error_code, 0);
        p
    }

    /// DeleteRecords at version `v`: `(low watermark, error code)`.
    fn delete(&mut self, v: i16, topic: &str, partition: i32, offset: i64) -> (i64, i16) {
        let request = DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: topic.into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: partition,
                    offset,
                }],
            }],
            timeout_ms: 1_000,
        };
        let resp: DeleteRecordsResponse = self.call(v, &request);
        assert_eq!(resp.topics[0].name, topic);
        let p = &resp.topics[0].partitions[0];
        assert_eq!(p.partition_index, partition);
        (p.low_watermark, p.error_code)
    }

    /// ListOffsets v7 for the earliest offset (-2).
    fn earliest(&mut self, topic: &str) -> i64 {
        let request = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    current_leader_epoch: -1,
                    timestamp: -2,
                    max_num_offsets: 1,
                }],
            }],
            ..Default::default()
        };
        let resp: ListOffsetsResponse = self.call(7, &request);
        let p = &resp.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        p.offset
    }

    /// Fetch v11 of partition 0 from `offset`, answered at once.
    fn fetch(&mut self, topic: &str, offset: i64) -> PartitionData {
        let mut resp: FetchResponse = self.call(11, &fetch_request(topic, 0, offset, 0, 1));
        resp.responses[0].partitions.remove(0)
    }

    /// IncrementalAlterConfigs SET of `name` on a topic (`kind` 2) or a broker (4; "" for the
    /// cluster's default): the resource's error code.
    fn set_config(&mut self, kind: i8, resource: &str, name: &str, value: &str) -> i16 {
        use crate::codec::messages::incremental_alter_configs_request as inc;
        let request = IncrementalAlterConfigsRequest {
            resources: vec![inc::AlterConfigsResource {
                resource_type: kind,
                resource_name: resource.into(),
                configs: vec![inc::AlterableConfig {
                    name: name.into(),
                    config_operation: 0,
                    value: Some(value.into()),
                }],
            }],
            validate_only: false,
        };
        let resp: IncrementalAlterConfigsResponse = self.call(1, &request);
        resp.responses[0].error_code
    }

    /// `(name, value)` of every config of `topic`, as DescribeConfigs v4 reports them.
    fn describe_topic(&mut self, topic: &str) -> Vec<(String, String)> {
        use crate::codec::messages::describe_configs_request::DescribeConfigsResource;
        let request = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: TOPIC,
                resource_name: topic.into(),
                configuration_keys: None,
            }],
            include_synonyms: false,
            include_documentation: false,
        };
        let resp: DescribeConfigsResponse = self.call(4, &request);
        resp.results[0]
            .configs
            .iter()
            .map(|c| (c.name.clone(), c.value.clone().unwrap_or_default()))
            .collect()
    }

    /// Capacity of the active segment of `topic`'s partition 0.
    fn active_capacity(&self, topic: &str) -> usize {
        let ti = self.broker.topics.by_name(topic).expect("topic");
        let pi = self.broker.topics.partition_of(ti, 0).expect("partition");
        let log = &self.broker.topics.partition(pi).expect("live").log;
        log.segments().last().expect("active").capacity_bytes()
    }

    fn bases(&self, topic: &str) -> Vec<i64> {
        let ti = self.broker.topics.by_name(topic).expect("topic");
        let pi = self.broker.topics.partition_of(ti, 0).expect("partition");
        let log = &self.broker.topics.partition(pi).expect("live").log;
        log.segments().iter().map(|s| s.base_offset()).collect()
    }

    /// What a restart would find: the storage, and every partition's segments as after a crash.
    fn crash(mut self) -> (MemoryStorage, Vec<FoundPartition<MemorySegment>>) {
        let metadata = &self.broker.storage.metadata;
        let found = self
            .broker
            .found_after_crash(|t, p| metadata.get(&(String::from(t), p)).cloned());
        (core::mem::take(&mut self.broker.storage), found)
    }
}

/// `(base offset, last offset)` of the first batch in fetched records.
fn first_batch(p: &PartitionData) -> Option<(i64, i64)> {
    let Some(Records::Bytes(bytes)) = &p.records else {
        return None;
    };
    let b = RecordBatch::new_checked(&bytes[..]).ok()?;
    Some((b.base_offset(), b.last_offset()))
}

/// Ten batches of two records (offsets 0-19) in segments starting at 0, 6, 12 and 18, the
/// timestamps of batch `k` `ts + k` seconds.
fn ten_batches(h: &mut Harness, topic: &str, ts: i64) {
    let len = batch(0).len() as u64;
    assert!(3 * len <= SEGMENT && 4 * len > SEGMENT, "{len}");
    for k in 0..10 {
        h.produce(topic, ts + k * 1_000);
    }
    assert_eq!(h.bases(topic), [0, 6, 12, 18]);
}

#[test]
fn delete_records_raises_the_start_everywhere_and_survives_a_crash() {
    let mut h = Harness::new();
    h.connect(1);
    h.create("t", &[]);
    ten_batches(&mut h, "t", T0);

    assert_eq!(h.delete(2, "t", 0, 7), (7, 0));
    assert_eq!(h.bases("t"), [6, 12, 18], "segment 6 still holds offset 7");
    assert_eq!(h.broker.storage.segments_deleted, 1);
    assert_eq!(
        h.broker
            .storage
            .log_start_offsets
            .get(&(String::from("t"), 0)),
        Some(&7),
        "recorded for a restart"
    );
    assert_eq!(h.earliest("t"), 7);
    // Below the start: OFFSET_OUT_OF_RANGE, with the offsets a client resets from.
    let p = h.fetch("t", 6);
    assert_eq!(p.error_code, ErrorCode::OffsetOutOfRange.code());
    assert_eq!((p.log_start_offset, p.high_watermark), (7, 20));
    // At the start: the batch holding it, as Kafka sends it (the client skips offset 6).
    let p = h.fetch("t", 7);
    assert_eq!((p.error_code, p.log_start_offset), (0, 7));
    assert_eq!(first_batch(&p), Some((6, 7)));
    // Produce v5+ answers carry the start too.
    assert_eq!(h.produce("t", T0).log_start_offset, 7);
    // A lower offset changes nothing; every version answers.
    assert_eq!(h.delete(0, "t", 0, 3), (7, 0));
    assert_eq!(h.delete(1, "t", 0, 7), (7, 0));

    // -1 is the high watermark: every sealed segment goes, the active one stays.
    assert_eq!(h.delete(2, "t", 0, -1), (22, 0));
    assert_eq!(h.bases("t"), [18]);
    assert_eq!(h.earliest("t"), 22);
    let p = h.fetch("t", 22);
    assert_eq!((p.error_code, first_batch(&p)), (0, None));

    // A crash and a restart find the same start, from the recorded offset.
    let (storage, found) = h.crash();
    let mut h = Harness::with(storage, found);
    h.connect(1);
    assert_eq!(h.earliest("t"), 22);
    assert_eq!(
        h.fetch("t", 21).error_code,
        ErrorCode::OffsetOutOfRange.code()
    );
    assert_eq!(h.produce("t", T0).base_offset, 22);
}

#[test]
fn delete_records_errors_are_kafkas() {
    let mut h = Harness::new();
    h.connect(1);
    h.create("t", &[]);
    h.create("compacted", &[("cleanup.policy", "compact")]);
    h.produce("t", T0);
    h.produce("compacted", T0);
    let out_of_range = ErrorCode::OffsetOutOfRange.code();
    assert_eq!(
        h.delete(2, "t", 0, 3),
        (-1, out_of_range),
        "past the high watermark"
    );
    assert_eq!(h.delete(2, "t", 0, -2), (-1, out_of_range));
    let unknown = ErrorCode::UnknownTopicOrPartition.code();
    assert_eq!(h.delete(2, "t", 1, 0), (-1, unknown));
    assert_eq!(h.delete(2, "nope", 0, 0), (-1, unknown));
    assert_eq!(
        h.delete(2, "__consumer_offsets", 0, 0),
        (-1, ErrorCode::InvalidTopicException.code())
    );
    assert_eq!(
        h.delete(2, "compacted", 0, 1),
        (-1, ErrorCode::PolicyViolation.code())
    );
    assert_eq!(h.delete(2, "t", 0, 2), (2, 0), "the high watermark itself");
    assert_eq!(h.broker.storage.log_start_offsets.len(), 1);
}

#[test]
fn a_parked_fetch_below_the_new_start_is_answered_out_of_range() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    h.create("t", &[]);
    ten_batches(&mut h, "t", T0);
    // Asks for more than there is: parks.
    h.feed(2, 11, &fetch_request("t", 0, 2, 10_000, 1 << 20));
    let (sent, deadline) = h.drain();
    assert!(sent.is_empty());
    assert!(deadline.is_some());
    let request = DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: "t".into(),
            partitions: vec![DeleteRecordsPartition {
                partition_index: 0,
                offset: 10,
            }],
        }],
        timeout_ms: 1_000,
    };
    h.feed(1, 2, &request);
    let (sent, _) = h.drain();
    let fetch = sent.iter().find(|(c, _)| *c == 2).expect("fetch answered");
    let resp: FetchResponse = harness::response(11, &fetch.1).expect("decodes");
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::OffsetOutOfRange.code());
    assert_eq!(p.log_start_offset, 10);
}

#[test]
fn retention_ms_deletes_aged_segments_at_their_deadline_and_then_sleeps() {
    let mut h = Harness::new();
    h.connect(1);
    h.create("r", &[("retention.ms", "60000")]);
    h.create("kept", &[]);
    ten_batches(&mut h, "r", T0);
    ten_batches(&mut h, "kept", T0);
    // The first segment's newest record is at T0 + 2 s: it goes once older than 60 s.
    let due =
        |unix_ms: i64| Some(Instant::default() + Duration::from_millis((unix_ms - T0) as u64));
    assert_eq!(h.deadline(), due(T0 + 62_001));
    h.advance(62_000);
    assert_eq!(h.bases("r"), [0, 6, 12, 18], "exactly 60 s old is kept");
    h.advance(1);
    assert_eq!(h.bases("r"), [6, 12, 18]);
    assert_eq!(h.earliest("r"), 6);
    assert_eq!(h.deadline(), due(T0 + 65_001));
    // Much later, at that deadline: everything sealed goes at once; the active segment stays.
    h.advance(10_000);
    assert_eq!(h.bases("r"), [18]);
    assert_eq!(h.earliest("r"), 18);
    // The other topic keeps the broker default (7 days): its deadline is the only one left.
    assert_eq!(h.bases("kept"), [0, 6, 12, 18]);
    assert_eq!(h.deadline(), due(T0 + 7 * DAY_MS + 2_001));
    assert_eq!(h.broker.storage.segments_deleted, 3);
}

#[test]
fn retention_bytes_trims_on_append_and_nothing_waits_for_a_timer() {
    let mut h = Harness::new();
    h.connect(1);
    let len = batch(0).len() as i64;
    let keep = alloc::format!("{}", 6 * len);
    h.create("b", &[("retention.bytes", &keep), ("retention.ms", "-1")]);
    for k in 0..8 {
        h.produce("b", T0 + k);
    }
    // Eight batches: without the first segment's three, five would be left.
    assert_eq!(h.bases("b"), [0, 6, 12]);
    // The ninth leaves six without the first segment: it goes, during the append.
    assert_eq!(h.produce("b", T0).log_start_offset, 6);
    assert_eq!(h.bases("b"), [6, 12]);
    h.produce("b", T0);
    h.produce("b", T0);
    assert_eq!(h.bases("b"), [6, 12, 18]);
    assert_eq!(h.produce("b", T0).log_start_offset, 12);
    assert_eq!(h.bases("b"), [12, 18]);
    assert_eq!(h.deadline(), None, "no limit by age: no timer");
}

#[test]
fn segments_that_aged_out_while_stopped_go_at_the_first_input() {
    // Written by a broker that kept records forever, restarted with the 7-day default.
    let mut h = Harness::start(MemoryStorage::default(), Vec::new(), -1);
    h.connect(1);
    h.create("old", &[]);
    ten_batches(&mut h, "old", T0 - 8 * DAY_MS);
    assert_eq!(h.deadline(), None);
    let (storage, found) = h.crash();
    let mut h = Harness::with(storage, found);
    assert_eq!(h.bases("old"), [0, 6, 12, 18]);
    // A runtime that has no input yet is asked to call at once.
    assert_eq!(h.deadline(), Some(Instant::default()));
    h.advance(0);
    assert_eq!(h.bases("old"), [18]);
    assert_eq!(h.deadline(), None);
    h.connect(1);
    assert_eq!(h.earliest("old"), 18);
}

/// `h` crashed and started again (its clocks back at `T0`), with connection 1.
fn restarted(h: Harness) -> Harness {
    let (storage, found) = h.crash();
    let mut h = Harness::with(storage, found);
    h.connect(1);
    h
}

#[test]
fn retention_ms_after_delete_records_keeps_the_start_across_restarts() {
    let mut h = Harness::new();
    h.connect(1);
    h.create("t", &[("retention.ms", "60000")]);
    ten_batches(&mut h, "t", T0);
    assert_eq!(h.delete(2, "t", 0, 7), (7, 0));
    // The start inside segment 6 comes back from its record, not from the segment's base.
    let mut h = restarted(h);
    assert_eq!((h.earliest("t"), h.bases("t")), (7, vec![6, 12, 18]));
    // Segment 6's newest record is at T0 + 5 s: until it is 60 s old, the start stays 7.
    h.advance(65_000);
    assert_eq!((h.earliest("t"), h.bases("t")), (7, vec![6, 12, 18]));
    h.advance(1);
    assert_eq!((h.earliest("t"), h.bases("t")), (12, vec![12, 18]));
    // Retention moved it past the recorded 7: a restart does not bring the 7 back.
    let mut h = restarted(h);
    assert_eq!((h.earliest("t"), h.bases("t")), (12, vec![12, 18]));
    assert_eq!(
        h.fetch("t", 11).error_code,
        ErrorCode::OffsetOutOfRange.code()
    );
}

#[test]
fn retention_bytes_after_delete_records_keeps_the_start_across_restarts() {
    let mut h = Harness::new();
    h.connect(1);
    let keep = alloc::format!("{}", 6 * batch(0).len());
    h.create("b", &[("retention.bytes", &keep), ("retention.ms", "-1")]);
    for k in 0..8 {
        h.produce("b", T0 + k);
    }
    assert_eq!(h.delete(2, "b", 0, 4), (4, 0));
    let mut h = restarted(h);
    assert_eq!((h.earliest("b"), h.bases("b")), (4, vec![0, 6, 12]));
    // The ninth batch leaves six without segment 0: it goes, and the start with it to 6.
    assert_eq!(h.produce("b", T0).log_start_offset, 6);
    let mut h = restarted(h);
    assert_eq!((h.earliest("b"), h.bases("b")), (6, vec![6, 12]));
    // A start above what retention.bytes would keep: appends never lower it, nor does a restart.
    assert_eq!(h.delete(2, "b", 0, 15), (15, 0));
    assert_eq!(h.bases("b"), [12]);
    assert_eq!(h.produce("b", T0).log_start_offset, 15);
    assert_eq!(h.produce("b", T0).log_start_offset, 15);
    assert_eq!(h.bases("b"), [12, 18]);
    let mut h = restarted(h);
    assert_eq!((h.earliest("b"), h.bases("b")), (15, vec![12, 18]));
    assert_eq!(h.fetch("b", 15).error_code, 0);
    assert_eq!(
        h.fetch("b", 14).error_code,
        ErrorCode::OffsetOutOfRange.code()
    );
}

#[test]
fn a_crash_between_recording_the_start_and_deleting_is_finished_at_startup() {
    let mut h = Harness::new();
    h.connect(1);
    h.create("t", &[]);
    ten_batches(&mut h, "t", T0);
    let (mut storage, found) = h.crash();
    // DeleteRecords recorded 13, then the broker died before deleting anything.
    storage.log_start_offsets.insert((String::from("t"), 0), 13);
    let mut h = Harness::with(storage, found);
    h.connect(1);
    assert_eq!(h.earliest("t"), 13);
    assert_eq!(h.bases("t"), [12, 18]);
    assert_eq!(h.broker.storage.segments_deleted, 2);
    // A recorded start past what survived (a power loss) is held to the log end.
    let (mut storage, found) = h.crash();
    storage
        .log_start_offsets
        .insert((String::from("t"), 0), 1_000);
    let mut h = Harness::with(storage, found);
    h.connect(1);
    assert_eq!(h.earliest("t"), 20);
}

#[test]
fn a_shorter_retention_set_at_runtime_brings_the_deadline_forward() {
    use crate::codec::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let mut h = Harness::new();
    h.connect(1);
    h.create("t", &[]);
    ten_batches(&mut h, "t", T0);
    let at = |ms: u64| Some(Instant::default() + Duration::from_millis(ms));
    assert_eq!(h.deadline(), at((7 * DAY_MS + 2_001) as u64));
    let request = IncrementalAlterConfigsRequest {
        resources: vec![AlterConfigsResource {
            resource_type: 2,
            resource_name: "t".into(),
            configs: vec![AlterableConfig {
                name: "retention.ms".into(),
                config_operation: 0,
                value: Some("1000".into()),
            }],
        }],
        validate_only: false,
    };
    let resp: IncrementalAlterConfigsResponse = h.call(1, &request);
    assert_eq!(resp.responses[0].error_code, 0);
    // The first segment's newest record (T0 + 2 s) is now due at T0 + 3.001 s.
    assert_eq!(h.deadline(), at(3_001));
    h.advance(3_001);
    assert_eq!(h.bases("t"), [6, 12, 18]);
}

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

#[test]
fn segment_ms_rolls_by_the_records_timestamps_and_never_an_empty_segment() {
    let mut h = Harness::new();
    h.connect(1);
    h.create("m", &[("segment.ms", "1000")]);
    h.produce("m", T0);
    h.produce("m", T0 + 1_000);
    assert_eq!(h.bases("m"), [0], "not more than segment.ms apart");
    h.produce("m", T0 + 1_001);
    assert_eq!(h.bases("m"), [0, 4]);
    // Kafka rolls at an append, by the records' timestamps: an hour of wall clock changes
    // nothing, and no timer is set for it.
    h.advance(3_600_000);
    h.produce("m", T0 + 1_500);
    assert_eq!(h.bases("m"), [0, 4]);
    h.create("e", &[("segment.ms", "1")]);
    h.produce("e", T0);
    assert_eq!(h.bases("e"), [0], "an empty segment never rolls");
    // Kafka 4's bounds: segment.ms at least 1, segment.bytes at least 1 MiB (else
    // INVALID_CONFIG for a topic, INVALID_REQUEST for a broker setting).
    assert_eq!(h.set_config(TOPIC, "m", "segment.ms", "0"), 40);
    assert_eq!(h.set_config(TOPIC, "m", "segment.bytes", "1048575"), 40);
    assert_eq!(h.set_config(BROKER, "", "log.segment.bytes", "1048575"), 42);
}

#[test]
fn broker_defaults_for_segments_and_retention_bytes_take_effect_at_the_next_append() {
    let mut h = Harness::new();
    h.connect(1);
    h.create("d", &[]);
    // log.roll.ms as the cluster's default: topics without segment.ms roll by it.
    assert_eq!(h.set_config(BROKER, "", "log.roll.ms", "1000"), 0);
    h.produce("d", T0);
    h.produce("d", T0 + 1_001);
    assert_eq!(h.bases("d"), [0, 2]);
    // The topic's own value comes first.
    assert_eq!(h.set_config(TOPIC, "d", "segment.ms", "604800000"), 0);
    h.produce("d", T0 + 9_000);
    assert_eq!(h.bases("d"), [0, 2]);
    // log.segment.bytes: the segment made after the change has the new size; the one before
    // rolls when full, at the size it was made with.
    assert_eq!(h.active_capacity("d"), SEGMENT as usize);
    assert_eq!(h.set_config(BROKER, "0", "log.segment.bytes", "1048576"), 0);
    h.produce("d", T0 + 9_000);
    assert_eq!(h.bases("d"), [0, 2]);
    h.produce("d", T0 + 9_000);
    assert_eq!(h.bases("d"), [0, 2, 8]);
    assert_eq!(h.active_capacity("d"), 1 << 20);
    // log.retention.bytes: at the next append, sealed segments go while what is left holds
    // at least that many bytes.
    assert_eq!(h.set_config(BROKER, "", "log.retention.bytes", "0"), 0);
    assert_eq!(h.produce("d", T0 + 9_000).log_start_offset, 8);
    assert_eq!(h.bases("d"), [8]);
}

#[test]
fn static_segment_ms_and_retention_bytes_are_every_topics_default() {
    let len = batch(0).len() as i64;
    let config = BrokerConfig {
        segment_ms: 1_000,
        retention_bytes: 2 * len,
        ..Harness::config()
    };
    let mut h = Harness::configured(config, MemoryStorage::default(), Vec::new());
    h.connect(1);
    h.create("s", &[]);
    h.create("own", &[("segment.ms", "5000"), ("retention.bytes", "-1")]);
    for ts in [T0, T0 + 1_001, T0 + 2_002, T0 + 3_003] {
        h.produce("s", ts);
    }
    // Three batches fill a segment: the topic's own segment.ms kept them in one.
    for ts in [T0, T0 + 1_001, T0 + 2_002] {
        h.produce("own", ts);
    }
    assert_eq!(h.bases("own"), [0]);
    // Each batch rolled "s"; once the sealed segments held more than two batches' bytes
    // without the oldest, the oldest went.
    assert_eq!(h.bases("s"), [4, 6]);
    let described = h.describe_topic("s");
    assert!(described.contains(&("segment.ms".into(), "1000".into())));
    assert!(described.contains(&("retention.bytes".into(), alloc::format!("{}", 2 * len))));
}
