//! The single-threaded event loop: sockets and timers in, `core::broker` in the middle, responses
//! out. One turn gathers readiness, feeds every input, drains every output after each input, then
//! writes what is queued. With no deadline pending it waits without a timeout: an idle broker uses
//! no CPU.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, IoSlice};
use std::time::Duration;

use std::net::SocketAddr;

use blazemq_core::Instant;
use blazemq_core::broker::{Broker, ConnId, Event, Input, Output};
use blazemq_core::storage::Storage;
use blazemq_platform::net::ReadOutcome;
use blazemq_platform::wake::WakeUp;
use blazemq_platform::{
    Clock, Interest, Listener, Poller, Readiness, Registered, ShutdownSignal, Stream, unix_ms,
};

use crate::cleaner_thread::CleanerThread;
use crate::frame_cursor::FrameCursor;
use crate::http::routes;
use crate::metrics::ServerMetrics;
use crate::out_queue::OutQueue;

mod http_conns;

/// Poller key of the listener.
const LISTENER_KEY: usize = 0;
/// Poller key of the shutdown-signal pipe.
const SIGNAL_KEY: usize = 1;
/// Poller key of the HTTP listener (`metrics_listener`).
const HTTP_LISTENER_KEY: usize = 2;
/// Poller key of the log cleaner thread's wake-ups.
const CLEANER_KEY: usize = 3;
/// Connection ids (and their poller keys), Kafka's and HTTP's alike, start here.
const FIRST_CONN_ID: u64 = 4;
/// Connections accepted per turn, so a burst of connects cannot starve served clients.
const ACCEPTS_PER_TURN_MAX: usize = 64;
/// Reads from one connection per turn, for the same fairness.
const READS_PER_TURN_MAX: usize = 8;
/// Request frames of one connection handed to the broker per turn: a client pipelining thousands
/// of small requests gets through them over several turns, and the other clients are served in
/// between instead of waiting for all of them.
const FRAMES_PER_TURN_MAX: usize = 256;
/// Slices handed to one `writev` (well under every system's IOV_MAX of 1024).
const IOV_SLOTS: usize = 64;
/// A connection's queue that held this much before it emptied or closed was a burst: its memory
/// is counted towards handing freed memory back to the OS. Steady traffic stays well below.
const BURST_HELD_BYTES_MIN: usize = 1 << 20;
/// Memory freed by bursts after which the heap's free pages go back to the OS (end of turn).
const RELEASE_AFTER_FREED_BYTES: usize = 1 << 20;
/// How long a stopping broker keeps writing responses already queued.
const SHUTDOWN_WRITE_WAIT: Duration = Duration::from_secs(2);

/// Loop settings that are not the broker's.
#[derive(Clone, Copy, Debug)]
pub struct LoopConfig {
    /// Size of the buffer each read fills.
    pub read_buffer_bytes: usize,
    /// Memory held by a connection's unsent responses past which it is no longer read.
    pub connection_output_bytes_max: usize,
    /// Connections served at once.
    pub connections_max: usize,
}

struct Connection {
    stream: Registered<Stream>,
    /// The client's address, for the log.
    peer: Option<SocketAddr>,
    out: OutQueue,
    /// The broker asked to close once `out` is written; it has forgotten the connection.
    closing: bool,
    /// `out` holds more than the bound: no request is handed to the broker until it drains.
    paused: bool,
    /// The broker parked a request of this connection: later ones are not read until it is
    /// answered (Kafka mutes a connection while a request is in flight), so they cannot pile
    /// up in the broker and then all run at once.
    awaiting: bool,
    /// Where the frames of the bytes handed to the broker end.
    cursor: FrameCursor,
    /// Bytes read but not yet handed to the broker because the connection paused mid-read: at
    /// most one read's worth, empty (and unallocated) otherwise.
    stash: Vec<u8>,
}

impl Connection {
    fn new(stream: Registered<Stream>, peer: Option<SocketAddr>) -> Self {
        Connection {
            stream,
            peer,
            out: OutQueue::default(),
            closing: false,
            paused: false,
            awaiting: false,
            cursor: FrameCursor::default(),
            stash: Vec::new(),
        }
    }

    /// Pause once the queue holds more than `max`, resume once it holds half of that: a client
    /// reading slowly then costs one pause per half-bound of responses, not one per response.
    fn update_paused(&mut self, max: usize) {
        let held = self.out.held_bytes();
        if held > max {
            self.paused = true;
        } else if held <= max / 2 {
            self.paused = false;
        }
    }
}

