//! JoinGroup: first joins, rejoins, static members and the start of a rebalance.

use alloc::string::String;
use core::time::Duration;

use super::coordinator::GroupCoordinator;
use super::records;
use super::staged::Staged;
use super::state::{Group, Member, ParkedJoin, State};
use super::types::{Completed, JoinAnswer, JoinRequest, Protocol, Reply, SyncAnswer};
use crate::error::ErrorCode;
use crate::time::Instant;

/// A join's timeouts, validated.
#[derive(Clone, Copy)]
struct Timeouts {
    session: Duration,
    rebalance: Duration,
}

impl GroupCoordinator {
    /// JoinGroup: joins or rejoins a member; waits (a [`Reply::Pending`]) until every known
    /// member has rejoined or the rebalance times out.
    pub fn join(&mut self, now: Instant, req: JoinRequest) -> Reply<JoinAnswer> {
        let timeouts = match self.check_join(&req) {
            Ok(t) => t,
            Err(e) => return Reply::Now(JoinAnswer::error(e, req.member_id)),
        };
        if !self.groups.contains_key(&req.group_id) {
            if !req.member_id.is_empty() {
                return Reply::Now(JoinAnswer::error(ErrorCode::UnknownMemberId, req.member_id));
            }
            if self.groups.len() >= self.config.limits.groups_max as usize {
                let e = ErrorCode::CoordinatorNotAvailable;
                return Reply::Now(JoinAnswer::error(e, req.member_id));
            }
            if !Group::new().supports(&req.protocol_type, &req.protocols) {
                let e = ErrorCode::InconsistentGroupProtocol;
                return Reply::Now(JoinAnswer::error(e, req.member_id));
            }
            self.groups.insert(req.group_id.clone(), Group::new());
        }
        let group = self.group_mut(&req.group_id);
        if !group.supports(&req.protocol_type, &req.protocols) {
            let e = ErrorCode::InconsistentGroupProtocol;
            return Reply::Now(JoinAnswer::error(e, req.member_id));
        }
        if req.member_id.is_empty() {
            self.join_new(now, req, timeouts)
        } else {
            self.join_known(now, req, timeouts)
        }
    }

    fn check_join(&self, req: &JoinRequest) -> Result<Timeouts, ErrorCode> {
        if req.group_id.is_empty() {
            return Err(ErrorCode::InvalidGroupId);
        }
        let session = u64::try_from(req.session_timeout_ms)
            .map(Duration::from_millis)
            .map_err(|_| ErrorCode::InvalidSessionTimeout)?;
        if session < self.config.session_timeout_min || session > self.config.session_timeout_max {
            return Err(ErrorCode::InvalidSessionTimeout);
        }
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        let rebalance = match u64::try_from(req.rebalance_timeout_ms) {
            Ok(ms) if req.api_version >= 1 => Duration::from_millis(ms),
            _ => session,
        };
        let metadata_bytes: usize = req
            .protocols
            .iter()
            .map(|p| p.name.len() + p.metadata.len())
            .sum();
        if metadata_bytes > self.config.limits.metadata_bytes_max as usize {
            return Err(ErrorCode::InvalidRequest);
        }
        Ok(Timeouts { session, rebalance })
    }

    fn group_mut(&mut self, id: &str) -> &mut Group {
        self.groups
            .get_mut(id)
            .expect("the group exists: join found or created it before this call")
    }

    /// A join with an empty member id: a new member, or a static member restarting.
    fn join_new(&mut self, now: Instant, req: JoinRequest, t: Timeouts) -> Reply<JoinAnswer> {
        let max = self.config.limits.members_per_group_max as usize;
        let group = self.group_mut(&req.group_id);
        let known_instance = req
            .group_instance_id
            .as_ref()
            .is_some_and(|i| group.static_members.contains_key(i));
        if !known_instance && group.member_count() >= max {
            let e = ErrorCode::GroupMaxSizeReached;
            return Reply::Now(JoinAnswer::error(e, req.member_id));
        }
        let member_id = self.ids.member_id(&req.client_id);
        if known_instance {
            return self.replace_static(now, member_id, req, t);
        }
        if req.api_version >= 4 && req.group_instance_id.is_none() {
            // KIP-394: the member must come back with this id, so a client that never receives
            // the answer does not leave a ghost member behind.
            let group = self.group_mut(&req.group_id);
            group.pending.insert(member_id.clone(), now + t.session);
            return Reply::Now(JoinAnswer::error(ErrorCode::MemberIdRequired, member_id));
        }
        self.add_member(now, member_id, req, t)
    }

