//! `group`: the consumer-group coordinator under arbitrary sequences of JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, OffsetCommit, DeleteGroups and a moving clock.
//!
//! Members are slots whose ids come from the coordinator's own answers, so short inputs reach
//! deep states (rebalances, static rejoins, expiries) instead of being refused as unknown.

use std::collections::BTreeMap;
use std::time::Duration;

use blazemq_core::ErrorCode;
use blazemq_core::Instant;
use blazemq_core::group::{
    Assignment, CommitPartition, CommitRequest, CommitTopic, Completed, FetchGroup, GroupConfig,
    GroupCoordinator, GroupRecord, HeartbeatRequest, JoinAnswer, JoinRequest, LeaveRequest,
    LeavingMember, Protocol, Reply, SyncAnswer, SyncRequest, Ticket,
};

use crate::input::Input;

const GROUPS: [&str; 2] = ["g0", "g1"];
/// Slots 0-2 are members of `g0`, slot 3 of `g1`; slot 2 is a static member (KIP-345).
const SLOTS: usize = 4;
const STATIC_SLOT: usize = 2;
/// Operations one input may run: enough for several rebalances, short enough to stay fast.
const OPS_MAX: usize = 200;
/// Timer firings one clock move may take; more is a livelock.
const STEPS_MAX: usize = 10_000;
/// The topic whose partitions 0-3 exist; commits to others are refused.
const TOPIC: &str = "t";

fn group_of(slot: usize) -> usize {
    usize::from(slot == SLOTS - 1)
}

#[derive(Debug, Default, Clone)]
struct Slot {
    member_id: String,
    generation: i32,
}

/// What a parked request was, to check its answer when it completes.
#[derive(Debug, Clone, Copy)]
enum Parked {
    Join(usize),
    Sync { slot: usize, generation: i32 },
}

/// The coordinator, a fake clock, and what the test knows about each group.
#[derive(Debug)]
struct Harness {
    c: GroupCoordinator,
    now: Instant,
    log: Vec<GroupRecord>,
    slots: [Slot; SLOTS],
    parked: BTreeMap<Ticket, Parked>,
    /// Per group: the highest generation a successful join was answered with, while it exists.
    generations: [i32; 2],
    /// Per group and generation: its leader and protocol, as the first successful join said.
    leaders: BTreeMap<(usize, i32), (String, Option<String>)>,
    /// Per group and generation: the assignments its leader sent first.
    assignments: BTreeMap<(usize, i32), Vec<Assignment>>,
}

/// Runs the operations `data` encodes, then lets time pass until nothing is parked, and checks
/// that the offsets log replays to the same committed offsets.
pub fn group(data: &[u8]) {
    let mut input = Input::new(data);
    let initial_rebalance_delay = input.pick(&[Duration::ZERO, Duration::from_millis(3_000)]);
    let mut config = GroupConfig {
        initial_rebalance_delay,
        ..GroupConfig::default()
    };
    config.limits.members_per_group_max = input.pick(&[1_000, 2]);
    let mut h = Harness {
        c: GroupCoordinator::new(config),
        now: Instant::from_nanos(1_000_000_000),
        log: Vec::new(),
        slots: Default::default(),
        parked: BTreeMap::new(),
        generations: [-1; 2],
        leaders: BTreeMap::new(),
        assignments: BTreeMap::new(),
    };
    for _ in 0..OPS_MAX {
        if input.is_empty() {
            break;
        }
        h.step(&mut input);
        h.drain();
        h.forget_dead_groups();
    }
    // Every parked request is answered once sessions and rebalances time out.
    h.advance(Duration::from_secs(3_600 * 2));
    assert!(
        h.parked.is_empty(),
        "requests never answered: {:?}",
        h.parked
    );
    h.check_replay();
}

impl Harness {
    fn step(&mut self, input: &mut Input<'_>) {
        let op = input.u8() % 9;
        let slot = usize::from(input.u8()) % SLOTS;
        match op {
            0 => self.join(input, slot),
            1 => self.sync(input, slot),
            2 => self.heartbeat(input, slot),
            3 => self.leave(input, slot),
            4 => self.commit(input, slot),
            5 => {
                let ms = input.pick(&[0, 100, 2_999, 3_000, 10_000, 45_000, 300_000]);
                self.advance(Duration::from_millis(ms));
            }
            6 => self.c.on_timer(self.now),
            7 => self.delete(slot),
            _ => self.read_only(),
        }
    }

