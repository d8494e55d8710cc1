//! What a runtime's metrics read from the broker: requests counted by API, the error codes of
//! responses counted by API and code, and, read when asked (never counted), what each partition
//! log and each group's committed offsets hold.
//!
//! Counting is off unless [`BrokerConfig::stats`](super::BrokerConfig::stats) asks for it: then
//! a request costs an array increment, and an error code a map update; a response without
//! errors allocates nothing (a code's first sighting adds its entry to the map).

use alloc::collections::BTreeMap;

use super::Broker;
use crate::codec::Message;
use crate::storage::Storage;

/// Api keys counted one by one; a request with a key beyond them counts under the last slot,
/// which renders as an unknown key (Kafka's keys stop well below).
const API_KEY_SLOTS: usize = 128;

/// The counters.
#[derive(Debug)]
pub(super) struct Stats {
    enabled: bool,
    /// Requests by api key (the last slot: keys outside `0..API_KEY_SLOTS - 1`).
    requests: [u64; API_KEY_SLOTS],
    /// Responses' non-zero error codes, by (api key, code).
    errors: BTreeMap<(i16, i16), u64>,
}

impl Stats {
    pub(super) fn new(enabled: bool) -> Self {
        Stats {
            enabled,
            requests: [0; API_KEY_SLOTS],
            errors: BTreeMap::new(),
        }
    }

    /// A request frame with a readable header arrived.
    #[inline]
    pub(super) fn count_request(&mut self, api_key: i16) {
        if self.enabled {
            let slot = usize::try_from(api_key)
                .ok()
                .filter(|&k| k < API_KEY_SLOTS - 1)
                .unwrap_or(API_KEY_SLOTS - 1);
            self.requests[slot] += 1;
        }
    }

    /// A response of `api_key` carries error `code` (once per topic or partition it is
    /// reported for); `NONE` is not an error and is not counted.
    #[inline]
    pub(super) fn count_error(&mut self, api_key: i16, code: i16) {
        if self.enabled && code != 0 {
            *self.errors.entry((api_key, code)).or_insert(0) += 1;
        }
    }

    /// Every error code of response `body` to a request of `api_key`.
    #[inline]
    pub(super) fn count_errors<M: Message>(&mut self, api_key: i16, body: &M) {
        if self.enabled {
            body.visit_error_codes(&mut |code| self.count_error(api_key, code));
        }
    }
}

/// A partition log as it is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionSnapshot<'a> {
    /// The topic's name.
    pub topic: &'a str,
    /// The partition's number.
    pub partition: i32,
    /// The first offset the log holds.
    pub log_start_offset: i64,
    /// The offset the next record gets; with one replica, the high watermark.
    pub high_watermark: i64,
    /// The bytes its segments hold.
    pub size_bytes: u64,
}

/// A group's committed offset of one partition, and the partition's high watermark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedOffset<'a> {
    /// The group id.
    pub group: &'a str,
    /// The topic's name.
    pub topic: &'a str,
    /// The partition's number.
    pub partition: i32,
    /// The offset the group committed.
    pub committed_offset: i64,
    /// The partition's high watermark; `None` if the partition is not held (deleted).
    pub high_watermark: Option<i64>,
}

impl CommittedOffset<'_> {
    /// Records the group has yet to consume (Kafka's consumer lag): never negative, `None` for
    /// a partition not held.
    pub fn lag(&self) -> Option<i64> {
        self.high_watermark
            .map(|hw| hw.saturating_sub(self.committed_offset).max(0))
    }
}

