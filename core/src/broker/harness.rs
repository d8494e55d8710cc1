//! The one harness for driving a [`Broker`] in tests, in the manner of quinn's `Pair`: requests
//! built as a client writes them, responses decoded as a client reads them, and a [`Driver`]
//! that feeds the broker bytes on a simulated clock, drains [`Broker::poll_output`] and moves the
//! clock from deadline to deadline, firing each one in order.
//!
//! The broker's unit tests, the deterministic simulation (`core/tests/simulation.rs`) and the
//! allocation tests of `blazemq-tests` all drive the broker through it. It is compiled for
//! `cfg(test)` and with the `testing` feature only, and is `no_std` + alloc like the rest of
//! `core`: a normal build neither contains it nor pulls in std.
//!
//! Errors are strings naming what went wrong, so that a simulation can carry them up to the
//! seed that failed; a unit test unwraps them with `expect`.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};
use core::time::Duration;

use super::{Broker, BrokerConfig, ConnId, Input, Output, Response};
use crate::codec::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use crate::codec::messages::fetch_request::{FetchPartition, FetchTopic};
use crate::codec::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use crate::codec::messages::{
    CreateTopicsRequest, CreateTopicsResponse, FetchRequest, OffsetCommitRequest, ProduceRequest,
};
use crate::codec::{Message, Records, Uuid, decode_response_frame};
use crate::records::BatchBuilder;
use crate::storage::{FoundPartition, FoundSegment, Recovery, Storage};
use crate::time::Instant;

/// The client id every request of the harness carries.
pub const CLIENT_ID: &str = "blazemq-test";
/// The address every connection of the harness comes from.
pub const PEER: &str = "127.0.0.1";
/// Outputs drained after one input at most, before it counts as a livelock.
pub const OUTPUTS_PER_DRAIN_MAX: usize = 100_000;
/// Deadlines fired by one clock move at most, before it counts as a livelock.
pub const DEADLINES_PER_ADVANCE_MAX: usize = 10_000;

/// A whole request frame, as a client writes it: size prefix, header (with [`CLIENT_ID`]), body.
pub fn request<M: Message>(version: i16, correlation_id: i32, body: &M) -> Vec<u8> {
    crate::codec::request_frame(version, correlation_id, Some(CLIENT_ID), body)
        .expect("a request a test builds encodes at its version")
}

/// The correlation id of a response frame, after checking its size prefix.
pub fn correlation_id(frame: &[u8]) -> Result<i32, String> {
    let (size, rest) = frame
        .split_first_chunk::<4>()
        .ok_or("a response shorter than its size prefix")?;
    let size = i32::from_be_bytes(*size);
    if usize::try_from(size).ok() != Some(rest.len()) {
        return Err(format!("size prefix {size} for {} bytes", rest.len()));
    }
    let id = rest
        .first_chunk::<4>()
        .ok_or("a response without a correlation id")?;
    Ok(i32::from_be_bytes(*id))
}

/// Decode a response frame (size prefix included) to a request of `M`'s api at `version`.
pub fn response<M: Message>(version: i16, frame: &[u8]) -> Result<M, String> {
    correlation_id(frame)?;
    decode_response_frame(version, frame)
        .map(|(_, body)| body)
        .map_err(|e| format!("response of api {} v{version}: {e:?}", M::API_KEY))
}

/// [`response`], checking that it answers the request with `correlation_id`.
pub fn response_to<M: Message>(
    version: i16,
    correlation_id: i32,
    frame: &[u8],
) -> Result<M, String> {
    let got = self::correlation_id(frame)?;
    if got != correlation_id {
        return Err(format!(
            "the answer to request {correlation_id} carries correlation id {got}"
        ));
    }
    response(version, frame)
}

/// One record batch (magic 2, no producer id), every record stamped `timestamp` with one of
/// `values` and no key.
pub fn batch<V: AsRef<[u8]>>(timestamp: i64, values: &[V]) -> Vec<u8> {
    let mut b = BatchBuilder::new(0);
    for v in values {
        b.push(timestamp, None, Some(v.as_ref()), &[]);
    }
    b.finish()
}

/// A Produce request (acks 1) of `batch` to partition `partition` of `topic`.
pub fn produce_request(topic: &str, partition: i32, batch: Vec<u8>) -> ProduceRequest {
    ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(Records::Bytes(batch)),
            }],
        }],
        ..Default::default()
    }
}

