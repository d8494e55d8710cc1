//! Where partitions live, on one broker: ElectLeaders, AlterPartitionReassignments and
//! ListPartitionReassignments, answered as a one-broker Kafka answers them. This broker leads
//! every partition and is its only replica, so no election is ever needed and no reassignment is
//! ever in progress; a reassignment to this broker alone completes at once, one naming any other
//! broker is refused.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Broker, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ElectLeadersRequest,
    ElectLeadersResponse, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
    alter_partition_reassignments_response as apr, elect_leaders_response as elr,
};
use crate::storage::Storage;

impl<S: Storage> Broker<S> {
    /// Whether the broker holds partition `index` of `topic`.
    pub(super) fn has_partition(&self, topic: &str, index: i32) -> bool {
        self.topics
            .by_name(topic)
            .and_then(|ti| self.topics.partition_of(ti, index))
            .is_some()
    }

    /// ElectLeaders: every partition already has its preferred (and only) replica as leader.
    /// Named partitions answer ELECTION_NOT_NEEDED (UNKNOWN_TOPIC_OR_PARTITION if unknown); all
    /// partitions (no list) answer nothing, as Kafka leaves out those that needed no election.
    pub(super) fn elect_leaders(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, r)) = ElectLeadersRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let replica_election_results = r
            .topic_partitions
            .iter()
            .flatten()
            .map(|t| elr::ReplicaElectionResult {
                topic: t.topic.clone(),
                partition_result: t
                    .partitions
                    .iter()
                    .map(|&p| {
                        let (code, message) = if self.has_partition(&t.topic, p) {
                            (
                                ErrorCode::ElectionNotNeeded,
                                "Leader election not needed for topic partition.",
                            )
                        } else {
                            (
                                ErrorCode::UnknownTopicOrPartition,
                                "This server does not host this topic-partition.",
                            )
                        };
                        elr::PartitionResult {
                            partition_id: p,
                            error_code: code.code(),
                            error_message: Some(String::from(message)),
                        }
                    })
                    .collect(),
            })
            .collect();
        let response = ElectLeadersResponse {
            replica_election_results,
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    /// ListPartitionReassignments: none is ever in progress.
    pub(super) fn list_partition_reassignments(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        if ListPartitionReassignmentsRequest::decode(body, hdr.api_version).is_err() {
            return Reply::Close;
        }
        self.respond(hdr, &ListPartitionReassignmentsResponse::default())
    }

    /// AlterPartitionReassignments: this broker alone is the assignment every partition has
    /// (done at once); any other is refused as Kafka refuses brokers it does not know; a
    /// cancellation finds nothing in progress.
    pub(super) fn alter_partition_reassignments(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, r)) = AlterPartitionReassignmentsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let responses = r
            .topics
            .iter()
            .map(|t| apr::ReassignableTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let result = if self.has_partition(&t.name, p.partition_index) {
                            self.reassignment(p.replicas.as_deref())
                        } else {
                            Err((ErrorCode::UnknownTopicOrPartition, None))
                        };
                        let (code, message) = result.err().unwrap_or((ErrorCode::None, None));
                        apr::ReassignablePartitionResponse {
                            partition_index: p.partition_index,
                            error_code: code.code(),
                            error_message: message,
                        }
                    })
                    .collect(),
            })
            .collect();
        let response = AlterPartitionReassignmentsResponse {
            responses,
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    /// Kafka's checks of one partition's new replicas (`None`: cancel a reassignment).
    fn reassignment(&self, replicas: Option<&[i32]>) -> Result<(), (ErrorCode, Option<String>)> {
        let invalid = |m: String| Err((ErrorCode::InvalidReplicaAssignment, Some(m)));
        let Some(replicas) = replicas else {
            return Err((ErrorCode::NoReassignmentInProgress, None));
        };
        if replicas.is_empty() {
            return invalid(String::from(
                "The manual partition assignment includes an empty replica list.",
            ));
        }
        let mut seen: Vec<i32> = Vec::with_capacity(replicas.len());
        for &id in replicas {
            if seen.contains(&id) {
                return invalid(format!(
                    "The manual partition assignment includes the broker {id} more than once."
                ));
            }
            if id != self.config.broker_id {
                return invalid(format!(
                    "The manual partition assignment includes broker {id}, but no such broker is registered."
                ));
            }
            seen.push(id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::harness::{broker, call, create};
    use crate::codec::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    use crate::codec::messages::elect_leaders_request::TopicPartitions;
    use alloc::vec;

    #[test]
    fn no_election_is_needed_and_unknown_partitions_are_named() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let named = ElectLeadersRequest {
            election_type: 0,
            topic_partitions: Some(vec![TopicPartitions {
                topic: "t".into(),
                partitions: vec![0, 3],
            }]),
            timeout_ms: 1000,
        };
        let r: ElectLeadersResponse = call(&mut b, 2, &named);
        let codes: Vec<_> = r.replica_election_results[0]
            .partition_result
            .iter()
            .map(|p| (p.partition_id, p.error_code))
            .collect();
        assert_eq!(codes, vec![(0, 84), (3, 3)]);
        let all = ElectLeadersRequest {
            topic_partitions: None,
            ..named
        };
        let r: ElectLeadersResponse = call(&mut b, 2, &all);
        assert_eq!((r.error_code, r.replica_election_results.len()), (0, 0));
    }

    #[test]
    fn reassignments_to_this_broker_complete_and_others_are_refused() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let partition = |i, replicas: Option<Vec<i32>>| ReassignablePartition {
            partition_index: i,
            replicas,
        };
        let req = AlterPartitionReassignmentsRequest {
            timeout_ms: 1000,
            topics: vec![ReassignableTopic {
                name: "t".into(),
                partitions: vec![
                    partition(0, Some(vec![0])),
                    partition(0, Some(vec![7])),
                    partition(0, Some(vec![0, 0])),
                    partition(0, Some(vec![])),
                    partition(0, None),
                    partition(5, Some(vec![0])),
                ],
            }],
        };
        let r: AlterPartitionReassignmentsResponse = call(&mut b, 0, &req);
        let codes: Vec<_> = r.responses[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        assert_eq!(codes, vec![0, 39, 39, 39, 85, 3]);
        assert_eq!(
            r.responses[0].partitions[1].error_message.as_deref(),
            Some(
                "The manual partition assignment includes broker 7, but no such broker is registered."
            )
        );
        let list: ListPartitionReassignmentsResponse =
            call(&mut b, 0, &ListPartitionReassignmentsRequest::default());
        assert_eq!((list.error_code, list.topics.len()), (0, 0));
    }
}
