//! Fetch, hand-written for the hot path. The request is read in place (topic names borrow from
//! the frame, nothing is collected), so a broker can keep a long-polled request as its raw body
//! and read it again when woken. The response is written field by field into the caller's
//! buffer, record data left in its segments as splices. The generated `FetchRequest` and
//! `FetchResponse` stay the reference: the tests below check both agree at every version.

use super::primitives::{self as p, DecodeError, EncodeError, Records, Uuid, Writer};
use super::response::SegmentRef;

/// The versions of Fetch this module reads and writes (those of the spec).
pub const VERSIONS: core::ops::RangeInclusive<i16> = 0..=17;

const FIRST_FLEXIBLE: i16 = 12;

/// A Fetch request body, validated whole and read in place.
#[derive(Clone, Copy, Debug)]
pub struct FetchView<'a> {
    /// The cluster id if the client sent one (a tagged field, v12+).
    pub cluster_id: Option<&'a str>,
    /// The follower's broker id, -1 for a consumer (v0-14; -1 from v15).
    pub replica_id: i32,
    /// The follower's id in `ReplicaState` (a tagged field, v15+), -1 for a consumer.
    pub replica_state_id: i32,
    /// The follower's epoch in `ReplicaState` (v15+), -1 if not available.
    pub replica_state_epoch: i64,
    /// How long to wait for `min_bytes`, in milliseconds.
    pub max_wait_ms: i32,
    /// The least data worth answering with.
    pub min_bytes: i32,
    /// The response's byte limit (KIP-74, v3+; `i32::MAX` before).
    pub max_bytes: i32,
    /// 0 read uncommitted, 1 read committed (v4+).
    pub isolation_level: i8,
    /// The fetch session (KIP-227, v7+; 0 before).
    pub session_id: i32,
    /// The fetch session epoch (v7+; -1 before).
    pub session_epoch: i32,
    /// The consumer's rack (v11+; empty before).
    pub rack_id: &'a str,
    topics: &'a [u8],
    topic_count: usize,
    forgotten: &'a [u8],
    forgotten_count: usize,
    version: i16,
}

/// One topic of a Fetch request.
#[derive(Clone, Copy, Debug)]
pub struct FetchTopicView<'a> {
    /// The topic's name (v0-12; empty from v13).
    pub name: &'a str,
    /// The topic's id (v13+; zero before).
    pub topic_id: Uuid,
    partitions: &'a [u8],
    partition_count: usize,
    version: i16,
}

/// One partition of a Fetch request, with the spec's defaults for fields its version lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchPartitionView {
    /// The partition index.
    pub partition: i32,
    /// The leader epoch the client knows (v9+; -1 before).
    pub current_leader_epoch: i32,
    /// The first offset wanted.
    pub fetch_offset: i64,
    /// The epoch of the last fetched record (v12+; -1 before).
    pub last_fetched_epoch: i32,
    /// A follower's log start offset (v5+; -1 before).
    pub log_start_offset: i64,
    /// This partition's byte limit.
    pub partition_max_bytes: i32,
    /// A follower's directory id (a tagged field, v17).
    pub replica_directory_id: Uuid,
}

/// One topic of the forgotten-topics list (v7+), which incremental fetch sessions use.
#[derive(Clone, Copy, Debug)]
pub struct ForgottenTopicView<'a> {
    /// The topic's name (v7-12).
    pub name: &'a str,
    /// The topic's id (v13+).
    pub topic_id: Uuid,
    partitions: &'a [u8],
    partition_count: usize,
}

fn nom_error(e: nom::Err<DecodeError>) -> DecodeError {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::Truncated,
    }
}

fn non_null(count: Option<usize>, field: &'static str) -> Result<usize, nom::Err<DecodeError>> {
    count.ok_or(nom::Err::Error(DecodeError::NullNotAllowed(field)))
}

