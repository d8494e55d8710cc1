//! CreateTopics, and the topic creation that Metadata's auto-creation shares.
//!
//! A request is worked through [`crate::limits::PARTITIONS_CREATED_PER_TURN_MAX`] partitions a
//! turn of the broker (one [`super::Broker::handle`]), which Metadata's auto-creation shares: one
//! that creates more waits (parked) while the broker serves others between its turns, and is
//! answered once every topic it names exists, as Kafka answers once the controller created them.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::names::{CLUSTER_METADATA_TOPIC, invalid_topic_reason};
use super::topic_config;
use super::{Broker, ConnId, Event, EventLevel, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::create_topics_request::CreatableTopic;
use crate::codec::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use crate::codec::messages::{CreateTopicsRequest, CreateTopicsResponse};
use crate::codec::primitives::Uuid;
use crate::storage::Storage;

/// A CreateTopics request being worked through, topic by topic.
#[derive(Debug)]
pub(super) struct CreateJob {
    conn: ConnId,
    hdr: Hdr,
    request: CreateTopicsRequest,
    /// Names that appear more than once: Kafka refuses each of their entries.
    repeated: BTreeMap<String, usize>,
    /// Its client id, kept only while events are recorded, for topics created in later turns.
    client_id: Option<String>,
    /// One per topic of the request done so far, in its order.
    results: Vec<CreatableTopicResult>,
    /// Topics a fault rule fails, decided while the request is dispatched.
    faulted: Vec<(String, ErrorCode)>,
}

impl CreateJob {
    pub(super) fn conn(&self) -> ConnId {
        self.conn
    }
}

/// Kafka's DescribeConfigs `ConfigSource`: set on the topic, or the broker's default.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DEFAULT: i8 = 5;

/// A refused topic: the code and Kafka's message for it.
type Refusal = (ErrorCode, String);

impl<S: Storage> Broker<S> {
    /// Create a topic now. The name must already be valid.
    pub(super) fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        configs: Vec<(String, String)>,
    ) -> Result<u32, ErrorCode> {
        if self.topics.len() >= self.config.limits.topics_max as usize {
            return Err(ErrorCode::PolicyViolation);
        }
        let id = self.new_topic_id();
        self.make_room_for_new_segment();
        let created = self
            .topics
            .create(
                &mut self.storage,
                name,
                id,
                partitions,
                configs,
                &self.topic_defaults,
            )
            .map_err(|_| ErrorCode::KafkaStorageError)?;
        if self.events.wants(EventLevel::Info) {
            // The request it was created in is named by dispatch, or by the job going on with it.
            self.events.push(Event::TopicCreated {
                topic: String::from(name),
                partitions,
                by: None,
            });
        }
        Ok(created)
    }

    pub(super) fn create_topics(
        &mut self,
        conn: ConnId,
        hdr: Hdr,
        client_id: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let Ok((_, request)) = CreateTopicsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let mut repeated: BTreeMap<String, usize> = BTreeMap::new();
        for t in &request.topics {
            *repeated.entry(t.name.clone()).or_default() += 1;
        }
        repeated.retain(|_, n| *n > 1);
        let faulted = self.fault_topics(request.topics.iter().map(|t| t.name.as_str()));
        let mut job = CreateJob {
            conn,
            hdr,
            client_id: self
                .events
                .wants(EventLevel::Info)
                .then(|| String::from(client_id.unwrap_or_default())),
            results: Vec::with_capacity(request.topics.len()),
            request,
            repeated,
            faulted,
        };
        // Requests are worked through in order: this one goes first only if none waits.
        if self.create_jobs.is_empty() && self.work_on(&mut job) {
            return finish(self, job);
        }
        self.create_jobs.push_back(job);
        Reply::Parked
    }

    /// Go on with the waiting CreateTopics requests, then the topics auto-creation left for
    /// later, for one turn's budget; answer the requests done.
    pub(super) fn continue_create_jobs(&mut self) {
        while self.creation_budget > 0 {
            let Some(mut job) = self.create_jobs.pop_front() else {
                return self.continue_auto_create();
            };
            let mark = self.events.mark();
            let done = self.work_on(&mut job);
            self.events
                .attribute_since(mark, job.conn, job.client_id.as_deref());
            if !done {
                self.create_jobs.push_front(job);
                return;
            }
            let conn = job.conn;
            let reply = finish(self, job);
            self.unpark(conn, reply);
        }
    }

    /// Queue a topic that Metadata may auto-create for a later turn. The queue holds at most
    /// as many names as topics may still be created, so a request naming more cannot grow it.
    pub(super) fn create_later(&mut self, name: &str) {
        let room = (self.config.limits.topics_max as usize).saturating_sub(self.topics.len());
        if self.auto_create.len() < room && !self.auto_create.contains(name) {
            self.auto_create.insert(String::from(name));
        }
    }

    /// Create queued auto-created topics while the turn's budget lasts.
    fn continue_auto_create(&mut self) {
        let cost = u32::try_from(self.config.num_partitions)
            .unwrap_or(u32::MAX)
            .max(1);
        while self.creation_budget > 0 {
            let Some(name) = self.auto_create.pop_first() else {
                return;
            };
            if self.topics.by_name(&name).is_some() {
                continue;
            }
            self.creation_budget = self.creation_budget.saturating_sub(cost);
            // A topic that cannot be created now (a full disk) is not queued again: the client's
            // next Metadata request tries it itself and gets the error in its answer.
            if self
                .create_topic(&name, self.config.num_partitions, Vec::new())
                .is_err()
            {
                continue;
            }
        }
    }

    /// Create the job's next topics while the turn's budget lasts; whether it is done.
    fn work_on(&mut self, job: &mut CreateJob) -> bool {
        let v = job.hdr.api_version;
        while self.creation_budget > 0 {
            let Some(t) = job.request.topics.get(job.results.len()) else {
                return true;
            };
            let result = if job.repeated.contains_key(&t.name) {
                Err((
                    ErrorCode::InvalidRequest,
                    format!(
                        "Create topics request from client contains multiple entries for the following topics: {}",
                        t.name
                    ),
                ))
            } else if let Some((_, code)) = job.faulted.iter().find(|(n, _)| *n == t.name) {
                Err((*code, String::from("Injected by a fault rule.")))
            } else {
                self.create_one(t, job.request.validate_only)
            };
            let cost = match &result {
                Ok((_, partitions)) if !job.request.validate_only => {
                    u32::try_from(*partitions).unwrap_or(u32::MAX)
                }
                _ => 1,
            };
            self.creation_budget = self.creation_budget.saturating_sub(cost.max(1));
            let answer = self.topic_result(v, t, result);
            job.results.push(answer);
        }
        job.results.len() == job.request.topics.len()
    }

    /// Check one topic of a CreateTopics request and, unless `validate_only`, create it.
    fn create_one(
        &mut self,
        t: &CreatableTopic,
        validate_only: bool,
    ) -> Result<(Uuid, i32), Refusal> {
        // Kafka 4 creates `__consumer_offsets` and `__transaction_state` when asked (it then
        // uses them as its own), but never the metadata log's name.
        if t.name == CLUSTER_METADATA_TOPIC {
            return Err((
                ErrorCode::InvalidRequest,
                format!("Creation of internal topic {} is prohibited.", t.name),
            ));
        }
        if let Some(reason) = invalid_topic_reason(&t.name) {
            return Err((ErrorCode::InvalidTopicException, reason));
        }
        if self.topics.by_name(&t.name).is_some() {
            return Err((
                ErrorCode::TopicAlreadyExists,
                format!("Topic '{}' already exists.", t.name),
            ));
        }
        if let Some(other) = self.topics.collision(&t.name) {
            return Err((
                ErrorCode::InvalidTopicException,
                format!("Topic '{}' collides with existing topic: {other}", t.name),
            ));
        }
        let partitions = self.check_layout(t)?;
        let mut configs = Vec::new();
        for c in &t.configs {
            topic_config::validate(&c.name, c.value.as_deref())
                .map_err(|m| (ErrorCode::InvalidConfig, m))?;
            if let Some(value) = &c.value {
                configs.push((c.name.clone(), value.clone()));
            }
        }
        if validate_only {
            return Ok((Uuid::default(), partitions));
        }
        let idx = self
            .create_topic(&t.name, partitions, configs)
            .map_err(|code| (code, format!("Could not create topic '{}'", t.name)))?;
        Ok((self.topics.topic(idx).id, partitions))
    }

    /// The partition count a request asks for, after Kafka's checks on counts and assignments.
    fn check_layout(&self, t: &CreatableTopic) -> Result<i32, Refusal> {
        let max = self.config.limits.partitions_per_topic_max as i32;
        if !t.assignments.is_empty() {
            if t.num_partitions != -1 || t.replication_factor != -1 {
                return Err((
                    ErrorCode::InvalidRequest,
                    String::from(
                        "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                    ),
                ));
            }
            for (i, a) in t.assignments.iter().enumerate() {
                if a.partition_index != i as i32 {
                    return Err((
                        ErrorCode::InvalidReplicaAssignment,
                        String::from("Partitions should be a consecutive 0-based integer sequence"),
                    ));
                }
                if a.broker_ids.as_slice() != [self.config.broker_id] {
                    return Err((
                        ErrorCode::InvalidReplicaAssignment,
                        format!(
                            "Replica assignment for partition {i} must name broker {} exactly once",
                            self.config.broker_id
                        ),
                    ));
                }
            }
            let n = t.assignments.len() as i32;
            return if n > max {
                Err((
                    ErrorCode::InvalidPartitions,
                    format!("Number of partitions must be at most {max}."),
                ))
            } else {
                Ok(n)
            };
        }
        let partitions = if t.num_partitions == -1 {
            self.config.num_partitions
        } else {
            t.num_partitions
        };
        if partitions <= 0 {
            return Err((
                ErrorCode::InvalidPartitions,
                String::from("Number of partitions must be larger than 0."),
            ));
        }
        if partitions > max {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("Number of partitions must be at most {max}."),
            ));
        }
        match t.replication_factor {
            -1 | 1 => Ok(partitions),
            rf if rf <= 0 => Err((
                ErrorCode::InvalidReplicationFactor,
                String::from(
                    "Replication factor must be larger than 0, or -1 to use the default value.",
                ),
            )),
            rf => Err((
                ErrorCode::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only 1 broker(s) are registered."
                ),
            )),
        }
    }

    fn topic_result(
        &self,
        v: i16,
        t: &CreatableTopic,
        result: Result<(Uuid, i32), Refusal>,
    ) -> CreatableTopicResult {
        match result {
            Err((code, message)) => CreatableTopicResult {
                name: t.name.clone(),
                error_code: code.code(),
                error_message: (v >= 1).then_some(message),
                ..Default::default()
            },
            Ok((id, partitions)) => {
                let set: Vec<(String, String)> = t
                    .configs
                    .iter()
                    .filter_map(|c| c.value.clone().map(|v| (c.name.clone(), v)))
                    .collect();
                let configs = topic_config::effective(&set, &self.config)
                    .into_iter()
                    .map(|(name, value, is_set)| CreatableTopicConfigs {
                        name,
                        value: Some(value),
                        read_only: false,
                        config_source: if is_set { SOURCE_TOPIC } else { SOURCE_DEFAULT },
                        is_sensitive: false,
                    })
                    .collect();
                CreatableTopicResult {
                    name: t.name.clone(),
                    topic_id: if v >= 7 { id } else { Uuid::default() },
                    error_code: 0,
                    error_message: None,
                    num_partitions: if v >= 5 { partitions } else { -1 },
                    replication_factor: if v >= 5 { 1 } else { -1 },
                    configs: (v >= 5).then_some(configs),
                    ..Default::default()
                }
            }
        }
    }
}

