//! READ_COMMITTED reads of a partition without transactions, over TCP: the last stable offset
//! is the high watermark, Fetch answers an aborted-transactions list (empty) where
//! READ_UNCOMMITTED answers null, and ListOffsets LATEST is the same at both levels.
//!
//! `BLAZEMQ_BOOTSTRAP=host:port` runs it against a broker already running there (Apache Kafka
//! from `scripts/kafka-reference.sh run`), to check the expectations themselves.

#![allow(clippy::std_instead_of_core)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blazemq_core::broker::harness::{self, batch, create_topics_request, fetch_request};
use blazemq_core::codec::Message;
use blazemq_core::codec::messages::fetch_response::PartitionData;
use blazemq_core::codec::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use blazemq_core::codec::messages::{
    CreateTopicsResponse, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, ProduceResponse,
};
use blazemq_tests::Broker;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The broker under test: started here, or the one at `BLAZEMQ_BOOTSTRAP`.
fn target() -> (Option<Broker>, SocketAddr) {
    if let Ok(bootstrap) = std::env::var("BLAZEMQ_BOOTSTRAP") {
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&bootstrap)
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| panic!("BLAZEMQ_BOOTSTRAP={bootstrap} is not an address"));
        return (None, addr);
    }
    let broker = Broker::start();
    let addr = broker.socket_addr();
    (Some(broker), addr)
}

/// Send `body` at `version` and decode the answer.
fn call<Req: Message, Resp: Message>(stream: &mut TcpStream, version: i16, body: &Req) -> Resp {
    stream
        .write_all(&harness::request(version, 7, body))
        .expect("request sent");
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("answer's size");
    let mut frame = size.to_vec();
    frame.resize(4 + i32::from_be_bytes(size) as usize, 0);
    stream.read_exact(&mut frame[4..]).expect("answer");
    harness::response(version, &frame).expect("answer decodes")
}

fn fetch(stream: &mut TcpStream, topic: &str, offset: i64, isolation: i8) -> PartitionData {
    let mut request = fetch_request(topic, 0, offset, 0, 1);
    request.isolation_level = isolation;
    let mut resp: FetchResponse = call(stream, 12, &request);
    resp.responses.remove(0).partitions.remove(0)
}

fn latest(stream: &mut TcpStream, topic: &str, isolation: i8) -> i64 {
    let request = ListOffsetsRequest {
        replica_id: -1,
        isolation_level: isolation,
        topics: vec![ListOffsetsTopic {
            name: topic.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let resp: ListOffsetsResponse = call(stream, 7, &request);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

#[test]
fn read_committed_without_transactions_reads_up_to_the_high_watermark() {
    let (_broker, addr) = target();
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connects");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let topic = format!("read-committed-{nanos}");
    let created: CreateTopicsResponse =
        call(&mut stream, 7, &create_topics_request(&topic, 1, &[]));
    assert_eq!(created.topics[0].error_code, 0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let produce = harness::produce_request(&topic, 0, batch(now, &[b"a", b"b", b"c"]));
    // A new topic's leader may take a moment to be ready on Kafka.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let resp: ProduceResponse = call(&mut stream, 9, &produce);
        let code = resp.responses[0].partition_responses[0].error_code;
        if code == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "produce keeps failing with {code}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let uncommitted = fetch(&mut stream, &topic, 0, 0);
    assert_eq!(uncommitted.error_code, 0);
    assert_eq!(
        (uncommitted.high_watermark, uncommitted.last_stable_offset),
        (3, 3)
    );
    assert_eq!(
        uncommitted.aborted_transactions, None,
        "null when uncommitted"
    );

    let committed = fetch(&mut stream, &topic, 0, 1);
    assert_eq!(
        (committed.high_watermark, committed.last_stable_offset),
        (3, 3)
    );
    assert_eq!(committed.aborted_transactions, Some(Vec::new()));
    assert_eq!(committed.records, uncommitted.records, "the same data");

    // At the end: no data, and still a list.
    let end = fetch(&mut stream, &topic, 3, 1);
    assert_eq!(end.error_code, 0);
    assert!(end.records.as_ref().is_none_or(|r| r.is_empty()));
    assert_eq!(end.aborted_transactions, Some(Vec::new()));

    // Out of range: the error, with a null list.
    let out = fetch(&mut stream, &topic, 9, 1);
    assert_eq!(out.error_code, 1, "OFFSET_OUT_OF_RANGE");
    assert_eq!(out.aborted_transactions, None);

    assert_eq!(latest(&mut stream, &topic, 0), 3);
    assert_eq!(latest(&mut stream, &topic, 1), 3);
}