    /// A join with a member id the group handed out.
    fn join_known(&mut self, now: Instant, req: JoinRequest, t: Timeouts) -> Reply<JoinAnswer> {
        let group = self.group_mut(&req.group_id);
        if group.is_fenced(&req.member_id, req.group_instance_id.as_deref()) {
            let e = ErrorCode::FencedInstanceId;
            return Reply::Now(JoinAnswer::error(e, req.member_id));
        }
        if group.pending.remove(&req.member_id).is_some() {
            let member_id = req.member_id.clone();
            return self.add_member(now, member_id, req, t);
        }
        let Some(member) = group.members.get_mut(&req.member_id) else {
            return Reply::Now(JoinAnswer::error(ErrorCode::UnknownMemberId, req.member_id));
        };
        member.session_deadline = now + member.session_timeout;
        let unchanged = member.same_protocols(&req.protocols);
        let is_leader = group.leader.as_deref() == Some(req.member_id.as_str());
        match group.state {
            State::Empty => {
                Reply::Now(JoinAnswer::error(ErrorCode::UnknownMemberId, req.member_id))
            }
            // The member missed its answer: the same generation again.
            State::CompletingRebalance { .. } if unchanged => {
                Reply::Now(group.join_answer(&req.member_id, is_leader))
            }
            // A follower with nothing new goes straight to SyncGroup; a leader's rejoin always
            // rebalances (it may have seen new partitions).
            State::Stable if unchanged && !is_leader => {
                Reply::Now(group.join_answer(&req.member_id, false))
            }
            _ => self.update_and_rebalance(now, req, t),
        }
    }

