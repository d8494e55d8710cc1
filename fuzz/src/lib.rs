//! Fuzz targets over `blazemq-core`, as plain functions.
//!
//! Each `pub fn` here is one target: libFuzzer calls it through `fuzz_targets/<name>.rs`
//! (`cargo +nightly fuzz run <name>`), and `tests/replay.rs` feeds it every file of
//! `corpus/<name>/` on stable, so the corpora are regression tests wherever `cargo test` runs.
//!
//! A target panics only when core breaks a property it promises; malformed input must come
//! back as an error value, never as a panic.

mod frame;
mod group;
mod input;
mod records;
mod request;
mod segment;

pub use frame::frame;
pub use group::group;
pub use records::{legacy, record_batch};
pub use request::request;
pub use segment::segment_recovery;

/// A target: bytes in, a panic when a property breaks.
pub type Target = fn(&[u8]);

/// Every target by name, as the corpus directories are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame", frame),
    ("request", request),
    ("record_batch", record_batch),
    ("legacy", legacy),
    ("segment_recovery", segment_recovery),
    ("group", group),
];