/// A Fetch request (by topic name, up to 1 MiB) of one partition from `offset`.
pub fn fetch_request(
    topic: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A Fetch request (partition 0, answered from one byte) as a client at `version` names the
/// topic: by name up to v12, by id from v13 (KIP-516).
pub fn fetch_request_at(
    version: i16,
    topic: &str,
    topic_id: Uuid,
    offset: i64,
    max_wait_ms: i32,
) -> FetchRequest {
    let name = if version <= 12 { topic } else { "" };
    let mut request = fetch_request(name, 0, offset, max_wait_ms, 1);
    request.topics[0].topic_id = if version >= 13 { topic_id } else { Uuid::ZERO };
    request
}

/// A CreateTopics request for `name` with `partitions` and the configs `configs`.
pub fn create_topics_request(
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 1,
            configs: configs
                .iter()
                .map(|&(name, value)| CreatableTopicConfig {
                    name: name.into(),
                    value: Some(value.into()),
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: 1000,
        validate_only: false,
    }
}

/// A simple consumer's OffsetCommit (no generation, no metadata) of `offset` for `topic`-0 in
/// `group`, as AdminClient's alterConsumerGroupOffsets sends it.
pub fn offset_commit_request(group: &str, topic: &str, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: topic.into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_leader_epoch: -1,
                commit_timestamp: -1,
                committed_metadata: None,
            }],
        }],
        ..Default::default()
    }
}

/// Both clocks of a test: the monotonic `now` and the wall clock, which moves with it.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    now: Instant,
    /// Wall-clock milliseconds at the monotonic clock's origin.
    unix_ms_at_origin: i64,
}

impl Clock {
    /// A clock at `now`, when the wall clock reads `unix_ms`.
    pub fn new(now: Instant, unix_ms: i64) -> Self {
        Clock {
            now,
            unix_ms_at_origin: unix_ms - millis(now),
        }
    }

    /// Monotonic time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Wall-clock milliseconds now.
    pub fn unix_ms(&self) -> i64 {
        self.unix_ms_at_origin + millis(self.now)
    }

    /// Set the wall clock to `unix_ms` (an operator or NTP moving it); `now` stays.
    pub fn set_unix_ms(&mut self, unix_ms: i64) {
        self.unix_ms_at_origin = unix_ms - millis(self.now);
    }

    /// Move both clocks to `to`; never back.
    pub fn move_to(&mut self, to: Instant) {
        self.now = self.now.max(to);
    }
}

fn millis(at: Instant) -> i64 {
    i64::try_from(at.as_nanos() / 1_000_000).expect("a test's clock stays within i64 ms")
}

/// Something the broker did, as [`Driver::poll`] reports it.
#[derive(Debug)]
pub enum Event {
    /// A response frame (size prefix included) for `conn`, segment bytes spliced in.
    Sent {
        /// The connection.
        conn: ConnId,
        /// The whole frame.
        frame: Vec<u8>,
    },
    /// The broker closed `conn`.
    Closed(ConnId),
}

/// Everything one [`Driver::drain`] gave.
#[derive(Debug, Default)]
pub struct Drained {
    /// Responses, in the order the broker sent them.
    pub sent: Vec<(ConnId, Vec<u8>)>,
    /// Connections the broker closed.
    pub closed: Vec<ConnId>,
    /// The broker's next deadline.
    pub deadline: Option<Instant>,
}

impl Drained {
    /// The responses sent on `conn`, in order.
    pub fn on(&self, conn: ConnId) -> Vec<&[u8]> {
        self.sent
            .iter()
            .filter(|(c, _)| *c == conn)
            .map(|(_, frame)| &frame[..])
            .collect()
    }
}

/// A broker on a simulated clock, fed bytes and drained. Reads through to the broker (it
/// dereferences to it), so a test inspects the broker's state as it would the broker's own.
pub struct Driver<S: Storage> {
    broker: Broker<S>,
    /// The clocks every input carries.
    pub clock: Clock,
    /// Set by [`Driver::advance_to`]: deadlines up to it fire while draining.
    target: Option<Instant>,
    /// The deadline fired last in this clock move, and how many fired.
    fired: Option<Instant>,
    fired_count: usize,
    /// Outputs since the last `Output::Timeout`.
    outputs: usize,
    deadline: Option<Instant>,
    next_correlation_id: i32,
}

