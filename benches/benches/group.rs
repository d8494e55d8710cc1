//! The group coordinator: a rebalance of 100 members, driven on a fake clock.
//!
//! - `form_100`: 100 consumers join an empty group (each first told MEMBER_ID_REQUIRED, as
//!   clients from JoinGroup v4 are), the initial rebalance delay passes, the leader assigns and
//!   everyone syncs.
//! - `rejoin_100`: a 101st consumer joins a Stable group of 100; all rejoin and sync again.
// The workspace lint steers no_std-capable code to `core`; this code is std by nature.
#![allow(clippy::std_instead_of_core)]

use std::hint::black_box;
use std::time::Duration;

use blazemq_core::ErrorCode;
use blazemq_core::Instant;
use blazemq_core::group::{
    Assignment, Completed, GroupConfig, GroupCoordinator, JoinAnswer, JoinRequest, Protocol, Reply,
    SyncAnswer, SyncRequest, Ticket,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const GROUP: &str = "bench-group";
const MEMBERS: usize = 100;
/// Kafka's default `group.initial.rebalance.delay.ms`: lets the first members arrive together.
const INITIAL_DELAY: Duration = Duration::from_secs(3);

fn config() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay: INITIAL_DELAY,
        ..GroupConfig::default()
    }
}

fn join_request(member_id: &str, client: &str) -> JoinRequest {
    JoinRequest {
        api_version: 5,
        group_id: GROUP.into(),
        session_timeout_ms: 45_000,
        rebalance_timeout_ms: 300_000,
        member_id: member_id.into(),
        group_instance_id: None,
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: vec![0; 64],
        }],
        client_id: client.into(),
        client_host: "/127.0.0.1".into(),
    }
}

fn sync_request(generation_id: i32, member_id: &str, assignments: Vec<Assignment>) -> SyncRequest {
    SyncRequest {
        group_id: GROUP.into(),
        generation_id,
        member_id: member_id.into(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments,
    }
}

/// A coordinator on a fake clock, collecting parked answers.
struct Driver {
    c: GroupCoordinator,
    now: Instant,
    completed: Vec<(Ticket, Completed)>,
}

impl Driver {
    fn new() -> Driver {
        Driver {
            c: GroupCoordinator::new(config()),
            now: Instant::from_nanos(1_000_000_000),
            completed: Vec::new(),
        }
    }

    fn drain(&mut self) {
        self.c.records_stored();
        while let Some(done) = self.c.poll_completed() {
            self.completed.push(done);
        }
    }

    /// A first join: MEMBER_ID_REQUIRED, then the join with the id handed out.
    fn first_join(&mut self, client: &str) -> Reply<JoinAnswer> {
        let Reply::Now(a) = self.c.join(self.now, join_request("", client)) else {
            panic!("a first join is answered at once");
        };
        assert_eq!(a.error, ErrorCode::MemberIdRequired, "v4+ joins need an id");
        let reply = self.c.join(self.now, join_request(&a.member_id, client));
        self.drain();
        reply
    }

    /// Joins answered now or later, in the order the replies came.
    fn answers(&mut self, replies: Vec<Reply<JoinAnswer>>) -> Vec<JoinAnswer> {
        replies
            .into_iter()
            .map(|r| match r {
                Reply::Now(a) => a,
                Reply::Pending(t) => match self.take(t) {
                    Completed::Join(a) => a,
                    other => panic!("a join ticket got {other:?}"),
                },
            })
            .collect()
    }

    fn take(&mut self, t: Ticket) -> Completed {
        let i = self
            .completed
            .iter()
            .position(|(k, _)| *k == t)
            .expect("every parked request is answered once the group moves on");
        self.completed.swap_remove(i).1
    }

    /// The leader assigns one partition per member; followers sync first and wait for it.
    fn sync_all(&mut self, joined: &[JoinAnswer]) -> Vec<SyncAnswer> {
        let leader = joined
            .iter()
            .find(|a| a.member_id == a.leader)
            .expect("one member leads");
        let generation = leader.generation_id;
        let assignments = leader
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| Assignment {
                member_id: m.member_id.clone(),
                assignment: (i as u32).to_be_bytes().to_vec(),
            })
            .collect();
        let mut replies = Vec::with_capacity(joined.len());
        for a in joined.iter().filter(|a| a.member_id != a.leader) {
            replies.push(
                self.c
                    .sync(self.now, sync_request(generation, &a.member_id, vec![])),
            );
        }
        let leader_id = leader.member_id.clone();
        replies.push(
            self.c
                .sync(self.now, sync_request(generation, &leader_id, assignments)),
        );
        self.drain();
        replies
            .into_iter()
            .map(|r| match r {
                Reply::Now(a) => a,
                Reply::Pending(t) => match self.take(t) {
                    Completed::Sync(a) => a,
                    other => panic!("a sync ticket got {other:?}"),
                },
            })
            .collect()
    }

    /// 100 members form a group from empty; returns their join answers.
    fn form(&mut self, members: usize) -> Vec<JoinAnswer> {
        let replies = (0..members)
            .map(|i| self.first_join(&format!("consumer-{i}")))
            .collect();
        self.now = self.now + INITIAL_DELAY;
        self.c.on_timer(self.now);
        self.drain();
        let joined = self.answers(replies);
        let synced = self.sync_all(&joined);
        check(&joined, &synced, members);
        joined
    }

    /// One more member joins a Stable group: everyone rejoins and syncs.
    fn rejoin(&mut self, members: &[JoinAnswer]) -> Vec<JoinAnswer> {
        let mut replies = vec![self.first_join("newcomer")];
        for m in members {
            replies.push(self.c.join(self.now, join_request(&m.member_id, "again")));
        }
        self.drain();
        let joined = self.answers(replies);
        let synced = self.sync_all(&joined);
        check(&joined, &synced, members.len() + 1);
        joined
    }
}

/// Every member joined the same generation and got a distinct assignment.
fn check(joined: &[JoinAnswer], synced: &[SyncAnswer], members: usize) {
    assert_eq!(joined.len(), members);
    assert!(
        joined.iter().all(|a| a.error == ErrorCode::None),
        "joins succeed"
    );
    assert!(
        synced.iter().all(|a| a.error == ErrorCode::None),
        "syncs succeed"
    );
    let mut assignments: Vec<&[u8]> = synced.iter().map(|a| &a.assignment[..]).collect();
    assignments.sort();
    assignments.dedup();
    assert_eq!(
        assignments.len(),
        members,
        "each member has its own assignment"
    );
}

fn rebalance(c: &mut Criterion) {
    let mut group = c.benchmark_group("group_rebalance");
    group.bench_function("form_100", |b| {
        b.iter_batched(
            Driver::new,
            |mut d| black_box(d.form(MEMBERS).len()),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("rejoin_100", |b| {
        b.iter_batched(
            || {
                let mut d = Driver::new();
                let members = d.form(MEMBERS);
                (d, members)
            },
            |(mut d, members)| black_box(d.rejoin(&members).len()),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, rebalance);
criterion_main!(benches);
