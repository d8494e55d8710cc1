//! Record batches (v2) and the legacy message sets (v0, v1).
//!
//! Batches are read through views over the bytes they arrived in ([`RecordBatch`]), so a Produce
//! is validated and stored without building a value per record. Legacy message sets are only
//! converted: to one v2 batch on Produce, and back from v2 for old Fetch versions.

pub mod batch;
pub mod compression;
pub mod control;
pub mod crc;
mod error;
pub mod legacy;
pub mod record;
mod snappy;
#[cfg(test)]
pub(crate) mod test_codecs;
pub mod validate;
mod zstd;

pub use batch::{RecordBatch, TimestampType};
pub use compression::Compression;
pub use error::RecordsError;
pub use record::{BatchBuilder, Header, Record, Records};
pub use validate::{
    ValidatedRecords, check_produce_shape, decompressed_bytes_max, keyless_records,
    validate_batches, validate_batches_with,
};