impl<'a> FetchView<'a> {
    /// Read a Fetch request body at `version`, checking every field once (tagged fields
    /// included) so that iterating it afterwards cannot fail. Bytes after the body are ignored,
    /// as Kafka ignores them.
    pub fn decode(body: &'a [u8], version: i16) -> Result<Self, DecodeError> {
        if !VERSIONS.contains(&version) {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        header(body, version).map(|(_, v)| v).map_err(nom_error)
    }

    /// The version the body was read at.
    pub fn version(&self) -> i16 {
        self.version
    }

    /// How many topics the request names.
    pub fn topic_count(&self) -> usize {
        self.topic_count
    }

    /// The topics, in request order.
    pub fn topics(&self) -> impl Iterator<Item = FetchTopicView<'a>> + 'a {
        p::checked_entries(self.topics, self.topic_count, self.version, topic)
    }

    /// How many topics the forgotten-topics list names (0 before v7).
    pub fn forgotten_topic_count(&self) -> usize {
        self.forgotten_count
    }

    /// The forgotten topics, in request order.
    pub fn forgotten_topics(&self) -> impl Iterator<Item = ForgottenTopicView<'a>> + 'a {
        p::checked_entries(
            self.forgotten,
            self.forgotten_count,
            self.version,
            forgotten_topic,
        )
    }
}

impl<'a> FetchTopicView<'a> {
    /// How many partitions the topic entry names.
    pub fn partition_count(&self) -> usize {
        self.partition_count
    }

    /// The partitions, in request order.
    pub fn partitions(&self) -> impl Iterator<Item = FetchPartitionView> + 'a {
        p::checked_entries(
            self.partitions,
            self.partition_count,
            self.version,
            partition,
        )
    }
}

impl<'a> ForgottenTopicView<'a> {
    /// How many partitions are forgotten.
    pub fn partition_count(&self) -> usize {
        self.partition_count
    }

    /// The forgotten partition indexes.
    pub fn partitions(&self) -> impl Iterator<Item = i32> + 'a {
        p::checked_entries(self.partitions, self.partition_count, (), |input, ()| {
            p::int32(input)
        })
    }
}

/// The whole body: fixed fields, then each array walked once to find where it ends.
fn header(input: &[u8], version: i16) -> p::Parsed<'_, FetchView<'_>> {
    let flexible = version >= FIRST_FLEXIBLE;
    let mut input = input;
    let mut replica_id = -1;
    if version <= 14 {
        (input, replica_id) = p::int32(input)?;
    }
    let (mut input, max_wait_ms) = p::int32(input)?;
    let min_bytes;
    (input, min_bytes) = p::int32(input)?;
    let mut max_bytes = i32::MAX;
    if version >= 3 {
        (input, max_bytes) = p::int32(input)?;
    }
    let mut isolation_level = 0;
    if version >= 4 {
        (input, isolation_level) = p::int8(input)?;
    }
    let (mut session_id, mut session_epoch) = (0, -1);
    if version >= 7 {
        (input, session_id) = p::int32(input)?;
        (input, session_epoch) = p::int32(input)?;
    }
    let (topics, count) = p::array_len(input, flexible)?;
    let topic_count = non_null(count, "Topics")?;
    let mut rest = topics;
    for _ in 0..topic_count {
        (rest, _) = topic(rest, version)?;
    }
    let (mut forgotten, mut forgotten_count): (&[u8], usize) = (&[], 0);
    if version >= 7 {
        let (items, count) = p::array_len(rest, flexible)?;
        (forgotten, forgotten_count) = (items, non_null(count, "ForgottenTopicsData")?);
        rest = items;
        for _ in 0..forgotten_count {
            (rest, _) = forgotten_topic(rest, version)?;
        }
    }
    let mut rack_id = "";
    if version >= 11 {
        let (r, id) = p::nullable_str(rest, flexible, false, "RackId")?;
        (rest, rack_id) = (r, id.unwrap_or_default());
    }
    let mut view = FetchView {
        cluster_id: None,
        replica_id,
        replica_state_id: -1,
        replica_state_epoch: -1,
        max_wait_ms,
        min_bytes,
        max_bytes,
        isolation_level,
        session_id,
        session_epoch,
        rack_id,
        topics,
        topic_count,
        forgotten,
        forgotten_count,
        version,
    };
    if flexible {
        (rest, _) = p::tagged_fields(rest, |tag, data| header_tag(&mut view, tag, data))?;
    }
    Ok((rest, view))
}

