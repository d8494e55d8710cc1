//! `core` driven alone, as another runtime would drive it: in-memory segments, encoded request
//! bytes in, response bytes out, a fake clock. No sockets, no files, no sleeps.

use blazemq_core::Instant;
use blazemq_core::broker::{Broker, BrokerConfig, Chunk, ConnId, Input, Output, Response};
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::fetch_request::{FetchPartition, FetchTopic};
use blazemq_core::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use blazemq_core::codec::messages::*;
use blazemq_core::codec::{
    Message, Records, Writer, request_header_version, response_header_version,
};
use blazemq_core::records::BatchBuilder;
use blazemq_core::storage::MemoryStorage;
use core::time::Duration;

const UNIX_MS: i64 = 1_700_000_000_000;

/// Responses by connection, connections closed, and the next deadline.
type Drained = (Vec<(u64, Vec<u8>)>, Vec<u64>, Option<Instant>);

struct Harness {
    broker: Broker<MemoryStorage>,
    now: Instant,
    correlation: i32,
}

impl Harness {
    fn new() -> Self {
        let config = BrokerConfig {
            segment_size_bytes: 64 * 1024,
            seed: 1,
            ..BrokerConfig::default()
        };
        let broker = Broker::new(config, MemoryStorage::default(), UNIX_MS).expect("starts");
        let mut h = Harness {
            broker,
            now: Instant::from_nanos(1_000),
            correlation: 0,
        };
        for c in 1..=3 {
            h.broker.handle(Input::Accepted {
                conn: ConnId(c),
                now: h.now,
                peer: "127.0.0.1",
            });
        }
        h
    }

    fn frame<M: Message>(&mut self, version: i16, body: &M) -> (i32, Vec<u8>) {
        self.correlation += 1;
        let header = RequestHeader {
            request_api_key: M::API_KEY,
            request_api_version: version,
            correlation_id: self.correlation,
            client_id: Some("sans-io-test".into()),
        };
        let mut w = Writer::new();
        w.put_i32(0);
        header
            .encode(&mut w, request_header_version(M::API_KEY, version))
            .expect("header encodes");
        body.encode(&mut w, version).expect("body encodes");
        let mut bytes = w.into_bytes();
        let size = (bytes.len() - 4) as i32;
        bytes[..4].copy_from_slice(&size.to_be_bytes());
        (self.correlation, bytes)
    }

    fn feed(&mut self, conn: u64, data: &[u8]) {
        self.broker.handle(Input::Bytes {
            conn: ConnId(conn),
            now: self.now,
            unix_ms: UNIX_MS,
            data,
        });
    }

    fn drain(&mut self) -> Drained {
        let (mut sent, mut closed) = (Vec::new(), Vec::new());
        for _ in 0..10_000 {
            match self.broker.poll_output() {
                Output::Send { conn, response } => sent.push((conn.0, self.flatten(&response))),
                Output::Close(conn) => closed.push(conn.0),
                Output::Timeout(deadline) => return (sent, closed, deadline),
            }
        }
        panic!("poll_output never returned Timeout");
    }

    fn flatten(&self, response: &Response) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in response.chunks() {
            match chunk {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::Segment(s) => {
                    out.extend_from_slice(self.broker.segment_bytes(&s).expect("segment exists"))
                }
            }
        }
        out
    }

    /// Send one request on connection 1 and decode its single response.
    fn call<Req: Message, Resp: Message>(&mut self, version: i16, body: &Req) -> Resp {
        let (corr, frame) = self.frame(version, body);
        self.feed(1, &frame);
        let (sent, closed, _) = self.drain();
        assert!(closed.is_empty(), "connection closed");
        assert_eq!(sent.len(), 1, "one response");
        decode_response::<Resp>(Req::API_KEY, version, corr, &sent[0].1)
    }
}

