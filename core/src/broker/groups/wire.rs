//! Conversions between the generated messages and the coordinator's types, per version, so the
//! broker's dispatch is a thin call: decode, convert, call the coordinator, convert, encode.
//!
//! Responses set only the fields their version carries (the encoder refuses the others).

use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::messages::{
    delete_groups_response as dgr, describe_groups_response as dsr,
    find_coordinator_request as fcq, find_coordinator_response as fcr, heartbeat_request as hbq,
    heartbeat_response as hbr, join_group_request as jgq, join_group_response as jgr,
    leave_group_request as lgq, leave_group_response as lgr, list_groups_response as lsr,
    offset_commit_request as ocq, offset_commit_response as ocr, offset_delete_request as odq,
    offset_delete_response as odr, offset_fetch_request as ofq, offset_fetch_response as ofr,
    sync_group_request as sgq, sync_group_response as sgr,
};
use crate::error::ErrorCode;
use crate::group::{
    Assignment, CommitPartition, CommitRequest, CommitTopic, CommitTopicAnswer, CoordinatorAnswer,
    DescribedGroup, FetchAnswer, FetchGroup, FetchTopic, HeartbeatRequest, JoinAnswer, JoinRequest,
    LeaveAnswer, LeaveRequest, LeavingMember, ListedGroup, Protocol, SyncAnswer, SyncRequest,
};

/// JoinGroup request to [`JoinRequest`]; the client id and host come from the connection.
pub fn join_request(
    m: jgq::JoinGroupRequest,
    version: i16,
    client_id: String,
    client_host: String,
) -> JoinRequest {
    JoinRequest {
        api_version: version,
        group_id: m.group_id,
        session_timeout_ms: m.session_timeout_ms,
        rebalance_timeout_ms: m.rebalance_timeout_ms,
        member_id: m.member_id,
        group_instance_id: m.group_instance_id,
        protocol_type: m.protocol_type,
        protocols: m
            .protocols
            .into_iter()
            .map(|p| Protocol {
                name: p.name,
                metadata: p.metadata,
            })
            .collect(),
        client_id,
        client_host,
    }
}

/// [`JoinAnswer`] to a JoinGroup response at `version`.
pub fn join_response(a: JoinAnswer, version: i16) -> jgr::JoinGroupResponse {
    let members = a
        .members
        .into_iter()
        .map(|m| jgr::JoinGroupResponseMember {
            member_id: m.member_id,
            group_instance_id: if version >= 5 {
                m.group_instance_id
            } else {
                None
            },
            metadata: m.metadata,
        })
        .collect();
    jgr::JoinGroupResponse {
        error_code: a.error.code(),
        generation_id: a.generation_id,
        protocol_type: if version >= 7 { a.protocol_type } else { None },
        // Null only from v7; older clients read an empty name.
        protocol_name: match a.protocol_name {
            None if version < 7 => Some(String::new()),
            name => name,
        },
        leader: a.leader,
        skip_assignment: version >= 9 && a.skip_assignment,
        member_id: a.member_id,
        members,
        ..Default::default()
    }
}

/// SyncGroup request to [`SyncRequest`].
pub fn sync_request(m: sgq::SyncGroupRequest) -> SyncRequest {
    SyncRequest {
        group_id: m.group_id,
        generation_id: m.generation_id,
        member_id: m.member_id,
        group_instance_id: m.group_instance_id,
        protocol_type: m.protocol_type,
        protocol_name: m.protocol_name,
        assignments: m
            .assignments
            .into_iter()
            .map(|a| Assignment {
                member_id: a.member_id,
                assignment: a.assignment,
            })
            .collect(),
    }
}

/// [`SyncAnswer`] to a SyncGroup response at `version`.
pub fn sync_response(a: SyncAnswer, version: i16) -> sgr::SyncGroupResponse {
    let v5 = version >= 5;
    sgr::SyncGroupResponse {
        error_code: a.error.code(),
        protocol_type: if v5 { a.protocol_type } else { None },
        protocol_name: if v5 { a.protocol_name } else { None },
        assignment: a.assignment,
        ..Default::default()
    }
}

