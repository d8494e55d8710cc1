//! BlazeMQ's only contact with the operating system, kept thin and free of Kafka.
//!
//! - [`net`]: non-blocking TCP listener and streams (IPv4, IPv6, dual-stack `::`) on `rustix`.
//! - [`poll`]: readiness on `polling` (epoll on Linux, kqueue on macOS and the BSDs).
//! - [`mapped_file`]: segment files written with `pwritev` and read through a `memmap2` map.
//! - [`fs`]: directory fsync, atomic file replacement, an exclusive lock file.
//! - [`signal`]: SIGINT/SIGTERM delivered as readiness on a pipe the poller watches.
//! - [`clock`]: a monotonic clock in nanoseconds and wall-clock Unix milliseconds.
//! - [`random`]: bytes from the OS's random source.
//! - [`memory`]: freed heap memory handed back to the OS.
//! - [`crc`]: the CPU's CRC-32C instruction, where it has one.
//! - [`syncer`]: fsyncs of new files and directories on a thread of their own.
//! - [`wake`]: another thread waking the event loop; background threads' priority.
#![warn(missing_docs)]
// The workspace lint steers no_std-capable code to `core`; this crate is std by nature.
#![allow(clippy::std_instead_of_core)]

pub mod clock;
pub mod crc;
pub mod fs;
pub mod mapped_file;
pub mod memory;
pub mod net;
pub mod poll;
pub mod random;
pub mod signal;
pub mod syncer;
pub mod wake;

pub use clock::{Clock, unix_ms};
pub use mapped_file::MappedFile;
pub use net::{Listener, Stream};
pub use poll::{Interest, Poller, Readiness, Registered};
pub use signal::ShutdownSignal;

/// Operating system and CPU architecture, e.g. `linux/x86_64`.
pub fn platform_name() -> String {
    format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)
}
