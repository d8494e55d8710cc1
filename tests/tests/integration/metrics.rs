//! `GET /metrics` on the metrics listener: the real binary counts a client's requests, their
//! errors and bytes, times them, and reports the partitions it holds.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::time::Duration;

use blazemq_tests::http;
use blazemq_tests::wire::{self, round_trip};
use blazemq_tests::{Broker, BrokerOptions};

/// The value of the sample `name{labels}` exactly as rendered (labels in their order).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn a_client_s_requests_errors_bytes_and_partitions_show_in_the_metrics() {
    let broker = Broker::start_with(
        BrokerOptions::default()
            .arg("--metrics-listener")
            .arg("127.0.0.1:0"),
    );
    let mut stream = broker.connect();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a non-zero timeout is valid");
    let create = wire::create_topics_request(1, b"m", 2);
    let body = round_trip(&mut stream, &create, 1).expect("CreateTopics answered");
    assert_eq!(wire::create_topics_response_error(&body), Some(0));
    let again = wire::create_topics_request(2, b"m", 2);
    let body = round_trip(&mut stream, &again, 2).expect("CreateTopics answered");
    assert_eq!(wire::create_topics_response_error(&body), Some(36));
    for id in 3..6 {
        let batch = wire::record_batch(1, &[b"one", b"two"]);
        let produce = wire::produce_request(id, b"m", 1, &batch);
        let body = round_trip(&mut stream, &produce, id).expect("Produce answered");
        assert_eq!(wire::produce_response_error(&body), Some(0));
    }

    let answer = http::get(broker.http_addr(), "/metrics");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = answer.text();
    let at = |series: &str| value(&text, series).unwrap_or_else(|| panic!("no {series}\n{text}"));
    assert_eq!(at("blazemq_requests_total{api=\"CreateTopics\"}"), 2.0);
    assert_eq!(at("blazemq_requests_total{api=\"Produce\"}"), 3.0);
    let exists =
        "blazemq_response_errors_total{api=\"CreateTopics\",error=\"TOPIC_ALREADY_EXISTS\"}";
    assert_eq!(at(exists), 1.0);
    assert_eq!(
        at("blazemq_request_duration_seconds_count{api=\"Produce\"}"),
        3.0
    );
    assert_eq!(
        at("blazemq_request_duration_seconds_bucket{api=\"Produce\",le=\"+Inf\"}"),
        3.0
    );
    assert_eq!(
        at("blazemq_partition_high_watermark{topic=\"m\",partition=\"1\"}"),
        6.0
    );
    assert_eq!(
        at("blazemq_partition_high_watermark{topic=\"m\",partition=\"0\"}"),
        0.0
    );
    assert!(at("blazemq_partition_size_bytes{topic=\"m\",partition=\"1\"}") > 0.0);
    assert_eq!(at("blazemq_connections"), 1.0);
    assert_eq!(at("blazemq_connections_opened_total"), 1.0);
    assert!(at("blazemq_network_received_bytes_total") > 0.0);
    assert!(at("blazemq_network_sent_bytes_total") > 0.0);
    assert!(at("blazemq_recovery_duration_seconds") >= 0.0);
    assert!(at("process_start_time_seconds") > 1.6e9);
    assert!(at("blazemq_uptime_seconds") >= 0.0);
}
