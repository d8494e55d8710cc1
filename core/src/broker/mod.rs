//! The broker's face: bytes and instants in ([`Input`]), responses and deadlines out ([`Output`]).
//!
//! ```text
//! broker.handle(Input::Bytes { conn, now, unix_ms, data });
//! loop {
//!     match broker.poll_output() {
//!         Output::Send { conn, response } => { /* write response.chunks() to conn */ }
//!         Output::Close(conn) => { /* close conn */ }
//!         Output::Timeout(deadline) => break, // wait for I/O or until `deadline`
//!     }
//! }
//! // Only if `BrokerConfig::events` asks for them: what changed, for the runtime's log.
//! while let Some(event) = broker.poll_event() { /* log it */ }
//! ```

mod admin;
mod alter_configs;
mod api_versions;
mod apis;
mod checkpoint;
mod cleaner;

mod config;
mod connection;
mod create_partitions;
mod create_topics;
mod delete_records;
mod describe_cluster;
mod describe_log_dirs;
mod dynamic_configs;
mod events;
mod faults;
mod fetch;
mod groups;
#[cfg(any(test, feature = "testing"))]
pub mod harness;
mod log_replay;

mod init_producer_id;
mod list_offsets;
mod metadata;
mod names;
mod open_segments;
mod parked;
mod placement;

mod produce;
mod producer_state;
mod producers;
mod retention;
mod rng;
mod stats;
mod topic_config;
mod topic_settings;
mod topics;
mod transactions;
mod txn_partitions;

pub use crate::codec::{Chunk, RequestStamp, Response, SegmentRef, Splice};
pub use config::{BrokerConfig, CleanupPolicy, OPEN_SEGMENTS_MAX_DEFAULT, defaults};
pub use events::{Event, EventLevel, Requester};
pub use faults::{FAULT_RULES_MAX, FaultError, FaultId, FaultInfo, FaultKind, FaultRule};
pub use stats::{CommittedOffset, PartitionSnapshot};

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::mem;
use core::time::Duration;

use crate::codec::frame;
use crate::codec::primitives::{Uuid, Writer};
use crate::codec::{ApiKey, Message, peek_request_header, request_header_ref, response_frame};
use crate::error::ErrorCode;
use crate::group::{GroupConfig, GroupCoordinator};
use crate::limits::PARTITIONS_CREATED_PER_TURN_MAX;
use crate::log::RecoveryCheckpoint;
use crate::storage::{Storage, StorageError};
use crate::time::Instant;
use apis::Request;
use connection::Connection;
use rng::Rng;
use topics::Topics;

/// A connection, named by the runtime. Ids are not reused while the broker knows the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Something that happened, fed to [`Broker::handle`].
#[derive(Debug)]
pub enum Input<'a> {
    /// A client connected.
    Accepted {
        /// The new connection.
        conn: ConnId,
        /// Monotonic time now.
        now: Instant,
        /// The client's address as text (`127.0.0.1`), which DescribeGroups reports.
        peer: &'a str,
    },
    /// Bytes arrived on a connection (any split: partial frames are buffered).
    Bytes {
        /// Where they came from.
        conn: ConnId,
        /// Monotonic time now.
        now: Instant,
        /// Wall-clock milliseconds since the Unix epoch, for Kafka timestamps.
        unix_ms: i64,
        /// The bytes read.
        data: &'a [u8],
    },
    /// The client closed the connection, or it failed.
    Closed(ConnId),
    /// Time passed; safe to send at any time, deadlines not yet due are left alone.
    Timeout {
        /// Monotonic time now.
        now: Instant,
        /// Wall-clock milliseconds since the Unix epoch.
        unix_ms: i64,
    },
}

/// What the runtime must do next, drained from [`Broker::poll_output`].
#[derive(Debug)]
pub enum Output {
    /// Write `response` to `conn`, after everything sent to it before.
    Send {
        /// The connection.
        conn: ConnId,
        /// The response frame, size prefix included.
        response: Response,
    },
    /// Close `conn` once what was sent to it before is written. The broker has forgotten it.
    Close(ConnId),
    /// Nothing more to do now; call [`Broker::handle`] with [`Input::Timeout`] at this deadline,
    /// or never if `None`.
    Timeout(Option<Instant>),
}

/// Why the broker could not start.
#[derive(Debug)]
pub enum StartError {
    /// The storage failed while recovering a partition.
    Storage(StorageError),
}

