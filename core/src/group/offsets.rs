//! OffsetCommit and OffsetFetch: committed offsets per group, with Kafka's member checks.

use alloc::string::String;
use alloc::vec::Vec;

use super::coordinator::GroupCoordinator;
use super::records;
use super::staged::Staged;
use super::state::{Committed, Group, State};
use super::types::{
    CommitPartition, CommitRequest, CommitTopicAnswer, FetchAnswer, FetchGroup, FetchTopic,
    FetchedPartition, FetchedTopic,
};
use crate::error::ErrorCode;
use crate::time::Instant;

impl GroupCoordinator {
    /// OffsetCommit. `unix_ms` stamps the commits; `partition_exists` tells which partitions
    /// the broker has (others get `UNKNOWN_TOPIC_OR_PARTITION`, as in Kafka). The answers hold
    /// once the records are stored; the offsets (and a simple consumer's new group) are taken
    /// only then, and a failed write leaves them as they were.
    pub fn commit(
        &mut self,
        now: Instant,
        unix_ms: i64,
        req: CommitRequest,
        partition_exists: impl Fn(&str, i32) -> bool,
    ) -> Vec<CommitTopicAnswer> {
        let group_error = self.commit_check(now, &req);
        let mut new_keys = 0;
        let mut answers = Vec::with_capacity(req.topics.len());
        for topic in req.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for p in topic.partitions {
                let partition = p.partition;
                let result = group_error.and_then(|()| {
                    if partition_exists(&topic.name, partition) {
                        self.commit_one(&req.group_id, &topic.name, p, unix_ms, &mut new_keys)
                    } else {
                        Err(ErrorCode::UnknownTopicOrPartition)
                    }
                });
                partitions.push((partition, result.err().unwrap_or(ErrorCode::None)));
            }
            answers.push(CommitTopicAnswer {
                name: topic.name,
                partitions,
            });
        }
        answers
    }

    /// Checks one partition's commit and stages it: the offset is taken once its record is
    /// stored. `new_keys` counts the partitions staged so far that the group has no offset for.
    fn commit_one(
        &mut self,
        group_id: &str,
        topic: &str,
        p: CommitPartition,
        unix_ms: i64,
        new_keys: &mut usize,
    ) -> Result<(), ErrorCode> {
        let limits = &self.config.limits;
        if p.metadata
            .as_ref()
            .is_some_and(|m| m.len() > limits.offset_metadata_bytes_max as usize)
        {
            return Err(ErrorCode::OffsetMetadataTooLarge);
        }
        let key = (String::from(topic), p.partition);
        let known = self
            .groups
            .get(group_id)
            .is_some_and(|g| g.offsets.contains_key(&key));
        if !known {
            // A partition named twice in one request counts twice: the bound holds either way.
            if self.offsets_held + *new_keys >= limits.offsets_max as usize {
                return Err(ErrorCode::InvalidCommitOffsetSize);
            }
            *new_keys += 1;
        }
        let committed = Committed {
            offset: p.offset,
            leader_epoch: p.leader_epoch,
            metadata: p.metadata,
            // v1 may carry the client's timestamp; otherwise the broker's clock.
            commit_timestamp_ms: if p.commit_timestamp_ms >= 0 {
                p.commit_timestamp_ms
            } else {
                unix_ms
            },
        };
        let record = records::offset_commit(group_id, topic, p.partition, &committed);
        let change = Staged::Offset {
            group_id: String::from(group_id),
            key,
            committed,
        };
        self.out.stage(record, change);
        Ok(())
    }

    /// Kafka's `handleCommitOffsets` checks for the whole request.
    fn commit_check(&mut self, now: Instant, req: &CommitRequest) -> Result<(), ErrorCode> {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            // Only a group that Kafka does not manage (a simple consumer) may commit into a
            // group that does not exist yet; anything else is from an older generation.
            if req.generation_id >= 0 {
                return Err(ErrorCode::IllegalGeneration);
            }
            if self.groups.len() >= self.config.limits.groups_max as usize {
                return Err(ErrorCode::CoordinatorNotAvailable);
            }
            // The group is created with its first stored offset.
            return Ok(());
        };
        if group.is_fenced(&req.member_id, req.group_instance_id.as_deref()) {
            return Err(ErrorCode::FencedInstanceId);
        }
        if req.generation_id < 0 && group.state == State::Empty {
            return Ok(());
        }
        let generation = group.generation;
        let Some(member) = group.members.get_mut(&req.member_id) else {
            return Err(ErrorCode::UnknownMemberId);
        };
        if req.generation_id != generation {
            return Err(ErrorCode::IllegalGeneration);
        }
        match group.state {
            // A member of the current generation may commit while a rebalance is prepared: the
            // heartbeat tells it to rejoin.
            State::Stable | State::PreparingRebalance { .. } => {
                member.session_deadline = now + member.session_timeout;
                Ok(())
            }
            State::CompletingRebalance { .. } => Err(ErrorCode::RebalanceInProgress),
            State::Empty => Err(ErrorCode::UnknownMemberId),
        }
    }

    /// TxnOffsetCommit's member checks, OffsetCommit's (a generation of -1 skips them).
    pub fn check_transactional_commit(
        &mut self,
        now: Instant,
        req: &CommitRequest,
    ) -> Result<(), ErrorCode> {
        self.commit_check(now, req)
    }

    /// The offsets of a transaction that commits (its TxnOffsetCommit requests passed the member
    /// checks then): staged as OffsetCommit stages them, taken once stored. Returns how many were
    /// refused (an offsets bound reached).
    pub fn commit_transactional(
        &mut self,
        unix_ms: i64,
        group_id: &str,
        offsets: Vec<(String, CommitPartition)>,
    ) -> usize {
        let (mut new_keys, mut refused) = (0, 0);
        for (topic, p) in offsets {
            if self
                .commit_one(group_id, &topic, p, unix_ms, &mut new_keys)
                .is_err()
            {
                refused += 1;
            }
        }
        refused
    }

    /// OffsetFetch for one group. `topics: None` returns every committed offset of the group.
    /// Without transactions no offset is ever pending, so `require_stable` (v7+) changes nothing.
    pub fn fetch(&self, req: &FetchGroup) -> FetchAnswer {
        let group = self.groups.get(&req.group_id);
        let topics = match (&req.topics, group) {
            (Some(topics), _) => topics.iter().map(|t| fetch_topic(group, t)).collect(),
            (None, Some(group)) => all_offsets(group),
            (None, None) => Vec::new(),
        };
        FetchAnswer {
            group_id: req.group_id.clone(),
            error: ErrorCode::None,
            topics,
        }
    }
}

