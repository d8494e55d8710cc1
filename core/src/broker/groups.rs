//! The consumer-group APIs: requests go to the [`GroupCoordinator`], its records go to the
//! internal offsets log (`__consumer_offsets`, one partition) before anything is answered, and
//! its parked joins and syncs come back as answers to the connections that sent them.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Broker, ConnId, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, HeartbeatRequest,
    JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, SyncGroupRequest,
};
use crate::group::{
    Completed, FetchTopic, GroupCoordinator, JoinAnswer, LeaveAnswer, Reply as GroupReply,
    SyncAnswer, Ticket, find_coordinator,
};
use crate::log::PartitionLog;
use crate::records::BatchBuilder;
use crate::storage::{Storage, StorageError};
use crate::time::Instant;

mod wire;

/// Kafka's name for the internal log of committed offsets and group metadata.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Where the answer to a join or sync parked in the coordinator goes.
#[derive(Debug)]
pub(crate) struct GroupWait {
    pub conn: ConnId,
    pub hdr: Hdr,
}

impl<S: Storage> Broker<S> {
    pub(super) fn find_coordinator(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = FindCoordinatorRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let (key_type, keys) = wire::find_coordinator_request(m, hdr.api_version);
        let answers = find_coordinator(key_type, keys);
        let response = wire::find_coordinator_response(
            answers,
            hdr.api_version,
            self.config.broker_id,
            &self.config.advertised_host,
            self.config.advertised_port,
        );
        self.respond(hdr, &response)
    }

    pub(super) fn join_group(
        &mut self,
        conn: ConnId,
        hdr: Hdr,
        client_id: String,
        body: &[u8],
    ) -> Reply {
        let Ok((_, m)) = JoinGroupRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let host = self
            .conns
            .get(&conn)
            .map(|c| c.host.clone())
            .unwrap_or_default();
        let request = wire::join_request(m, hdr.api_version, client_id, host);
        let reply = match self.groups.join(self.now, request) {
            GroupReply::Now(answer) => GroupReply::Now(Completed::Join(answer)),
            GroupReply::Pending(ticket) => GroupReply::Pending(ticket),
        };
        self.answer_parkable(conn, hdr, reply)
    }

    pub(super) fn sync_group(&mut self, conn: ConnId, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = SyncGroupRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let reply = match self.groups.sync(self.now, wire::sync_request(m)) {
            GroupReply::Now(answer) => GroupReply::Now(Completed::Sync(answer)),
            GroupReply::Pending(ticket) => GroupReply::Pending(ticket),
        };
        self.answer_parkable(conn, hdr, reply)
    }

    /// Drains the coordinator after a join or sync and answers it: now, with the write's
    /// error instead if the records it caused were not stored; or, if it still waits, parked.
    fn answer_parkable(&mut self, conn: ConnId, hdr: Hdr, reply: GroupReply<Completed>) -> Reply {
        let (ready, ticket) = match reply {
            GroupReply::Now(answer) => (Some(answer), None),
            GroupReply::Pending(ticket) => (None, Some(ticket)),
        };
        let drained = self.drain_groups(ticket);
        let answer = match (ready, drained.answer) {
            (Some(answer), _) => match drained.error {
                Some(error) => failed(answer, error),
                None => answer,
            },
            // Completed by its own records: the coordinator already answered a failure.
            (None, Some(answer)) => answer,
            (None, None) => {
                if let Some(ticket) = ticket {
                    self.group_waits.insert(ticket.0, GroupWait { conn, hdr });
                }
                return Reply::Parked;
            }
        };
        encode_completed(self, hdr, answer)
    }

    pub(super) fn heartbeat(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = HeartbeatRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let error = self.groups.heartbeat(self.now, &wire::heartbeat_request(m));
        // A heartbeat changes nothing that is logged: a failed write of older records is not
        // its answer.
        self.drain_groups(None);
        self.respond(hdr, &wire::heartbeat_response(error))
    }

    pub(super) fn leave_group(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = LeaveGroupRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let mut answer = self
            .groups
            .leave(self.now, wire::leave_request(m, hdr.api_version));
        if let Some(error) = self.drain_groups(None).error {
            // Kafka answers a failed write with the top-level error alone.
            answer = LeaveAnswer {
                error,
                members: Vec::new(),
            };
        }
        self.respond(hdr, &wire::leave_response(answer, hdr.api_version))
    }