fn decode_response<M: Message>(api_key: i16, version: i16, corr: i32, frame: &[u8]) -> M {
    let size = i32::from_be_bytes(frame[..4].try_into().expect("4 bytes"));
    assert_eq!(size as usize, frame.len() - 4, "size prefix matches");
    let (rest, header) =
        ResponseHeader::decode(&frame[4..], response_header_version(api_key, version))
            .expect("header decodes");
    assert_eq!(header.correlation_id, corr);
    M::decode_complete(rest, version).expect("body decodes")
}

fn batch(values: &[&str]) -> Vec<u8> {
    let mut b = BatchBuilder::new(0);
    for v in values {
        b.push(UNIX_MS, None, Some(v.as_bytes()), &[]);
    }
    b.finish()
}

fn create(h: &mut Harness, name: &str, partitions: i32) {
    let req = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    };
    let resp: CreateTopicsResponse = h.call(7, &req);
    assert_eq!(resp.topics[0].error_code, 0);
}

fn produce_req(topic: &str, partition: i32, records: Vec<u8>) -> ProduceRequest {
    ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(Records::Bytes(records)),
            }],
        }],
        ..Default::default()
    }
}

fn fetch_req(topic: &str, offset: i64, max_wait_ms: i32, min_bytes: i32) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn fetched_records(resp: &FetchResponse) -> Vec<u8> {
    match &resp.responses[0].partitions[0].records {
        Some(Records::Bytes(b)) => b.clone(),
        other => panic!("records not bytes: {other:?}"),
    }
}

#[test]
fn api_versions_lists_the_supported_apis() {
    let mut h = Harness::new();
    let resp: ApiVersionsResponse = h.call(
        3,
        &ApiVersionsRequest {
            client_software_name: "test".into(),
            client_software_version: "1.0".into(),
        },
    );
    assert_eq!(resp.error_code, 0);
    let produce = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == 0)
        .expect("Produce listed");
    assert_eq!((produce.min_version, produce.max_version), (0, 11));
}

#[test]
fn unknown_api_versions_version_gets_a_v0_answer() {
    let mut h = Harness::new();
    // ApiVersions v99: header v2 layout, body unknown.
    let mut frame = vec![0, 0, 0, 0, 0, 18, 0, 99, 0, 0, 0, 7, 0, 1, b'x', 0];
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    h.feed(1, &frame);
    let (sent, closed, _) = h.drain();
    assert!(closed.is_empty());
    let resp: ApiVersionsResponse = decode_response(18, 0, 7, &sent[0].1);
    assert_eq!(resp.error_code, 35, "UNSUPPORTED_VERSION");
    assert_eq!(resp.api_keys.len(), 1);
    assert_eq!(
        (resp.api_keys[0].api_key, resp.api_keys[0].max_version),
        (18, 4)
    );
}

#[test]
fn produce_then_fetch_returns_the_same_batch_bytes() {
    let mut h = Harness::new();
    create(&mut h, "t", 1);
    let b1 = batch(&["a", "b"]);
    let resp: ProduceResponse = h.call(9, &produce_req("t", 0, b1.clone()));
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    let resp: ProduceResponse = h.call(9, &produce_req("t", 0, batch(&["c"])));
    assert_eq!(resp.responses[0].partition_responses[0].base_offset, 2);

    let resp: FetchResponse = h.call(12, &fetch_req("t", 0, 0, 1));
    let part = &resp.responses[0].partitions[0];
    assert_eq!((part.error_code, part.high_watermark), (0, 3));
    let bytes = fetched_records(&resp);
    // The stored batch is the produced one with its base offset (0) and, as Kafka does, the
    // partition leader epoch (0) set; both lie outside the CRC.
    let mut expected = b1.clone();
    expected[12..16].copy_from_slice(&0i32.to_be_bytes());
    assert_eq!(&bytes[..b1.len()], &expected[..]);

    let resp: FetchResponse = h.call(12, &fetch_req("t", 2, 0, 1));
    let bytes = fetched_records(&resp);
    assert_eq!(
        i64::from_be_bytes(bytes[..8].try_into().expect("8")),
        2,
        "base offset assigned by the broker"
    );

    let resp: FetchResponse = h.call(12, &fetch_req("t", 4, 0, 1));
    assert_eq!(
        resp.responses[0].partitions[0].error_code, 1,
        "OFFSET_OUT_OF_RANGE"
    );
}