/// Heartbeat request to [`HeartbeatRequest`].
pub fn heartbeat_request(m: hbq::HeartbeatRequest) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: m.group_id,
        generation_id: m.generation_id,
        member_id: m.member_id,
        group_instance_id: m.group_instance_id,
    }
}

/// The heartbeat's error to a Heartbeat response.
pub fn heartbeat_response(error: ErrorCode) -> hbr::HeartbeatResponse {
    hbr::HeartbeatResponse {
        error_code: error.code(),
        ..Default::default()
    }
}

/// LeaveGroup request to [`LeaveRequest`]: v0-2 name one member, v3+ a batch.
pub fn leave_request(m: lgq::LeaveGroupRequest, version: i16) -> LeaveRequest {
    let members = if version >= 3 {
        m.members
            .into_iter()
            .map(|x| LeavingMember {
                member_id: x.member_id,
                group_instance_id: x.group_instance_id,
            })
            .collect()
    } else {
        alloc::vec![LeavingMember {
            member_id: m.member_id,
            group_instance_id: None,
        }]
    };
    LeaveRequest {
        group_id: m.group_id,
        members,
    }
}

/// [`LeaveAnswer`] to a LeaveGroup response: v0-2 carry the single member's error at the top.
pub fn leave_response(a: LeaveAnswer, version: i16) -> lgr::LeaveGroupResponse {
    if version < 3 {
        let member_error = a.members.first().map(|m| m.error);
        let error = match (a.error, member_error) {
            (ErrorCode::None, Some(e)) => e,
            (e, _) => e,
        };
        return lgr::LeaveGroupResponse {
            error_code: error.code(),
            ..Default::default()
        };
    }
    lgr::LeaveGroupResponse {
        error_code: a.error.code(),
        members: a
            .members
            .into_iter()
            .map(|m| lgr::MemberResponse {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                error_code: m.error.code(),
            })
            .collect(),
        ..Default::default()
    }
}

