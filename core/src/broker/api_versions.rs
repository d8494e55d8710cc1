//! ApiVersions: which requests this broker answers, at which versions.

use alloc::vec::Vec;

use super::{Hdr, Reply, encode_response, encode_response_at};
use crate::ErrorCode;
use crate::codec::messages::api_versions_response::ApiVersion;
use crate::codec::messages::{ApiVersionsRequest, ApiVersionsResponse};
use crate::codec::{ApiKey, Message};

/// Every API the broker answers, with its (lowest, highest) version. Sorted by key, as Kafka lists
/// them.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 11),
    (ApiKey::Fetch, 0, 17),
    (ApiKey::ListOffsets, 0, 10),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 0, 9),
    (ApiKey::OffsetFetch, 0, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 0, 7),
    (ApiKey::DeleteTopics, 0, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::AddPartitionsToTxn, 0, 5),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    // v5 bumps the epoch at every end (KIP-890 part 2), which the spec marks unstable.
    (ApiKey::EndTxn, 0, 4),
    (ApiKey::TxnOffsetCommit, 0, 4),
    (ApiKey::DescribeConfigs, 0, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeLogDirs, 0, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::AlterPartitionReassignments, 0, 0),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
];

pub(crate) fn supports(key: ApiKey, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|&(k, lo, hi)| k == key && (lo..=hi).contains(&version))
}

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|&(key, min_version, max_version)| ApiVersion {
            api_key: key.code(),
            min_version,
            max_version,
        })
        .collect()
}

pub(crate) fn handle(hdr: Hdr, body: &[u8]) -> Reply {
    let Ok((_, request)) = ApiVersionsRequest::decode(body, hdr.api_version) else {
        return Reply::Close;
    };
    let valid = hdr.api_version < 3
        || (valid_software_field(&request.client_software_name)
            && valid_software_field(&request.client_software_version));
    let response = if valid {
        ApiVersionsResponse {
            api_keys: api_keys(),
            ..Default::default()
        }
    } else {
        ApiVersionsResponse {
            error_code: ErrorCode::InvalidRequest.code(),
            ..Default::default()
        }
    };
    encode_response(hdr, &response)
}

/// KIP-511: a request version the broker does not know gets a v0 response with
/// UNSUPPORTED_VERSION, listing the ApiVersions range so the client can retry.
pub(crate) fn unsupported_version(hdr: Hdr) -> Reply {
    let (lo, hi) = (ApiVersionsRequest::LOWEST_VERSION, 4);
    let response = ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: alloc::vec![ApiVersion {
            api_key: ApiKey::ApiVersions.code(),
            min_version: lo,
            max_version: hi,
        }],
        ..Default::default()
    };
    encode_response_at(hdr, 0, &response)
}

/// Kafka's rule for ClientSoftwareName/Version: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: u8| c.is_ascii_alphanumeric();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            edge(f) && edge(l) && b.iter().all(|&c| edge(c) || c == b'-' || c == b'.')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_name_rule() {
        assert!(valid_software_field("librdkafka"));
        assert!(valid_software_field("2.0.2"));
        assert!(valid_software_field("a"));
        assert!(!valid_software_field(""));
        assert!(!valid_software_field("-x"));
        assert!(!valid_software_field("x."));
        assert!(!valid_software_field("a b"));
    }

    #[test]
    fn table_sorted_and_within_spec() {
        assert!(SUPPORTED.windows(2).all(|w| w[0].0.code() < w[1].0.code()));
        for &(key, lo, hi) in SUPPORTED {
            let (spec_lo, spec_hi) = key.versions().expect("a key the spec defines");
            assert!(spec_lo <= lo && hi <= spec_hi, "{key:?}");
        }
    }
}
