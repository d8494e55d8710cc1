//! BlazeMQ's broker as a sans-IO state machine.
//!
//! `blazemq-core` speaks the Kafka wire protocol over byte slices and an explicit clock. It never
//! touches a socket, a file or the system clock: bytes and instants come in through
//! [`broker::Broker::handle`], and what must happen next comes out of
//! [`broker::Broker::poll_output`]. Segment buffers come from the caller through
//! [`storage::Storage`], so any runtime (an epoll loop, tokio, a test with `Vec<u8>`) can drive it.
//!
//! Every call to `handle` must be followed by draining `poll_output` until it returns
//! [`broker::Output::Timeout`], which carries the next deadline (or none).
#![no_std]
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![warn(missing_docs)]

extern crate alloc;

pub mod broker;
pub mod codec;
pub mod error;
pub mod group;
mod hex;
mod kv;
pub mod limits;
pub mod log;
pub mod records;
pub mod storage;
pub mod time;
pub(crate) mod txn;

pub use error::ErrorCode;
pub use time::Instant;
