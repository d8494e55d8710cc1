//! The HTTP listener (`--metrics-listener`): served by the broker's one loop beside Kafka's
//! clients, keep-alive, refusals that close only the connection that sent them.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use blazemq_tests::http::{self, read_answer};
use blazemq_tests::{Broker, BrokerOptions, serves_api_versions};

fn start() -> Broker {
    Broker::start_with(
        BrokerOptions::default()
            .arg("--metrics-listener")
            .arg("127.0.0.1:0"),
    )
}

fn connect(broker: &Broker) -> TcpStream {
    let stream = TcpStream::connect(broker.http_addr()).expect("connect to the HTTP listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a non-zero timeout is valid");
    stream
}

#[test]
fn unknown_paths_are_404_in_json_and_head_has_no_body() {
    let broker = start();
    let answer = http::get(broker.http_addr(), "/no/such/path");
    assert_eq!(answer.status, 404, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), r#"{"error":"not found"}"#);
    let mut stream = connect(&broker);
    stream
        .write_all(b"HEAD /no HTTP/1.1\r\nConnection: close\r\n\r\n")
        .expect("send");
    let head = read_answer_head_only(&mut stream);
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(head.contains("Content-Length: 21"), "{head}");
    let put = http::request(broker.http_addr(), "PUT", "/metrics", "");
    assert_eq!(put.status, 405);
}

/// Reads until the peer closes: a HEAD answer has a length but no body.
fn read_answer_head_only(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    std::io::Read::read_to_end(stream, &mut all).expect("read until close");
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn requests_on_one_connection_are_answered_in_order() {
    let broker = start();
    let mut stream = connect(&broker);
    // Two pipelined in one write, then a third after the answers.
    stream
        .write_all(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        .expect("send");
    // Both answers may come in one read: read until both bodies are in.
    let mut both = Vec::new();
    while both.windows(11).filter(|w| w == b"not found\"}").count() < 2 {
        let mut chunk = [0u8; 4096];
        let n = std::io::Read::read(&mut stream, &mut chunk).expect("the answers");
        assert!(n > 0, "closed after {}", String::from_utf8_lossy(&both));
        both.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&both);
    assert_eq!(
        text.matches("HTTP/1.1 404 Not Found\r\n").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("Connection: keep-alive").count(), 2, "{text}");
    stream
        .write_all(b"POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nx=1")
        .expect("send");
    assert_eq!(read_answer(&mut stream).expect("an answer").status, 404);
}

#[test]
fn a_malformed_request_is_refused_and_only_its_connection_closed() {
    let broker = start();
    let mut bad = connect(&broker);
    bad.write_all(b"\x16\x03\x01 not http\r\n\r\n")
        .expect("send");
    let answer = read_answer(&mut bad).expect("a refusal");
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("connection"), Some("close"));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut bad, &mut rest).expect("closed after the refusal");
    assert!(rest.is_empty());
    let mut big = connect(&broker);
    big.write_all(b"POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n")
        .expect("send");
    assert_eq!(read_answer(&mut big).expect("a refusal").status, 413);
    // Others are served as before.
    assert_eq!(http::get(broker.http_addr(), "/x").status, 404);
    assert!(serves_api_versions(&broker));
}

#[test]
fn a_slow_http_client_does_not_hold_up_kafka_clients() {
    let broker = start();
    let mut slow = connect(&broker);
    slow.write_all(b"GET /half").expect("send half a request");
    assert!(serves_api_versions(&broker));
    slow.write_all(b" HTTP/1.1\r\n\r\n").expect("send the rest");
    assert_eq!(read_answer(&mut slow).expect("an answer").status, 404);
}
