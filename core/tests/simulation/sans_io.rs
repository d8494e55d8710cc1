//! Fixed scenarios through the broker's face, as another runtime drives it: in-memory segments,
//! encoded request bytes in, response bytes out, a simulated clock. No sockets, no files, no
//! sleeps.

use blazemq_core::Instant;
use blazemq_core::broker::harness::{self, Clock, Driver, fetch_request, produce_request};
use blazemq_core::broker::{BrokerConfig, ConnId};
use blazemq_core::codec::messages::fetch_response::PartitionData;
use blazemq_core::codec::messages::*;
use blazemq_core::codec::{Message, Records};
use blazemq_core::storage::MemoryStorage;
use core::time::Duration;

const UNIX_MS: i64 = 1_700_000_000_000;

type Harness = Driver<MemoryStorage>;

/// A broker with 64 KiB segments, connections 1 to 3 open.
fn harness() -> Harness {
    let config = BrokerConfig {
        segment_size_bytes: 64 * 1024,
        seed: 1,
        ..BrokerConfig::default()
    };
    let clock = Clock::new(Instant::from_nanos(1_000), UNIX_MS);
    let mut h = Driver::start(config, MemoryStorage::default(), clock).expect("starts");
    for c in 1..=3 {
        h.accept(ConnId(c));
    }
    h
}

/// Send one request on connection 1 and decode its single response.
fn call<Req: Message, Resp: Message>(h: &mut Harness, version: i16, body: &Req) -> Resp {
    h.call(ConnId(1), version, body).expect("one answer")
}

/// Responses by connection, connections closed, and the next deadline.
type Drained = (Vec<(u64, Vec<u8>)>, Vec<u64>, Option<Instant>);

fn drain(h: &mut Harness) -> Drained {
    let d = h.drain().expect("outputs end");
    let sent = d.sent.into_iter().map(|(c, frame)| (c.0, frame)).collect();
    let closed = d.closed.into_iter().map(|c| c.0).collect();
    (sent, closed, d.deadline)
}

fn decode_response<M: Message>(version: i16, corr: i32, frame: &[u8]) -> M {
    harness::response_to(version, corr, frame).expect("the answer decodes")
}

fn batch(values: &[&str]) -> Vec<u8> {
    harness::batch(UNIX_MS, values)
}

fn create(h: &mut Harness, name: &str, partitions: i32) {
    h.create(ConnId(1), name, partitions, &[]).expect("created");
}

fn fetch_req(topic: &str, offset: i64, max_wait_ms: i32, min_bytes: i32) -> FetchRequest {
    fetch_request(topic, 0, offset, max_wait_ms, min_bytes)
}

/// Partition 0 of `t` from `offset` as a Fetch v12 answered at once reports it.
fn fetch_now(h: &mut Harness, offset: i64) -> PartitionData {
    let mut resp: FetchResponse = call(h, 12, &fetch_req("t", offset, 0, 1));
    resp.responses.remove(0).partitions.remove(0)
}

fn fetched_records(resp: &FetchResponse) -> Vec<u8> {
    match &resp.responses[0].partitions[0].records {
        Some(Records::Bytes(b)) => b.clone(),
        other => panic!("records not bytes: {other:?}"),
    }
}

