//! A broker the tool starts itself (`--broker-cmd`): a free port, a fresh data directory, the
//! time to its first answer, and a clean stop.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{BenchError, Result};
use crate::wire::Conn;

/// How long a broker may take to answer its first ApiVersions.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a broker may take to exit after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running broker started from a command line.
#[derive(Debug)]
pub struct SpawnedBroker {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its fresh data directory (removed when the broker is dropped).
    pub dir: PathBuf,
    /// Its stdout and stderr (removed when the broker is dropped).
    pub log: PathBuf,
    /// From spawn to its first ApiVersions answer.
    pub startup: Duration,
    /// Size of the command's first word, when that names a file.
    pub binary_bytes: Option<u64>,
    /// The command line as run.
    pub command: String,
}

/// Replaces `{port}` and `{dir}` in a command template.
pub fn substitute(template: &str, port: u16, dir: &Path) -> String {
    template
        .replace("{port}", &port.to_string())
        .replace("{dir}", &dir.display().to_string())
}

/// A port nothing listens on now (the OS picks it; another process could take it before the
/// broker binds, which a failed startup then reports).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// The size of the file a command starts with, if its first word names one.
pub fn binary_size(command: &str) -> Option<u64> {
    let first = command.split_whitespace().next()?;
    fs::metadata(first)
        .ok()
        .filter(fs::Metadata::is_file)
        .map(|m| m.len())
}

/// Characters that make a command line need a shell: quotes, expansions, redirections,
/// separators and globs.
const SHELL_CHARS: &[char] = &[
    '"', '\'', '\\', '$', '`', ';', '|', '&', '<', '>', '(', ')', '*', '?', '[', ']', '{', '}',
    '~', '#', '\n',
];

/// The words of `command` when it can be run without a shell: no shell syntax, no leading
/// `NAME=value`, and a first word naming an executable file.
pub fn direct_argv(command: &str) -> Option<Vec<&str>> {
    if command.contains(SHELL_CHARS) {
        return None;
    }
    let words: Vec<&str> = command.split_whitespace().collect();
    let first = *words.first()?;
    if first.contains('=') {
        return None;
    }
    let meta = fs::metadata(first).ok()?;
    use std::os::unix::fs::PermissionsExt as _;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(words)
}

/// How a broker stopped after SIGTERM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// From SIGTERM to the exit, to within a millisecond.
    pub after: Duration,
}

