//! Fetch: record bytes straight from the segments, with long polling (KIP-74 limits, KIP-227
//! sessions answered as full fetches).
//!
//! The hot path allocates nothing once warm: the request is read in place (`FetchView`), the
//! response written into a recycled buffer with record data left in the segments, and a long
//! poll parks as its raw body, read again when an append or its deadline comes.

use alloc::vec::Vec;
use core::time::Duration;

use super::list_offsets::LEADER_EPOCH;
use super::{Broker, ConnId, Hdr, Reply, finish_response};
use crate::ErrorCode;
use crate::codec::fetch_view::{
    AbortedTransaction, FetchPartitionView, FetchResponseWriter, FetchView, FetchedPartition,
    FetchedRecords,
};
use crate::codec::{ApiKey, EncodeError, SegmentRef, Writer};
use crate::records;
use crate::storage::Storage;

/// What writing a Fetch response found.
struct Built {
    /// Record bytes in the response.
    bytes: usize,
    /// A partition answered with an error: Kafka then answers at once.
    error: bool,
}

/// One partition's answer before it is written; owns down-converted bytes (Fetch v0-3).
struct Answer {
    partition_index: i32,
    error_code: i16,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    /// `None` (null) at READ_UNCOMMITTED and with an error.
    aborted: Option<Vec<AbortedTransaction>>,
    records: AnswerRecords,
}

/// READ_COMMITTED (Fetch v4+): only data below the last stable offset, with the aborted
/// transactions in it.
const READ_COMMITTED: i8 = 1;

enum AnswerRecords {
    None,
    Segment(SegmentRef),
    Converted(Vec<u8>),
}

impl Answer {
    fn error(index: i32, code: ErrorCode) -> Self {
        Answer {
            partition_index: index,
            error_code: code.code(),
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted: None,
            records: AnswerRecords::None,
        }
    }

    fn fetched(&self) -> FetchedPartition<'_> {
        FetchedPartition {
            partition_index: self.partition_index,
            error_code: self.error_code,
            high_watermark: self.high_watermark,
            last_stable_offset: self.last_stable_offset,
            log_start_offset: self.log_start_offset,
            aborted_transactions: self.aborted.as_deref(),
            records: match &self.records {
                AnswerRecords::None => FetchedRecords::Bytes(&[]),
                AnswerRecords::Segment(seg) => FetchedRecords::Segment(*seg),
                AnswerRecords::Converted(bytes) => FetchedRecords::Bytes(bytes),
            },
        }
    }
}

impl<S: Storage> Broker<S> {
    pub(super) fn fetch(&mut self, conn: ConnId, hdr: Hdr, body: &[u8]) -> Reply {
        let v = hdr.api_version;
        let Ok(request) = FetchView::decode(body, v) else {
            return Reply::Close;
        };
        let mut w = self.fetch_writer(hdr);
        if let Some(code) = session_error(&request) {
            self.count_error(hdr.api_key, code.code());
            let Ok(out) = FetchResponseWriter::begin(&mut w, v, 0, code.code(), 0, 0) else {
                return Reply::Close;
            };
            out.end(&mut w);
            return finish_response(w);
        }
        let mut partitions = core::mem::take(&mut self.fetch_partitions);
        partitions.clear();
        let built = self.write_fetch(&request, &mut w, Some(&mut partitions));
        let Ok(built) = built else {
            self.fetch_partitions = partitions;
            self.recycle(w.into_response());
            return Reply::Close;
        };
        let wait = request
            .max_wait_ms
            .clamp(0, self.config.limits.fetch_wait_ms_max as i32);
        let satisfied = built.bytes >= request.min_bytes.max(0) as usize;
        let room = self.parked.len() < self.config.limits.parked_requests_max as usize;
        if satisfied || built.error || wait == 0 || partitions.is_empty() || !room {
            self.fetch_partitions = partitions;
            return finish_response(w);
        }
        // The answer is written again when the fetch is woken or expires.
        self.recycle(w.into_response());
        let deadline = self.now + Duration::from_millis(wait as u64);
        self.parked
            .insert(conn, hdr, deadline, body, &mut partitions);
        self.fetch_partitions = partitions;
        Reply::Parked
    }