#[test]
fn api_versions_lists_the_supported_apis() {
    let mut h = harness();
    let resp: ApiVersionsResponse = call(
        &mut h,
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
    let mut h = harness();
    // ApiVersions v99: header v2 layout, body unknown.
    let mut frame = vec![0, 0, 0, 0, 0, 18, 0, 99, 0, 0, 0, 7, 0, 1, b'x', 0];
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    h.feed(ConnId(1), &frame);
    let (sent, closed, _) = drain(&mut h);
    assert!(closed.is_empty());
    let resp: ApiVersionsResponse = decode_response(0, 7, &sent[0].1);
    assert_eq!(resp.error_code, 35, "UNSUPPORTED_VERSION");
    assert_eq!(resp.api_keys.len(), 1);
    assert_eq!(
        (resp.api_keys[0].api_key, resp.api_keys[0].max_version),
        (18, 4)
    );
}

#[test]
fn produce_then_fetch_returns_the_same_batch_bytes() {
    let mut h = harness();
    create(&mut h, "t", 1);
    let b1 = batch(&["a", "b"]);
    let resp: ProduceResponse = call(&mut h, 9, &produce_request("t", 0, b1.clone()));
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    let resp: ProduceResponse = call(&mut h, 9, &produce_request("t", 0, batch(&["c"])));
    assert_eq!(resp.responses[0].partition_responses[0].base_offset, 2);

    let resp: FetchResponse = call(&mut h, 12, &fetch_req("t", 0, 0, 1));
    let part = &resp.responses[0].partitions[0];
    assert_eq!((part.error_code, part.high_watermark), (0, 3));
    let bytes = fetched_records(&resp);
    // The stored batch is the produced one with its base offset (0) and, as Kafka does, the
    // partition leader epoch (0) set; both lie outside the CRC.
    let mut expected = b1.clone();
    expected[12..16].copy_from_slice(&0i32.to_be_bytes());
    assert_eq!(&bytes[..b1.len()], &expected[..]);

    let resp: FetchResponse = call(&mut h, 12, &fetch_req("t", 2, 0, 1));
    let bytes = fetched_records(&resp);
    assert_eq!(
        i64::from_be_bytes(bytes[..8].try_into().expect("8")),
        2,
        "base offset assigned by the broker"
    );

    assert_eq!(fetch_now(&mut h, 4).error_code, 1, "OFFSET_OUT_OF_RANGE");
}

#[test]
fn long_poll_fetch_waits_for_data_and_keeps_responses_in_order() {
    let mut h = harness();
    create(&mut h, "t", 1);
    let (fetch_corr, fetch) = h.request(12, &fetch_req("t", 0, 5_000, 1));
    let (md_corr, md) = h.request(
        12,
        &MetadataRequest {
            topics: None,
            ..Default::default()
        },
    );
    // A fetch and a pipelined metadata request behind it on connection 2.
    let mut both = fetch.clone();
    both.extend_from_slice(&md);
    h.feed(ConnId(2), &both);
    let (sent, _, deadline) = drain(&mut h);
    assert!(
        sent.is_empty(),
        "the fetch parks and the metadata request waits behind it"
    );
    assert_eq!(deadline, Some(h.clock.now() + Duration::from_millis(5_000)));

    // A produce on connection 1 wakes it.
    let (_, produce) = h.request(9, &produce_request("t", 0, batch(&["x"])));
    h.feed(ConnId(1), &produce);
    let (sent, _, deadline) = drain(&mut h);
    let on2: Vec<_> = sent.iter().filter(|(c, _)| *c == 2).collect();
    assert_eq!(on2.len(), 2, "fetch answered, then metadata");
    let f: FetchResponse = decode_response(12, fetch_corr, &on2[0].1);
    assert!(!fetched_records(&f).is_empty());
    let _: MetadataResponse = decode_response(12, md_corr, &on2[1].1);
    assert_eq!(deadline, None, "nothing parked: no timer");
}

#[test]
fn long_poll_fetch_answers_empty_at_its_deadline() {
    let mut h = harness();
    create(&mut h, "t", 1);
    let (corr, fetch) = h.request(12, &fetch_req("t", 0, 100, 1));
    h.feed(ConnId(2), &fetch);
    let (sent, _, deadline) = drain(&mut h);
    assert!(sent.is_empty());
    let deadline = deadline.expect("a deadline");
    // A spurious early timeout changes nothing.
    h.timeout();
    assert!(drain(&mut h).0.is_empty());
    h.advance_to(deadline);
    let (sent, _, _) = drain(&mut h);
    let f: FetchResponse = decode_response(12, corr, &sent[0].1);
    assert!(fetched_records(&f).is_empty());
}

#[test]
fn metadata_auto_creates_and_reports_this_broker() {
    let mut h = harness();
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
    let resp: MetadataResponse = call(&mut h, 12, &req);
    assert_eq!(resp.brokers.len(), 1);
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].partitions.len(), 1);
    let v0: MetadataResponse = call(
        &mut h,
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
    let mut h = harness();
    create(&mut h, "t", 1);
    let mut b = batch(&["a"]);
    let last = b.len() - 1;
    b[last] ^= 0xff;
    let resp: ProduceResponse = call(&mut h, 9, &produce_request("t", 0, b));
    assert_eq!(
        resp.responses[0].partition_responses[0].error_code, 2,
        "CORRUPT_MESSAGE"
    );
    assert_eq!(fetch_now(&mut h, 0).high_watermark, 0);
}

