//! Fault injection for client tests: the broker misbehaves on purpose, as librdkafka's mock
//! cluster (`rd_kafka_mock_push_request_errors`) and franz-go's kfake allow, but driven by
//! rules a runtime takes from its configuration or from an operator ([`FaultRule`]).
//!
//! Dispatch asks the rules only when some exist (one emptiness check otherwise). While a request
//! is handled its API and client id are held here, so the handlers' hooks ask about a partition
//! alone ([`Faults::partition_error`]); rules that hit the request are counted once it is done.
//! A delayed answer parks its connection as a long-poll Fetch does, so the connection's later
//! requests wait behind it and answers keep their order.

mod respond;
mod rule;
#[cfg(test)]
mod tests;

pub use rule::{FaultError, FaultKind, FaultRule};

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use super::apis::{Handler, Request};
use super::{Broker, ConnId, Event, EventLevel, Reply, Response, events};
use crate::codec::ApiKey;
use crate::error::ErrorCode;
use crate::storage::Storage;
use crate::time::Instant;

/// Rules held at once; adding one more is refused.
pub const FAULT_RULES_MAX: usize = 64;

/// A rule's id, unique for the broker's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultId(pub u64);

/// A rule as [`Broker::faults`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultInfo {
    /// Its id, for [`Broker::remove_fault`].
    pub id: FaultId,
    /// The rule.
    pub rule: FaultRule,
    /// Requests it still applies to (for `close_after`: still answered before the close);
    /// `None` if unbounded.
    pub remaining: Option<u32>,
}

#[derive(Debug)]
struct Active {
    id: FaultId,
    rule: FaultRule,
    remaining: Option<u32>,
    /// When a leaderless rule ends.
    deadline: Option<Instant>,
}

/// Rules with their text, for events.
type Named = Vec<(FaultId, String)>;

/// An answer held back by a latency rule; its connection is parked until `deadline`.
#[derive(Debug)]
struct Delayed {
    conn: ConnId,
    deadline: Instant,
    response: Response,
}

/// The rules, the request being handled, and the answers held back.
#[derive(Debug, Default)]
pub(super) struct Faults {
    rules: Vec<Active>,
    next_id: u64,
    /// The API of the request being handled; `None` outside dispatch (a parked Fetch answered
    /// later is not that request any more: only leaderless partitions apply to it).
    api: Option<ApiKey>,
    client_id: Option<String>,
    /// Rules that hit the request being handled, each once.
    hits: Vec<FaultId>,
    delayed: Vec<Delayed>,
    /// A close rule closed the connection of the request just handled.
    pub(super) closed: bool,
}

