//! `GET /api/groups`, `GET /api/groups/{id}` and `POST /api/groups/{id}/reset`.

use std::collections::{BTreeMap, BTreeSet};

use blazemq_core::codec::messages::describe_groups_response::DescribedGroup;
use blazemq_core::codec::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use blazemq_core::codec::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, ListGroupsRequest, ListGroupsResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};

use super::kafka::{self, EARLIEST, LATEST, PerPartition};
use super::{Answer, assignment, bad_request, int_field};
use crate::http::ask::Ask;
use crate::http::{Request, Response};
use crate::json::Json;

/// Every group the coordinator knows, by id, with its protocol type and state.
pub(super) fn list(ask: &mut impl Ask) -> Answer {
    let response: ListGroupsResponse = kafka::asked(ask.ask(4, &ListGroupsRequest::default()))?;
    if response.error_code != 0 {
        return Err(kafka::error(response.error_code, "ListGroups"));
    }
    let mut groups = response.groups;
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    let mut j = Json::new();
    j.begin_object().key("groups").begin_array();
    for group in &groups {
        j.begin_object();
        j.key("group_id").string(&group.group_id);
        j.key("protocol_type").string(&group.protocol_type);
        j.key("state").string(&group.group_state);
        j.end_object();
    }
    j.end_array().end_object();
    Ok(Response::json(200, j.finish()))
}

/// The group as DescribeGroups tells it.
fn describe_group(ask: &mut impl Ask, id: &str) -> Result<DescribedGroup, Response> {
    let request = DescribeGroupsRequest {
        groups: vec![id.into()],
        include_authorized_operations: false,
    };
    let response: DescribeGroupsResponse = kafka::asked(ask.ask(5, &request))?;
    let group = response
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| Response::error(502, "DescribeGroups answered no group"))?;
    if group.error_code != 0 {
        return Err(kafka::error(group.error_code, &format!("group {id}")));
    }
    Ok(group)
}

/// The group's committed offsets, of every topic.
fn committed_offsets(ask: &mut impl Ask, id: &str) -> Result<PerPartition, Response> {
    let request = OffsetFetchRequest {
        group_id: id.into(),
        topics: None,
        groups: Vec::new(),
        require_stable: false,
    };
    let response: OffsetFetchResponse = kafka::asked(ask.ask(7, &request))?;
    if response.error_code != 0 {
        return Err(kafka::error(
            response.error_code,
            &format!("offsets of {id}"),
        ));
    }
    let mut committed = PerPartition::new();
    for topic in response.topics {
        for p in topic.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                committed.insert((topic.name.clone(), p.partition_index), p.committed_offset);
            }
        }
    }
    Ok(committed)
}

/// A member's assignment, decoded when the group speaks the consumer protocol.
type Assignment = Option<Vec<(String, Vec<i32>)>>;

/// The group: state, members and their assignments, and per partition the committed offset,
/// the end offset and the lag. 404 for a group with neither members nor offsets.
pub(super) fn describe(ask: &mut impl Ask, id: &str) -> Answer {
    let group = describe_group(ask, id)?;
    let committed = committed_offsets(ask, id)?;
    if group.group_state == "Dead" && committed.is_empty() {
        return Err(Response::error(404, &format!("no group {id}")));
    }
    let assignments: Vec<Assignment> = group
        .members
        .iter()
        .map(|m| {
            let consumer = group.protocol_type == "consumer";
            consumer
                .then(|| assignment::decode(&m.member_assignment))
                .flatten()
        })
        .collect();
    let owners = owners(&assignments);
    // The partitions with a committed offset or a member, as kafka-consumer-groups shows them.
    let shown: BTreeSet<(String, i32)> = committed.keys().chain(owners.keys()).cloned().collect();
    let ends = kafka::list_offsets(ask, &by_topic(&shown), LATEST)?;
    let mut j = Json::new();
    j.begin_object();
    j.key("group_id").string(id);
    j.key("state").string(&group.group_state);
    j.key("protocol_type").string(&group.protocol_type);
    j.key("protocol").string(&group.protocol_data);
    j.key("members");
    write_members(&mut j, &group, &assignments);
    j.key("offsets").begin_array();
    let mut total = 0;
    for key in &shown {
        let owner = owners.get(key).and_then(|&m| group.members.get(m));
        let (end, offset) = (ends.get(key).copied(), committed.get(key).copied());
        let lag = end.zip(offset).map(|(end, offset)| (end - offset).max(0));
        total += lag.unwrap_or(0);
        j.begin_object();
        j.key("topic").string(&key.0);
        j.key("partition").number(key.1);
        write_opt(j.key("committed"), offset);
        write_opt(j.key("end_offset"), end);
        write_opt(j.key("lag"), lag);
        j.key("member_id")
            .opt_string(owner.map(|m| m.member_id.as_str()));
        j.key("client_id")
            .opt_string(owner.map(|m| m.client_id.as_str()));
        j.end_object();
    }
    j.end_array();
    j.key("lag").number(total);
    j.end_object();
    Ok(Response::json(200, j.finish()))
}

/// Each assigned partition's member, by its index in the group's members.
fn owners(assignments: &[Assignment]) -> BTreeMap<(String, i32), usize> {
    let mut owners = BTreeMap::new();
    for (member, assigned) in assignments.iter().enumerate() {
        for (topic, partitions) in assigned.iter().flatten() {
            for &p in partitions {
                owners.insert((topic.clone(), p), member);
            }
        }
    }
    owners
}

