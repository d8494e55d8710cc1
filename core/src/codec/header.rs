//! Which header version frames a request or response, and a look at a request's first bytes.

use alloc::vec::Vec;

use super::api_key::ApiKey;
use super::messages::{RequestHeader, ResponseHeader};
use super::primitives::{DecodeError, EncodeError, Writer, int16, int32};
use super::{Message, Response};

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

/// Decodes a request's header (at the header version its api key and version call for) and
/// returns it with the body bytes that follow.
pub fn decode_request_header(frame_body: &[u8]) -> Result<(RequestHeader, &[u8]), DecodeError> {
    let (api_key, api_version, _) = peek_request_header(frame_body)?;
    let header_version = request_header_version(api_key, api_version);
    match RequestHeader::decode(frame_body, header_version) {
        Ok((body, header)) => Ok((header, body)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(DecodeError::Truncated),
    }
}

/// A whole response frame: size prefix, `ResponseHeader` at the version the request calls for,
/// and `body` at `api_version`. Record data held as segment ranges stays in the segments.
pub fn response_frame<M: Message>(
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &M,
) -> Result<Response, EncodeError> {
    // The size is known only once the body is written: reserve it, then fill it in.
    let mut w = Writer::from_vec(alloc::vec![0; 4]);
    let header = ResponseHeader { correlation_id };
    header.encode(&mut w, response_header_version(api_key, api_version))?;
    body.encode(&mut w, api_version)?;
    let size = i32::try_from(w.wire_len() - 4).map_err(|_| EncodeError::TooLong)?;
    w.patch_i32(0, size);
    Ok(w.into_response())
}

/// Encode a request frame (size prefix, request header, body) of `body`'s API at
/// `api_version`: the twin of [`response_frame`], for clients, tests and embedders.
pub fn request_frame<M: Message>(
    api_version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &M,
) -> Result<Vec<u8>, EncodeError> {
    let header = RequestHeader {
        request_api_key: M::API_KEY,
        request_api_version: api_version,
        correlation_id,
        client_id: client_id.map(Into::into),
    };
    // The size is known only once the body is written: reserve it, then fill it in.
    let mut w = Writer::from_vec(alloc::vec![0; 4]);
    header.encode(&mut w, request_header_version(M::API_KEY, api_version))?;
    body.encode(&mut w, api_version)?;
    let size = i32::try_from(w.wire_len() - 4).map_err(|_| EncodeError::TooLong)?;
    w.patch_i32(0, size);
    Ok(w.into_bytes())
}

/// Decode a whole response frame (size prefix included) of `M`'s API at `api_version`: its
/// correlation id and body.
pub fn decode_response_frame<M: Message>(
    api_version: i16,
    frame: &[u8],
) -> Result<(i32, M), DecodeError> {
    let (size, rest) = frame
        .split_first_chunk::<4>()
        .ok_or(DecodeError::Truncated)?;
    let size = i32::from_be_bytes(*size);
    if usize::try_from(size).ok() != Some(rest.len()) {
        return Err(DecodeError::LengthExceedsInput {
            claimed: u64::try_from(size).unwrap_or(0),
            remaining: rest.len(),
        });
    }
    let version = response_header_version(M::API_KEY, api_version);
    let (body, header) = ResponseHeader::decode(rest, version).map_err(|e| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::Truncated,
    })?;
    Ok((
        header.correlation_id,
        M::decode_complete(body, api_version)?,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use crate::codec::messages::ApiVersionsResponse;

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

    #[test]
    fn request_header_then_body() {
        // ApiVersions v3: header v2 (client id "c", no tags), then the body.
        let frame = [0, 18, 0, 3, 0, 0, 0, 7, 0, 1, b'c', 0, 0xaa];
        let (header, body) = decode_request_header(&frame).unwrap();
        assert_eq!(header.correlation_id, 7);
        assert_eq!(header.client_id.as_deref(), Some("c"));
        assert_eq!(body, [0xaa]);
    }

    #[test]
    fn response_frame_has_size_and_header() {
        let body = ApiVersionsResponse::default();
        // ApiVersions v3 responses still use header v0 (no tagged fields after the id).
        let r = response_frame(18, 3, 9, &body).unwrap();
        let size = i32::from_be_bytes(r.bytes[..4].try_into().unwrap());
        assert_eq!(size as usize, r.bytes.len() - 4);
        assert_eq!(&r.bytes[4..8], &[0, 0, 0, 9]);
        let back = ApiVersionsResponse::decode_complete(&r.bytes[8..], 3).unwrap();
        assert_eq!(back, body);
    }
}

/// A request header read in place: the client id borrows from the frame. For the hot paths,
/// which must not allocate per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeaderRef<'a> {
    /// The api key.
    pub api_key: i16,
    /// The api version.
    pub api_version: i16,
    /// The correlation id, echoed in the response.
    pub correlation_id: i32,
    /// The client id (header v1+; null or absent as `None`).
    pub client_id: Option<&'a str>,
}

/// Reads a request header in place and returns it with the body bytes that follow. Agrees with
/// [`decode_request_header`] on what it accepts; allocates nothing.
pub fn request_header_ref(frame_body: &[u8]) -> Result<(RequestHeaderRef<'_>, &[u8]), DecodeError> {
    let (api_key, api_version, correlation_id) = peek_request_header(frame_body)?;
    let header_version = request_header_version(api_key, api_version);
    let parsed = (|| {
        let mut rest = &frame_body[8..];
        let mut client_id = None;
        if header_version >= 1 {
            // ClientId is never compact, even in header v2 (its flexibleVersions is "none").
            (rest, client_id) = super::primitives::nullable_str(rest, false, true, "ClientId")?;
        }
        if header_version >= 2 {
            (rest, _) = super::primitives::tagged_fields(rest, |_, _| Ok(()))?;
        }
        Ok((
            RequestHeaderRef {
                api_key,
                api_version,
                correlation_id,
                client_id,
            },
            rest,
        ))
    })();
    parsed.map_err(|e: nom::Err<DecodeError>| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::Truncated,
    })
}

#[cfg(test)]
mod ref_tests {
    use super::*;

    #[test]
    fn in_place_header_agrees_with_the_generated_one() {
        for (key, version) in [(0i16, 3i16), (0, 9), (18, 3), (18, 0), (7, 0), (3, 12)] {
            for client_id in [None, Some("rdkafka")] {
                let header = RequestHeader {
                    request_api_key: key,
                    request_api_version: version,
                    correlation_id: 77,
                    client_id: client_id.map(Into::into),
                };
                let hv = request_header_version(key, version);
                let mut w = Writer::new();
                header.encode(&mut w, hv).expect("encodes");
                w.put_raw(&[9, 9]);
                let bytes = w.into_bytes();
                let (ours, body) = request_header_ref(&bytes).expect("reads");
                let (theirs, body2) = decode_request_header(&bytes).expect("decodes");
                assert_eq!(body, body2);
                assert_eq!(body, &[9, 9]);
                assert_eq!(ours.correlation_id, theirs.correlation_id);
                if hv >= 1 {
                    assert_eq!(ours.client_id.map(Into::into), theirs.client_id);
                }
            }
        }
        assert!(
            request_header_ref(&[0, 0, 0, 3, 0, 0, 0, 1, 0, 9]).is_err(),
            "truncated client id"
        );
    }
}