    /// New data in `touched` partitions: answer the parked fetches it satisfies.
    pub(super) fn wake_fetches(&mut self, touched: &[u32]) {
        if touched.is_empty() || self.parked.len() == 0 {
            return;
        }
        let mut woken = core::mem::take(&mut self.woken);
        self.parked.waiting_on(touched, &mut woken);
        for &id in &woken {
            self.retry_parked(id, false);
        }
        self.woken = woken;
    }

    /// Answer the parked fetches whose deadline has passed with what there is.
    pub(super) fn expire_parked(&mut self) {
        // Bounded: each round removes one parked fetch.
        while let Some(id) = self.parked.pop_due(self.now) {
            self.retry_parked(id, true);
        }
    }

    /// Write parked fetch `id`'s answer; send it if it has enough data, is an error, or the
    /// fetch `expired`, else leave the fetch parked.
    fn retry_parked(&mut self, id: u64, expired: bool) {
        let Some(hdr) = self.parked.get(id).map(|p| p.hdr) else {
            return;
        };
        let mut w = self.fetch_writer(hdr);
        // Copied out of the slot: answering may open segments, which needs the broker mutably.
        let mut body = core::mem::take(&mut self.parked_body);
        body.clear();
        let outcome = self.parked.get(id).map(|p| body.extend_from_slice(p.body));
        let outcome = outcome.map(|()| {
            // The body was validated when it parked; a failure here would be a bug, answered as
            // one that cannot be serialized: by closing.
            let request = FetchView::decode(&body, hdr.api_version).map_err(|_| ())?;
            let built = self.write_fetch(&request, &mut w, None).map_err(|_| ())?;
            Ok::<_, ()>(built.error || built.bytes >= request.min_bytes.max(0) as usize)
        });
        self.parked_body = body;
        let reply = match outcome {
            Some(Ok(false)) if !expired => {
                // Not enough data yet: the fetch stays parked.
                self.recycle(w.into_response());
                return;
            }
            Some(Ok(_)) => finish_response(w),
            Some(Err(())) | None => {
                self.recycle(w.into_response());
                Reply::Close
            }
        };
        if let Some((conn, _)) = self.parked.remove(id) {
            self.unpark(conn, reply);
        }
    }

    /// A writer for a Fetch response: a recycled buffer and a recycled list of splices.
    fn fetch_writer(&mut self, hdr: Hdr) -> Writer {
        let splices = self.spare_splices.pop().unwrap_or_default();
        self.response_writer(hdr).with_splices(splices)
    }

    /// Write the response body to `request` into `w`; known partitions go to `partitions`.
    fn write_fetch(
        &mut self,
        request: &FetchView<'_>,
        w: &mut Writer,
        mut partitions: Option<&mut Vec<u32>>,
    ) -> Result<Built, EncodeError> {
        let v = request.version();
        let mut built = Built {
            bytes: 0,
            error: false,
        };
        // KIP-74: `max_bytes` bounds the response, but the first batch is sent even if larger.
        let mut remaining = if v >= 3 {
            request.max_bytes.max(0) as usize
        } else {
            usize::MAX
        };
        let (unknown, by_id) = if v >= 13 {
            (ErrorCode::UnknownTopicId, true)
        } else {
            (ErrorCode::UnknownTopicOrPartition, false)
        };
        let out = FetchResponseWriter::begin(w, v, 0, 0, 0, request.topic_count())?;
        for topic in request.topics() {
            let ti = if by_id {
                self.topics.by_id(&topic.topic_id)
            } else {
                self.topics.by_name(topic.name)
            };
            out.topic(w, topic.name, topic.topic_id, topic.partition_count())?;
            for fp in topic.partitions() {
                let pi = ti.and_then(|ti| self.topics.partition_of(ti, fp.partition));
                // From v13 the request names topics by id only.
                let name = ti.map_or(topic.name, |ti| self.topics.topic(ti).name.as_str());
                let fault =
                    pi.and_then(|_| (self.faults).partition_error(self.now, name, fp.partition));
                let (answer, len) = match (pi, fault) {
                    (None, _) => (Answer::error(fp.partition, unknown), 0),
                    (Some(_), Some(code)) => (Answer::error(fp.partition, code), 0),
                    (Some(pi), None) => {
                        if let Some(list) = partitions.as_deref_mut() {
                            list.push(pi);
                        }
                        let committed = v >= 4 && request.isolation_level == READ_COMMITTED;
                        let first = built.bytes == 0;
                        self.fetch_partition(v, committed, pi, &fp, &mut remaining, first)
                            .unwrap_or_else(|code| (Answer::error(fp.partition, code), 0))
                    }
                };
                if answer.error_code != 0 {
                    // Counted here, written once: a fetch with an error is answered at once.
                    built.error = true;
                    self.count_error(ApiKey::Fetch.code(), answer.error_code);
                }
                built.bytes += len;
                out.partition(w, &answer.fetched())?;
                if let (AnswerRecords::Segment(seg), Some(pi)) = (&answer.records, pi) {
                    // Spliced into the response: its segment stays open until it comes back.
                    self.hold_segment(pi, seg.base_offset);
                }
            }
            out.end_topic(w);
        }
        out.end(w);
        Ok(built)
    }

