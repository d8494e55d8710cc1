//! A client reading its responses: each one must answer the oldest request in flight on its
//! connection (correlation ids in order), carry an error code Kafka allows there, and agree
//! with the model.

use blazemq_core::codec::messages::*;

use super::client::{Client, Membership, Pending, Req, is_silent};
use super::model::{Model, Tp, ensure};
use super::wire::{self, *};

const NONE: i16 = 0;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const KAFKA_STORAGE_ERROR: i16 = 56;
const MEMBER_ID_REQUIRED: i16 = 79;

impl Client {
    /// A response arrived on this client's connection.
    pub fn on_response(&mut self, frame: &[u8], model: &mut Model) -> Result<String, String> {
        let corr = wire::correlation_id(frame)?;
        // acks=0 produces before it were handled before it.
        while self.in_flight.front().is_some_and(|p| is_silent(&p.req)) {
            if let Some(Pending {
                req: Req::Produce { tp, values, .. },
                ..
            }) = self.in_flight.pop_front()
            {
                model.silent_resolved(&tp, &values);
            }
        }
        let pending = self.in_flight.pop_front().ok_or_else(|| {
            format!(
                "client {}: response {corr} with no request in flight: answered twice",
                self.index
            )
        })?;
        ensure!(
            pending.corr == corr,
            "client {}: response {corr} while {} is the oldest request: out of order",
            self.index,
            pending.corr
        );
        if self.group_corr == Some(corr) {
            self.group_corr = None;
        }
        let name = short(&pending.req);
        self.dispatch(pending.req, frame, model)
            .map_err(|e| format!("client {} {name}: {e}", self.index))?;
        Ok(format!("client {} <- {name}", self.index))
    }

    fn dispatch(&mut self, req: Req, frame: &[u8], model: &mut Model) -> Result<(), String> {
        match req {
            Req::Produce { tp, values, .. } => on_produce(frame, model, &tp, &values),
            Req::Fetch { tp, offset } => self.on_fetch(frame, model, tp, offset),
            Req::ListOffsets { tp, latest } => on_list_offsets(frame, model, &tp, latest),
            Req::Metadata => on_metadata(frame, model),
            Req::CreateTopic { name, partitions } => on_create(frame, model, name, partitions),
            Req::FindCoordinator => {
                let r: FindCoordinatorResponse = response(FIND_COORDINATOR_V, frame)?;
                ensure!(
                    r.error_code == NONE,
                    "FindCoordinator error {}",
                    r.error_code
                );
                Ok(())
            }
            Req::Join { member_id } => self.on_join(frame, member_id),
            Req::Sync => self.on_sync(frame),
            Req::Heartbeat => {
                let r: HeartbeatResponse = response(HEARTBEAT_V, frame)?;
                self.group_error(r.error_code)
            }
            Req::Leave => {
                let r: LeaveGroupResponse = response(LEAVE_GROUP_V, frame)?;
                let code = r
                    .members
                    .first()
                    .map_or(r.error_code, |m| m.error_code.max(r.error_code));
                // A leave whose record the offsets log did not store gets the coordinator's
                // error; the member is gone from the group all the same, as in Kafka.
                ensure!(
                    matches!(
                        code,
                        NONE | UNKNOWN_MEMBER_ID | NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE
                    ),
                    "LeaveGroup error {code}"
                );
                self.membership = Membership::Out;
                Ok(())
            }
            Req::Commit { group, tp, offset } => self.on_commit(frame, model, &group, &tp, offset),
            Req::OffsetFetch { group, tps } => on_offset_fetch(frame, model, &group, &tps),
        }
    }

    fn on_fetch(
        &mut self,
        frame: &[u8],
        model: &mut Model,
        tp: Tp,
        offset: i64,
    ) -> Result<(), String> {
        let r: FetchResponse = response(FETCH_V, frame)?;
        ensure!(r.error_code == NONE, "Fetch error {}", r.error_code);
        let p = r
            .responses
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or("Fetch answered without the partition")?;
        match p.error_code {
            NONE => {}
            UNKNOWN_TOPIC_OR_PARTITION => return unknown_topic(model, &tp),
            OFFSET_OUT_OF_RANGE => {
                return Err(format!(
                    "{tp:?} at {offset}: OFFSET_OUT_OF_RANGE, hw {}",
                    p.high_watermark
                ));
            }
            e => return Err(format!("{tp:?}: Fetch error {e}")),
        }
        let read = wire::records(&p.records)?;
        model.observe_hw(&tp, p.high_watermark)?;
        model.fetched(&tp, offset, &read, p.high_watermark)?;
        if let Some((last, _)) = read.last() {
            self.positions.insert(tp, last + 1);
        }
        Ok(())
    }

