//! The lines printed on start. Tests and scripts wait for the last one, [`READY_LINE`].

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::Path;

use crate::data_dir::PreviousRun;

/// Printed once the broker accepts connections.
pub const READY_LINE: &str = "Broker ready";

/// What the banner shows.
#[derive(Debug)]
pub struct Banner<'a> {
    /// Where the listener is bound.
    pub listening: SocketAddr,
    /// Host clients are told to use.
    pub advertised_host: &'a str,
    /// Port clients are told to use.
    pub advertised_port: u16,
    /// Data directory.
    pub log_dir: &'a Path,
    /// Cluster id.
    pub cluster_id: &'a str,
    /// How the last run ended.
    pub previous_run: PreviousRun,
    /// Partitions found on disk.
    pub partitions: usize,
    /// Segment capacity.
    pub segment_size_bytes: u64,
}

impl Banner<'_> {
    /// The banner, `READY_LINE` last.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let advertised = match self.advertised_host.contains(':') {
            true => format!("[{}]:{}", self.advertised_host, self.advertised_port),
            false => format!("{}:{}", self.advertised_host, self.advertised_port),
        };
        let previous = match self.previous_run {
            PreviousRun::None => "new",
            PreviousRun::Clean => "clean restart",
            PreviousRun::Crashed => "recovered after an unclean stop",
        };
        writeln!(
            out,
            "BlazeMQ {} ({}, {})",
            env!("CARGO_PKG_VERSION"),
            blazemq_platform::platform_name(),
            blazemq_platform::poll::POLLER_NAME
        )
        .expect("writing into a String cannot fail");
        writeln!(out, "  listening   {}", self.listening)
            .expect("writing into a String cannot fail");
        writeln!(out, "  advertised  {advertised}").expect("writing into a String cannot fail");
        writeln!(
            out,
            "  data dir    {} ({previous}, {} partitions)",
            self.log_dir.display(),
            self.partitions
        )
        .expect("writing into a String cannot fail");
        writeln!(out, "  cluster id  {}", self.cluster_id)
            .expect("writing into a String cannot fail");
        writeln!(
            out,
            "  segments    {}",
            human_bytes(self.segment_size_bytes)
        )
        .expect("writing into a String cannot fail");
        out.push_str(READY_LINE);
        out
    }
}

/// `1 GiB`, `64 MiB`, `1500 bytes`: exact binary units when they divide, else bytes.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (size, unit) in UNITS {
        if bytes >= size && bytes % size == 0 {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_names_everything_and_ends_ready() {
        let banner = Banner {
            listening: "[::]:9092".parse().expect("literal address"),
            advertised_host: "::1",
            advertised_port: 9092,
            log_dir: Path::new("/tmp/blazemq/data"),
            cluster_id: "abc",
            previous_run: PreviousRun::Clean,
            partitions: 3,
            segment_size_bytes: 1 << 30,
        }
        .render();
        assert!(banner.contains(env!("CARGO_PKG_VERSION")));
        assert!(banner.contains("[::]:9092"));
        assert!(banner.contains("[::1]:9092"));
        assert!(banner.contains("/tmp/blazemq/data"));
        assert!(banner.contains("1 GiB"));
        assert!(banner.ends_with("\nBroker ready"));
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(1500), "1500 bytes");
        assert_eq!(human_bytes(1536), "1536 bytes");
        assert_eq!(human_bytes(2048), "2 KiB");
    }
}