impl<S: Storage> core::fmt::Debug for Driver<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("broker", &self.broker)
            .field("clock", &self.clock)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> Deref for Driver<S> {
    type Target = Broker<S>;
    fn deref(&self) -> &Broker<S> {
        &self.broker
    }
}

impl<S: Storage> DerefMut for Driver<S> {
    fn deref_mut(&mut self) -> &mut Broker<S> {
        &mut self.broker
    }
}

impl<S: Storage> Driver<S> {
    /// Drive `broker` from `clock`, which should read what the broker was started with.
    pub fn new(broker: Broker<S>, clock: Clock) -> Self {
        Driver {
            broker,
            clock,
            target: None,
            fired: None,
            fired_count: 0,
            outputs: 0,
            deadline: None,
            next_correlation_id: 0,
        }
    }

    /// A broker over `storage` started at `clock`, driven.
    pub fn start(config: BrokerConfig, storage: S, clock: Clock) -> Result<Self, String> {
        let broker = Broker::new(config, storage, clock.unix_ms())
            .map_err(|e| format!("the broker does not start: {e:?}"))?;
        Ok(Driver::new(broker, clock))
    }

    /// The broker, to stop or restart it.
    pub fn into_broker(self) -> Broker<S> {
        self.broker
    }

    /// A client connects as `conn`.
    pub fn accept(&mut self, conn: ConnId) {
        let now = self.clock.now();
        self.broker.handle(Input::Accepted {
            conn,
            now,
            peer: PEER,
        });
    }

    /// `conn`'s client hangs up.
    pub fn hang_up(&mut self, conn: ConnId) {
        self.broker.handle(Input::Closed(conn));
    }

    /// `data` arrives on `conn` now. Drain afterwards.
    pub fn feed(&mut self, conn: ConnId, data: &[u8]) {
        let (now, unix_ms) = (self.clock.now(), self.clock.unix_ms());
        self.broker.handle(Input::Bytes {
            conn,
            now,
            unix_ms,
            data,
        });
    }

    /// The next correlation id this driver's requests carry (1, 2, ...).
    pub fn next_correlation_id(&mut self) -> i32 {
        self.next_correlation_id += 1;
        self.next_correlation_id
    }

    /// A request frame with the next correlation id; returns both.
    pub fn request<M: Message>(&mut self, version: i16, body: &M) -> (i32, Vec<u8>) {
        let id = self.next_correlation_id();
        (id, request(version, id, body))
    }

    /// Send a request on `conn` (drain afterwards); returns its correlation id.
    pub fn send<M: Message>(&mut self, conn: ConnId, version: i16, body: &M) -> i32 {
        let (id, frame) = self.request(version, body);
        self.feed(conn, &frame);
        id
    }

    /// A timeout now, due or not: the broker must take a spurious one in its stride.
    pub fn timeout(&mut self) {
        let (now, unix_ms) = (self.clock.now(), self.clock.unix_ms());
        self.broker.handle(Input::Timeout { now, unix_ms });
    }

    /// Move the clock to `to` while draining: every deadline up to it fires in order, at its
    /// own instant. [`Driver::poll`] or [`Driver::drain`] does the work.
    pub fn advance_to(&mut self, to: Instant) {
        self.target = Some(self.target.map_or(to, |t| t.max(to)));
        self.fired = None;
        self.fired_count = 0;
    }

    /// [`Driver::advance_to`] `ms` milliseconds from now.
    pub fn advance_ms(&mut self, ms: u64) {
        let to = self.clock.now() + Duration::from_millis(ms);
        self.advance_to(to);
    }

    /// The broker's deadline, as of the last drain.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The next thing the broker did, or `None` once it has nothing left and the clock has
    /// reached the target of [`Driver::advance_to`]. Fails on a livelock or a response that
    /// names a segment the broker no longer has.
    pub fn poll(&mut self) -> Result<Option<Event>, String> {
        match self.next_output()? {
            Some(Output::Send { conn, response }) => {
                let frame = self.flatten(&response)?;
                self.broker.recycle(response);
                Ok(Some(Event::Sent { conn, frame }))
            }
            Some(Output::Close(conn)) => Ok(Some(Event::Closed(conn))),
            Some(Output::Timeout(_)) | None => Ok(None),
        }
    }