impl SpawnedBroker {
    /// Starts `template` (with `{port}` and `{dir}` filled in), then polls connect+ApiVersions
    /// in a tight loop until the first answer. A command whose first word is an executable and
    /// that needs no shell is spawned directly, so the startup time holds no shell; any other
    /// runs through `sh -c exec`, so the shell is replaced by the broker and its pid is the
    /// broker's.
    pub fn start(template: &str) -> Result<SpawnedBroker> {
        let port = free_port()?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("blazemq-bench-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let log = dir.with_extension("log");
        let command = substitute(template, port, &dir);
        let mut broker = SpawnedBroker {
            child: None,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
            log,
            startup: Duration::ZERO,
            binary_bytes: binary_size(&command),
            command,
        };
        broker.startup = broker.spawn()?;
        Ok(broker)
    }

    /// Spawns the command and waits for its first answer; returns the time that took.
    fn spawn(&mut self) -> Result<Duration> {
        let out = File::create(&self.log)?;
        let mut cmd = match direct_argv(&self.command) {
            Some(words) => {
                let mut c = Command::new(words[0]);
                c.args(&words[1..]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("exec {}", self.command));
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let started = Instant::now();
        self.child = Some(cmd.spawn()?);
        self.wait_ready(started)
    }

    /// Stops the broker (SIGTERM) and starts it again on the same port and data directory;
    /// returns the new startup time (also kept in `startup`).
    pub fn restart(&mut self) -> Result<(Exit, Duration)> {
        let exit = self.stop()?;
        self.startup = self.spawn()?;
        Ok((exit, self.startup))
    }

    fn wait_ready(&mut self, started: Instant) -> Result<Duration> {
        loop {
            let answered = Conn::open(self.addr, Duration::from_millis(200))
                .and_then(|mut c| c.api_versions());
            if answered.is_ok() {
                return Ok(started.elapsed());
            }
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait()?,
                None => None,
            };
            if let Some(status) = exited {
                return Err(BenchError::Protocol(format!(
                    "the broker exited ({status}) before answering:\n{}",
                    self.log_tail()
                )));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(BenchError::Protocol(format!(
                    "the broker did not answer within {STARTUP_TIMEOUT:?}:\n{}",
                    self.log_tail()
                )));
            }
            std::thread::yield_now();
        }
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The last lines the broker printed.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then wait for the exit (SIGKILL after [`STOP_TIMEOUT`]).
    pub fn stop(&mut self) -> Result<Exit> {
        let Some(mut child) = self.child.take() else {
            return Err(BenchError::Protocol("the broker is not running".into()));
        };
        use rustix::process::{Pid, Signal, kill_process};
        let pid = Pid::from_child(&child);
        // A thread blocks in waitpid and notes the time it returns: exact, and no polling
        // competes with the exiting broker for a core.
        let (exited, exit) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = exited.send((status, Instant::now()));
        });
        let asked = Instant::now();
        kill_process(pid, Signal::TERM).map_err(std::io::Error::from)?;
        match exit.recv_timeout(STOP_TIMEOUT) {
            Ok((status, at)) => {
                let _ = waiter.join();
                Ok(Exit {
                    code: status?.code(),
                    after: at.duration_since(asked),
                })
            }
            Err(_) => {
                kill_process(pid, Signal::KILL).map_err(std::io::Error::from)?;
                let _ = waiter.join();
                Err(BenchError::Protocol(format!(
                    "the broker ignored SIGTERM for {STOP_TIMEOUT:?} and was killed"
                )))
            }
        }
    }
}

impl Drop for SpawnedBroker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_file(&self.log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_binary_sizes() {
        let cmd = substitute("b --port {port} --log-dir {dir}", 9092, Path::new("/tmp/x"));
        assert_eq!(cmd, "b --port 9092 --log-dir /tmp/x");
        assert!(binary_size("/bin/sh -c true").is_some_and(|n| n > 0));
        assert_eq!(binary_size("/no/such/file --x"), None);
        assert_eq!(binary_size("/tmp"), None, "a directory is not a binary");
        assert_eq!(binary_size(""), None);
    }

    #[test]
    fn plain_commands_run_without_a_shell() {
        assert_eq!(
            direct_argv("/bin/sh -c  true"),
            Some(vec!["/bin/sh", "-c", "true"])
        );
        assert_eq!(direct_argv("/bin/sh -c 'exit 1'"), None, "quotes");
        assert_eq!(
            direct_argv("/bin/sh -c true > /dev/null"),
            None,
            "redirection"
        );
        assert_eq!(
            direct_argv("A=1 /bin/sh"),
            None,
            "an environment assignment"
        );
        assert_eq!(direct_argv("/no/such/file --x"), None);
        assert_eq!(direct_argv("/tmp --x"), None, "a directory");
        assert_eq!(direct_argv(""), None);
    }

    #[test]
    fn a_direct_command_that_exits_fails_startup_with_its_output() {
        // A command that exits before answering fails startup with its output, as through a
        // shell.
        let err = SpawnedBroker::start("/bin/echo direct {port} {dir}").expect_err("no broker");
        assert!(err.to_string().contains("direct"), "{err}");
    }

    #[test]
    fn a_command_that_exits_fails_startup_with_its_output() {
        let err = SpawnedBroker::start("echo no broker here; exit 3 # {port} {dir}")
            .expect_err("nothing listens");
        let msg = err.to_string();
        assert!(msg.contains("no broker here"), "{msg}");
    }
}
