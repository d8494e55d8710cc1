//! CreatePartitions: grow a topic to more partitions, as Kafka's controller does.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Broker, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use crate::codec::messages::create_partitions_response::CreatePartitionsTopicResult;
use crate::codec::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use crate::storage::Storage;

/// A refused topic: the code and Kafka's message for it (none for an unknown topic).
type Refusal = (ErrorCode, Option<String>);

impl<S: Storage> Broker<S> {
    pub(super) fn create_partitions(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = CreatePartitionsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &request.topics {
            *seen.entry(t.name.as_str()).or_default() += 1;
        }
        let mut results = Vec::with_capacity(request.topics.len());
        for t in &request.topics {
            let result = match seen.get_mut(t.name.as_str()) {
                // Kafka answers a name given twice once, and changes nothing for it.
                Some(0) => continue,
                Some(n) if *n > 1 => {
                    *n = 0;
                    Err((
                        ErrorCode::InvalidRequest,
                        Some(String::from("Duplicate topic name.")),
                    ))
                }
                _ => self.grow(t, request.validate_only),
            };
            let (code, message) = result.err().unwrap_or((ErrorCode::None, None));
            results.push(CreatePartitionsTopicResult {
                name: t.name.clone(),
                error_code: code.code(),
                error_message: message,
            });
        }
        self.respond(
            hdr,
            &CreatePartitionsResponse {
                throttle_time_ms: 0,
                results,
            },
        )
    }

    /// Check one topic's growth and, unless `validate_only`, make the new partitions.
    fn grow(&mut self, t: &CreatePartitionsTopic, validate_only: bool) -> Result<(), Refusal> {
        let refuse = |code, message: String| Err((code, Some(message)));
        let Some(ti) = self.topics.by_name(&t.name) else {
            return Err((ErrorCode::UnknownTopicOrPartition, None));
        };
        let current = self.topics.topic(ti).partitions.len() as i32;
        if t.count == current {
            return refuse(
                ErrorCode::InvalidPartitions,
                format!("Topic already has {current} partition(s)."),
            );
        }
        if t.count < current {
            return refuse(
                ErrorCode::InvalidPartitions,
                format!(
                    "The topic {} currently has {current} partition(s); {} would not be an increase.",
                    t.name, t.count
                ),
            );
        }
        let max = self.config.limits.partitions_per_topic_max as i32;
        if t.count > max {
            return refuse(
                ErrorCode::InvalidPartitions,
                format!("Number of partitions must be at most {max}."),
            );
        }
        if let Some(assignments) = &t.assignments {
            let additional = t.count - current;
            if assignments.len() != additional as usize {
                return refuse(
                    ErrorCode::InvalidReplicaAssignment,
                    format!(
                        "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
                        assignments.len()
                    ),
                );
            }
            for a in assignments {
                self.check_assignment(a)
                    .or_else(|m| refuse(ErrorCode::InvalidReplicaAssignment, m))?;
            }
        }
        if validate_only {
            return Ok(());
        }
        self.make_room_for_new_segment();
        self.topics
            .add_partitions(&mut self.storage, ti, t.count)
            .or_else(|_| {
                refuse(
                    ErrorCode::KafkaStorageError,
                    format!("Could not create partitions of topic '{}'", t.name),
                )
            })
    }