    /// The next response as the broker gave it, neither written nor handed back: a test holds
    /// it as a runtime holds a response it is still writing, and gives it back with
    /// [`Broker::recycle`]. A close is an error.
    pub fn next_response(&mut self) -> Result<Option<(ConnId, Response)>, String> {
        match self.next_output()? {
            Some(Output::Send { conn, response }) => Ok(Some((conn, response))),
            Some(Output::Close(conn)) => Err(format!("the broker closed {conn:?}")),
            Some(Output::Timeout(_)) | None => Ok(None),
        }
    }

    /// The broker's next output other than `Timeout`, firing the due deadlines of a clock move
    /// under way; `None` once there is none.
    fn next_output(&mut self) -> Result<Option<Output>, String> {
        loop {
            self.outputs += 1;
            if self.outputs > OUTPUTS_PER_DRAIN_MAX {
                return Err(format!(
                    "poll_output gave {OUTPUTS_PER_DRAIN_MAX} outputs without Timeout: livelock"
                ));
            }
            match self.broker.poll_output() {
                Output::Timeout(deadline) => {
                    self.outputs = 0;
                    self.deadline = deadline;
                    if !self.fire_due(deadline)? {
                        return Ok(None);
                    }
                }
                output => return Ok(Some(output)),
            }
        }
    }

    /// Fire `deadline` if an advance is under way and it is due; whether it fired.
    fn fire_due(&mut self, deadline: Option<Instant>) -> Result<bool, String> {
        let Some(target) = self.target else {
            return Ok(false);
        };
        // A deadline may come back at the instant it fired while the broker works through
        // something a turn at a time (topics to create); never earlier. A deadline that stays
        // without progress is caught by the bound on deadlines fired in one move.
        if let (Some(fired), Some(next)) = (self.fired, deadline) {
            if next < fired {
                return Err(format!(
                    "the deadline {next:?} is before {fired:?}, which fired already"
                ));
            }
        }
        match deadline {
            Some(d) if d <= target => {
                self.fired_count += 1;
                if self.fired_count > DEADLINES_PER_ADVANCE_MAX {
                    return Err(format!(
                        "{DEADLINES_PER_ADVANCE_MAX} deadlines fired in one clock move: livelock"
                    ));
                }
                self.clock.move_to(d);
                self.fired = Some(d);
                self.timeout();
                Ok(true)
            }
            _ => {
                self.clock.move_to(target);
                self.target = None;
                self.fired = None;
                Ok(false)
            }
        }
    }

    /// Everything the broker does until it has nothing left (and the clock has reached the
    /// target of [`Driver::advance_to`]).
    pub fn drain(&mut self) -> Result<Drained, String> {
        let mut drained = Drained::default();
        while let Some(event) = self.poll()? {
            match event {
                Event::Sent { conn, frame } => drained.sent.push((conn, frame)),
                Event::Closed(conn) => drained.closed.push(conn),
            }
        }
        drained.deadline = self.deadline;
        Ok(drained)
    }

    /// [`Driver::drain`] without looking at the responses, handing each back at once as a
    /// runtime does once written: allocates nothing of its own. Returns how many were sent; a
    /// close is an error.
    pub fn drain_recycled(&mut self) -> Result<usize, String> {
        let mut sent = 0;
        while let Some(output) = self.next_output()? {
            match output {
                Output::Send { response, .. } => {
                    sent += 1;
                    self.broker.recycle(response);
                }
                Output::Close(conn) => return Err(format!("the broker closed {conn:?}")),
                Output::Timeout(_) => {}
            }
        }
        Ok(sent)
    }

