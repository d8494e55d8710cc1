//! The Kafka wire format.

pub mod response;

pub use response::{Chunk, Response, SegmentRef, Splice};
