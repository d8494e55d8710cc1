//! Which header version frames a request or response, and a look at a request's first bytes.

use super::api_key::ApiKey;
use super::primitives::{DecodeError, int16, int32};

/// The `RequestHeader` version a request of `api_key` at `api_version` is framed with.
///
/// Flexible requests use header v2 (tagged fields), others v1; ControlledShutdown v0 alone uses
/// v0 (no client id), as Kafka's `ApiKeys.requestHeaderVersion` says.
pub fn request_header_version(api_key: i16, api_version: i16) -> i16 {
    let key = ApiKey::from_code(api_key);
    if key == ApiKey::ControlledShutdown && api_version == 0 {
        0
    } else if api_version >= key.first_flexible_version() {
        2
    } else {
        1
    }
}

/// The `ResponseHeader` version a response of `api_key` at `api_version` is framed with.
///
/// Flexible responses use header v1, others v0, except ApiVersions: its response always uses v0
/// so a client that sent a version the broker does not know can still read it (KIP-511).
pub fn response_header_version(api_key: i16, api_version: i16) -> i16 {
    let key = ApiKey::from_code(api_key);
    if key == ApiKey::ApiVersions {
        0
    } else if api_version >= key.first_flexible_version() {
        1
    } else {
        0
    }
}

/// A request's api key, api version and correlation id: its first 8 bytes, which every request
/// header version shares. Reads nothing else, so the broker can answer (or report the error of)
/// a request whose header or body it cannot decode, such as ApiVersions at a newer version.
pub fn peek_request_header(frame_body: &[u8]) -> Result<(i16, i16, i32), DecodeError> {
    let parsed = (|| {
        let (rest, api_key) = int16(frame_body)?;
        let (rest, api_version) = int16(rest)?;
        let (_, correlation_id) = int32(rest)?;
        Ok((api_key, api_version, correlation_id))
    })();
    parsed.map_err(|e: nom::Err<DecodeError>| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::Truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_versions_follow_kafka() {
        // Produce v9 is the first flexible Produce.
        assert_eq!(request_header_version(0, 8), 1);
        assert_eq!(request_header_version(0, 9), 2);
        assert_eq!(response_header_version(0, 8), 0);
        assert_eq!(response_header_version(0, 9), 1);
        // ControlledShutdown v0 has no client id.
        assert_eq!(request_header_version(7, 0), 0);
        assert_eq!(request_header_version(7, 1), 1);
        // ApiVersions v3 requests are flexible, its responses always use header v0.
        assert_eq!(request_header_version(18, 3), 2);
        assert_eq!(response_header_version(18, 3), 0);
        // An unknown key is never flexible.
        assert_eq!(request_header_version(999, 5), 1);
    }

    #[test]
    fn peek_reads_only_eight_bytes() {
        assert_eq!(
            peek_request_header(&[0, 18, 0, 99, 0, 0, 0, 7, 0xff]),
            Ok((18, 99, 7))
        );
        assert_eq!(
            peek_request_header(&[0, 18, 0, 3, 0, 0]),
            Err(DecodeError::Truncated)
        );
    }
}