    fn join(&mut self, input: &mut Input<'_>, slot: usize) {
        let flags = input.u8();
        let member_id = if flags & 1 == 1 {
            String::new()
        } else {
            self.slots[slot].member_id.clone()
        };
        let protocols = match flags >> 1 & 3 {
            0 => vec![protocol("range", input.bytes(8))],
            1 => vec![
                protocol("roundrobin", input.bytes(8)),
                protocol("range", &[]),
            ],
            2 => vec![protocol("cooperative-sticky", &[1, 2])],
            _ => Vec::new(),
        };
        let req = JoinRequest {
            api_version: input.pick(&[0, 1, 4, 5, 7, 9]),
            group_id: GROUPS[group_of(slot)].into(),
            session_timeout_ms: input.pick(&[10_000, 6_000, 45_000, 5_999, -1]),
            rebalance_timeout_ms: input.pick(&[30_000, 10_000, 60_000, -1]),
            member_id,
            group_instance_id: (slot == STATIC_SLOT).then(|| "instance-2".into()),
            protocol_type: input.pick(&["consumer", "consumer", "connect", ""]).into(),
            protocols,
            client_id: "fuzz".into(),
            client_host: "/127.0.0.1".into(),
        };
        match self.c.join(self.now, req) {
            Reply::Now(answer) => self.joined(slot, answer),
            Reply::Pending(ticket) => self.park(ticket, Parked::Join(slot)),
        }
    }

    fn sync(&mut self, input: &mut Input<'_>, slot: usize) {
        let group = group_of(slot);
        let own = self.slots[slot].generation;
        let generation = input.pick(&[own, own, own.wrapping_add(1), own.wrapping_sub(1)]);
        let assignments = if input.u8() & 1 == 0 {
            self.assignments_for(group, input)
        } else {
            Vec::new()
        };
        let leads = self
            .leaders
            .get(&(group, generation))
            .is_some_and(|(leader, _)| *leader == self.slots[slot].member_id);
        if leads {
            self.assignments
                .entry((group, generation))
                .or_insert_with(|| assignments.clone());
        }
        let req = SyncRequest {
            group_id: GROUPS[group].into(),
            generation_id: generation,
            member_id: self.slots[slot].member_id.clone(),
            group_instance_id: (slot == STATIC_SLOT).then(|| "instance-2".into()),
            protocol_type: None,
            protocol_name: None,
            assignments,
        };
        match self.c.sync(self.now, req) {
            Reply::Now(answer) => self.synced(slot, generation, &answer),
            Reply::Pending(ticket) => self.park(ticket, Parked::Sync { slot, generation }),
        }
    }

    /// One assignment per member of the group the test knows of, each different.
    fn assignments_for(&self, group: usize, input: &mut Input<'_>) -> Vec<Assignment> {
        let salt = input.u8();
        (0..SLOTS)
            .filter(|&s| group_of(s) == group && !self.slots[s].member_id.is_empty())
            .map(|s| Assignment {
                member_id: self.slots[s].member_id.clone(),
                assignment: vec![salt, s as u8],
            })
            .collect()
    }

    fn heartbeat(&mut self, input: &mut Input<'_>, slot: usize) {
        let group = group_of(slot);
        let own = self.slots[slot].generation;
        let generation = input.pick(&[own, own, own.wrapping_sub(1), -1]);
        let req = HeartbeatRequest {
            group_id: GROUPS[group].into(),
            generation_id: generation,
            member_id: self.slots[slot].member_id.clone(),
            group_instance_id: (slot == STATIC_SLOT).then(|| "instance-2".into()),
        };
        let error = self.c.heartbeat(self.now, &req);
        if error == ErrorCode::None {
            assert!(
                generation >= self.generations[group],
                "heartbeat of generation {generation} accepted after generation {}",
                self.generations[group]
            );
        }
        if error == ErrorCode::UnknownMemberId {
            self.slots[slot] = Slot::default();
        }
    }

