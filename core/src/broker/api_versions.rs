//! ApiVersions: which requests this broker answers, at which versions.

use alloc::vec::Vec;

use super::apis::{Request, apis};
use super::{Broker, Hdr, Reply, encode_response, encode_response_at};
use crate::ErrorCode;
use crate::codec::messages::api_versions_response::ApiVersion;
use crate::codec::messages::{ApiVersionsRequest, ApiVersionsResponse};
use crate::codec::{ApiKey, Message};
use crate::storage::Storage;

/// The versions of every API in the broker's table ([`apis`]) that `keep` keeps, in the
/// table's order.
fn api_keys<S: Storage>(keep: impl Fn(ApiKey) -> bool) -> Vec<ApiVersion> {
    apis::<S>()
        .iter()
        .filter(|api| keep(api.key))
        .map(|api| ApiVersion {
            api_key: api.key.code(),
            min_version: api.min_version,
            max_version: api.max_version,
        })
        .collect()
}

/// The versions of every row of the table; INVALID_REQUEST for a client software name or version
/// Kafka rejects (v3 and later).
pub(crate) fn handle<S: Storage>(_: &mut Broker<S>, r: Request<'_>) -> Reply {
    let hdr = r.hdr;
    let Ok((_, request)) = ApiVersionsRequest::decode(r.body, hdr.api_version) else {
        return Reply::Close;
    };
    let valid = hdr.api_version < 3
        || (valid_software_field(&request.client_software_name)
            && valid_software_field(&request.client_software_version));
    let response = if valid {
        ApiVersionsResponse {
            api_keys: api_keys::<S>(|_| true),
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
pub(crate) fn unsupported_version<S: Storage>(hdr: Hdr) -> Reply {
    let response = ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: api_keys::<S>(|key| key == ApiKey::ApiVersions),
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
}