/// One tagged field of the request. Kafka skips tags it does not know; a known one must parse.
fn header_tag<'a>(
    view: &mut FetchView<'a>,
    tag: u32,
    data: &'a [u8],
) -> Result<(), nom::Err<DecodeError>> {
    if tag == 0 {
        (_, view.cluster_id) = p::nullable_str(data, true, true, "ClusterId")?;
    }
    if tag == 1 && view.version >= 15 {
        // ReplicaState: its own (ignored) tagged fields follow.
        let (data, id) = p::int32(data)?;
        let (data, epoch) = p::int64(data)?;
        p::tagged_fields(data, |_, _| Ok(()))?;
        (view.replica_state_id, view.replica_state_epoch) = (id, epoch);
    }
    Ok(())
}

/// A topic entry's first field: its name up to v12, its id from v13 (the other left empty).
fn topic_name_or_id(input: &[u8], version: i16) -> p::Parsed<'_, (&str, Uuid)> {
    if version <= 12 {
        let (input, name) = p::nullable_str(input, version >= FIRST_FLEXIBLE, false, "Topic")?;
        Ok((input, (name.unwrap_or_default(), Uuid::default())))
    } else {
        let (input, topic_id) = p::uuid(input)?;
        Ok((input, ("", topic_id)))
    }
}

fn topic(input: &[u8], version: i16) -> p::Parsed<'_, FetchTopicView<'_>> {
    let flexible = version >= FIRST_FLEXIBLE;
    let (input, (name, topic_id)) = topic_name_or_id(input, version)?;
    let (partitions, count) = p::array_len(input, flexible)?;
    let partition_count = non_null(count, "Partitions")?;
    let mut rest = partitions;
    for _ in 0..partition_count {
        (rest, _) = partition(rest, version)?;
    }
    if flexible {
        (rest, _) = p::tagged_fields(rest, |_, _| Ok(()))?;
    }
    let view = FetchTopicView {
        name,
        topic_id,
        partitions,
        partition_count,
        version,
    };
    Ok((rest, view))
}

fn partition(input: &[u8], version: i16) -> p::Parsed<'_, FetchPartitionView> {
    let (mut input, index) = p::int32(input)?;
    let mut view = FetchPartitionView {
        partition: index,
        current_leader_epoch: -1,
        fetch_offset: 0,
        last_fetched_epoch: -1,
        log_start_offset: -1,
        partition_max_bytes: 0,
        replica_directory_id: Uuid::default(),
    };
    if version >= 9 {
        (input, view.current_leader_epoch) = p::int32(input)?;
    }
    (input, view.fetch_offset) = p::int64(input)?;
    if version >= 12 {
        (input, view.last_fetched_epoch) = p::int32(input)?;
    }
    if version >= 5 {
        (input, view.log_start_offset) = p::int64(input)?;
    }
    (input, view.partition_max_bytes) = p::int32(input)?;
    if version >= FIRST_FLEXIBLE {
        (input, _) = p::tagged_fields(input, |tag, data| {
            if tag == 0 && version == 17 {
                (_, view.replica_directory_id) = p::uuid(data)?;
            }
            Ok(())
        })?;
    }
    Ok((input, view))
}

fn forgotten_topic(input: &[u8], version: i16) -> p::Parsed<'_, ForgottenTopicView<'_>> {
    let flexible = version >= FIRST_FLEXIBLE;
    let (input, (name, topic_id)) = topic_name_or_id(input, version)?;
    let (partitions, count) = p::array_len(input, flexible)?;
    let partition_count = non_null(count, "Partitions")?;
    let (mut rest, _) = p::take(partitions, partition_count.saturating_mul(4))?;
    if flexible {
        (rest, _) = p::tagged_fields(rest, |_, _| Ok(()))?;
    }
    let view = ForgottenTopicView {
        name,
        topic_id,
        partitions,
        partition_count,
    };
    Ok((rest, view))
}

/// Where one partition's record data comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchedRecords<'a> {
    /// A range of a segment, sent from the segment (a splice of the response).
    Segment(SegmentRef),
    /// Bytes copied into the response (down-converted message sets for Fetch v0-3, or none).
    Bytes(&'a [u8]),
}

/// One aborted transaction in a Fetch response (READ_COMMITTED): the consumer drops the
/// producer's records from `first_offset` up to its ABORT marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// The producer whose transaction aborted.
    pub producer_id: i64,
    /// The transaction's first offset.
    pub first_offset: i64,
}

