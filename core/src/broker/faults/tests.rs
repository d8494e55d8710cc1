use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::broker::BrokerConfig;
use crate::broker::harness::{
    CONN, Driver, batch, broker, call, create, create_topics_request, driven, fetch_request,
    produce_request, response_to, try_call,
};
use crate::codec::messages::find_coordinator_request::FindCoordinatorRequest;
use crate::codec::messages::join_group_request::JoinGroupRequestProtocol;
use crate::codec::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use crate::codec::messages::metadata_request::MetadataRequestTopic;
use crate::codec::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::codec::messages::{
    ApiVersionsRequest, ApiVersionsResponse, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, FetchResponse, FindCoordinatorResponse, JoinGroupRequest,
    JoinGroupResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse,
    OffsetCommitRequest, OffsetCommitResponse, ProduceRequest, ProduceResponse,
};
use crate::storage::MemoryStorage;

type B = Driver<MemoryStorage>;

fn rule(text: &str) -> FaultRule {
    FaultRule::parse(text).expect("a valid rule")
}

/// A broker with events at info and topic `t` of two partitions.
fn with_topic() -> B {
    with_topic_at(EventLevel::Info)
}

fn with_topic_at(events: EventLevel) -> B {
    let config = BrokerConfig {
        segment_size_bytes: 4096,
        events,
        ..BrokerConfig::default()
    };
    let mut b = driven(config, MemoryStorage::default());
    create(&mut b, "t", 2, &[]);
    while b.poll_event().is_some() {}
    b
}

/// Produce one record to `t`/`partition` at v9: its error and base offset.
fn produce(b: &mut B, partition: i32) -> (i16, i64) {
    let resp: ProduceResponse = call(b, 9, &produce_request("t", partition, batch(1, &["v"])));
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn events(b: &mut B) -> Vec<Event> {
    core::iter::from_fn(|| b.poll_event()).collect()
}

#[test]
fn rules_read_back_from_their_text() {
    for text in [
        "api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3,topic=t,partition=0,client_id=x",
        "api=JoinGroup,error=COORDINATOR_NOT_AVAILABLE",
        "api=Produce,delay_ms=500,count=2",
        "close_after=2",
        "api=Fetch,close_after=0,client_id=c",
        "leaderless_ms=5000,topic=t,partition=1",
        "api=Fetch,throttle_ms=100,client_id=x",
        "api=Metadata,error=999",
    ] {
        assert_eq!(rule(text).to_string(), text);
    }
    // Names in any case, numbers, spaces: the canonical text names them Kafka's way.
    let r = rule(" error = 6 , api = produce ");
    assert_eq!(r.to_string(), "api=Produce,error=NOT_LEADER_OR_FOLLOWER");
    assert_eq!(
        rule("api=11,error=coordinator_not_available").api,
        Some(ApiKey::JoinGroup)
    );
}

#[test]
fn bad_rule_text_is_refused_with_a_reason() {
    let cases = [
        ("", "needs one of"),
        ("api=Produce", "needs one of"),
        ("api=Produce,error=NOPE", "unknown error `NOPE`"),
        ("api=Nope,error=6", "unknown api `Nope`"),
        ("error=6", "`error` needs an `api`"),
        ("api=Produce,error=NONE", "not NONE"),
        ("api=Produce,error=6,count=0", "at least 1"),
        ("api=Produce,error=6,count=-1", "whole number"),
        ("api=Produce,error=6,delay_ms=5", "one of"),
        ("api=Produce,error=6,api=Fetch", "given twice"),
        ("api=Produce,error=6,partition=0", "needs a `topic`"),
        ("api=Produce,error=6,color=red", "unknown key `color`"),
        ("api=Produce;error=6", "unknown api"),
        ("api=JoinGroup,error=15,topic=t", "no topics"),
        (
            "api=DeleteRecords,error=6",
            "errors are not injected into DeleteRecords",
        ),
        ("leaderless_ms=5,topic=t", "needs a `topic` and `partition`"),
        (
            "leaderless_ms=5,topic=t,partition=0,api=Fetch",
            "`api` does not apply",
        ),
        ("throttle_ms=5,api=Metadata", "Produce and Fetch only"),
        ("close_after=1,count=2", "`count` does not apply"),
        ("api=Produce,delay_ms=5,topic=t", "`topic` does not apply"),
        ("api", "is not key=value"),
    ];
    for (text, reason) in cases {
        let err = FaultRule::parse(text).expect_err(text);
        assert!(err.0.contains(reason), "{text}: {err}");
    }
}

#[test]
fn rules_are_added_listed_and_removed() {
    let mut b = broker();
    let a = b
        .add_fault(rule("api=Produce,error=6,count=3"))
        .expect("added");
    let c = b.add_fault(rule("close_after=2")).expect("added");
    let listed: Vec<_> = b.faults().iter().map(|f| (f.id, f.remaining)).collect();
    assert_eq!(listed, [(a, Some(3)), (c, Some(2))]);
    assert!(b.remove_fault(a));
    assert!(!b.remove_fault(a), "gone already");
    assert_eq!(b.faults().len(), 1);
    // A rule struct built by hand is checked as its text would be.
    let mut bad = rule("api=Produce,error=6");
    bad.api = Some(ApiKey::DeleteRecords);
    assert!(b.add_fault(bad).is_err());
    for _ in 1..FAULT_RULES_MAX {
        b.add_fault(rule("api=Fetch,throttle_ms=1")).expect("room");
    }
    let full = b
        .add_fault(rule("api=Fetch,throttle_ms=1"))
        .expect_err("bounded");
    assert!(full.0.contains("at most"), "{full}");
}

#[test]
fn startup_rules_hold_from_the_start() {
    let config = BrokerConfig {
        faults: vec![rule("api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=1")],
        ..BrokerConfig::default()
    };
    let mut b = driven(config, MemoryStorage::default());
    create(&mut b, "t", 1, &[]);
    assert_eq!(produce(&mut b, 0), (6, -1));
    assert_eq!(produce(&mut b, 0), (0, 0), "the count is used up");
}

#[test]
fn a_partition_error_fails_only_matching_partitions_until_its_count_is_used_up() {
    let mut b = with_topic();
    let id = b
        .add_fault(rule(
            "api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=2,topic=t,partition=0",
        ))
        .expect("added");
    // Partition 1 is not matched: appended, and the count is untouched.
    assert_eq!(produce(&mut b, 1), (0, 0));
    assert_eq!(b.faults()[0].remaining, Some(2));
    assert_eq!(produce(&mut b, 0), (6, -1));
    assert_eq!(produce(&mut b, 0), (6, -1));
    assert!(b.faults().is_empty(), "used up");
    assert_eq!(
        produce(&mut b, 0),
        (0, 0),
        "nothing of the failed requests was appended"
    );
    let seen = events(&mut b);
    let injected = seen
        .iter()
        .filter(|e| matches!(e, Event::FaultInjected { fault, api_key: 0, .. } if *fault == id.0))
        .count();
    assert_eq!(injected, 2, "{seen:?}");
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::FaultEnded { fault, .. } if *fault == id.0))
    );
}

