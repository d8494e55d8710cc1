//! The codec: frame splitting, and encode and decode of Produce, Fetch, Metadata and ApiVersions
//! requests and responses at their oldest and newest versions.
// The workspace lint steers no_std-capable code to `core`; this code is std by nature.
#![allow(clippy::std_instead_of_core)]

use std::hint::black_box;

use blazemq_core::codec::messages::api_versions_response::ApiVersion;
use blazemq_core::codec::messages::fetch_request::{FetchPartition, FetchTopic};
use blazemq_core::codec::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use blazemq_core::codec::messages::metadata_request::MetadataRequestTopic;
use blazemq_core::codec::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use blazemq_core::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use blazemq_core::codec::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use blazemq_core::codec::messages::*;
use blazemq_core::codec::{Message, Records, Uuid, Writer, split};
use blazemq_core::records::BatchBuilder;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Topics in the Metadata response, with partitions each.
const METADATA_TOPICS: i32 = 20;
const METADATA_PARTITIONS: i32 = 8;

fn records(count: usize, value_size: usize) -> Records {
    let value = vec![b'v'; value_size];
    let mut b = BatchBuilder::new(0);
    for _ in 0..count {
        b.push(1_700_000_000_000, None, Some(&value), &[]);
    }
    Records::Bytes(b.finish())
}

fn topic_id(i: i32) -> Uuid {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&(i + 1).to_be_bytes());
    Uuid(id)
}

fn produce_request(_version: i16) -> ProduceRequest {
    ProduceRequest {
        acks: 1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "bench".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records(100, 100)),
            }],
        }],
        ..Default::default()
    }
}

fn produce_response(_version: i16) -> ProduceResponse {
    ProduceResponse {
        responses: vec![TopicProduceResponse {
            name: "bench".into(),
            partition_responses: vec![PartitionProduceResponse {
                index: 0,
                base_offset: 1_234_567,
                ..Default::default()
            }],
        }],
        ..Default::default()
    }
}

fn fetch_request(version: i16) -> FetchRequest {
    let topics = (0..4)
        .map(|t| FetchTopic {
            // v13+ names topics by id only.
            topic: if version < 13 {
                format!("bench-{t}")
            } else {
                String::new()
            },
            topic_id: if version >= 13 {
                topic_id(t)
            } else {
                Uuid::default()
            },
            partitions: (0..4)
                .map(|p| FetchPartition {
                    partition: p,
                    fetch_offset: 1_000,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    FetchRequest {
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: if version >= 3 { 50 << 20 } else { i32::MAX },
        topics,
        ..Default::default()
    }
}

fn fetch_response(version: i16) -> FetchResponse {
    FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: if version < 13 {
                "bench".into()
            } else {
                String::new()
            },
            topic_id: if version >= 13 {
                topic_id(0)
            } else {
                Uuid::default()
            },
            partitions: vec![PartitionData {
                partition_index: 0,
                high_watermark: 100_000,
                records: Some(records(100, 100)),
                ..Default::default()
            }],
        }],
        ..Default::default()
    }
}

fn metadata_request(_version: i16) -> MetadataRequest {
    MetadataRequest {
        topics: Some(
            (0..METADATA_TOPICS)
                .map(|t| MetadataRequestTopic {
                    name: Some(format!("bench-{t}")),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

fn metadata_response(version: i16) -> MetadataResponse {
    let topics = (0..METADATA_TOPICS)
        .map(|t| MetadataResponseTopic {
            name: Some(format!("bench-{t}")),
            topic_id: if version >= 10 {
                topic_id(t)
            } else {
                Uuid::default()
            },
            partitions: (0..METADATA_PARTITIONS)
                .map(|p| MetadataResponsePartition {
                    partition_index: p,
                    leader_id: 1,
                    replica_nodes: vec![1],
                    isr_nodes: vec![1],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "localhost".into(),
            port: 9092,
            ..Default::default()
        }],
        cluster_id: (version >= 2).then(|| "blazemq-cluster".into()),
        topics,
        ..Default::default()
    }
}

fn api_versions_request(version: i16) -> ApiVersionsRequest {
    if version >= 3 {
        ApiVersionsRequest {
            client_software_name: "blazemq-bench".into(),
            client_software_version: "0.1.0".into(),
        }
    } else {
        ApiVersionsRequest::default()
    }
}

fn api_versions_response(_version: i16) -> ApiVersionsResponse {
    ApiVersionsResponse {
        api_keys: [
            (0, 11),
            (1, 17),
            (2, 10),
            (3, 12),
            (18, 4),
            (19, 7),
            (22, 5),
        ]
        .into_iter()
        .map(|(api_key, max_version)| ApiVersion {
            api_key,
            min_version: 0,
            max_version,
        })
        .collect(),
        ..Default::default()
    }
}

fn encoded<M: Message>(msg: &M, version: i16) -> Vec<u8> {
    let mut w = Writer::new();
    msg.encode(&mut w, version)
        .expect("the bench messages hold only fields their versions carry");
    w.into_bytes()
}

/// Encode and decode of `M` at its oldest and newest versions.
fn message<M: Message>(c: &mut Criterion, name: &str, make: fn(i16) -> M) {
    let mut group = c.benchmark_group(name);
    for version in [M::LOWEST_VERSION, M::HIGHEST_VERSION] {
        let msg = make(version);
        let bytes = encoded(&msg, version);
        assert!(
            M::decode_complete(&bytes, version).is_ok(),
            "{name} v{version} decodes what it encodes"
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("encode/v{version}"), |b| {
            b.iter(|| {
                let mut w = Writer::new();
                black_box(&msg)
                    .encode(&mut w, version)
                    .expect("encoded once already");
                w.wire_len()
            })
        });
        group.bench_function(format!("decode/v{version}"), |b| {
            b.iter(|| M::decode_complete(black_box(&bytes), version).expect("decoded once already"))
        });
    }
    group.finish();
}

fn frames(c: &mut Criterion) {
    // 1,000 ApiVersions-sized frames back to back, as a busy connection's buffer holds them.
    let frame = {
        let mut f = vec![0, 0, 0, 40];
        f.extend([7u8; 40]);
        f
    };
    let buf: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 1_000)
        .collect();
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("split/1000", |b| {
        b.iter(|| {
            let mut rest = black_box(&buf[..]);
            let mut n = 0;
            while let Ok(Some(len)) = split(rest, 100 << 20) {
                rest = &rest[len..];
                n += 1;
            }
            n
        })
    });
    group.finish();
}

fn messages(c: &mut Criterion) {
    message(c, "produce_request", produce_request);
    message(c, "produce_response", produce_response);
    message(c, "fetch_request", fetch_request);
    message(c, "fetch_response", fetch_response);
    message(c, "metadata_request", metadata_request);
    message(c, "metadata_response", metadata_response);
    message(c, "api_versions_request", api_versions_request);
    message(c, "api_versions_response", api_versions_response);
}

criterion_group!(benches, frames, messages);
criterion_main!(benches);