/// One partition of a Fetch response. The preferred read replica is -1: one broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchedPartition<'a> {
    /// The partition index.
    pub partition_index: i32,
    /// The partition's error code (0 for none).
    pub error_code: i16,
    /// The high watermark.
    pub high_watermark: i64,
    /// The last stable offset (sent from v4).
    pub last_stable_offset: i64,
    /// The log start offset (sent from v5).
    pub log_start_offset: i64,
    /// The aborted transactions in the data (sent from v4): null at READ_UNCOMMITTED and with
    /// an error, a list (maybe empty) at READ_COMMITTED.
    pub aborted_transactions: Option<&'a [AbortedTransaction]>,
    /// The record data.
    pub records: FetchedRecords<'a>,
}

/// Writes a Fetch response body in order: `begin`, then per topic `topic`, its partitions with
/// `partition`, `end_topic`; finally `end`. Array counts are given up front, as the request's.
#[derive(Debug)]
pub struct FetchResponseWriter {
    version: i16,
    flexible: bool,
}

impl FetchResponseWriter {
    /// Start a response with `topic_count` topics. `error_code` and `session_id` are sent from
    /// v7, `throttle_time_ms` from v1.
    pub fn begin(
        w: &mut Writer,
        version: i16,
        throttle_time_ms: i32,
        error_code: i16,
        session_id: i32,
        topic_count: usize,
    ) -> Result<Self, EncodeError> {
        if !VERSIONS.contains(&version) {
            return Err(EncodeError::UnsupportedVersion(version));
        }
        let flexible = version >= FIRST_FLEXIBLE;
        if version >= 1 {
            w.put_i32(throttle_time_ms);
        }
        if version >= 7 {
            w.put_i16(error_code);
            w.put_i32(session_id);
        } else if session_id != 0 {
            return Err(EncodeError::UnsupportedField("SessionId"));
        }
        w.put_array_len(Some(topic_count), flexible)?;
        Ok(FetchResponseWriter { version, flexible })
    }

    /// Start a topic with `partition_count` partitions: by `name` up to v12, by `topic_id` from
    /// v13.
    pub fn topic(
        &self,
        w: &mut Writer,
        name: &str,
        topic_id: Uuid,
        partition_count: usize,
    ) -> Result<(), EncodeError> {
        if self.version <= 12 {
            w.put_string(name, self.flexible)?;
        } else {
            w.put_uuid(topic_id);
        }
        w.put_array_len(Some(partition_count), self.flexible)
    }

    /// One partition's data.
    pub fn partition(
        &self,
        w: &mut Writer,
        data: &FetchedPartition<'_>,
    ) -> Result<(), EncodeError> {
        let v = self.version;
        w.put_i32(data.partition_index);
        w.put_i16(data.error_code);
        w.put_i64(data.high_watermark);
        if v >= 4 {
            w.put_i64(data.last_stable_offset);
        }
        if v >= 5 {
            w.put_i64(data.log_start_offset);
        }
        if v >= 4 {
            let aborted = data.aborted_transactions;
            w.put_array_len(aborted.map(<[_]>::len), self.flexible)?;
            for txn in aborted.unwrap_or_default() {
                w.put_i64(txn.producer_id);
                w.put_i64(txn.first_offset);
                if self.flexible {
                    w.put_uvarint(0);
                }
            }
        }
        if v >= 11 {
            // PreferredReadReplica: none, this broker is the only one.
            w.put_i32(-1);
        }
        match data.records {
            // A segment range holds no allocation: wrapping it in `Records` is free.
            FetchedRecords::Segment(seg) => w.put_records(&Records::Segment(seg), self.flexible)?,
            FetchedRecords::Bytes(bytes) => w.put_bytes(bytes, self.flexible)?,
        }
        if self.flexible {
            // DivergingEpoch, CurrentLeader and SnapshotId keep their defaults: not written.
            w.put_uvarint(0);
        }
        Ok(())
    }

    /// Close a topic.
    pub fn end_topic(&self, w: &mut Writer) {
        if self.flexible {
            w.put_uvarint(0);
        }
    }