fn fetched(partition: i32, c: Option<&Committed>) -> FetchedPartition {
    match c {
        Some(c) => FetchedPartition {
            partition,
            offset: c.offset,
            leader_epoch: c.leader_epoch,
            metadata: c.metadata.clone(),
            error: ErrorCode::None,
        },
        // Nothing committed: offset -1, empty metadata and no error, as Kafka answers.
        None => FetchedPartition {
            partition,
            offset: -1,
            leader_epoch: -1,
            metadata: Some(String::new()),
            error: ErrorCode::None,
        },
    }
}

fn fetch_topic(group: Option<&Group>, t: &FetchTopic) -> FetchedTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|&p| {
            let c = group.and_then(|g| g.offsets.get(&(t.name.clone(), p)));
            fetched(p, c)
        })
        .collect();
    FetchedTopic {
        name: t.name.clone(),
        partitions,
    }
}

fn all_offsets(group: &Group) -> Vec<FetchedTopic> {
    let mut topics: Vec<FetchedTopic> = Vec::new();
    for ((topic, partition), c) in &group.offsets {
        let p = fetched(*partition, Some(c));
        match topics.last_mut() {
            Some(last) if last.name == *topic => last.partitions.push(p),
            _ => topics.push(FetchedTopic {
                name: topic.clone(),
                partitions: alloc::vec![p],
            }),
        }
    }
    topics
}
