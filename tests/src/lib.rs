//! Cross-crate tests, and the harness that runs the real `blazemq` binary for them.
//!
//! [`Broker::start`] finds the binary, picks a free port on 127.0.0.1, gives it a fresh data
//! directory, and waits (bounded) until it prints `Broker ready`. The process is killed when the
//! [`Broker`] is dropped, so a failing test never leaves a broker behind. Its stdout and stderr are
//! drained by threads, so a chatty broker never blocks on a full pipe, and the last lines are kept
//! for failure messages.
//!
//! The binary is found at `$BLAZEMQ_BIN`, else `$CARGO_TARGET_DIR/debug/blazemq`, else
//! `<workspace>/target/debug/blazemq`; the test command builds it first (`cargo build -p
//! blazemq`). `BLAZEMQ_TEST_BROKER_CMD` replaces the whole command line with another broker's, so
//! the tests themselves can be checked against another implementation: `{port}` and `{dir}` in it
//! are replaced, and readiness is then an accepted TCP connection.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub mod http;
pub mod wire;

/// The line the broker prints on stdout once it accepts connections.
pub const READY_LINE: &str = "Broker ready";

/// How long a broker may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a broker may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Broker::wait_for_output`] waits.
const OUTPUT_WAIT: Duration = Duration::from_secs(10);

/// Lines of broker output kept for failure messages.
const OUTPUT_LINES_MAX: usize = 200;

/// Options for starting a broker; the defaults are the broker's own defaults.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// Extra command-line arguments, passed after `--port` and `--log-dir`.
    pub args: Vec<String>,
    /// Where the fresh data directory is made (a small file system, say); the system's temp
    /// directory if `None`.
    pub data_parent: Option<PathBuf>,
}

impl BrokerOptions {
    /// Makes the data directory inside `parent`.
    pub fn data_in(mut self, parent: impl Into<PathBuf>) -> Self {
        self.data_parent = Some(parent.into());
        self
    }

    /// Adds one command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }
}

/// A running broker process on 127.0.0.1, killed on drop.
#[derive(Debug)]
pub struct Broker {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    options: BrokerOptions,
    output: Arc<Mutex<VecDeque<String>>>,
}

impl Broker {
    /// Starts a broker with default options on a free port and a fresh data directory.
    pub fn start() -> Broker {
        Broker::start_with(BrokerOptions::default())
    }

    /// Starts a broker with `options` on a free port and a fresh data directory.
    ///
    /// A free port can be taken by another process between the probe and the broker's bind, so a
    /// start that fails is retried on a new port a few times.
    pub fn start_with(options: BrokerOptions) -> Broker {
        let mut builder = tempfile::Builder::new();
        builder.prefix("blazemq-test-");
        let dir = match &options.data_parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .expect("the data directory's parent is writable");
        let mut broker = Broker {
            child: None,
            port: 0,
            dir,
            options,
            output: Arc::new(Mutex::new(VecDeque::new())),
        };
        let mut last_error = String::new();
        for _ in 0..3 {
            broker.port = free_port();
            match broker.spawn() {
                Ok(()) => return broker,
                Err(error) => last_error = error,
            }
        }
        panic!("broker did not start: {last_error}");
    }

