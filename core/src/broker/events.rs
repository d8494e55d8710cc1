//! Events for the runtime's log: what changed in the broker (topics, groups) and which requests
//! it refused. `core` does no I/O, so it queues them and the runtime drains
//! [`Broker::poll_event`] beside [`Broker::poll_output`].
//!
//! Nothing is recorded below the configured [`EventLevel`] (the default is none): the checks
//! on the request path are a comparison each, and nothing is allocated for an event nobody
//! wants. The queue is bounded ([`EVENTS_QUEUED_MAX`]): a runtime that never drains it loses
//! the newest events, counted and reported as [`Event::Dropped`], not memory.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem;

use super::{Broker, ConnId};
use crate::codec::ApiKey;
use crate::error::ErrorCode;
use crate::limits::{CLIENT_ID_LOGGED_BYTES_MAX, EVENTS_QUEUED_MAX};
use crate::storage::Storage;

/// Which events the broker records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventLevel {
    /// None.
    #[default]
    Off,
    /// Changes: topics created and deleted, group state changes.
    Info,
    /// Changes and every refused request.
    Debug,
}

/// The request an event happened in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requester {
    /// Its connection.
    pub conn: ConnId,
    /// Its header's client id (cut to [`CLIENT_ID_LOGGED_BYTES_MAX`] bytes; empty if none).
    pub client_id: String,
}

/// Something the runtime may log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A topic was created: by CreateTopics, by auto-creation, or an internal topic on first use.
    TopicCreated {
        /// Its name.
        topic: String,
        /// Its partitions.
        partitions: i32,
        /// The request it was created in; `None` for auto-creation finished in a later turn.
        by: Option<Requester>,
    },
    /// A topic was deleted by DeleteTopics.
    TopicDeleted {
        /// Its name.
        topic: String,
        /// The request that deleted it.
        by: Option<Requester>,
    },
    /// A consumer group changed state (Kafka's names; `Dead` for a group that is not held).
    GroupStateChanged {
        /// The group id.
        group: String,
        /// The state before.
        from: &'static str,
        /// The state now.
        to: &'static str,
        /// The group's generation now.
        generation: i32,
    },
    /// A request the broker refused whole: an API or version it does not serve, or bytes it
    /// cannot parse (the connection is then closed, as Kafka closes it).
    RequestRefused {
        /// The request.
        by: Requester,
        /// Its api key.
        api_key: i16,
        /// Its version.
        api_version: i16,
        /// Why: `UNSUPPORTED_VERSION` or `INVALID_REQUEST`.
        error: ErrorCode,
    },
    /// A request answered with errors: its top-level error or those of some of its topics,
    /// partitions or groups (answered at once; a long-poll Fetch answered later is not seen).
    RequestErrors {
        /// The request.
        by: Requester,
        /// Its api key.
        api_key: i16,
        /// Its version.
        api_version: i16,
        /// The first error code of the answer.
        error: ErrorCode,
        /// How many error codes the answer carries (one per failed partition, topic or group).
        errors: u32,
    },
    /// A fault rule acted on a request (failed it, delayed it, closed its connection, ...).
    FaultInjected {
        /// The rule's id.
        fault: u64,
        /// The rule's text.
        rule: String,
        /// The request's api key.
        api_key: i16,
        /// The request.
        by: Requester,
    },
    /// A fault rule ended by itself: its count used up, its time over, its connection closed.
    FaultEnded {
        /// The rule's id.
        fault: u64,
        /// The rule's text.
        rule: String,
    },
    /// Events lost because the queue was full.
    Dropped {
        /// How many.
        count: u64,
    },
}

impl Event {
    /// The least [`EventLevel`] that records it.
    pub fn level(&self) -> EventLevel {
        match self {
            Event::RequestRefused { .. } | Event::RequestErrors { .. } => EventLevel::Debug,
            _ => EventLevel::Info,
        }
    }
}

/// The error codes of one answer: how many, and the first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct AnswerErrors {
    pub(super) count: u32,
    pub(super) first: i16,
}

impl AnswerErrors {
    /// `code` is in the answer; `NONE` is not an error.
    #[inline]
    pub(super) fn note(&mut self, code: i16) {
        if code != 0 {
            if self.count == 0 {
                self.first = code;
            }
            self.count = self.count.saturating_add(1);
        }
    }
}

