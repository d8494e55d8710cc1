//! BlazeMQ's broker as a sans-IO state machine.
//!
//! `blazemq-core` speaks the Kafka wire protocol over byte slices and an explicit clock. It never
//! touches a socket, a file or the system clock: bytes and instants come in through
//! [`broker::Broker::handle`], and what must happen next comes out of
//! [`broker::Broker::poll_output`]. Segment buffers come from the caller through
//! [`storage::Storage`], so any runtime (an epoll loop, tokio, a test with `Vec<u8>`) can drive it.
//!
//! Every call to `handle` must be followed by draining `poll_output` until it returns
//! [`broker::Output::Timeout`], which carries the next deadline (or none). Each response is
//! written (its chunks in order, segment bytes resolved by the broker) and then given back with
//! `recycle`. A whole run loop, over memory, answering one ApiVersions request:
//!
//! ```
//! use blazemq_core::broker::{Broker, BrokerConfig, ConnId, Input, Output};
//! use blazemq_core::codec::messages::{ApiVersionsRequest, ApiVersionsResponse};
//! use blazemq_core::codec::{decode_response_frame, request_frame};
//! use blazemq_core::storage::MemoryStorage;
//! use blazemq_core::time::Instant;
//!
//! let mut broker = Broker::new(BrokerConfig::default(), MemoryStorage::default(), 0)
//!     .expect("memory storage starts");
//! let (conn, now) = (ConnId(1), Instant::default());
//! broker.handle(Input::Accepted { conn, now, peer: "127.0.0.1" });
//! let hello = ApiVersionsRequest {
//!     client_software_name: "doc".into(),
//!     client_software_version: "1.0".into(),
//! };
//! let request = request_frame(3, 7, Some("doc"), &hello).expect("encodes");
//! broker.handle(Input::Bytes { conn, now, unix_ms: 0, data: &request });
//! let mut written = Vec::new();
//! let deadline = loop {
//!     match broker.poll_output() {
//!         Output::Send { conn: to, response } => {
//!             assert_eq!(to, conn);
//!             // 1. write it (a socket runtime sends its chunks), 2. give it back.
//!             assert!(broker.write_response(&response, &mut written));
//!             broker.recycle(response);
//!         }
//!         Output::Close(_) => unreachable!("a valid request is answered"),
//!         // Nothing more to do until I/O or this deadline.
//!         Output::Timeout(deadline) => break deadline,
//!     }
//! };
//! let (correlation_id, answer) =
//!     decode_response_frame::<ApiVersionsResponse>(3, &written).expect("decodes");
//! assert_eq!((correlation_id, answer.error_code), (7, 0));
//! assert!(answer.api_keys.iter().any(|k| k.api_key == 18));
//! # let _ = deadline;
//! ```
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
