//! Segments and the partition log over caller-provided buffers.
//!
//! A segment holds record batches v2 back to back, exactly as Kafka's `.log` files do, so a Fetch
//! sends a byte range of it as is. The format and the recovery rules are in `docs/format.md`.

pub mod checkpoint;
pub mod cleaner;
mod error;
pub mod partition;
mod retention;
pub mod segment;

pub use checkpoint::{CheckpointWriter, RecoveryCheckpoint};
pub use error::LogError;
pub use partition::{AppendAt, AppendInfo, PartitionLog, ReadSlice};
pub use retention::Retention;
pub use segment::Segment;

/// The leader epoch stamped on every appended batch: one broker, leader since epoch 0.
pub const PARTITION_LEADER_EPOCH: i32 = 0;