    pub(super) fn offset_commit(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = OffsetCommitRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let mut request = wire::commit_request(m, hdr.api_version);
        let faulted = self.fault_commit(&mut request);
        let topics = &self.topics;
        let exists = |t: &str, p: i32| {
            topics
                .by_name(t)
                .and_then(|ti| topics.partition_of(ti, p))
                .is_some()
        };
        let mut answers = self.groups.commit(self.now, self.unix_ms, request, exists);
        if let Some(error) = self.drain_groups(None).error {
            // As Kafka answers a failed write: every partition of the request gets the error.
            let partitions = answers.iter_mut().flat_map(|t| t.partitions.iter_mut());
            partitions.for_each(|(_, e)| *e = error);
        }
        super::faults::add_commit_errors(&mut answers, faulted);
        self.respond(hdr, &wire::commit_response(answers))
    }

    pub(super) fn offset_fetch(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = OffsetFetchRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let (groups, require_stable) = wire::fetch_request(m, hdr.api_version);
        let mut answers: Vec<_> = groups.iter().map(|g| self.groups.fetch(g)).collect();
        self.fault_offset_fetch(&mut answers);
        if require_stable {
            // An offset an open transaction will commit is not stable yet (KIP-447).
            for answer in &mut answers {
                for topic in &mut answer.topics {
                    for p in &mut topic.partitions {
                        if self.offset_unstable(&answer.group_id, &topic.name, p.partition) {
                            p.error = ErrorCode::UnstableOffsetCommit;
                            p.offset = -1;
                        }
                    }
                }
            }
        }
        self.respond(hdr, &wire::fetch_response(answers, hdr.api_version))
    }

    pub(super) fn describe_groups(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = DescribeGroupsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let groups = self.groups.describe(m.groups);
        self.respond(hdr, &wire::describe_response(groups, hdr.api_version))
    }

    pub(super) fn list_groups(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = ListGroupsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let groups = self.groups.list(&m.states_filter, &m.types_filter);
        self.respond(hdr, &wire::list_response(groups, hdr.api_version))
    }

    pub(super) fn delete_groups(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = DeleteGroupsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let mut results = self.groups.delete(m.groups_names);
        if let Some(error) = self.drain_groups(None).error {
            // The deleted groups are back; as in Kafka, every group of the write gets its error.
            results.iter_mut().for_each(|(_, e)| *e = error);
        }
        self.respond(hdr, &wire::delete_response(results))
    }

    pub(super) fn offset_delete(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = OffsetDeleteRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let (known, unknown) = self.split_known_partitions(wire::offset_delete_topics(m.topics));
        // With no known partition left, the coordinator still checks that the group exists.
        let result = self.groups.delete_offsets(&m.group_id, known);
        let result = match (result, self.drain_groups(None).error) {
            // As Kafka answers a failed write: the error for the whole request.
            (Ok(_), Some(error)) => Err(error),
            (result, _) => result,
        };
        self.respond(hdr, &wire::offset_delete_response(result, unknown))
    }

    /// Splits the partitions of a request into those the broker has and the others, which
    /// Kafka answers `UNKNOWN_TOPIC_OR_PARTITION` before the coordinator sees them.
    fn split_known_partitions(
        &self,
        topics: Vec<FetchTopic>,
    ) -> (Vec<FetchTopic>, Vec<FetchTopic>) {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for t in topics {
            let ti = self.topics.by_name(&t.name);
            let (have, lack): (Vec<i32>, Vec<i32>) = t
                .partitions
                .iter()
                .partition(|&&p| ti.and_then(|ti| self.topics.partition_of(ti, p)).is_some());
            for (list, partitions) in [(&mut known, have), (&mut unknown, lack)] {
                if !partitions.is_empty() {
                    list.push(FetchTopic {
                        name: t.name.clone(),
                        partitions,
                    });
                }
            }
        }
        (known, unknown)
    }

    /// Time passed for the coordinator: expire sessions and rebalance timeouts, and write
    /// again records a failed write left behind. A failure here answers no one: the records
    /// stay for the next write.
    pub(super) fn group_timer(&mut self) {
        if self.group_deadline.is_some_and(|d| d <= self.now) {
            self.groups.on_timer(self.now);
            self.drain_groups(None);
        }
    }