impl Faults {
    /// The rules given at startup, from the clocks' origin. Those [`FaultRule::check`] refuses
    /// and those past [`FAULT_RULES_MAX`] are left out: a runtime parses and counts them first.
    pub(super) fn new(rules: &[FaultRule]) -> Self {
        let mut faults = Faults::default();
        for rule in rules {
            // A refused rule is left out, as `BrokerConfig::faults` says.
            if let Err(_refused) = faults.add(rule.clone(), Instant::default()) {
                continue;
            }
        }
        faults
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn add(&mut self, rule: FaultRule, now: Instant) -> Result<FaultId, FaultError> {
        rule.check()?;
        if self.rules.len() >= FAULT_RULES_MAX {
            return Err(FaultError(alloc::format!(
                "at most {FAULT_RULES_MAX} fault rules are held at once"
            )));
        }
        self.next_id += 1;
        let id = FaultId(self.next_id);
        let deadline = match rule.kind {
            FaultKind::Leaderless { duration_ms } => {
                Some(now + Duration::from_millis(u64::from(duration_ms)))
            }
            _ => None,
        };
        let remaining = match rule.kind {
            FaultKind::Close { after } => Some(after),
            _ => rule.count,
        };
        self.rules.push(Active {
            id,
            rule,
            remaining,
            deadline,
        });
        Ok(id)
    }

    fn begin(&mut self, api: ApiKey, client_id: Option<&str>) {
        self.api = Some(api);
        self.client_id = client_id.map(ToString::to_string);
        self.hits.clear();
    }

    /// Whether `rule` applies to the request being handled (its API and client id).
    fn applies(&self, rule: &FaultRule) -> bool {
        let api = match (rule.api, self.api) {
            (Some(want), Some(is)) => want == is,
            (None, is) => is.is_some(),
            (Some(_), None) => false,
        };
        api && rule
            .client_id
            .as_deref()
            .is_none_or(|want| self.client_id.as_deref() == Some(want))
    }

    fn hit(&mut self, id: FaultId) {
        if !self.hits.contains(&id) {
            self.hits.push(id);
        }
    }

    /// The first rule of `kind`'s shape that applies to the request, with its index.
    fn find(&self, of_kind: impl Fn(&FaultKind) -> bool) -> Option<usize> {
        self.rules
            .iter()
            .position(|a| of_kind(&a.rule.kind) && self.applies(&a.rule))
    }

    /// Whether a close rule closes the connection at this request: one that has let its
    /// `close_after` requests through. The others count this one.
    fn close_due(&mut self) -> bool {
        let Some(i) = self.find(|k| matches!(k, FaultKind::Close { .. })) else {
            return false;
        };
        let id = self.rules[i].id;
        match &mut self.rules[i].remaining {
            Some(0) => {
                self.hit(id);
                true
            }
            Some(n) => {
                *n -= 1;
                false
            }
            None => false,
        }
    }

    /// The error of a rule on an API answered at the top level, if one applies.
    fn top_level_error(&mut self) -> Option<ErrorCode> {
        let api = self.api?;
        if !rule::TOP_LEVEL_APIS.contains(&api) {
            return None;
        }
        let i = self.find(|k| matches!(k, FaultKind::Error(_)))?;
        let (id, kind) = (self.rules[i].id, self.rules[i].rule.kind);
        self.hit(id);
        match kind {
            FaultKind::Error(code) => Some(code),
            _ => None,
        }
    }

    /// The error for partition `partition` of `topic` in the request being handled (Produce,
    /// Fetch, ListOffsets, OffsetCommit, OffsetFetch): NOT_LEADER_OR_FOLLOWER while it is
    /// leaderless (Produce, Fetch and ListOffsets only, also outside a request), else a
    /// matching error rule's.
    pub(super) fn partition_error(
        &mut self,
        now: Instant,
        topic: &str,
        partition: i32,
    ) -> Option<ErrorCode> {
        if self.rules.is_empty() {
            return None;
        }
        let leaderless_apis = [ApiKey::Produce, ApiKey::Fetch, ApiKey::ListOffsets];
        if self.api.is_none_or(|a| leaderless_apis.contains(&a)) {
            if let Some(id) = self.leaderless(now, topic, partition) {
                self.hit(id);
                return Some(ErrorCode::NotLeaderOrFollower);
            }
        }
        self.error_for(topic, Some(partition))
    }

    /// The error of a rule for `topic` (and `partition` if given) of the request's API.
    pub(super) fn error_for(&mut self, topic: &str, partition: Option<i32>) -> Option<ErrorCode> {
        let i = self.rules.iter().position(|a| {
            matches!(a.rule.kind, FaultKind::Error(_))
                && self.applies(&a.rule)
                && a.rule.topic.as_deref().is_none_or(|t| t == topic)
                && a.rule.partition.is_none_or(|p| Some(p) == partition)
        })?;
        let (id, kind) = (self.rules[i].id, self.rules[i].rule.kind);
        self.hit(id);
        match kind {
            FaultKind::Error(code) => Some(code),
            _ => None,
        }
    }

    /// The leaderless rule for `partition` of `topic` still running at `now`.
    pub(super) fn leaderless(&self, now: Instant, topic: &str, partition: i32) -> Option<FaultId> {
        self.rules.iter().find_map(|a| {
            let live = a.deadline.is_some_and(|d| d > now);
            let here =
                a.rule.topic.as_deref() == Some(topic) && a.rule.partition == Some(partition);
            (live && here && matches!(a.rule.kind, FaultKind::Leaderless { .. })).then_some(a.id)
        })
    }

    /// The throttle of a rule for the request (Produce and Fetch only).
    fn throttle_ms(&mut self) -> Option<i32> {
        if !matches!(self.api, Some(ApiKey::Produce | ApiKey::Fetch)) {
            return None;
        }
        let i = self.find(|k| matches!(k, FaultKind::Throttle { .. }))?;
        self.hit(self.rules[i].id);
        match self.rules[i].rule.kind {
            FaultKind::Throttle { throttle_ms } => Some(throttle_ms),
            _ => None,
        }
    }

    /// The delay of a latency rule for the request.
    fn delay_ms(&mut self) -> Option<u32> {
        let i = self.find(|k| matches!(k, FaultKind::Latency { .. }))?;
        self.hit(self.rules[i].id);
        match self.rules[i].rule.kind {
            FaultKind::Latency { delay_ms } => Some(delay_ms),
            _ => None,
        }
    }

    /// The request is done: count it against the rules it hit. Returns the rules that hit it,
    /// and those it used up (removed).
    fn end(&mut self) -> (Named, Named) {
        self.api = None;
        let mut hit = Vec::new();
        let mut ended = Vec::new();
        for id in self.hits.drain(..) {
            let Some(i) = self.rules.iter().position(|a| a.id == id) else {
                continue;
            };
            let active = &mut self.rules[i];
            hit.push((id, active.rule.to_string()));
            let counted = !matches!(
                active.rule.kind,
                FaultKind::Leaderless { .. } | FaultKind::Close { .. }
            );
            let closed = matches!(active.rule.kind, FaultKind::Close { .. });
            if counted {
                if let Some(n) = &mut active.remaining {
                    *n = n.saturating_sub(1);
                }
            }
            if closed || (counted && active.remaining == Some(0)) {
                let gone = self.rules.remove(i);
                ended.push((gone.id, gone.rule.to_string()));
            }
        }
        (hit, ended)
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let rules = self.rules.iter().filter_map(|a| a.deadline);
        let delayed = self.delayed.iter().map(|d| d.deadline);
        rules.chain(delayed).min()
    }
}

impl<S: Storage> Broker<S> {
    /// Add a fault rule; refused (with what to change) when it makes no sense, names an API
    /// whose errors are not injected, or [`FAULT_RULES_MAX`] rules are held. A leaderless
    /// rule's time runs from the broker's clock as of its last input.
    pub fn add_fault(&mut self, rule: FaultRule) -> Result<FaultId, FaultError> {
        let now = self.now;
        self.faults.add(rule, now)
    }

