//! The coordinator's requests and answers: the spec fields its logic needs, owned, so a decoded
//! message moves in without copies. The broker converts them to and from Kafka's messages.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::ErrorCode;

/// Names a parked JoinGroup or SyncGroup; its answer comes out of
/// [`GroupCoordinator::poll_completed`](super::GroupCoordinator::poll_completed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(pub u64);

/// The outcome of a request that may have to wait.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply<T> {
    /// The answer, now.
    Now(T),
    /// The request waits; its answer arrives later under this ticket.
    Pending(Ticket),
}

/// A parked request's answer, from `poll_completed`.
#[derive(Debug, PartialEq, Eq)]
pub enum Completed {
    /// A JoinGroup's answer.
    Join(JoinAnswer),
    /// A SyncGroup's answer.
    Sync(SyncAnswer),
}

/// One protocol a member supports (`JoinGroupRequestProtocol`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protocol {
    /// `Name`, e.g. `range` or `cooperative-sticky`.
    pub name: String,
    /// `Metadata`, opaque to the broker.
    pub metadata: Vec<u8>,
}

/// JoinGroup (api key 11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRequest {
    /// The request's version: v4+ gets `MEMBER_ID_REQUIRED` on a first join, v9+ may be told to
    /// skip the assignment.
    pub api_version: i16,
    /// `GroupId`.
    pub group_id: String,
    /// `SessionTimeoutMs`.
    pub session_timeout_ms: i32,
    /// `RebalanceTimeoutMs` (v1+); -1 (v0) means the session timeout.
    pub rebalance_timeout_ms: i32,
    /// `MemberId`, empty on a first join.
    pub member_id: String,
    /// `GroupInstanceId` (v5+): set for a static member.
    pub group_instance_id: Option<String>,
    /// `ProtocolType`, e.g. `consumer`.
    pub protocol_type: String,
    /// `Protocols`, in the member's order of preference.
    pub protocols: Vec<Protocol>,
    /// The request header's client id: the prefix of a new member id.
    pub client_id: String,
    /// The client's address, as DescribeGroups reports it.
    pub client_host: String,
}

/// One member as the leader sees it in a JoinGroup answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedMember {
    /// `MemberId`.
    pub member_id: String,
    /// `GroupInstanceId`.
    pub group_instance_id: Option<String>,
    /// `Metadata` of the chosen protocol.
    pub metadata: Vec<u8>,
}

/// JoinGroup's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinAnswer {
    /// `ErrorCode`.
    pub error: ErrorCode,
    /// `GenerationId`, -1 with an error.
    pub generation_id: i32,
    /// `ProtocolType` (v7+).
    pub protocol_type: Option<String>,
    /// `ProtocolName`: the protocol chosen for this generation.
    pub protocol_name: Option<String>,
    /// `Leader`'s member id.
    pub leader: String,
    /// `SkipAssignment` (v9+): the leader is a restarted static member and must not reassign.
    pub skip_assignment: bool,
    /// `MemberId`: the member's id (a new one after `MEMBER_ID_REQUIRED`).
    pub member_id: String,
    /// `Members`: every member with its metadata, for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinAnswer {
    /// A failed join, with Kafka's defaults for the other fields.
    pub fn error(error: ErrorCode, member_id: String) -> Self {
        JoinAnswer {
            error,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id,
            members: Vec::new(),
        }
    }
}

/// One entry of SyncGroup's `Assignments`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// `MemberId`.
    pub member_id: String,
    /// `Assignment`, opaque to the broker.
    pub assignment: Vec<u8>,
}

/// SyncGroup (api key 14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    /// `GroupId`.
    pub group_id: String,
    /// `GenerationId`.
    pub generation_id: i32,
    /// `MemberId`.
    pub member_id: String,
    /// `GroupInstanceId` (v3+).
    pub group_instance_id: Option<String>,
    /// `ProtocolType` (v5+): when set, must be the group's.
    pub protocol_type: Option<String>,
    /// `ProtocolName` (v5+): when set, must be the generation's.
    pub protocol_name: Option<String>,
    /// `Assignments`, sent by the leader only.
    pub assignments: Vec<Assignment>,
}

/// SyncGroup's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncAnswer {
    /// `ErrorCode`.
    pub error: ErrorCode,
    /// `ProtocolType` (v5+).
    pub protocol_type: Option<String>,
    /// `ProtocolName` (v5+).
    pub protocol_name: Option<String>,
    /// `Assignment`: this member's share.
    pub assignment: Vec<u8>,
}

impl SyncAnswer {
    /// A failed sync.
    pub fn error(error: ErrorCode) -> Self {
        SyncAnswer {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Vec::new(),
        }
    }
}

/// Heartbeat (api key 12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// `GroupId`.
    pub group_id: String,
    /// `GenerationId`.
    pub generation_id: i32,
    /// `MemberId`.
    pub member_id: String,
    /// `GroupInstanceId` (v3+).
    pub group_instance_id: Option<String>,
}

/// One member leaving (LeaveGroup's `MemberIdentity`; v0-2 carry exactly one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeavingMember {
    /// `MemberId`; may be empty when `group_instance_id` names the member.
    pub member_id: String,
    /// `GroupInstanceId`.
    pub group_instance_id: Option<String>,
}