/// A group as last seen: id, state name, generation.
type GroupSeen = (String, &'static str, i32);

/// The queue of events and what is needed to find group state changes.
#[derive(Debug, Default)]
pub(super) struct Events {
    pub(super) level: EventLevel,
    queue: VecDeque<Event>,
    dropped: u64,
    /// Every group's state as of the last look, sorted by id as the coordinator holds them.
    groups: Vec<GroupSeen>,
    /// The next look's list, kept to reuse its allocation.
    groups_next: Vec<GroupSeen>,
}

impl Events {
    pub(super) fn new(level: EventLevel) -> Self {
        Events {
            level,
            ..Events::default()
        }
    }

    /// Whether events of `level` are recorded: the one check before building any.
    #[inline]
    pub(super) fn wants(&self, level: EventLevel) -> bool {
        level != EventLevel::Off && level <= self.level
    }

    /// Queued events, for [`Events::attribute_since`].
    #[inline]
    pub(super) fn mark(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn push(&mut self, event: Event) {
        if !self.wants(event.level()) {
            return;
        }
        if self.queue.len() >= EVENTS_QUEUED_MAX {
            self.dropped = self.dropped.saturating_add(1);
        } else {
            self.queue.push_back(event);
        }
    }

    /// Name the request of events queued since `mark` that do not name one yet.
    pub(super) fn attribute_since(&mut self, mark: usize, conn: ConnId, client_id: Option<&str>) {
        for event in self.queue.iter_mut().skip(mark) {
            if let Event::TopicCreated { by, .. } | Event::TopicDeleted { by, .. } = event {
                if by.is_none() {
                    *by = Some(requester(conn, client_id));
                }
            }
        }
    }

    fn pop(&mut self) -> Option<Event> {
        self.queue.pop_front().or_else(|| {
            (self.dropped > 0).then(|| Event::Dropped {
                count: mem::take(&mut self.dropped),
            })
        })
    }
}

/// A [`Requester`], its client id cut at a character boundary so an event stays small.
pub(super) fn requester(conn: ConnId, client_id: Option<&str>) -> Requester {
    let id = client_id.unwrap_or_default();
    let mut end = id.len().min(CLIENT_ID_LOGGED_BYTES_MAX);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    Requester {
        conn,
        client_id: String::from(&id[..end]),
    }
}

/// The client id of a request header v1 or later: the nullable string after the api key,
/// version and correlation id, whatever the API (header v2 adds its tags after it). Read
/// without the API's schema, for requests the broker does not serve.
pub(super) fn peek_client_id(frame: &[u8]) -> Option<&str> {
    let len = i16::from_be_bytes([*frame.get(8)?, *frame.get(9)?]);
    let len = usize::try_from(len).ok()?;
    core::str::from_utf8(frame.get(10..10 + len)?).ok()
}

/// APIs whose requests may change a group's state; other requests can only add or remove a
/// group (a commit for a group not yet known), which its count shows.
pub(super) fn may_change_group_state(api_key: i16) -> bool {
    matches!(
        ApiKey::from_code(api_key),
        ApiKey::JoinGroup | ApiKey::SyncGroup | ApiKey::LeaveGroup | ApiKey::DeleteGroups
    )
}

impl<S: Storage> Broker<S> {
    /// The next event for the runtime's log, or `None`. Events are recorded only at
    /// [`super::BrokerConfig::events`] or above; drain them after [`Broker::poll_output`].
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Record group state changes since the last look: every group's state compared with the
    /// list kept, in one walk over both (both sorted by id). Only when groups may have changed
    /// (see [`may_change_group_state`]), so steady traffic pays nothing.
    pub(super) fn note_group_states(&mut self) {
        if !self.events.wants(EventLevel::Info) {
            return;
        }
        let mut seen = mem::take(&mut self.events.groups).into_iter().peekable();
        let mut next = mem::take(&mut self.events.groups_next);
        next.clear();
        for (id, group) in &self.groups.groups {
            let (state, generation) = (group.state.name(), group.generation);
            // Groups seen before and gone since sort before this one.
            while let Some((old, from, _)) = seen.next_if(|(old, _, _)| old < id) {
                self.events.push(Event::GroupStateChanged {
                    group: old,
                    from,
                    to: "Dead",
                    generation: -1,
                });
            }
            let (kept, from) = match seen.next_if(|(old, _, _)| old == id) {
                Some((old, from, _)) => (old, from),
                None => (id.clone(), "Dead"),
            };
            if from != state {
                self.events.push(Event::GroupStateChanged {
                    group: id.clone(),
                    from,
                    to: state,
                    generation,
                });
            }
            next.push((kept, state, generation));
        }
        for (old, from, _) in seen {
            self.events.push(Event::GroupStateChanged {
                group: old,
                from,
                to: "Dead",
                generation: -1,
            });
        }
        self.events.groups_next = mem::replace(&mut self.events.groups, next);
    }

    /// Whether the coordinator holds a different number of groups than last seen.
    #[inline]
    pub(super) fn group_count_changed(&self) -> bool {
        self.groups.groups.len() != self.events.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_counts_what_it_drops_and_reports_it_last() {
        let mut events = Events::new(EventLevel::Info);
        for i in 0..EVENTS_QUEUED_MAX + 5 {
            events.push(Event::TopicDeleted {
                topic: alloc::format!("t{i}"),
                by: None,
            });
        }
        assert_eq!(events.queue.len(), EVENTS_QUEUED_MAX);
        let mut popped = 0;
        while let Some(event) = events.pop() {
            match event {
                Event::Dropped { count } => assert_eq!(count, 5),
                _ => popped += 1,
            }
        }
        assert_eq!(popped, EVENTS_QUEUED_MAX);
        assert_eq!(events.pop(), None, "the count is reported once");
    }

    #[test]
    fn levels_filter_events_before_they_are_queued() {
        let refused = Event::RequestRefused {
            by: requester(ConnId(1), Some("c")),
            api_key: 99,
            api_version: 0,
            error: ErrorCode::UnsupportedVersion,
        };
        let mut off = Events::default();
        off.push(refused.clone());
        assert_eq!(off.pop(), None);
        let mut info = Events::new(EventLevel::Info);
        info.push(refused.clone());
        assert_eq!(info.pop(), None, "refusals are debug");
        let mut debug = Events::new(EventLevel::Debug);
        debug.push(refused.clone());
        assert_eq!(debug.pop(), Some(refused));
    }

    #[test]
    fn client_ids_are_cut_at_a_character_boundary() {
        let long: String = core::iter::repeat_n('é', CLIENT_ID_LOGGED_BYTES_MAX).collect();
        let r = requester(ConnId(1), Some(&long));
        assert!(r.client_id.len() <= CLIENT_ID_LOGGED_BYTES_MAX);
        assert!(r.client_id.len() >= CLIENT_ID_LOGGED_BYTES_MAX - 1);
        assert_eq!(requester(ConnId(1), None).client_id, "");
    }

    #[test]
    fn the_client_id_is_read_from_any_header_v1() {
        let mut frame = alloc::vec![0, 99, 0, 7, 0, 0, 0, 1, 0, 3];
        frame.extend_from_slice(b"abc");
        assert_eq!(peek_client_id(&frame), Some("abc"));
        assert_eq!(peek_client_id(&frame[..11]), None, "truncated");
        let null = [0, 99, 0, 7, 0, 0, 0, 1, 0xff, 0xff];
        assert_eq!(peek_client_id(&null), None);
    }

    mod broker {
        use alloc::vec;
        use alloc::vec::Vec;

        use super::super::*;
        use crate::broker::BrokerConfig;
        use crate::broker::harness::{CLIENT_ID, CONN, Driver, call, create, driven};
        use crate::codec::messages::join_group_request::JoinGroupRequestProtocol;
        use crate::codec::messages::sync_group_request::SyncGroupRequestAssignment;
        use crate::codec::messages::*;
        use crate::storage::MemoryStorage;

        fn started(events: EventLevel) -> Driver<MemoryStorage> {
            let config = BrokerConfig {
                segment_size_bytes: 4096,
                events,
                ..BrokerConfig::default()
            };
            driven(config, MemoryStorage::default())
        }

        fn drain(d: &mut Driver<MemoryStorage>) -> Vec<Event> {
            core::iter::from_fn(|| d.poll_event()).collect()
        }

        fn by_test_client() -> Option<Requester> {
            Some(Requester {
                conn: CONN,
                client_id: CLIENT_ID.into(),
            })
        }

        #[test]
        fn topics_created_and_deleted_name_the_request() {
            let mut d = started(EventLevel::Info);
            create(&mut d, "orders", 3, &[]);
            let deleted: DeleteTopicsResponse = call(
                &mut d,
                5,
                &DeleteTopicsRequest {
                    topic_names: vec!["orders".into()],
                    timeout_ms: 1000,
                    ..Default::default()
                },
            );
            assert_eq!(deleted.responses[0].error_code, 0);
            assert_eq!(
                drain(&mut d),
                [
                    Event::TopicCreated {
                        topic: "orders".into(),
                        partitions: 3,
                        by: by_test_client(),
                    },
                    Event::TopicDeleted {
                        topic: "orders".into(),
                        by: by_test_client(),
                    },
                ]
            );
        }

        #[test]
        fn nothing_is_recorded_by_default() {
            let mut d = started(EventLevel::Off);
            create(&mut d, "orders", 1, &[]);
            let unknown =
                crate::codec::request_frame(2, 9, Some("c"), &ApiVersionsRequest::default())
                    .expect("encodes");
            let mut frame = unknown;
            frame[4..6].copy_from_slice(&999i16.to_be_bytes());
            d.feed(CONN, &frame);
            d.drain().expect("drains");
            assert_eq!(drain(&mut d), []);
        }

        #[test]
        fn errors_in_an_answer_are_recorded_at_debug_only() {
            use crate::broker::harness::{batch, produce_request};
            for (level, expected) in [(EventLevel::Info, 0), (EventLevel::Debug, 1)] {
                let mut d = started(level);
                create(&mut d, "orders", 1, &[]);
                drain(&mut d);
                // Partition 0 exists, 5 and 6 do not: two errors in one answer.
                let mut req = produce_request("orders", 0, batch(0, &[b"x"]));
                let data = req.topic_data[0].partition_data[0].clone();
                for index in [5, 6] {
                    let mut other = data.clone();
                    other.index = index;
                    req.topic_data[0].partition_data.push(other);
                }
                let resp: ProduceResponse = call(&mut d, 9, &req);
                assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
                let events = drain(&mut d);
                assert_eq!(events.len(), expected, "{level:?}: {events:?}");
                if let Some(event) = events.first() {
                    assert_eq!(
                        *event,
                        Event::RequestErrors {
                            by: requester(CONN, Some(CLIENT_ID)),
                            api_key: 0,
                            api_version: 9,
                            error: ErrorCode::UnknownTopicOrPartition,
                            errors: 2,
                        }
                    );
                }
                // An answer without errors records nothing.
                let ok: ProduceResponse =
                    call(&mut d, 9, &produce_request("orders", 0, batch(1, &[b"y"])));
                assert_eq!(ok.responses[0].partition_responses[0].error_code, 0);
                assert_eq!(drain(&mut d), []);
            }
        }

        #[test]
        fn a_request_for_an_unknown_api_is_refused_at_debug_only() {
            for (level, expected) in [(EventLevel::Info, 0), (EventLevel::Debug, 1)] {
                let mut d = started(level);
                let mut frame = crate::codec::request_frame(
                    2,
                    9,
                    Some("odd-client"),
                    &ApiVersionsRequest::default(),
                )
                .expect("encodes");
                frame[4..6].copy_from_slice(&999i16.to_be_bytes());
                d.feed(CONN, &frame);
                let drained = d.drain().expect("drains");
                assert_eq!(drained.closed, [CONN], "Kafka closes the connection");
                let events = drain(&mut d);
                assert_eq!(events.len(), expected, "{level:?}: {events:?}");
                if let Some(event) = events.first() {
                    assert_eq!(
                        *event,
                        Event::RequestRefused {
                            by: requester(CONN, Some("odd-client")),
                            api_key: 999,
                            api_version: 2,
                            error: ErrorCode::UnsupportedVersion,
                        }
                    );
                }
            }
        }

        #[test]
        fn a_group_reports_each_state_it_ends_a_request_in() {
            let mut d = started(EventLevel::Info);
            let join = |member_id: &str| JoinGroupRequest {
                group_id: "g".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 30_000,
                member_id: member_id.into(),
                protocol_type: "consumer".into(),
                protocols: vec![JoinGroupRequestProtocol {
                    name: "range".into(),
                    metadata: vec![1],
                }],
                ..Default::default()
            };
            // v4+: a new member is first given its id.
            let first: JoinGroupResponse = call(&mut d, 5, &join(""));
            let joined: JoinGroupResponse = call(&mut d, 5, &join(&first.member_id));
            assert_eq!(joined.error_code, 0);
            let synced: SyncGroupResponse = call(
                &mut d,
                5,
                &SyncGroupRequest {
                    group_id: "g".into(),
                    generation_id: joined.generation_id,
                    member_id: joined.member_id.clone(),
                    assignments: vec![SyncGroupRequestAssignment {
                        member_id: joined.member_id.clone(),
                        assignment: vec![7],
                    }],
                    ..Default::default()
                },
            );
            assert_eq!(synced.error_code, 0);
            let events = drain(&mut d);
            // The group's first state is stored in the offsets log, created on first use.
            assert!(events.iter().any(|e| matches!(
                e,
                Event::TopicCreated { topic, .. } if topic == "__consumer_offsets"
            )));
            let changes: Vec<(&str, &str)> = events
                .iter()
                .filter_map(|e| match e {
                    Event::GroupStateChanged {
                        group, from, to, ..
                    } => {
                        assert_eq!(group, "g");
                        Some((*from, *to))
                    }
                    _ => None,
                })
                .collect();
            let n = changes.len();
            assert!(n >= 2, "{changes:?}");
            assert_eq!(changes[0].0, "Dead", "a new group comes from nothing");
            assert_eq!(
                changes[n - 1],
                ("CompletingRebalance", "Stable"),
                "{changes:?}"
            );
            assert!(
                changes.windows(2).all(|w| w[0].1 == w[1].0),
                "each change starts where the last ended: {changes:?}"
            );
        }
    }
}