impl<S: Storage> Broker<S> {
    /// Requests received by api key, for keys with any (keys beyond the known ones as -1).
    /// All zero unless [`BrokerConfig::stats`](super::BrokerConfig::stats) is on.
    pub fn request_counts(&self) -> impl Iterator<Item = (i16, u64)> + '_ {
        self.stats
            .requests
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(k, &n)| {
                let key = if k == API_KEY_SLOTS - 1 { -1 } else { k as i16 };
                (key, n)
            })
    }

    /// Error codes of responses (each topic's and partition's, and the top level's) by api key
    /// and code, as `(api_key, code, count)`, ordered by both.
    pub fn error_counts(&self) -> impl Iterator<Item = (i16, i16, u64)> + '_ {
        self.stats
            .errors
            .iter()
            .map(|(&(api_key, code), &n)| (api_key, code, n))
    }

    /// Every partition log, topic by topic.
    pub fn partition_snapshots(&self) -> impl Iterator<Item = PartitionSnapshot<'_>> + '_ {
        self.topics.iter().flat_map(move |(_, topic)| {
            topic.partitions.iter().filter_map(move |&pi| {
                let p = self.topics.partition(pi)?;
                Some(PartitionSnapshot {
                    topic: &topic.name,
                    partition: p.index,
                    log_start_offset: p.log.log_start_offset(),
                    high_watermark: p.log.log_end_offset(),
                    size_bytes: p.log.size_bytes(),
                })
            })
        })
    }

    /// Every committed offset of every group, by group, topic and partition.
    pub fn committed_offsets(&self) -> impl Iterator<Item = CommittedOffset<'_>> + '_ {
        self.groups.groups.iter().flat_map(move |(group, g)| {
            g.offsets.iter().map(move |((topic, partition), c)| {
                let high_watermark = self
                    .topics
                    .by_name(topic)
                    .and_then(|ti| self.topics.partition_of(ti, *partition))
                    .and_then(|pi| self.topics.partition(pi))
                    .map(|p| p.log.log_end_offset());
                CommittedOffset {
                    group,
                    topic,
                    partition: *partition,
                    committed_offset: c.offset,
                    high_watermark,
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;
    use core::time::Duration;

    use super::super::harness::{
        self, CONN, Driver, call, create, driven, fetch_request, produce_request,
    };
    use super::super::{BrokerConfig, ConnId};
    use super::CommittedOffset;
    use crate::ErrorCode;
    use crate::codec::ApiKey;
    use crate::codec::messages::{
        CreateTopicsResponse, FetchResponse, OffsetCommitResponse, ProduceResponse,
    };
    use crate::storage::MemoryStorage;

    fn counting(stats: bool) -> Driver<MemoryStorage> {
        let config = BrokerConfig {
            segment_size_bytes: 4096,
            auto_create_topics: false,
            stats,
            ..BrokerConfig::default()
        };
        driven(config, MemoryStorage::default())
    }

    fn produce(d: &mut Driver<MemoryStorage>, topic: &str) -> i16 {
        let batch = harness::batch(1, &[[7u8; 10]]);
        let resp: ProduceResponse = call(d, 9, &produce_request(topic, 0, batch));
        resp.responses[0].partition_responses[0].error_code
    }

    /// Requests and the error codes of their answers, nested ones included: a CreateTopics of
    /// a topic that exists, a Produce and a Fetch to a topic that does not.
    fn traffic(d: &mut Driver<MemoryStorage>) {
        create(d, "t", 1, &[]);
        let again: CreateTopicsResponse = call(d, 7, &harness::create_topics_request("t", 1, &[]));
        assert_eq!(
            again.topics[0].error_code,
            ErrorCode::TopicAlreadyExists.code()
        );
        assert_eq!(produce(d, "t"), 0);
        assert_eq!(produce(d, "t"), 0);
        let unknown = ErrorCode::UnknownTopicOrPartition.code();
        assert_eq!(produce(d, "nope"), unknown);
        let fetched: FetchResponse = call(d, 12, &fetch_request("nope", 0, 0, 0, 1));
        assert_eq!(fetched.responses[0].partitions[0].error_code, unknown);
    }

    #[test]
    fn requests_and_response_error_codes_are_counted_by_api() {
        let mut d = counting(true);
        traffic(&mut d);
        let requests: Vec<(i16, u64)> = d.request_counts().collect();
        let (produce, fetch, create) = (
            ApiKey::Produce.code(),
            ApiKey::Fetch.code(),
            ApiKey::CreateTopics.code(),
        );
        assert_eq!(requests, vec![(produce, 3), (fetch, 1), (create, 2)]);
        let errors: Vec<(i16, i16, u64)> = d.error_counts().collect();
        let unknown = ErrorCode::UnknownTopicOrPartition.code();
        let exists = ErrorCode::TopicAlreadyExists.code();
        assert_eq!(
            errors,
            vec![
                (produce, unknown, 1),
                (fetch, unknown, 1),
                (create, exists, 1)
            ]
        );
    }

    #[test]
    fn nothing_is_counted_when_off() {
        let mut d = counting(false);
        traffic(&mut d);
        assert_eq!(d.request_counts().count(), 0);
        assert_eq!(d.error_counts().count(), 0);
    }

    #[test]
    fn a_request_unknown_or_refused_is_counted_under_its_key() {
        let mut d = counting(true);
        // ApiVersions at a version beyond ours: answered in v0 with UNSUPPORTED_VERSION.
        let mut frame =
            harness::request(3, 1, &crate::codec::messages::ApiVersionsRequest::default());
        // The version follows the size prefix and the api key.
        frame[6..8].copy_from_slice(&1000i16.to_be_bytes());
        d.feed(CONN, &frame);
        let drained = d.drain().expect("drains");
        assert_eq!(drained.sent.len(), 1);
        let key = ApiKey::ApiVersions.code();
        assert_eq!(d.request_counts().collect::<Vec<_>>(), vec![(key, 1)]);
        let unsupported = ErrorCode::UnsupportedVersion.code();
        assert_eq!(
            d.error_counts().collect::<Vec<_>>(),
            vec![(key, unsupported, 1)]
        );
    }

    /// Responses carry their request's api key and arrival; a parked Fetch keeps the instant
    /// it arrived, so its time includes the wait.
    #[test]
    fn responses_are_stamped_with_their_request_and_its_arrival() {
        let mut d = counting(true);
        create(&mut d, "t", 1, &[]);
        let start = d.clock.now();
        let poll = ConnId(2);
        d.accept(poll);
        d.send(poll, 12, &fetch_request("t", 0, 0, 500, 1));
        assert!(d.next_response().expect("no close").is_none(), "parked");
        d.clock.move_to(start + Duration::from_millis(120));
        let woke = d.clock.now();
        let batch = harness::batch(1, &[[7u8; 10]]);
        d.send(CONN, 9, &produce_request("t", 0, batch));
        let mut stamps = Vec::new();
        while let Some((conn, response)) = d.next_response().expect("no close") {
            stamps.push((conn, response.request.api_key, response.request.received));
            d.recycle(response);
        }
        stamps.sort();
        let (produce, fetch) = (ApiKey::Produce.code(), ApiKey::Fetch.code());
        assert_eq!(stamps, vec![(CONN, produce, woke), (poll, fetch, start)]);
        assert!(woke > start);
    }

    #[test]
    fn partitions_and_group_lag_are_read_as_they_are() {
        let mut d = counting(false);
        create(&mut d, "t", 2, &[]);
        for _ in 0..3 {
            assert_eq!(produce(&mut d, "t"), 0);
        }
        let snapshots: Vec<_> = d.partition_snapshots().filter(|p| p.topic == "t").collect();
        assert_eq!(snapshots.len(), 2);
        assert_eq!(
            (snapshots[0].log_start_offset, snapshots[0].high_watermark),
            (0, 3)
        );
        assert!(snapshots[0].size_bytes > 0);
        assert_eq!(
            (snapshots[1].high_watermark, snapshots[1].size_bytes),
            (0, 0)
        );
        commit(&mut d, "g", 1);
        let committed: Vec<CommittedOffset<'_>> = d.committed_offsets().collect();
        assert_eq!(
            committed,
            vec![CommittedOffset {
                group: "g",
                topic: "t",
                partition: 0,
                committed_offset: 1,
                high_watermark: Some(3),
            }]
        );
        assert_eq!(committed[0].lag(), Some(2));
    }

    fn commit(d: &mut Driver<MemoryStorage>, group: &str, offset: i64) {
        let req = crate::broker::harness::offset_commit_request(group, "t", offset);
        let resp: OffsetCommitResponse = call(d, 7, &req);
        assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    }

    #[test]
    fn lag_is_never_negative_and_unknown_for_a_partition_not_held() {
        let at = |hw| CommittedOffset {
            group: "g",
            topic: "t",
            partition: 0,
            committed_offset: 5,
            high_watermark: hw,
        };
        assert_eq!(at(Some(3)).lag(), Some(0));
        assert_eq!(at(Some(8)).lag(), Some(3));
        assert_eq!(at(None).lag(), None);
    }
}