/// Hashes connection ids, which the loop hands out in sequence, with one multiplication
/// (Fibonacci hashing): no client chooses them, so SipHash's defence against chosen keys would
/// only cost the lookups every request makes.
#[derive(Default)]
struct ConnIdHasher(u64);

impl Hasher for ConnIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// How the loop stopped, for the shutdown's log lines.
#[derive(Debug)]
pub struct Stopped {
    /// When the signal was taken.
    pub since: std::time::Instant,
}

/// What the loop listens on.
#[derive(Debug)]
pub struct Listeners {
    /// Kafka clients.
    pub kafka: Listener,
    /// HTTP (`metrics_listener`), if configured.
    pub http: Option<Listener>,
    /// What the HTTP routes serve.
    pub http_context: routes::Context,
}

/// The loop and everything it drives.
pub struct EventLoop<S: Storage> {
    broker: Broker<S>,
    poller: Poller,
    listener: Option<Registered<Listener>>,
    signal: Registered<ShutdownSignal>,
    connections: HashMap<u64, Connection, BuildHasherDefault<ConnIdHasher>>,
    config: LoopConfig,
    clock: Clock,
    deadline: Option<Instant>,
    read_buffer: Vec<u8>,
    ready: Vec<Readiness>,
    /// Connections that may have something to write or a changed interest this turn.
    touched: Vec<u64>,
    /// Connections that resumed with stashed bytes: fed next turn, whether or not the socket
    /// has more.
    stashed: Vec<u64>,
    /// Memory freed by bursts of output since the heap was last trimmed.
    freed_burst_bytes: usize,
    next_conn_id: u64,
    stopping: bool,
    /// When the shutdown signal was taken.
    stop_requested: Option<std::time::Instant>,
    /// The HTTP listener and its connections.
    http: http_conns::HttpSide,
    /// What `GET /metrics` reports of the loop (counts nothing when the listener is off).
    metrics: ServerMetrics,
    /// The thread that runs the log cleaner's passes, and its wake-ups.
    cleaner: Option<(CleanerThread<S::Segment>, Registered<WakeUp>)>,
}

