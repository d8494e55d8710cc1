//! Bad input over raw TCP: after each abuse the broker still serves a new connection, and its
//! memory did not grow with a size the input only claimed.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use blazemq_tests::wire::{self, Writer, api_key, error_code};
use blazemq_tests::{Broker, serves_api_versions};

/// Growth of the broker's RSS, in KiB, that counts as allocating for a claimed size. The claims
/// below are 2 GiB; ordinary buffers stay far under this.
const RSS_GROWTH_KIB_MAX: u64 = 64 * 1024;

/// How long the broker may take to react (answer or close) to a bad request.
const REACTION_TIMEOUT: Duration = Duration::from_secs(5);

/// What the broker did with a connection after bad input.
#[derive(Debug, PartialEq)]
enum Reaction {
    /// It closed (or reset) the connection.
    Closed,
    /// It answered with a response frame (the frame, without its size).
    Answered(Vec<u8>),
}

/// Reads until the broker answers one frame or closes; a silent, open connection fails the test.
fn reaction(stream: &mut TcpStream) -> Reaction {
    stream
        .set_read_timeout(Some(REACTION_TIMEOUT))
        .expect("a non-zero timeout is valid");
    match wire::read_frame(stream) {
        Ok(frame) => Reaction::Answered(frame),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            panic!("broker neither answered nor closed within {REACTION_TIMEOUT:?}")
        }
        Err(_) => Reaction::Closed,
    }
}

/// Waits until the broker closes the connection (EOF or reset), bounded.
fn assert_closed(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a non-zero timeout is valid");
    let deadline = Instant::now() + REACTION_TIMEOUT;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
    panic!("broker kept the connection open after bad input");
}

/// Checks the broker is alive, serves ApiVersions on a new connection, and did not grow.
fn assert_healthy(broker: &mut Broker, rss_before_kib: u64, what: &str) {
    assert!(
        broker.is_running(),
        "broker died after {what}\n{}",
        broker.output()
    );
    assert!(
        serves_api_versions(broker),
        "no ApiVersions after {what}\n{}",
        broker.output()
    );
    let rss_after = broker.rss_kib().expect("VmRSS is readable");
    assert!(
        rss_after <= rss_before_kib + RSS_GROWTH_KIB_MAX,
        "RSS grew from {rss_before_kib} KiB to {rss_after} KiB after {what}"
    );
}

fn started() -> (Broker, u64) {
    let mut broker = Broker::start();
    assert!(
        serves_api_versions(&broker),
        "fresh broker serves ApiVersions"
    );
    let rss = broker.rss_kib().expect("VmRSS is readable");
    assert!(broker.is_running());
    (broker, rss)
}

/// Writes as much of `bytes` as the broker takes; it may close midway, which is fine.
fn write_lossy(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
}