    fn on_join(&mut self, frame: &[u8], member_id: String) -> Result<(), String> {
        let r: JoinGroupResponse = response(JOIN_GROUP_V, frame)?;
        match r.error_code {
            MEMBER_ID_REQUIRED => {
                ensure!(
                    !r.member_id.is_empty(),
                    "MEMBER_ID_REQUIRED without a member id"
                );
                self.membership = Membership::Joining {
                    member_id: r.member_id,
                };
            }
            NONE => {
                ensure!(
                    r.member_id == member_id || member_id.is_empty(),
                    "joined as {}, asked {member_id}",
                    r.member_id
                );
                let leader = r.leader == r.member_id;
                ensure!(!leader || !r.members.is_empty(), "a leader without members");
                self.membership = Membership::Syncing {
                    member_id: r.member_id,
                    generation: r.generation_id,
                    leader,
                    members: r.members.into_iter().map(|m| m.member_id).collect(),
                };
            }
            e => self.group_error(e)?,
        }
        Ok(())
    }

    fn on_sync(&mut self, frame: &[u8]) -> Result<(), String> {
        let r: SyncGroupResponse = response(SYNC_GROUP_V, frame)?;
        if r.error_code != NONE {
            return self.group_error(r.error_code);
        }
        if let Membership::Syncing {
            member_id,
            generation,
            ..
        } = self.membership.clone()
        {
            self.membership = Membership::Stable {
                member_id,
                generation,
            };
        }
        Ok(())
    }

    /// Kafka's answers that send a member back to (re)joining.
    fn group_error(&mut self, code: i16) -> Result<(), String> {
        let member_id = match &self.membership {
            Membership::Out => String::new(),
            Membership::Joining { member_id }
            | Membership::Syncing { member_id, .. }
            | Membership::Stable { member_id, .. } => member_id.clone(),
        };
        match code {
            NONE => {}
            UNKNOWN_MEMBER_ID => self.membership = Membership::Out,
            ILLEGAL_GENERATION
            | REBALANCE_IN_PROGRESS
            | COORDINATOR_NOT_AVAILABLE
            | COORDINATOR_LOAD_IN_PROGRESS
            | NOT_COORDINATOR
            | KAFKA_STORAGE_ERROR => self.membership = Membership::Joining { member_id },
            e => return Err(format!("group error {e}")),
        }
        Ok(())
    }

    fn on_commit(
        &mut self,
        frame: &[u8],
        model: &mut Model,
        group: &str,
        tp: &Tp,
        offset: i64,
    ) -> Result<(), String> {
        let r: OffsetCommitResponse = response(OFFSET_COMMIT_V, frame)?;
        let code = r
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .map(|p| p.error_code)
            .ok_or("OffsetCommit answered without the partition")?;
        match code {
            NONE => model.commit_acked(group, tp, offset),
            // A commit the offsets log did not store is refused with the coordinator's error
            // and changes nothing.
            KAFKA_STORAGE_ERROR | NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE => {
                model.commit_refused(group, tp, offset);
            }
            UNKNOWN_TOPIC_OR_PARTITION => {
                model.commit_refused(group, tp, offset);
                unknown_topic(model, tp)?;
            }
            e if *group == self.solo_group() => return Err(format!("solo OffsetCommit error {e}")),
            e => {
                model.commit_refused(group, tp, offset);
                self.group_error(e)?;
            }
        }
        Ok(())
    }
}

fn on_produce(frame: &[u8], model: &mut Model, tp: &Tp, values: &[Vec<u8>]) -> Result<(), String> {
    let r: ProduceResponse = response(PRODUCE_V, frame)?;
    let p = r
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
        .ok_or("Produce answered without the partition")?;
    match p.error_code {
        NONE => model.produce_acked(tp, values, p.base_offset),
        KAFKA_STORAGE_ERROR => {
            model.produce_unknown(tp, values, true);
            Ok(())
        }
        UNKNOWN_TOPIC_OR_PARTITION => {
            model.produce_unknown(tp, values, false);
            unknown_topic(model, tp)
        }
        e => Err(format!("{tp:?}: Produce error {e}")),
    }
}

