//! What Linux's `/proc` says of a process: CPU time and memory. Parsers take the file's text,
//! so they are tested without a process.

use std::fs;
use std::process::Command;

use crate::error::{BenchError, Result};

/// A process's memory, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS` from `/proc/PID/status`: resident pages, file-backed ones (mapped segments) too.
    pub rss_kib: u64,
    /// `Anonymous` from `/proc/PID/smaps_rollup`: heap and stacks, what the process itself holds.
    pub anonymous_kib: u64,
}

/// User plus system CPU time of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    parse_stat_ticks(&fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

/// The memory of `pid`.
pub fn memory(pid: u32) -> Result<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    Ok(Memory {
        rss_kib: parse_kib_field(&status, "VmRSS:")?,
        anonymous_kib: parse_kib_field(&rollup, "Anonymous:")?,
    })
}

/// Clock ticks per second (`USER_HZ`), as `getconf CLK_TCK` says; 100, Linux's value on every
/// common architecture, when it cannot be asked.
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// `utime + stime` from the text of `/proc/PID/stat`. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted after its last `)`.
pub fn parse_stat_ticks(stat: &str) -> Result<u64> {
    let bad = || BenchError::Protocol(format!("unexpected /proc stat line: {stat:?}"));
    let after = stat.rfind(')').map(|i| &stat[i + 1..]).ok_or_else(bad)?;
    // After the name: state is field 3, utime field 14, stime field 15.
    let mut fields = after.split_whitespace().skip(14 - 3);
    let mut next = || -> Result<u64> { fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad) };
    Ok(next()? + next()?)
}

/// The value of a `Name:   123 kB` line.
pub fn parse_kib_field(text: &str, name: &str) -> Result<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| BenchError::Protocol(format!("no {name} line in /proc")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_after_a_tricky_name() {
        let stat = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 99 \
                    1000 200 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat).unwrap(), 22);
        assert!(parse_stat_ticks("1234 (x) S 1").is_err());
        assert!(parse_stat_ticks("no name").is_err());
    }

    #[test]
    fn kib_fields() {
        let status = "Name:\tblazemq\nVmPeak:\t  5000 kB\nVmRSS:\t  4321 kB\n";
        assert_eq!(parse_kib_field(status, "VmRSS:").unwrap(), 4321);
        assert!(parse_kib_field(status, "Anonymous:").is_err());
        let rollup = "55d0-7ffd ---p 00000000 00:00 0  [rollup]\nRss: 9 kB\nAnonymous:  812 kB\n";
        assert_eq!(parse_kib_field(rollup, "Anonymous:").unwrap(), 812);
    }

    #[test]
    fn this_process_is_readable() {
        let pid = std::process::id();
        let m = memory(pid).unwrap();
        assert!(m.rss_kib > 0 && m.anonymous_kib > 0, "{m:?}");
        cpu_ticks(pid).unwrap();
        assert!(ticks_per_second() > 0);
    }
}
