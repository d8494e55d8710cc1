//! A group's transitions between Kafka's states: preparing a rebalance, completing the join
//! phase, and removing members. Answers to parked requests and log records go to an [`Outbox`].

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::records::{self, GroupRecord};
use super::staged::Staged;
use super::state::{Group, State};
use super::types::{Completed, JoinAnswer, JoinedMember, SyncAnswer, Ticket};
use crate::error::ErrorCode;
use crate::time::Instant;

/// A record waiting for the offsets log.
#[derive(Debug)]
pub(crate) struct Pending {
    pub record: GroupRecord,
    /// The change it records is already made (a group emptied), so a failed write keeps the
    /// record to write later; otherwise the change waits for the record and is dropped with it.
    pub keep: bool,
}

/// What transitions produce for the caller: answers to parked requests, records to log, and
/// the changes that wait for their records to be stored.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub completed: VecDeque<(Ticket, Completed)>,
    /// Oldest first: the `retries` a failed write left behind, then the new ones.
    pub records: Vec<Pending>,
    pub retries: usize,
    /// Made once `records` are stored, undone if they are not.
    pub staged: Vec<Staged>,
    /// The wall clock at a monotonic instant, as the caller last told it: transitions stamp
    /// Kafka's timestamps (when a group became Empty) by it.
    pub clock: Option<(Instant, i64)>,
}

impl Outbox {
    /// The wall clock at `at`, if the caller has told it; `at` is never before the instant it
    /// was told at (the monotonic clock only moves on).
    pub(crate) fn unix_ms_at(&self, at: Instant) -> Option<i64> {
        let (told_at, unix_ms) = self.clock?;
        let since = at.saturating_duration_since(told_at);
        Some(unix_ms.saturating_add(i64::try_from(since.as_millis()).unwrap_or(i64::MAX)))
    }

    /// The record of a change already made in memory.
    pub(crate) fn record(&mut self, record: GroupRecord) {
        self.records.push(Pending { record, keep: true });
    }

    /// The record of a change that `change` makes (or undoes) once the write's outcome is known.
    pub(crate) fn stage(&mut self, record: GroupRecord, change: Staged) {
        self.records.push(Pending {
            record,
            keep: false,
        });
        self.staged.push(change);
    }

    /// A record of the change the next [`Outbox::stage`] makes: written with it, dropped with
    /// it.
    pub(crate) fn stage_record(&mut self, record: GroupRecord) {
        self.records.push(Pending {
            record,
            keep: false,
        });
    }

    pub(crate) fn join(&mut self, ticket: Ticket, answer: JoinAnswer) {
        self.completed.push_back((ticket, Completed::Join(answer)));
    }

    pub(crate) fn sync(&mut self, ticket: Ticket, answer: SyncAnswer) {
        self.completed.push_back((ticket, Completed::Sync(answer)));
    }
}

impl Group {
    /// A successful JoinGroup answer for the current generation.
    pub(crate) fn join_answer(&self, member_id: &str, with_members: bool) -> JoinAnswer {
        JoinAnswer {
            error: ErrorCode::None,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            member_id: String::from(member_id),
            members: if with_members {
                self.joined_members()
            } else {
                Vec::new()
            },
        }
    }

    /// Every member with its metadata for the chosen protocol, as the leader needs them.
    pub(crate) fn joined_members(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members_by_seq()
            .into_iter()
            .map(|(member_id, m)| JoinedMember {
                member_id: String::from(member_id),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata_for(protocol).unwrap_or_default().to_vec(),
            })
            .collect()
    }

    /// A successful SyncGroup answer carrying `assignment`.
    pub(crate) fn sync_answer(&self, assignment: Vec<u8>) -> SyncAnswer {
        SyncAnswer {
            error: ErrorCode::None,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment,
        }
    }

    /// Kafka's `prepareRebalance`: leave Stable, CompletingRebalance or Empty for
    /// PreparingRebalance. Parked syncs learn the rebalance; assignments are forgotten.
    pub(crate) fn prepare_rebalance(
        &mut self,
        now: Instant,
        initial_delay: core::time::Duration,
        out: &mut Outbox,
    ) {
        let (deadline, not_before) = match self.state {
            State::PreparingRebalance { .. } => return,
            State::Empty => {
                let timeout = self.rebalance_timeout().max(initial_delay);
                (now + timeout, now + initial_delay)
            }
            State::CompletingRebalance { .. } | State::Stable => {
                (now + self.rebalance_timeout(), now)
            }
        };
        if matches!(self.state, State::CompletingRebalance { .. }) {
            for m in self.members.values_mut() {
                if let Some(ticket) = m.sync.take() {
                    out.sync(ticket, SyncAnswer::error(ErrorCode::RebalanceInProgress));
                }
            }
        }
        for m in self.members.values_mut() {
            m.assignment.clear();
        }
        self.state = State::PreparingRebalance {
            deadline,
            not_before,
        };
    }