/// The request header fields every response needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hdr {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

/// What handling one request frame led to.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Answer now.
    Send(Response),
    /// No answer (Produce with acks=0).
    Silent,
    /// The request waits (long-poll Fetch); later frames of the connection wait behind it.
    Parked,
    /// Close the connection, as Kafka does for a request it cannot parse.
    Close,
}

/// The whole broker: topics, partition logs and the connections' request state.
pub struct Broker<S: Storage> {
    config: BrokerConfig,
    storage: S,
    outputs: VecDeque<Output>,
    topics: Topics<S::Segment>,
    conns: BTreeMap<ConnId, Connection>,
    parked: parked::ParkedFetches,
    groups: GroupCoordinator,
    /// Joins and syncs parked in the coordinator, by ticket.
    group_waits: BTreeMap<u64, groups::GroupWait>,
    /// The coordinator's next deadline, as of its last change.
    group_deadline: Option<Instant>,
    /// Broker settings changed while running (Kafka's dynamic broker configs).
    dynamic: dynamic_configs::DynamicConfigs,
    /// The settings of a topic that sets nothing, from `config` and `dynamic`.
    topic_defaults: topic_settings::TopicSettings,
    /// When retention looks at the logs next.
    retention: retention::RetentionTimer,
    /// The transaction coordinator.
    txns: crate::txn::TxnCoordinator,
    /// When the transaction coordinator acts next (a timeout, a retry).
    txn_deadline: Option<Instant>,
    /// When a transaction whose end could not be written is tried again.
    txn_retry: Option<Instant>,
    /// When the recovery checkpoint is written next.
    checkpoint: checkpoint::CheckpointTimer,
    /// Idempotent producers' sequence numbers.
    producers: producers::Producers,
    /// When idle producers are looked for next; `None` while none is known.
    producer_expiry: Option<Instant>,
    /// The log cleaner (compaction).
    cleaner: cleaner::Cleaner<S::Segment>,
    /// CreateTopics requests being worked through, oldest first.
    create_jobs: VecDeque<create_topics::CreateJob>,
    /// Topics Metadata requests asked to auto-create past a turn's budget, created in later
    /// turns (each name once).
    auto_create: alloc::collections::BTreeSet<alloc::string::String>,
    /// Partitions the current turn may still create ([`PARTITIONS_CREATED_PER_TURN_MAX`] a turn).
    creation_budget: u32,
    /// Parked fetch ids, kept to reuse its allocation.
    woken: Vec<u64>,
    /// Partitions a Fetch reads, kept to reuse its allocation.
    fetch_partitions: Vec<u32>,

    /// Connections whose parked request finished: their queued frames run at the end of `handle`.
    resume: Vec<ConnId>,
    /// The connections being resumed, kept to reuse its allocation.
    resuming: Vec<ConnId>,
    rng: Rng,
    next_producer_id: i64,
    /// Partitions a Produce appended to, kept to reuse its allocation.
    touched: Vec<u32>,
    /// Response buffers the runtime gave back, reused so steady traffic allocates nothing.
    spare_buffers: Vec<Vec<u8>>,
    /// Splice lists of Fetch responses the runtime gave back, reused likewise.
    spare_splices: Vec<Vec<Splice>>,
    /// The segments open now, for the cap on them.
    open_segments: open_segments::OpenSegments,
    /// A parked Fetch's body while it is answered again, kept to reuse its allocation.
    parked_body: Vec<u8>,
    /// Events for the runtime's log.
    events: events::Events,
    /// The error codes of the answer to the request being handled, for the log.
    answer_errors: events::AnswerErrors,
    /// Fault rules and the answers they hold back.
    faults: faults::Faults,
    /// Counters for the runtime's metrics.
    stats: stats::Stats,
    now: Instant,
    unix_ms: i64,
}

