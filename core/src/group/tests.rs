//! The coordinator driven on a fake clock: no sockets, no sleeps. Every loop is bounded.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::error::ErrorCode;
use crate::time::Instant;

const SESSION_MS: i32 = 10_000;
const REBALANCE_MS: i32 = 30_000;
/// A turn limit for `advance`: a livelock fails the test instead of hanging it.
const STEPS_MAX: usize = 1_000;

/// A coordinator, a fake clock and everything it has answered or logged.
struct Pair {
    c: GroupCoordinator,
    now: Instant,
    completed: Vec<(Ticket, Completed)>,
    records: Vec<GroupRecord>,
}

impl Pair {
    fn new() -> Self {
        Pair::with(GroupConfig::default())
    }

    fn with(config: GroupConfig) -> Self {
        Pair {
            c: GroupCoordinator::new(config),
            now: Instant::from_nanos(1_000_000_000),
            completed: Vec::new(),
            records: Vec::new(),
        }
    }

    /// Stores every record, as the broker's drain does.
    fn drain(&mut self) {
        self.records.extend(self.c.records().cloned());
        self.c.records_stored();
        while let Some(c) = self.c.poll_completed() {
            self.completed.push(c);
        }
    }

    /// The disk refuses every record: returns the error for the request that caused them.
    fn refuse(&mut self) -> Option<ErrorCode> {
        let error = self
            .c
            .records_failed(self.now, ErrorCode::KafkaStorageError);
        while let Some(c) = self.c.poll_completed() {
            self.completed.push(c);
        }
        error
    }

    /// Moves the clock forward by `d`, firing every deadline on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..STEPS_MAX {
            match self.c.next_deadline() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.c.on_timer(self.now);
                    self.drain();
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
        panic!("livelock: deadlines keep firing");
    }

    fn join(&mut self, r: JoinRequest) -> Reply<JoinAnswer> {
        let reply = self.c.join(self.now, r);
        self.drain();
        reply
    }

    fn join_now(&mut self, r: JoinRequest) -> JoinAnswer {
        match self.join(r) {
            Reply::Now(a) => a,
            Reply::Pending(t) => panic!("join parked as {t:?}"),
        }
    }

    /// A v4+ first join: MEMBER_ID_REQUIRED, then the join with the given id.
    fn first_join(&mut self, group: &str, client: &str) -> Reply<JoinAnswer> {
        let a = self.join_now(join(group, "", client));
        assert_eq!(a.error, ErrorCode::MemberIdRequired);
        assert!(a.member_id.starts_with(client));
        self.join(join(group, &a.member_id, client))
    }

    fn take_join(&mut self, t: Ticket) -> JoinAnswer {
        let i = self.completed.iter().position(|(k, _)| *k == t);
        match i.map(|i| self.completed.remove(i)) {
            Some((_, Completed::Join(a))) => a,
            other => panic!("no join answer for {t:?}: {other:?}"),
        }
    }

    fn take_sync(&mut self, t: Ticket) -> SyncAnswer {
        let i = self.completed.iter().position(|(k, _)| *k == t);
        match i.map(|i| self.completed.remove(i)) {
            Some((_, Completed::Sync(a))) => a,
            other => panic!("no sync answer for {t:?}: {other:?}"),
        }
    }

    fn sync(
        &mut self,
        group: &str,
        generation: i32,
        member: &str,
        assign: &[(&str, &[u8])],
    ) -> Reply<SyncAnswer> {
        let r = self
            .c
            .sync(self.now, sync_req(group, generation, member, assign));
        self.drain();
        // The leader's sync completes once its record is stored: then it is answered at once.
        match r {
            Reply::Pending(t) if self.completed.iter().any(|(k, _)| *k == t) => {
                Reply::Now(self.take_sync(t))
            }
            r => r,
        }
    }

    fn heartbeat(&mut self, group: &str, generation: i32, member: &str) -> ErrorCode {
        let req = HeartbeatRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
        };
        let e = self.c.heartbeat(self.now, &req);
        self.drain();
        e
    }

    fn state(&self, group: &str) -> &'static str {
        self.c.describe(vec![group.into()])[0].state
    }

    /// Two members in a Stable group: (generation, leader id, follower id).
    fn stable_pair(&mut self, group: &str) -> (i32, String, String) {
        let Reply::Now(a) = self.first_join(group, "a") else {
            panic!("lone member waits")
        };
        let a_id = a.member_id.clone();
        assert_eq!(
            self.sync(group, a.generation_id, &a_id, &[(&a_id, b"A1")]),
            Reply::Now(ok_sync(b"A1"))
        );
        let Reply::Pending(tb) = self.first_join(group, "b") else {
            panic!("b must wait for a")
        };
        let Reply::Now(a2) = self.join(join(group, &a_id, "a")) else {
            panic!("a completes the join")
        };
        let b = self.take_join(tb);
        assert_eq!(a2.generation_id, b.generation_id);
        let Reply::Pending(tsb) = self.sync(group, b.generation_id, &b.member_id, &[]) else {
            panic!("follower waits for the leader")
        };
        let assign: [(&str, &[u8]); 2] = [(&a_id, b"A2"), (&b.member_id, b"B2")];
        assert_eq!(
            self.sync(group, a2.generation_id, &a_id, &assign),
            Reply::Now(ok_sync(b"A2"))
        );
        assert_eq!(self.take_sync(tsb), ok_sync(b"B2"));
        assert_eq!(self.state(group), "Stable");
        (a2.generation_id, a_id, b.member_id)
    }
}

fn proto(name: &str, meta: &[u8]) -> Protocol {
    Protocol {
        name: name.into(),
        metadata: meta.to_vec(),
    }
}

fn join(group: &str, member: &str, client: &str) -> JoinRequest {
    JoinRequest {
        api_version: 5,
        group_id: group.into(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        member_id: member.into(),
        group_instance_id: None,
        protocol_type: "consumer".into(),
        protocols: vec![proto("range", client.as_bytes())],
        client_id: client.into(),
        client_host: "/127.0.0.1".into(),
    }
}

fn static_join(group: &str, member: &str, instance: &str, version: i16) -> JoinRequest {
    JoinRequest {
        api_version: version,
        group_instance_id: Some(instance.into()),
        ..join(group, member, instance)
    }
}

fn sync_req(group: &str, generation: i32, member: &str, assign: &[(&str, &[u8])]) -> SyncRequest {
    SyncRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        protocol_type: None,
        protocol_name: None,
        assignments: assign
            .iter()
            .map(|(m, a)| Assignment {
                member_id: (*m).into(),
                assignment: a.to_vec(),
            })
            .collect(),
    }
}

fn ok_sync(assignment: &[u8]) -> SyncAnswer {
    SyncAnswer {
        error: ErrorCode::None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignment: assignment.to_vec(),
    }
}