    /// Close the response. NodeEndpoints (v16+) is empty, so not written.
    pub fn end(self, w: &mut Writer) {
        if self.flexible {
            w.put_uvarint(0);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use crate::codec::Message;
    use crate::codec::messages::fetch_request::{
        FetchPartition, FetchTopic, ForgottenTopic, ReplicaState,
    };
    use crate::codec::messages::fetch_response::{
        AbortedTransaction, FetchableTopicResponse, PartitionData,
    };
    use crate::codec::messages::{FetchRequest, FetchResponse};
    use crate::codec::response::Response;
    use alloc::string::String;
    use alloc::vec::Vec;
    use quickcheck::{Arbitrary, Gen};

    fn any<T: Arbitrary>(g: &mut Gen) -> T {
        T::arbitrary(g)
    }

    fn short_vec<T>(g: &mut Gen, mut f: impl FnMut(&mut Gen) -> T) -> Vec<T> {
        (0..usize::arbitrary(g) % 4).map(|_| f(g)).collect()
    }

    fn string(g: &mut Gen) -> String {
        (0..usize::arbitrary(g) % 6)
            .map(|_| char::arbitrary(g))
            .collect()
    }

    fn uuid(g: &mut Gen) -> Uuid {
        Uuid(core::array::from_fn(|_| u8::arbitrary(g)))
    }

    /// A random request holding only what `v` can carry (the rest at the spec's defaults).
    fn request(g: &mut Gen, v: i16) -> FetchRequest {
        let d = FetchRequest::default();
        let topics = short_vec(g, |g| FetchTopic {
            topic: if v <= 12 { string(g) } else { String::new() },
            topic_id: if v >= 13 { uuid(g) } else { Uuid::ZERO },
            partitions: short_vec(g, |g| FetchPartition {
                partition: any(g),
                current_leader_epoch: if v >= 9 { any(g) } else { -1 },
                fetch_offset: any(g),
                last_fetched_epoch: if v >= 12 { any(g) } else { -1 },
                log_start_offset: if v >= 5 { any(g) } else { -1 },
                partition_max_bytes: any(g),
                replica_directory_id: if v == 17 && bool::arbitrary(g) {
                    uuid(g)
                } else {
                    Uuid::ZERO
                },
            }),
        });
        let forgotten = short_vec(g, |g| ForgottenTopic {
            topic: if v <= 12 { string(g) } else { String::new() },
            topic_id: if v >= 13 { uuid(g) } else { Uuid::ZERO },
            partitions: short_vec(g, any),
        });
        FetchRequest {
            cluster_id: if v >= 12 && bool::arbitrary(g) {
                Some(string(g))
            } else {
                None
            },
            replica_id: if v <= 14 { any(g) } else { -1 },
            replica_state: if v >= 15 && bool::arbitrary(g) {
                ReplicaState {
                    replica_id: any(g),
                    replica_epoch: any(g),
                }
            } else {
                ReplicaState::default()
            },
            max_wait_ms: any(g),
            min_bytes: any(g),
            max_bytes: if v >= 3 { any(g) } else { d.max_bytes },
            isolation_level: if v >= 4 { any(g) } else { 0 },
            session_id: if v >= 7 { any(g) } else { 0 },
            session_epoch: if v >= 7 { any(g) } else { -1 },
            topics,
            forgotten_topics_data: if v >= 7 { forgotten } else { Vec::new() },
            rack_id: if v >= 11 { string(g) } else { String::new() },
        }
    }

    /// The generated struct rebuilt from what the view reads.
    fn collect(view: &FetchView<'_>) -> FetchRequest {
        let topics = view.topics().map(|t| FetchTopic {
            topic: t.name.into(),
            topic_id: t.topic_id,
            partitions: t
                .partitions()
                .map(|p| FetchPartition {
                    partition: p.partition,
                    current_leader_epoch: p.current_leader_epoch,
                    fetch_offset: p.fetch_offset,
                    last_fetched_epoch: p.last_fetched_epoch,
                    log_start_offset: p.log_start_offset,
                    partition_max_bytes: p.partition_max_bytes,
                    replica_directory_id: p.replica_directory_id,
                })
                .collect(),
        });
        let forgotten = view.forgotten_topics().map(|t| ForgottenTopic {
            topic: t.name.into(),
            topic_id: t.topic_id,
            partitions: t.partitions().collect(),
        });
        FetchRequest {
            cluster_id: view.cluster_id.map(String::from),
            replica_id: view.replica_id,
            replica_state: ReplicaState {
                replica_id: view.replica_state_id,
                replica_epoch: view.replica_state_epoch,
            },
            max_wait_ms: view.max_wait_ms,
            min_bytes: view.min_bytes,
            max_bytes: view.max_bytes,
            isolation_level: view.isolation_level,
            session_id: view.session_id,
            session_epoch: view.session_epoch,
            topics: topics.collect(),
            forgotten_topics_data: forgotten.collect(),
            rack_id: view.rack_id.into(),
        }
    }

    fn encoded(request: &FetchRequest, v: i16) -> Vec<u8> {
        let mut w = Writer::new();
        request.encode(&mut w, v).unwrap();
        w.into_bytes()
    }

    #[test]
    fn view_reads_what_the_generated_encoder_writes() {
        let mut g = Gen::new(16);
        for v in VERSIONS {
            for _ in 0..200 {
                let request = request(&mut g, v);
                let bytes = encoded(&request, v);
                let view = FetchView::decode(&bytes, v).unwrap();
                assert_eq!(view.version(), v);
                assert_eq!(view.topic_count(), request.topics.len());
                let forgotten = request.forgotten_topics_data.len();
                assert_eq!(view.forgotten_topic_count(), forgotten);
                assert_eq!(collect(&view), request, "version {v}");
            }
        }
    }

    /// The generated messages' own generator (with the `arbitrary` feature) reaches shapes the
    /// one above does not, such as tagged fields at versions that carry them.
    #[cfg(feature = "arbitrary")]
    #[test]
    fn view_reads_arbitrary_generated_requests() {
        let mut g = Gen::new(16);
        for v in VERSIONS {
            for _ in 0..200 {
                let mut request = FetchRequest::arbitrary(&mut g);
                request.for_version(v);
                let bytes = encoded(&request, v);
                let view = FetchView::decode(&bytes, v).unwrap();
                assert_eq!(collect(&view), request, "version {v}");
            }
        }
    }

    /// Cut short or with bytes overwritten, a body is refused exactly when the generated decoder
    /// refuses it, and otherwise read the same.
    #[test]
    fn view_refuses_what_the_generated_decoder_refuses() {
        let mut g = Gen::new(16);
        for v in VERSIONS {
            for _ in 0..20 {
                let bytes = encoded(&request(&mut g, v), v);
                for cut in 0..bytes.len() {
                    agree(&bytes[..cut], v);
                }
                for _ in 0..50 {
                    let mut bad = bytes.clone();
                    if bad.is_empty() {
                        break;
                    }
                    let at = usize::arbitrary(&mut g) % bad.len();
                    let random = u8::arbitrary(&mut g);
                    bad[at] = *g.choose(&[0x00, 0x01, 0x7f, 0x80, 0xff, random]).unwrap();
                    agree(&bad, v);
                }
            }
        }
        assert!(FetchView::decode(&[], 18).is_err());
        assert!(FetchView::decode(&[], -1).is_err());
    }

    fn agree(bytes: &[u8], v: i16) {
        let ours = FetchView::decode(bytes, v);
        let generated = FetchRequest::decode(bytes, v);
        match (ours, generated) {
            (Ok(view), Ok((_, request))) => assert_eq!(collect(&view), request, "version {v}"),
            (Err(_), Err(_)) => {}
            (ours, generated) => panic!(
                "version {v}: ours {:?}, generated {:?} for {bytes:?}",
                ours.is_ok(),
                generated.is_ok()
            ),
        }
    }

    #[test]
    fn a_claimed_count_beyond_the_body_is_refused_at_once() {
        // Fetch v4: replica, wait, min, max, isolation, then a topic count of i32::MAX.
        let mut w = Writer::new();
        for x in [-1, 500, 1, 1 << 20] {
            w.put_i32(x);
        }
        w.put_i8(0);
        w.put_i32(i32::MAX);
        let bytes = w.into_bytes();
        assert!(matches!(
            FetchView::decode(&bytes, 4),
            Err(DecodeError::LengthExceedsInput { .. })
        ));
    }

    const SEG: SegmentRef = SegmentRef {
        partition: 3,
        base_offset: 100,
        start: 64,
        len: 1234,
    };

    /// A response of the shape the broker answers with: data from a segment, down-converted
    /// bytes, an empty partition and errors.
    fn response(g: &mut Gen, v: i16) -> FetchResponse {
        let partition = |g: &mut Gen| {
            let records = match u8::arbitrary(g) % 3 {
                0 if v >= 4 => Records::Segment(SEG),
                1 => Records::Bytes(short_vec(g, any)),
                _ => Records::Bytes(Vec::new()),
            };
            PartitionData {
                partition_index: any(g),
                error_code: any(g),
                high_watermark: any(g),
                last_stable_offset: if v >= 4 { any(g) } else { -1 },
                log_start_offset: if v >= 5 { any(g) } else { -1 },
                aborted_transactions: if v >= 4 && bool::arbitrary(g) {
                    Some(short_vec(g, |g| AbortedTransaction {
                        producer_id: any(g),
                        first_offset: any(g),
                    }))
                } else {
                    None
                },
                preferred_read_replica: -1,
                records: Some(records),
                ..Default::default()
            }
        };
        FetchResponse {
            throttle_time_ms: if v >= 1 { any(g) } else { 0 },
            error_code: if v >= 7 { any(g) } else { 0 },
            session_id: if v >= 7 { any(g) } else { 0 },
            responses: short_vec(g, |g| FetchableTopicResponse {
                topic: if v <= 12 { string(g) } else { String::new() },
                topic_id: if v >= 13 { uuid(g) } else { Uuid::ZERO },
                partitions: short_vec(g, partition),
            }),
            ..Default::default()
        }
    }

    fn written(expected: &FetchResponse, v: i16) -> Response {
        let mut w = Writer::new();
        let out = FetchResponseWriter::begin(
            &mut w,
            v,
            expected.throttle_time_ms,
            expected.error_code,
            expected.session_id,
            expected.responses.len(),
        )
        .unwrap();
        for t in &expected.responses {
            out.topic(&mut w, &t.topic, t.topic_id, t.partitions.len())
                .unwrap();
            for p in &t.partitions {
                let records = match p.records.as_ref().unwrap() {
                    Records::Segment(seg) => FetchedRecords::Segment(*seg),
                    Records::Bytes(b) => FetchedRecords::Bytes(b),
                };
                let aborted: Option<Vec<super::AbortedTransaction>> =
                    p.aborted_transactions.as_ref().map(|list| {
                        list.iter()
                            .map(|a| super::AbortedTransaction {
                                producer_id: a.producer_id,
                                first_offset: a.first_offset,
                            })
                            .collect()
                    });
                let data = FetchedPartition {
                    partition_index: p.partition_index,
                    error_code: p.error_code,
                    high_watermark: p.high_watermark,
                    last_stable_offset: p.last_stable_offset,
                    log_start_offset: p.log_start_offset,
                    aborted_transactions: aborted.as_deref(),
                    records,
                };
                out.partition(&mut w, &data).unwrap();
            }
            out.end_topic(&mut w);
        }
        out.end(&mut w);
        w.into_response()
    }

    /// The segment bytes a splice stands for, so the frame can be decoded whole.
    fn flattened(r: &Response) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in r.chunks() {
            match chunk {
                crate::codec::Chunk::Bytes(b) => out.extend_from_slice(b),
                crate::codec::Chunk::Segment(s) => out.resize(out.len() + s.len as usize, 0xa5),
            }
        }
        out
    }

    #[test]
    fn writer_matches_the_generated_encoder() {
        let mut g = Gen::new(16);
        for v in VERSIONS {
            for _ in 0..200 {
                let expected = response(&mut g, v);
                let mut w = Writer::new();
                expected.encode(&mut w, v).unwrap();
                let reference = w.into_response();
                let ours = written(&expected, v);
                assert_eq!(ours, reference, "version {v}");
                let (_, decoded) = FetchResponse::decode(&flattened(&ours), v).unwrap();
                let segment_data = Records::Bytes(alloc::vec![0xa5; SEG.len as usize]);
                let mut expected = expected;
                for p in expected
                    .responses
                    .iter_mut()
                    .flat_map(|t| &mut t.partitions)
                {
                    if matches!(p.records, Some(Records::Segment(_))) {
                        p.records = Some(segment_data.clone());
                    }
                    if v < 4 {
                        // Not on the wire: decoded as the spec's default.
                        p.aborted_transactions = Some(Vec::new());
                    }
                }
                assert_eq!(decoded, expected, "version {v}");
            }
        }
    }

    #[test]
    fn writer_refuses_what_the_version_cannot_carry() {
        let mut w = Writer::new();
        assert!(FetchResponseWriter::begin(&mut w, 18, 0, 0, 0, 0).is_err());
        assert!(FetchResponseWriter::begin(&mut w, 6, 0, 0, 5, 0).is_err());
    }
}