    fn leave(&mut self, input: &mut Input<'_>, slot: usize) {
        let by_instance = input.u8() & 1 == 1 && slot == STATIC_SLOT;
        let member = LeavingMember {
            member_id: if by_instance {
                String::new()
            } else {
                self.slots[slot].member_id.clone()
            },
            group_instance_id: (slot == STATIC_SLOT).then(|| "instance-2".into()),
        };
        let req = LeaveRequest {
            group_id: GROUPS[group_of(slot)].into(),
            members: vec![member],
        };
        let answer = self.c.leave(self.now, req);
        if answer.error == ErrorCode::None {
            self.slots[slot] = Slot::default();
        }
    }

    fn commit(&mut self, input: &mut Input<'_>, slot: usize) {
        let group = group_of(slot);
        // A simple consumer (no generation, no member) or the slot's member.
        let (generation, member_id) = if input.u8() & 1 == 1 {
            (-1, String::new())
        } else {
            (
                self.slots[slot].generation,
                self.slots[slot].member_id.clone(),
            )
        };
        let partitions = (0..1 + input.u8() % 3)
            .map(|_| CommitPartition {
                partition: i32::from(input.u8() % 6),
                offset: i64::from(input.u16()),
                leader_epoch: -1,
                commit_timestamp_ms: -1,
                metadata: Some("m".into()),
            })
            .collect();
        let req = CommitRequest {
            group_id: GROUPS[group].into(),
            generation_id: generation,
            member_id,
            group_instance_id: None,
            topics: vec![CommitTopic {
                name: TOPIC.into(),
                partitions,
            }],
        };
        let unix_ms = 1_700_000_000_000 + (self.now.as_nanos() / 1_000_000) as i64;
        let answers = self.c.commit(self.now, unix_ms, req, |topic, partition| {
            topic == TOPIC && (0..4).contains(&partition)
        });
        let accepted = answers
            .iter()
            .flat_map(|t| t.partitions.iter())
            .any(|(_, e)| *e == ErrorCode::None);
        if accepted && generation >= 0 {
            assert!(
                generation >= self.generations[group],
                "commit of generation {generation} accepted after generation {}",
                self.generations[group]
            );
        }
    }

    fn delete(&mut self, slot: usize) {
        let group = group_of(slot);
        let results = self.c.delete(vec![GROUPS[group].into()]);
        assert_eq!(results.len(), 1);
    }

    fn read_only(&mut self) {
        let ids: Vec<String> = GROUPS.iter().map(|g| String::from(*g)).collect();
        let described = self.c.describe(ids);
        assert_eq!(described.len(), GROUPS.len());
        let listed = self.c.list(&[], &[]);
        assert!(listed.len() <= GROUPS.len());
        for g in GROUPS {
            let fetched = self.c.fetch(&FetchGroup {
                group_id: g.into(),
                topics: None,
            });
            assert_eq!(fetched.error, ErrorCode::None);
        }
    }

    fn park(&mut self, ticket: Ticket, what: Parked) {
        let before = self.parked.insert(ticket, what);
        assert!(before.is_none(), "ticket {ticket:?} handed out twice");
    }

    /// A join's answer: ids and generations the slot keeps, and the group's invariants.
    fn joined(&mut self, slot: usize, answer: JoinAnswer) {
        let group = group_of(slot);
        if answer.error == ErrorCode::UnknownMemberId {
            self.slots[slot] = Slot::default();
            return;
        }
        let previous_id = core::mem::take(&mut self.slots[slot].member_id);
        self.slots[slot].member_id = if answer.member_id.is_empty() {
            previous_id.clone()
        } else {
            answer.member_id.clone()
        };
        if answer.error != ErrorCode::None {
            return;
        }
        let generation = answer.generation_id;
        assert!(
            generation >= self.generations[group],
            "generation went from {} back to {generation}",
            self.generations[group]
        );
        self.generations[group] = generation;
        self.slots[slot].generation = generation;
        let replaced =
            slot == STATIC_SLOT && !previous_id.is_empty() && previous_id != answer.member_id;
        if replaced {
            // KIP-345: a static member rejoining under a new member id takes its old id's
            // place, leadership included. Before v9 (KIP-814) its answer still names the old id
            // as leader, so that it does not reassign a Stable group.
            for (leader, _) in self.leaders.values_mut() {
                if *leader == previous_id {
                    leader.clone_from(&answer.member_id);
                }
            }
        }
        let chosen = (answer.leader.clone(), answer.protocol_name.clone());
        let first = self
            .leaders
            .entry((group, generation))
            .or_insert(chosen.clone());
        assert_eq!(first.1, chosen.1, "one generation, two protocols");
        let stale_leader = replaced && answer.leader == previous_id;
        assert!(
            first.0 == chosen.0 || stale_leader,
            "one generation, two leaders: {first:?} {chosen:?}"
        );
        if answer.member_id == answer.leader {
            assert!(
                answer.members.iter().any(|m| m.member_id == answer.leader),
                "the leader is missing from its own member list"
            );
        } else {
            assert!(
                answer.members.is_empty(),
                "a follower was sent the member list"
            );
        }
    }