fn commit_req(
    group: &str,
    generation: i32,
    member: &str,
    parts: &[(&str, i32, i64)],
) -> CommitRequest {
    CommitRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        topics: parts
            .iter()
            .map(|(t, p, o)| CommitTopic {
                name: (*t).into(),
                partitions: vec![CommitPartition {
                    partition: *p,
                    offset: *o,
                    leader_epoch: 3,
                    commit_timestamp_ms: -1,
                    metadata: Some("m".into()),
                }],
            })
            .collect(),
    }
}

fn commit_errors(p: &mut Pair, req: CommitRequest) -> Vec<ErrorCode> {
    let answers =
        p.c.commit(p.now, 1_700_000_000_000, req, |t, _| t != "missing");
    p.drain();
    answers
        .iter()
        .flat_map(|t| t.partitions.iter().map(|(_, e)| *e))
        .collect()
}

fn fetch(p: &Pair, group: &str, topics: Option<Vec<(&str, Vec<i32>)>>) -> FetchAnswer {
    p.c.fetch(&FetchGroup {
        group_id: group.into(),
        topics: topics.map(|ts| {
            ts.into_iter()
                .map(|(n, ps)| FetchTopic {
                    name: n.into(),
                    partitions: ps,
                })
                .collect()
        }),
    })
}

#[test]
fn one_member_joins_and_syncs() {
    let mut p = Pair::new();
    let Reply::Now(a) = p.first_join("g", "app") else {
        panic!("a lone member does not wait")
    };
    assert_eq!(a.error, ErrorCode::None);
    assert_eq!(a.generation_id, 1);
    assert_eq!(a.leader, a.member_id);
    assert_eq!(a.protocol_name.as_deref(), Some("range"));
    assert_eq!(a.members.len(), 1);
    assert_eq!(a.members[0].metadata, b"app");
    assert_eq!(p.state("g"), "CompletingRebalance");
    let id = a.member_id;
    assert_eq!(
        p.sync("g", 1, &id, &[(&id, b"x")]),
        Reply::Now(ok_sync(b"x"))
    );
    assert_eq!(p.state("g"), "Stable");
    assert_eq!(p.heartbeat("g", 1, &id), ErrorCode::None);
    assert_eq!(p.records.len(), 1, "the Stable generation is logged");
}

#[test]
fn old_clients_join_without_member_id_round_trip() {
    let mut p = Pair::new();
    let a = p.join_now(JoinRequest {
        api_version: 3,
        ..join("g", "", "old")
    });
    assert_eq!(a.error, ErrorCode::None);
    assert!(a.member_id.starts_with("old-"));
}

#[test]
fn second_member_triggers_rebalance_and_gets_assignment() {
    let mut p = Pair::new();
    let (generation, a, b) = p.stable_pair("g");
    assert_eq!(generation, 2);
    let d = &p.c.describe(vec!["g".into()])[0];
    assert_eq!(d.members.len(), 2);
    assert_eq!(d.protocol_data, "range");
    assert_eq!(d.members[0].member_id, a);
    assert_eq!(d.members[1].assignment, b"B2");
    assert_eq!(p.heartbeat("g", generation, &b), ErrorCode::None);
}

#[test]
fn member_leaving_mid_generation_rebalances_the_rest() {
    let mut p = Pair::new();
    let (generation, a, b) = p.stable_pair("g");
    let ans = p.c.leave(
        p.now,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![LeavingMember {
                member_id: b.clone(),
                group_instance_id: None,
            }],
        },
    );
    assert_eq!(ans.members[0].error, ErrorCode::None);
    assert_eq!(
        p.heartbeat("g", generation, &a),
        ErrorCode::RebalanceInProgress
    );
    assert_eq!(p.heartbeat("g", generation, &b), ErrorCode::UnknownMemberId);
    let again = p.join_now(join("g", &a, "a"));
    assert_eq!(again.generation_id, generation + 1);
    assert_eq!(again.members.len(), 1);
}

#[test]
fn session_expiry_removes_member_and_rebalances() {
    let mut p = Pair::new();
    let (generation, a, b) = p.stable_pair("g");
    for _ in 0..3 {
        p.advance(Duration::from_millis(4_000));
        let e = p.heartbeat("g", generation, &a);
        if e == ErrorCode::RebalanceInProgress {
            break;
        }
        assert_eq!(e, ErrorCode::None);
    }
    assert_eq!(
        p.heartbeat("g", generation, &a),
        ErrorCode::RebalanceInProgress
    );
    assert_eq!(p.heartbeat("g", generation, &b), ErrorCode::UnknownMemberId);
    assert_eq!(p.join_now(join("g", &a, "a")).members.len(), 1);
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let mut p = Pair::new();
    let (generation, a, b) = p.stable_pair("g");
    let Reply::Pending(ta) = p.join(join("g", &a, "a")) else {
        panic!("a waits for b")
    };
    // b keeps heartbeating but never rejoins.
    for _ in 0..10 {
        assert_eq!(
            p.heartbeat("g", generation, &b),
            ErrorCode::RebalanceInProgress
        );
        p.advance(Duration::from_millis(5_000));
        if p.state("g") != "PreparingRebalance" {
            break;
        }
    }
    let ans = p.take_join(ta);
    assert_eq!(ans.generation_id, generation + 1);
    assert_eq!(ans.members.len(), 1);
    assert_eq!(p.heartbeat("g", generation, &b), ErrorCode::UnknownMemberId);
}

#[test]
fn static_member_restart_keeps_assignment_without_rebalance() {
    let mut p = Pair::new();
    let Reply::Now(a) = p.join(static_join("g", "", "ia", 5)) else {
        panic!()
    };
    assert_eq!(
        a.error,
        ErrorCode::None,
        "static members skip MEMBER_ID_REQUIRED"
    );
    let a_id = a.member_id;
    p.sync("g", 1, &a_id, &[(&a_id, b"A")]);
    let Reply::Pending(tb) = p.join(static_join("g", "", "ib", 5)) else {
        panic!()
    };
    let Reply::Now(a2) = p.join(static_join("g", &a_id, "ia", 5)) else {
        panic!()
    };
    let b = p.take_join(tb);
    let Reply::Pending(tsb) = p.sync("g", 2, &b.member_id, &[]) else {
        panic!()
    };
    p.sync("g", 2, &a_id, &[(&a_id, b"A"), (&b.member_id, b"B")]);
    assert_eq!(p.take_sync(tsb).assignment, b"B");
    assert_eq!(a2.generation_id, 2);

    // b restarts: new member id, same generation, same assignment, no rebalance.
    let b2 = p.join_now(static_join("g", "", "ib", 5));
    assert_eq!(b2.error, ErrorCode::None);
    assert_ne!(b2.member_id, b.member_id);
    assert_eq!(b2.generation_id, 2);
    assert_eq!(p.state("g"), "Stable");
    assert_eq!(
        p.sync("g", 2, &b2.member_id, &[]),
        Reply::Now(ok_sync(b"B"))
    );
    assert_eq!(p.heartbeat("g", 2, &a_id), ErrorCode::None);
    // The old incarnation is fenced.
    let fenced = HeartbeatRequest {
        group_id: "g".into(),
        generation_id: 2,
        member_id: b.member_id.clone(),
        group_instance_id: Some("ib".into()),
    };
    assert_eq!(p.c.heartbeat(p.now, &fenced), ErrorCode::FencedInstanceId);
    let j = p.join_now(static_join("g", &b.member_id, "ib", 5));
    assert_eq!(j.error, ErrorCode::FencedInstanceId);
}

