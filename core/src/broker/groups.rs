//! The consumer-group APIs: requests go to the [`GroupCoordinator`], its records go to the
//! internal offsets log (`__consumer_offsets`, one partition) before anything is answered, and
//! its parked joins and syncs come back as answers to the connections that sent them.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Broker, ConnId, Hdr, Reply, encode_response, segment_size};
use crate::codec::Message;
use crate::codec::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, HeartbeatRequest,
    JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetFetchRequest, SyncGroupRequest,
};
use crate::group::{
    Completed, GroupCoordinator, GroupRecord, Reply as GroupReply, find_coordinator, wire,
};
use crate::log::PartitionLog;
use crate::records::{BatchBuilder, RecordBatch, Records as RecordIter};
use crate::storage::{SegmentBuffer, Storage};
use crate::time::Instant;

/// Kafka's name for the internal log of committed offsets and group metadata.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Where the answer to a join or sync parked in the coordinator goes.
#[derive(Debug)]
pub(crate) struct GroupWait {
    pub conn: ConnId,
    pub hdr: Hdr,
}

/// Bytes read from the offsets log per step of the startup replay.
const REPLAY_READ_BYTES: usize = 1 << 20;

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
        encode_response(hdr, &response)
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
            GroupReply::Now(answer) => {
                encode_response(hdr, &wire::join_response(answer, hdr.api_version))
            }
            GroupReply::Pending(ticket) => {
                self.group_waits.insert(ticket.0, GroupWait { conn, hdr });
                Reply::Parked
            }
        };
        self.drain_groups();
        reply
    }

    pub(super) fn sync_group(&mut self, conn: ConnId, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = SyncGroupRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let reply = match self.groups.sync(self.now, wire::sync_request(m)) {
            GroupReply::Now(answer) => {
                encode_response(hdr, &wire::sync_response(answer, hdr.api_version))
            }
            GroupReply::Pending(ticket) => {
                self.group_waits.insert(ticket.0, GroupWait { conn, hdr });
                Reply::Parked
            }
        };
        self.drain_groups();
        reply
    }

    pub(super) fn heartbeat(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = HeartbeatRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let error = self.groups.heartbeat(self.now, &wire::heartbeat_request(m));
        self.drain_groups();
        encode_response(hdr, &wire::heartbeat_response(error))
    }

    pub(super) fn leave_group(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = LeaveGroupRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let answer = self
            .groups
            .leave(self.now, wire::leave_request(m, hdr.api_version));
        self.drain_groups();
        encode_response(hdr, &wire::leave_response(answer, hdr.api_version))
    }

    pub(super) fn offset_commit(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = OffsetCommitRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let request = wire::commit_request(m, hdr.api_version);
        let topics = &self.topics;
        let exists = |t: &str, p: i32| {
            topics
                .by_name(t)
                .and_then(|ti| topics.partition_of(ti, p))
                .is_some()
        };
        let answers = self.groups.commit(self.now, self.unix_ms, request, exists);
        self.drain_groups();
        encode_response(hdr, &wire::commit_response(answers))
    }

    pub(super) fn offset_fetch(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = OffsetFetchRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let (groups, _require_stable) = wire::fetch_request(m, hdr.api_version);
        let answers = groups.iter().map(|g| self.groups.fetch(g)).collect();
        encode_response(hdr, &wire::fetch_response(answers, hdr.api_version))
    }

    pub(super) fn describe_groups(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = DescribeGroupsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let groups = self.groups.describe(m.groups);
        encode_response(hdr, &wire::describe_response(groups, hdr.api_version))
    }

    pub(super) fn list_groups(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = ListGroupsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let groups = self.groups.list(&m.states_filter, &m.types_filter);
        encode_response(hdr, &wire::list_response(groups, hdr.api_version))
    }

    pub(super) fn delete_groups(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, m)) = DeleteGroupsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let results = self.groups.delete(m.groups_names);
        self.drain_groups();
        encode_response(hdr, &wire::delete_response(results))
    }

    /// Time passed for the coordinator: expire sessions and rebalance timeouts.
    pub(super) fn group_timer(&mut self) {
        if self.group_deadline.is_some_and(|d| d <= self.now) {
            self.groups.on_timer(self.now);
            self.drain_groups();
        }
    }

    /// Persist the coordinator's records, then answer the joins and syncs it completed.
    pub(super) fn drain_groups(&mut self) {
        let mut records = Vec::new();
        while let Some(record) = self.groups.poll_record() {
            records.push(record);
        }
        if !records.is_empty() {
            // A failed append cannot be answered per request here; the state stays in memory and
            // the next records try again. The storage error surfaces on Produce to the same disk.
            let _ = self.append_group_records(&records);
        }
        while let Some((ticket, completed)) = self.groups.poll_completed() {
            let Some(wait) = self.group_waits.remove(&ticket.0) else {
                continue;
            };
            let reply = match completed {
                Completed::Join(answer) => {
                    encode_response(wait.hdr, &wire::join_response(answer, wait.hdr.api_version))
                }
                Completed::Sync(answer) => {
                    encode_response(wait.hdr, &wire::sync_response(answer, wait.hdr.api_version))
                }
            };
            self.unpark(wait.conn, reply);
        }
        // Deadlines change only when the coordinator does: read them once here, not per turn.
        self.group_deadline = self.groups.next_deadline();
    }

    /// Append records to the offsets log in one batch, creating the log on first use.
    fn append_group_records(&mut self, records: &[GroupRecord]) -> Result<(), crate::ErrorCode> {
        let ti = match self.topics.by_name(OFFSETS_TOPIC) {
            Some(ti) => ti,
            None => self.create_topic(OFFSETS_TOPIC, 1, Vec::new())?,
        };
        let pi = self
            .topics
            .partition_of(ti, 0)
            .ok_or(crate::ErrorCode::UnknownTopicOrPartition)?;
        let mut batch = BatchBuilder::new(0);
        for r in records {
            let value = (!r.value.is_empty()).then_some(r.value.as_slice());
            batch.push(self.unix_ms, Some(&r.key), value, &[]);
        }
        let bytes = batch.finish();
        let size = segment_size(&self.config);
        let partition = self
            .topics
            .partition_mut(pi)
            .ok_or(crate::ErrorCode::UnknownTopicOrPartition)?;
        partition
            .log
            .append(
                &mut self.storage,
                OFFSETS_TOPIC,
                0,
                &bytes,
                size,
                self.unix_ms,
            )
            .map(|_| ())
            .map_err(|e| e.error_code())
    }
}

/// Rebuild the coordinator's state from the offsets log, oldest record first. Records that do
/// not parse are skipped: they cannot have been acknowledged to anyone as something else.
pub(crate) fn replay<T: SegmentBuffer>(
    groups: &mut GroupCoordinator,
    log: &PartitionLog<T>,
    now: Instant,
) {
    let mut offset = log.log_start_offset();
    // Each step moves past at least one batch, so this ends at the log end.
    while offset < log.log_end_offset() {
        let Ok(Some(slice)) = log.read(offset, REPLAY_READ_BYTES) else {
            return;
        };
        let Some(mut bytes) = log.segment_bytes(slice.segment_base_offset, slice.start, slice.len)
        else {
            return;
        };
        let before = offset;
        while !bytes.is_empty() {
            let Ok(batch) = RecordBatch::new_checked(bytes) else {
                return;
            };
            let len = batch.total_len();
            offset = batch.last_offset() + 1;
            for record in RecordIter::of_batch(&batch).flatten() {
                if let Some(key) = record.key {
                    let _ = groups.apply(now, key, record.value.unwrap_or(&[]));
                }
            }
            bytes = &bytes[len..];
        }
        if offset <= before {
            return;
        }
    }
}
