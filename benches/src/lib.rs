//! Benchmarks of BlazeMQ: criterion micro-benchmarks of `blazemq-core` (in `benches/`) and
//! `blazemq-bench`, a load generator that speaks the Kafka protocol to a running broker.
//!
//! The load generator is built from small parts, one job each:
//! - [`wire`]: a blocking Kafka connection written on `core`'s codec;
//! - [`txn`]: a transactional producer's requests to its coordinator;
//! - [`frame`]: a Produce frame sent many times, its batch's sequence stamped at each send;
//! - [`stats`]: latency histograms and their percentiles;
//! - [`codecs`]: batches compressed as clients compress them;
//! - [`modes`]: the runs (floor, produce, throughput, fetch, e2e, create, txn,
//!   fetch-committed, compaction, compaction-disk);
//! - [`broker`] and [`procfs`]: a broker started by the tool, and what `/proc` says of it;
//! - [`lifecycle`]: repeated starts and stops of that broker;
//! - [`args`] and [`report`]: the command line in, the table and the JSON out.
#![warn(missing_docs)]
// The workspace lint steers no_std-capable code to `core`; this crate is std by nature.
#![allow(clippy::std_instead_of_core)]

pub mod args;
pub mod broker;
pub mod codecs;
pub mod error;
pub mod frame;
pub mod lifecycle;
pub mod modes;
pub mod procfs;
pub mod report;
pub mod stats;
pub mod txn;
pub mod versus;
pub mod wire;

pub use error::BenchError;