#[test]
fn garbage_bytes_close_the_connection() {
    let (mut broker, rss) = started();
    let mut stream = broker.connect();
    // Read as a size, "GET " is 1.2 GB: far over any request limit.
    write_lossy(&mut stream, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_closed(&mut stream);
    assert_healthy(&mut broker, rss, "garbage bytes");
}

#[test]
fn negative_frame_length_closes_the_connection() {
    let (mut broker, rss) = started();
    let mut stream = broker.connect();
    write_lossy(&mut stream, &(-1i32).to_be_bytes());
    write_lossy(&mut stream, &[0u8; 64]);
    assert_closed(&mut stream);
    assert_healthy(&mut broker, rss, "a negative frame length");
}

#[test]
fn frame_over_the_request_limit_is_refused_before_buffering() {
    let (mut broker, rss) = started();
    let mut stream = broker.connect();
    // 2 GiB - 1 claimed, then 16 MiB actually sent: the broker must not wait to buffer the claim.
    write_lossy(&mut stream, &i32::MAX.to_be_bytes());
    let chunk = vec![0x41u8; 1024 * 1024];
    for _ in 0..16 {
        if stream.write_all(&chunk).is_err() {
            break;
        }
    }
    assert_closed(&mut stream);
    assert_healthy(&mut broker, rss, "a frame over the request limit");
}

#[test]
fn truncated_frame_then_close_is_harmless() {
    let (mut broker, rss) = started();
    for _ in 0..20 {
        let mut stream = broker.connect();
        let request = wire::api_versions_request(0, 1);
        write_lossy(&mut stream, &request[..request.len() - 3]);
        let _ = stream.shutdown(Shutdown::Both);
    }
    // A truncated frame followed by a half-close gets no answer, and nothing is left behind.
    let mut stream = broker.connect();
    write_lossy(&mut stream, &100i32.to_be_bytes());
    write_lossy(&mut stream, &[0u8; 10]);
    let _ = stream.shutdown(Shutdown::Write);
    assert_closed(&mut stream);
    assert_healthy(&mut broker, rss, "truncated frames");
}

#[test]
fn huge_array_count_in_a_small_frame() {
    let (mut broker, rss) = started();
    // 2^31 - 1 as a signed count, and 2^31 read as unsigned (negative other than -1 as signed).
    for (correlation_id, count) in [(9, i32::MAX), (10, i32::MIN), (11, -2)] {
        let mut body = Writer::new();
        body.i32(count); // Metadata topics: claimed, one present.
        body.string(b"t");
        let request = wire::request(api_key::METADATA, 1, correlation_id, &body.buf);
        let mut stream = broker.connect();
        write_lossy(&mut stream, &request);
        // Kafka closes the connection on a request it cannot parse; an error answer is also fine.
        if let Reaction::Answered(frame) = reaction(&mut stream) {
            assert_eq!(
                frame.get(..4),
                Some(&correlation_id.to_be_bytes()[..]),
                "correlation id"
            );
        }
        assert_healthy(
            &mut broker,
            rss,
            &format!("a Metadata array count of {count}"),
        );

        // The same claim inside CreateTopics, whose element type is larger.
        let mut body = Writer::new();
        body.i32(count).i32(5_000).i8(0);
        let request = wire::request(api_key::CREATE_TOPICS, 2, correlation_id, &body.buf);
        let mut stream = broker.connect();
        write_lossy(&mut stream, &request);
        let _ = reaction(&mut stream);
        assert_healthy(
            &mut broker,
            rss,
            &format!("a CreateTopics array count of {count}"),
        );
    }

    // A flexible version (Metadata v9): a compact array's length is an unsigned varint of
    // count + 1, here 2^32 - 1, followed by one short topic.
    let mut body = Writer::new();
    body.uvarint(u64::from(u32::MAX))
        .uvarint(2)
        .raw(b"t")
        .uvarint(0);
    body.i8(1).i8(0).i8(0).uvarint(0);
    let request = wire::request_flexible(api_key::METADATA, 9, 12, &body.buf);
    let mut stream = broker.connect();
    write_lossy(&mut stream, &request);
    let _ = reaction(&mut stream);
    assert_healthy(&mut broker, rss, "a compact array length of 2^32 - 1");
}

#[test]
fn invalid_utf8_topic_name() {
    let (mut broker, rss) = started();
    let name: &[u8] = &[b't', 0xff, 0xfe, b'x'];
    for request in [
        wire::metadata_request(11, &[name]),
        wire::create_topics_request(11, name, 1),
    ] {
        let mut stream = broker.connect();
        write_lossy(&mut stream, &request);
        match reaction(&mut stream) {
            Reaction::Closed => {}
            Reaction::Answered(frame) => {
                assert_eq!(
                    frame.get(..4),
                    Some(&11i32.to_be_bytes()[..]),
                    "correlation id"
                );
            }
        }
        assert_healthy(&mut broker, rss, "an invalid UTF-8 topic name");
    }
    // Whatever the answer was, no topic with a mangled name appeared.
    let mut stream = broker.connect();
    let body = wire::round_trip(&mut stream, &wire::metadata_request(12, &[]), 12)
        .expect("Metadata answers");
    assert!(
        !body.windows(2).any(|w| w == [0xff, 0xfe]),
        "invalid UTF-8 leaked into Metadata"
    );
}

#[test]
fn corrupt_crc_in_produce_is_corrupt_message() {
    let (mut broker, rss) = started();
    let mut stream = broker.connect();
    let created = wire::round_trip(&mut stream, &wire::create_topics_request(20, b"crc", 1), 20)
        .expect("CreateTopics answers");
    assert_eq!(
        wire::create_topics_response_error(&created),
        Some(error_code::NONE)
    );

    // A correct batch is accepted, so the test's batch encoding is right.
    let good = wire::record_batch(1_700_000_000_000, &[b"one", b"two"]);
    let answer = wire::round_trip(
        &mut stream,
        &wire::produce_request(21, b"crc", 0, &good),
        21,
    )
    .expect("Produce answers");
    assert_eq!(
        wire::produce_response_error(&answer),
        Some(error_code::NONE)
    );

    let mut bad = wire::record_batch(1_700_000_000_000, &[b"three"]);
    bad[wire::BATCH_CRC_OFFSET] ^= 0x01;
    let answer = wire::round_trip(&mut stream, &wire::produce_request(22, b"crc", 0, &bad), 22)
        .expect("Produce with a bad CRC is answered, not dropped");
    assert_eq!(
        wire::produce_response_error(&answer),
        Some(error_code::CORRUPT_MESSAGE)
    );

    // The record body flipped instead of the CRC field: the same answer.
    let mut bad = wire::record_batch(1_700_000_000_000, &[b"four"]);
    let last = bad.len() - 2;
    bad[last] ^= 0x20;
    let answer = wire::round_trip(&mut stream, &wire::produce_request(23, b"crc", 0, &bad), 23)
        .expect("Produce with a corrupt body is answered");
    assert_eq!(
        wire::produce_response_error(&answer),
        Some(error_code::CORRUPT_MESSAGE)
    );

    // The same connection still works, and the good batch is the log's only content.
    let good = wire::record_batch(1_700_000_000_000, &[b"five"]);
    let answer = wire::round_trip(
        &mut stream,
        &wire::produce_request(24, b"crc", 0, &good),
        24,
    )
    .expect("Produce answers");
    assert_eq!(
        wire::produce_response_error(&answer),
        Some(error_code::NONE)
    );
    let mut r = wire::Reader::new(&answer);
    let base_offset = (|| {
        r.i32()?;
        r.string()?;
        r.i32()?;
        r.i32()?;
        r.i16()?;
        r.i64()
    })();
    assert_eq!(base_offset, Some(2), "corrupt batches took no offsets");
    assert_healthy(&mut broker, rss, "a corrupt CRC");
}

#[test]
fn unknown_api_key_and_version_do_not_kill_the_broker() {
    let (mut broker, rss) = started();
    let mut stream = broker.connect();
    write_lossy(&mut stream, &wire::request(31_000, 0, 40, &[]));
    let _ = reaction(&mut stream);
    assert_healthy(&mut broker, rss, "an unknown api key");

    // ApiVersions at a version the broker does not know is answered with
    // UNSUPPORTED_VERSION (35) in a v0 body, so the client can retry (KIP-511).
    let mut stream = broker.connect();
    let answer = wire::round_trip(&mut stream, &wire::api_versions_request(999, 41), 41)
        .expect("ApiVersions at an unknown version is answered");
    assert_eq!(wire::Reader::new(&answer).i16(), Some(35));
    assert_healthy(&mut broker, rss, "an unknown ApiVersions version");
}

#[test]
fn configured_request_limit_is_enforced() {
    let mut broker = Broker::start_with(
        blazemq_tests::BrokerOptions::default()
            .arg("--max-request-size")
            .arg("65536"),
    );
    let rss = broker.rss_kib().expect("VmRSS is readable");
    // Just over the configured limit, though far under the default one: refused.
    let mut stream = broker.connect();
    write_lossy(&mut stream, &65_537i32.to_be_bytes());
    write_lossy(&mut stream, &[0u8; 1024]);
    assert_closed(&mut stream);
    assert_healthy(&mut broker, rss, "a frame just over --max-request-size");

    // A well-formed request under the limit is still served on a new connection.
    let mut stream = broker.connect();
    let body = wire::round_trip(&mut stream, &wire::metadata_request(50, &[]), 50)
        .expect("Metadata under the limit answers");
    assert!(!body.is_empty());
}

/// Compression codec ids (record batch attribute bits 0-2).
mod codec {
    pub const GZIP: i16 = 1;
    pub const SNAPPY: i16 = 2;
    pub const LZ4: i16 = 3;
    pub const ZSTD: i16 = 4;
}

/// `data` in `codec`'s format without compressing it (stored deflate, literal snappy, raw lz4
/// and zstd blocks): valid input for any decoder, written without an encoder. Up to 64 KiB.
fn encoded(codec: i16, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).expect("test records are under 64 KiB");
    let mut out = Vec::new();
    match codec {
        codec::GZIP => {
            out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
            out.push(1); // the last deflate block, stored
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(data);
            let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&u32::from(len).to_le_bytes());
        }
        codec::SNAPPY => {
            // snappy-java's framing, then one block: a length varint and one long literal.
            out.extend_from_slice(b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01");
            let mut block = Writer::new();
            block.uvarint(u64::from(len)).raw(&[61 << 2]);
            block.raw(&(len - 1).to_le_bytes()).raw(data);
            out.extend_from_slice(&(block.buf.len() as u32).to_be_bytes());
            out.extend_from_slice(&block.buf);
        }
        codec::LZ4 => {
            out.extend_from_slice(&0x184D_2204u32.to_le_bytes());
            out.extend_from_slice(&[0x60, 0x40, 0x82]); // independent 64 KiB blocks
            out.extend_from_slice(&(u32::from(len) | 0x8000_0000).to_le_bytes()); // stored
            out.extend_from_slice(data);
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        codec::ZSTD => {
            out.extend_from_slice(&0xFD2F_B528u32.to_le_bytes());
            out.extend_from_slice(&[0x00, 7 << 3]); // a 128 KiB window
            let header = (u32::from(len) << 3) | 1; // the last block, raw
            out.extend_from_slice(&header.to_le_bytes()[..3]);
            out.extend_from_slice(data);
        }
        other => panic!("no codec {other}"),
    }
    out
}

/// A record batch of `values` whose records part is `records` (compressed as `codec` says), with
/// batch length, attributes and CRC-32C set to match.
fn batch_with_records(
    values: &[&[u8]],
    codec: i16,
    records: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    const HEADER_LEN: usize = 61;
    let plain = wire::record_batch(1_700_000_000_000, values);
    let mut out = plain[..HEADER_LEN].to_vec();
    out.extend_from_slice(&records(&plain[HEADER_LEN..]));
    let batch_length = i32::try_from(out.len() - 12).expect("small batch");
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[21..23].copy_from_slice(&codec.to_be_bytes());
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&out[21..]);
    out[wire::BATCH_CRC_OFFSET..wire::BATCH_CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Produce (v3 to v8 share this body) of one batch to partition 0, acks=-1.
fn produce(version: i16, correlation_id: i32, topic: &[u8], batch: &[u8]) -> Vec<u8> {
    let mut body = Writer::new();
    body.null_string().i16(-1).i32(5_000).i32(1).string(topic);
    body.i32(1).i32(0).bytes(batch);
    wire::request(api_key::PRODUCE, version, correlation_id, &body.buf)
}

/// The error code and base offset of a Produce v3-v8 answer's first partition.
fn produce_answer(stream: &mut TcpStream, request: &[u8], correlation_id: i32) -> (i16, i64) {
    let answer = wire::round_trip(stream, request, correlation_id).expect("Produce answers");
    let mut r = wire::Reader::new(&answer);
    let parsed = (|| {
        r.i32()?;
        r.string()?;
        r.i32()?;
        r.i32()?;
        Some((r.i16()?, r.i64()?))
    })();
    parsed.expect("a Produce answer with one partition")
}

#[test]
fn corrupt_compressed_batches_are_corrupt_message() {
    let (mut broker, rss) = started();
    let mut stream = broker.connect();
    let created = wire::round_trip(&mut stream, &wire::create_topics_request(60, b"zip", 1), 60)
        .expect("CreateTopics answers");
    assert_eq!(
        wire::create_topics_response_error(&created),
        Some(error_code::NONE)
    );
    let values: &[&[u8]] = &[b"one", b"two", b"three"];
    let truncated = |codec| {
        move |records: &[u8]| {
            let whole = encoded(codec, records);
            whole[..whole.len() / 2].to_vec()
        }
    };
    let garbage = |_: &[u8]| b"these bytes were never compressed".to_vec();
    // Each codec garbled and cut short; zstd needs Produce v7+, gzip is tried at both.
    let codecs = [
        ("gzip", 3, codec::GZIP),
        ("snappy", 3, codec::SNAPPY),
        ("lz4", 3, codec::LZ4),
        ("zstd", 8, codec::ZSTD),
        ("gzip", 8, codec::GZIP),
    ];
    let cases = codecs.into_iter().flat_map(|(name, version, codec)| {
        [
            (
                format!("garbage {name}"),
                version,
                codec,
                batch_with_records(values, codec, garbage),
            ),
            (
                format!("truncated {name}"),
                version,
                codec,
                batch_with_records(values, codec, truncated(codec)),
            ),
        ]
    });
    let mut next_offset = 0;
    for (i, (what, version, codec, bad)) in (0..).zip(cases) {
        let id = 100 + 3 * i;
        let answer = produce_answer(&mut stream, &produce(version, id, b"zip", &bad), id);
        assert_eq!(
            answer.0,
            error_code::CORRUPT_MESSAGE,
            "{what} at Produce v{version}"
        );
        // A valid batch of the same codec right after, on the same connection and on a new one.
        let good = batch_with_records(values, codec, |records| encoded(codec, records));
        for (id, stream) in [(id + 1, &mut stream), (id + 2, &mut broker.connect())] {
            let answer = produce_answer(stream, &produce(version, id, b"zip", &good), id);
            assert_eq!(
                answer,
                (error_code::NONE, next_offset),
                "a valid {what:?} codec batch after the corrupt one, Produce v{version}"
            );
            next_offset += 3;
        }
    }
    assert_healthy(&mut broker, rss, "corrupt compressed batches");
}
