//! Requests sent through the broker's dispatch, responses decoded: helpers for the broker's
//! unit tests.

use crate::broker::{Broker, BrokerConfig, ConnId, Reply};
use crate::codec::Records;
use crate::codec::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use crate::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use crate::codec::messages::{
    CreateTopicsRequest, CreateTopicsResponse, ProduceRequest, RequestHeader, ResponseHeader,
};
use crate::codec::{Message, Writer, request_header_version, response_header_version};
use crate::storage::{FoundPartition, FoundSegment, MemoryStorage, Recovery, Storage};
use alloc::vec::Vec;

pub(crate) fn broker() -> Broker<MemoryStorage> {
    let config = BrokerConfig {
        segment_size_bytes: 4096,
        ..BrokerConfig::default()
    };
    Broker::new(config, MemoryStorage::default(), 1).expect("starts")
}

/// Whether `req` at `version` closes the connection, or else its decoded answer.
pub(crate) fn try_call<S: Storage, Req: Message, Resp: Message>(
    b: &mut Broker<S>,
    version: i16,
    req: &Req,
) -> Option<Resp> {
    let header = RequestHeader {
        request_api_key: Req::API_KEY,
        request_api_version: version,
        correlation_id: 7,
        client_id: Some("t".into()),
    };
    let mut w = Writer::new();
    header
        .encode(&mut w, request_header_version(Req::API_KEY, version))
        .expect("header encodes");
    req.encode(&mut w, version).expect("body encodes");
    let frame = w.into_bytes();
    let response = match b.dispatch(ConnId(1), &frame) {
        Reply::Send(response) => response,
        Reply::Close => return None,
        other => panic!("not answered: {other:?}"),
    };
    let body = &response.bytes[4..];
    let (rest, header) =
        ResponseHeader::decode(body, response_header_version(Req::API_KEY, version))
            .expect("header decodes");
    assert_eq!(header.correlation_id, 7);
    Some(Resp::decode_complete(rest, version).expect("body decodes"))
}

pub(crate) fn call<S: Storage, Req: Message, Resp: Message>(
    b: &mut Broker<S>,
    version: i16,
    req: &Req,
) -> Resp {
    try_call(b, version, req).expect("answered")
}

/// Create `name` with `partitions` and the configs `configs`.
pub(crate) fn create<S: Storage>(
    b: &mut Broker<S>,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    let req = CreateTopicsRequest {
        topics: alloc::vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 1,
            configs: configs
                .iter()
                .map(|(n, v)| CreatableTopicConfig {
                    name: (*n).into(),
                    value: Some((*v).into()),
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: 1000,
        validate_only: false,
    };
    let resp: CreateTopicsResponse = call(b, 7, &req);
    assert_eq!(resp.topics[0].error_code, 0, "{:?}", resp.topics[0]);
}

/// A Produce request (acks 1) of `batch` to partition `partition` of `topic`.
pub(crate) fn produce_batch(topic: &str, partition: i32, batch: Vec<u8>) -> ProduceRequest {
    ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topic_data: alloc::vec![TopicProduceData {
            name: topic.into(),
            partition_data: alloc::vec![PartitionProduceData {
                index: partition,
                records: Some(Records::Bytes(batch)),
            }],
        }],
        ..Default::default()
    }
}

/// Every partition's segments as a restart after a crash finds them (each to be checked whole),
/// with the metadata file `metadata` gives for each.
pub(crate) fn found_after_crash<S: Storage>(
    b: &Broker<S>,
    metadata: impl Fn(&str, i32) -> Option<Vec<u8>>,
) -> Vec<FoundPartition<S::Segment>>
where
    S::Segment: Clone,
{
    let mut found = Vec::new();
    for (_, topic) in b.topics.iter() {
        for (p, &pi) in topic.partitions.iter().enumerate() {
            let log = &b
                .topics
                .partition(pi)
                .expect("a topic's partitions are live")
                .log;
            let partition = i32::try_from(p).expect("partition indexes fit in i32");
            found.push(FoundPartition {
                topic: topic.name.clone(),
                partition,
                segments: log
                    .segments()
                    .iter()
                    .map(|s| FoundSegment {
                        base_offset: s.base_offset(),
                        segment: s.buffer().clone(),
                        recovery: Recovery::Checked,
                    })
                    .collect(),
                metadata: metadata(&topic.name, partition),
            });
        }
    }
    found
}
