//! OffsetDelete (KIP-496): committed offsets removed from a group, except for topics its
//! members still consume.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use super::coordinator::GroupCoordinator;
use super::records;
use super::staged::Staged;
use super::state::Group;
use super::types::{CommitTopicAnswer, FetchTopic};
use crate::error::ErrorCode;

/// The `ProtocolType` of groups of Kafka consumers, whose member metadata Kafka reads.
const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

impl GroupCoordinator {
    /// OffsetDelete for one group. An unknown group gets `GROUP_ID_NOT_FOUND` and a group of
    /// another protocol type that has members `NON_EMPTY_GROUP`, for the whole request, as in
    /// Kafka. Otherwise each partition of a topic the members subscribe to gets
    /// `GROUP_SUBSCRIBED_TO_TOPIC`, and every other partition no error: its offset, if there is
    /// one, goes once the tombstone is stored.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        topics: Vec<FetchTopic>,
    ) -> Result<Vec<CommitTopicAnswer>, ErrorCode> {
        let group = self
            .groups
            .get(group_id)
            .ok_or(ErrorCode::GroupIdNotFound)?;
        let consumer = group.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE);
        if !group.members.is_empty() && !consumer {
            return Err(ErrorCode::NonEmptyGroup);
        }
        let subscribed = subscribed_topics(group);
        let mut answers = Vec::with_capacity(topics.len());
        for topic in topics {
            let taken = match &subscribed {
                Some(names) => names.contains(&topic.name),
                // Metadata Kafka cannot read: it assumes a consumer group reads every topic.
                None => consumer,
            };
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for p in topic.partitions {
                if taken {
                    partitions.push((p, ErrorCode::GroupSubscribedToTopic));
                    continue;
                }
                self.stage_offset_delete(group_id, &topic.name, p);
                partitions.push((p, ErrorCode::None));
            }
            answers.push(CommitTopicAnswer {
                name: topic.name,
                partitions,
            });
        }
        Ok(answers)
    }

    /// Logs a tombstone for a committed offset, which goes once it is stored.
    pub(crate) fn stage_offset_delete(&mut self, group_id: &str, topic: &str, partition: i32) {
        let key = (String::from(topic), partition);
        let held = self
            .groups
            .get(group_id)
            .is_some_and(|g| g.offsets.contains_key(&key));
        if held {
            let record = records::offset_tombstone(group_id, topic, partition);
            let change = Staged::DeleteOffset {
                group_id: String::from(group_id),
                key,
            };
            self.out.stage(record, change);
        }
    }
}

/// The topics a group's members subscribe to, as Kafka's `computeSubscribedTopics` reads them
/// from the members' metadata for the group's protocol: none for an empty group, `None` when
/// a member's metadata cannot be read (or the group does not use the consumer protocol).
fn subscribed_topics(group: &Group) -> Option<BTreeSet<String>> {
    if group.members.is_empty() {
        return Some(BTreeSet::new());
    }
    if group.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
        return None;
    }
    let protocol = group.protocol_name.as_deref()?;
    let mut topics = BTreeSet::new();
    for member in group.members.values() {
        let names = subscription_topics(member.metadata_for(protocol)?)?;
        topics.extend(names.into_iter().map(String::from));
    }
    Some(topics)
}

