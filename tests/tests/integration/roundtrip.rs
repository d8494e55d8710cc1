//! The codec against itself and against real frames.
//!
//! - Every message at every version: `decode(encode(x)) == x` for arbitrary `x` (normalized with
//!   `for_version`), and decode consumes exactly what encode wrote.
//! - Golden frames, laid out as clients send them, decode and re-encode byte for byte.
//! - Bad input returns an error, quickly, without allocating for claimed sizes.

use core::fmt::Debug;
use std::time::Instant;

use blazemq_core::codec::messages::{
    ApiVersionsRequest, MetadataRequest, ProduceRequest, RequestHeader,
};
use blazemq_core::codec::{
    DecodeError, Message, Records, Writer, peek_request_header, request_header_version,
};
use quickcheck::{Arbitrary, Gen};

/// Cases per message version: enough to hit every optional and tagged field, fast in debug.
const CASES_PER_VERSION: usize = 50;

fn encode<M: Message>(m: &M, version: i16) -> Vec<u8> {
    let mut w = Writer::new();
    m.encode(&mut w, version)
        .unwrap_or_else(|e| panic!("encode at v{version} failed: {e:?}"));
    w.into_bytes()
}

fn check_round_trips<M>(name: &str, normalize: fn(&mut M, i16))
where
    M: Message + Arbitrary + Debug + PartialEq,
{
    // A fixed size keeps strings and numbers varied while collections stay short.
    let mut g = Gen::new(64);
    for version in M::LOWEST_VERSION..=M::HIGHEST_VERSION {
        for case in 0..CASES_PER_VERSION {
            let mut value = M::arbitrary(&mut g);
            normalize(&mut value, version);
            let bytes = encode(&value, version);
            match M::decode(&bytes, version) {
                Ok((rest, back)) => {
                    assert!(
                        rest.is_empty(),
                        "{name} v{version} case {case}: {} bytes left over",
                        rest.len()
                    );
                    assert_eq!(back, value, "{name} v{version} case {case}");
                }
                Err(e) => panic!("{name} v{version} case {case}: {e:?}\n{value:?}\n{bytes:?}"),
            }
        }
    }
    // Versions outside the spec's range are refused both ways.
    let past = M::HIGHEST_VERSION.saturating_add(1);
    assert!(M::decode(&[0; 64], past).is_err(), "{name} decodes v{past}");
}

macro_rules! round_trip {
    ($module:ident, $ty:path) => {
        #[test]
        fn $module() {
            check_round_trips::<$ty>(stringify!($module), |m, v| m.for_version(v));
        }
    };
}

mod every_message {
    use super::check_round_trips;
    blazemq_core::for_each_message!(round_trip);
}

/// Decodes a request frame (size prefix included) header and body, re-encodes both and checks
/// the bytes match. Returns the header and body.
fn golden<M: Message + Debug>(frame: &[u8]) -> (RequestHeader, M) {
    let size = i32::from_be_bytes(frame[..4].try_into().expect("4-byte prefix"));
    assert_eq!(size as usize, frame.len() - 4, "size prefix");
    let body = &frame[4..];
    let (api_key, api_version, correlation_id) = peek_request_header(body).expect("peek");
    assert_eq!(api_key, M::API_KEY);
    let header_version = request_header_version(api_key, api_version);
    let (rest, header) = RequestHeader::decode(body, header_version).expect("header");
    assert_eq!(header.correlation_id, correlation_id);
    let (rest, message) = M::decode(rest, api_version).expect("body");
    assert!(rest.is_empty(), "{} bytes after the body", rest.len());

    let mut w = Writer::from_vec(vec![0; 4]);
    header
        .encode(&mut w, header_version)
        .expect("encode header");
    message.encode(&mut w, api_version).expect("encode body");
    let len = w.as_bytes().len() - 4;
    w.patch_i32(0, len as i32);
    assert_eq!(w.into_bytes(), frame, "re-encoded frame differs");
    (header, message)
}

fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

#[test]
fn golden_api_versions_v3_as_librdkafka_sends_it() {
    let f = frame(&[
        &[0, 18, 0, 3, 0, 0, 0, 1], // ApiVersions v3, correlation id 1
        &[0, 7],                    // client id: a classic string even in header v2
        b"rdkafka",                 //
        &[0],                       // header tagged fields
        &[11],                      // compact string, 10 bytes
        b"librdkafka",              //
        &[6],                       // compact string, 5 bytes
        b"2.3.0",                   //
        &[0],                       // body tagged fields
    ]);
    let (header, req) = golden::<ApiVersionsRequest>(&f);
    assert_eq!(header.client_id.as_deref(), Some("rdkafka"));
    assert_eq!(req.client_software_name, "librdkafka");
    assert_eq!(req.client_software_version, "2.3.0");
}

