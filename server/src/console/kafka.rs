//! The Kafka requests the console asks, each at one version, and how their failures become HTTP
//! answers.

use std::collections::BTreeMap;

use blazemq_core::ErrorCode;
use blazemq_core::codec::messages::describe_configs_request::DescribeConfigsResource;
use blazemq_core::codec::messages::describe_configs_response::DescribeConfigsResourceResult;
use blazemq_core::codec::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use blazemq_core::codec::messages::metadata_request::MetadataRequestTopic;
use blazemq_core::codec::messages::metadata_response::MetadataResponseTopic;
use blazemq_core::codec::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, DescribeLogDirsRequest,
    DescribeLogDirsResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest,
    MetadataResponse,
};

use crate::http::Response;
use crate::http::ask::{Ask, AskError};
use crate::json::Json;

/// ListOffsets' timestamp for the log start offset.
pub(super) const EARLIEST: i64 = -2;
/// ListOffsets' timestamp for the end offset (the high watermark).
pub(super) const LATEST: i64 = -1;

/// DescribeConfigs' resource types (Kafka's `ConfigResource.Type`).
pub(super) const TOPIC_RESOURCE: i8 = 2;
pub(super) const BROKER_RESOURCE: i8 = 4;

/// A value per (topic, partition).
pub(super) type PerPartition = BTreeMap<(String, i32), i64>;

/// The answer, or 502 when the broker gave none.
pub(super) fn asked<R>(answer: Result<R, AskError>) -> Result<R, Response> {
    answer.map_err(|e| Response::error(502, &format!("the broker gave no answer: {e:?}")))
}

/// The HTTP answer to Kafka error `code` about `what`.
pub(super) fn error(code: i16, what: &str) -> Response {
    let error = ErrorCode::from_code(code);
    let status = match error {
        ErrorCode::UnknownTopicOrPartition | ErrorCode::GroupIdNotFound => 404,
        ErrorCode::InvalidTopicException
        | ErrorCode::InvalidRequest
        | ErrorCode::InvalidRecord
        | ErrorCode::MessageTooLarge
        | ErrorCode::RecordListTooLarge
        | ErrorCode::InvalidPartitions => 400,
        ErrorCode::NonEmptyGroup
        | ErrorCode::RebalanceInProgress
        | ErrorCode::UnknownMemberId
        | ErrorCode::IllegalGeneration => 409,
        _ => 502,
    };
    Response::error(status, &format!("{what}: {}", error.name()))
}

/// Metadata of `topics`, or of every topic; never creates one.
pub(super) fn metadata(
    ask: &mut impl Ask,
    topics: Option<&[&str]>,
) -> Result<MetadataResponse, Response> {
    let request = MetadataRequest {
        topics: topics.map(|names| {
            names
                .iter()
                .map(|&name| MetadataRequestTopic {
                    name: Some(name.into()),
                    ..Default::default()
                })
                .collect()
        }),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    asked(ask.ask(12, &request))
}

/// The metadata of topic `name`: 404 if it does not exist.
pub(super) fn topic(ask: &mut impl Ask, name: &str) -> Result<MetadataResponseTopic, Response> {
    let metadata = metadata(ask, Some(&[name]))?;
    let topic = metadata
        .topics
        .into_iter()
        .next()
        .ok_or_else(|| Response::error(502, "the broker answered no topic"))?;
    if topic.error_code != 0 {
        return Err(error(topic.error_code, &format!("topic {name}")));
    }
    Ok(topic)
}

/// The offset ListOffsets finds at `timestamp` ([`EARLIEST`], [`LATEST`] or a time) for each of
/// `partitions`; a partition in error is left out, one without a record at or after a time
/// gets -1.
pub(super) fn list_offsets(
    ask: &mut impl Ask,
    partitions: &[(String, Vec<i32>)],
    timestamp: i64,
) -> Result<PerPartition, Response> {
    let request = ListOffsetsRequest {
        replica_id: -1,
        isolation_level: 0,
        topics: partitions
            .iter()
            .map(|(name, indexes)| ListOffsetsTopic {
                name: name.clone(),
                partitions: indexes
                    .iter()
                    .map(|&partition_index| ListOffsetsPartition {
                        partition_index,
                        timestamp,
                        ..Default::default()
                    })
                    .collect(),
            })
            .collect(),
        ..Default::default()
    };
    let response: ListOffsetsResponse = asked(ask.ask(7, &request))?;
    let mut offsets = PerPartition::new();
    for topic in response.topics {
        for partition in topic.partitions {
            if partition.error_code == 0 {
                offsets.insert(
                    (topic.name.clone(), partition.partition_index),
                    partition.offset,
                );
            }
        }
    }
    Ok(offsets)
}

/// Every partition's size in bytes, from DescribeLogDirs.
pub(super) fn sizes(ask: &mut impl Ask) -> Result<PerPartition, Response> {
    let response: DescribeLogDirsResponse =
        asked(ask.ask(4, &DescribeLogDirsRequest { topics: None }))?;
    if response.error_code != 0 {
        return Err(error(response.error_code, "DescribeLogDirs"));
    }
    let mut sizes = PerPartition::new();
    for dir in response.results.into_iter().filter(|d| d.error_code == 0) {
        for topic in dir.topics {
            for partition in topic.partitions {
                *sizes
                    .entry((topic.name.clone(), partition.partition_index))
                    .or_default() += partition.partition_size;
            }
        }
    }
    Ok(sizes)
}

/// The configs of one resource (a topic or a broker).
pub(super) fn configs(
    ask: &mut impl Ask,
    resource_type: i8,
    name: &str,
) -> Result<Vec<DescribeConfigsResourceResult>, Response> {
    let request = DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type,
            resource_name: name.into(),
            configuration_keys: None,
        }],
        include_synonyms: false,
        include_documentation: false,
    };
    let response: DescribeConfigsResponse = asked(ask.ask(4, &request))?;
    let result = response
        .results
        .into_iter()
        .next()
        .ok_or_else(|| Response::error(502, "the broker answered no resource"))?;
    if result.error_code != 0 {
        return Err(error(result.error_code, &format!("configs of {name}")));
    }
    Ok(result.configs)
}

/// `configs` as a JSON array, sorted by name; a sensitive value is `null`.
pub(super) fn write_configs(j: &mut Json, configs: &mut [DescribeConfigsResourceResult]) {
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    j.begin_array();
    for config in configs.iter() {
        j.begin_object();
        j.key("name").string(&config.name);
        let value = config.value.as_deref().filter(|_| !config.is_sensitive);
        j.key("value").opt_string(value);
        j.key("source").string(config_source(config.config_source));
        j.key("read_only").bool(config.read_only);
        j.key("sensitive").bool(config.is_sensitive);
        j.end_object();
    }
    j.end_array();
}

/// Kafka's name for a config source (`DescribeConfigsResponse.ConfigSource`).
fn config_source(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

/// Each topic of `metadata` (that is not in error) with its partition indexes.
pub(super) fn partitions_of(metadata: &[MetadataResponseTopic]) -> Vec<(String, Vec<i32>)> {
    metadata
        .iter()
        .filter(|t| t.error_code == 0)
        .filter_map(|t| {
            let name = t.name.clone()?;
            Some((
                name,
                t.partitions.iter().map(|p| p.partition_index).collect(),
            ))
        })
        .collect()
}
