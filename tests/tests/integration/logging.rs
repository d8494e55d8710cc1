//! The broker's log on stderr, end to end: started with `--log-level debug --log-format json`,
//! every line it writes there is a JSON object, and a topic created by a client, the client's
//! connection, a refused request and the shutdown are each one of them.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::io::{Read, Write};

use blazemq_tests::wire::{self, error_code};
use blazemq_tests::{Broker, BrokerOptions};
use serde_json::Value;

/// The client id of the harness's requests.
const CLIENT_ID: &str = "blazemq-tests";

/// The broker's JSON log lines so far; any other line starting with `{` fails the test.
fn json_lines(broker: &Broker) -> Vec<Value> {
    broker
        .output()
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// The first line with message `msg` that `matches`, waiting for it (bounded).
fn wait_for_line(broker: &Broker, msg: &str, matches: impl Fn(&Value) -> bool) -> Value {
    broker.wait_for_output(&format!("`{msg}` line"), |_| {
        json_lines(broker)
            .into_iter()
            .find(|line| line["msg"] == msg && matches(line))
    })
}

fn has_envelope(line: &Value, level: &str) {
    assert_eq!(line["level"], level, "{line}");
    let ts = line["ts"].as_str().expect("ts is a string");
    assert!(
        ts.len() == "2026-12-05T21:53:19.123Z".len() && ts.ends_with('Z') && ts.contains('T'),
        "{ts}"
    );
}

/// The startup's lines, checked: the `logs recovered` line.
fn startup_lines(broker: &Broker) -> Value {
    let started = wait_for_line(broker, "broker started", |_| true);
    has_envelope(&started, "INFO");
    let listener = started["listener"].as_str().expect("listener is a string");
    assert!(
        listener.ends_with(&format!(":{}", broker.port())),
        "{started}"
    );
    assert!(started["data_dir"].is_string(), "{started}");
    let recovered = wait_for_line(broker, "logs recovered", |_| true);
    assert!(recovered["partitions"].is_u64(), "{recovered}");
    assert!(recovered["took_ms"].is_number(), "{recovered}");
    recovered
}

#[test]
fn json_log_names_startup_connections_topics_refusals_and_shutdown() {
    let mut broker = Broker::start_with(
        BrokerOptions::default()
            .arg("--log-level")
            .arg("debug")
            .arg("--log-format")
            .arg("json"),
    );
    let recovered = startup_lines(&broker);

    let mut stream = broker.connect();
    let local_port = stream.local_addr().expect("connected").port();
    let request = wire::create_topics_request(1, b"log-topic", 3);
    let answer = wire::round_trip(&mut stream, &request, 1)
        .unwrap_or_else(|e| panic!("CreateTopics: {e}\n{}", broker.output()));
    assert_eq!(
        wire::create_topics_response_error(&answer),
        Some(error_code::NONE)
    );

    let opened = wait_for_line(&broker, "connection opened", |line| {
        line["peer"] == format!("127.0.0.1:{local_port}")
    });
    has_envelope(&opened, "DEBUG");
    let created = wait_for_line(&broker, "topic created", |line| {
        line["topic"] == "log-topic"
    });
    has_envelope(&created, "INFO");
    assert_eq!(created["client_id"], CLIENT_ID, "{created}");
    assert_eq!(created["partitions"], 3, "{created}");
    assert_eq!(
        created["peer"],
        format!("127.0.0.1:{local_port}"),
        "{created}"
    );

    // An API no broker serves: refused, and the connection closed as Kafka closes it.
    let unknown = wire::request(999, 0, 2, &[]);
    stream.write_all(&unknown).expect("request sent");
    let mut rest = Vec::new();
    // The close ends the read; the bytes read (none) do not matter.
    drop(stream.read_to_end(&mut rest));
    let refused = wait_for_line(&broker, "request refused", |line| line["api_key"] == 999);
    has_envelope(&refused, "DEBUG");
    assert_eq!(refused["client_id"], CLIENT_ID, "{refused}");
    assert_eq!(refused["error"], "UNSUPPORTED_VERSION", "{refused}");
    assert_eq!(refused["version"], 0, "{refused}");
    wait_for_line(&broker, "connection closed", |line| {
        line["peer"] == format!("127.0.0.1:{local_port}")
    });

    assert!(broker.stop().success(), "{}", broker.output());
    let stopped = wait_for_line(&broker, "broker stopped", |_| true);
    assert!(stopped["took_ms"].is_number(), "{stopped}");
    let sealed = wait_for_line(
        &broker,
        "logs sealed and recovery checkpoint written",
        |_| true,
    );
    let at_start = recovered["partitions"].as_u64().expect("a count");
    assert_eq!(
        sealed["partitions"],
        at_start + 3,
        "the topic's 3 more: {sealed}"
    );
    for line in json_lines(&broker) {
        assert!(
            line["ts"].is_string() && line["level"].is_string() && line["msg"].is_string(),
            "every line has ts, level and msg: {line}"
        );
    }
}

#[test]
fn answers_with_errors_are_logged_at_debug() {
    let broker = Broker::start_with(
        BrokerOptions::default()
            .arg("--log-level")
            .arg("debug")
            .arg("--log-format")
            .arg("json"),
    );
    let mut stream = broker.connect();
    let local_port = stream.local_addr().expect("connected").port();
    for (id, expected) in [(1, error_code::NONE), (2, error_code::TOPIC_ALREADY_EXISTS)] {
        let request = wire::create_topics_request(id, b"twice", 1);
        let answer = wire::round_trip(&mut stream, &request, id)
            .unwrap_or_else(|e| panic!("CreateTopics: {e}\n{}", broker.output()));
        assert_eq!(wire::create_topics_response_error(&answer), Some(expected));
    }
    let line = wait_for_line(&broker, "request answered with errors", |line| {
        line["api"] == "CreateTopics"
    });
    has_envelope(&line, "DEBUG");
    assert_eq!(line["error"], "TOPIC_ALREADY_EXISTS", "{line}");
    assert_eq!(line["errors"], 1, "{line}");
    assert_eq!(line["client_id"], CLIENT_ID, "{line}");
    assert_eq!(line["peer"], format!("127.0.0.1:{local_port}"), "{line}");
    // The first, answered without errors, left no such line.
    let lines = json_lines(&broker);
    let with_errors = lines
        .iter()
        .filter(|l| l["msg"] == "request answered with errors")
        .count();
    assert_eq!(with_errors, 1, "{}", broker.output());
}
