//! ApiVersions: which requests this broker answers, at which versions.

use alloc::vec::Vec;

use super::apis::{Request, apis};
use super::{Broker, Hdr, Reply, encode_response_at};
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
pub(crate) fn handle<S: Storage>(broker: &mut Broker<S>, r: Request<'_>) -> Reply {
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
    broker.respond(hdr, &response)
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

    /// ApiVersions lists every row of the broker's table; a version past its own gets KIP-511's
    /// answer: UNSUPPORTED_VERSION in a v0 body that names only ApiVersions' range.
    #[test]
    fn advertised_versions_come_from_the_table() {
        use crate::broker::harness::{CONN, broker, call, response_to};
        use crate::storage::MemoryStorage;

        let table: Vec<_> = apis::<MemoryStorage>()
            .iter()
            .map(|api| (api.key.code(), api.min_version, api.max_version))
            .collect();
        let listed = |r: &ApiVersionsResponse| -> Vec<_> {
            r.api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version))
                .collect()
        };
        let mut b = broker();
        let request = ApiVersionsRequest {
            client_software_name: "blazemq-test".into(),
            client_software_version: "1.0".into(),
        };
        let all: ApiVersionsResponse = call(&mut b, 3, &request);
        assert_eq!(all.error_code, 0);
        assert_eq!(listed(&all), table);

        // v5, which the spec does not define yet: header v2 with a null client id, empty body.
        let id = b.next_correlation_id();
        let mut frame = alloc::vec![0, 0, 0, 0];
        frame.extend_from_slice(&ApiKey::ApiVersions.code().to_be_bytes());
        frame.extend_from_slice(&5i16.to_be_bytes());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&[0xff, 0xff, 0]);
        let size = u32::try_from(frame.len() - 4).expect("a short frame");
        frame[..4].copy_from_slice(&size.to_be_bytes());
        b.feed(CONN, &frame);
        let drained = b.drain().expect("no livelock");
        assert!(drained.closed.is_empty());
        let sent = drained.on(CONN);
        assert_eq!(sent.len(), 1);
        let refused: ApiVersionsResponse = response_to(0, id, sent[0]).expect("a v0 answer");
        assert_eq!(refused.error_code, ErrorCode::UnsupportedVersion.code());
        let own = table.iter().filter(|k| k.0 == ApiKey::ApiVersions.code());
        assert_eq!(listed(&refused), own.copied().collect::<Vec<_>>());
        assert_eq!(listed(&refused), [(18, 0, 4)]);
    }
}
