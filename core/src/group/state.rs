//! One group: Kafka's classic group states, its members and its committed offsets.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::types::{Protocol, Ticket};
use crate::time::Instant;

/// Kafka's classic group states. `Dead` is not held: a deleted group leaves the map, and a
/// group the coordinator does not know is reported as `Dead`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// No members; committed offsets may remain.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance {
        /// The rebalance timeout: members not rejoined by then are removed.
        deadline: Instant,
        /// The initial rebalance delay: no completion before this, even if all have joined.
        not_before: Instant,
    },
    /// Joined; waiting for the leader's SyncGroup.
    CompletingRebalance {
        /// Members that have not synced by then are removed and the group rebalances.
        deadline: Instant,
    },
    /// Every member has its assignment.
    Stable,
}

impl State {
    /// The name DescribeGroups and ListGroups give.
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Empty => "Empty",
            State::PreparingRebalance { .. } => "PreparingRebalance",
            State::CompletingRebalance { .. } => "CompletingRebalance",
            State::Stable => "Stable",
        }
    }
}

/// A parked JoinGroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParkedJoin {
    pub ticket: Ticket,
    pub api_version: i16,
}

/// One member of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    pub assignment: Vec<u8>,
    pub join: Option<ParkedJoin>,
    pub sync: Option<Ticket>,
    /// No heartbeat by then (and nothing parked): the member is gone.
    pub session_deadline: Instant,
    /// Arrival order: Kafka elects the earliest member leader.
    pub seq: u64,
}

impl Member {
    pub(crate) fn metadata_for(&self, protocol: &str) -> Option<&[u8]> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.as_slice())
    }

    /// Same protocols, same order, same metadata: a rejoin that changes nothing.
    pub(crate) fn same_protocols(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// Kafka's `shouldKeepAlive`: a member waiting on the coordinator cannot heartbeat.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.join.is_none() && self.sync.is_none() && self.session_deadline <= now
    }
}

/// What a commit stores per partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    pub commit_timestamp_ms: i64,
}

/// A group: state, generation, members and offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group {
    pub state: State,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// `group.instance.id` to the member id that holds it now.
    pub static_members: BTreeMap<String, String>,
    /// Member ids handed out with `MEMBER_ID_REQUIRED`, with the deadline to join by.
    pub pending: BTreeMap<String, Instant>,
    pub offsets: BTreeMap<(String, i32), Committed>,
    pub next_seq: u64,
    /// The wall clock when the group last became Empty (Kafka's `currentStateTimestamp`), if
    /// known: the committed offsets of an Empty group expire that long after it.
    pub empty_since_ms: Option<i64>,
}

impl Group {
    pub(crate) fn new() -> Self {
        Group {
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending: BTreeMap::new(),
            offsets: BTreeMap::new(),
            next_seq: 0,
            empty_since_ms: None,
        }
    }

    /// Kafka's `supportsProtocols`: an empty group takes any non-empty offer; otherwise the type
    /// must match and one offered protocol must be supported by every member.
    pub(crate) fn supports(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|p| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|q| q.name == p.name))
            })
    }

    /// Kafka's `selectProtocol`: among protocols every member supports, each member votes for
    /// its most preferred; most votes wins, ties go to the earlier in the leader's order.
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let (_, first) = self.members_by_seq().into_iter().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|q| q.name == *name))
            })
            .collect();
        let votes = |name: &str| {
            self.members
                .values()
                .filter(|m| {
                    m.protocols
                        .iter()
                        .find(|p| candidates.contains(&p.name.as_str()))
                        .is_some_and(|p| p.name == name)
                })
                .count()
        };
        let mut best: Option<(&str, usize)> = None;
        for name in &candidates {
            let v = votes(name);
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((name, v));
            }
        }
        best.map(|(name, _)| String::from(name))
    }

    /// Members in arrival order.
    pub(crate) fn members_by_seq(&self) -> Vec<(&str, &Member)> {
        let mut v: Vec<(&str, &Member)> = self
            .members
            .iter()
            .map(|(id, m)| (id.as_str(), m))
            .collect();
        v.sort_by_key(|(_, m)| m.seq);
        v
    }

    /// Everyone known has a JoinGroup parked and no handed-out id is outstanding.
    pub(crate) fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.values().all(|m| m.join.is_some())
    }

    /// The longest rebalance timeout among members (Kafka's `rebalanceTimeoutMs`).
    pub(crate) fn rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// Kafka's `isStaticMemberFenced`: the instance id is held by another member id.
    pub(crate) fn is_fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        instance_id
            .and_then(|i| self.static_members.get(i))
            .is_some_and(|holder| holder != member_id)
    }

    /// Never formed a generation and holds nothing: a group only `MEMBER_ID_REQUIRED`
    /// answers created.
    pub(crate) fn is_ghost(&self) -> bool {
        self.state == State::Empty
            && self.generation == 0
            && self.members.is_empty()
            && self.pending.is_empty()
            && self.offsets.is_empty()
    }

    pub(crate) fn member_count(&self) -> usize {
        self.members.len() + self.pending.len()
    }

    /// The earliest deadline this group waits for, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let state = match self.state {
            State::PreparingRebalance {
                deadline,
                not_before,
            } => {
                if self.all_joined() {
                    Some(not_before.min(deadline))
                } else {
                    Some(deadline)
                }
            }
            State::CompletingRebalance { deadline } => Some(deadline),
            State::Empty | State::Stable => None,
        };
        let sessions = self
            .members
            .values()
            .filter(|m| m.join.is_none() && m.sync.is_none())
            .map(|m| m.session_deadline);
        let pending = self.pending.values().copied();
        state.into_iter().chain(sessions).chain(pending).min()
    }
}

/// What expiry could do to a group, ordered by how soon a look is due for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Expirable {
    /// Nothing: the group has members (or a member id handed out).
    None,
    /// Its offsets, when they are old enough.
    Offsets,
    /// The group itself, at the next look: Empty and without offsets.
    Group,
}

impl Expirable {
    pub(crate) fn of(group: &Group) -> Self {
        if !group.can_expire() {
            Expirable::None
        } else if group.offsets.is_empty() {
            Expirable::Group
        } else {
            Expirable::Offsets
        }
    }
}

impl Group {
    /// Whether its offsets may expire: it is Empty, with no member id handed out for a rejoin
    /// (the join comes back to the group).
    pub(crate) fn can_expire(&self) -> bool {
        self.state == State::Empty && self.members.is_empty() && self.pending.is_empty()
    }
}