#[test]
fn long_poll_fetch_waits_for_data_and_keeps_responses_in_order() {
    let mut h = Harness::new();
    create(&mut h, "t", 1);
    let (fetch_corr, fetch) = h.frame(12, &fetch_req("t", 0, 5_000, 1));
    let (md_corr, md) = h.frame(
        12,
        &MetadataRequest {
            topics: None,
            ..Default::default()
        },
    );
    // A fetch and a pipelined metadata request behind it on connection 2.
    let mut both = fetch.clone();
    both.extend_from_slice(&md);
    h.feed(2, &both);
    let (sent, _, deadline) = h.drain();
    assert!(
        sent.is_empty(),
        "the fetch parks and the metadata request waits behind it"
    );
    assert_eq!(deadline, Some(h.now + Duration::from_millis(5_000)));

    // A produce on connection 1 wakes it.
    let (_, produce) = h.frame(9, &produce_req("t", 0, batch(&["x"])));
    h.feed(1, &produce);
    let (sent, _, deadline) = h.drain();
    let on2: Vec<_> = sent.iter().filter(|(c, _)| *c == 2).collect();
    assert_eq!(on2.len(), 2, "fetch answered, then metadata");
    let f: FetchResponse = decode_response(1, 12, fetch_corr, &on2[0].1);
    assert!(!fetched_records(&f).is_empty());
    let _: MetadataResponse = decode_response(3, 12, md_corr, &on2[1].1);
    assert_eq!(deadline, None, "nothing parked: no timer");
}

#[test]
fn long_poll_fetch_answers_empty_at_its_deadline() {
    let mut h = Harness::new();
    create(&mut h, "t", 1);
    let (corr, fetch) = h.frame(12, &fetch_req("t", 0, 100, 1));
    h.feed(2, &fetch);
    let (sent, _, deadline) = h.drain();
    assert!(sent.is_empty());
    let deadline = deadline.expect("a deadline");
    // A spurious early timeout changes nothing.
    h.broker.handle(Input::Timeout {
        now: h.now,
        unix_ms: UNIX_MS,
    });
    assert!(h.drain().0.is_empty());
    h.now = deadline;
    h.broker.handle(Input::Timeout {
        now: h.now,
        unix_ms: UNIX_MS,
    });
    let (sent, _, _) = h.drain();
    let f: FetchResponse = decode_response(1, 12, corr, &sent[0].1);
    assert!(fetched_records(&f).is_empty());
}

#[test]
fn metadata_auto_creates_and_reports_this_broker() {
    let mut h = Harness::new();
    let req = MetadataRequest {
        topics: Some(vec![
            blazemq_core::codec::messages::metadata_request::MetadataRequestTopic {
                name: Some("auto".into()),
                ..Default::default()
            },
        ]),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    let resp: MetadataResponse = h.call(12, &req);
    assert_eq!(resp.brokers.len(), 1);
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].partitions.len(), 1);
    let v0: MetadataResponse = h.call(
        0,
        &MetadataRequest {
            topics: Some(vec![]),
            ..Default::default()
        },
    );
    assert_eq!(v0.topics.len(), 1, "v0: an empty list means every topic");
}

#[test]
fn produce_with_a_corrupt_crc_is_refused_and_stores_nothing() {
    let mut h = Harness::new();
    create(&mut h, "t", 1);
    let mut b = batch(&["a"]);
    let last = b.len() - 1;
    b[last] ^= 0xff;
    let resp: ProduceResponse = h.call(9, &produce_req("t", 0, b));
    assert_eq!(
        resp.responses[0].partition_responses[0].error_code, 2,
        "CORRUPT_MESSAGE"
    );
    let resp: FetchResponse = h.call(12, &fetch_req("t", 0, 0, 1));
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 0);
}