    /// The response's bytes in one frame, segment bytes spliced in.
    pub fn flatten(&self, response: &Response) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        if self.broker.write_response(response, &mut out) {
            Ok(out)
        } else {
            Err("a response names a segment the broker no longer has".into())
        }
    }

    /// Send a request on `conn` and decode its answer, or `None` if the broker closed `conn`
    /// instead (the driver then connects it again). Anything else sent meanwhile is an error.
    pub fn try_call<Req: Message, Resp: Message>(
        &mut self,
        conn: ConnId,
        version: i16,
        body: &Req,
    ) -> Result<Option<Resp>, String> {
        let id = self.send(conn, version, body);
        let mut drained = self.drain()?;
        // A request the broker works through a turn at a time (topics to create) is answered
        // in a later turn: fire the deadline it sets, due at once, as a runtime does.
        let mut turns = 0;
        while drained.sent.is_empty()
            && drained.closed.is_empty()
            && drained.deadline.is_some_and(|d| d <= self.clock.now())
        {
            turns += 1;
            if turns > DEADLINES_PER_ADVANCE_MAX {
                return Err(format!("no answer after {turns} turns: livelock"));
            }
            self.timeout();
            drained = self.drain()?;
        }
        if drained.closed == [conn] && drained.sent.is_empty() {
            self.accept(conn);
            return Ok(None);
        }
        match (&drained.sent[..], &drained.closed[..]) {
            ([(c, frame)], []) if *c == conn => response_to(version, id, frame).map(Some),
            _ => Err(format!(
                "one answer to api {} on {conn:?} expected: {} sent ({:?}), closed {:?}",
                Req::API_KEY,
                drained.sent.len(),
                drained.sent.iter().map(|(c, _)| c).collect::<Vec<_>>(),
                drained.closed
            )),
        }
    }

    /// Send a request on `conn` and decode its one answer.
    pub fn call<Req: Message, Resp: Message>(
        &mut self,
        conn: ConnId,
        version: i16,
        body: &Req,
    ) -> Result<Resp, String> {
        self.try_call(conn, version, body)?
            .ok_or_else(|| format!("the broker closed {conn:?} instead of answering"))
    }

    /// Create `name` with `partitions` and `configs` (on `conn`), which must succeed.
    pub fn create(
        &mut self,
        conn: ConnId,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), String> {
        let resp: CreateTopicsResponse =
            self.call(conn, 7, &create_topics_request(name, partitions, configs))?;
        match resp.topics.first() {
            Some(t) if t.error_code == 0 => Ok(()),
            other => Err(format!("creating {name}: {other:?}")),
        }
    }
}

impl<S: Storage> Driver<S>
where
    S::Segment: Clone,
{
    /// Every partition's segments as a restart after a crash finds them (each to be checked
    /// whole), with the metadata file `metadata` gives for each.
    pub fn found_after_crash(
        &self,
        metadata: impl Fn(&str, i32) -> Option<Vec<u8>>,
    ) -> Vec<FoundPartition<S::Segment>> {
        self.found_after_crash_with(metadata, |_, _| None)
    }

    /// [`Driver::found_after_crash`], with the transaction index `transactions` gives for each
    /// partition.
    pub fn found_after_crash_with(
        &self,
        metadata: impl Fn(&str, i32) -> Option<Vec<u8>>,
        transactions: impl Fn(&str, i32) -> Option<Vec<u8>>,
    ) -> Vec<FoundPartition<S::Segment>> {
        let b = &self.broker;
        let mut found = Vec::new();
        for (_, topic) in b.topics.iter() {
            for (p, &pi) in topic.partitions.iter().enumerate() {
                let log = &b
                    .topics
                    .partition(pi)
                    .expect("a topic's partitions are live")
                    .log;
                let partition = i32::try_from(p).expect("partition indexes fit in i32");
                found.push(FoundPartition {
                    topic: topic.name.clone(),
                    partition,
                    segments: log
                        .segments()
                        .iter()
                        .map(|s| FoundSegment {
                            base_offset: s.base_offset(),
                            segment: s.buffer().clone(),
                            recovery: Recovery::Checked,
                        })
                        .collect(),
                    metadata: metadata(&topic.name, partition),
                    transaction_index: transactions(&topic.name, partition),
                });
            }
        }
        found
    }
}

/// The connection [`broker`]'s driver has open, on which the unit tests' calls go.
#[cfg(test)]
pub(crate) const CONN: ConnId = ConnId(1);

/// A broker with 4 KiB segments over memory, wall clock at 1 ms, connection [`CONN`] open.
#[cfg(test)]
pub(crate) fn broker() -> Driver<crate::storage::MemoryStorage> {
    let config = BrokerConfig {
        segment_size_bytes: 4096,
        ..BrokerConfig::default()
    };
    driven(config, crate::storage::MemoryStorage::default())
}

/// A broker over `storage` from the clocks' origin (wall clock at 1 ms), [`CONN`] open.
#[cfg(test)]
pub(crate) fn driven<S: Storage>(config: BrokerConfig, storage: S) -> Driver<S> {
    let mut d = Driver::start(config, storage, Clock::new(Instant::default(), 1))
        .expect("a broker over a healthy storage starts");
    d.accept(CONN);
    d
}