/// A summary: segments need not be `Debug`, and a dump of every log would be useless.
impl<S: Storage> core::fmt::Debug for Broker<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Broker")
            .field("config", &self.config)
            .field("connections", &self.conns.len())
            .field("outputs", &self.outputs.len())
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> Broker<S> {
    /// A broker over `storage`, recovering every partition it holds ([`Storage::recover`]).
    pub fn new(config: BrokerConfig, mut storage: S, unix_ms: i64) -> Result<Self, StartError> {
        // The wall clock joins the seed so ids made after a restart differ from earlier ones.
        let mut rng = Rng::new(config.seed ^ (unix_ms as u64).rotate_left(17));
        let mut topics = Topics::new();
        let segment_size = segment_size(&config);
        let found = storage.recover(segment_size).map_err(StartError::Storage)?;
        let checkpoint = read_checkpoint(&mut storage);
        let dynamic =
            dynamic_configs::DynamicConfigs::load(&mut storage).map_err(StartError::Storage)?;
        let topic_defaults = topic_settings::TopicSettings::defaults(&config, &dynamic);
        topics
            .load(
                &mut storage,
                found,
                &checkpoint,
                &mut || new_topic_id(&mut rng),
                &topic_defaults,
            )
            .map_err(StartError::Storage)?;
        retention::recover(&mut storage, &mut topics, unix_ms).map_err(StartError::Storage)?;
        let producers = producer_state::restore(&mut topics, &mut storage, &checkpoint)
            .map_err(StartError::Storage)?;
        let txns = recover_transactions(&config, &mut topics, &mut storage)?;
        let txn_deadline = transactions::deadline_after_replay(&txns, Instant::default());
        let max_txn_producer_id = txns.max_producer_id();
        let group_coordinator =
            recover_groups(&config, rng.next_u64(), &mut topics, &mut storage, unix_ms)?;
        let mut broker = Broker {
            events: events::Events::new(config.events),
            answer_errors: events::AnswerErrors::default(),
            faults: faults::Faults::new(&config.faults),
            stats: stats::Stats::new(config.stats),
            config,
            storage,
            outputs: VecDeque::new(),
            topics,
            conns: BTreeMap::new(),
            parked: parked::ParkedFetches::default(),
            group_deadline: group_coordinator.next_deadline(),
            groups: group_coordinator,
            group_waits: BTreeMap::new(),
            dynamic,
            topic_defaults,
            txns,
            txn_deadline,
            txn_retry: None,
            retention: retention::RetentionTimer::at_startup(),
            checkpoint: checkpoint::CheckpointTimer::default(),
            producer_expiry: (!producers.is_empty())
                .then(|| Instant::default() + producer_state::EXPIRATION_CHECK_INTERVAL),
            producers,
            cleaner: cleaner::Cleaner::default(),
            create_jobs: VecDeque::new(),
            auto_create: alloc::collections::BTreeSet::new(),
            creation_budget: PARTITIONS_CREATED_PER_TURN_MAX,
            woken: Vec::new(),
            fetch_partitions: Vec::new(),
            resume: Vec::new(),
            resuming: Vec::new(),
            rng,
            touched: Vec::new(),
            spare_buffers: Vec::new(),
            spare_splices: Vec::new(),
            open_segments: open_segments::OpenSegments::default(),
            parked_body: Vec::new(),
            next_producer_id: first_producer_id(unix_ms, max_txn_producer_id),
            now: Instant::default(),
            unix_ms,
        };
        broker.recover_cleaner();
        Ok(broker)
    }

    /// The configuration the broker runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Feed one input. Drain [`Broker::poll_output`] afterwards.
    pub fn handle(&mut self, input: Input<'_>) {
        self.creation_budget = PARTITIONS_CREATED_PER_TURN_MAX;
        match input {
            Input::Accepted { conn, now, peer } => {
                self.now = self.now.max(now);
                if self.conns.len() >= self.config.limits.connections_max as usize {
                    self.outputs.push_back(Output::Close(conn));
                } else {
                    // Kafka reports client hosts as `/address`.
                    let host = alloc::format!("/{peer}");
                    self.conns.insert(
                        conn,
                        Connection {
                            host,
                            ..Connection::default()
                        },
                    );
                }
            }
            Input::Bytes {
                conn,
                now,
                unix_ms,
                data,
            } => {
                self.tick(now, unix_ms);
                self.on_bytes(conn, data);
                self.retention_check();
                self.checkpoint_arm();
                self.producer_expiry_arm();
                self.cleaner_arm();
            }
            Input::Closed(conn) => {
                self.conns.remove(&conn);
                self.forget_parked(conn);
            }
            Input::Timeout { now, unix_ms } => {
                self.tick(now, unix_ms);
                self.expire_parked();
                self.fault_timer();
                let group_due = self.group_deadline.is_some_and(|d| d <= self.now);
                self.group_timer();
                if group_due || self.group_count_changed() {
                    self.note_group_states();
                }
                self.txn_timer();
                self.retention_check();
                self.checkpoint_check();
                self.producer_expiry_check();
                self.cleaner_check();
            }
        }
        self.continue_create_jobs();
        self.run_resumed();
    }

    /// The next thing to do; [`Output::Timeout`] means nothing is left for now.
    pub fn poll_output(&mut self) -> Output {
        match self.outputs.pop_front() {
            Some(out) => out,
            None => {
                let fetch = self.parked.next_deadline();
                // Topics still to create: come back at once, after serving what is ready.
                let creating = (!self.create_jobs.is_empty() || !self.auto_create.is_empty())
                    .then_some(self.now);
                let deadlines = [
                    fetch,
                    self.group_deadline,
                    self.txn_deadline,
                    self.retention.deadline,
                    self.checkpoint.deadline,
                    self.producer_expiry,
                    self.cleaner.deadline,
                    self.faults.next_deadline(),
                    creating,
                ];
                let deadline = deadlines.into_iter().flatten().min();
                Output::Timeout(deadline)
            }
        }
    }

    /// The bytes a [`SegmentRef`] in a response names, or `None` if that segment is gone (the
    /// runtime then closes the connection).
    pub fn segment_bytes(&self, segment: &SegmentRef) -> Option<&[u8]> {
        let p = self.topics.partition(segment.partition)?;
        p.log
            .segment_bytes(segment.base_offset, segment.start, segment.len)
    }

    /// Append `response`'s frame to `out`, segment bytes spliced in: the whole write of a
    /// runtime that copies rather than sends from the segments. `false` (and `out` as it was)
    /// if a segment it names is gone; the runtime then closes the connection.
    ///
    /// A response is written (this, or its [`Response::chunks`] in order, each
    /// [`Chunk::Segment`] resolved by [`Broker::segment_bytes`]), then handed back with
    /// [`Broker::recycle`], so its buffers serve later responses and its segments may close.
    pub fn write_response(&self, response: &Response, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        out.reserve(response.len());
        for chunk in response.chunks() {
            let bytes = match chunk {
                Chunk::Bytes(bytes) => bytes,
                Chunk::Segment(segment) => match self.segment_bytes(&segment) {
                    Some(bytes) => bytes,
                    None => {
                        out.truncate(start);
                        return false;
                    }
                },
            };
            out.extend_from_slice(bytes);
        }
        true
    }

    /// Whether a request of `conn` is parked (a long-poll Fetch, a JoinGroup or SyncGroup
    /// waiting): frames fed after it wait in the broker. A runtime may stop reading `conn` until
    /// the parked request is answered, as Kafka mutes a connection with a request in flight.
    pub fn is_parked(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| c.parked)
    }

    /// Give back a response once written (or dropped with its connection), so its buffer and
    /// splice list serve a later response and the segments it sent from may close.
    pub fn recycle(&mut self, response: Response) {
        self.release_segments(&response);
        self.recycle_buffer(response.bytes);
        let splices = response.splices;
        // An empty list holds no allocation: nothing to keep.
        if splices.capacity() > 0
            && splices.capacity() <= SPARE_SPLICES_MAX
            && self.spare_splices.len() < SPARE_BUFFERS_MAX
        {
            self.spare_splices.push(splices);
        }
    }

    fn recycle_buffer(&mut self, buf: Vec<u8>) {
        if self.spare_buffers.len() < SPARE_BUFFERS_MAX && buf.capacity() <= SPARE_BUFFER_BYTES_MAX
        {
            self.spare_buffers.push(buf);
        }
    }

    /// How many partitions the broker holds (its offsets log included).
    pub fn partition_count(&self) -> usize {
        self.topics
            .iter()
            .map(|(_, topic)| topic.partitions.len())
            .sum()
    }

    /// Stop: seal every active segment to its real length, then write the recovery checkpoint
    /// that vouches for all of them and let the storage finish writing it ([`Storage::close`]),
    /// so a restart reads none of the segments' bytes.
    pub fn shutdown(&mut self) -> Result<(), StorageError> {
        let mut first_error = Ok(());
        for p in self.topics.partitions_mut() {
            if let Err(e) = p.log.seal_active(&mut self.storage) {
                if first_error.is_ok() {
                    first_error = Err(e);
                }
            }
        }
        let written = self.write_checkpoint();
        // Closed even when the checkpoint failed: the storage's background work must stop.
        let closed = self.storage.close();
        first_error.and(written).and(closed)
    }

    fn tick(&mut self, now: Instant, unix_ms: i64) {
        self.now = self.now.max(now);
        self.unix_ms = unix_ms;
        self.groups.set_clock(self.now, unix_ms);
    }

    fn close(&mut self, conn: ConnId) {
        if self.conns.remove(&conn).is_some() {
            self.forget_parked(conn);
            self.outputs.push_back(Output::Close(conn));
        }
    }

    /// Drop what `conn` had parked. A join or sync stays in the coordinator (a member that
    /// disconnects is expired by its session timeout, as in Kafka); only its answer is dropped.
    fn forget_parked(&mut self, conn: ConnId) {
        self.parked.remove_conn(conn);
        self.forget_delayed(conn);
        // Topics created so far stay; the rest of the request is dropped with its connection.
        self.create_jobs.retain(|job| job.conn() != conn);
        self.group_waits.retain(|_, w| w.conn != conn);
    }

    fn on_bytes(&mut self, conn: ConnId, data: &[u8]) {
        let backlog_max = self.config.limits.connection_backlog_bytes_max as usize;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.inbound.len().saturating_add(data.len()) > backlog_max {
            self.close(conn);
            return;
        }
        if c.inbound.is_empty() {
            // The common case: whole frames straight from the caller's buffer, no copy.
            let used = self.run_frames(conn, data);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.inbound.extend_from_slice(&data[used..]);
            }
        } else {
            c.inbound.extend_from_slice(data);
            self.run_queued(conn);
        }
    }

    fn run_queued(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let buf = mem::take(&mut c.inbound);
        let used = self.run_frames(conn, &buf);
        if let Some(c) = self.conns.get_mut(&conn) {
            let mut rest = buf;
            rest.drain(..used);
            c.inbound = rest;
        }
    }

    fn run_resumed(&mut self) {
        let mut resuming = mem::take(&mut self.resuming);
        // Bounded: each round resumes connections whose parked request just finished.
        while !self.resume.is_empty() {
            // `resuming` is empty here, so `resume` starts the round empty.
            mem::swap(&mut self.resume, &mut resuming);
            for conn in resuming.drain(..) {
                self.run_queued(conn);
            }
        }
        self.resuming = resuming;
    }

    /// Handle every whole frame at the start of `bytes` until one parks; returns bytes used.
    fn run_frames(&mut self, conn: ConnId, bytes: &[u8]) -> usize {
        let max = self.config.limits.request_size_bytes_max;
        let mut used = 0;
        loop {
            match self.conns.get(&conn) {
                Some(c) if !c.parked => {}
                _ => return used,
            }
            match frame::split(&bytes[used..], max) {
                Ok(Some(n)) => {
                    let body = &bytes[used + 4..used + n];
                    used += n;
                    self.on_frame(conn, body);
                }
                Ok(None) => return used,
                Err(_) => {
                    self.close(conn);
                    return used;
                }
            }
        }
    }

    fn on_frame(&mut self, conn: ConnId, frame: &[u8]) {
        let Ok((api_key, api_version, correlation_id)) = peek_request_header(frame) else {
            return self.close(conn);
        };
        let hdr = Hdr {
            api_key,
            api_version,
            correlation_id,
        };
        self.stats.count_request(api_key);
        let reply = self.dispatch(conn, hdr, frame);
        let received = self.now;
        self.deliver(conn, reply, RequestStamp { api_key, received });
    }

    fn deliver(&mut self, conn: ConnId, reply: Reply, stamp: RequestStamp) {
        match reply {
            Reply::Send(mut response) => {
                response.request = stamp;
                self.outputs.push_back(Output::Send { conn, response });
            }
            Reply::Silent => {}
            Reply::Parked => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.parked = true;
                    c.parked_request = stamp;
                }
            }
            Reply::Close => self.close(conn),
        }
    }

    /// A parked request of `conn` finished with `reply`: send it and let later frames run.
    fn unpark(&mut self, conn: ConnId, reply: Reply) {
        let mut stamp = RequestStamp::default();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.parked = false;
            stamp = c.parked_request;
            self.resume.push(conn);
        }
        self.deliver(conn, reply, stamp);
    }

    fn dispatch(&mut self, conn: ConnId, hdr: Hdr, frame: &[u8]) -> Reply {
        let api_key = hdr.api_key;
        let key = ApiKey::from_code(api_key);
        let Some(api) = apis::find(key, hdr.api_version) else {
            self.note_refused(conn, hdr, frame, ErrorCode::UnsupportedVersion);
            return if key == ApiKey::ApiVersions {
                self.stats
                    .count_error(api_key, ErrorCode::UnsupportedVersion.code());
                // KIP-511: a version we do not know still gets an answer, in v0, naming our range.
                api_versions::unsupported_version::<S>(hdr)
            } else {
                // Kafka cannot parse such a request and closes the connection.
                Reply::Close
            };
        };
        let Ok((header, body)) = request_header_ref(frame) else {
            self.note_refused(conn, hdr, frame, ErrorCode::InvalidRequest);
            return Reply::Close;
        };
        let request = Request {
            conn,
            hdr,
            client_id: header.client_id,
            body,
        };
        let mark = self.events.mark();
        self.answer_errors = events::AnswerErrors::default();
        let reply = if self.faults.is_empty() {
            (api.handle)(self, request)
        } else {
            self.dispatch_faulty(api.handle, request)
        };
        // A close a fault rule asked for is its own event, not a refused request.
        let closed_by_fault = mem::take(&mut self.faults.closed);
        if self.events.wants(EventLevel::Info) {
            if matches!(reply, Reply::Close) && !closed_by_fault {
                self.note_refused(conn, hdr, frame, ErrorCode::InvalidRequest);
            }
            self.events.attribute_since(mark, conn, request.client_id);
            self.note_answer_errors(conn, hdr, request.client_id);
            if events::may_change_group_state(api_key) || self.group_count_changed() {
                self.note_group_states();
            }
        }
        reply
    }

    /// Record the errors the request's answer carries, for the runtime's log at debug.
    fn note_answer_errors(&mut self, conn: ConnId, hdr: Hdr, client_id: Option<&str>) {
        let errors = mem::take(&mut self.answer_errors);
        if errors.count > 0 && self.events.wants(EventLevel::Debug) {
            self.events.push(Event::RequestErrors {
                by: events::requester(conn, client_id),
                api_key: hdr.api_key,
                api_version: hdr.api_version,
                error: ErrorCode::from_code(errors.first),
                errors: errors.count,
            });
        }
    }

    /// Record a request refused whole, for the runtime's log at debug.
    fn note_refused(&mut self, conn: ConnId, hdr: Hdr, frame: &[u8], error: ErrorCode) {
        if self.events.wants(EventLevel::Debug) {
            self.events.push(Event::RequestRefused {
                by: events::requester(conn, events::peek_client_id(frame)),
                api_key: hdr.api_key,
                api_version: hdr.api_version,
                error,
            });
        }
    }

    fn new_topic_id(&mut self) -> Uuid {
        new_topic_id(&mut self.rng)
    }

    /// [`encode_response`], with the body's error codes counted (and noted for the log).
    pub(crate) fn respond<M: Message>(&mut self, hdr: Hdr, body: &M) -> Reply {
        self.stats.count_errors(hdr.api_key, body);
        if self.events.wants(EventLevel::Debug) {
            let errors = &mut self.answer_errors;
            body.visit_error_codes(&mut |code| errors.note(code));
        }
        encode_response(hdr, body)
    }

    /// A response error code written outside [`Broker::respond`] (Produce and Fetch write
    /// their responses themselves), counted.
    #[inline]
    pub(crate) fn count_error(&mut self, api_key: i16, code: i16) {
        self.stats.count_error(api_key, code);
        self.answer_errors.note(code);
    }
}