    /// Adds a member with its join parked and starts (or joins) a rebalance.
    fn add_member(
        &mut self,
        now: Instant,
        member_id: String,
        req: JoinRequest,
        t: Timeouts,
    ) -> Reply<JoinAnswer> {
        let ticket = self.ticket();
        let delay = self.config.initial_rebalance_delay;
        let group = self
            .groups
            .get_mut(&req.group_id)
            .expect("the group exists: join found or created it before this call");
        if group.members.is_empty() {
            group.protocol_type = Some(req.protocol_type.clone());
        }
        let seq = group.next_seq;
        group.next_seq += 1;
        if let Some(instance) = &req.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), member_id.clone());
        }
        let member = Member {
            instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout: t.session,
            rebalance_timeout: t.rebalance,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: alloc::vec::Vec::new(),
            join: Some(ParkedJoin {
                ticket,
                api_version: req.api_version,
            }),
            sync: None,
            session_deadline: now + t.session,
            seq,
        };
        group.members.insert(member_id.clone(), member);
        if group.leader.is_none() {
            group.leader = Some(member_id);
        }
        if let State::PreparingRebalance {
            deadline,
            not_before,
        } = &mut group.state
        {
            // Still in the initial delay: wait a little longer for more members.
            if *not_before > now {
                *not_before = (now + delay).min(*deadline);
            }
        }
        group.prepare_rebalance(now, delay, &mut self.out);
        group.try_complete_join(&req.group_id, now, &mut self.out);
        self.settle_join(ticket)
    }

    /// Kafka's `updateMemberAndRebalance`: new protocols, join parked, rebalance.
    fn update_and_rebalance(
        &mut self,
        now: Instant,
        req: JoinRequest,
        t: Timeouts,
    ) -> Reply<JoinAnswer> {
        let ticket = self.ticket();
        let delay = self.config.initial_rebalance_delay;
        let group = self
            .groups
            .get_mut(&req.group_id)
            .expect("the group exists: join found or created it before this call");
        let Some(member) = group.members.get_mut(&req.member_id) else {
            return Reply::Now(JoinAnswer::error(ErrorCode::UnknownMemberId, req.member_id));
        };
        member.protocols = req.protocols;
        member.protocol_type = req.protocol_type;
        member.session_timeout = t.session;
        member.rebalance_timeout = t.rebalance;
        member.session_deadline = now + t.session;
        let parked = ParkedJoin {
            ticket,
            api_version: req.api_version,
        };
        if let Some(old) = member.join.replace(parked) {
            // The same member joined again elsewhere: the older request is superseded.
            let answer = JoinAnswer::error(ErrorCode::RebalanceInProgress, req.member_id.clone());
            self.out.join(old.ticket, answer);
        }
        group.prepare_rebalance(now, delay, &mut self.out);
        group.try_complete_join(&req.group_id, now, &mut self.out);
        self.settle_join(ticket)
    }

    /// KIP-345: a static member restarted with an empty member id. It takes over its old
    /// identity; in a Stable group with unchanged protocols it gets the current generation
    /// back without a rebalance, and the old member id is fenced.
    fn replace_static(
        &mut self,
        now: Instant,
        new_id: String,
        req: JoinRequest,
        t: Timeouts,
    ) -> Reply<JoinAnswer> {
        let ticket = self.ticket();
        let delay = self.config.initial_rebalance_delay;
        let group = self
            .groups
            .get_mut(&req.group_id)
            .expect("the group exists: join found or created it before this call");
        let instance = req.group_instance_id.clone().unwrap_or_default();
        let old_id = group.static_members.get(&instance).cloned();
        let keeps_generation = group.state == State::Stable
            && old_id
                .as_deref()
                .is_some_and(|id| keeps_protocol(group, id, &req.protocols));
        // Only the takeover that keeps the generation is answered on its record alone: the
        // group as it was comes back if that record is not stored.
        let before = keeps_generation.then(|| group.clone());
        let Some(mut member) = old_id.as_ref().and_then(|id| group.members.remove(id)) else {
            group.static_members.remove(&instance);
            return self.add_member(now, new_id, req, t);
        };
        let old_id = old_id.unwrap_or_default();
        if let Some(j) = member.join.take() {
            let answer = JoinAnswer::error(ErrorCode::FencedInstanceId, old_id.clone());
            self.out.join(j.ticket, answer);
        }
        if let Some(old) = member.sync.take() {
            self.out
                .sync(old, SyncAnswer::error(ErrorCode::FencedInstanceId));
        }
        let old_leader = group.leader.clone().unwrap_or_default();
        let was_leader = old_leader == old_id;
        if was_leader {
            group.leader = Some(new_id.clone());
        }
        group.static_members.insert(instance, new_id.clone());
        member.session_timeout = t.session;
        member.rebalance_timeout = t.rebalance;
        member.session_deadline = now + t.session;
        member.client_id = req.client_id;
        member.client_host = req.client_host;
        if let Some(before) = before {
            // The new incarnation's metadata (a consumer's owned partitions, its generation)
            // is what the group holds from now on, as in Kafka.
            member.protocols = req.protocols;
            group.members.insert(new_id.clone(), member);
            let change = Staged::Restore {
                group_id: req.group_id.clone(),
                before,
            };
            self.out
                .stage(records::group_metadata(&req.group_id, group), change);
            let mut answer = group.join_answer(&new_id, false);
            if was_leader && req.api_version >= 9 {
                // KIP-814: the leader learns it leads, but must keep the current assignment.
                answer.members = group.joined_members();
                answer.skip_assignment = true;
            } else {
                // Older leaders must not see themselves as leader, or they would reassign in
                // a Stable group whose SyncGroup broadcasts nothing.
                answer.leader = old_leader;
            }
            return Reply::Now(answer);
        }
        member.protocols = req.protocols;
        member.protocol_type = req.protocol_type;
        member.join = Some(ParkedJoin {
            ticket,
            api_version: req.api_version,
        });
        group.members.insert(new_id, member);
        group.prepare_rebalance(now, delay, &mut self.out);
        group.try_complete_join(&req.group_id, now, &mut self.out);
        self.settle_join(ticket)
    }

    fn settle_join(&mut self, ticket: super::types::Ticket) -> Reply<JoinAnswer> {
        self.settle(ticket, |c| match c {
            Completed::Join(a) => a,
            Completed::Sync(_) => JoinAnswer::error(ErrorCode::UnknownServerError, String::new()),
        })
    }
}

/// Kafka's test for a static member that restarts into a Stable group: with the member's new
/// protocols, would the group still select the protocol it runs? Then the restart changes no
/// generation, even when the metadata differs (a restarted consumer owns no partitions yet).
fn keeps_protocol(group: &mut Group, member_id: &str, protocols: &[Protocol]) -> bool {
    let Some(member) = group.members.get_mut(member_id) else {
        return false;
    };
    let old = core::mem::replace(&mut member.protocols, protocols.to_vec());
    let same = group.select_protocol() == group.protocol_name;
    if let Some(member) = group.members.get_mut(member_id) {
        member.protocols = old;
    }
    same
}