/// The topics of a consumer protocol `Subscription`: every version starts with its version
/// (`int16`) and the topics (`int32` count, then `int16`-length strings), which is all this
/// reads.
fn subscription_topics(metadata: &[u8]) -> Option<Vec<&str>> {
    let rest = metadata.get(2..)?;
    let (count, mut rest) = rest.split_at_checked(4)?;
    let count = i32::from_be_bytes(count.try_into().ok()?);
    let count = usize::try_from(count).ok()?;
    // No capacity from the claimed count: it grows only as topics are actually read.
    let mut topics = Vec::new();
    for _ in 0..count {
        let (len, tail) = rest.split_at_checked(2)?;
        let len = usize::try_from(i16::from_be_bytes(len.try_into().ok()?)).ok()?;
        let (name, tail) = tail.split_at_checked(len)?;
        topics.push(core::str::from_utf8(name).ok()?);
        rest = tail;
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::group::state::Committed;
    use crate::group::{
        Assignment, CommitPartition, CommitRequest, CommitTopic, FetchGroup, GroupConfig,
        JoinAnswer, JoinRequest, Protocol, Reply, SyncRequest,
    };
    use crate::time::Instant;

    /// A consumer `Subscription` v0 for these topics, as a Java or Go client sends it.
    fn subscription(topics: &[&str]) -> Vec<u8> {
        let mut out = vec![0, 0];
        out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for t in topics {
            out.extend_from_slice(&(t.len() as i16).to_be_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        // user data: null
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out
    }

    fn now() -> Instant {
        Instant::from_nanos(1_000_000_000)
    }

    fn stored(c: &mut GroupCoordinator) -> usize {
        let n = c.records().len();
        c.records_stored();
        n
    }

    fn commit(c: &mut GroupCoordinator, group: &str, topic: &str, partition: i32, offset: i64) {
        let req = CommitRequest {
            group_id: group.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            topics: vec![CommitTopic {
                name: topic.into(),
                partitions: vec![CommitPartition {
                    partition,
                    offset,
                    leader_epoch: -1,
                    commit_timestamp_ms: -1,
                    metadata: None,
                }],
            }],
        };
        let answers = c.commit(now(), 0, req, |_, _| true);
        assert_eq!(answers[0].partitions, vec![(partition, ErrorCode::None)]);
        assert_eq!(stored(c), 1);
    }

    fn offsets(c: &GroupCoordinator, group: &str) -> Vec<(String, i32, i64)> {
        let all = c.fetch(&FetchGroup {
            group_id: group.into(),
            topics: None,
        });
        all.topics
            .into_iter()
            .flat_map(|t| {
                let name = t.name;
                t.partitions
                    .into_iter()
                    .map(move |p| (name.clone(), p.partition, p.offset))
            })
            .collect()
    }

    fn topic(name: &str, partitions: &[i32]) -> FetchTopic {
        FetchTopic {
            name: name.into(),
            partitions: partitions.to_vec(),
        }
    }

    /// One member in a Stable group of `protocol_type`, subscribed with `metadata`.
    fn stable_member(
        c: &mut GroupCoordinator,
        group: &str,
        protocol_type: &str,
        metadata: Vec<u8>,
    ) {
        let join = |member_id: &str| JoinRequest {
            api_version: 3,
            group_id: group.into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            member_id: member_id.into(),
            group_instance_id: None,
            protocol_type: protocol_type.into(),
            protocols: vec![Protocol {
                name: "range".into(),
                metadata: metadata.clone(),
            }],
            client_id: "c".into(),
            client_host: "h".into(),
        };
        let Reply::Now(JoinAnswer {
            member_id,
            generation_id,
            ..
        }) = c.join(now(), join(""))
        else {
            panic!("a lone member's join completes at once");
        };
        stored(c);
        let sync = SyncRequest {
            group_id: group.into(),
            generation_id,
            member_id: member_id.clone(),
            group_instance_id: None,
            protocol_type: None,
            protocol_name: None,
            assignments: vec![Assignment {
                member_id,
                assignment: Vec::new(),
            }],
        };
        let _ticket = c.sync(now(), sync);
        stored(c);
        while c.poll_completed().is_some() {}
        assert_eq!(c.describe(vec![group.into()])[0].state, "Stable");
    }

    #[test]
    fn an_empty_group_loses_the_offsets_named_once_the_tombstones_are_stored() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        commit(&mut c, "g", "t", 0, 5);
        commit(&mut c, "g", "t", 1, 6);
        commit(&mut c, "g", "u", 0, 7);
        let answer = c.delete_offsets("g", vec![topic("t", &[0, 2]), topic("u", &[0])]);
        let want = vec![
            CommitTopicAnswer {
                name: "t".into(),
                partitions: vec![(0, ErrorCode::None), (2, ErrorCode::None)],
            },
            CommitTopicAnswer {
                name: "u".into(),
                partitions: vec![(0, ErrorCode::None)],
            },
        ];
        assert_eq!(answer, Ok(want));
        // Partition 2 has no offset: it gets no error and no tombstone.
        let tombstones: Vec<_> = c.records().cloned().collect();
        assert_eq!(tombstones.len(), 2);
        assert!(tombstones.iter().all(|r| r.value.is_empty()));
        assert_eq!(
            offsets(&c, "g").len(),
            3,
            "nothing goes before it is stored"
        );
        c.records_stored();
        assert_eq!(offsets(&c, "g"), vec![("t".into(), 1, 6)]);

        // Replayed after the commit, the tombstone removes the offset again.
        let mut replayed = GroupCoordinator::new(GroupConfig::default());
        let committed = Committed {
            offset: 5,
            leader_epoch: -1,
            metadata: None,
            commit_timestamp_ms: 0,
        };
        let commit_record = records::offset_commit("g", "t", 0, &committed);
        for r in [&commit_record, &tombstones[0]] {
            assert_eq!(replayed.apply(now(), &r.key, &r.value), Ok(()));
        }
        assert!(offsets(&replayed, "g").is_empty());
    }

    #[test]
    fn a_failed_write_keeps_the_offsets() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        commit(&mut c, "g", "t", 0, 5);
        assert!(c.delete_offsets("g", vec![topic("t", &[0])]).is_ok());
        let error = c.records_failed(now(), ErrorCode::KafkaStorageError);
        assert_eq!(error, Some(ErrorCode::NotCoordinator));
        assert_eq!(offsets(&c, "g"), vec![("t".into(), 0, 5)]);
    }

    #[test]
    fn unknown_groups_and_non_consumer_groups_with_members_are_refused() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        assert_eq!(
            c.delete_offsets("nope", vec![topic("t", &[0])]),
            Err(ErrorCode::GroupIdNotFound)
        );
        stable_member(&mut c, "connect", "connect", Vec::new());
        assert_eq!(
            c.delete_offsets("connect", vec![topic("t", &[0])]),
            Err(ErrorCode::NonEmptyGroup)
        );
    }

    #[test]
    fn topics_the_members_subscribe_to_keep_their_offsets() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        commit(&mut c, "g", "read", 0, 1);
        commit(&mut c, "g", "old", 0, 2);
        stable_member(&mut c, "g", "consumer", subscription(&["read", "other"]));
        let answer = c.delete_offsets("g", vec![topic("read", &[0, 1]), topic("old", &[0])]);
        let want = vec![
            CommitTopicAnswer {
                name: "read".into(),
                partitions: vec![
                    (0, ErrorCode::GroupSubscribedToTopic),
                    (1, ErrorCode::GroupSubscribedToTopic),
                ],
            },
            CommitTopicAnswer {
                name: "old".into(),
                partitions: vec![(0, ErrorCode::None)],
            },
        ];
        assert_eq!(answer, Ok(want));
        assert_eq!(stored(&mut c), 1);
        assert_eq!(offsets(&c, "g"), vec![("read".into(), 0, 1)]);
    }

    #[test]
    fn unreadable_consumer_metadata_counts_as_subscribed_to_everything() {
        let mut c = GroupCoordinator::new(GroupConfig::default());
        stable_member(&mut c, "g", "consumer", vec![0, 0, 0, 0, 0, 9]);
        let answer = c.delete_offsets("g", vec![topic("t", &[0])]);
        assert_eq!(
            answer.map(|a| a[0].partitions.clone()),
            Ok(vec![(0, ErrorCode::GroupSubscribedToTopic)])
        );
    }

    #[test]
    fn subscriptions_parse_as_kafka_reads_them() {
        assert_eq!(
            subscription_topics(&subscription(&["a", "bc"])),
            Some(vec!["a", "bc"])
        );
        assert_eq!(subscription_topics(&subscription(&[])), Some(vec![]));
        assert_eq!(subscription_topics(&[0, 1]), None);
        assert_eq!(subscription_topics(&[0, 1, 0, 0, 0, 1, 0, 5, b'a']), None);
        assert_eq!(subscription_topics(&[0, 1, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