/// LeaveGroup (api key 13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaveRequest {
    /// `GroupId`.
    pub group_id: String,
    /// The members leaving.
    pub members: Vec<LeavingMember>,
}

/// One member's result in LeaveGroup's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftMember {
    /// `MemberId`.
    pub member_id: String,
    /// `GroupInstanceId`.
    pub group_instance_id: Option<String>,
    /// `ErrorCode` for this member.
    pub error: ErrorCode,
}

/// LeaveGroup's answer. For v0-2 the top-level error is the single member's when it is `NONE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaveAnswer {
    /// Top-level `ErrorCode`.
    pub error: ErrorCode,
    /// Per-member results (v3+ `Members`).
    pub members: Vec<LeftMember>,
}

/// One partition's offset to commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitPartition {
    /// `PartitionIndex`.
    pub partition: i32,
    /// `CommittedOffset`.
    pub offset: i64,
    /// `CommittedLeaderEpoch` (v6+), -1 if unknown.
    pub leader_epoch: i32,
    /// `CommitTimestamp` (v1 only); -1 means the broker's time.
    pub commit_timestamp_ms: i64,
    /// `CommittedMetadata`.
    pub metadata: Option<String>,
}

/// One topic's offsets to commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitTopic {
    /// `Name`.
    pub name: String,
    /// `Partitions`.
    pub partitions: Vec<CommitPartition>,
}

/// OffsetCommit (api key 8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRequest {
    /// `GroupId`.
    pub group_id: String,
    /// `GenerationIdOrMemberEpoch` (v1+); -1 (and v0) for a simple consumer.
    pub generation_id: i32,
    /// `MemberId` (v1+); empty for a simple consumer.
    pub member_id: String,
    /// `GroupInstanceId` (v7+).
    pub group_instance_id: Option<String>,
    /// `Topics`.
    pub topics: Vec<CommitTopic>,
}

/// One topic's results in OffsetCommit's answer: `(PartitionIndex, ErrorCode)` pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitTopicAnswer {
    /// `Name`.
    pub name: String,
    /// Per partition: index and error.
    pub partitions: Vec<(i32, ErrorCode)>,
}

/// One topic whose offsets to fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchTopic {
    /// `Name`.
    pub name: String,
    /// `PartitionIndexes`.
    pub partitions: Vec<i32>,
}

/// One group of an OffsetFetch (the whole request before v8, one of `Groups` from v8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchGroup {
    /// `GroupId`.
    pub group_id: String,
    /// `Topics`; `None` asks for every committed offset of the group.
    pub topics: Option<Vec<FetchTopic>>,
}

/// One partition's committed offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedPartition {
    /// `PartitionIndex`.
    pub partition: i32,
    /// `CommittedOffset`, -1 when none.
    pub offset: i64,
    /// `CommittedLeaderEpoch`, -1 when unknown.
    pub leader_epoch: i32,
    /// `Metadata`; empty when nothing is committed, as Kafka answers.
    pub metadata: Option<String>,
    /// `ErrorCode`.
    pub error: ErrorCode,
}

/// One topic's committed offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedTopic {
    /// `Name`.
    pub name: String,
    /// `Partitions`.
    pub partitions: Vec<FetchedPartition>,
}

/// One group's committed offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchAnswer {
    /// `GroupId`.
    pub group_id: String,
    /// The group-level `ErrorCode`.
    pub error: ErrorCode,
    /// `Topics`.
    pub topics: Vec<FetchedTopic>,
}

/// One member in DescribeGroups' answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedMember {
    /// `MemberId`.
    pub member_id: String,
    /// `GroupInstanceId` (v4+).
    pub group_instance_id: Option<String>,
    /// `ClientId`.
    pub client_id: String,
    /// `ClientHost`.
    pub client_host: String,
    /// `MemberMetadata` (of the chosen protocol; empty unless the group is Stable).
    pub metadata: Vec<u8>,
    /// `MemberAssignment` (empty unless the group is Stable).
    pub assignment: Vec<u8>,
}

/// One group in DescribeGroups' answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedGroup {
    /// `ErrorCode`.
    pub error: ErrorCode,
    /// `GroupId`.
    pub group_id: String,
    /// `GroupState`: `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable` or `Dead`.
    pub state: &'static str,
    /// `ProtocolType`, empty if none.
    pub protocol_type: String,
    /// `ProtocolData`: the chosen protocol when Stable, else empty.
    pub protocol_data: String,
    /// `Members`.
    pub members: Vec<DescribedMember>,
}

/// One group in ListGroups' answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedGroup {
    /// `GroupId`.
    pub group_id: String,
    /// `ProtocolType`, empty if none.
    pub protocol_type: String,
    /// `GroupState` (v4+).
    pub state: &'static str,
    /// `GroupType` (v5+): always `classic` here.
    pub group_type: &'static str,
}

/// One key's answer to FindCoordinator: the broker fills in its own node, host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorAnswer {
    /// `Key`.
    pub key: String,
    /// `ErrorCode`.
    pub error: ErrorCode,
}