fn on_list_offsets(frame: &[u8], model: &mut Model, tp: &Tp, latest: bool) -> Result<(), String> {
    let r: ListOffsetsResponse = response(LIST_OFFSETS_V, frame)?;
    let p = r
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or("ListOffsets answered without the partition")?;
    match p.error_code {
        NONE if latest => model.observe_end(tp, p.offset),
        NONE => {
            ensure!(
                p.offset == 0,
                "{tp:?}: earliest offset {}, nothing was deleted",
                p.offset
            );
            Ok(())
        }
        UNKNOWN_TOPIC_OR_PARTITION => unknown_topic(model, tp),
        e => Err(format!("{tp:?}: ListOffsets error {e}")),
    }
}

pub fn on_metadata(frame: &[u8], model: &mut Model) -> Result<(), String> {
    let r: MetadataResponse = response(METADATA_V, frame)?;
    let mut listed = Vec::new();
    for t in &r.topics {
        let name = t.name.clone().unwrap_or_default();
        if name.starts_with("__") {
            continue;
        }
        ensure!(
            t.error_code == NONE,
            "Metadata: {name} error {}",
            t.error_code
        );
        let count = t.partitions.len() as i32;
        let topic = model.topics.entry(name.clone()).or_default();
        if let Some(acked) = topic.acked {
            ensure!(
                count == acked,
                "Metadata: {name} has {count} partitions, {acked} were created"
            );
        }
        topic.partitions = Some(count);
        listed.push(name);
    }
    for (name, t) in &model.topics {
        ensure!(
            t.acked.is_none() || listed.contains(name),
            "Metadata: created topic {name} missing"
        );
    }
    Ok(())
}

fn on_create(frame: &[u8], model: &mut Model, name: String, partitions: i32) -> Result<(), String> {
    let r: CreateTopicsResponse = response(CREATE_TOPICS_V, frame)?;
    let code = r
        .topics
        .first()
        .map(|t| t.error_code)
        .ok_or("CreateTopics answered without the topic")?;
    let topic = model.topics.entry(name.clone()).or_default();
    match code {
        NONE => {
            ensure!(topic.acked.is_none(), "{name} created twice");
            topic.acked = Some(partitions);
            topic.partitions = Some(partitions);
        }
        TOPIC_ALREADY_EXISTS | KAFKA_STORAGE_ERROR => {}
        e => return Err(format!("CreateTopics {name}: error {e}")),
    }
    Ok(())
}

pub fn on_offset_fetch(
    frame: &[u8],
    model: &mut Model,
    group: &str,
    tps: &[Tp],
) -> Result<(), String> {
    let r: OffsetFetchResponse = response(OFFSET_FETCH_V, frame)?;
    ensure!(
        r.error_code == NONE,
        "OffsetFetch {group}: error {}",
        r.error_code
    );
    let mut answered = 0;
    for t in &r.topics {
        for p in &t.partitions {
            let tp = (t.name.clone(), p.partition_index);
            ensure!(
                p.error_code == NONE,
                "OffsetFetch {group} {tp:?}: error {}",
                p.error_code
            );
            model.offset_fetched(group, &tp, p.committed_offset)?;
            answered += 1;
        }
    }
    ensure!(
        answered == tps.len(),
        "OffsetFetch {group}: {answered} of {} partitions answered",
        tps.len()
    );
    Ok(())
}

/// UNKNOWN_TOPIC_OR_PARTITION: only for a topic whose creation was never acknowledged (a failed
/// creation a crash undid); the client forgets it until Metadata lists it.
fn unknown_topic(model: &mut Model, tp: &Tp) -> Result<(), String> {
    let topic = model.topics.entry(tp.0.clone()).or_default();
    ensure!(
        topic.acked.is_none(),
        "{tp:?}: UNKNOWN_TOPIC_OR_PARTITION for a created topic"
    );
    topic.partitions = None;
    Ok(())
}

/// A request named for the step log, without its record values.
fn short(req: &Req) -> String {
    match req {
        Req::Produce { tp, values, .. } => format!("Produce {tp:?} x{}", values.len()),
        Req::OffsetFetch { group, .. } => format!("OffsetFetch {group}"),
        other => format!("{other:?}"),
    }
}
