//! [`GroupCoordinator`]: every group this broker coordinates, driven by requests and timers.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use super::limits::GroupConfig;
use super::member_id::IdGenerator;
use super::rebalance::Outbox;
use super::staged::Staged;
use super::state::{Expirable, Group, State};
use super::types::{
    Completed, HeartbeatRequest, LeaveAnswer, LeaveRequest, LeftMember, Reply, SyncAnswer,
    SyncRequest, Ticket,
};
use crate::error::ErrorCode;
use crate::time::Instant;

/// The classic consumer-group coordinator and the committed offsets of every group.
///
/// Method families, in the order the caller drains them after any call (see the module doc):
/// requests (`join`, `sync`, `heartbeat`, `leave`, `commit`, `fetch`, `describe`, `list`,
/// `delete`), the clock (`on_timer`), then `records` (append them to the offsets log and report
/// the outcome with `records_stored` or `records_failed` before sending any answer),
/// `poll_completed` (answers to parked requests) and finally `next_deadline`.
#[derive(Debug)]
pub struct GroupCoordinator {
    pub(crate) config: GroupConfig,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) ids: IdGenerator,
    pub(crate) out: Outbox,
    pub(crate) next_ticket: u64,
    /// Committed offsets across all groups, against `offsets_max`.
    pub(crate) offsets_held: usize,
    /// When to try again to write records a failed write left behind.
    pub(crate) retry_at: Option<Instant>,
    /// When expired offsets were last looked for; `None` until the wall clock is known (the
    /// first look is an interval after it, as Kafka schedules its first cleanup).
    pub(crate) expiry_checked_at: Option<Instant>,
    /// The earliest instant an offset held at the last look expires, if any did not yet.
    pub(crate) next_expiry: Option<Instant>,
    /// During replay: offset keys a group tombstone deleted without a tombstone of their own
    /// (logs written before deleted groups' offsets got one), and no record since.
    pub(crate) orphans: BTreeSet<(String, String, i32)>,
}

impl GroupCoordinator {
    /// A coordinator with no groups.
    pub fn new(config: GroupConfig) -> Self {
        GroupCoordinator {
            ids: IdGenerator::new(config.seed),
            config,
            groups: BTreeMap::new(),
            out: Outbox::default(),
            next_ticket: 0,
            offsets_held: 0,
            retry_at: None,
            expiry_checked_at: None,
            next_expiry: None,
            orphans: BTreeSet::new(),
        }
    }

    /// The wall clock reads `unix_ms` at `now`. Call it at the start and whenever the clocks
    /// move, before the other calls: offset expiry and the time a group became Empty read it
    /// (between calls, the wall clock is taken to move as `now` does). The first call starts
    /// the interval to the first look for expired offsets, as Kafka's first cleanup waits one.
    pub fn set_clock(&mut self, now: Instant, unix_ms: i64) {
        self.out.clock = Some((now, unix_ms));
        self.expiry_checked_at.get_or_insert(now);
    }

    /// The settings the coordinator runs with.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// The next answer to a parked JoinGroup or SyncGroup. A ticket the caller no longer knows
    /// (its connection closed) is dropped by the caller.
    pub fn poll_completed(&mut self) -> Option<(Ticket, Completed)> {
        self.out.completed.pop_front()
    }

    /// The earliest instant at which [`GroupCoordinator::on_timer`] has something to do; `None`
    /// when nothing waits on the clock.
    pub fn next_deadline(&self) -> Option<Instant> {
        // One pass over the groups, as the drain after every group request makes it: their own
        // deadlines, and whether any of them could lose offsets (or itself) to expiry.
        let mut deadline = self.retry_at;
        let mut expirable = Expirable::None;
        for group in self.groups.values() {
            deadline = earliest(deadline, group.next_deadline());
            expirable = expirable.max(Expirable::of(group));
        }
        earliest(deadline, self.expiry_deadline(expirable))
    }

