//! The cross-crate tests, one module per subject, in one test binary so that the tests' build
//! compiles and links tokio, rskafka and the harness into it once. `cargo test -p blazemq-tests
//! --test integration kcat::` runs one module. alloc_free.rs stays a binary of its own: it
//! installs a counting global allocator.

mod bad_input;
mod compaction_crash;
mod crash_cycles;
mod e2e_rskafka;
mod http_listener;
mod kcat;
mod kcat_groups;
mod logging;
mod malformed;
mod metrics;
mod read_committed;
mod roundtrip;
mod start_failure;
mod storage_faults;