#[test]
fn garbage_closes_only_that_connection() {
    let mut h = Harness::new();
    h.feed(2, &[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    let (_, closed, _) = h.drain();
    assert_eq!(closed, vec![2]);
    let _: ApiVersionsResponse = h.call(0, &ApiVersionsRequest::default());
}

#[test]
fn fetch_sessions_are_not_created_and_unknown_ones_refused() {
    let mut h = Harness::new();
    create(&mut h, "t", 1);
    let mut req = fetch_req("t", 0, 0, 0);
    req.session_epoch = 0;
    let resp: FetchResponse = h.call(12, &req);
    assert_eq!(
        (resp.error_code, resp.session_id),
        (0, 0),
        "full answer, no session made"
    );
    req.session_id = 42;
    req.session_epoch = 3;
    let resp: FetchResponse = h.call(12, &req);
    assert_eq!(resp.error_code, 70, "FETCH_SESSION_ID_NOT_FOUND");
    req.session_id = 0;
    let resp: FetchResponse = h.call(12, &req);
    assert_eq!(resp.error_code, 71, "INVALID_FETCH_SESSION_EPOCH");
}

#[test]
fn deleted_topics_are_gone_and_can_be_created_again() {
    use blazemq_core::codec::messages::delete_topics_request::DeleteTopicState;
    let mut h = Harness::new();
    create(&mut h, "t", 2);
    let _: ProduceResponse = h.call(9, &produce_req("t", 1, batch(&["a"])));
    let resp: DeleteTopicsResponse = h.call(
        6,
        &DeleteTopicsRequest {
            topics: vec![DeleteTopicState {
                name: Some("t".into()),
                ..Default::default()
            }],
            timeout_ms: 1000,
            ..Default::default()
        },
    );
    assert_eq!(resp.responses[0].error_code, 0);
    let resp: FetchResponse = h.call(12, &fetch_req("t", 0, 0, 1));
    assert_eq!(
        resp.responses[0].partitions[0].error_code, 3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    let again: DeleteTopicsResponse = h.call(
        3,
        &DeleteTopicsRequest {
            topic_names: vec!["t".into()],
            timeout_ms: 1000,
            ..Default::default()
        },
    );
    assert_eq!(again.responses[0].error_code, 3);
    create(&mut h, "t", 1);
    let resp: FetchResponse = h.call(12, &fetch_req("t", 0, 0, 1));
    assert_eq!(
        resp.responses[0].partitions[0].high_watermark, 0,
        "a new, empty topic"
    );
}

#[test]
fn describe_configs_reports_set_and_default_values() {
    use blazemq_core::codec::messages::create_topics_request::CreatableTopicConfig;
    use blazemq_core::codec::messages::describe_configs_request::DescribeConfigsResource;
    let mut h = Harness::new();
    let req = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "c".into(),
            num_partitions: 1,
            replication_factor: 1,
            configs: vec![CreatableTopicConfig {
                name: "retention.ms".into(),
                value: Some("1234".into()),
            }],
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    };
    let resp: CreateTopicsResponse = h.call(7, &req);
    assert_eq!(resp.topics[0].error_code, 0);
    let resp: DescribeConfigsResponse = h.call(
        4,
        &DescribeConfigsRequest {
            resources: vec![
                DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: "c".into(),
                    configuration_keys: None,
                },
                DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: "nope".into(),
                    configuration_keys: None,
                },
            ],
            ..Default::default()
        },
    );
    let configs = &resp.results[0].configs;
    let retention = configs
        .iter()
        .find(|c| c.name == "retention.ms")
        .expect("listed");
    assert_eq!(
        (retention.value.as_deref(), retention.config_source),
        (Some("1234"), 1)
    );
    let cleanup = configs
        .iter()
        .find(|c| c.name == "cleanup.policy")
        .expect("listed");
    assert_eq!(
        (cleanup.value.as_deref(), cleanup.config_source),
        (Some("delete"), 5)
    );
    assert_eq!(resp.results[1].error_code, 3);
}