    /// The rules held, oldest first.
    pub fn faults(&self) -> Vec<FaultInfo> {
        self.faults
            .rules
            .iter()
            .map(|a| FaultInfo {
                id: a.id,
                rule: a.rule.clone(),
                remaining: a.remaining,
            })
            .collect()
    }

    /// Remove rule `id`; `false` if there is none. Answers it already holds back still go at
    /// their time.
    pub fn remove_fault(&mut self, id: FaultId) -> bool {
        let before = self.faults.rules.len();
        self.faults.rules.retain(|a| a.id != id);
        self.faults.rules.len() != before
    }

    /// Dispatch `request` under the rules (some exist).
    pub(super) fn dispatch_faulty(&mut self, handle: Handler<S>, request: Request<'_>) -> Reply {
        let api = ApiKey::from_code(request.hdr.api_key);
        self.faults.begin(api, request.client_id);
        let reply = if self.faults.close_due() {
            self.faults.closed = true;
            Reply::Close
        } else if let Some(code) = self.faults.top_level_error() {
            // Counted for the metrics as any error answer is.
            self.count_error(request.hdr.api_key, code.code());
            respond::error_response(api, request.hdr, request.body, code)
        } else {
            handle(self, request)
        };
        let reply = match reply {
            Reply::Send(mut response) => {
                if let Some(ms) = self.faults.throttle_ms() {
                    respond::set_throttle(&mut response, request.hdr, ms);
                }
                self.delay(request.conn, response)
            }
            other => other,
        };
        let (hit, ended) = self.faults.end();
        self.note_faults(request, hit, ended);
        reply
    }

    /// Hold `response` back if a latency rule says so: the connection parks until then.
    fn delay(&mut self, conn: ConnId, response: Response) -> Reply {
        let Some(ms) = self.faults.delay_ms() else {
            return Reply::Send(response);
        };
        let deadline = self.now + Duration::from_millis(u64::from(ms));
        self.faults.delayed.push(Delayed {
            conn,
            deadline,
            response,
        });
        Reply::Parked
    }

    fn note_faults(&mut self, request: Request<'_>, hit: Named, ended: Named) {
        if !self.events.wants(EventLevel::Info) {
            return;
        }
        for (id, rule) in hit {
            self.events.push(Event::FaultInjected {
                fault: id.0,
                rule,
                api_key: request.hdr.api_key,
                by: events::requester(request.conn, request.client_id),
            });
        }
        for (id, rule) in ended {
            self.events.push(Event::FaultEnded { fault: id.0, rule });
        }
    }

    /// Due deadlines: held answers go out (their connections resume), leaderless rules end.
    pub(super) fn fault_timer(&mut self) {
        let now = self.now;
        // Bounded: each round takes one held answer out.
        while let Some(i) = self.faults.delayed.iter().position(|d| d.deadline <= now) {
            let held = self.faults.delayed.swap_remove(i);
            self.unpark(held.conn, Reply::Send(held.response));
        }
        while let Some(i) =
            (self.faults.rules.iter()).position(|a| a.deadline.is_some_and(|d| d <= now))
        {
            let gone = self.faults.rules.remove(i);
            if self.events.wants(EventLevel::Info) {
                let rule = gone.rule.to_string();
                self.events.push(Event::FaultEnded {
                    fault: gone.id.0,
                    rule,
                });
            }
        }
    }