    /// Completes the join phase when everyone has rejoined (and the initial delay is over) or
    /// the rebalance timed out.
    pub(crate) fn try_complete_join(&mut self, id: &str, now: Instant, out: &mut Outbox) {
        if let State::PreparingRebalance {
            deadline,
            not_before,
        } = self.state
        {
            if now >= deadline || (now >= not_before && self.all_joined()) {
                self.complete_join(id, now, out);
            }
        }
    }

    /// Kafka's `onCompleteJoin`: drop members that did not rejoin, start the next generation,
    /// elect a leader and answer every parked join.
    fn complete_join(&mut self, id: &str, now: Instant, out: &mut Outbox) {
        let gone: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.join.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for member_id in gone {
            self.forget_member(&member_id, out);
        }
        self.generation = self.generation.checked_add(1).unwrap_or(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader = None;
            self.state = State::Empty;
            // Kafka's `currentStateTimestamp`: the offsets of an Empty group expire from it.
            self.empty_since_ms = out.unix_ms_at(now);
            out.record(records::group_metadata(id, self));
            return;
        }
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.first_member_id();
        }
        self.protocol_name = self.select_protocol();
        self.state = State::CompletingRebalance {
            deadline: now + self.rebalance_timeout(),
        };
        let answers: Vec<(Ticket, JoinAnswer)> = self
            .members
            .iter()
            .filter_map(|(member_id, m)| {
                let is_leader = self.leader.as_deref() == Some(member_id.as_str());
                m.join
                    .map(|j| (j.ticket, self.join_answer(member_id, is_leader)))
            })
            .collect();
        for m in self.members.values_mut() {
            m.join = None;
            m.session_deadline = now + m.session_timeout;
        }
        for (ticket, answer) in answers {
            out.join(ticket, answer);
        }
    }

    fn first_member_id(&self) -> Option<String> {
        self.members
            .iter()
            .min_by_key(|(_, m)| m.seq)
            .map(|(id, _)| id.clone())
    }

    /// Removes a member and answers what it had parked, without touching the state.
    fn forget_member(&mut self, member_id: &str, out: &mut Outbox) {
        let Some(m) = self.members.remove(member_id) else {
            return;
        };
        if let Some(instance) = &m.instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        if let Some(j) = m.join {
            let answer = JoinAnswer::error(ErrorCode::UnknownMemberId, String::from(member_id));
            out.join(j.ticket, answer);
        }
        if let Some(ticket) = m.sync {
            out.sync(ticket, SyncAnswer::error(ErrorCode::UnknownMemberId));
        }
        if self.leader.as_deref() == Some(member_id) {
            self.leader = self.first_member_id();
        }
    }

    /// Kafka's `removeMemberAndUpdateGroup`: a member left or expired.
    pub(crate) fn remove_member(
        &mut self,
        id: &str,
        member_id: &str,
        now: Instant,
        initial_delay: core::time::Duration,
        out: &mut Outbox,
    ) {
        self.forget_member(member_id, out);
        match self.state {
            State::Stable | State::CompletingRebalance { .. } => {
                self.prepare_rebalance(now, initial_delay, out);
                // The last member leaving ends the rebalance at once.
                self.try_complete_join(id, now, out);
            }
            State::PreparingRebalance { .. } => self.try_complete_join(id, now, out),
            State::Empty => {}
        }
    }

    /// Expires handed-out ids, silent members and state deadlines due at `now`.
    pub(crate) fn on_timer(
        &mut self,
        id: &str,
        now: Instant,
        initial_delay: core::time::Duration,
        out: &mut Outbox,
    ) {
        let pending_before = self.pending.len();
        self.pending.retain(|_, deadline| *deadline > now);
        if self.pending.len() != pending_before {
            self.try_complete_join(id, now, out);
        }
        // One removal per turn: each may start or finish a rebalance, which renews the
        // survivors' sessions. Bounded by the member count.
        for _ in 0..=self.members.len() {
            let expired = self
                .members
                .iter()
                .find(|(_, m)| m.expired(now))
                .map(|(id, _)| id.clone());
            match expired {
                Some(member_id) => self.remove_member(id, &member_id, now, initial_delay, out),
                None => break,
            }
        }
        match self.state {
            State::PreparingRebalance { .. } => self.try_complete_join(id, now, out),
            State::CompletingRebalance { deadline } if deadline <= now => {
                // Kafka's pending-sync timeout: whoever has not synced by the rebalance timeout is gone.
                let unsynced: Vec<String> = self
                    .members
                    .iter()
                    .filter(|(_, m)| m.sync.is_none())
                    .map(|(id, _)| id.clone())
                    .collect();
                for member_id in unsynced {
                    self.remove_member(id, &member_id, now, initial_delay, out);
                }
            }
            _ => {}
        }
    }
}