#[test]
fn static_leader_restart_v9_skips_assignment() {
    let mut p = Pair::new();
    let a = p.join_now(static_join("g", "", "ia", 9));
    p.sync("g", 1, &a.member_id, &[(&a.member_id, b"A")]);
    let a2 = p.join_now(static_join("g", "", "ia", 9));
    assert!(a2.skip_assignment);
    assert_eq!(a2.leader, a2.member_id);
    assert_eq!(a2.members.len(), 1);
    let a3 = p.join_now(static_join("g", "", "ia", 8));
    assert!(!a3.skip_assignment);
    assert_eq!(
        a3.leader, a2.member_id,
        "older leaders see the previous leader id"
    );
}

#[test]
fn static_member_leaves_by_instance_id() {
    let mut p = Pair::new();
    let a = p.join_now(static_join("g", "", "ia", 5));
    let ans = p.c.leave(
        p.now,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![
                LeavingMember {
                    member_id: String::new(),
                    group_instance_id: Some("ia".into()),
                },
                LeavingMember {
                    member_id: String::new(),
                    group_instance_id: Some("nope".into()),
                },
                LeavingMember {
                    member_id: "x".into(),
                    group_instance_id: None,
                },
            ],
        },
    );
    p.drain();
    let errors: Vec<ErrorCode> = ans.members.iter().map(|m| m.error).collect();
    assert_eq!(
        errors,
        [
            ErrorCode::None,
            ErrorCode::UnknownMemberId,
            ErrorCode::UnknownMemberId
        ]
    );
    assert_eq!(p.state("g"), "Empty");
    assert_eq!(
        p.heartbeat("g", a.generation_id, &a.member_id),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn initial_rebalance_delay_waits_and_extends() {
    let mut p = Pair::with(GroupConfig {
        initial_rebalance_delay: Duration::from_millis(3_000),
        ..GroupConfig::default()
    });
    let start = p.now;
    let Reply::Pending(ta) = p.first_join("g", "a") else {
        panic!("the delay parks the join")
    };
    assert_eq!(
        p.c.next_deadline(),
        Some(start + Duration::from_millis(3_000))
    );
    p.advance(Duration::from_millis(1_000));
    let Reply::Pending(tb) = p.first_join("g", "b") else {
        panic!()
    };
    assert_eq!(
        p.c.next_deadline(),
        Some(start + Duration::from_millis(4_000))
    );
    p.advance(Duration::from_millis(2_500));
    assert!(p.completed.is_empty(), "still in the extended delay");
    p.advance(Duration::from_millis(600));
    let (a, b) = (p.take_join(ta), p.take_join(tb));
    assert_eq!((a.generation_id, b.generation_id), (1, 1));
    assert_eq!(
        a.members.len() + b.members.len(),
        2,
        "only the leader sees members"
    );
}

#[test]
fn sync_timeout_removes_a_leader_that_never_syncs() {
    let mut p = Pair::new();
    let (generation, a, b) = p.stable_pair("g");
    let Reply::Pending(ta) = p.join(join("g", &a, "a")) else {
        panic!()
    };
    let Reply::Now(b2) = p.join(join("g", &b, "b")) else {
        panic!()
    };
    p.take_join(ta);
    let Reply::Pending(tsb) = p.sync("g", generation + 1, &b, &[]) else {
        panic!()
    };
    assert_eq!(b2.generation_id, generation + 1);
    p.advance(Duration::from_millis(REBALANCE_MS as u64));
    assert_eq!(p.take_sync(tsb).error, ErrorCode::RebalanceInProgress);
    assert_eq!(
        p.heartbeat("g", generation + 1, &a),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn protocol_selection_and_inconsistent_protocols() {
    let mut p = Pair::new();
    let mut ra = join("g", "", "a");
    ra.api_version = 3;
    ra.protocols = vec![proto("range", b"1"), proto("roundrobin", b"2")];
    let a = p.join_now(ra.clone());
    p.sync("g", 1, &a.member_id, &[]);
    let mut rb = join("g", "", "b");
    rb.api_version = 3;
    rb.protocols = vec![proto("roundrobin", b"3"), proto("range", b"4")];
    let Reply::Pending(tb) = p.join(rb.clone()) else {
        panic!()
    };
    let mut rc = rb.clone();
    rc.protocols = vec![proto("roundrobin", b"5")];
    let Reply::Pending(tc) = p.join(rc) else {
        panic!()
    };
    ra.member_id = a.member_id;
    let Reply::Now(a2) = p.join(ra) else { panic!() };
    assert_eq!(a2.protocol_name.as_deref(), Some("roundrobin"));
    assert_eq!(
        a2.members[0].metadata, b"2",
        "metadata of the chosen protocol"
    );
    p.take_join(tb);
    p.take_join(tc);

    let mut bad = rb.clone();
    bad.protocols = vec![proto("sticky", b"")];
    assert_eq!(p.join_now(bad).error, ErrorCode::InconsistentGroupProtocol);
    let mut bad_type = rb;
    bad_type.protocol_type = "connect".into();
    assert_eq!(
        p.join_now(bad_type).error,
        ErrorCode::InconsistentGroupProtocol
    );
    let mut empty = join("h", "", "a");
    empty.protocols.clear();
    assert_eq!(
        p.join_now(empty).error,
        ErrorCode::InconsistentGroupProtocol
    );
    assert_eq!(
        p.state("h"),
        "Dead",
        "a rejected join leaves no group behind"
    );
}

#[test]
fn sync_v5_checks_protocol_type_and_name() {
    let mut p = Pair::new();
    let Reply::Now(a) = p.first_join("g", "a") else {
        panic!()
    };
    let mut req = sync_req("g", 1, &a.member_id, &[]);
    req.protocol_name = Some("roundrobin".into());
    let r = p.c.sync(p.now, req.clone());
    assert_eq!(
        r,
        Reply::Now(SyncAnswer::error(ErrorCode::InconsistentGroupProtocol))
    );
    req.protocol_name = Some("range".into());
    req.protocol_type = Some("consumer".into());
    let Reply::Pending(t) = p.c.sync(p.now, req) else {
        panic!("the leader's sync waits for its record")
    };
    p.drain();
    assert_eq!(p.take_sync(t), ok_sync(b""));
}

#[test]
fn follower_rejoin_without_change_is_answered_at_once_leader_rejoin_rebalances() {
    let mut p = Pair::new();
    let (generation, a, b) = p.stable_pair("g");
    let again = p.join_now(join("g", &b, "b"));
    assert_eq!((again.generation_id, again.members.len()), (generation, 0));
    assert_eq!(p.state("g"), "Stable");
    // A cooperative member's rejoin with new metadata (owned partitions) rebalances.
    let mut changed = join("g", &b, "b");
    changed.protocols = vec![proto("range", b"owned:0")];
    assert!(matches!(p.join(changed), Reply::Pending(_)));
    assert_eq!(p.state("g"), "PreparingRebalance");
    assert_eq!(p.join_now(join("g", &a, "a")).generation_id, generation + 1);
}

/// A coordinator of at most two groups of one member each.
fn small_pair() -> Pair {
    Pair::with(GroupConfig {
        limits: GroupLimits {
            groups_max: 2,
            members_per_group_max: 1,
            ..GroupLimits::default()
        },
        ..GroupConfig::default()
    })
}

/// `member` joins the new group `group` alone: its answer.
fn lone_member(p: &mut Pair, group: &str, member: &str) -> JoinAnswer {
    let Reply::Now(a) = p.first_join(group, member) else {
        panic!("a lone member's first join is answered at once")
    };
    a
}

#[test]
fn error_codes_of_join() {
    let mut p = small_pair();
    assert_eq!(
        p.join_now(join("", "", "a")).error,
        ErrorCode::InvalidGroupId
    );
    let short = JoinRequest {
        session_timeout_ms: 10,
        ..join("g", "", "a")
    };
    assert_eq!(p.join_now(short).error, ErrorCode::InvalidSessionTimeout);
    let negative = JoinRequest {
        session_timeout_ms: -1,
        ..join("g", "", "a")
    };
    assert_eq!(p.join_now(negative).error, ErrorCode::InvalidSessionTimeout);
    assert_eq!(
        p.join_now(join("g", "ghost", "a")).error,
        ErrorCode::UnknownMemberId
    );
    lone_member(&mut p, "g", "a");
    assert_eq!(
        p.join_now(join("g", "", "b")).error,
        ErrorCode::GroupMaxSizeReached
    );
    assert_eq!(
        p.join_now(join("g", "ghost", "a")).error,
        ErrorCode::UnknownMemberId
    );
    p.first_join("h", "a");
    assert_eq!(
        p.join_now(join("i", "", "a")).error,
        ErrorCode::CoordinatorNotAvailable
    );
}

#[test]
fn error_codes_of_sync_and_heartbeat() {
    let mut p = small_pair();
    let a = lone_member(&mut p, "g", "a");
    let generation = a.generation_id;
    assert_eq!(
        p.heartbeat("g", generation + 7, &a.member_id),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        p.heartbeat("nope", generation, &a.member_id),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(
        p.heartbeat("", generation, &a.member_id),
        ErrorCode::InvalidGroupId
    );
    let r = p.sync("g", generation + 7, &a.member_id, &[]);
    assert_eq!(
        r,
        Reply::Now(SyncAnswer::error(ErrorCode::IllegalGeneration))
    );
    let r = p.sync("g", generation, "ghost", &[]);
    assert_eq!(r, Reply::Now(SyncAnswer::error(ErrorCode::UnknownMemberId)));
    let r = p.sync("nope", generation, "ghost", &[]);
    assert_eq!(r, Reply::Now(SyncAnswer::error(ErrorCode::UnknownMemberId)));
}

#[test]
fn a_lone_leader_rejoining_with_new_metadata_rebalances_at_once() {
    let mut p = small_pair();
    let a = lone_member(&mut p, "g", "a");
    let generation = a.generation_id;
    let mut changed = join("g", &a.member_id, "a");
    changed.protocols = vec![proto("range", b"new")];
    let reply = p.join(changed);
    assert!(
        matches!(reply, Reply::Now(ref j) if j.generation_id == generation + 1),
        "{reply:?}"
    );
    let r = p.sync("g", generation + 1, &a.member_id, &[]);
    assert_eq!(r, Reply::Now(ok_sync(b"")));
}

#[test]
fn sync_in_preparing_rebalance_is_told_to_rejoin() {
    let mut p = Pair::new();
    let (generation, _a, b) = p.stable_pair("g");
    let Reply::Pending(_) = p.first_join("g", "c") else {
        panic!()
    };
    let r = p.sync("g", generation, &b, &[]);
    assert_eq!(
        r,
        Reply::Now(SyncAnswer::error(ErrorCode::RebalanceInProgress))
    );
}

#[test]
fn pending_member_id_expires_after_session_timeout() {
    let mut p = Pair::new();
    let (_gen, a, _b) = p.stable_pair("g");
    let first = p.join_now(join("g", "", "c"));
    assert_eq!(first.error, ErrorCode::MemberIdRequired);
    assert!(p.c.next_deadline().is_some());
    // a and b keep their sessions; c never comes back.
    for _ in 0..4 {
        p.advance(Duration::from_millis(3_000));
        p.heartbeat("g", 2, &a);
        p.heartbeat("g", 2, &_b);
    }
    assert_eq!(
        p.join_now(join("g", &first.member_id, "c")).error,
        ErrorCode::UnknownMemberId
    );
    assert_eq!(p.state("g"), "Stable");
}

#[test]
fn offsets_commit_and_fetch_with_member_checks() {
    let mut p = Pair::new();
    // A simple consumer commits into a group that does not exist yet.
    let errs = commit_errors(
        &mut p,
        commit_req("simple", -1, "", &[("t", 0, 42), ("missing", 0, 1)]),
    );
    assert_eq!(errs, [ErrorCode::None, ErrorCode::UnknownTopicOrPartition]);
    let f = fetch(&p, "simple", Some(vec![("t", vec![0, 1])]));
    let parts = &f.topics[0].partitions;
    assert_eq!((parts[0].offset, parts[0].leader_epoch), (42, 3));
    assert_eq!(parts[0].metadata.as_deref(), Some("m"));
    assert_eq!((parts[1].offset, parts[1].error), (-1, ErrorCode::None));
    assert_eq!(fetch(&p, "nope", None).topics, []);
    assert_eq!(
        fetch(&p, "nope", Some(vec![("t", vec![5])])).topics[0].partitions[0].offset,
        -1
    );
    assert_eq!(p.state("simple"), "Empty");
    assert_eq!(
        commit_errors(&mut p, commit_req("other", 3, "m", &[("t", 0, 1)])),
        [ErrorCode::IllegalGeneration]
    );

    let (generation, a, b) = p.stable_pair("g");
    assert_eq!(
        commit_errors(&mut p, commit_req("g", generation, &a, &[("t", 0, 7)])),
        [ErrorCode::None]
    );
    assert_eq!(
        commit_errors(&mut p, commit_req("g", -1, "", &[("t", 0, 7)])),
        [ErrorCode::UnknownMemberId]
    );
    assert_eq!(
        commit_errors(&mut p, commit_req("g", generation - 1, &a, &[("t", 0, 7)])),
        [ErrorCode::IllegalGeneration]
    );
    // A rebalance is prepared: members of the current generation may still commit.
    let Reply::Pending(_) = p.first_join("g", "c") else {
        panic!()
    };
    assert_eq!(
        commit_errors(&mut p, commit_req("g", generation, &b, &[("t", 1, 9)])),
        [ErrorCode::None]
    );
    let all = fetch(&p, "g", None);
    assert_eq!(all.topics.len(), 1);
    assert_eq!(
        all.topics[0]
            .partitions
            .iter()
            .map(|x| x.offset)
            .collect::<Vec<_>>(),
        [7, 9]
    );
    // Completing: the generation is not settled yet.
    p.join(join("g", &a, "a"));
    p.join(join("g", &b, "b"));
    assert_eq!(p.state("g"), "CompletingRebalance");
    assert_eq!(
        commit_errors(&mut p, commit_req("g", generation + 1, &b, &[("t", 1, 9)])),
        [ErrorCode::RebalanceInProgress]
    );
}

#[test]
fn offset_limits() {
    let mut p = Pair::with(GroupConfig {
        limits: GroupLimits {
            offsets_max: 1,
            offset_metadata_bytes_max: 4,
            ..GroupLimits::default()
        },
        ..GroupConfig::default()
    });
    let mut req = commit_req("s", -1, "", &[("t", 0, 1), ("t", 1, 1)]);
    req.topics[0].partitions[0].metadata = Some("12345".into());
    let errs = commit_errors(&mut p, req);
    assert_eq!(errs, [ErrorCode::OffsetMetadataTooLarge, ErrorCode::None]);
    let errs = commit_errors(&mut p, commit_req("s", -1, "", &[("t", 1, 2), ("t", 2, 2)]));
    assert_eq!(errs, [ErrorCode::None, ErrorCode::InvalidCommitOffsetSize]);
}

#[test]
fn describe_list_delete() {
    let mut p = Pair::new();
    let (_gen, a, _b) = p.stable_pair("g");
    commit_errors(&mut p, commit_req("s", -1, "", &[("t", 0, 1)]));
    let d = p.c.describe(vec!["nope".into()]);
    assert_eq!((d[0].state, d[0].error), ("Dead", ErrorCode::None));
    let all = p.c.list(&[], &[]);
    assert_eq!(
        all.iter()
            .map(|g| (g.group_id.as_str(), g.state))
            .collect::<Vec<_>>(),
        [("g", "Stable"), ("s", "Empty")]
    );
    assert_eq!(all[0].protocol_type, "consumer");
    let stable = p.c.list(&["stable".to_string()], &[]);
    assert_eq!(stable.len(), 1);
    assert!(p.c.list(&[], &["consumer".to_string()]).is_empty());
    assert_eq!(p.c.list(&[], &["Classic".to_string()]).len(), 2);

    let r = p.c.delete(vec!["g".into(), "s".into(), "nope".into()]);
    p.drain();
    assert_eq!(
        r.iter().map(|(_, e)| *e).collect::<Vec<_>>(),
        [
            ErrorCode::NonEmptyGroup,
            ErrorCode::None,
            ErrorCode::GroupIdNotFound
        ]
    );
    assert_eq!(
        fetch(&p, "s", Some(vec![("t", vec![0])])).topics[0].partitions[0].offset,
        -1
    );
    assert_eq!(
        p.records.last().map(|r| r.value.is_empty()),
        Some(true),
        "a tombstone is logged"
    );
    assert_eq!(p.heartbeat("g", 2, &a), ErrorCode::None);
}

#[test]
fn find_coordinator_answers_groups_and_transactions() {
    let r = find_coordinator(KEY_TYPE_GROUP, vec!["a".into(), "b".into()]);
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|c| c.error == ErrorCode::None));
    assert_eq!(
        find_coordinator(KEY_TYPE_TRANSACTION, vec!["t".into()])[0].error,
        ErrorCode::None
    );
    assert_eq!(
        find_coordinator(7, vec!["x".into()])[0].error,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn idle_coordinator_has_no_deadline() {
    let mut p = Pair::new();
    assert_eq!(p.c.next_deadline(), None);
    let (generation, a, b) = p.stable_pair("g");
    assert!(p.c.next_deadline().is_some());
    for m in [&a, &b] {
        p.c.leave(
            p.now,
            LeaveRequest {
                group_id: "g".into(),
                members: vec![LeavingMember {
                    member_id: m.clone(),
                    group_instance_id: None,
                }],
            },
        );
    }
    p.drain();
    assert_eq!(p.state("g"), "Empty");
    assert_eq!(p.c.next_deadline(), None);
    assert_eq!(p.heartbeat("g", generation, &a), ErrorCode::UnknownMemberId);
    p.c.on_timer(p.now + Duration::from_secs(3600));
}

#[test]
fn replay_rebuilds_groups_offsets_and_static_members() {
    let mut p = Pair::new();
    let a = p.join_now(static_join("g", "", "ia", 5));
    p.sync("g", 1, &a.member_id, &[(&a.member_id, b"A")]);
    commit_errors(
        &mut p,
        commit_req("g", 1, &a.member_id, &[("t", 0, 5), ("u", 2, 6)]),
    );
    commit_errors(&mut p, commit_req("gone", -1, "", &[("t", 0, 1)]));
    p.c.delete(vec!["gone".into()]);
    p.drain();

    let mut q = GroupCoordinator::new(GroupConfig::default());
    for r in &p.records {
        q.apply(p.now, &r.key, &r.value)
            .expect("records this coordinator wrote replay");
    }
    assert_eq!(q.records().len(), 0, "replay logs nothing");
    assert_eq!(
        q.describe(vec!["g".into(), "gone".into()]),
        p.c.describe(vec!["g".into(), "gone".into()])
    );
    let f = |c: &GroupCoordinator| {
        c.fetch(&FetchGroup {
            group_id: "g".into(),
            topics: None,
        })
    };
    assert_eq!(f(&q), f(&p.c));
    // The restarted static member gets its assignment back from the replayed state.
    let again = match q.join(p.now, static_join("g", "", "ia", 5)) {
        Reply::Now(j) => j,
        Reply::Pending(t) => panic!("parked {t:?}"),
    };
    assert_eq!(again.generation_id, 1);
    let s = q.sync(p.now, sync_req("g", 1, &again.member_id, &[]));
    assert_eq!(s, Reply::Now(ok_sync(b"A")));
}

#[test]
fn damaged_records_are_rejected_without_panic() {
    let mut p = Pair::new();
    let a = p.join_now(static_join("g", "", "ia", 5));
    p.sync("g", 1, &a.member_id, &[(&a.member_id, b"A")]);
    commit_errors(&mut p, commit_req("g", 1, &a.member_id, &[("t", 0, 5)]));
    let mut q = GroupCoordinator::new(GroupConfig::default());
    for r in &p.records {
        for cut in 0..r.value.len() {
            assert!(q.apply(p.now, &r.key, &r.value[..cut]).is_ok() == (cut == 0));
        }
        for cut in 0..r.key.len() {
            assert!(q.apply(p.now, &r.key[..cut], &r.value).is_err());
        }
        let mut long = r.value.clone();
        long.push(0);
        assert_eq!(
            q.apply(p.now, &r.key, &long),
            Err(RecordError::TrailingBytes)
        );
    }
    // A claimed length of 4 GiB is refused, not allocated.
    let mut huge = p.records[0].value.clone();
    huge.truncate(2);
    huge.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(
        q.apply(p.now, &p.records[0].key, &huge),
        Err(RecordError::Truncated)
    );
    assert_eq!(
        q.apply(p.now, &[0, 9], &[]),
        Err(RecordError::UnknownVersion(9))
    );
}

#[test]
fn member_ids_never_used_leave_no_group_behind() {
    let mut p = Pair::with(GroupConfig {
        limits: GroupLimits {
            groups_max: 1,
            ..GroupLimits::default()
        },
        ..GroupConfig::default()
    });
    assert_eq!(
        p.join_now(join("g", "", "a")).error,
        ErrorCode::MemberIdRequired
    );
    assert_eq!(p.state("g"), "Empty");
    p.advance(Duration::from_millis(SESSION_MS as u64));
    assert_eq!(p.state("g"), "Dead");
    assert_eq!(p.c.next_deadline(), None);
    assert!(p.records.is_empty());
    assert_eq!(
        p.join_now(join("h", "", "a")).error,
        ErrorCode::MemberIdRequired
    );
}

#[test]
fn a_refused_commit_changes_no_offset_and_creates_no_group() {
    let mut p = Pair::new();
    commit_errors(&mut p, commit_req("s", -1, "", &[("t", 0, 5)]));
    let held = p.c.offsets_held;

    let answers =
        p.c.commit(p.now, 1, commit_req("s", -1, "", &[("t", 0, 9)]), |_, _| {
            true
        });
    assert_eq!(
        answers[0].partitions,
        [(0, ErrorCode::None)],
        "checked, not yet stored"
    );
    assert_eq!(p.refuse(), Some(ErrorCode::NotCoordinator));
    let offset =
        |p: &Pair| fetch(p, "s", Some(vec![("t", vec![0])])).topics[0].partitions[0].offset;
    assert_eq!(offset(&p), 5);

    let answers = p.c.commit(
        p.now,
        1,
        commit_req("new", -1, "", &[("t", 0, 1)]),
        |_, _| true,
    );
    assert_eq!(answers[0].partitions, [(0, ErrorCode::None)]);
    assert_eq!(p.refuse(), Some(ErrorCode::NotCoordinator));
    assert_eq!(p.c.describe(vec!["new".into()])[0].state, "Dead");
    assert_eq!(p.c.offsets_held, held);
    assert_eq!(
        p.c.records().len(),
        0,
        "nothing of a refused commit is written later"
    );
    assert_eq!(p.c.next_deadline(), None);
}

#[test]
fn a_refused_sync_answers_every_parked_sync_and_rebalances() {
    let mut p = Pair::new();
    let (generation, a, b) = p.stable_pair("g");
    let Reply::Pending(ta) = p.join(join("g", &a, "a")) else {
        panic!("the leader's rejoin rebalances")
    };
    let Reply::Now(b2) = p.join(join("g", &b, "b")) else {
        panic!("the last rejoin completes the join")
    };
    let a2 = p.take_join(ta);
    assert_eq!(a2.generation_id, generation + 1);
    let Reply::Pending(tb) = p.sync("g", b2.generation_id, &b, &[]) else {
        panic!("follower waits for the leader")
    };
    let assign: [(&str, &[u8]); 2] = [(&a, b"A"), (&b, b"B")];
    let leader =
        p.c.sync(p.now, sync_req("g", a2.generation_id, &a, &assign));
    let Reply::Pending(tl) = leader else {
        panic!("the leader waits for its record: {leader:?}")
    };
    assert_eq!(p.refuse(), Some(ErrorCode::NotCoordinator));
    let failed = SyncAnswer::error(ErrorCode::NotCoordinator);
    assert_eq!(p.take_sync(tl), failed);
    assert_eq!(p.take_sync(tb), failed);
    assert_eq!(p.state("g"), "PreparingRebalance");
    let members = &p.c.describe(vec!["g".into()])[0].members;
    assert!(members.iter().all(|m| m.assignment.is_empty()));
    assert_eq!(
        p.heartbeat("g", a2.generation_id, &b),
        ErrorCode::RebalanceInProgress
    );
}

#[test]
fn a_refused_delete_brings_the_group_back() {
    let mut p = Pair::new();
    commit_errors(&mut p, commit_req("s", -1, "", &[("t", 0, 5)]));
    let held = p.c.offsets_held;
    let r = p.c.delete(vec!["s".into()]);
    assert_eq!(r, [("s".into(), ErrorCode::None)]);
    assert_eq!(p.refuse(), Some(ErrorCode::NotCoordinator));
    assert_eq!(p.state("s"), "Empty");
    assert_eq!(
        fetch(&p, "s", Some(vec![("t", vec![0])])).topics[0].partitions[0].offset,
        5
    );
    assert_eq!(p.c.offsets_held, held);
}

#[test]
fn a_refused_static_takeover_keeps_the_old_member() {
    let mut p = Pair::new();
    let a = p.join_now(static_join("g", "", "ia", 5));
    p.sync("g", 1, &a.member_id, &[(&a.member_id, b"A")]);
    let Reply::Now(a2) = p.c.join(p.now, static_join("g", "", "ia", 5)) else {
        panic!("a Stable group's static member comes back at once")
    };
    assert_ne!(a2.member_id, a.member_id);
    assert_eq!(p.refuse(), Some(ErrorCode::NotCoordinator));
    assert_eq!(p.heartbeat("g", 1, &a.member_id), ErrorCode::None);
    assert_eq!(
        p.heartbeat("g", 1, &a2.member_id),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn an_emptied_group_whose_record_is_refused_is_written_at_the_retry() {
    let mut p = Pair::new();
    let Reply::Now(a) = p.first_join("g", "a") else {
        panic!("a lone member is answered at once")
    };
    p.sync("g", 1, &a.member_id, &[(&a.member_id, b"A")]);
    let session = Duration::from_millis(SESSION_MS as u64);
    p.now = p.now + session;
    p.c.on_timer(p.now);
    assert_eq!(p.state("g"), "Empty", "the member expired");
    assert_eq!(p.c.records().len(), 1);
    assert_eq!(p.refuse(), Some(ErrorCode::NotCoordinator));
    assert_eq!(p.state("g"), "Empty", "membership is not rolled back");
    assert_eq!(p.c.records().len(), 1, "kept for the next write");
    assert_eq!(p.c.next_deadline(), Some(p.now + durability::RETRY_BACKOFF));

    // Earlier records failing again are no request's error.
    p.now = p.now + durability::RETRY_BACKOFF;
    p.c.on_timer(p.now);
    assert_eq!(p.refuse(), None);
    assert_eq!(p.c.records().len(), 1, "one record per group, the newest");

    p.advance(durability::RETRY_BACKOFF);
    assert_eq!(p.c.records().len(), 0);
    assert_eq!(p.c.next_deadline(), None);
    let last = p.records.last().expect("written at the retry");
    let mut q = GroupCoordinator::new(GroupConfig::default());
    q.apply(p.now, &last.key, &last.value).expect("replays");
    assert_eq!(q.describe(vec!["g".into()])[0].state, "Empty");
}

#[test]
fn static_restart_with_new_metadata_but_the_same_protocol_keeps_the_generation() {
    let mut p = Pair::new();
    let a = p.join_now(static_join("g", "", "ia", 5));
    p.sync("g", 1, &a.member_id, &[(&a.member_id, b"A")]);
    // A restarted consumer sends other metadata (it owns nothing yet) for the same protocol.
    let restarted = JoinRequest {
        protocols: vec![proto("range", b"owns nothing")],
        ..static_join("g", "", "ia", 5)
    };
    let a2 = p.join_now(restarted);
    assert_eq!((a2.error, a2.generation_id), (ErrorCode::None, 1));
    assert_eq!(p.state("g"), "Stable");
    let described = &p.c.describe(vec!["g".into()])[0];
    assert_eq!(described.members[0].metadata, b"owns nothing");
    assert_eq!(
        p.sync("g", 1, &a2.member_id, &[]),
        Reply::Now(ok_sync(b"A"))
    );
}

#[test]
fn static_restart_that_changes_the_selected_protocol_rebalances() {
    let mut p = Pair::new();
    let both = |first: &str, second: &str| vec![proto(first, b""), proto(second, b"")];
    let first = JoinRequest {
        protocols: both("range", "cooperative-sticky"),
        ..static_join("g", "", "ia", 5)
    };
    let a = p.join_now(first);
    assert_eq!(a.protocol_name.as_deref(), Some("range"));
    p.sync("g", 1, &a.member_id, &[(&a.member_id, b"A")]);
    // The lone member now prefers the other protocol: the group would select it.
    let restarted = JoinRequest {
        protocols: both("cooperative-sticky", "range"),
        ..static_join("g", "", "ia", 5)
    };
    let a2 = p.join_now(restarted);
    assert_eq!((a2.error, a2.generation_id), (ErrorCode::None, 2));
    assert_eq!(a2.protocol_name.as_deref(), Some("cooperative-sticky"));
}

/// The wall clock when the expiry tests start.
const WALL_MS: i64 = 1_700_000_000_000;
const RETENTION_MS: i64 = 60_000;
const CHECK_MS: u64 = 10_000;

/// A coordinator whose offsets expire after `RETENTION_MS`, looked for every `CHECK_MS`, with
/// the wall clock reading `WALL_MS` now.
fn expiring() -> Pair {
    let mut p = Pair::with(expiring_config());
    p.c.set_clock(p.now, WALL_MS);
    p
}

fn expiring_config() -> GroupConfig {
    GroupConfig {
        offsets_retention_ms: RETENTION_MS,
        offsets_retention_check_interval: Duration::from_millis(CHECK_MS),
        ..GroupConfig::default()
    }
}

/// The wall clock at the pair's `now` (it moves as the monotonic clock does).
fn wall_ms(p: &Pair) -> i64 {
    let since = p.now - Instant::from_nanos(1_000_000_000);
    WALL_MS + i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// The instant the wall clock reads `unix_ms`.
fn at_wall(unix_ms: i64) -> Instant {
    let ms = u64::try_from(unix_ms - WALL_MS).unwrap_or(0);
    Instant::from_nanos(1_000_000_000) + Duration::from_millis(ms)
}

fn commit_at(p: &mut Pair, group: &str, generation: i32, member: &str, partition: i32) {
    let unix_ms = wall_ms(p);
    let answers = p.c.commit(
        p.now,
        unix_ms,
        commit_req(group, generation, member, &[("t", partition, 7)]),
        |_, _| true,
    );
    assert_eq!(answers[0].partitions, [(partition, ErrorCode::None)]);
    p.drain();
}

fn leave_all(p: &mut Pair, group: &str, members: &[&String]) {
    for m in members {
        p.c.leave(
            p.now,
            LeaveRequest {
                group_id: group.into(),
                members: vec![LeavingMember {
                    member_id: (*m).clone(),
                    group_instance_id: None,
                }],
            },
        );
    }
    p.drain();
    assert_eq!(p.state(group), "Empty");
}

fn partitions(p: &Pair, group: &str) -> Vec<i32> {
    let fetched = p.c.fetch(&FetchGroup {
        group_id: group.into(),
        topics: None,
    });
    fetched
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.partition))
        .collect()
}

fn listed(p: &Pair) -> Vec<String> {
    p.c.list(&[], &[]).into_iter().map(|g| g.group_id).collect()
}

/// A coordinator that replays `records` at `p`'s instant, its wall clock reading `unix_ms`.
fn replayed(p: &Pair, records: &[GroupRecord], unix_ms: i64) -> Pair {
    let mut q = Pair::with(expiring_config());
    q.now = p.now;
    q.c.set_clock(q.now, unix_ms);
    for r in records {
        q.c.apply(q.now, &r.key, &r.value).expect("replays");
    }
    q
}

#[test]
fn offsets_expire_one_by_one_from_their_commit_for_a_standalone_consumer() {
    let mut p = expiring();
    let t0 = wall_ms(&p);
    commit_at(&mut p, "solo", -1, "", 0);
    p.advance(Duration::from_millis(30_000));
    commit_at(&mut p, "solo", -1, "", 1);
    // The look at 10 s saw the first commit: the broker sleeps until it expires, not an
    // interval at a time.
    assert_eq!(p.c.next_deadline(), Some(at_wall(t0 + RETENTION_MS)));
    p.advance(Duration::from_millis(29_999));
    assert_eq!(partitions(&p, "solo"), [0, 1]);
    p.advance(Duration::from_millis(1));
    assert_eq!(partitions(&p, "solo"), [1]);
    let tombstone = p.records.last().expect("logged");
    assert!(tombstone.value.is_empty(), "an offset tombstone");
    assert_eq!(listed(&p), ["solo"]);
    // The last one goes with its group: gone from ListGroups; its offset's tombstone and then
    // the group's logged.
    let logged = p.records.len();
    p.advance(Duration::from_millis(30_000));
    assert_eq!(partitions(&p, "solo"), Vec::<i32>::new());
    assert_eq!(listed(&p), Vec::<String>::new());
    assert_eq!(p.c.describe(vec!["solo".into()])[0].state, "Dead");
    assert_eq!(p.c.next_deadline(), None, "nothing left to look for");
    let last: Vec<&GroupRecord> = p.records[logged..].iter().collect();
    assert_eq!(last.len(), 2);
    assert!(last.iter().all(|r| r.value.is_empty()));
    assert_eq!(last[0].key, p.records[1].key, "partition 1's commit key");
    let q = replayed(&p, &p.records, wall_ms(&p));
    assert!(q.c.list(&[], &[]).is_empty(), "a restart agrees");
}

#[test]
fn offsets_expire_counted_from_when_the_group_became_empty_and_never_with_members() {
    let mut p = expiring();
    let (generation, a, b) = p.stable_pair("g");
    commit_at(&mut p, "g", generation, &a, 0);
    // Members keep the offsets however old the commit.
    for _ in 0..20 {
        p.advance(Duration::from_millis(5_000));
        assert_eq!(p.heartbeat("g", generation, &a), ErrorCode::None);
        assert_eq!(p.heartbeat("g", generation, &b), ErrorCode::None);
    }
    assert_eq!(p.state("g"), "Stable");
    assert_eq!(partitions(&p, "g"), [0]);
    leave_all(&mut p, "g", &[&a, &b]);
    // The emptied group's record ends with when it became Empty.
    let emptied = p.records.last().expect("logged").value.clone();
    assert_eq!(emptied[emptied.len() - 8..], wall_ms(&p).to_be_bytes());
    // A restart from here (the wall clock moved on while it was down) knows it too.
    let mut q = replayed(&p, &p.records, wall_ms(&p) + 5_000);
    for pair in [&mut p, &mut q] {
        pair.advance(Duration::from_millis(54_999));
        assert_eq!(partitions(pair, "g"), [0], "counted from the emptying");
        pair.advance(Duration::from_millis(CHECK_MS));
        assert_eq!(listed(pair), Vec::<String>::new());
    }
}

#[test]
fn a_group_value_of_version_1_still_reads_and_its_offsets_age_from_their_commit() {
    let mut p = expiring();
    let (generation, a, b) = p.stable_pair("g");
    commit_at(&mut p, "g", generation, &a, 0);
    for _ in 0..6 {
        p.advance(Duration::from_millis(5_000));
        assert_eq!(p.heartbeat("g", generation, &a), ErrorCode::None);
        assert_eq!(p.heartbeat("g", generation, &b), ErrorCode::None);
    }
    leave_all(&mut p, "g", &[&a, &b]);
    // As written before "empty since" existed: version 1, without its last 8 bytes.
    let mut records = p.records.clone();
    for r in records.iter_mut().filter(|r| r.key.starts_with(&[0, 2])) {
        r.value[..2].copy_from_slice(&1u16.to_be_bytes());
        r.value.truncate(r.value.len() - 8);
    }
    let mut q = replayed(&p, &records, wall_ms(&p));
    assert_eq!(q.state("g"), "Empty");
    // Kafka's rule for a group stored without the time: each offset from its commit, 30 s ago.
    q.advance(Duration::from_millis(30_000));
    assert_eq!(partitions(&q, "g"), Vec::<i32>::new());
    assert_eq!(listed(&q), Vec::<String>::new());
}

#[test]
fn an_empty_group_without_offsets_goes_at_the_next_look_and_a_failed_write_keeps_it() {
    let mut p = expiring();
    let (_, a, b) = p.stable_pair("g");
    leave_all(&mut p, "g", &[&a, &b]);
    let next = p.c.next_deadline().expect("a look is due");
    p.now = next;
    p.c.on_timer(p.now);
    // The disk refuses the tombstone (the broker's timer answers no one with the error).
    assert_eq!(p.refuse(), Some(ErrorCode::NotCoordinator));
    assert_eq!(listed(&p), ["g"], "kept while its tombstone is not stored");
    assert_eq!(
        p.c.next_deadline(),
        Some(next + Duration::from_millis(CHECK_MS))
    );
    p.advance(Duration::from_millis(CHECK_MS));
    assert_eq!(listed(&p), Vec::<String>::new());
}

#[test]
fn a_refused_offset_tombstone_is_tried_again_at_the_next_look() {
    let mut p = expiring();
    commit_at(&mut p, "solo", -1, "", 0);
    p.advance(Duration::from_millis(50_000));
    commit_at(&mut p, "solo", -1, "", 1);
    // Partition 0 expires at 60 s: its tombstone is refused. Partition 1 (due at 110 s) must
    // not hold the retry back.
    let due = p.c.next_deadline().expect("a look is due");
    p.now = due;
    p.c.on_timer(p.now);
    assert_eq!(p.c.records().len(), 1);
    assert_eq!(p.refuse(), Some(ErrorCode::NotCoordinator));
    assert_eq!(partitions(&p, "solo"), [0, 1]);
    p.advance(Duration::from_millis(CHECK_MS));
    assert_eq!(partitions(&p, "solo"), [1]);
}

#[test]
fn groups_with_members_set_no_expiry_deadline() {
    let mut p = expiring();
    let (generation, a, _) = p.stable_pair("g");
    commit_at(&mut p, "g", generation, &a, 0);
    let sessions = p.c.next_deadline();
    // Only the members' sessions: the same deadline with expiry as without.
    let mut q = Pair::new();
    q.now = p.now;
    let (generation, a, _) = q.stable_pair("g");
    commit_at(&mut q, "g", generation, &a, 0);
    assert_eq!(sessions, q.c.next_deadline());
}

#[test]
fn replay_tombstones_the_offsets_an_older_group_tombstone_left_without_their_own() {
    let mut p = Pair::new();
    commit_errors(
        &mut p,
        commit_req("old", -1, "", &[("t", 0, 1), ("t", 1, 2)]),
    );
    p.c.delete(vec!["old".into()]);
    p.drain();
    commit_errors(&mut p, commit_req("old", -1, "", &[("t", 1, 3)]));
    let is_offset_tombstone = |r: &GroupRecord| r.key.starts_with(&[0, 1]) && r.value.is_empty();
    assert_eq!(
        p.records.iter().filter(|r| is_offset_tombstone(r)).count(),
        2
    );
    // A replay of what this coordinator wrote leaves nothing to write.
    let mut q = replayed(&p, &p.records, WALL_MS);
    q.c.replay_done(q.now);
    assert_eq!(q.c.records().len(), 0);
    assert!(
        q.c.next_deadline() > Some(q.now),
        "nothing to write at once"
    );

    // As written before a deleted group's offsets got tombstones: only the group's. Partition
    // 0 would come back once compaction drops that tombstone; partition 1 was committed again.
    let older: Vec<GroupRecord> = p
        .records
        .iter()
        .filter(|r| !is_offset_tombstone(r))
        .cloned()
        .collect();
    let mut q = replayed(&p, &older, WALL_MS);
    q.c.replay_done(q.now);
    assert_eq!(q.c.next_deadline(), Some(q.now), "written at once");
    q.advance(Duration::ZERO);
    let partition_0 = older
        .iter()
        .find(|r| r.key.starts_with(&[0, 1]))
        .map(|r| r.key.clone());
    let written: Vec<Vec<u8>> = q.records.iter().map(|r| r.key.clone()).collect();
    assert_eq!(Some(written), partition_0.map(|k| vec![k]));
    assert!(q.records.iter().all(|r| r.value.is_empty()));
    assert_eq!(partitions(&q, "old"), [1]);
    // Replayed with them, nothing more.
    let mut all = older.clone();
    all.extend(q.records.iter().cloned());
    let mut r = replayed(&p, &all, WALL_MS);
    r.c.replay_done(r.now);
    assert_eq!(r.c.records().len(), 0);
    assert_eq!(partitions(&r, "old"), [1]);
}
