//! OffsetDelete (KIP-496): drop a group's committed offsets for partitions it no longer
//! consumes, as `kafka-consumer-groups --delete-offsets` asks.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use super::coordinator::GroupCoordinator;
use super::durability::Staged;
use super::records;
use super::state::{Group, State};
use crate::error::ErrorCode;

/// The protocol type of the Java client's consumers (and every client that follows it).
const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// One topic of an OffsetDelete answer: each partition with its error.
pub type OffsetDeleteTopic = (String, Vec<(i32, ErrorCode)>);

impl GroupCoordinator {
    /// OffsetDelete. A group that does not exist gets `GROUP_ID_NOT_FOUND`, one with members
    /// that are not consumers `NON_EMPTY_GROUP` (both for the whole request, as in Kafka).
    /// Partitions of topics a member subscribes to get `GROUP_SUBSCRIBED_TO_TOPIC`, unknown ones
    /// `UNKNOWN_TOPIC_OR_PARTITION`; the others' offsets are deleted (no error even where none
    /// was committed). The offsets are gone at once and come back if the tombstones are not
    /// stored.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        topics: Vec<(String, Vec<i32>)>,
        partition_exists: impl Fn(&str, i32) -> bool,
    ) -> Result<Vec<OffsetDeleteTopic>, ErrorCode> {
        let group = self
            .groups
            .get(group_id)
            .ok_or(ErrorCode::GroupIdNotFound)?;
        let consumer = group.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE);
        if group.state != State::Empty && !consumer {
            return Err(ErrorCode::NonEmptyGroup);
        }
        let subscribed = subscribed_topics(group);
        let before = group.clone();
        let mut tombstones = Vec::new();
        let mut answers = Vec::with_capacity(topics.len());
        for (topic, partitions) in topics {
            let in_use = subscribed
                .as_ref()
                .is_none_or(|s| s.contains(topic.as_str()));
            let mut results = Vec::with_capacity(partitions.len());
            for partition in partitions {
                let error = if !partition_exists(&topic, partition) {
                    ErrorCode::UnknownTopicOrPartition
                } else if in_use && group.state != State::Empty {
                    ErrorCode::GroupSubscribedToTopic
                } else {
                    if group.offsets.contains_key(&(topic.clone(), partition)) {
                        tombstones.push((topic.clone(), partition));
                    }
                    ErrorCode::None
                };
                results.push((partition, error));
            }
            answers.push((topic, results));
        }
        self.stage_offset_tombstones(group_id, before, tombstones);
        Ok(answers)
    }

    fn stage_offset_tombstones(&mut self, group_id: &str, before: Group, keys: Vec<(String, i32)>) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        let mut removed = 0;
        for key in &keys {
            if group.offsets.remove(key).is_some() {
                removed += 1;
            }
        }
        self.offsets_held = self.offsets_held.saturating_sub(removed);
        let mut keys = keys.into_iter();
        let Some((topic, partition)) = keys.next() else {
            return;
        };
        // One change puts the whole group back if the write fails; the other tombstones go
        // in the same write.
        let change = Staged::Restore {
            group_id: String::from(group_id),
            before,
        };
        self.out.stage(
            records::offset_tombstone(group_id, &topic, partition),
            change,
        );
        for (topic, partition) in keys {
            self.out
                .stage_record(records::offset_tombstone(group_id, &topic, partition));
        }
    }
}

/// The topics the members subscribe to, read from their subscriptions (the consumer
/// protocol's metadata for the group's protocol); `None` when the group is not made of
/// consumers or a subscription cannot be read, so every topic counts as in use.
fn subscribed_topics(group: &Group) -> Option<BTreeSet<&str>> {
    if group.state == State::Empty {
        return Some(BTreeSet::new());
    }
    let protocol = group.protocol_name.as_deref()?;
    let mut topics = BTreeSet::new();
    for member in group.members.values() {
        topics.extend(subscription_topics(member.metadata_for(protocol)?)?);
    }
    Some(topics)
}

/// The topics of a `ConsumerProtocolSubscription` (every version starts with a version and
/// the topics, an `i32` count of `i16`-length strings; later fields are not needed here).
fn subscription_topics(metadata: &[u8]) -> Option<Vec<&str>> {
    let count = i32::from_be_bytes(metadata.get(2..6)?.try_into().ok()?);
    let mut rest = metadata.get(6..)?;
    let mut topics = Vec::new();
    // Bounded by the metadata: each topic consumes at least two bytes or ends the loop.
    for _ in 0..count.max(0) {
        let len = i16::from_be_bytes(rest.get(..2)?.try_into().ok()?);
        let len = usize::try_from(len).ok()?;
        topics.push(core::str::from_utf8(rest.get(2..2 + len)?).ok()?);
        rest = rest.get(2 + len..)?;
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    use super::subscription_topics;

    fn subscription(topics: &[&str]) -> alloc::vec::Vec<u8> {
        let mut m = alloc::vec![0, 3];
        m.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for t in topics {
            m.extend_from_slice(&(t.len() as i16).to_be_bytes());
            m.extend_from_slice(t.as_bytes());
        }
        // User data (null) and owned partitions follow in v1+; they are not read.
        m.extend_from_slice(&(-1i32).to_be_bytes());
        m
    }

    #[test]
    fn subscriptions_name_their_topics() {
        assert_eq!(
            subscription_topics(&subscription(&["a", "bb"])),
            Some(alloc::vec!["a", "bb"])
        );
        assert_eq!(subscription_topics(&subscription(&[])), Some(alloc::vec![]));
        assert_eq!(
            subscription_topics(&[0, 0, 0, 0, 0, 1, 0, 5, b'a']),
            None,
            "truncated"
        );
        assert_eq!(subscription_topics(b""), None);
    }
}