/// `partitions` grouped by topic, as ListOffsets asks for them.
fn by_topic(partitions: &BTreeSet<(String, i32)>) -> Vec<(String, Vec<i32>)> {
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (topic, p) in partitions {
        by_topic.entry(topic.clone()).or_default().push(*p);
    }
    by_topic.into_iter().collect()
}

fn write_opt(j: &mut Json, n: Option<i64>) {
    match n {
        Some(n) => j.number(n),
        None => j.null(),
    };
}

fn write_members(j: &mut Json, group: &DescribedGroup, assignments: &[Assignment]) {
    j.begin_array();
    for (member, assigned) in group.members.iter().zip(assignments) {
        j.begin_object();
        j.key("member_id").string(&member.member_id);
        j.key("group_instance_id")
            .opt_string(member.group_instance_id.as_deref());
        j.key("client_id").string(&member.client_id);
        j.key("client_host").string(&member.client_host);
        j.key("assignment");
        match assigned {
            None => {
                j.null();
            }
            Some(topics) => {
                j.begin_array();
                for (topic, partitions) in topics {
                    j.begin_object().key("topic").string(topic);
                    j.key("partitions").begin_array();
                    for p in partitions {
                        j.number(p);
                    }
                    j.end_array().end_object();
                }
                j.end_array();
            }
        }
        j.end_object();
    }
    j.end_array();
}

/// Where a reset moves the offsets.
#[derive(Clone, Copy, Debug)]
enum Target {
    Earliest,
    Latest,
    /// This offset, moved into [log start, end offset].
    Offset(i64),
}

/// Commits new offsets for the form's `topic` (and `partition`, else all of its partitions),
/// to the log start (`to=earliest`), the end (`latest`) or `offset`; refused unless the group
/// is Empty or Dead, as `kafka-consumer-groups --reset-offsets` refuses.
pub(super) fn reset(ask: &mut impl Ask, id: &str, req: &Request<'_>) -> Answer {
    let target = match req.form("to").as_deref() {
        Some("earliest") => Target::Earliest,
        Some("latest") => Target::Latest,
        Some("offset") => Target::Offset(
            int_field(req, "offset", 0i64)?.ok_or_else(|| bad_request("offset is missing"))?,
        ),
        _ => return Err(bad_request("to must be earliest, latest or offset")),
    };
    let topic_name = req.form("topic").filter(|t| !t.is_empty());
    let topic_name = topic_name.ok_or_else(|| bad_request("topic is missing"))?;
    let partition = int_field(req, "partition", 0i32)?;
    let group = describe_group(ask, id)?;
    if !matches!(group.group_state.as_str(), "Empty" | "Dead") {
        let state = &group.group_state;
        return Err(Response::error(
            409,
            &format!("the group is {state}: offsets are reset only while it has no members"),
        ));
    }
    let topic = kafka::topic(ask, &topic_name)?;
    let all = topic.partitions.iter().map(|p| p.partition_index);
    let partitions: Vec<i32> = match partition {
        Some(p) if all.clone().any(|q| q == p) => vec![p],
        Some(p) => return Err(Response::error(404, &format!("no partition {p}"))),
        None => all.collect(),
    };
    let offsets = targets(ask, &topic_name, partitions, target)?;
    commit(ask, id, &topic_name, &offsets)?;
    let mut j = Json::new();
    j.begin_object();
    j.key("group_id").string(id);
    j.key("topic").string(&topic_name);
    j.key("partitions").begin_array();
    for (p, offset) in &offsets {
        j.begin_object().key("partition").number(p);
        j.key("offset").number(offset).end_object();
    }
    j.end_array().end_object();
    Ok(Response::json(200, j.finish()))
}

/// The offset `target` names for each partition.
fn targets(
    ask: &mut impl Ask,
    topic: &str,
    partitions: Vec<i32>,
    target: Target,
) -> Result<Vec<(i32, i64)>, Response> {
    let asked = [(topic.to_owned(), partitions)];
    let starts = kafka::list_offsets(ask, &asked, EARLIEST)?;
    let ends = kafka::list_offsets(ask, &asked, LATEST)?;
    let mut offsets = Vec::new();
    for &p in &asked[0].1 {
        let key = (topic.to_owned(), p);
        let (Some(&start), Some(&end)) = (starts.get(&key), ends.get(&key)) else {
            return Err(Response::error(502, "ListOffsets answered no offset"));
        };
        offsets.push((
            p,
            match target {
                Target::Earliest => start,
                Target::Latest => end,
                Target::Offset(o) => o.clamp(start, end.max(start)),
            },
        ));
    }
    Ok(offsets)
}

/// OffsetCommit with generation -1 and no member: how tools commit for a group without members.
fn commit(
    ask: &mut impl Ask,
    id: &str,
    topic: &str,
    offsets: &[(i32, i64)],
) -> Result<(), Response> {
    let request = OffsetCommitRequest {
        group_id: id.into(),
        generation_id_or_member_epoch: -1,
        member_id: String::new(),
        topics: vec![OffsetCommitRequestTopic {
            name: topic.into(),
            partitions: offsets
                .iter()
                .map(
                    |&(partition_index, committed_offset)| OffsetCommitRequestPartition {
                        partition_index,
                        committed_offset,
                        ..Default::default()
                    },
                )
                .collect(),
        }],
        ..Default::default()
    };
    let response: OffsetCommitResponse = kafka::asked(ask.ask(7, &request))?;
    let failed = response.topics.iter().flat_map(|t| &t.partitions);
    match failed.map(|p| p.error_code).find(|&code| code != 0) {
        Some(code) => Err(kafka::error(code, "commit")),
        None => Ok(()),
    }
}