#[test]
fn golden_metadata_v1_request() {
    let f = frame(&[
        &[0, 3, 0, 1, 0, 0, 0, 9], // Metadata v1, correlation id 9
        &[0, 4],
        b"test",       // client id
        &[0, 0, 0, 2], // two topics
        &[0, 3],
        b"foo",
        &[0, 3],
        b"bar",
    ]);
    let (_, req) = golden::<MetadataRequest>(&f);
    let topics = req.topics.expect("topics listed");
    let names: Vec<_> = topics.iter().map(|t| t.name.as_deref()).collect();
    assert_eq!(names, [Some("foo"), Some("bar")]);
}

#[test]
fn golden_produce_v3_request() {
    let batch: Vec<u8> = (0u8..70).collect(); // opaque to the codec
    let f = frame(&[
        &[0, 0, 0, 3, 0, 0, 0, 5], // Produce v3, correlation id 5
        &[0, 8],
        b"producer",
        &[0xff, 0xff],       // transactional id: null
        &[0xff, 0xff],       // acks -1
        &[0, 0, 0x75, 0x30], // timeout 30000 ms
        &[0, 0, 0, 1],       // one topic
        &[0, 5],
        b"topic",
        &[0, 0, 0, 1], // one partition
        &[0, 0, 0, 0], // partition 0
        &[0, 0, 0, 70],
        &batch,
    ]);
    let (_, req) = golden::<ProduceRequest>(&f);
    assert_eq!(req.transactional_id, None);
    assert_eq!(req.acks, -1);
    let records = &req.topic_data[0].partition_data[0].records;
    assert_eq!(records, &Some(Records::Bytes(batch)));
}

fn decode_err<M: Message + Debug>(bytes: &[u8], version: i16) -> DecodeError {
    match M::decode_complete(bytes, version) {
        Ok(v) => panic!("decoded bad input: {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn truncated_body_is_an_error() {
    let req = ProduceRequest {
        acks: 1,
        timeout_ms: 100,
        ..Default::default()
    };
    let bytes = encode(&req, 3);
    for cut in 0..bytes.len() {
        let err = decode_err::<ProduceRequest>(&bytes[..cut], 3);
        assert!(
            matches!(
                err,
                DecodeError::Truncated | DecodeError::LengthExceedsInput { .. }
            ),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn string_length_beyond_input_is_an_error() {
    // Metadata v1: topics count 1, then a name claiming 1000 bytes with 3 present.
    let bytes = [0, 0, 0, 1, 0x03, 0xe8, b'a', b'b', b'c'];
    assert!(matches!(
        decode_err::<MetadataRequest>(&bytes, 1),
        DecodeError::LengthExceedsInput { claimed: 1000, .. }
    ));
}

#[test]
fn huge_array_count_fails_fast_without_allocating() {
    // Metadata v1: a topics count of 2^31-1 and nothing after it.
    let start = Instant::now();
    let bytes = [0x7f, 0xff, 0xff, 0xff];
    assert!(matches!(
        decode_err::<MetadataRequest>(&bytes, 1),
        DecodeError::LengthExceedsInput { .. }
    ));
    // Same through the compact form (Metadata v9+ is flexible): uvarint 2^31.
    let compact = [0x80, 0x80, 0x80, 0x80, 0x08];
    assert!(matches!(
        decode_err::<MetadataRequest>(&compact, 12),
        DecodeError::LengthExceedsInput { .. }
    ));
    assert!(start.elapsed().as_millis() < 100);
}

#[test]
fn invalid_utf8_is_an_error() {
    let bytes = [0, 0, 0, 1, 0, 2, 0xc3, 0x28];
    assert_eq!(
        decode_err::<MetadataRequest>(&bytes, 1),
        DecodeError::InvalidUtf8
    );
}

#[test]
fn unsupported_field_and_ignorable_field() {
    // Produce v2 has no transactional id, which is not ignorable: encoding one is an error.
    let req = ProduceRequest {
        transactional_id: Some("tx".into()),
        ..Default::default()
    };
    let mut w = Writer::new();
    assert_eq!(
        req.encode(&mut w, 2),
        Err(blazemq_core::codec::EncodeError::UnsupportedField(
            "TransactionalId"
        ))
    );
    // The request header's client id is ignorable: header v0 silently drops it.
    let header = RequestHeader {
        request_api_key: 7,
        client_id: Some("c".into()),
        ..Default::default()
    };
    assert_eq!(encode(&header, 0).len(), 8);
}