/// `req` at `version` on [`CONN`]: its decoded answer, or `None` if the connection was closed.
#[cfg(test)]
pub(crate) fn try_call<S: Storage, Req: Message, Resp: Message>(
    d: &mut Driver<S>,
    version: i16,
    req: &Req,
) -> Option<Resp> {
    d.try_call(CONN, version, req).expect("answered or closed")
}

/// `req` at `version` on [`CONN`], and its decoded answer.
#[cfg(test)]
pub(crate) fn call<S: Storage, Req: Message, Resp: Message>(
    d: &mut Driver<S>,
    version: i16,
    req: &Req,
) -> Resp {
    d.call(CONN, version, req).expect("answered")
}

/// Create `name` with `partitions` and `configs` on [`CONN`].
#[cfg(test)]
pub(crate) fn create<S: Storage>(
    d: &mut Driver<S>,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    d.create(CONN, name, partitions, configs).expect("created");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::messages::FetchResponse;

    /// Long polls of `t` from offset 0 on connections 2 and 3, waiting 300 and 100 ms.
    fn two_long_polls() -> (Driver<crate::storage::MemoryStorage>, i32, i32) {
        let mut d = broker();
        create(&mut d, "t", 1, &[]);
        d.accept(ConnId(2));
        d.accept(ConnId(3));
        let late = d.send(ConnId(2), 12, &fetch_request("t", 0, 0, 300, 1));
        let early = d.send(ConnId(3), 12, &fetch_request("t", 0, 0, 100, 1));
        let parked = d.drain().expect("drains");
        assert!(parked.sent.is_empty(), "both park");
        assert_eq!(parked.deadline, Some(at_ms(100)));
        (d, late, early)
    }

    fn at_ms(ms: u64) -> Instant {
        Instant::default() + Duration::from_millis(ms)
    }

    #[test]
    fn advance_fires_every_deadline_on_the_way_in_order_and_stops_at_the_target() {
        let (mut d, late, early) = two_long_polls();
        d.advance_to(at_ms(1_000));
        let drained = d.drain().expect("drains");
        let order: Vec<(ConnId, i32)> = drained
            .sent
            .iter()
            .map(|(c, f)| (*c, correlation_id(f).expect("a frame")))
            .collect();
        assert_eq!(order, [(ConnId(3), early), (ConnId(2), late)]);
        for (_, frame) in &drained.sent {
            let r: FetchResponse = response(12, frame).expect("decodes");
            assert_eq!(r.responses[0].partitions[0].error_code, 0);
        }
        assert_eq!(drained.deadline, None);
        assert_eq!(d.clock.now(), at_ms(1_000));
        assert_eq!(d.clock.unix_ms(), 1 + 1_000, "the wall clock moves along");
    }

    #[test]
    fn a_drain_without_an_advance_fires_nothing_and_a_short_advance_fires_what_is_due() {
        let (mut d, _, early) = two_long_polls();
        assert!(d.drain().expect("drains").sent.is_empty());
        d.advance_to(at_ms(150));
        let drained = d.drain().expect("drains");
        assert_eq!(drained.on(ConnId(3)).len(), 1);
        assert_eq!(correlation_id(drained.on(ConnId(3))[0]), Ok(early));
        assert!(drained.on(ConnId(2)).is_empty(), "not due before 300 ms");
        assert_eq!(drained.deadline, Some(at_ms(300)));
        assert_eq!(d.clock.now(), at_ms(150));
    }

    #[test]
    fn a_response_to_another_request_or_a_bad_size_is_an_error() {
        let mut d = broker();
        let id = d.send(
            CONN,
            3,
            &crate::codec::messages::ApiVersionsRequest::default(),
        );
        let drained = d.drain().expect("drains");
        let frame = &drained.on(CONN)[0];
        let ok: Result<crate::codec::messages::ApiVersionsResponse, _> = response_to(3, id, frame);
        assert!(ok.is_ok());
        let wrong: Result<crate::codec::messages::ApiVersionsResponse, _> =
            response_to(3, id + 1, frame);
        assert!(wrong.is_err());
        assert!(correlation_id(&frame[..frame.len() - 1]).is_err());
        assert!(correlation_id(&[0, 0]).is_err());
    }
}