#[test]
fn a_rule_for_another_client_id_leaves_the_request_alone() {
    let mut b = with_topic();
    b.add_fault(rule("api=Produce,error=6,client_id=someone-else"))
        .expect("added");
    assert_eq!(produce(&mut b, 0), (0, 0));
    b.add_fault(rule("api=Produce,error=6,client_id=blazemq-test"))
        .expect("added");
    assert_eq!(produce(&mut b, 0), (6, -1));
}

#[test]
fn fetch_and_list_offsets_get_partition_errors() {
    let mut b = with_topic();
    b.add_fault(rule("api=Fetch,error=NOT_LEADER_OR_FOLLOWER,count=1"))
        .expect("added");
    b.add_fault(rule(
        "api=ListOffsets,error=LEADER_NOT_AVAILABLE,count=1,topic=t,partition=1",
    ))
    .expect("added");
    let resp: FetchResponse = call(&mut b, 12, &fetch_request("t", 0, 0, 0, 1));
    assert_eq!(resp.responses[0].partitions[0].error_code, 6);
    let resp: FetchResponse = call(&mut b, 12, &fetch_request("t", 0, 0, 0, 1));
    assert_eq!(resp.responses[0].partitions[0].error_code, 0);
    let list = |p: i32| ListOffsetsRequest {
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: p,
                timestamp: -1,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let resp: ListOffsetsResponse = call(&mut b, 7, &list(0));
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    let resp: ListOffsetsResponse = call(&mut b, 7, &list(1));
    assert_eq!(resp.topics[0].partitions[0].error_code, 5);
    assert!(b.faults().is_empty());
}

fn join(b: &mut B, version: i16) -> JoinGroupResponse {
    let request = JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: vec![],
        }],
        ..Default::default()
    };
    call(b, version, &request)
}

