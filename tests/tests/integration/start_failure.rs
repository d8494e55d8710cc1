//! A broker that cannot start says why, naming the setting, and leaves a new data directory as
//! it found it: no `meta.properties` with a fresh cluster id, no lock file.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use blazemq_tests::broker_binary;

/// How long a broker that cannot start may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the binary with `args` and waits (bounded) for it to exit; a broker that keeps running
/// is killed and fails the test.
fn run_to_exit(args: &[&str], log_dir: &Path) -> Output {
    let mut child = Command::new(broker_binary())
        .args(args)
        .arg("--log-dir")
        .arg(log_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the broker binary starts");
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while child.try_wait().expect("wait for the broker").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("kill a broker that did not exit");
            child.wait().expect("reap the killed broker");
            panic!("the broker did not exit within {EXIT_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("the broker's output")
}

/// The names in `dir`, or none if it does not exist.
fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(read) => read
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    }
}

#[test]
fn a_port_in_use_fails_the_start_and_leaves_a_new_data_dir_empty() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port can be bound");
    let port = taken
        .local_addr()
        .expect("a bound listener has an address")
        .port();
    let parent = tempfile::tempdir().expect("temp dir");
    for log_dir in [parent.path().join("absent"), parent.path().join("empty")] {
        if log_dir.ends_with("empty") {
            std::fs::create_dir(&log_dir).expect("create the empty data dir");
        }
        let port_arg = port.to_string();
        let args = ["--bind-address", "127.0.0.1", "--port", &port_arg];
        let output = run_to_exit(&args, &log_dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert_eq!(
            entries(&log_dir),
            Vec::<String>::new(),
            "{} after: {stderr}",
            log_dir.display()
        );
        assert!(
            stderr.contains(&format!("cannot listen on 127.0.0.1:{port}"))
                && stderr.contains("port"),
            "{stderr}"
        );
    }
    drop(taken);
}

#[test]
fn a_data_dir_that_cannot_be_created_or_used_is_named_with_its_setting() {
    let parent = tempfile::tempdir().expect("temp dir");
    let file = parent.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write a file");
    // Below a file it cannot be created; a file cannot be used as one.
    for log_dir in [file.join("data"), file.clone()] {
        let output = run_to_exit(&["--bind-address", "127.0.0.1", "--port", "0"], &log_dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.contains("log_dir") && stderr.contains(&log_dir.display().to_string()),
            "{stderr}"
        );
    }
}

#[test]
fn a_metrics_listener_in_use_fails_the_start_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port can be bound");
    let addr = taken
        .local_addr()
        .expect("a bound listener has an address")
        .to_string();
    let parent = tempfile::tempdir().expect("temp dir");
    let log_dir = parent.path().join("absent");
    let args = ["--port", "0", "--metrics-listener", &addr];
    let output = run_to_exit(&args, &log_dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("metrics_listener"), "{stderr}");
    assert!(stderr.contains(&addr), "{stderr}");
    assert_eq!(entries(&log_dir), Vec::<String>::new(), "{stderr}");
}