/// A topic id as Kafka makes them: random, never zero nor the metadata topic's id (1), and never
/// one whose base64 form starts with '-' (it would read as a command-line flag).
fn new_topic_id(rng: &mut Rng) -> Uuid {
    loop {
        let bytes = rng.bytes16();
        let id = u128::from_be_bytes(bytes);
        // base64url starts with '-' when the first 6 bits are 62 (0b111110).
        if id > 1 && bytes[0] >> 2 != 62 {
            return Uuid(bytes);
        }
    }
}

fn segment_size(config: &BrokerConfig) -> usize {
    usize::try_from(config.segment_size_bytes).unwrap_or(usize::MAX)
}

/// Recycled response buffers kept at most, and the largest kept: bounded, so a burst of large
/// responses does not pin memory.
const SPARE_BUFFERS_MAX: usize = 64;
const SPARE_BUFFER_BYTES_MAX: usize = 16 * 1024;
/// The longest recycled splice list kept (one splice per partition with data).
const SPARE_SPLICES_MAX: usize = 1024;

/// The recovery checkpoint. One that cannot be read vouches for nothing: every segment is then
/// checked, which is always correct.
fn read_checkpoint<S: Storage>(storage: &mut S) -> RecoveryCheckpoint {
    storage
        .read_recovery_checkpoint()
        .ok()
        .flatten()
        .and_then(|bytes| RecoveryCheckpoint::decode(&bytes))
        .unwrap_or_default()
}