    /// The TCP port the broker listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, the bootstrap address for clients.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The socket address of the broker.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The broker's data directory (`--log-dir`).
    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id of the running broker.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("pid is asked only of a running broker")
            .id()
    }

    /// The last lines the broker printed, for failure messages.
    pub fn output(&self) -> String {
        let lines = self.output.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Resident set size of the broker in KiB, from `/proc/<pid>/status` (`VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// A field of `/proc/<pid>/status` in KiB: `VmRSS`, `RssAnon` (heap and stacks), `RssFile`
    /// (mapped file pages, such as segments a recovery read), ...
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status
            .lines()
            .find(|l| l.split(':').next() == Some(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit; returns its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self
            .child
            .take()
            .expect("stop is called on a running broker");
        signal(&child, rustix::process::Signal::TERM);
        match wait_bounded(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                kill_group(&mut child);
                panic!(
                    "broker did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                    self.output()
                );
            }
        }
    }

    /// Kills the process with SIGKILL, as a crash would, and reaps it.
    pub fn kill9(&mut self) {
        let mut child = self
            .child
            .take()
            .expect("kill9 is called on a running broker");
        kill_group(&mut child);
    }

    /// Starts the broker again on the same port and data directory, after `stop` or `kill9`.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart follows stop or kill9");
        // The old socket may linger a moment; retry a few times on the same port.
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(error) if Instant::now() >= deadline => panic!("restart failed: {error}"),
                Err(_) => thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// The HTTP listener's address (`--metrics-listener`), from the line the broker logs when
    /// it starts serving it.
    pub fn http_addr(&self) -> SocketAddr {
        self.wait_for_output("a `metrics listener` line", |output| {
            output.lines().find_map(|line| {
                let rest = line.split("metrics listener").nth(1)?;
                let address = rest.split("address=").nth(1)?.split_whitespace().next()?;
                address.trim_matches(['"', ',']).parse().ok()
            })
        })
    }

    /// What `find` finds in the broker's output, waiting a few seconds for it to appear;
    /// `what` names it in the failure.
    pub fn wait_for_output<T>(&self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + OUTPUT_WAIT;
        loop {
            if let Some(found) = find(&self.output()) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {OUTPUT_WAIT:?}:\n{}",
                self.output()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Opens a plain TCP connection to the broker, with read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect_timeout(&self.socket_addr(), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to {}: {e}\n{}", self.addr(), self.output()));
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a non-zero read timeout is valid");
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .expect("a non-zero write timeout is valid");
        stream
    }

    fn spawn(&mut self) -> Result<(), String> {
        let (mut command, wait_for_line) = self.command();
        // Its own process group, so a kill reaches any process the broker command started.
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawn {command:?}: {e}"))?;
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout was piped");
        let stderr = child.stderr.take().expect("stderr was piped");
        drain(stdout, Arc::clone(&self.output), Some(ready_tx));
        drain(stderr, Arc::clone(&self.output), None);
        let ready = if wait_for_line {
            wait_for_ready_line(&ready_rx, &mut child)
        } else {
            wait_for_port(self.socket_addr(), &mut child)
        };
        match ready {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(error) => {
                kill_group(&mut child);
                Err(format!("{error}\n--- broker output ---\n{}", self.output()))
            }
        }
    }

    /// The command line, and whether readiness is the `Broker ready` line.
    fn command(&self) -> (Command, bool) {
        let port = self.port.to_string();
        let dir = self.dir.path().display().to_string();
        if let Ok(template) = std::env::var("BLAZEMQ_TEST_BROKER_CMD") {
            let mut words = template
                .split_whitespace()
                .map(|w| w.replace("{port}", &port).replace("{dir}", &dir));
            let program = words.next().expect("BLAZEMQ_TEST_BROKER_CMD is not empty");
            let mut command = Command::new(program);
            command.args(words);
            return (command, false);
        }
        let mut command = Command::new(broker_binary());
        command
            .args(["--port", &port, "--log-dir", &dir])
            .args(&self.options.args);
        (command, true)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }
}

/// Path of the `blazemq` binary under test.
pub fn broker_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BLAZEMQ_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target.join("debug").join("blazemq");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p blazemq` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The workspace root, the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port can be bound");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Whether tests that need an external client must fail rather than skip when it is missing.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether `program` can be run; in CI a missing program fails the test instead.
pub fn require_program(program: &str) -> bool {
    let found = Command::new(program)
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(!in_ci(), "{program} is required when CI=true");
        eprintln!("skipping: {program} is not installed");
    }
    found
}

/// Whether a new connection still gets an ApiVersions answer: the broker is alive and serving.
pub fn serves_api_versions(broker: &Broker) -> bool {
    let mut stream = broker.connect();
    let correlation_id = 0x5eed;
    let request = wire::api_versions_request(0, correlation_id);
    if std::io::Write::write_all(&mut stream, &request).is_err() {
        return false;
    }
    match wire::read_frame(&mut stream) {
        Ok(frame) => {
            let answer = wire::Reader::new(&frame);
            let mut answer = answer;
            let ok = answer.i32() == Some(correlation_id) && answer.i16() == Some(0);
            let _ = stream.shutdown(Shutdown::Both);
            ok
        }
        Err(_) => false,
    }
}

fn signal(child: &Child, signal: rustix::process::Signal) {
    let raw = i32::try_from(child.id()).expect("process ids fit in i32");
    let pid = rustix::process::Pid::from_raw(raw).expect("a child's pid is positive");
    // The process may have exited already; the wait that follows reports it either way.
    let _ = rustix::process::kill_process(pid, signal);
}

/// SIGKILL to the child's whole process group, then reaps the child.
fn kill_group(child: &mut Child) {
    let raw = i32::try_from(child.id()).expect("process ids fit in i32");
    let pid = rustix::process::Pid::from_raw(raw).expect("a child's pid is positive");
    // The group exists while its leader is unreaped; an error means it is gone already.
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Reads lines from a pipe until it closes, keeping the last ones, and reports the ready line.
fn drain(
    pipe: impl Read + Send + 'static,
    output: Arc<Mutex<VecDeque<String>>>,
    ready: Option<mpsc::Sender<()>>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            if let Some(ready) = ready.as_ref().filter(|_| text.contains(READY_LINE)) {
                let _ = ready.send(());
            }
            let mut lines = output.lock().unwrap_or_else(|p| p.into_inner());
            if lines.len() == OUTPUT_LINES_MAX {
                lines.pop_front();
            }
            lines.push_back(text);
        }
    });
}

fn wait_for_ready_line(ready: &mpsc::Receiver<()>, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if ready.recv_timeout(Duration::from_millis(50)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("broker exited before it was ready: {status}"));
        }
    }
    Err(format!("no `{READY_LINE}` within {READY_TIMEOUT:?}"))
}

fn wait_for_port(addr: SocketAddr, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("broker exited before it was ready: {status}"));
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{addr} did not accept within {READY_TIMEOUT:?}"))
}
