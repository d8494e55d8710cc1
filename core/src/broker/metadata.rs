//! Metadata: this broker, the topics asked for (created on the fly when allowed), their partitions.

use alloc::string::String;
use alloc::vec::Vec;

use super::names::invalid_topic_reason;
use super::{Broker, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::codec::messages::{MetadataRequest, MetadataResponse};
use crate::codec::primitives::Uuid;
use crate::limits::PARTITIONS_CREATED_PER_TURN_MAX;
use crate::storage::Storage;

/// Kafka's AclOperation bits a topic allows when no authorizer is configured: READ, WRITE,
/// CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
const TOPIC_OPERATIONS_ALL: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub(super) const CLUSTER_OPERATIONS_ALL: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);
/// Kafka's "not requested" value for authorized operations.
const OPERATIONS_OMITTED: i32 = i32::MIN;

impl<S: Storage> Broker<S> {
    pub(super) fn metadata(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = MetadataRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        // Before v4 a Metadata request always allowed auto-creation.
        let may_create =
            self.config.auto_create_topics && (v < 4 || request.allow_auto_topic_creation);

        let mut topics = match &request.topics {
            // v0 asks for every topic with an empty list; v1+ with null.
            None => self.all_topics(v, request.include_topic_authorized_operations),
            Some(list) if v == 0 && list.is_empty() => {
                self.all_topics(v, request.include_topic_authorized_operations)
            }
            Some(list) => list
                .iter()
                .map(|t| {
                    let mut topic = match (&t.name, v >= 10 && t.topic_id != Uuid::default()) {
                        (_, true) => self.topic_by_id(v, t.topic_id),
                        (Some(name), false) => self.topic_by_name(v, name, may_create),
                        (None, false) => unknown(None, Uuid::default(), ErrorCode::InvalidRequest),
                    };
                    if request.include_topic_authorized_operations
                        && v >= 8
                        && topic.error_code == 0
                    {
                        topic.topic_authorized_operations = TOPIC_OPERATIONS_ALL;
                    }
                    if v < 12 && topic.name.is_none() {
                        // Only v12+ can say "no name" (a topic id nobody knows).
                        topic.name = Some(String::new());
                    }
                    topic
                })
                .collect(),
        };
        self.fault_metadata(&mut topics);
        let response = MetadataResponse {
            brokers: alloc::vec![MetadataResponseBroker {
                node_id: self.config.broker_id,
                host: self.config.advertised_host.clone(),
                port: self.config.advertised_port,
                rack: None,
            }],
            cluster_id: (v >= 2).then(|| self.config.cluster_id.clone()),
            controller_id: if v >= 1 { self.config.broker_id } else { -1 },
            topics,
            cluster_authorized_operations: if request.include_cluster_authorized_operations
                && (8..=10).contains(&v)
            {
                CLUSTER_OPERATIONS_ALL
            } else {
                OPERATIONS_OMITTED
            },
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    fn all_topics(&self, v: i16, with_operations: bool) -> Vec<MetadataResponseTopic> {
        self.topics
            .iter()
            .map(|(idx, _)| {
                let mut t = self.describe(v, idx);
                if with_operations && v >= 8 {
                    t.topic_authorized_operations = TOPIC_OPERATIONS_ALL;
                }
                t
            })
            .collect()
    }

    fn topic_by_id(&self, v: i16, id: Uuid) -> MetadataResponseTopic {
        match self.topics.by_id(&id) {
            Some(idx) => self.describe(v, idx),
            None => unknown(None, id, ErrorCode::UnknownTopicId),
        }
    }

    fn topic_by_name(&mut self, v: i16, name: &str, may_create: bool) -> MetadataResponseTopic {
        if let Some(idx) = self.topics.by_name(name) {
            return self.describe(v, idx);
        }
        if invalid_topic_reason(name).is_some() {
            return unknown(
                Some(name),
                Uuid::default(),
                ErrorCode::InvalidTopicException,
            );
        }
        if !may_create {
            return unknown(
                Some(name),
                Uuid::default(),
                ErrorCode::UnknownTopicOrPartition,
            );
        }
        let partitions = self.config.num_partitions;
        // Past the turn's budget (see create_topics.rs) the topic is created in a later turn,
        // and the client retries on Kafka's answer for a topic being created.
        let budget = self.creation_budget;
        let cost = u32::try_from(partitions).unwrap_or(u32::MAX).max(1);
        if budget == 0 || (cost > budget && budget < PARTITIONS_CREATED_PER_TURN_MAX) {
            self.create_later(name);
            return unknown(Some(name), Uuid::default(), ErrorCode::LeaderNotAvailable);
        }
        self.creation_budget = budget.saturating_sub(cost);
        match self.create_topic(name, partitions, alloc::vec::Vec::new()) {
            Ok(idx) => self.describe(v, idx),
            Err(code) => unknown(Some(name), Uuid::default(), code),
        }
    }

    /// A known topic as Metadata describes it: this broker leads every partition.
    pub(super) fn describe(&self, v: i16, idx: u32) -> MetadataResponseTopic {
        let topic = self.topics.topic(idx);
        let me = self.config.broker_id;
        let partitions = (0..topic.partitions.len() as i32)
            .map(|p| MetadataResponsePartition {
                error_code: 0,
                partition_index: p,
                leader_id: me,
                leader_epoch: if v >= 7 { 0 } else { -1 },
                replica_nodes: alloc::vec![me],
                isr_nodes: alloc::vec![me],
                offline_replicas: Vec::new(),
            })
            .collect();
        MetadataResponseTopic {
            error_code: 0,
            name: Some(topic.name.clone()),
            topic_id: if v >= 10 { topic.id } else { Uuid::default() },
            is_internal: super::names::is_internal(&topic.name),
            partitions,
            topic_authorized_operations: OPERATIONS_OMITTED,
        }
    }
}

fn unknown(name: Option<&str>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name: name.map(String::from),
        topic_id: id,
        topic_authorized_operations: OPERATIONS_OMITTED,
        ..Default::default()
    }
}