#[test]
fn garbage_closes_only_that_connection() {
    let mut h = harness();
    h.feed(ConnId(2), &[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    let (_, closed, _) = drain(&mut h);
    assert_eq!(closed, vec![2]);
    let _: ApiVersionsResponse = call(&mut h, 0, &ApiVersionsRequest::default());
}

#[test]
fn fetch_sessions_are_not_created_and_unknown_ones_refused() {
    let mut h = harness();
    create(&mut h, "t", 1);
    let mut req = fetch_req("t", 0, 0, 0);
    req.session_epoch = 0;
    let resp: FetchResponse = call(&mut h, 12, &req);
    assert_eq!(
        (resp.error_code, resp.session_id),
        (0, 0),
        "full answer, no session made"
    );
    req.session_id = 42;
    req.session_epoch = 3;
    let resp: FetchResponse = call(&mut h, 12, &req);
    assert_eq!(resp.error_code, 70, "FETCH_SESSION_ID_NOT_FOUND");
    req.session_id = 0;
    let resp: FetchResponse = call(&mut h, 12, &req);
    assert_eq!(resp.error_code, 71, "INVALID_FETCH_SESSION_EPOCH");
}

#[test]
fn deleted_topics_are_gone_and_can_be_created_again() {
    use blazemq_core::codec::messages::delete_topics_request::DeleteTopicState;
    let mut h = harness();
    create(&mut h, "t", 2);
    let _: ProduceResponse = call(&mut h, 9, &produce_request("t", 1, batch(&["a"])));
    let resp: DeleteTopicsResponse = call(
        &mut h,
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
    assert_eq!(
        fetch_now(&mut h, 0).error_code,
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    let again: DeleteTopicsResponse = call(
        &mut h,
        3,
        &DeleteTopicsRequest {
            topic_names: vec!["t".into()],
            timeout_ms: 1000,
            ..Default::default()
        },
    );
    assert_eq!(again.responses[0].error_code, 3);
    create(&mut h, "t", 1);
    assert_eq!(fetch_now(&mut h, 0).high_watermark, 0, "a new, empty topic");
}

#[test]
fn describe_configs_reports_set_and_default_values() {
    use blazemq_core::codec::messages::describe_configs_request::DescribeConfigsResource;
    let mut h = harness();
    let req = harness::create_topics_request("c", 1, &[("retention.ms", "1234")]);
    let resp: CreateTopicsResponse = call(&mut h, 7, &req);
    assert_eq!(resp.topics[0].error_code, 0);
    let resp: DescribeConfigsResponse = call(
        &mut h,
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
    let described = |name: &str| {
        let c = resp.results[0]
            .configs
            .iter()
            .find(|c| c.name == name)
            .expect("listed");
        (c.value.as_deref(), c.config_source)
    };
    assert_eq!(described("retention.ms"), (Some("1234"), 1));
    assert_eq!(described("cleanup.policy"), (Some("delete"), 5));
    assert_eq!(resp.results[1].error_code, 3);
}