    /// Kafka's checks on a manual assignment, in its order (it walks the ids sorted): the one
    /// broker, once, as the only replica (the topic's replication factor is 1).
    fn check_assignment(&self, a: &CreatePartitionsAssignment) -> Result<(), String> {
        let me = self.config.broker_id;
        let ids = &a.broker_ids;
        if ids.is_empty() {
            return Err(String::from(
                "The manual partition assignment includes an empty replica list.",
            ));
        }
        let twice = ids.iter().filter(|&&id| id == me).count() > 1;
        match ids.iter().filter(|&&id| id != me).min() {
            Some(&other) if !(twice && me < other) => Err(format!(
                "The manual partition assignment includes broker {other}, but no such broker is registered."
            )),
            _ if twice => Err(format!(
                "The manual partition assignment includes the broker {me} more than once."
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::harness::{broker, call, create, produce_request};
    use crate::codec::messages::metadata_request::MetadataRequestTopic;
    use crate::codec::messages::{MetadataRequest, MetadataResponse};
    use crate::codec::messages::{ProduceResponse, create_partitions_request::*};
    use crate::records::BatchBuilder;
    use alloc::vec;

    fn grow(name: &str, count: i32, assignments: Option<Vec<Vec<i32>>>) -> CreatePartitionsTopic {
        CreatePartitionsTopic {
            name: name.into(),
            count,
            assignments: assignments.map(|a| {
                a.into_iter()
                    .map(|broker_ids| CreatePartitionsAssignment { broker_ids })
                    .collect()
            }),
        }
    }

    fn request(topics: Vec<CreatePartitionsTopic>, validate_only: bool) -> CreatePartitionsRequest {
        CreatePartitionsRequest {
            topics,
            timeout_ms: 1000,
            validate_only,
        }
    }

    fn partitions(
        b: &mut crate::broker::harness::Driver<crate::storage::MemoryStorage>,
        name: &str,
    ) -> usize {
        let req = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(name.into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let resp: MetadataResponse = call(b, 12, &req);
        resp.topics[0].partitions.len()
    }

    fn results(resp: &CreatePartitionsResponse) -> Vec<(&str, i16, Option<&str>)> {
        resp.results
            .iter()
            .map(|r| (r.name.as_str(), r.error_code, r.error_message.as_deref()))
            .collect()
    }

    #[test]
    fn grows_a_topic_and_the_new_partitions_take_records() {
        for v in 0..=3 {
            let mut b = broker();
            create(&mut b, "t", 1, &[]);
            let resp: CreatePartitionsResponse =
                call(&mut b, v, &request(vec![grow("t", 3, None)], false));
            assert_eq!(results(&resp), vec![("t", 0, None)], "v{v}");
            assert_eq!(partitions(&mut b, "t"), 3);
            assert!(b.storage.metadata.contains_key(&(String::from("t"), 2)));
        }
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let _: CreatePartitionsResponse = call(
            &mut b,
            3,
            &request(vec![grow("t", 2, Some(vec![vec![0]]))], false),
        );
        let mut batch = BatchBuilder::new(0);
        batch.push(1, None, Some(b"x"), &[]);
        let produce = produce_request("t", 1, batch.finish());
        let resp: ProduceResponse = call(&mut b, 9, &produce);
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
    }

    #[test]
    fn refuses_what_kafka_refuses() {
        let mut b = broker();
        create(&mut b, "t", 2, &[]);
        let resp: CreatePartitionsResponse = call(
            &mut b,
            3,
            &request(
                vec![
                    grow("t", 2, None),
                    grow("t2", 3, None),
                    grow("t", 1, None),
                    grow("t2", 4, None),
                    grow("none", 4, None),
                ],
                false,
            ),
        );
        assert_eq!(
            results(&resp),
            vec![
                ("t", 42, Some("Duplicate topic name.")),
                ("t2", 42, Some("Duplicate topic name.")),
                ("none", 3, None),
            ]
        );
        let cases = [
            (grow("t", 2, None), 37, "Topic already has 2 partition(s)."),
            (
                grow("t", 1, None),
                37,
                "The topic t currently has 2 partition(s); 1 would not be an increase.",
            ),
            (
                grow("t", 4, Some(vec![vec![0]])),
                39,
                "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.",
            ),
            (
                grow("t", 3, Some(vec![vec![]])),
                39,
                "The manual partition assignment includes an empty replica list.",
            ),
            (
                grow("t", 3, Some(vec![vec![0, 5]])),
                39,
                "The manual partition assignment includes broker 5, but no such broker is registered.",
            ),
            (
                grow("t", 3, Some(vec![vec![0, 0]])),
                39,
                "The manual partition assignment includes the broker 0 more than once.",
            ),
            (
                grow("t", 3, Some(vec![vec![3, 0, 0]])),
                39,
                "The manual partition assignment includes the broker 0 more than once.",
            ),
            (
                grow("t", 100_001, None),
                37,
                "Number of partitions must be at most 100000.",
            ),
        ];
        for (topic, code, message) in cases {
            let resp: CreatePartitionsResponse = call(&mut b, 3, &request(vec![topic], false));
            assert_eq!(results(&resp), vec![("t", code, Some(message))]);
        }
        assert_eq!(partitions(&mut b, "t"), 2, "nothing changed");
    }

    #[test]
    fn validate_only_changes_nothing() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let resp: CreatePartitionsResponse =
            call(&mut b, 1, &request(vec![grow("t", 5, None)], true));
        assert_eq!(results(&resp), vec![("t", 0, None)]);
        assert_eq!(partitions(&mut b, "t"), 1);
        assert!(!b.storage.metadata.contains_key(&(String::from("t"), 1)));
    }
}