#[test]
fn a_top_level_error_answers_the_request_at_its_version() {
    let mut b = with_topic();
    b.add_fault(rule(
        "api=JoinGroup,error=COORDINATOR_NOT_AVAILABLE,count=2",
    ))
    .expect("added");
    for v in [5, 9] {
        let resp = join(&mut b, v);
        assert_eq!((resp.error_code, resp.generation_id), (15, -1), "v{v}");
        assert_eq!(resp.protocol_name, (v < 7).then(String::new), "v{v}");
    }
    // Used up: the member joins (v4+ first asks for a member id).
    assert_eq!(
        join(&mut b, 9).error_code,
        ErrorCode::MemberIdRequired.code()
    );
    b.add_fault(rule(
        "api=FindCoordinator,error=COORDINATOR_LOAD_IN_PROGRESS",
    ))
    .expect("added");
    let request = FindCoordinatorRequest {
        coordinator_keys: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    let resp: FindCoordinatorResponse = call(&mut b, 4, &request);
    let errors: Vec<_> = resp
        .coordinators
        .iter()
        .map(|c| (c.key.as_str(), c.error_code))
        .collect();
    assert_eq!(errors, [("a", 14), ("b", 14)]);
    let resp: FindCoordinatorResponse = call(&mut b, 1, &FindCoordinatorRequest::default());
    assert_eq!((resp.error_code, resp.node_id), (14, -1));
}

#[test]
fn metadata_errors_go_on_the_matching_topic() {
    let mut b = with_topic();
    create(&mut b, "u", 1, &[]);
    b.add_fault(rule(
        "api=Metadata,error=LEADER_NOT_AVAILABLE,topic=u,count=1",
    ))
    .expect("added");
    let request = MetadataRequest {
        topics: Some(
            ["t", "u"]
                .iter()
                .map(|n| MetadataRequestTopic {
                    name: Some((*n).into()),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let resp: MetadataResponse = call(&mut b, 12, &request);
    let errors: Vec<_> = resp.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(errors, [0, 5]);
    let resp: MetadataResponse = call(&mut b, 12, &request);
    assert!(resp.topics.iter().all(|t| t.error_code == 0));
}

#[test]
fn an_offset_commit_error_commits_nothing_for_its_partition() {
    let mut b = with_topic();
    b.add_fault(rule(
        "api=OffsetCommit,error=NOT_COORDINATOR,topic=t,partition=1,count=1",
    ))
    .expect("added");
    let request = OffsetCommitRequest {
        group_id: "g".into(),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: (0..2)
                .map(|p| OffsetCommitRequestPartition {
                    partition_index: p,
                    committed_offset: 5,
                    ..Default::default()
                })
                .collect(),
        }],
        ..Default::default()
    };
    let resp: OffsetCommitResponse = call(&mut b, 8, &request);
    let errors: Vec<_> = resp.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    assert_eq!(errors, [(0, 0), (1, 16)]);
}

#[test]
fn latency_holds_answers_in_order_until_the_deadline() {
    let mut b = with_topic();
    b.add_fault(rule("api=Produce,delay_ms=100,count=1"))
        .expect("added");
    let start = b.clock.now();
    let first = b.send(CONN, 9, &produce_request("t", 0, batch(1, &["a"])));
    let second = b.send(CONN, 3, &ApiVersionsRequest::default());
    let drained = b.drain().expect("drained");
    assert!(
        drained.sent.is_empty(),
        "held back, and the next request waits behind it"
    );
    assert!(b.is_parked(CONN));
    let due = start + core::time::Duration::from_millis(100);
    assert_eq!(
        drained.deadline,
        Some(due),
        "the deadline shows in poll_output"
    );
    b.advance_ms(99);
    assert!(b.drain().expect("drained").sent.is_empty());
    b.advance_ms(1);
    let drained = b.drain().expect("drained");
    let sent = drained.on(CONN);
    assert_eq!(sent.len(), 2);
    let p: ProduceResponse = response_to(9, first, sent[0]).expect("the produce answer first");
    assert_eq!(p.responses[0].partition_responses[0].error_code, 0);
    let _: ApiVersionsResponse = response_to(3, second, sent[1]).expect("then the next one");
    assert!(b.faults().is_empty());
    assert_eq!(produce(&mut b, 0), (0, 1), "used up: answered at once");
}

#[test]
fn a_held_answer_is_dropped_with_its_connection() {
    let mut b = with_topic();
    b.add_fault(rule("api=Produce,delay_ms=100"))
        .expect("added");
    b.send(CONN, 9, &produce_request("t", 0, batch(1, &["a"])));
    assert!(b.drain().expect("drained").deadline.is_some());
    assert_eq!(b.faults.delayed.len(), 1);
    b.hang_up(CONN);
    assert!(b.faults.delayed.is_empty(), "its response given back");
    assert_eq!(b.faults.next_deadline(), None);
}

#[test]
fn close_after_lets_requests_through_then_closes_the_connection() {
    let mut b = with_topic_at(EventLevel::Debug);
    b.add_fault(rule("api=Produce,close_after=1"))
        .expect("added");
    assert_eq!(produce(&mut b, 0), (0, 0));
    let closed: Option<ProduceResponse> =
        try_call(&mut b, 9, &produce_request("t", 0, batch(1, &["b"])));
    assert!(closed.is_none(), "closed unanswered");
    assert!(b.faults().is_empty(), "a close rule closes once");
    let seen = events(&mut b);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::FaultInjected { .. })),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::RequestRefused { .. })),
        "the close is the rule's, not a refusal: {seen:?}"
    );
    assert_eq!(
        produce(&mut b, 0),
        (0, 1),
        "the closed request wrote nothing"
    );
}

