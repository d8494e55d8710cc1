//! A simulated client: one connection, a seeded mix of requests, pipelined up to a bound, and
//! a consumer-group member's cycle. Its requests wait in `outbound` until the simulator
//! delivers their bytes, in pieces of any size.

use std::collections::VecDeque;

use blazemq_core::Instant;
use blazemq_core::broker::ConnId;
use blazemq_core::codec::Message;
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::join_group_request::JoinGroupRequestProtocol;
use blazemq_core::codec::messages::leave_group_request::MemberIdentity;
use blazemq_core::codec::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use blazemq_core::codec::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use blazemq_core::codec::messages::offset_fetch_request::OffsetFetchRequestTopic;
use blazemq_core::codec::messages::sync_group_request::SyncGroupRequestAssignment;
use blazemq_core::codec::messages::*;

use super::model::{Model, Tp};
use super::rng::Rng;
use super::wire::{self, *};

/// Topic names the clients create and use.
pub const TOPICS: [&str; 3] = ["t0", "t1", "t2"];
pub const SESSION_TIMEOUT_MS: i32 = 10_000;
pub const REBALANCE_TIMEOUT_MS: i32 = 5_000;

/// A request sent and not yet answered.
#[derive(Clone, Debug)]
pub enum Req {
    Produce {
        tp: Tp,
        values: Vec<Vec<u8>>,
        silent: bool,
    },
    Fetch {
        tp: Tp,
        offset: i64,
    },
    ListOffsets {
        tp: Tp,
        latest: bool,
    },
    Metadata,
    CreateTopic {
        name: String,
        partitions: i32,
    },
    FindCoordinator,
    Join {
        member_id: String,
    },
    Sync,
    Heartbeat,
    Leave,
    Commit {
        group: String,
        tp: Tp,
        offset: i64,
    },
    OffsetFetch {
        group: String,
        tps: Vec<Tp>,
    },
}

#[derive(Clone, Debug)]
pub struct Pending {
    pub corr: i32,
    /// Where the request ends in the connection's byte stream.
    pub end: u64,
    /// When its last byte reached the broker.
    pub delivered_at: Option<Instant>,
    pub req: Req,
}

/// Where the client is in the consumer-group member cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Membership {
    Out,
    Joining {
        member_id: String,
    },
    Syncing {
        member_id: String,
        generation: i32,
        leader: bool,
        members: Vec<String>,
    },
    Stable {
        member_id: String,
        generation: i32,
    },
}

#[derive(Debug)]
pub struct Client {
    pub index: usize,
    pub conn: ConnId,
    pub outbound: Vec<u8>,
    pub in_flight: VecDeque<Pending>,
    pub membership: Membership,
    /// The correlation id of the member cycle's request in flight: it sends one at a time.
    pub group_corr: Option<i32>,
    pub group_id: String,
    pub positions: std::collections::BTreeMap<Tp, i64>,
    pub max_in_flight: usize,
    /// Bytes of requests queued on this connection, and delivered to the broker.
    pub queued: u64,
    pub delivered: u64,
    next_corr: i32,
}

impl Client {
    pub fn new(index: usize, conn: ConnId, group_id: String, max_in_flight: usize) -> Self {
        Client {
            index,
            conn,
            outbound: Vec::new(),
            in_flight: VecDeque::new(),
            membership: Membership::Out,
            group_corr: None,
            group_id,
            positions: Default::default(),
            max_in_flight,
            queued: 0,
            delivered: 0,
            next_corr: 0,
        }
    }

    /// Requests awaiting an answer (acks=0 produces expect none).
    pub fn awaiting(&self) -> usize {
        self.in_flight.iter().filter(|p| !is_silent(&p.req)).count()
    }

    /// The solo group this client commits to without joining (generation -1).
    pub fn solo_group(&self) -> String {
        format!("solo{}", self.index)
    }

    fn send<M: Message>(&mut self, version: i16, body: &M, req: Req) {
        self.next_corr += 1;
        let bytes = wire::request(version, self.next_corr, body);
        self.outbound.extend_from_slice(&bytes);
        self.queued += bytes.len() as u64;
        self.in_flight.push_back(Pending {
            corr: self.next_corr,
            end: self.queued,
            delivered_at: None,
            req,
        });
    }

    /// `n` more bytes reached the broker at `now`.
    pub fn mark_delivered(&mut self, n: usize, now: Instant) {
        self.delivered += n as u64;
        for p in &mut self.in_flight {
            if p.end <= self.delivered && p.delivered_at.is_none() {
                p.delivered_at = Some(now);
            }
        }
    }