/// Milliseconds since the epoch, times 1000: room for 1000 ids a millisecond of uptime, and above
/// every id the transaction log holds.
fn first_producer_id(unix_ms: i64, max_txn_producer_id: i64) -> i64 {
    unix_ms
        .max(0)
        .saturating_mul(1000)
        .max(max_txn_producer_id.saturating_add(1))
}

/// The transaction coordinator as the transaction log left it.
fn recover_transactions<S: Storage>(
    config: &BrokerConfig,
    topics: &mut Topics<S::Segment>,
    storage: &mut S,
) -> Result<crate::txn::TxnCoordinator, StartError> {
    let mut txns = crate::txn::TxnCoordinator::new(config.transaction_max_timeout_ms);
    let txn_log = topics
        .by_name(crate::txn::TRANSACTION_STATE_TOPIC)
        .and_then(|ti| topics.partition_of(ti, 0));
    if let Some(p) = txn_log.and_then(|pi| topics.partition_mut(pi)) {
        transactions::replay(&mut txns, &mut p.log, storage).map_err(StartError::Storage)?;
    }
    Ok(txns)
}

/// The group coordinator as the offsets log left it, its clock started now.
fn recover_groups<S: Storage>(
    config: &BrokerConfig,
    seed: u64,
    topics: &mut Topics<S::Segment>,
    storage: &mut S,
    unix_ms: i64,
) -> Result<GroupCoordinator, StartError> {
    let ms = |ms: u32| Duration::from_millis(u64::from(ms));
    let mut coordinator = GroupCoordinator::new(GroupConfig {
        initial_rebalance_delay: ms(config.group_initial_rebalance_delay_ms),
        session_timeout_min: ms(config.group_min_session_timeout_ms),
        session_timeout_max: ms(config.group_max_session_timeout_ms),
        seed,
        offsets_retention_ms: config.offsets_retention_ms,
        // At least a millisecond: looks that keep failing to write must not spin.
        offsets_retention_check_interval: ms(config.offsets_retention_check_interval_ms.max(1)),
        ..GroupConfig::default()
    });
    let offsets_log = topics
        .by_name(groups::OFFSETS_TOPIC)
        .and_then(|ti| topics.partition_of(ti, 0));
    if let Some(p) = offsets_log.and_then(|pi| topics.partition_mut(pi)) {
        groups::replay(&mut coordinator, &mut p.log, storage, Instant::default())
            .map_err(StartError::Storage)?;
    }
    coordinator.replay_done(Instant::default());
    // The broker's clock starts here: the first look for expired offsets is an interval on.
    coordinator.set_clock(Instant::default(), unix_ms);
    Ok(coordinator)
}

/// Patch the size prefix of a response written from [`Broker::response_writer`].
pub(crate) fn finish_response(w: Writer) -> Reply {
    let mut response = w.into_response();
    let Ok(size) = i32::try_from(response.len() - 4) else {
        return Reply::Close;
    };
    response.bytes[..4].copy_from_slice(&size.to_be_bytes());
    Reply::Send(response)
}

/// Encode a whole response frame: size prefix, response header, body.
pub(crate) fn encode_response<M: Message>(hdr: Hdr, body: &M) -> Reply {
    encode_response_at(hdr, hdr.api_version, body)
}

/// Like [`encode_response`], with the body (and header) at `version` (KIP-511's v0 answer).
pub(crate) fn encode_response_at<M: Message>(hdr: Hdr, version: i16, body: &M) -> Reply {
    match response_frame(hdr.api_key, version, hdr.correlation_id, body) {
        Ok(response) => Reply::Send(response),
        // Only a handler's bug (a field its version cannot carry) gets here: close, as Kafka
        // closes a connection whose response it cannot serialize.
        Err(_) => Reply::Close,
    }
}