/// The answer to a finished job.
fn finish<S: Storage>(broker: &mut Broker<S>, job: CreateJob) -> Reply {
    let response = CreateTopicsResponse {
        topics: job.results,
        ..Default::default()
    };
    broker.respond(job.hdr, &response)
}

#[cfg(test)]
mod tests {
    use super::super::ConnId;
    use crate::ErrorCode;
    use crate::broker::harness::{
        CONN, broker, call, correlation_id, create_topics_request, response, response_to,
    };
    use crate::codec::messages::create_topics_request::CreatableTopic;
    use crate::codec::messages::metadata_request::MetadataRequestTopic;
    use crate::codec::messages::{
        ApiVersionsRequest, CreateTopicsRequest, CreateTopicsResponse, MetadataRequest,
        MetadataResponse,
    };
    use crate::limits::PARTITIONS_CREATED_PER_TURN_MAX;
    use alloc::format;
    use alloc::vec::Vec;

    fn topics(n: usize, partitions: i32) -> Vec<CreatableTopic> {
        (0..n)
            .map(|i| CreatableTopic {
                name: format!("t{i}"),
                num_partitions: partitions,
                replication_factor: 1,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn a_large_create_topics_is_worked_through_in_turns_and_answered_when_done() {
        let mut b = broker();
        let (creator, other) = (CONN, ConnId(2));
        b.accept(other);
        let n = 5 * PARTITIONS_CREATED_PER_TURN_MAX as usize + 3;
        let req = CreateTopicsRequest {
            topics: topics(n, 1),
            timeout_ms: 1000,
            validate_only: false,
        };
        b.send(creator, 7, &req);
        assert!(
            b.drain().expect("drains").sent.is_empty(),
            "not answered before the topics exist"
        );
        let mut turns = 1;
        let answer = loop {
            // Another client is served between the turns.
            let id = b.send(other, 3, &ApiVersionsRequest::default());
            let sent = b.drain().expect("drains");
            assert_eq!(sent.closed, []);
            assert!(sent.on(other).iter().any(|f| correlation_id(f) == Ok(id)));
            if let Some(frame) = sent.on(creator).first() {
                break frame.to_vec();
            }
            turns += 1;
            assert!(turns < 100, "livelock");
        };
        let max = PARTITIONS_CREATED_PER_TURN_MAX as usize;
        assert_eq!(
            turns + 1,
            n.div_ceil(max),
            "a turn's budget a turn, the first in the request's own"
        );
        let resp: CreateTopicsResponse = response(7, &answer).expect("decodes");
        assert_eq!(resp.topics.len(), n);
        assert!(resp.topics.iter().all(|t| t.error_code == 0));
        assert_eq!(b.partition_count(), n);
    }

    #[test]
    fn a_name_that_clashes_once_dots_read_as_underscores_is_refused_until_the_other_goes() {
        use crate::codec::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
        let mut b = broker();
        let created: CreateTopicsResponse = call(&mut b, 7, &create_topics_request("a.b", 1, &[]));
        assert_eq!(created.topics[0].error_code, 0);
        for clash in ["a_b", "a.b"] {
            let refused: CreateTopicsResponse =
                call(&mut b, 7, &create_topics_request(clash, 1, &[]));
            let expected = if clash == "a.b" {
                ErrorCode::TopicAlreadyExists
            } else {
                ErrorCode::InvalidTopicException
            };
            assert_eq!(refused.topics[0].error_code, expected.code(), "{clash}");
        }
        let deleted: DeleteTopicsResponse = call(
            &mut b,
            4,
            &DeleteTopicsRequest {
                topic_names: alloc::vec!["a.b".into()],
                timeout_ms: 1000,
                ..Default::default()
            },
        );
        assert_eq!(deleted.responses[0].error_code, 0);
        let after: CreateTopicsResponse = call(&mut b, 7, &create_topics_request("a_b", 1, &[]));
        assert_eq!(
            after.topics[0].error_code, 0,
            "the clash went with the topic"
        );
    }

    #[test]
    fn the_metadata_log_cannot_be_created_but_the_broker_logs_can_as_in_kafka() {
        let mut b = broker();
        for validate_only in [true, false] {
            let mut req = create_topics_request("__cluster_metadata", 1, &[]);
            req.validate_only = validate_only;
            let resp: CreateTopicsResponse = call(&mut b, 7, &req);
            let t = &resp.topics[0];
            assert_eq!(t.error_code, ErrorCode::InvalidRequest.code());
            assert_eq!(
                t.error_message.as_deref(),
                Some("Creation of internal topic __cluster_metadata is prohibited.")
            );
        }
        assert!(b.topics.by_name("__cluster_metadata").is_none());
        // Kafka 4.1.1 answers these with success and takes them as its offsets and
        // transaction logs; once one exists, TOPIC_ALREADY_EXISTS.
        for name in ["__consumer_offsets", "__transaction_state"] {
            let made: CreateTopicsResponse = call(&mut b, 7, &create_topics_request(name, 1, &[]));
            assert_eq!(made.topics[0].error_code, 0, "{name}");
            let again: CreateTopicsResponse = call(&mut b, 7, &create_topics_request(name, 1, &[]));
            assert_eq!(
                again.topics[0].error_code,
                ErrorCode::TopicAlreadyExists.code(),
                "{name}"
            );
        }
    }

    #[test]
    fn topics_auto_created_past_the_budget_are_created_in_the_next_turns_unasked() {
        let mut b = broker();
        let max = PARTITIONS_CREATED_PER_TURN_MAX as usize;
        let n = 3 * max + 1;
        let req = MetadataRequest {
            topics: Some(
                (0..n)
                    .map(|i| MetadataRequestTopic {
                        name: Some(format!("a{i}")),
                        ..Default::default()
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: true,
            ..Default::default()
        };
        b.send(CONN, 9, &req);
        let first = b.drain().expect("drains");
        assert_eq!(
            first.on(CONN).len(),
            1,
            "the Metadata request is answered at once"
        );
        assert_eq!(b.partition_count(), max, "a turn's worth in the request");
        let mut turns = 0;
        while b.partition_count() < n {
            // Nothing but the broker's own deadline brings it back: no client asks again.
            assert_eq!(b.drain().expect("drains").deadline, Some(b.clock.now()));
            b.timeout();
            turns += 1;
            assert!(turns < 100, "livelock");
        }
        assert_eq!(turns, 3, "the rest, a turn's worth a turn");
        let again: MetadataResponse = call(&mut b, 9, &req);
        assert!(again.topics.iter().all(|t| t.error_code == 0));
    }

    #[test]
    fn metadata_creates_a_turns_worth_and_the_rest_on_the_next_requests() {
        let mut b = broker();
        let n = 2 * PARTITIONS_CREATED_PER_TURN_MAX as usize + 1;
        let req = MetadataRequest {
            topics: Some(
                (0..n)
                    .map(|i| MetadataRequestTopic {
                        name: Some(format!("m{i}")),
                        ..Default::default()
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: true,
            ..Default::default()
        };
        let waiting = |resp: &MetadataResponse| {
            resp.topics
                .iter()
                .filter(|t| t.error_code == ErrorCode::LeaderNotAvailable.code())
                .count()
        };
        // Both requests in one input: one turn.
        let (first_id, mut both) = b.request(9, &req);
        let (again_id, second) = b.request(9, &req);
        both.extend_from_slice(&second);
        b.feed(CONN, &both);
        let drained = b.drain().expect("drains");
        let frames = drained.on(CONN);
        assert_eq!(frames.len(), 2);
        let first: MetadataResponse = response_to(9, first_id, frames[0]).expect("decodes");
        assert_eq!(
            waiting(&first),
            n - PARTITIONS_CREATED_PER_TURN_MAX as usize
        );
        let again: MetadataResponse = response_to(9, again_id, frames[1]).expect("decodes");
        assert_eq!(
            waiting(&again),
            waiting(&first),
            "the turn's budget is spent"
        );
        // Each request after is a turn of its own.
        let second: MetadataResponse = call(&mut b, 9, &req);
        assert_eq!(waiting(&second), 1);
        let third: MetadataResponse = call(&mut b, 9, &req);
        assert_eq!(waiting(&third), 0);
        assert!(third.topics.iter().all(|t| t.error_code == 0));
    }
}