/// OffsetCommit request to [`CommitRequest`]. v0 commits as a simple consumer.
pub fn commit_request(m: ocq::OffsetCommitRequest, version: i16) -> CommitRequest {
    let (generation_id, member_id) = if version >= 1 {
        (m.generation_id_or_member_epoch, m.member_id)
    } else {
        (-1, String::new())
    };
    CommitRequest {
        group_id: m.group_id,
        generation_id,
        member_id,
        group_instance_id: m.group_instance_id,
        topics: m
            .topics
            .into_iter()
            .map(|t| CommitTopic {
                name: t.name,
                partitions: t
                    .partitions
                    .into_iter()
                    .map(|p| CommitPartition {
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        },
                        commit_timestamp_ms: if version == 1 { p.commit_timestamp } else { -1 },
                        metadata: p.committed_metadata,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// OffsetCommit's results to its response.
pub fn commit_response(topics: Vec<CommitTopicAnswer>) -> ocr::OffsetCommitResponse {
    ocr::OffsetCommitResponse {
        topics: topics
            .into_iter()
            .map(|t| ocr::OffsetCommitResponseTopic {
                name: t.name,
                partitions: t
                    .partitions
                    .into_iter()
                    .map(|(partition_index, e)| ocr::OffsetCommitResponsePartition {
                        partition_index,
                        error_code: e.code(),
                    })
                    .collect(),
            })
            .collect(),
        ..Default::default()
    }
}

/// OffsetFetch request to the groups it asks about (one before v8) and `require_stable`.
pub fn fetch_request(m: ofq::OffsetFetchRequest, version: i16) -> (Vec<FetchGroup>, bool) {
    let topics = |ts: Vec<(String, Vec<i32>)>| {
        ts.into_iter()
            .map(|(name, partitions)| FetchTopic { name, partitions })
            .collect()
    };
    let groups = if version >= 8 {
        m.groups
            .into_iter()
            .map(|g| FetchGroup {
                group_id: g.group_id,
                topics: g.topics.map(|ts| {
                    topics(
                        ts.into_iter()
                            .map(|t| (t.name, t.partition_indexes))
                            .collect(),
                    )
                }),
            })
            .collect()
    } else {
        alloc::vec![FetchGroup {
            group_id: m.group_id,
            topics: m.topics.map(|ts| {
                topics(
                    ts.into_iter()
                        .map(|t| (t.name, t.partition_indexes))
                        .collect(),
                )
            }),
        }]
    };
    (groups, m.require_stable)
}

/// OffsetFetch's answers to its response at `version`: v0-7 answer one group at the top level.
pub fn fetch_response(groups: Vec<FetchAnswer>, version: i16) -> ofr::OffsetFetchResponse {
    if version >= 8 {
        return ofr::OffsetFetchResponse {
            groups: groups.into_iter().map(fetch_group).collect(),
            ..Default::default()
        };
    }
    let Some(g) = groups.into_iter().next() else {
        return ofr::OffsetFetchResponse::default();
    };
    let topics = g
        .topics
        .into_iter()
        .map(|t| ofr::OffsetFetchResponseTopic {
            name: t.name,
            partitions: t
                .partitions
                .into_iter()
                .map(|p| ofr::OffsetFetchResponsePartition {
                    partition_index: p.partition,
                    committed_offset: p.offset,
                    committed_leader_epoch: if version >= 5 { p.leader_epoch } else { -1 },
                    metadata: p.metadata,
                    error_code: p.error.code(),
                })
                .collect(),
        })
        .collect();
    ofr::OffsetFetchResponse {
        topics,
        error_code: if version >= 2 { g.error.code() } else { 0 },
        ..Default::default()
    }
}

fn fetch_group(g: FetchAnswer) -> ofr::OffsetFetchResponseGroup {
    ofr::OffsetFetchResponseGroup {
        group_id: g.group_id,
        topics: g
            .topics
            .into_iter()
            .map(|t| ofr::OffsetFetchResponseTopics {
                name: t.name,
                partitions: t
                    .partitions
                    .into_iter()
                    .map(|p| ofr::OffsetFetchResponsePartitions {
                        partition_index: p.partition,
                        committed_offset: p.offset,
                        committed_leader_epoch: p.leader_epoch,
                        metadata: p.metadata,
                        error_code: p.error.code(),
                    })
                    .collect(),
            })
            .collect(),
        error_code: g.error.code(),
    }
}

/// DescribeGroups' answers to its response at `version`.
pub fn describe_response(groups: Vec<DescribedGroup>, version: i16) -> dsr::DescribeGroupsResponse {
    dsr::DescribeGroupsResponse {
        groups: groups
            .into_iter()
            .map(|g| dsr::DescribedGroup {
                error_code: g.error.code(),
                group_id: g.group_id,
                group_state: String::from(g.state),
                protocol_type: g.protocol_type,
                protocol_data: g.protocol_data,
                members: g
                    .members
                    .into_iter()
                    .map(|m| dsr::DescribedGroupMember {
                        member_id: m.member_id,
                        group_instance_id: if version >= 4 {
                            m.group_instance_id
                        } else {
                            None
                        },
                        client_id: m.client_id,
                        client_host: m.client_host,
                        member_metadata: m.metadata,
                        member_assignment: m.assignment,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// ListGroups' answer to its response at `version`.
pub fn list_response(groups: Vec<ListedGroup>, version: i16) -> lsr::ListGroupsResponse {
    lsr::ListGroupsResponse {
        groups: groups
            .into_iter()
            .map(|g| lsr::ListedGroup {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                group_state: if version >= 4 {
                    String::from(g.state)
                } else {
                    String::new()
                },
                group_type: if version >= 5 {
                    String::from(g.group_type)
                } else {
                    String::new()
                },
            })
            .collect(),
        ..Default::default()
    }
}

/// DeleteGroups' results to its response.
pub fn delete_response(results: Vec<(String, ErrorCode)>) -> dgr::DeleteGroupsResponse {
    dgr::DeleteGroupsResponse {
        results: results
            .into_iter()
            .map(|(group_id, e)| dgr::DeletableGroupResult {
                group_id,
                error_code: e.code(),
            })
            .collect(),
        ..Default::default()
    }
}

/// OffsetDelete's topics to the partitions they name.
pub fn offset_delete_topics(topics: Vec<odq::OffsetDeleteRequestTopic>) -> Vec<FetchTopic> {
    topics
        .into_iter()
        .map(|t| FetchTopic {
            name: t.name,
            partitions: t.partitions.iter().map(|p| p.partition_index).collect(),
        })
        .collect()
}

/// OffsetDelete's answer to its response: the coordinator's per-partition results and the
/// partitions the broker does not have (`UNKNOWN_TOPIC_OR_PARTITION`), or an error for the whole
/// request, which Kafka sends with no topics.
pub fn offset_delete_response(
    result: Result<Vec<CommitTopicAnswer>, ErrorCode>,
    unknown: Vec<FetchTopic>,
) -> odr::OffsetDeleteResponse {
    let answers = match result {
        Ok(answers) => answers,
        Err(error) => {
            return odr::OffsetDeleteResponse {
                error_code: error.code(),
                ..Default::default()
            };
        }
    };
    let unknown = unknown.into_iter().map(|t| CommitTopicAnswer {
        partitions: t
            .partitions
            .into_iter()
            .map(|p| (p, ErrorCode::UnknownTopicOrPartition))
            .collect(),
        name: t.name,
    });
    let topics = answers
        .into_iter()
        .chain(unknown)
        .map(|t| odr::OffsetDeleteResponseTopic {
            name: t.name,
            partitions: t
                .partitions
                .into_iter()
                .map(|(partition_index, e)| odr::OffsetDeleteResponsePartition {
                    partition_index,
                    error_code: e.code(),
                })
                .collect(),
        })
        .collect();
    odr::OffsetDeleteResponse {
        topics,
        ..Default::default()
    }
}

/// FindCoordinator request to its key type and keys (one before v4; v0 asks for a group).
pub fn find_coordinator_request(m: fcq::FindCoordinatorRequest, version: i16) -> (i8, Vec<String>) {
    let key_type = if version >= 1 { m.key_type } else { 0 };
    if version >= 4 {
        (key_type, m.coordinator_keys)
    } else {
        (key_type, alloc::vec![m.key])
    }
}

/// FindCoordinator's answers to its response at `version`, naming this broker where there is
/// no error (Kafka answers -1, "" and -1 with an error).
pub fn find_coordinator_response(
    answers: Vec<CoordinatorAnswer>,
    version: i16,
    node_id: i32,
    host: &str,
    port: i32,
) -> fcr::FindCoordinatorResponse {
    let node = |e: ErrorCode| {
        if e == ErrorCode::None {
            (node_id, String::from(host), port)
        } else {
            (-1, String::new(), -1)
        }
    };
    if version >= 4 {
        return fcr::FindCoordinatorResponse {
            coordinators: answers
                .into_iter()
                .map(|a| {
                    let (node_id, host, port) = node(a.error);
                    fcr::Coordinator {
                        key: a.key,
                        node_id,
                        host,
                        port,
                        error_code: a.error.code(),
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        };
    }
    let error = answers
        .first()
        .map_or(ErrorCode::InvalidRequest, |a| a.error);
    let (node_id, host, port) = node(error);
    fcr::FindCoordinatorResponse {
        error_code: error.code(),
        node_id,
        host,
        port,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;
    use crate::codec::{Message, Writer};
    use crate::group::{DescribedMember, FetchedPartition, FetchedTopic, JoinedMember, LeftMember};

    /// Encodes at `version` and decodes it back: what a client would read.
    fn wire<M: Message>(m: &M, version: i16) -> M {
        let mut w = Writer::new();
        m.encode(&mut w, version)
            .unwrap_or_else(|e| panic!("v{version}: {e:?}"));
        M::decode_complete(w.as_bytes(), version).expect("what we encode decodes")
    }

    fn versions<M: Message>() -> core::ops::RangeInclusive<i16> {
        M::LOWEST_VERSION..=M::HIGHEST_VERSION
    }

    #[test]
    fn join_answers_encode_at_every_version() {
        for v in versions::<jgr::JoinGroupResponse>() {
            let a = JoinAnswer {
                error: ErrorCode::None,
                generation_id: 3,
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                leader: "m-1".into(),
                skip_assignment: true,
                member_id: "m-1".into(),
                members: vec![JoinedMember {
                    member_id: "m-1".into(),
                    group_instance_id: Some("i".into()),
                    metadata: vec![1, 2],
                }],
            };
            let back = wire(&join_response(a, v), v);
            assert_eq!(back.generation_id, 3);
            assert_eq!(back.protocol_name.as_deref(), Some("range"));
            assert_eq!(back.skip_assignment, v >= 9);
            assert_eq!(back.members[0].metadata, [1, 2]);
            let err = join_response(
                JoinAnswer::error(ErrorCode::MemberIdRequired, "x".into()),
                v,
            );
            let back = wire(&err, v);
            assert_eq!(back.error_code, 79);
            assert_eq!(back.protocol_name.as_deref().unwrap_or_default(), "");
        }
    }

    #[test]
    fn join_requests_convert_at_every_version() {
        for v in versions::<jgq::JoinGroupRequest>() {
            let m = jgq::JoinGroupRequest {
                group_id: "g".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: if v >= 1 { 20_000 } else { -1 },
                protocol_type: "consumer".into(),
                protocols: vec![jgq::JoinGroupRequestProtocol {
                    name: "range".into(),
                    metadata: vec![9],
                }],
                group_instance_id: if v >= 5 { Some("i".into()) } else { None },
                ..Default::default()
            };
            let r = join_request(wire(&m, v), v, "c".into(), "/h".into());
            assert_eq!((r.api_version, r.session_timeout_ms), (v, 10_000));
            assert_eq!(r.protocols[0].metadata, [9]);
            assert_eq!(r.group_instance_id.is_some(), v >= 5);
        }
    }

    #[test]
    fn sync_heartbeat_leave_encode_at_every_version() {
        for v in versions::<sgr::SyncGroupResponse>() {
            let a = SyncAnswer {
                error: ErrorCode::None,
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                assignment: vec![7],
            };
            let back = wire(&sync_response(a, v), v);
            assert_eq!(back.assignment, [7]);
            assert_eq!(back.protocol_name.is_some(), v >= 5);
        }
        for v in versions::<hbr::HeartbeatResponse>() {
            let back = wire(&heartbeat_response(ErrorCode::RebalanceInProgress), v);
            assert_eq!(back.error_code, 27);
        }
        for v in versions::<lgr::LeaveGroupResponse>() {
            let a = LeaveAnswer {
                error: ErrorCode::None,
                members: vec![LeftMember {
                    member_id: "m".into(),
                    group_instance_id: None,
                    error: ErrorCode::UnknownMemberId,
                }],
            };
            let back = wire(&leave_response(a, v), v);
            if v < 3 {
                assert_eq!(
                    back.error_code, 25,
                    "v{v} carries the member's error on top"
                );
            } else {
                assert_eq!((back.error_code, back.members[0].error_code), (0, 25));
            }
        }
        for v in versions::<lgq::LeaveGroupRequest>() {
            let m = if v >= 3 {
                lgq::LeaveGroupRequest {
                    group_id: "g".into(),
                    members: vec![lgq::MemberIdentity {
                        member_id: String::new(),
                        group_instance_id: Some("i".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }
            } else {
                lgq::LeaveGroupRequest {
                    group_id: "g".into(),
                    member_id: "m".into(),
                    ..Default::default()
                }
            };
            let r = leave_request(wire(&m, v), v);
            assert_eq!(r.members.len(), 1);
        }
    }

    #[test]
    fn commits_encode_at_every_version() {
        for v in versions::<ocq::OffsetCommitRequest>() {
            let m = ocq::OffsetCommitRequest {
                group_id: "g".into(),
                generation_id_or_member_epoch: if v >= 1 { 4 } else { -1 },
                member_id: if v >= 1 { "m".into() } else { String::new() },
                topics: vec![ocq::OffsetCommitRequestTopic {
                    name: "t".into(),
                    partitions: vec![ocq::OffsetCommitRequestPartition {
                        partition_index: 1,
                        committed_offset: 5,
                        committed_metadata: Some("x".into()),
                        ..Default::default()
                    }],
                }],
                ..Default::default()
            };
            let r = commit_request(wire(&m, v), v);
            assert_eq!(r.generation_id, if v >= 1 { 4 } else { -1 });
            assert_eq!(r.topics[0].partitions[0].offset, 5);
            let answer = vec![CommitTopicAnswer {
                name: "t".into(),
                partitions: vec![(1, ErrorCode::IllegalGeneration)],
            }];
            let back = wire(&commit_response(answer), v);
            assert_eq!(back.topics[0].partitions[0].error_code, 22);
        }
    }

    #[test]
    fn offset_fetches_encode_at_every_version() {
        for v in versions::<ofr::OffsetFetchResponse>() {
            let answer = FetchAnswer {
                group_id: "g".into(),
                error: ErrorCode::None,
                topics: vec![FetchedTopic {
                    name: "t".into(),
                    partitions: vec![FetchedPartition {
                        partition: 0,
                        offset: -1,
                        leader_epoch: -1,
                        metadata: Some(String::new()),
                        error: ErrorCode::None,
                    }],
                }],
            };
            let back = wire(&fetch_response(vec![answer], v), v);
            let offset = if v >= 8 {
                back.groups[0].topics[0].partitions[0].committed_offset
            } else {
                back.topics[0].partitions[0].committed_offset
            };
            assert_eq!(offset, -1);
        }
        for v in versions::<ofq::OffsetFetchRequest>() {
            let mut m = ofq::OffsetFetchRequest::default();
            if v >= 8 {
                m.groups = vec![
                    ofq::OffsetFetchRequestGroup {
                        group_id: "a".into(),
                        topics: None,
                        ..Default::default()
                    },
                    ofq::OffsetFetchRequestGroup {
                        group_id: "b".into(),
                        topics: Some(Vec::new()),
                        ..Default::default()
                    },
                ];
            } else {
                m.group_id = "a".into();
                m.topics = Some(vec![ofq::OffsetFetchRequestTopic {
                    name: "t".into(),
                    partition_indexes: vec![0, 1],
                }]);
            }
            let (groups, _) = fetch_request(wire(&m, v), v);
            assert_eq!(groups.len(), if v >= 8 { 2 } else { 1 });
            assert_eq!(groups[0].group_id, "a");
        }
    }

    #[test]
    fn admin_answers_encode_at_every_version() {
        for v in versions::<dsr::DescribeGroupsResponse>() {
            let g = DescribedGroup {
                error: ErrorCode::None,
                group_id: "g".into(),
                state: "Stable",
                protocol_type: "consumer".into(),
                protocol_data: "range".into(),
                members: vec![DescribedMember {
                    member_id: "m".into(),
                    group_instance_id: Some("i".into()),
                    client_id: "c".into(),
                    client_host: "/h".into(),
                    metadata: vec![1],
                    assignment: vec![2],
                }],
            };
            let back = wire(&describe_response(vec![g], v), v);
            assert_eq!(back.groups[0].group_state, "Stable");
            assert_eq!(back.groups[0].members[0].member_assignment, [2]);
        }
        for v in versions::<lsr::ListGroupsResponse>() {
            let g = ListedGroup {
                group_id: "g".into(),
                protocol_type: "consumer".into(),
                state: "Empty",
                group_type: "classic",
            };
            let back = wire(&list_response(vec![g], v), v);
            assert_eq!(
                back.groups[0].group_state,
                if v >= 4 { "Empty" } else { "" }
            );
        }
        for v in versions::<dgr::DeleteGroupsResponse>() {
            let back = wire(
                &delete_response(vec![("g".into(), ErrorCode::NonEmptyGroup)]),
                v,
            );
            assert_eq!(back.results[0].error_code, 68);
        }
        for v in versions::<fcr::FindCoordinatorResponse>() {
            let m = fcq::FindCoordinatorRequest {
                key: if v < 4 { "g".into() } else { String::new() },
                coordinator_keys: if v >= 4 { vec!["g".into()] } else { Vec::new() },
                ..Default::default()
            };
            let (key_type, keys) = find_coordinator_request(wire(&m, v), v);
            let answers = crate::group::find_coordinator(key_type, keys);
            let back = wire(
                &find_coordinator_response(answers, v, 1, "localhost", 9092),
                v,
            );
            if v >= 4 {
                assert_eq!(
                    (back.coordinators[0].key.as_str(), back.coordinators[0].port),
                    ("g", 9092)
                );
            } else {
                assert_eq!((back.error_code, back.node_id, back.port), (0, 1, 9092));
            }
        }
    }
}
