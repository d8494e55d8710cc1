//! Answers a fault makes: an API's whole answer carrying an error, built from the decoded
//! request at its version as Kafka's `AbstractRequest.getErrorResponse` builds them, and a
//! throttle time written into an answer already encoded.

use alloc::string::String;
use alloc::vec::Vec;

use super::super::{Hdr, Reply, Response, encode_response};
use crate::codec::ApiKey;
use crate::codec::Message;
use crate::codec::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use crate::codec::messages::describe_groups_response::DescribedGroup;
use crate::codec::messages::find_coordinator_response::Coordinator;
use crate::codec::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    DescribeGroupsRequest, DescribeGroupsResponse, EndTxnResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, HeartbeatResponse, InitProducerIdResponse, JoinGroupResponse,
    LeaveGroupResponse, ListGroupsResponse, SyncGroupResponse,
};
use crate::error::ErrorCode;

/// The answer to a request of `api` (one of `rule::TOP_LEVEL_APIS`) failing with `code`. A
/// request that does not decode closes the connection, as it would without the fault.
pub(super) fn error_response(api: ApiKey, hdr: Hdr, body: &[u8], code: ErrorCode) -> Reply {
    let (v, e) = (hdr.api_version, code.code());
    match api {
        ApiKey::FindCoordinator => match FindCoordinatorRequest::decode(body, v) {
            Ok((_, request)) => encode_response(hdr, &find_coordinator(v, e, request)),
            Err(_) => Reply::Close,
        },
        ApiKey::JoinGroup => encode_response(
            hdr,
            &JoinGroupResponse {
                error_code: e,
                // Kafka: null from v7, where it became nullable; empty before.
                protocol_name: (v < 7).then(String::new),
                ..Default::default()
            },
        ),
        ApiKey::SyncGroup => encode_response(hdr, &sync_group(e)),
        ApiKey::Heartbeat => encode_response(hdr, &heartbeat(e)),
        ApiKey::LeaveGroup => encode_response(hdr, &leave_group(e)),
        ApiKey::ListGroups => encode_response(hdr, &list_groups(e)),
        ApiKey::DescribeGroups => match DescribeGroupsRequest::decode(body, v) {
            Ok((_, request)) => encode_response(hdr, &describe_groups(e, request)),
            Err(_) => Reply::Close,
        },
        ApiKey::InitProducerId => encode_response(
            hdr,
            &InitProducerIdResponse {
                error_code: e,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        ),
        ApiKey::AddPartitionsToTxn => match AddPartitionsToTxnRequest::decode(body, v) {
            Ok((_, request)) => encode_response(hdr, &add_partitions(v, e, request)),
            Err(_) => Reply::Close,
        },
        ApiKey::AddOffsetsToTxn => encode_response(hdr, &add_offsets(e)),
        ApiKey::EndTxn => encode_response(hdr, &end_txn(e)),
        // `FaultRule::check` lets no other API's error rule in.
        _ => Reply::Close,
    }
}

fn find_coordinator(v: i16, e: i16, request: FindCoordinatorRequest) -> FindCoordinatorResponse {
    let no_node = FindCoordinatorResponse {
        error_code: e,
        node_id: -1,
        port: -1,
        ..Default::default()
    };
    if v < 4 {
        return no_node;
    }
    // v4 batches keys: each gets the error (`prepareErrorResponse`).
    let coordinators = request
        .coordinator_keys
        .into_iter()
        .map(|key| Coordinator {
            key,
            node_id: -1,
            port: -1,
            error_code: e,
            ..Default::default()
        })
        .collect();
    FindCoordinatorResponse {
        coordinators,
        error_code: 0,
        node_id: 0,
        port: 0,
        ..Default::default()
    }
}

fn sync_group(e: i16) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: e,
        ..Default::default()
    }
}

fn heartbeat(e: i16) -> HeartbeatResponse {
    HeartbeatResponse {
        error_code: e,
        ..Default::default()
    }
}

fn leave_group(e: i16) -> LeaveGroupResponse {
    LeaveGroupResponse {
        error_code: e,
        ..Default::default()
    }
}

fn list_groups(e: i16) -> ListGroupsResponse {
    ListGroupsResponse {
        error_code: e,
        ..Default::default()
    }
}

fn describe_groups(e: i16, request: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let groups = request
        .groups
        .into_iter()
        .map(|group_id| DescribedGroup {
            error_code: e,
            group_id,
            ..Default::default()
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}

fn add_partitions(
    v: i16,
    e: i16,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    if v >= 4 {
        return AddPartitionsToTxnResponse {
            error_code: e,
            ..Default::default()
        };
    }
    // Before v4 the answer is per partition only.
    let results_by_topic_v3_and_below = request
        .v3_and_below_topics
        .into_iter()
        .map(|t| AddPartitionsToTxnTopicResult {
            name: t.name,
            results_by_partition: t
                .partitions
                .into_iter()
                .map(|partition_index| AddPartitionsToTxnPartitionResult {
                    partition_index,
                    partition_error_code: e,
                })
                .collect::<Vec<_>>(),
        })
        .collect();
    AddPartitionsToTxnResponse {
        results_by_topic_v3_and_below,
        ..Default::default()
    }
}

fn add_offsets(e: i16) -> AddOffsetsToTxnResponse {
    AddOffsetsToTxnResponse {
        error_code: e,
        ..Default::default()
    }
}

fn end_txn(e: i16) -> EndTxnResponse {
    EndTxnResponse {
        error_code: e,
        ..Default::default()
    }
}

/// Write `throttle_ms` into an encoded Produce or Fetch answer: Fetch has it first in its body
/// (v1+), Produce last, before the body's tagged fields from v9 (which the broker writes
/// empty: one byte). Older versions have no field, and other APIs are left alone.
pub(super) fn set_throttle(response: &mut Response, hdr: Hdr, throttle_ms: i32) {
    let v = hdr.api_version;
    let bytes = &mut response.bytes;
    let at = match ApiKey::from_code(hdr.api_key) {
        // Size prefix, correlation id, and from v12 the header's empty tagged fields.
        ApiKey::Fetch if v >= 1 => 8 + usize::from(v >= 12),
        ApiKey::Produce if v >= 1 => match bytes.len().checked_sub(4 + usize::from(v >= 9)) {
            Some(at) => at,
            None => return,
        },
        _ => return,
    };
    if let Some(field) = bytes.get_mut(at..at + 4) {
        field.copy_from_slice(&throttle_ms.to_be_bytes());
    }
}