#[test]
fn a_leaderless_partition_recovers_by_itself() {
    let mut b = with_topic();
    b.add_fault(rule("leaderless_ms=500,topic=t,partition=0"))
        .expect("added");
    let request = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let resp: MetadataResponse = call(&mut b, 12, &request);
    let t = resp
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some("t"))
        .expect("t");
    let parts: Vec<_> = t
        .partitions
        .iter()
        .map(|p| (p.leader_id, p.error_code))
        .collect();
    assert_eq!(parts, [(-1, 5), (0, 0)]);
    assert_eq!(produce(&mut b, 0), (6, -1));
    assert_eq!(produce(&mut b, 1), (0, 0));
    let drained = b.drain().expect("drained");
    assert!(
        drained.deadline.is_some(),
        "the end of the rule is a deadline"
    );
    b.advance_ms(500);
    b.drain().expect("drained");
    assert!(b.faults().is_empty(), "expired");
    assert!(
        events(&mut b)
            .iter()
            .any(|e| matches!(e, Event::FaultEnded { .. }))
    );
    assert_eq!(produce(&mut b, 0), (0, 0));
}

#[test]
fn throttle_shows_in_produce_and_fetch_answers_of_its_client() {
    let mut b = with_topic();
    b.add_fault(rule("throttle_ms=250,client_id=blazemq-test"))
        .expect("added");
    for v in [3, 8, 9, 11] {
        let resp: ProduceResponse = call(&mut b, v, &produce_request("t", 0, batch(1, &["a"])));
        assert_eq!(resp.throttle_time_ms, 250, "produce v{v}");
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
    }
    for v in [4, 11, 12] {
        let resp: FetchResponse = call(&mut b, v, &fetch_request("t", 0, 0, 0, 1));
        assert_eq!(resp.throttle_time_ms, 250, "fetch v{v}");
        assert!(
            resp.responses[0].partitions[0].records.is_some(),
            "fetch v{v}: data"
        );
    }
    let listed = b.faults();
    b.remove_fault(listed[0].id);
    b.add_fault(rule("throttle_ms=250,client_id=other"))
        .expect("added");
    let resp: ProduceResponse = call(&mut b, 9, &produce_request("t", 0, batch(1, &["a"])));
    assert_eq!(resp.throttle_time_ms, 0);
}

#[test]
fn a_produce_request_that_acks_nothing_is_still_failed() {
    let mut b = with_topic();
    b.add_fault(rule("api=Produce,error=6,count=1"))
        .expect("added");
    let mut request: ProduceRequest = produce_request("t", 0, batch(1, &["a"]));
    request.acks = 0;
    b.send(CONN, 9, &request);
    let drained = b.drain().expect("drained");
    // As Kafka does for acks=0 with an error: the connection closes, the client re-reads metadata.
    assert_eq!(drained.closed, [CONN]);
}

#[test]
fn create_and_delete_topics_fail_the_matching_topics_only() {
    let mut b = with_topic();
    b.add_fault(rule(
        "api=CreateTopics,error=POLICY_VIOLATION,topic=x,count=1",
    ))
    .expect("added");
    let mut request = create_topics_request("x", 1, &[]);
    request
        .topics
        .extend(create_topics_request("y", 1, &[]).topics);
    let resp: CreateTopicsResponse = call(&mut b, 7, &request);
    let errors: Vec<_> = resp
        .topics
        .iter()
        .map(|t| (t.name.as_str(), t.error_code))
        .collect();
    assert_eq!(errors, [("x", 44), ("y", 0)]);
    assert!(b.topics.by_name("x").is_none() && b.topics.by_name("y").is_some());
    create(&mut b, "x", 1, &[]);
    b.add_fault(rule("api=DeleteTopics,error=NOT_CONTROLLER,topic=y"))
        .expect("added");
    let request = DeleteTopicsRequest {
        topic_names: vec!["x".into(), "y".into()],
        ..Default::default()
    };
    let resp: DeleteTopicsResponse = call(&mut b, 5, &request);
    let errors: Vec<_> = resp.responses.iter().map(|t| t.error_code).collect();
    assert_eq!(errors, [0, 41]);
    assert!(b.topics.by_name("x").is_none() && b.topics.by_name("y").is_some());
}