    /// A sync's answer: a member gets what its generation's leader assigned to it.
    fn synced(&mut self, slot: usize, generation: i32, answer: &SyncAnswer) {
        if answer.error == ErrorCode::UnknownMemberId {
            self.slots[slot] = Slot::default();
        }
        if answer.error != ErrorCode::None {
            return;
        }
        // Every assignment the test sends names its slot in its last byte.
        if let Some(&owner) = answer.assignment.last() {
            assert_eq!(
                usize::from(owner),
                slot,
                "a member got another's assignment"
            );
        }
        let group = group_of(slot);
        let member_id = &self.slots[slot].member_id;
        let Some(sent) = self.assignments.get(&(group, generation)) else {
            return;
        };
        match sent.iter().find(|a| a.member_id == *member_id) {
            Some(a) => assert_eq!(
                answer.assignment, a.assignment,
                "not the leader's assignment"
            ),
            // A static member that rejoined under a new member id keeps the assignment its
            // instance had (KIP-345), which the leader sent under the old id.
            None if slot == STATIC_SLOT => {}
            None => assert!(answer.assignment.is_empty(), "an assignment nobody sent"),
        }
    }

    /// Appends records to the log, then hands parked answers to their slots (the drain order
    /// of the coordinator's contract).
    fn drain(&mut self) {
        self.log.extend(self.c.records().cloned());
        self.c.records_stored();
        while let Some((ticket, completed)) = self.c.poll_completed() {
            let parked = self.parked.remove(&ticket);
            match (parked, completed) {
                (Some(Parked::Join(slot)), Completed::Join(answer)) => self.joined(slot, answer),
                (Some(Parked::Sync { slot, generation }), Completed::Sync(answer)) => {
                    self.synced(slot, generation, &answer)
                }
                (parked, completed) => {
                    panic!("{ticket:?} completed as {completed:?}, parked as {parked:?}")
                }
            }
        }
    }

    /// A group the coordinator no longer holds starts over at generation 0.
    fn forget_dead_groups(&mut self) {
        let ids = GROUPS.iter().map(|g| String::from(*g)).collect();
        for (group, described) in self.c.describe(ids).iter().enumerate() {
            if described.state == "Dead" {
                self.generations[group] = -1;
                self.leaders.retain(|(g, _), _| *g != group);
                self.assignments.retain(|(g, _), _| *g != group);
            }
        }
    }

    /// Moves the clock by `by`, firing every deadline on the way, in order.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        for _ in 0..STEPS_MAX {
            match self.c.next_deadline() {
                Some(deadline) if deadline <= end => {
                    self.now = self.now.max(deadline);
                    self.c.on_timer(self.now);
                    self.drain();
                    self.forget_dead_groups();
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
        panic!("the coordinator's deadlines never settle (livelock)");
    }

    /// The offsets log, replayed into a new coordinator, gives the committed offsets the live
    /// one answers with: nothing committed is lost or revived by a restart.
    fn check_replay(&self) {
        let mut replayed = GroupCoordinator::new(GroupConfig::default());
        for record in &self.log {
            if let Err(e) = replayed.apply(self.now, &record.key, &record.value) {
                panic!("the coordinator's own record does not replay: {e:?} {record:?}");
            }
        }
        for g in GROUPS {
            let req = FetchGroup {
                group_id: g.into(),
                topics: None,
            };
            assert_eq!(
                self.c.fetch(&req),
                replayed.fetch(&req),
                "offsets of {g} after replay"
            );
        }
    }
}

fn protocol(name: &str, metadata: &[u8]) -> Protocol {
    Protocol {
        name: name.into(),
        metadata: metadata.to_vec(),
    }
}
