//! DescribeGroups, ListGroups, DeleteGroups and FindCoordinator.

use alloc::string::String;
use alloc::vec::Vec;

use super::coordinator::GroupCoordinator;
use super::records;
use super::staged::Staged;
use super::state::{Group, State};
use super::types::{CoordinatorAnswer, DescribedGroup, DescribedMember, ListedGroup};
use crate::error::ErrorCode;

/// FindCoordinator's `KeyType` for a consumer group.
pub const KEY_TYPE_GROUP: i8 = 0;
/// FindCoordinator's `KeyType` for a transactional id.
pub const KEY_TYPE_TRANSACTION: i8 = 1;

/// The type every group here has (ListGroups v5 `GroupType`): the classic protocol.
const GROUP_TYPE_CLASSIC: &str = "classic";

/// FindCoordinator: this single broker coordinates every group and transactional id. Other key
/// types get `INVALID_REQUEST`, as Kafka answers an unknown coordinator type.
pub fn find_coordinator(key_type: i8, keys: Vec<String>) -> Vec<CoordinatorAnswer> {
    let error = match key_type {
        KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION => ErrorCode::None,
        _ => ErrorCode::InvalidRequest,
    };
    keys.into_iter()
        .map(|key| CoordinatorAnswer { key, error })
        .collect()
}

impl GroupCoordinator {
    /// DescribeGroups: an unknown group is reported `Dead` with no error, as Kafka does (v0-5).
    pub fn describe(&self, group_ids: Vec<String>) -> Vec<DescribedGroup> {
        group_ids
            .into_iter()
            .map(|id| match self.groups.get(&id) {
                Some(group) => describe_group(id, group),
                None => DescribedGroup {
                    error: ErrorCode::None,
                    group_id: id,
                    state: "Dead",
                    protocol_type: String::new(),
                    protocol_data: String::new(),
                    members: Vec::new(),
                },
            })
            .collect()
    }

    /// ListGroups. `states_filter` (v4+) and `types_filter` (v5+) match case-insensitively;
    /// empty filters match everything.
    pub fn list(&self, states_filter: &[String], types_filter: &[String]) -> Vec<ListedGroup> {
        let type_ok = types_filter.is_empty()
            || types_filter
                .iter()
                .any(|t| t.eq_ignore_ascii_case(GROUP_TYPE_CLASSIC));
        if !type_ok {
            return Vec::new();
        }
        self.groups
            .iter()
            .filter(|(_, g)| {
                states_filter.is_empty()
                    || states_filter
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.name()))
            })
            .map(|(id, g)| ListedGroup {
                group_id: id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name(),
                group_type: GROUP_TYPE_CLASSIC,
            })
            .collect()
    }

    /// DeleteGroups: an Empty group goes, with its offsets; a group with members gets
    /// `NON_EMPTY_GROUP`, an unknown one `GROUP_ID_NOT_FOUND`.
    pub fn delete(&mut self, group_ids: Vec<String>) -> Vec<(String, ErrorCode)> {
        group_ids
            .into_iter()
            .map(|id| {
                let error = match self.groups.get(&id).map(|g| g.state) {
                    None => ErrorCode::GroupIdNotFound,
                    Some(State::Empty) => {
                        self.remove_group(&id);
                        ErrorCode::None
                    }
                    Some(_) => ErrorCode::NonEmptyGroup,
                };
                (id, error)
            })
            .collect()
    }

    /// Forgets a group and its offsets, and logs their tombstones (one per offset key, as Kafka
    /// writes, so no offset outlives its group when the log keeps only each key's newest
    /// record, then the group's); the group comes back if they are not stored.
    pub(crate) fn remove_group(&mut self, id: &str) {
        if let Some(before) = self.take_group(id) {
            for (topic, partition) in before.offsets.keys() {
                let tombstone = records::offset_tombstone(id, topic, *partition);
                self.out.stage_record(tombstone);
            }
            let change = Staged::Restore {
                group_id: String::from(id),
                before,
            };
            self.out.stage(records::tombstone(id), change);
        }
    }

    /// Forgets a group and its offsets.
    pub(crate) fn forget_group(&mut self, id: &str) {
        self.take_group(id);
    }

    fn take_group(&mut self, id: &str) -> Option<Group> {
        let group = self.groups.remove(id)?;
        self.offsets_held = self.offsets_held.saturating_sub(group.offsets.len());
        Some(group)
    }
}

fn describe_group(group_id: String, group: &Group) -> DescribedGroup {
    // Kafka shows metadata and assignments only once they are settled (Stable).
    let stable = group.state == State::Stable;
    let protocol = group.protocol_name.clone().unwrap_or_default();
    let members = group
        .members_by_seq()
        .into_iter()
        .map(|(id, m)| DescribedMember {
            member_id: String::from(id),
            group_instance_id: m.instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            metadata: if stable {
                m.metadata_for(&protocol).unwrap_or_default().to_vec()
            } else {
                Vec::new()
            },
            assignment: if stable {
                m.assignment.clone()
            } else {
                Vec::new()
            },
        })
        .collect();
    DescribedGroup {
        error: ErrorCode::None,
        group_id,
        state: group.state.name(),
        protocol_type: group.protocol_type.clone().unwrap_or_default(),
        protocol_data: if stable { protocol } else { String::new() },
        members,
    }
}
