//! CreateTopics, and the topic creation that Metadata's auto-creation shares.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::names::invalid_topic_reason;
use super::topic_config;
use super::{Broker, Hdr, Reply, encode_response, segment_size};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::create_topics_request::CreatableTopic;
use crate::codec::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use crate::codec::messages::{CreateTopicsRequest, CreateTopicsResponse};
use crate::codec::primitives::Uuid;
use crate::storage::Storage;

/// Kafka's DescribeConfigs `ConfigSource`: set on the topic, or the broker's default.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DEFAULT: i8 = 5;

/// A refused topic: the code and Kafka's message for it.
type Refusal = (ErrorCode, String);

impl<S: Storage> Broker<S> {
    /// Create a topic now. The name must already be valid.
    pub(super) fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        configs: Vec<(String, String)>,
    ) -> Result<u32, ErrorCode> {
        if self.topics.len() >= self.config.limits.topics_max as usize {
            return Err(ErrorCode::PolicyViolation);
        }
        let id = self.new_topic_id();
        let size = segment_size(&self.config);
        self.topics
            .create(&mut self.storage, name, id, partitions, configs, size)
            .map_err(|_| ErrorCode::KafkaStorageError)
    }

    pub(super) fn create_topics(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = CreateTopicsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &request.topics {
            *seen.entry(t.name.as_str()).or_default() += 1;
        }
        let mut results = Vec::with_capacity(request.topics.len());
        for t in &request.topics {
            let result = if seen.get(t.name.as_str()).copied().unwrap_or(0) > 1 {
                Err((
                    ErrorCode::InvalidRequest,
                    format!(
                        "Create topics request from client contains multiple entries for the following topics: {}",
                        t.name
                    ),
                ))
            } else {
                self.create_one(t, request.validate_only)
            };
            results.push(self.topic_result(v, t, result));
        }
        let response = CreateTopicsResponse {
            topics: results,
            ..Default::default()
        };
        encode_response(hdr, &response)
    }

    /// Check one topic of a CreateTopics request and, unless `validate_only`, create it.
    fn create_one(
        &mut self,
        t: &CreatableTopic,
        validate_only: bool,
    ) -> Result<(Uuid, i32), Refusal> {
        if let Some(reason) = invalid_topic_reason(&t.name) {
            return Err((ErrorCode::InvalidTopicException, reason));
        }
        if self.topics.by_name(&t.name).is_some() {
            return Err((
                ErrorCode::TopicAlreadyExists,
                format!("Topic '{}' already exists.", t.name),
            ));
        }
        if let Some(other) = self.topics.collision(&t.name) {
            return Err((
                ErrorCode::InvalidTopicException,
                format!("Topic '{}' collides with existing topic: {other}", t.name),
            ));
        }
        let partitions = self.check_layout(t)?;
        let mut configs = Vec::new();
        for c in &t.configs {
            topic_config::validate(&c.name, c.value.as_deref())
                .map_err(|m| (ErrorCode::InvalidConfig, m))?;
            if let Some(value) = &c.value {
                configs.push((c.name.clone(), value.clone()));
            }
        }
        if validate_only {
            return Ok((Uuid::default(), partitions));
        }
        let idx = self
            .create_topic(&t.name, partitions, configs)
            .map_err(|code| (code, format!("Could not create topic '{}'", t.name)))?;
        Ok((self.topics.topic(idx).id, partitions))
    }

    /// The partition count a request asks for, after Kafka's checks on counts and assignments.
    fn check_layout(&self, t: &CreatableTopic) -> Result<i32, Refusal> {
        let max = self.config.limits.partitions_per_topic_max as i32;
        if !t.assignments.is_empty() {
            if t.num_partitions != -1 || t.replication_factor != -1 {
                return Err((
                    ErrorCode::InvalidRequest,
                    String::from(
                        "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                    ),
                ));
            }
            for (i, a) in t.assignments.iter().enumerate() {
                if a.partition_index != i as i32 {
                    return Err((
                        ErrorCode::InvalidReplicaAssignment,
                        String::from("Partitions should be a consecutive 0-based integer sequence"),
                    ));
                }
                if a.broker_ids.as_slice() != [self.config.broker_id] {
                    return Err((
                        ErrorCode::InvalidReplicaAssignment,
                        format!(
                            "Replica assignment for partition {i} must name broker {} exactly once",
                            self.config.broker_id
                        ),
                    ));
                }
            }
            let n = t.assignments.len() as i32;
            return if n > max {
                Err((
                    ErrorCode::InvalidPartitions,
                    format!("Number of partitions must be at most {max}."),
                ))
            } else {
                Ok(n)
            };
        }
        let partitions = if t.num_partitions == -1 {
            self.config.num_partitions
        } else {
            t.num_partitions
        };
        if partitions <= 0 {
            return Err((
                ErrorCode::InvalidPartitions,
                String::from("Number of partitions must be larger than 0."),
            ));
        }
        if partitions > max {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("Number of partitions must be at most {max}."),
            ));
        }
        match t.replication_factor {
            -1 | 1 => Ok(partitions),
            rf if rf <= 0 => Err((
                ErrorCode::InvalidReplicationFactor,
                String::from(
                    "Replication factor must be larger than 0, or -1 to use the default value.",
                ),
            )),
            rf => Err((
                ErrorCode::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only 1 broker(s) are registered."
                ),
            )),
        }
    }

    fn topic_result(
        &self,
        v: i16,
        t: &CreatableTopic,
        result: Result<(Uuid, i32), Refusal>,
    ) -> CreatableTopicResult {
        match result {
            Err((code, message)) => CreatableTopicResult {
                name: t.name.clone(),
                error_code: code.code(),
                error_message: (v >= 1).then_some(message),
                ..Default::default()
            },
            Ok((id, partitions)) => {
                let set: Vec<(String, String)> = t
                    .configs
                    .iter()
                    .filter_map(|c| c.value.clone().map(|v| (c.name.clone(), v)))
                    .collect();
                let configs = topic_config::effective(
                    &set,
                    self.config.retention_ms,
                    self.config.segment_size_bytes,
                )
                .into_iter()
                .map(|(name, value, is_set)| CreatableTopicConfigs {
                    name,
                    value: Some(value),
                    read_only: false,
                    config_source: if is_set { SOURCE_TOPIC } else { SOURCE_DEFAULT },
                    is_sensitive: false,
                })
                .collect();
                CreatableTopicResult {
                    name: t.name.clone(),
                    topic_id: if v >= 7 { id } else { Uuid::default() },
                    error_code: 0,
                    error_message: None,
                    num_partitions: if v >= 5 { partitions } else { -1 },
                    replication_factor: if v >= 5 { 1 } else { -1 },
                    configs: (v >= 5).then_some(configs),
                    ..Default::default()
                }
            }
        }
    }
}