    /// One partition's data and its length in bytes; the segment read is opened if closed.
    /// `committed` (READ_COMMITTED) stops the data at the last stable offset and lists the
    /// aborted transactions in it.
    fn fetch_partition(
        &mut self,
        v: i16,
        committed: bool,
        pi: u32,
        fp: &FetchPartitionView,
        remaining: &mut usize,
        first: bool,
    ) -> Result<(Answer, usize), ErrorCode> {
        let log = &self
            .topics
            .partition(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?
            .log;
        if v >= 9 && fp.current_leader_epoch > LEADER_EPOCH {
            return Err(ErrorCode::UnknownLeaderEpoch);
        }
        if v >= 9 && fp.current_leader_epoch >= 0 && fp.current_leader_epoch < LEADER_EPOCH {
            return Err(ErrorCode::FencedLeaderEpoch);
        }
        let (start, end) = (log.log_start_offset(), log.log_end_offset());
        let stable = self.last_stable_offset(pi);
        let mut data = Answer {
            partition_index: fp.partition,
            error_code: 0,
            high_watermark: end,
            last_stable_offset: if v >= 4 { stable } else { -1 },
            log_start_offset: if v >= 5 { start } else { -1 },
            aborted: None,
            records: AnswerRecords::None,
        };
        if fp.fetch_offset < start || fp.fetch_offset > end {
            // The client resets its position from these, so they go with the error.
            data.error_code = ErrorCode::OffsetOutOfRange.code();
            return Ok((data, 0));
        }
        // Kafka answers READ_COMMITTED with a list even when it has no data for it.
        let below = if committed {
            data.aborted = Some(Vec::new());
            stable
        } else {
            i64::MAX
        };
        let limit = (fp.partition_max_bytes.max(0) as usize).min(*remaining);
        if limit == 0 && !first {
            return Ok((data, 0));
        }
        let offset = fp.fetch_offset;
        let slice = self
            .read_log(pi, |log| log.read_below(offset, limit.max(1), below))
            .ok_or(ErrorCode::UnknownTopicOrPartition)?
            .map_err(|e| e.error_code())?;
        let Some(slice) = slice else {
            return Ok((data, 0));
        };
        let len = slice.len as usize;
        if len > limit && !first {
            // Only the response's first batch may exceed the limits.
            return Ok((data, 0));
        }
        let seg = SegmentRef {
            partition: pi,
            base_offset: slice.segment_base_offset,
            start: slice.start,
            len: slice.len,
        };
        if let Some(list) = &mut data.aborted {
            self.aborted_in(pi, offset, &slice, list);
        }
        data.records = self.records_at_version(v, pi, seg, offset)?;
        *remaining = remaining.saturating_sub(len);
        Ok((data, len))
    }

    /// The aborted transactions a READ_COMMITTED fetch of `slice` from `offset` must list:
    /// Kafka's bounds, from the fetch offset to its upper bound past the data returned.
    fn aborted_in(
        &self,
        pi: u32,
        offset: i64,
        slice: &crate::log::ReadSlice,
        list: &mut Vec<AbortedTransaction>,
    ) {
        let Some(p) = self.topics.partition(pi) else {
            return;
        };
        let upper = p.log.fetch_upper_bound(slice);
        let overlapping = p
            .txns
            .aborted_overlapping(offset, upper)
            .map(|a| AbortedTransaction {
                producer_id: a.producer_id,
                first_offset: a.first_offset,
            });
        list.extend(overlapping);
    }

    /// The records of `seg` as Fetch `v` carries them: the segment's own bytes from v4, else
    /// down-converted to the message format the version reads.
    fn records_at_version(
        &self,
        v: i16,
        pi: u32,
        seg: SegmentRef,
        fetch_offset: i64,
    ) -> Result<AnswerRecords, ErrorCode> {
        if v >= 4 {
            return Ok(AnswerRecords::Segment(seg));
        }
        let log = &self
            .topics
            .partition(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?
            .log;
        let bytes = log
            .segment_bytes(seg.base_offset, seg.start, seg.len)
            .ok_or(ErrorCode::KafkaStorageError)?;
        // Fetch v0-v1 read magic 0 message sets, v2-v3 magic 1 (KIP-32).
        let magic = if v >= 2 { 1 } else { 0 };
        let converted = records::legacy::down_convert(bytes, magic, fetch_offset)
            .map_err(|e| e.error_code())?;
        Ok(AnswerRecords::Converted(converted))
    }
}

/// KIP-227: this broker creates no fetch sessions (it answers session id 0, which tells the client
/// to keep sending full requests), so a request naming a session, or an incremental epoch, is
/// refused as Kafka refuses one for a session it does not hold.
fn session_error(request: &FetchView<'_>) -> Option<ErrorCode> {
    if request.version() < 7 {
        return None;
    }
    if request.session_id != 0 {
        return Some(ErrorCode::FetchSessionIdNotFound);
    }
    // Epoch 0 asks for a new session and -1 for none; anything else needs an existing session.
    if request.session_epoch != 0 && request.session_epoch != -1 {
        return Some(ErrorCode::InvalidFetchSessionEpoch);
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use crate::broker::harness::{
        self, Clock, Driver, create_topics_request, fetch_request_at, produce_request,
    };
    use crate::broker::{BrokerConfig, Output};
    use crate::codec::messages::{CreateTopicsResponse, FetchRequest, FetchResponse};
    use crate::codec::primitives::Uuid;
    use crate::codec::{Message, Records};
    use crate::records::BatchBuilder;
    use crate::storage::MemoryStorage;
    use crate::time::Instant;

    fn frame<M: Message>(v: i16, body: &M) -> Vec<u8> {
        harness::request(v, 9, body)
    }

    fn at(ms: u64) -> Instant {
        Instant::default() + Duration::from_millis(ms)
    }

    struct Harness {
        broker: Driver<MemoryStorage>,
        topic_id: Uuid,
    }

    impl Harness {
        /// A broker with topic `t` (one partition) and `parked_max` parked requests at most.
        fn new(parked_max: u32) -> Self {
            let mut config = BrokerConfig {
                segment_size_bytes: 1 << 20,
                ..BrokerConfig::default()
            };
            config.limits.parked_requests_max = parked_max;
            let clock = Clock::new(Instant::default(), 1);
            let mut broker = Driver::start(config, MemoryStorage::default(), clock).unwrap();
            for conn in 1..=3 {
                broker.accept(ConnId(conn));
            }
            let create = create_topics_request("t", 1, &[]);
            let created: CreateTopicsResponse = broker.call(ConnId(1), 7, &create).unwrap();
            let topic_id = created.topics[0].topic_id;
            Harness { broker, topic_id }
        }

        fn feed(&mut self, conn: u64, ms: u64, data: &[u8]) {
            self.broker.clock.move_to(at(ms));
            self.broker.feed(ConnId(conn), data);
        }

        fn drain(&mut self) -> Vec<(u64, Vec<u8>)> {
            let drained = self.broker.drain().unwrap();
            assert_eq!(drained.closed, [], "no connection closed");
            drained.sent.into_iter().map(|(c, f)| (c.0, f)).collect()
        }

        fn produce(&mut self, ms: u64) {
            let mut batch = BatchBuilder::new(0);
            batch.push(1, None, Some(b"value"), &[]);
            let request = produce_request("t", 0, batch.finish());
            self.feed(1, ms, &frame(9, &request));
        }

        fn fetch(&self, v: i16, offset: i64, max_wait_ms: i32) -> Vec<u8> {
            fetch_of(v, "t", self.topic_id, offset, max_wait_ms)
        }
    }

    fn fetch_of(v: i16, name: &str, id: Uuid, offset: i64, max_wait_ms: i32) -> Vec<u8> {
        frame(v, &fetch_request_at(v, name, id, offset, max_wait_ms))
    }

    fn body(v: i16, frame: &[u8]) -> FetchResponse {
        harness::response(v, frame).unwrap()
    }

    #[test]
    fn every_version_reads_the_data_and_names_unknown_topics() {
        let mut h = Harness::new(10);
        h.produce(0);
        h.drain();
        for v in VERSIONS_SERVED {
            h.feed(2, 0, &h.fetch(v, 0, 0));
            let sent = h.drain();
            let resp = body(v, &sent[0].1);
            let p = &resp.responses[0].partitions[0];
            assert_eq!((p.error_code, p.high_watermark), (0, 1), "version {v}");
            assert!(
                p.records.as_ref().is_some_and(|r| !r.is_empty()),
                "version {v}"
            );
            // The same request for a topic this broker does not have.
            let request = fetch_of(v, "u", Uuid([7; 16]), 0, 0);
            h.feed(2, 0, &request);
            let resp = body(v, &h.drain()[0].1);
            let expected = if v >= 13 {
                ErrorCode::UnknownTopicId
            } else {
                ErrorCode::UnknownTopicOrPartition
            };
            let p = &resp.responses[0].partitions[0];
            assert_eq!(p.error_code, expected.code(), "version {v}");
            assert_eq!(p.high_watermark, -1);
        }
    }

    const VERSIONS_SERVED: core::ops::RangeInclusive<i16> = 0..=17;

    #[test]
    fn a_long_poll_by_topic_id_is_woken_by_a_produce() {
        let mut h = Harness::new(10);
        h.feed(2, 0, &h.fetch(13, 0, 500));
        assert!(h.drain().is_empty(), "parked");
        assert_eq!(h.broker.parked.len(), 1);
        h.produce(10);
        let sent = h.drain();
        assert_eq!(sent.len(), 2, "the produce's answer and the fetch's");
        let fetch = sent.iter().find(|(c, _)| *c == 2).unwrap();
        let resp = body(13, &fetch.1);
        assert_eq!(resp.responses[0].topic_id, h.topic_id);
        assert_eq!(resp.responses[0].partitions[0].high_watermark, 1);
        assert_eq!(h.broker.parked.len(), 0);
    }

    #[test]
    fn a_long_poll_expires_empty_and_a_closed_connection_forgets_its_own() {
        let mut h = Harness::new(10);
        h.feed(2, 0, &h.fetch(4, 0, 500));
        h.feed(3, 0, &h.fetch(17, 0, 800));
        assert!(h.drain().is_empty());
        h.broker.hang_up(ConnId(3));
        assert_eq!(h.broker.parked.len(), 1);
        // A timeout before the deadline, then the clock moved to it.
        h.broker.clock.move_to(at(499));
        h.broker.timeout();
        assert!(h.drain().is_empty(), "not yet due");
        h.broker.advance_to(at(500));
        let sent = h.drain();
        assert_eq!(sent.len(), 1);
        let p = &body(4, &sent[0].1).responses[0].partitions[0];
        assert_eq!((p.error_code, p.high_watermark), (0, 0));
        assert!(p.records.as_ref().is_some_and(Records::is_empty));
        assert!(matches!(h.broker.poll_output(), Output::Timeout(None)));
    }

    #[test]
    fn beyond_parked_requests_max_a_long_poll_is_answered_at_once() {
        let mut h = Harness::new(1);
        h.feed(2, 0, &h.fetch(12, 0, 500));
        assert!(h.drain().is_empty());
        h.feed(3, 0, &h.fetch(12, 0, 500));
        assert_eq!(h.drain().len(), 1, "no room: answered empty");
    }

    #[test]
    fn a_session_is_refused_with_its_error() {
        let mut h = Harness::new(10);
        let request = FetchRequest {
            session_id: 5,
            ..Default::default()
        };
        h.feed(2, 0, &frame(12, &request));
        let resp = body(12, &h.drain()[0].1);
        assert_eq!(resp.error_code, ErrorCode::FetchSessionIdNotFound.code());
        assert!(resp.responses.is_empty());
    }
}
