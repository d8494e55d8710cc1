//! The broker's face: bytes and instants in ([`Input`]), responses and deadlines out ([`Output`]).
//!
//! ```text
//! broker.handle(Input::Bytes { conn, now, unix_ms, data });
//! loop {
//!     match broker.poll_output() {
//!         Output::Send { conn, response } => { /* write response.chunks(&broker) to conn */ }
//!         Output::Close(conn) => { /* close conn */ }
//!         Output::Timeout(deadline) => break, // wait for I/O or until `deadline`
//!     }
//! }
//! ```

mod config;

pub use crate::codec::{Response, SegmentRef, Splice};
pub use config::BrokerConfig;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::storage::{FoundPartition, Storage, StorageError};
use crate::time::Instant;

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

/// The whole broker: topics, partition logs, groups and the connections' request state.
#[derive(Debug)]
pub struct Broker<S: Storage> {
    config: BrokerConfig,
    storage: S,
    outputs: VecDeque<Output>,
}

impl<S: Storage> Broker<S>
where
    S::Segment: core::fmt::Debug,
{
    /// A broker over `storage`, recovering the partitions the runtime found on disk.
    pub fn new(
        config: BrokerConfig,
        storage: S,
        found: Vec<FoundPartition<S::Segment>>,
        _unix_ms: i64,
    ) -> Result<Self, StartError> {
        let _ = found;
        Ok(Broker {
            config,
            storage,
            outputs: VecDeque::new(),
        })
    }

    /// The configuration the broker runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Feed one input. Drain [`Broker::poll_output`] afterwards.
    pub fn handle(&mut self, input: Input<'_>) {
        let _ = input;
    }

    /// The next thing to do; [`Output::Timeout`] means nothing is left for now.
    pub fn poll_output(&mut self) -> Output {
        self.outputs.pop_front().unwrap_or(Output::Timeout(None))
    }

    /// The bytes a [`SegmentRef`] in a response names, or `None` if that segment is gone (the
    /// runtime then closes the connection).
    pub fn segment_bytes(&self, segment: &SegmentRef) -> Option<&[u8]> {
        let _ = segment;
        None
    }

    /// Stop: seal every active segment to its real length so a restart need not scan.
    pub fn shutdown(&mut self) -> Result<(), StorageError> {
        let _ = &mut self.storage;
        Ok(())
    }
}