    /// Store the coordinator's records, then answer the joins and syncs it completed. The
    /// answer for `current` (the request being handled, if it is a parked join or sync) comes
    /// back instead of going to a parked connection, with the error for the request if the
    /// records it caused were not stored. One request (or timer) per drain.
    pub(super) fn drain_groups(&mut self, current: Option<Ticket>) -> Drained {
        let error = self.store_group_records();
        let mut answer = None;
        while let Some((ticket, completed)) = self.groups.poll_completed() {
            if Some(ticket) == current {
                answer = Some(completed);
                continue;
            }
            let Some(wait) = self.group_waits.remove(&ticket.0) else {
                continue;
            };
            let reply = encode_completed(self, wait.hdr, completed);
            self.unpark(wait.conn, reply);
        }
        // Deadlines change only when the coordinator does: read them once here, not per turn.
        self.group_deadline = self.groups.next_deadline();
        Drained { error, answer }
    }

    /// Append the coordinator's records in one batch and tell it the outcome.
    fn store_group_records(&mut self) -> Option<ErrorCode> {
        if self.groups.records().len() == 0 {
            self.groups.records_stored();
            return None;
        }
        let mut batch = BatchBuilder::new(0);
        for r in self.groups.records() {
            let value = (!r.value.is_empty()).then_some(r.value.as_slice());
            batch.push(self.unix_ms, Some(&r.key), value, &[]);
        }
        match self.append_group_batch(&batch.finish()) {
            Ok(()) => {
                self.groups.records_stored();
                None
            }
            Err(e) => self.groups.records_failed(self.now, e),
        }
    }

    /// Append a batch to the offsets log, creating the log on first use.
    fn append_group_batch(&mut self, bytes: &[u8]) -> Result<(), ErrorCode> {
        self.append_internal(OFFSETS_TOPIC, bytes)
    }

    /// Append a batch to partition 0 of one of the broker's own logs (the offsets log, the
    /// transaction log), creating the log on first use.
    pub(super) fn append_internal(&mut self, topic: &str, bytes: &[u8]) -> Result<(), ErrorCode> {
        let ti = match self.topics.by_name(topic) {
            Some(ti) => ti,
            None => {
                // As Kafka creates its own: compacted, in smaller segments than other logs.
                let segment_bytes = if topic == OFFSETS_TOPIC {
                    self.config.offsets_topic_segment_bytes
                } else {
                    self.config.transaction_state_log_segment_bytes
                };
                let configs = alloc::vec![
                    (String::from("cleanup.policy"), String::from("compact")),
                    (
                        String::from("segment.bytes"),
                        alloc::format!("{segment_bytes}")
                    ),
                ];
                self.create_topic(topic, 1, configs)?
            }
        };
        let pi = self
            .topics
            .partition_of(ti, 0)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let at = self.append_at(ti);
        self.append_log(pi, topic, 0, bytes, at)
            .map(|_| ())
            .map_err(|e| e.error_code())
    }
}

/// What a drain gave the request that caused it.
pub(super) struct Drained {
    /// The records the request caused were not stored: its answer is this error.
    pub error: Option<ErrorCode>,
    /// The request's own answer, when it waited and the drain completed it.
    pub answer: Option<Completed>,
}

/// A join's or sync's answer replaced by the error of a write it depended on.
fn failed(answer: Completed, error: ErrorCode) -> Completed {
    match answer {
        // Kafka's failed static takeover names no member: the client joins again.
        Completed::Join(_) => Completed::Join(JoinAnswer::error(error, String::new())),
        Completed::Sync(_) => Completed::Sync(SyncAnswer::error(error)),
    }
}

fn encode_completed<S: Storage>(broker: &mut Broker<S>, hdr: Hdr, answer: Completed) -> Reply {
    match answer {
        Completed::Join(a) => broker.respond(hdr, &wire::join_response(a, hdr.api_version)),
        Completed::Sync(a) => broker.respond(hdr, &wire::sync_response(a, hdr.api_version)),
    }
}
/// Rebuild the coordinator's state from the offsets log, oldest record first. Records that do
/// not parse are skipped: they cannot have been acknowledged to anyone as something else.
pub(crate) fn replay<S: Storage>(
    groups: &mut GroupCoordinator,
    log: &mut PartitionLog<S::Segment>,
    storage: &mut S,
    now: Instant,
) -> Result<(), StorageError> {
    super::log_replay::each_record(log, storage, &mut |key, value| {
        // A record that does not parse was never acknowledged as anything: skipped.
        if groups.apply(now, key, value.unwrap_or(&[])).is_err() {}
    })
}

#[cfg(test)]
mod tests;