    /// Pick and send one request, if the pipeline has room. Returns what was sent, for the log.
    pub fn act(&mut self, rng: &mut Rng, model: &mut Model, unix_ms: i64) -> Option<String> {
        if self.awaiting() >= self.max_in_flight {
            return None;
        }
        let known = model.known_partitions();
        let roll = rng.below(100);
        if known.is_empty() || roll < 6 {
            return Some(self.create_topic(rng));
        }
        let tp = known[rng.index(known.len())].clone();
        match roll {
            6..=40 => Some(self.produce(rng, model, tp, unix_ms)),
            41..=60 => Some(self.fetch(rng, tp)),
            61..=65 => Some(self.list_offsets(rng, tp)),
            66..=69 => Some(self.metadata()),
            70..=77 => Some(self.solo_commit_or_fetch(rng, model, &known)),
            _ => self.group_step(rng, model, &known),
        }
    }

    fn create_topic(&mut self, rng: &mut Rng) -> String {
        let name = TOPICS[rng.index(TOPICS.len())].to_string();
        let partitions = rng.range(1, 3) as i32;
        let body = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.clone(),
                num_partitions: partitions,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 1000,
            ..Default::default()
        };
        let log = format!("CreateTopics {name} x{partitions}");
        self.send(
            CREATE_TOPICS_V,
            &body,
            Req::CreateTopic { name, partitions },
        );
        log
    }

    fn produce(&mut self, rng: &mut Rng, model: &mut Model, tp: Tp, unix_ms: i64) -> String {
        let silent = rng.chance(40);
        let acks = if silent {
            0
        } else if rng.chance(500) {
            1
        } else {
            -1
        };
        let values = model.new_values(&tp, rng.range(1, 4) as usize, silent);
        let mut body = produce_request(&tp.0, tp.1, wire::batch(unix_ms, &values));
        body.acks = acks;
        let log = format!("Produce acks={acks} {tp:?} x{}", values.len());
        self.send(PRODUCE_V, &body, Req::Produce { tp, values, silent });
        log
    }

    fn fetch(&mut self, rng: &mut Rng, tp: Tp) -> String {
        let offset = self.positions.get(&tp).copied().unwrap_or(0);
        // Long polls now and then: they park until data comes or their deadline.
        let max_wait_ms = if rng.chance(300) {
            rng.range(10, 1000) as i32
        } else {
            0
        };
        let mut body = fetch_request(&tp.0, tp.1, offset, max_wait_ms, 1);
        body.topics[0].partitions[0].partition_max_bytes = rng.range(1, 4096) as i32;
        let log = format!("Fetch {tp:?} at {offset} wait {max_wait_ms}");
        self.send(FETCH_V, &body, Req::Fetch { tp, offset });
        log
    }

    fn list_offsets(&mut self, rng: &mut Rng, tp: Tp) -> String {
        let latest = rng.chance(700);
        let body = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: tp.0.clone(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: tp.1,
                    current_leader_epoch: -1,
                    timestamp: if latest { -1 } else { -2 },
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let log = format!("ListOffsets {tp:?} latest={latest}");
        self.send(LIST_OFFSETS_V, &body, Req::ListOffsets { tp, latest });
        log
    }

    fn metadata(&mut self) -> String {
        let body = MetadataRequest {
            topics: None,
            ..Default::default()
        };
        self.send(METADATA_V, &body, Req::Metadata);
        "Metadata".into()
    }

    /// A commit or an offset fetch for this client's solo group, as a consumer that assigns
    /// partitions itself does (no membership, generation -1).
    fn solo_commit_or_fetch(&mut self, rng: &mut Rng, model: &mut Model, known: &[Tp]) -> String {
        let group = self.solo_group();
        if rng.chance(600) {
            let tp = known[rng.index(known.len())].clone();
            self.commit(model, group, tp, -1, String::new())
        } else {
            self.offset_fetch(group, known.to_vec())
        }
    }

    fn commit(
        &mut self,
        model: &mut Model,
        group: String,
        tp: Tp,
        generation: i32,
        member_id: String,
    ) -> String {
        let offset = model.next_commit(&group, &tp);
        let body = OffsetCommitRequest {
            group_id: group.clone(),
            generation_id_or_member_epoch: generation,
            member_id,
            topics: vec![OffsetCommitRequestTopic {
                name: tp.0.clone(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: tp.1,
                    committed_offset: offset,
                    committed_leader_epoch: -1,
                    commit_timestamp: -1,
                    committed_metadata: Some(String::new()),
                }],
            }],
            ..Default::default()
        };
        let log = format!("OffsetCommit {group} {tp:?} = {offset} (generation {generation})");
        self.send(OFFSET_COMMIT_V, &body, Req::Commit { group, tp, offset });
        log
    }

    fn offset_fetch(&mut self, group: String, tps: Vec<Tp>) -> String {
        let topics = tps
            .iter()
            .map(|(t, p)| OffsetFetchRequestTopic {
                name: t.clone(),
                partition_indexes: vec![*p],
            })
            .collect();
        let body = OffsetFetchRequest {
            group_id: group.clone(),
            topics: Some(topics),
            ..Default::default()
        };
        let log = format!("OffsetFetch {group} x{}", tps.len());
        self.send(OFFSET_FETCH_V, &body, Req::OffsetFetch { group, tps });
        log
    }

    /// The next step of the member cycle, one group request at a time.
    fn group_step(&mut self, rng: &mut Rng, model: &mut Model, known: &[Tp]) -> Option<String> {
        if self.group_corr.is_some() {
            return None;
        }
        let log = match self.membership.clone() {
            Membership::Out if rng.chance(300) => {
                let body = FindCoordinatorRequest {
                    key: self.group_id.clone(),
                    ..Default::default()
                };
                self.send(FIND_COORDINATOR_V, &body, Req::FindCoordinator);
                Some("FindCoordinator".into())
            }
            Membership::Out => Some(self.join(String::new())),
            Membership::Joining { member_id } => Some(self.join(member_id)),
            Membership::Syncing {
                member_id,
                generation,
                leader,
                members,
            } => Some(self.sync(member_id, generation, leader, members)),
            Membership::Stable {
                member_id,
                generation,
            } => Some(self.stable_step(rng, model, known, member_id, generation)),
        };
        self.group_corr = Some(self.next_corr);
        log
    }

    fn stable_step(
        &mut self,
        rng: &mut Rng,
        model: &mut Model,
        known: &[Tp],
        member_id: String,
        generation: i32,
    ) -> String {
        let group = self.group_id.clone();
        match rng.below(10) {
            0..=3 => {
                let body = HeartbeatRequest {
                    group_id: group,
                    generation_id: generation,
                    member_id,
                    ..Default::default()
                };
                self.send(HEARTBEAT_V, &body, Req::Heartbeat);
                "Heartbeat".into()
            }
            4..=6 => {
                let tp = known[rng.index(known.len())].clone();
                self.commit(model, group, tp, generation, member_id)
            }
            7..=8 => self.offset_fetch(group, known.to_vec()),
            _ => {
                let body = LeaveGroupRequest {
                    group_id: group,
                    members: vec![MemberIdentity {
                        member_id,
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                self.send(LEAVE_GROUP_V, &body, Req::Leave);
                "LeaveGroup".into()
            }
        }
    }

    fn join(&mut self, member_id: String) -> String {
        let body = JoinGroupRequest {
            group_id: self.group_id.clone(),
            session_timeout_ms: SESSION_TIMEOUT_MS,
            rebalance_timeout_ms: REBALANCE_TIMEOUT_MS,
            member_id: member_id.clone(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: vec![0, 1],
            }],
            ..Default::default()
        };
        let log = format!("JoinGroup {} as {member_id:?}", self.group_id);
        self.send(JOIN_GROUP_V, &body, Req::Join { member_id });
        log
    }

    fn sync(
        &mut self,
        member_id: String,
        generation: i32,
        leader: bool,
        members: Vec<String>,
    ) -> String {
        let assignments = if leader {
            members
                .into_iter()
                .map(|m| SyncGroupRequestAssignment {
                    member_id: m,
                    assignment: vec![0, 1, 2],
                })
                .collect()
        } else {
            Vec::new()
        };
        let body = SyncGroupRequest {
            group_id: self.group_id.clone(),
            generation_id: generation,
            member_id,
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments,
            ..Default::default()
        };
        self.send(SYNC_GROUP_V, &body, Req::Sync);
        format!(
            "SyncGroup {} generation {generation} leader={leader}",
            self.group_id
        )
    }
}

pub fn is_silent(req: &Req) -> bool {
    matches!(req, Req::Produce { silent: true, .. })
}