    /// `conn` is gone: drop the answer held for it.
    pub(super) fn forget_delayed(&mut self, conn: ConnId) {
        while let Some(i) = self.faults.delayed.iter().position(|d| d.conn == conn) {
            let held = self.faults.delayed.swap_remove(i);
            self.recycle(held.response);
        }
    }

    /// Metadata's topics as the rules see them: leaderless partitions have leader -1 and
    /// LEADER_NOT_AVAILABLE; an error rule puts its error on the topic, or on the partition it
    /// names.
    pub(super) fn fault_metadata(
        &mut self,
        topics: &mut [crate::codec::messages::metadata_response::MetadataResponseTopic],
    ) {
        if self.faults.is_empty() {
            return;
        }
        let now = self.now;
        for topic in topics.iter_mut().filter(|t| t.error_code == 0) {
            let name = topic.name.clone().unwrap_or_default();
            for p in &mut topic.partitions {
                if let Some(id) = self.faults.leaderless(now, &name, p.partition_index) {
                    self.faults.hit(id);
                    p.leader_id = -1;
                    p.error_code = ErrorCode::LeaderNotAvailable.code();
                } else if let Some(code) = self.partition_rule_error(&name, p.partition_index) {
                    p.error_code = code.code();
                }
            }
            if let Some(code) = self.faults.error_for(&name, None) {
                topic.error_code = code.code();
                topic.partitions.clear();
            }
        }
    }

    /// An error rule naming this very partition (Metadata's partition-level errors).
    fn partition_rule_error(&mut self, topic: &str, partition: i32) -> Option<ErrorCode> {
        let names_it =
            self.faults.rules.iter().any(|a| {
                a.rule.partition == Some(partition) && a.rule.topic.as_deref() == Some(topic)
            });
        if names_it {
            self.faults.error_for(topic, Some(partition))
        } else {
            None
        }
    }
}

impl<S: Storage> Broker<S> {
    /// The error a rule puts on topic `ti` of a DeleteTopics request, if any.
    pub(super) fn fault_topic(&mut self, ti: u32) -> Option<ErrorCode> {
        if self.faults.is_empty() {
            return None;
        }
        let name = &self.topics.topic(ti).name;
        self.faults.error_for(name, None)
    }

    /// The topics of a CreateTopics request a rule fails, with the error.
    pub(super) fn fault_topics<'n>(
        &mut self,
        names: impl Iterator<Item = &'n str>,
    ) -> Vec<(String, ErrorCode)> {
        if self.faults.is_empty() {
            return Vec::new();
        }
        names
            .filter_map(|n| self.faults.error_for(n, None).map(|e| (n.to_string(), e)))
            .collect()
    }
}

/// Partitions of an OffsetCommit that a rule fails: `(topic, partition, error)`.
type Faulted = Vec<(String, i32, ErrorCode)>;

impl<S: Storage> Broker<S> {
    /// Take the partitions a rule fails out of an OffsetCommit, so they are not committed.
    pub(super) fn fault_commit(&mut self, request: &mut crate::group::CommitRequest) -> Faulted {
        let mut faulted = Vec::new();
        if self.faults.is_empty() {
            return faulted;
        }
        let now = self.now;
        for topic in &mut request.topics {
            let faults = &mut self.faults;
            topic.partitions.retain(|p| {
                let error = faults.partition_error(now, &topic.name, p.partition);
                if let Some(code) = error {
                    faulted.push((topic.name.clone(), p.partition, code));
                }
                error.is_none()
            });
        }
        faulted
    }

    /// Committed offsets a rule fails: the error, and no offset.
    pub(super) fn fault_offset_fetch(&mut self, answers: &mut [crate::group::FetchAnswer]) {
        if self.faults.is_empty() {
            return;
        }
        let now = self.now;
        for topic in answers.iter_mut().flat_map(|a| a.topics.iter_mut()) {
            for p in &mut topic.partitions {
                if let Some(code) = self.faults.partition_error(now, &topic.name, p.partition) {
                    p.error = code;
                    p.offset = -1;
                }
            }
        }
    }
}

/// Put the failed partitions of an OffsetCommit back into its answer, under their topics.
pub(super) fn add_commit_errors(
    answers: &mut Vec<crate::group::CommitTopicAnswer>,
    faulted: Faulted,
) {
    for (topic, partition, code) in faulted {
        match answers.iter_mut().find(|t| t.name == topic) {
            Some(t) => t.partitions.push((partition, code)),
            None => answers.push(crate::group::CommitTopicAnswer {
                name: topic,
                partitions: alloc::vec![(partition, code)],
            }),
        }
    }
}