impl<S: Storage> EventLoop<S>
where
    S::Segment: std::fmt::Debug,
{
    /// A loop serving `listener` with `broker`.
    pub fn new(
        broker: Broker<S>,
        listeners: Listeners,
        signal: ShutdownSignal,
        clock: Clock,
        config: LoopConfig,
    ) -> io::Result<Self> {
        let poller = Poller::new()?;
        let listener = poller.register(listeners.kafka, LISTENER_KEY, Interest::READABLE)?;
        let signal = poller.register(signal, SIGNAL_KEY, Interest::READABLE)?;
        let http_listener = listeners
            .http
            .map(|l| poller.register(l, HTTP_LISTENER_KEY, Interest::READABLE))
            .transpose()?;
        Ok(EventLoop {
            broker,
            poller,
            listener: Some(listener),
            signal,
            connections: HashMap::default(),
            config,
            clock,
            deadline: None,
            read_buffer: vec![0; config.read_buffer_bytes.max(1)],
            ready: Vec::new(),
            touched: Vec::new(),
            stashed: Vec::new(),
            freed_burst_bytes: 0,
            next_conn_id: FIRST_CONN_ID,
            stopping: false,
            stop_requested: None,
            http: http_conns::HttpSide::new(http_listener, listeners.http_context),
            metrics: ServerMetrics::off(),
            cleaner: None,
        })
    }

    /// Run the log cleaner's passes on `thread`, which wakes `wake_up` when it has progress
    /// (the broker must be configured with `cleaner_jobs`).
    pub fn with_cleaner(
        mut self,
        thread: CleanerThread<S::Segment>,
        wake_up: WakeUp,
    ) -> io::Result<Self> {
        let wake_up = self
            .poller
            .register(wake_up, CLEANER_KEY, Interest::READABLE)?;
        self.cleaner = Some((thread, wake_up));
        Ok(self)
    }

    /// Count for `GET /metrics` with `metrics` (off until this is called).
    pub fn with_metrics(mut self, metrics: ServerMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Serve until SIGINT or SIGTERM, then write what is queued (bounded wait) and return the
    /// broker for its shutdown.
    pub fn run(mut self) -> io::Result<(Broker<S>, Stopped)> {
        // The broker may want a call before any input: retention checks the recovered logs.
        self.drain_outputs();
        while !self.stopping {
            self.turn()?;
        }
        let since = self.stop_requested.unwrap_or_else(std::time::Instant::now);
        crate::info!("shutdown requested", connections = self.connections.len(),);
        let writing = std::time::Instant::now();
        self.finish_writes()?;
        let unwritten = self
            .connections
            .values()
            .filter(|c| !c.out.is_empty())
            .count();
        crate::info!(
            "queued responses written",
            connections = self.connections.len(),
            unwritten_connections = unwritten,
            took_ms = writing.elapsed(),
        );
        Ok((self.broker, Stopped { since }))
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.clock.now_nanos())
    }

    /// One turn: wait, feed all input, fire the timer, write.
    fn turn(&mut self) -> io::Result<()> {
        let timeout = if self.stashed.is_empty() {
            self.deadline
                .map(|deadline| deadline.saturating_duration_since(self.now()))
        } else {
            // Stashed requests are ready now: only look at what else is ready.
            Some(Duration::ZERO)
        };
        let mut ready = std::mem::take(&mut self.ready);
        self.poller.wait(&mut ready, timeout)?;
        for event in &ready {
            match event.key {
                LISTENER_KEY => self.accept(),
                HTTP_LISTENER_KEY => self.accept_http(),
                key if self.http.serves(key as u64) => self.on_http_ready(key as u64, event),
                CLEANER_KEY => self.on_cleaner_progress(),
                SIGNAL_KEY => {
                    if self.signal.source().take() && !self.stopping {
                        self.stopping = true;
                        self.stop_requested = Some(std::time::Instant::now());
                    }
                }
                key => self.on_connection_ready(key as u64, event),
            }
        }
        self.ready = ready;
        let mut stashed = std::mem::take(&mut self.stashed);
        stashed.sort_unstable();
        stashed.dedup();
        for id in stashed {
            self.read(id);
        }
        // Answers to what was just read go out before a due timer's work (a cleaner step, a
        // retention pass), which would otherwise add its time to theirs.
        self.write_touched();
        let now = self.now();
        if self.deadline.is_some_and(|deadline| deadline <= now) {
            self.broker.handle(Input::Timeout {
                now,
                unix_ms: unix_ms(),
            });
            self.drain_outputs();
        }
        self.write_touched();
        if self.freed_burst_bytes >= RELEASE_AFTER_FREED_BYTES {
            // Without this, glibc keeps a closed connection's queued responses resident.
            blazemq_platform::memory::release_free_heap();
            self.freed_burst_bytes = 0;
        }
        Ok(())
    }

    fn accept(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN_MAX {
            let Some(listener) = &self.listener else {
                return;
            };
            let stream = match listener.source().accept() {
                Ok(Some(stream)) => stream,
                Ok(None) => return,
                Err(e) => return self.pause_accepting(e),
            };
            if self.connections.len() >= self.config.connections_max {
                // Over the limit: closing at once tells the client to back off and retry.
                drop(stream);
                continue;
            }
            // IPv4 clients of a dual-stack listener show as IPv4, as Kafka shows them.
            let peer_addr = stream.peer_addr().ok();
            let peer = peer_addr
                .map(|a| match a.ip() {
                    std::net::IpAddr::V6(v6) => v6
                        .to_ipv4_mapped()
                        .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
                    ip => ip.to_string(),
                })
                .unwrap_or_default();
            let id = self.next_conn_id;
            self.next_conn_id += 1;
            let stream = match self
                .poller
                .register(stream, id as usize, Interest::READABLE)
            {
                Ok(stream) => stream,
                Err(e) => {
                    crate::warn!("cannot watch a new connection", peer = peer, error = e);
                    continue;
                }
            };
            crate::debug!(
                "connection opened",
                conn = id,
                peer = peer_addr_text(peer_addr)
            );
            self.connections
                .insert(id, Connection::new(stream, peer_addr));
            self.metrics.connection_opened();
            let now = self.now();
            self.broker.handle(Input::Accepted {
                conn: ConnId(id),
                now,
                peer: &peer,
            });
            self.drain_outputs();
        }
    }

    /// Out of file descriptors (or another accept failure): stop watching the listener until a
    /// connection closes, instead of waking for it in a busy loop.
    fn pause_accepting(&mut self, e: io::Error) {
        crate::warn!(
            "accept failed, pausing new connections until one closes",
            error = e,
        );
        if let Some(listener) = &mut self.listener {
            let _ = listener.set_interest(Interest::default());
        }
    }

    fn resume_accepting(&mut self) {
        if let Some(listener) = &mut self.listener {
            if let Err(e) = listener.set_interest(Interest::READABLE) {
                crate::error!("cannot watch the listener", error = e);
            }
        }
    }

    fn on_connection_ready(&mut self, id: u64, event: &Readiness) {
        if event.writable && self.connections.contains_key(&id) {
            self.touched.push(id);
        }
        if event.readable {
            self.read(id);
        }
    }

    /// Read what the connection has (bounded), stashed bytes first, feeding the broker. What
    /// is left in the stash while the connection may still be read is fed next turn.
    fn read(&mut self, id: u64) {
        self.read_some(id);
        if let Some(connection) = self.connections.get(&id) {
            if !connection.stash.is_empty() && wants_read(connection) {
                self.stashed.push(id);
            }
        }
    }

    fn read_some(&mut self, id: u64) {
        let mut frames_left = FRAMES_PER_TURN_MAX;
        for _ in 0..READS_PER_TURN_MAX {
            let Some(connection) = self.connections.get_mut(&id) else {
                return;
            };
            if !wants_read(connection) || frames_left == 0 {
                return;
            }
            if !connection.stash.is_empty() {
                let mut stash = std::mem::take(&mut connection.stash);
                let used = self.feed(id, &stash, &mut frames_left);
                stash.drain(..used);
                if let Some(connection) = self.connections.get_mut(&id) {
                    connection.stash = stash;
                }
                continue;
            }
            let outcome = connection.stream.source().read(&mut self.read_buffer);
            let n = match outcome {
                Ok(ReadOutcome::Data(n)) => {
                    self.metrics.received(n);
                    n
                }
                Ok(ReadOutcome::WouldBlock) => return,
                Ok(ReadOutcome::Eof) | Err(_) => return self.close(id, true),
            };
            let buffer = std::mem::take(&mut self.read_buffer);
            let used = self.feed(id, &buffer[..n], &mut frames_left);
            if let Some(connection) = self.connections.get_mut(&id) {
                connection.stash.extend_from_slice(&buffer[used..n]);
            }
            self.read_buffer = buffer;
            if n < self.read_buffer.len() {
                // A short read drained the socket; level-triggered readiness brings us back.
                return;
            }
        }
    }

    /// Hand `data` to the broker a frame at a time, stopping between two frames once the
    /// connection pauses (a read full of small requests that each get a large answer, Metadata
    /// of every topic, would otherwise queue output far past the bound) or `frames_left` runs
    /// out. Returns the bytes used.
    fn feed(&mut self, id: u64, data: &[u8], frames_left: &mut usize) -> usize {
        let mut used = 0;
        // Bounded: each step uses at least one byte.
        while used < data.len() {
            let Some(connection) = self.connections.get_mut(&id) else {
                return data.len();
            };
            if connection.closing {
                // The broker has forgotten the connection: later bytes have no reader.
                return data.len();
            }
            if connection.paused || connection.awaiting || *frames_left == 0 {
                return used;
            }
            let (n, ended) = connection.cursor.step(&data[used..]);
            *frames_left -= usize::from(ended);
            let now = self.now();
            self.broker.handle(Input::Bytes {
                conn: ConnId(id),
                now,
                unix_ms: unix_ms(),
                data: &data[used..used + n],
            });
            used += n;
            self.drain_outputs();
            if ended && self.broker.is_parked(ConnId(id)) {
                if let Some(connection) = self.connections.get_mut(&id) {
                    connection.awaiting = true;
                }
                // Its interest changes to not readable at the end of the turn.
                self.touched.push(id);
            }
        }
        used
    }

    /// Take every output the broker has, up to its next deadline.
    fn drain_outputs(&mut self) {
        loop {
            let output = self.broker.poll_output();
            if !self.route_output(output) {
                break;
            }
        }
        while let Some(event) = self.broker.poll_event() {
            self.log_event(event);
        }
        if let Some((thread, _)) = &self.cleaner {
            if let Some(job) = self.broker.take_clean_job() {
                thread.start(job);
            }
        }
    }

    /// The cleaner thread woke the loop: hand the broker what it did.
    fn on_cleaner_progress(&mut self) {
        let Some((thread, wake_up)) = &self.cleaner else {
            return;
        };
        wake_up.source().take();
        let mut progress = Vec::new();
        while let Some(p) = thread.take_progress() {
            progress.push(p);
        }
        for p in progress {
            let now = self.now();
            self.broker.cleaned(now, unix_ms(), p);
            self.drain_outputs();
        }
    }

    /// Act on one output; `false` for the deadline that ends a drain.
    fn route_output(&mut self, output: Output) -> bool {
        match output {
            Output::Send { conn, response } => {
                if let Some(connection) = self.connections.get_mut(&conn.0) {
                    self.metrics.response_queued(&response.request, &self.clock);
                    if connection.awaiting && !self.broker.is_parked(conn) {
                        // Answered: read on, starting with what was set aside.
                        connection.awaiting = false;
                        self.stashed.push(conn.0);
                    }
                    connection.out.push(response);
                    connection.update_paused(self.config.connection_output_bytes_max);
                    // Runs of responses to one connection are the rule: one entry per run
                    // keeps the list (and its allocation) short.
                    if self.touched.last() != Some(&conn.0) {
                        self.touched.push(conn.0);
                    }
                } else {
                    // Its connection is gone: given back unsent, so its segments may close.
                    self.broker.recycle(response);
                }
            }
            Output::Close(conn) => {
                if let Some(connection) = self.connections.get_mut(&conn.0) {
                    connection.closing = true;
                    self.touched.push(conn.0);
                }
                self.http.forgotten(conn);
            }
            Output::Timeout(deadline) => {
                self.deadline = deadline;
                return false;
            }
        }
        true
    }

    /// A broker event as a log line, with the client's address the broker does not know.
    fn log_event(&self, event: Event) {
        let peer =
            |conn: ConnId| peer_addr_text(self.connections.get(&conn.0).and_then(|c| c.peer));
        match event {
            Event::TopicCreated {
                topic,
                partitions,
                by,
            } => crate::info!(
                "topic created",
                topic = topic,
                partitions = partitions,
                client_id = by.as_ref().map_or("", |b| b.client_id.as_str()),
                peer = by.as_ref().map_or_else(String::new, |b| peer(b.conn)),
            ),
            Event::TopicDeleted { topic, by } => crate::info!(
                "topic deleted",
                topic = topic,
                client_id = by.as_ref().map_or("", |b| b.client_id.as_str()),
                peer = by.as_ref().map_or_else(String::new, |b| peer(b.conn)),
            ),
            Event::GroupStateChanged {
                group,
                from,
                to,
                generation,
            } => crate::info!(
                "group state changed",
                group = group,
                from = from,
                to = to,
                generation = generation,
            ),
            Event::FaultEnded { fault, rule } => {
                crate::info!("fault rule ended", fault = fault, rule = rule)
            }
            Event::Dropped { count } => {
                crate::warn!("log events dropped: the queue was full", count = count)
            }
            other => self.log_request_event(other),
        }
    }

    /// An event about one request, with its client's id and address.
    fn log_request_event(&self, event: Event) {
        let peer =
            |conn: ConnId| peer_addr_text(self.connections.get(&conn.0).and_then(|c| c.peer));
        match event {
            Event::RequestRefused {
                by,
                api_key,
                api_version,
                error,
            } => crate::debug!(
                "request refused",
                client_id = by.client_id,
                peer = peer(by.conn),
                api_key = api_key,
                api = blazemq_core::codec::ApiKey::from_code(api_key).name(),
                version = api_version,
                error = error.name(),
            ),
            Event::RequestErrors {
                by,
                api_key,
                api_version,
                error,
                errors,
            } => crate::debug!(
                "request answered with errors",
                client_id = by.client_id,
                peer = peer(by.conn),
                api = blazemq_core::codec::ApiKey::from_code(api_key).name(),
                version = api_version,
                error = error.name(),
                errors = errors,
            ),
            Event::FaultInjected {
                fault,
                rule,
                api_key,
                by,
            } => crate::info!(
                "fault injected",
                fault = fault,
                rule = rule,
                api = blazemq_core::codec::ApiKey::from_code(api_key).name(),
                client_id = by.client_id,
                peer = peer(by.conn),
            ),
            other => crate::debug!("broker event", event = format!("{other:?}")),
        }
    }

    fn write_touched(&mut self) {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        for &id in &touched {
            self.write(id);
        }
        touched.clear();
        self.touched = touched;
    }

    /// Write as much of the connection's queue as the socket takes, then set what it waits for.
    fn write(&mut self, id: u64) {
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        let broker = &self.broker;
        let unsent = connection.out.unsent_bytes();
        let result = write_queue(connection, |s| broker.segment_bytes(s));
        self.metrics.sent(unsent - connection.out.unsent_bytes());
        for response in connection.out.take_written() {
            self.broker.recycle(response);
        }
        connection.update_paused(self.config.connection_output_bytes_max);
        if !connection.stash.is_empty() && wants_read(connection) {
            self.stashed.push(id);
        }
        let done = connection.out.is_empty();
        if done {
            self.freed_burst_bytes += burst_freed(&mut connection.out);
        }
        if result.is_err() || (done && connection.closing) {
            // The broker already forgot a connection it asked to close.
            let tell_broker = !connection.closing;
            return self.close(id, tell_broker);
        }
        let interest = Interest {
            readable: !self.stopping && wants_read(connection),
            writable: !done,
        };
        if connection.stream.set_interest(interest).is_err() {
            self.close(id, true);
        }
    }

    fn close(&mut self, id: u64, tell_broker: bool) {
        // Dropping the connection deregisters and closes its socket.
        let Some(mut connection) = self.connections.remove(&id) else {
            return;
        };
        self.metrics.connection_closed();
        crate::debug!(
            "connection closed",
            conn = id,
            peer = peer_addr_text(connection.peer),
        );
        self.freed_burst_bytes += burst_freed(&mut connection.out);
        // Unsent responses come back too: a segment they read from is held open until then.
        for response in connection.out.take_all() {
            self.broker.recycle(response);
        }
        drop(connection);
        if tell_broker {
            self.broker.handle(Input::Closed(ConnId(id)));
            self.drain_outputs();
        }
        self.resume_accepting();
    }

    /// Stop accepting and reading; write what is queued until done or the wait runs out.
    fn finish_writes(&mut self) -> io::Result<()> {
        self.listener = None;
        self.http.stop();
        let give_up = self.clock.now_nanos() + SHUTDOWN_WRITE_WAIT.as_nanos() as u64;
        let ids: Vec<u64> = self.connections.keys().copied().collect();
        self.touched.extend(ids);
        self.write_touched();
        let mut ready = Vec::new();
        while self.connections.values().any(|c| !c.out.is_empty()) {
            let now = self.clock.now_nanos();
            if now >= give_up {
                break;
            }
            self.poller
                .wait(&mut ready, Some(Duration::from_nanos(give_up - now)))?;
            self.touched
                .extend(ready.iter().filter(|r| r.writable).map(|r| r.key as u64));
            self.write_touched();
        }
        Ok(())
    }
}

