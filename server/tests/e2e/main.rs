//! The binary's end-to-end tests, one module per subject, in one test binary so that the tests'
//! build links it once. `cargo test -p blazemq --test e2e open_segments::` runs one module.
//! recovery.rs and output_bound.rs stay binaries of their own: they bound a broker's restart time,
//! latency and memory, which the brokers of other tests running beside them would disturb.

mod binary;
mod open_segments;
#[path = "../support/mod.rs"]
mod support;