    /// Time passed: expire sessions, handed-out member ids and rebalance timeouts due by `now`.
    /// Safe to call at any time; nothing not yet due changes. Records a failed write left
    /// behind are due again at their retry deadline: the caller's drain writes them.
    pub fn on_timer(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
        }
        let expirable = self.groups.values().map(Expirable::of).max();
        let expiry = self.expiry_deadline(expirable.unwrap_or(Expirable::None));
        if expiry.is_some_and(|t| t <= now) {
            self.expire_offsets(now);
        }
        let due: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        let delay = self.config.initial_rebalance_delay;
        for id in due {
            if let Some(group) = self.groups.get_mut(&id) {
                group.on_timer(&id, now, delay, &mut self.out);
                if group.is_ghost() {
                    // Only handed-out member ids that never came back made it: nothing was
                    // logged for it, and keeping it would let such joins fill `groups_max`.
                    self.groups.remove(&id);
                }
            }
        }
    }

    pub(crate) fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        Ticket(self.next_ticket)
    }

    /// Takes the answer to `ticket` if it is already complete, so the caller gets it at once.
    pub(crate) fn settle<T>(&mut self, ticket: Ticket, pick: impl Fn(Completed) -> T) -> Reply<T> {
        let found = self.out.completed.iter().position(|(t, _)| *t == ticket);
        match found.and_then(|i| self.out.completed.remove(i)) {
            Some((_, answer)) => Reply::Now(pick(answer)),
            None => Reply::Pending(ticket),
        }
    }

    /// SyncGroup: the leader's assignments reach every member.
    pub fn sync(&mut self, now: Instant, req: SyncRequest) -> Reply<SyncAnswer> {
        let limit = self.config.limits.metadata_bytes_max as usize;
        if req.group_id.is_empty() {
            return Reply::Now(SyncAnswer::error(ErrorCode::InvalidGroupId));
        }
        if req.assignments.iter().any(|a| a.assignment.len() > limit) {
            return Reply::Now(SyncAnswer::error(ErrorCode::InvalidRequest));
        }
        let ticket = self.ticket();
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Reply::Now(SyncAnswer::error(ErrorCode::UnknownMemberId));
        };
        if let Err(e) = check_sync(group, &req) {
            return Reply::Now(SyncAnswer::error(e));
        }
        let Some(member) = group.members.get_mut(&req.member_id) else {
            return Reply::Now(SyncAnswer::error(ErrorCode::UnknownMemberId));
        };
        member.session_deadline = now + member.session_timeout;
        match group.state {
            State::Empty => Reply::Now(SyncAnswer::error(ErrorCode::UnknownMemberId)),
            State::PreparingRebalance { .. } => {
                Reply::Now(SyncAnswer::error(ErrorCode::RebalanceInProgress))
            }
            State::Stable => {
                let assignment = member.assignment.clone();
                Reply::Now(group.sync_answer(assignment))
            }
            State::CompletingRebalance { .. } => {
                if let Some(old) = member.sync.replace(ticket) {
                    let answer = SyncAnswer::error(ErrorCode::RebalanceInProgress);
                    self.out.sync(old, answer);
                }
                if group.leader.as_deref() == Some(req.member_id.as_str()) {
                    complete_sync(&req.group_id, group, req.assignments, now, &mut self.out);
                }
                self.settle(ticket, |c| match c {
                    Completed::Sync(a) => a,
                    Completed::Join(_) => SyncAnswer::error(ErrorCode::UnknownServerError),
                })
            }
        }
    }

    /// Heartbeat: keeps a member's session alive and tells it when to rejoin.
    pub fn heartbeat(&mut self, now: Instant, req: &HeartbeatRequest) -> ErrorCode {
        if req.group_id.is_empty() {
            return ErrorCode::InvalidGroupId;
        }
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if group.is_fenced(&req.member_id, req.group_instance_id.as_deref()) {
            return ErrorCode::FencedInstanceId;
        }
        let generation = group.generation;
        let state = group.state;
        let Some(member) = group.members.get_mut(&req.member_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if req.generation_id != generation {
            return ErrorCode::IllegalGeneration;
        }
        member.session_deadline = now + member.session_timeout;
        match state {
            State::Empty => ErrorCode::UnknownMemberId,
            State::PreparingRebalance { .. } => ErrorCode::RebalanceInProgress,
            State::CompletingRebalance { .. } | State::Stable => ErrorCode::None,
        }
    }

    /// LeaveGroup: members leave, by member id or (static members) by instance id.
    pub fn leave(&mut self, now: Instant, req: LeaveRequest) -> LeaveAnswer {
        if req.group_id.is_empty() {
            return LeaveAnswer {
                error: ErrorCode::InvalidGroupId,
                members: Vec::new(),
            };
        }
        let delay = self.config.initial_rebalance_delay;
        let group = self.groups.get_mut(&req.group_id);
        let mut members = Vec::with_capacity(req.members.len());
        let Some(group) = group else {
            for m in req.members {
                members.push(left(
                    m.member_id,
                    m.group_instance_id,
                    ErrorCode::UnknownMemberId,
                ));
            }
            return LeaveAnswer {
                error: ErrorCode::None,
                members,
            };
        };
        for m in req.members {
            let error = match leaving_id(group, &m.member_id, m.group_instance_id.as_deref()) {
                Err(e) => e,
                Ok(Leaving::Pending) => {
                    group.pending.remove(&m.member_id);
                    group.try_complete_join(&req.group_id, now, &mut self.out);
                    ErrorCode::None
                }
                Ok(Leaving::Member(id)) => {
                    group.remove_member(&req.group_id, &id, now, delay, &mut self.out);
                    ErrorCode::None
                }
            };
            members.push(left(m.member_id, m.group_instance_id, error));
        }
        LeaveAnswer {
            error: ErrorCode::None,
            members,
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn left(member_id: String, group_instance_id: Option<String>, error: ErrorCode) -> LeftMember {
    LeftMember {
        member_id,
        group_instance_id,
        error,
    }
}

enum Leaving {
    /// A member id handed out with `MEMBER_ID_REQUIRED` that never joined.
    Pending,
    /// A member, by its id.
    Member(String),
}

/// Which member a LeaveGroup entry names, with Kafka's checks.
fn leaving_id(
    group: &Group,
    member_id: &str,
    instance_id: Option<&str>,
) -> Result<Leaving, ErrorCode> {
    if member_id.is_empty() {
        // v3+: a static member may leave by instance id alone.
        return instance_id
            .and_then(|i| group.static_members.get(i))
            .map(|id| Leaving::Member(id.clone()))
            .ok_or(ErrorCode::UnknownMemberId);
    }
    if group.is_fenced(member_id, instance_id) {
        Err(ErrorCode::FencedInstanceId)
    } else if group.pending.contains_key(member_id) {
        Ok(Leaving::Pending)
    } else if group.members.contains_key(member_id) {
        Ok(Leaving::Member(String::from(member_id)))
    } else {
        Err(ErrorCode::UnknownMemberId)
    }
}

/// Kafka's SyncGroup checks, in its order.
fn check_sync(group: &Group, req: &SyncRequest) -> Result<(), ErrorCode> {
    if group.is_fenced(&req.member_id, req.group_instance_id.as_deref()) {
        Err(ErrorCode::FencedInstanceId)
    } else if !group.members.contains_key(&req.member_id) {
        Err(ErrorCode::UnknownMemberId)
    } else if req.generation_id != group.generation {
        Err(ErrorCode::IllegalGeneration)
    } else if req
        .protocol_type
        .as_ref()
        .is_some_and(|t| group.protocol_type.as_ref() != Some(t))
        || req
            .protocol_name
            .as_ref()
            .is_some_and(|n| group.protocol_name.as_ref() != Some(n))
    {
        // v5: the client names what it believes the generation runs.
        Err(ErrorCode::InconsistentGroupProtocol)
    } else {
        Ok(())
    }
}

/// The leader's assignments arrived: the members hold them, and the record that stores them
/// goes out. The group becomes Stable and the parked syncs (the leader's too) are answered only
/// once it is stored. Members the leader left out get an empty assignment, as in Kafka.
fn complete_sync(
    id: &str,
    group: &mut Group,
    assignments: Vec<super::types::Assignment>,
    now: Instant,
    out: &mut Outbox,
) {
    for m in group.members.values_mut() {
        m.assignment.clear();
    }
    for a in assignments {
        if let Some(m) = group.members.get_mut(&a.member_id) {
            m.assignment = a.assignment;
        }
    }
    let change = Staged::Sync {
        group_id: String::from(id),
        generation: group.generation,
        now,
    };
    out.stage(super::records::group_metadata(id, group), change);
}