/// `127.0.0.1:50000` (IPv4 clients of a dual-stack listener as IPv4), or empty if unknown.
fn peer_addr_text(peer: Option<SocketAddr>) -> String {
    match peer {
        Some(SocketAddr::V6(v6)) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())).to_string(),
            None => v6.to_string(),
        },
        Some(addr) => addr.to_string(),
        None => String::new(),
    }
}

/// Whether to read more from `connection` now: not while closing, nor while too much of its
/// output waits (back-pressure on a client that does not read its responses).
fn wants_read(connection: &Connection) -> bool {
    !connection.closing && !connection.paused && !connection.awaiting
}

/// The memory of `out`'s last burst, now freed (it emptied, or is being dropped); 0 if its
/// queue never held enough to call it a burst.
fn burst_freed(out: &mut OutQueue) -> usize {
    let peak = out.take_peak_held_bytes();
    if peak >= BURST_HELD_BYTES_MIN {
        peak
    } else {
        0
    }
}

/// `writev` the queue until it is empty or the socket is full.
fn write_queue<'b>(
    connection: &mut Connection,
    resolve: impl Fn(&blazemq_core::broker::SegmentRef) -> Option<&'b [u8]> + Copy,
) -> Result<(), ()> {
    // Bounded: each pass writes at least one byte or stops; a queue is finite.
    while !connection.out.is_empty() {
        let mut iov = [IoSlice::new(&[]); IOV_SLOTS];
        let used = connection.out.gather(resolve, &mut iov).map_err(|_| ())?;
        if used == 0 {
            // Only empty responses remain: nothing to write, just drop them.
            connection.out.advance(0);
            continue;
        }
        match connection.stream.source().write_vectored(&iov[..used]) {
            Ok(Some(n)) => connection.out.advance(n),
            Ok(None) => return Ok(()),
            Err(_) => return Err(()),
        }
    }
    Ok(())
}
