//! A catalogue of malformed requests against one running broker. Each entry is a name, the raw
//! bytes, and the reaction expected: a Kafka error code at a given place of the answer, or one
//! closed connection. Between entries a well-behaved client produces and fetches on its own
//! connection and must keep getting correct answers; after the whole catalogue the broker's RSS
//! must not have grown with any size the input only claimed.
//!
//! The expected codes are Apache Kafka 4.x's. `BLAZEMQ_BOOTSTRAP=host:port` runs the catalogue
//! against a broker already running there (a real Kafka from `scripts/kafka-reference.sh start`
//! with `auto.create.topics.enable=false group.initial.rebalance.delay.ms=0`), to check the
//! expectations themselves; the memory bound is then skipped.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blazemq_tests::wire::{self, Reader, Writer, batch_field};
use blazemq_tests::{Broker, BrokerOptions};

/// Growth of the broker's RSS over the whole catalogue, in KiB, that counts as allocating for a
/// claimed size: the claims below reach 2 GiB, honest buffers stay far under this.
const RSS_GROWTH_KIB_MAX: u64 = 64 * 1024;
/// How long the broker may take to answer or close after one malformed request.
const REACTION_TIMEOUT: Duration = Duration::from_secs(5);
/// `--max-request-size` of the catalogue's broker: room for a 2 MiB protocol metadata, and a
/// limit the size-prefix cases can cross cheaply.
const REQUEST_SIZE_MAX: i32 = 4 << 20;
/// The correlation id of every catalogued request.
const CID: i32 = 0x0bad_cafe;
/// A topic with three partitions the catalogue aims at.
const TOPIC: &[u8] = b"catalogue";
/// A topic whose `max.message.bytes` is small.
const TINY: &[u8] = b"catalogue-tiny";
/// The well-behaved client's topic.
const SERVED: &[u8] = b"served";
/// A transactional id no producer ever initialised.
const TXN_ID: &[u8] = b"catalogue-txn";
/// The group the catalogue joins once, so generations and members are real.
const GROUP: &[u8] = b"catalogue-group";

// Kafka error codes the catalogue expects.
const NONE: i16 = 0;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const CORRUPT_MESSAGE: i16 = 2;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const INVALID_REQUIRED_ACKS: i16 = 21;
const ILLEGAL_GENERATION: i16 = 22;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const INVALID_GROUP_ID: i16 = 24;
const UNKNOWN_MEMBER_ID: i16 = 25;
const INVALID_SESSION_TIMEOUT: i16 = 26;
const INVALID_TIMESTAMP: i16 = 32;
const UNSUPPORTED_VERSION: i16 = 35;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const INVALID_PARTITIONS: i16 = 37;
const INVALID_REPLICATION_FACTOR: i16 = 38;
const INVALID_CONFIG: i16 = 40;
const INVALID_REQUEST: i16 = 42;
const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
const MEMBER_ID_REQUIRED: i16 = 79;
const INVALID_RECORD: i16 = 87;
const UNKNOWN_TOPIC_ID: i16 = 100;

/// Reads an error code from a response body (after the correlation id).
type Field = fn(&[u8]) -> Option<i16>;

/// What the broker must do with one catalogued request.
#[derive(Clone, Copy)]
enum Expect {
    /// Close the connection without answering.
    Closed,
    /// Answer, with `code` at the place `at` reads.
    Code(Field, i16),
}

/// One catalogue entry.
struct Case {
    name: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// Half-close after sending: a truncated frame then gets EOF rather than more bytes.
    half_close: bool,
}

fn case(name: impl Into<String>, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        name: name.into(),
        bytes,
        expect,
        half_close: false,
    }
}

fn closed(name: impl Into<String>, bytes: Vec<u8>) -> Case {
    case(name, bytes, Expect::Closed)
}

/// What the broker did.
#[derive(Debug)]
enum Reaction {
    Closed,
    Answered(Vec<u8>),
}

// ---------------------------------------------------------------------------------------------
// Where the error codes are.

fn first_i16(body: &[u8]) -> Option<i16> {
    Reader::new(body).i16()
}

/// Throttle time, then the error code (JoinGroup v2+, SyncGroup v1+, Heartbeat v1+).
fn after_throttle(body: &[u8]) -> Option<i16> {
    let mut r = Reader::new(body);
    r.i32()?;
    r.i16()
}

fn produce_code(body: &[u8]) -> Option<i16> {
    wire::produce_response_error(body)
}

fn fetch_code(body: &[u8]) -> Option<i16> {
    wire::fetch_response(body).map(|p| p.error_code)
}

/// The first partition's code in a Fetch v13 response (flexible: tagged fields after the
/// correlation id, compact arrays, topics by id).
fn fetch13_code(body: &[u8]) -> Option<i16> {
    let mut r = Reader::new(body);
    r.uvarint()?; // response header tagged fields
    r.i32()?; // throttle_time_ms
    r.i16()?; // top-level error_code
    r.i32()?; // session_id
    r.uvarint()?; // responses
    r.skip(16)?; // topic_id
    r.uvarint()?; // partitions
    r.i32()?; // partition_index
    r.i16()
}

fn list_offsets_code(body: &[u8]) -> Option<i16> {
    wire::list_offsets_response(body).map(|(code, _)| code)
}

/// The first topic's code in a Metadata v1 response.
fn metadata_code(body: &[u8]) -> Option<i16> {
    let mut r = Reader::new(body);
    for _ in 0..r.i32()? {
        r.i32()?; // node_id
        r.string()?; // host
        r.i32()?; // port
        let rack = r.i16()?;
        r.skip(usize::try_from(rack).unwrap_or(0))?;
    }
    r.i32()?; // controller_id
    r.i32()?; // topics
    r.i16()
}

fn create_topics_code(body: &[u8]) -> Option<i16> {
    wire::create_topics_response_error(body)
}

/// The first partition's code in an OffsetCommit v2 response.
fn offset_commit_code(body: &[u8]) -> Option<i16> {
    let mut r = Reader::new(body);
    r.i32()?;
    r.string()?;
    r.i32()?;
    r.i32()?;
    r.i16()
}

/// The first group's code in a DescribeGroups v0 response.
fn describe_groups_code(body: &[u8]) -> Option<i16> {
    let mut r = Reader::new(body);
    r.i32()?;
    r.i16()
}

// ---------------------------------------------------------------------------------------------
// Request builders the catalogue needs beyond `wire`'s.

fn unix_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Produce v3 with a chosen transactional id and acks.
fn produce(topic: &[u8], partition: i32, batch: &[u8], acks: i16, txn: Option<&[u8]>) -> Vec<u8> {
    let mut body = Writer::new();
    match txn {
        Some(id) => body.string(id),
        None => body.null_string(),
    };
    body.i16(acks)
        .i32(5_000)
        .i32(1)
        .string(topic)
        .i32(1)
        .i32(partition)
        .bytes(batch);
    wire::request(wire::api_key::PRODUCE, 3, CID, &body.buf)
}

fn produce_batch(topic: &[u8], partition: i32, batch: &[u8]) -> Vec<u8> {
    produce(topic, partition, batch, -1, None)
}

fn batch(values: &[&[u8]]) -> Vec<u8> {
    wire::record_batch(unix_ms(), values)
}

/// Fetch v4 of `TOPIC` with chosen limits.
fn fetch(topic: &[u8], partition: i32, offset: i64, max_bytes: i32) -> Vec<u8> {
    wire::fetch_request(CID, topic, partition, offset, max_bytes)
}

/// CreateTopics v2 of one topic with configs.
fn create_topic(
    name: &[u8],
    partitions: i32,
    replication: i16,
    configs: &[(&[u8], &[u8])],
) -> Vec<u8> {
    let mut body = Writer::new();
    body.i32(1)
        .string(name)
        .i32(partitions)
        .i16(replication)
        .i32(0);
    body.i32(i32::try_from(configs.len()).unwrap_or(i32::MAX));
    for (key, value) in configs {
        body.string(key).string(value);
    }
    body.i32(5_000).i8(0);
    wire::request(wire::api_key::CREATE_TOPICS, 2, CID, &body.buf)
}

/// JoinGroup v5 body: one member of `protocol_type` with `protocols` (name, metadata).
fn join_body(
    group: &[u8],
    session_ms: i32,
    member: &[u8],
    kind: &[u8],
    protocols: &[(&[u8], &[u8])],
) -> Writer {
    let mut body = Writer::new();
    body.string(group)
        .i32(session_ms)
        .i32(60_000) // rebalance_timeout_ms
        .string(member)
        .null_string() // group_instance_id
        .string(kind)
        .i32(i32::try_from(protocols.len()).unwrap_or(i32::MAX));
    for (name, metadata) in protocols {
        body.string(name).bytes(metadata);
    }
    body
}

fn join(
    group: &[u8],
    session_ms: i32,
    member: &[u8],
    kind: &[u8],
    protocols: &[(&[u8], &[u8])],
) -> Vec<u8> {
    let body = join_body(group, session_ms, member, kind, protocols);
    wire::request(JOIN_GROUP, 5, CID, &body.buf)
}

/// A consumer joining `group` with one range protocol.
fn consumer_join(group: &[u8], member: &[u8]) -> Vec<u8> {
    join(group, 300_000, member, b"consumer", &[(b"range", b"")])
}

fn heartbeat(group: &[u8], generation: i32, member: &[u8]) -> Vec<u8> {
    let mut body = Writer::new();
    body.string(group)
        .i32(generation)
        .string(member)
        .null_string();
    wire::request(HEARTBEAT, 3, CID, &body.buf)
}

fn sync(group: &[u8], generation: i32, member: &[u8], assignments: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut body = Writer::new();
    body.string(group)
        .i32(generation)
        .string(member)
        .null_string()
        .i32(i32::try_from(assignments.len()).unwrap_or(i32::MAX));
    for (m, a) in assignments {
        body.string(m).bytes(a);
    }
    wire::request(SYNC_GROUP, 3, CID, &body.buf)
}

fn offset_commit(group: &[u8], generation: i32, member: &[u8], offset: i64) -> Vec<u8> {
    let mut body = Writer::new();
    body.string(group)
        .i32(generation)
        .string(member)
        .i64(-1) // retention_time_ms: the broker's
        .i32(1)
        .string(TOPIC)
        .i32(1)
        .i32(0)
        .i64(offset)
        .null_string();
    wire::request(OFFSET_COMMIT, 2, CID, &body.buf)
}

const OFFSET_COMMIT: i16 = 8;
const FIND_COORDINATOR: i16 = 10;
const JOIN_GROUP: i16 = 11;
const HEARTBEAT: i16 = 12;
const LEAVE_GROUP: i16 = 13;
const SYNC_GROUP: i16 = 14;
const DESCRIBE_GROUPS: i16 = 15;

// ---------------------------------------------------------------------------------------------
// The catalogue.

/// Size prefixes: each closes the connection before anything is buffered or parsed.
fn size_prefix_cases() -> Vec<Case> {
    let raw = |size: i32, rest: &[u8]| {
        let mut w = Writer::new();
        w.i32(size).raw(rest);
        w.buf
    };
    let metadata = wire::metadata_request(CID, &[TOPIC]);
    let mut cases = vec![
        closed("size i32::MIN", raw(i32::MIN, &[0; 16])),
        closed("size -2", raw(-2, &[0; 16])),
        closed("size 0 then a request", raw(0, &metadata)),
        closed("size 3: shorter than a header", raw(3, &[0, 3, 0])),
        closed(
            "size max_request_size + 1",
            raw(REQUEST_SIZE_MAX + 1, &[0; 1024]),
        ),
        closed("size 0x7fff_fff0", raw(0x7fff_fff0, &[0x41; 4096])),
    ];
    let mut truncated = closed("frame of 100 with 50 bytes, then EOF", raw(100, &[0; 50]));
    truncated.half_close = true;
    cases.push(truncated);
    let mut cut = closed(
        "Metadata frame short of its last byte, then EOF",
        metadata[..metadata.len() - 1].to_vec(),
    );
    cut.half_close = true;
    cases.push(cut);
    let mut size_only = closed("two bytes of a size, then EOF", vec![0, 0]);
    size_only.half_close = true;
    cases.push(size_only);
    cases
}

/// A request header v1 with a raw client id section (`client_id` is the length and bytes).
fn with_client_id(api_key: i16, version: i16, client_id: &[u8], body: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.i16(api_key)
        .i16(version)
        .i32(CID)
        .raw(client_id)
        .raw(body);
    wire::frame(&w.buf)
}

/// Request headers: unknown keys and versions, client ids, tagged fields of flexible headers.
fn header_cases() -> Vec<Case> {
    let metadata_body = {
        let mut w = Writer::new();
        w.i32(1).string(TOPIC);
        w.buf
    };
    let flexible = |tags: &[u8], body: &[u8]| {
        let mut w = Writer::new();
        w.i16(wire::api_key::METADATA)
            .i16(9)
            .i32(CID)
            .string(b"c")
            .raw(tags)
            .raw(body);
        wire::frame(&w.buf)
    };
    // Metadata v9 body: no topics (null), auto-create off, no authorized operations, no tags.
    let v9_body: &[u8] = &[0, 0, 0, 0, 0];
    let mut huge_tag = Writer::new();
    huge_tag
        .uvarint(1)
        .uvarint(0)
        .uvarint(u64::from(u32::MAX >> 1));
    let mut overlong = Writer::new();
    overlong.raw(&[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    vec![
        closed("api key -1", wire::request(-1, 0, CID, &[])),
        closed("api key 1000", wire::request(1000, 0, CID, &[])),
        closed(
            "Metadata version -1",
            wire::request(3, -1, CID, &metadata_body),
        ),
        closed(
            "Metadata version i16::MAX",
            wire::request(3, i16::MAX, CID, &metadata_body),
        ),
        case(
            "client id length -1 (null) is valid",
            with_client_id(3, 1, &(-1i16).to_be_bytes(), &metadata_body),
            Expect::Code(metadata_code, NONE),
        ),
        closed(
            "client id length 32767, 3 bytes present",
            with_client_id(3, 1, &[0x7f, 0xff, b'a', b'b', b'c'], &[]),
        ),
        closed(
            "client id length 200 past the frame's end",
            with_client_id(3, 1, &[0, 200], &metadata_body),
        ),
        closed(
            "flexible header: 1000 tagged fields claimed, none present",
            flexible(&[0xe9, 0x07], &[]),
        ),
        closed(
            "flexible header: a tagged field of 1 GiB",
            flexible(&huge_tag.buf, v9_body),
        ),
        closed(
            "flexible header: an overlong varint tag count",
            flexible(&overlong.buf, v9_body),
        ),
        closed(
            "flexible body: tagged fields count past the end",
            wire::request_flexible(3, 9, CID, &[0, 0, 0, 0, 0x85, 0x01]),
        ),
    ]
}

/// One version past each advertised maximum: closed, except ApiVersions, which answers
/// UNSUPPORTED_VERSION in a v0 body (KIP-511).
fn version_cases(advertised: &[(i16, i16)]) -> Vec<Case> {
    advertised
        .iter()
        .map(|&(key, max)| {
            let name = format!("api key {key} at version {}", max + 1);
            if key == wire::api_key::API_VERSIONS {
                // A newer client sends header v2, and is told the range in a v0 body.
                let bytes = wire::request_flexible(key, max + 1, CID, &[0, 0, 0]);
                case(name, bytes, Expect::Code(first_i16, UNSUPPORTED_VERSION))
            } else {
                closed(name, wire::request(key, max + 1, CID, &[]))
            }
        })
        .collect()
}

/// Every API with an empty body at the oldest version Kafka 4 serves: closed, as Kafka closes a
/// request it cannot parse.
fn truncated_body_cases() -> Vec<Case> {
    // (key, version, flexible header)
    const APIS: &[(i16, i16, bool)] = &[
        (0, 3, false),
        (1, 4, false),
        (2, 1, false),
        (3, 1, false),
        (8, 2, false),
        (9, 1, false),
        (10, 0, false),
        (11, 2, false),
        (12, 0, false),
        (13, 0, false),
        (14, 0, false),
        (15, 0, false),
        (16, 4, true),
        (18, 3, true),
        (19, 2, false),
        (20, 1, false),
        (21, 0, false),
        (22, 0, false),
        (32, 1, false),
        (33, 0, false),
        (37, 0, false),
        (42, 0, false),
        (44, 0, false),
        (60, 0, true),
    ];
    APIS.iter()
        .map(|&(key, version, flexible)| {
            let bytes = if flexible {
                wire::request_flexible(key, version, CID, &[])
            } else {
                wire::request(key, version, CID, &[])
            };
            closed(
                format!("api key {key} v{version} with an empty body"),
                bytes,
            )
        })
        .collect()
}

/// Requests cut in the middle of a field (the frame's size matches what is sent).
fn cut_body_cases() -> Vec<Case> {
    let cut = |request: Vec<u8>, keep: usize| {
        // Re-frame the first `keep` bytes after the size prefix.
        wire::frame(&request[4..4 + keep])
    };
    let produce = produce_batch(TOPIC, 0, &batch(&[b"cut"]));
    let fetch = fetch(TOPIC, 0, 0, 1 << 20);
    let create = create_topic(b"cut-topic", 1, 1, &[(b"retention.ms", b"1000")]);
    let join = consumer_join(GROUP, b"");
    vec![
        closed(
            "Produce cut inside its records",
            cut(produce.clone(), produce.len() - 4 - 10),
        ),
        closed(
            "Fetch cut inside its partition",
            cut(fetch.clone(), fetch.len() - 4 - 6),
        ),
        closed(
            "CreateTopics cut inside its configs",
            cut(create.clone(), create.len() - 4 - 12),
        ),
        closed(
            "JoinGroup cut inside its protocols",
            cut(join.clone(), join.len() - 4 - 3),
        ),
    ]
}

/// Arrays, strings and bytes whose claimed length exceeds the frame: closed, and nothing sized
/// by the claim is allocated (the RSS bound at the end checks that).
#[rustfmt::skip]
fn claim_cases() -> Vec<Case> {
    let req = |key: i16, version: i16, build: &dyn Fn(&mut Writer)| {
        let mut body = Writer::new();
        build(&mut body);
        wire::request(key, version, CID, &body.buf)
    };
    // Produce v3 up to its topics: no transactional id, acks=-1, a timeout.
    let produce_head = |w: &mut Writer| { w.null_string().i16(-1).i32(5_000); };
    let join_head = |w: &mut Writer| {
        w.string(GROUP).i32(300_000).i32(60_000).string(b"").null_string().string(b"consumer");
    };
    let mut metadata_v9 = Writer::new();
    metadata_v9.compact_len(1).uuid([0; 16]).uvarint(1 << 31).raw(b"t").uvarint(0).raw(&[0; 4]);
    let mut create_v5 = Writer::new();
    create_v5.uvarint(u64::from(u32::MAX)).compact_string(b"t");
    vec![
        closed("Metadata topic name of 32767 bytes, 3 present",
            req(3, 1, &|w| { w.i32(1).i16(i16::MAX).raw(b"abc"); })),
        closed("Produce topics count i32::MAX",
            req(0, 3, &|w| { produce_head(w); w.i32(i32::MAX).string(TOPIC); })),
        closed("Produce records of i32::MAX bytes, 8 present",
            req(0, 3, &|w| { produce_head(w); w.i32(1).string(TOPIC).i32(1).i32(0).i32(i32::MAX).i64(0); })),
        closed("Fetch topics count i32::MAX",
            req(1, 4, &|w| { w.i32(-1).i32(0).i32(0).i32(1 << 20).i8(0).i32(i32::MAX).string(TOPIC); })),
        closed("CreateTopics configs count i32::MAX",
            req(19, 2, &|w| { w.i32(1).string(b"claims").i32(1).i16(1).i32(0).i32(i32::MAX).string(b"k"); })),
        closed("JoinGroup protocols count i32::MAX",
            req(JOIN_GROUP, 5, &|w| { join_head(w); w.i32(i32::MAX).string(b"range"); })),
        closed("JoinGroup protocol metadata of i32::MAX bytes",
            req(JOIN_GROUP, 5, &|w| { join_head(w); w.i32(1).string(b"range").i32(i32::MAX).raw(&[0; 64]); })),
        closed("OffsetCommit partitions count i32::MAX",
            req(OFFSET_COMMIT, 2, &|w| { w.string(GROUP).i32(-1).string(b"").i64(-1).i32(1).string(TOPIC).i32(i32::MAX); })),
        closed("DescribeGroups groups count 2^30",
            req(DESCRIBE_GROUPS, 0, &|w| { w.i32(1 << 30).string(GROUP); })),
        closed("Metadata v9 compact topic name of 2^31 bytes", wire::request_flexible(3, 9, CID, &metadata_v9.buf)),
        closed("CreateTopics v5 compact topics count 2^32 - 2", wire::request_flexible(19, 5, CID, &create_v5.buf)),
    ]
}

/// Produce with bad record batches and bad targets: answered, with the partition's error.
#[rustfmt::skip]
fn produce_cases() -> Vec<Case> {
    let code = |name: &str, request: Vec<u8>, code: i16| case(name, request, Expect::Code(produce_code, code));
    // A two-record batch with one field rewritten and a fresh CRC: only the field is wrong.
    let patched = |at: usize, bytes: &[u8]| {
        let mut b = batch(&[b"one", b"two"]);
        wire::patch_batch(&mut b, at, bytes);
        produce_batch(TOPIC, 0, &b)
    };
    let raw_patched = |at: usize, bytes: &[u8]| {
        let mut b = batch(&[b"raw"]);
        b[at..at + bytes.len()].copy_from_slice(bytes);
        produce_batch(TOPIC, 0, &b)
    };
    let short_length = {
        let b = batch(&[b"raw"]);
        i32::try_from(b.len() - 12 - 3).unwrap_or(0)
    };
    let (count, delta) = (batch_field::RECORDS_COUNT, batch_field::LAST_OFFSET_DELTA);
    let one = || batch(&[b"a"]);
    let big = vec![0x42u8; 4096];
    let at_time = |ts: i64| produce_batch(TOPIC, 1, &wire::record_batch(ts, &[b"time"]));
    vec![
        code("Produce: CRC flipped", raw_patched(wire::BATCH_CRC_OFFSET, &[0x40, 0, 0, 0]), CORRUPT_MESSAGE),
        code("Produce: magic 3", raw_patched(batch_field::MAGIC, &[3]), CORRUPT_MESSAGE),
        code("Produce: batch length 3 short", raw_patched(batch_field::LENGTH, &short_length.to_be_bytes()), CORRUPT_MESSAGE),
        code("Produce: batch length -1", raw_patched(batch_field::LENGTH, &(-1i32).to_be_bytes()), CORRUPT_MESSAGE),
        code("Produce: record count -1", patched(count, &(-1i32).to_be_bytes()), INVALID_RECORD),
        code("Produce: record count 3 for 2 records", patched(count, &3i32.to_be_bytes()), INVALID_RECORD),
        code("Produce: record count 1 for 2 records", patched(count, &1i32.to_be_bytes()), INVALID_RECORD),
        code("Produce: last offset delta 7 for 2 records", patched(delta, &7i32.to_be_bytes()), INVALID_RECORD),
        code("Produce: batch over max.message.bytes", produce_batch(TINY, 0, &batch(&[&big])), MESSAGE_TOO_LARGE),
        code("Produce: acks 2", produce(TOPIC, 0, &one(), 2, None), INVALID_REQUIRED_ACKS),
        code("Produce: acks -2", produce(TOPIC, 0, &one(), -2, None), INVALID_REQUIRED_ACKS),
        code("Produce: unknown topic", produce_batch(b"no-such-topic", 0, &one()), UNKNOWN_TOPIC_OR_PARTITION),
        code("Produce: partition 99", produce_batch(TOPIC, 99, &one()), UNKNOWN_TOPIC_OR_PARTITION),
        code("Produce: partition -1", produce_batch(TOPIC, -1, &one()), UNKNOWN_TOPIC_OR_PARTITION),
        code("Produce: internal topic __consumer_offsets", produce_batch(b"__consumer_offsets", 0, &one()), INVALID_TOPIC_EXCEPTION),
        code("Produce: timestamp -1 (none)", at_time(-1), NONE),
        code("Produce: timestamp 0", at_time(0), NONE),
        code("Produce: magic 1 in a v2 layout", raw_patched(batch_field::MAGIC, &[1]), INVALID_RECORD),
        code("Produce: magic 0 in a v2 layout", raw_patched(batch_field::MAGIC, &[0]), INVALID_RECORD),
        code("Produce: batch length 100 past the bytes", raw_patched(batch_field::LENGTH, &(short_length + 103).to_be_bytes()), INVALID_RECORD),
        code("Produce: no batch at all", produce_batch(TOPIC, 0, &[]), INVALID_RECORD),
        code("Produce: topic name no topic can have", produce_batch(b"bad name!", 0, &one()), UNKNOWN_TOPIC_OR_PARTITION),
        code("Produce: timestamps two days ahead", at_time(now_ms() + 2 * 86_400_000), INVALID_TIMESTAMP),
    ]
}

/// The wall clock in milliseconds since the epoch.
fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit in i64")
}

/// Idempotent and transactional batches without producer state, as Kafka 4.x answers them.
fn producer_state_cases() -> Vec<Case> {
    let fenced = |attributes: i16, sequence: i32| {
        let mut b = batch(&[b"p"]);
        wire::patch_batch(&mut b, batch_field::ATTRIBUTES, &attributes.to_be_bytes());
        wire::patch_batch(&mut b, batch_field::PRODUCER_ID, &424_242i64.to_be_bytes());
        wire::patch_batch(&mut b, batch_field::PRODUCER_EPOCH, &0i16.to_be_bytes());
        wire::patch_batch(&mut b, batch_field::BASE_SEQUENCE, &sequence.to_be_bytes());
        b
    };
    let transactional = fenced(0x10, 0);
    vec![
        case(
            "Produce: unknown producer id at sequence 5",
            produce_batch(TOPIC, 2, &fenced(0, 5)),
            Expect::Code(produce_code, NONE),
        ),
        case(
            "Produce: transactional batch, no transactional id",
            produce(TOPIC, 2, &transactional, -1, None),
            Expect::Code(produce_code, TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        ),
        case(
            "Produce: transactional batch of an unknown transactional id",
            produce(TOPIC, 2, &transactional, -1, Some(TXN_ID)),
            Expect::Code(produce_code, INVALID_PRODUCER_ID_MAPPING),
        ),
    ]
}

/// Fetch of partitions, offsets and topic ids that do not exist, and absurd limits.
fn fetch_cases() -> Vec<Case> {
    let code = |name: &str, request: Vec<u8>, code: i16| {
        case(name, request, Expect::Code(fetch_code, code))
    };
    // Fetch v13 (flexible, topics by id) of a topic id nobody made.
    let mut by_id = Writer::new();
    by_id
        .i32(-1) // replica_id
        .i32(0) // max_wait_ms
        .i32(0) // min_bytes
        .i32(1 << 20) // max_bytes
        .i8(0) // isolation_level
        .i32(0) // session_id
        .i32(-1) // session_epoch: no session
        .compact_len(1)
        .uuid([0x5a; 16])
        .compact_len(1)
        .i32(0) // partition
        .i32(-1) // current_leader_epoch
        .i64(0) // fetch_offset
        .i32(-1) // last_fetched_epoch
        .i64(-1) // log_start_offset
        .i32(1 << 20) // partition_max_bytes
        .uvarint(0) // partition tags
        .uvarint(0) // topic tags
        .compact_len(0) // forgotten topics
        .compact_string(b"") // rack_id
        .uvarint(0);
    vec![
        code(
            "Fetch: partition -1",
            fetch(TOPIC, -1, 0, 1 << 20),
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
        code(
            "Fetch: partition 99",
            fetch(TOPIC, 99, 0, 1 << 20),
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
        code(
            "Fetch: unknown topic",
            fetch(b"no-such-topic", 0, 0, 1 << 20),
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
        code(
            "Fetch: max_bytes i32::MAX",
            fetch(TOPIC, 0, 0, i32::MAX),
            NONE,
        ),
        code("Fetch: max_bytes 0", fetch(TOPIC, 0, 0, 0), NONE),
        code(
            "Fetch: offset -5",
            fetch(TOPIC, 0, -5, 1 << 20),
            OFFSET_OUT_OF_RANGE,
        ),
        code(
            "Fetch: offset i64::MAX",
            fetch(TOPIC, 0, i64::MAX, 1 << 20),
            OFFSET_OUT_OF_RANGE,
        ),
        case(
            "Fetch v13: unknown topic id",
            wire::request_flexible(1, 13, CID, &by_id.buf),
            Expect::Code(fetch13_code, UNKNOWN_TOPIC_ID),
        ),
    ]
}

/// ListOffsets at special and odd timestamps, and of partitions that do not exist.
fn list_offsets_cases() -> Vec<Case> {
    let code = |name: &str, partition: i32, timestamp: i64, code: i16| {
        case(
            name,
            wire::list_offsets_request(CID, TOPIC, partition, timestamp),
            Expect::Code(list_offsets_code, code),
        )
    };
    vec![
        code("ListOffsets: latest (-1)", 0, -1, NONE),
        code("ListOffsets: earliest (-2)", 0, -2, NONE),
        code("ListOffsets: i64::MAX", 0, i64::MAX, NONE),
        code(
            "ListOffsets: partition -1",
            -1,
            -1,
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
        case(
            "ListOffsets: unknown topic",
            wire::list_offsets_request(CID, b"no-such-topic", 0, -1),
            Expect::Code(list_offsets_code, UNKNOWN_TOPIC_OR_PARTITION),
        ),
    ]
}

/// Metadata for thousands of names: answered within the reaction bound.
fn metadata_cases() -> Vec<Case> {
    let unknown: Vec<Vec<u8>> = (0..5_000)
        .map(|i| format!("unknown-{i:05}").into_bytes())
        .collect();
    let unknown: Vec<&[u8]> = unknown.iter().map(Vec::as_slice).collect();
    let invalid: Vec<Vec<u8>> = (0..2_000)
        .map(|i| format!("bad name {i}").into_bytes())
        .collect();
    let invalid: Vec<&[u8]> = invalid.iter().map(Vec::as_slice).collect();
    let long = vec![b'x'; 20_000];
    vec![
        case(
            "Metadata: 5000 unknown topics",
            wire::metadata_request(CID, &unknown),
            Expect::Code(metadata_code, UNKNOWN_TOPIC_OR_PARTITION),
        ),
        case(
            "Metadata: 2000 invalid topic names",
            wire::metadata_request(CID, &invalid),
            Expect::Code(metadata_code, INVALID_TOPIC_EXCEPTION),
        ),
        case(
            "Metadata: a 20000-byte topic name",
            wire::metadata_request(CID, &[&long]),
            Expect::Code(metadata_code, INVALID_TOPIC_EXCEPTION),
        ),
        case(
            "Metadata: an empty topic name",
            wire::metadata_request(CID, &[b""]),
            Expect::Code(metadata_code, INVALID_TOPIC_EXCEPTION),
        ),
    ]
}

/// CreateTopics with bad names, partition counts, replication factors and configs.
#[rustfmt::skip]
fn create_topics_cases() -> Vec<Case> {
    let code = |name: &str, request: Vec<u8>, code: i16| case(name, request, Expect::Code(create_topics_code, code));
    let long = vec![b'n'; 250];
    vec![
        code("CreateTopics: empty name", create_topic(b"", 1, 1, &[]), INVALID_TOPIC_EXCEPTION),
        code("CreateTopics: name '.'", create_topic(b".", 1, 1, &[]), INVALID_TOPIC_EXCEPTION),
        code("CreateTopics: name '..'", create_topic(b"..", 1, 1, &[]), INVALID_TOPIC_EXCEPTION),
        code("CreateTopics: name with '/'", create_topic(b"a/b", 1, 1, &[]), INVALID_TOPIC_EXCEPTION),
        code("CreateTopics: name of 250 bytes", create_topic(&long, 1, 1, &[]), INVALID_TOPIC_EXCEPTION),
        code("CreateTopics: 0 partitions", create_topic(b"zero-partitions", 0, 1, &[]), INVALID_PARTITIONS),
        code("CreateTopics: -5 partitions", create_topic(b"negative-partitions", -5, 1, &[]), INVALID_PARTITIONS),
        code("CreateTopics: replication factor 3", create_topic(b"replicated", 1, 3, &[]), INVALID_REPLICATION_FACTOR),
        code("CreateTopics: replication factor 0", create_topic(b"unreplicated", 1, 0, &[]), INVALID_REPLICATION_FACTOR),
        code("CreateTopics: unknown config", create_topic(b"odd-config", 1, 1, &[(b"no.such.config", b"1")]), INVALID_CONFIG),
        code("CreateTopics: retention.ms=abc", create_topic(b"bad-retention", 1, 1, &[(b"retention.ms", b"abc")]), INVALID_CONFIG),
        code("CreateTopics: max.message.bytes=-5", create_topic(b"bad-max-bytes", 1, 1, &[(b"max.message.bytes", b"-5")]), INVALID_CONFIG),
        code("CreateTopics: existing topic", create_topic(TOPIC, 3, 1, &[]), TOPIC_ALREADY_EXISTS),
    ]
}

/// The member the catalogue's group was joined with.
struct Member {
    id: Vec<u8>,
    generation: i32,
}

/// Group APIs with empty and huge group ids, wrong generations and members, absurd protocols.
#[rustfmt::skip]
fn group_cases(member: &Member) -> Vec<Case> {
    let (id, generation) = (member.id.as_slice(), member.generation);
    let code = |name: &str, request: Vec<u8>, at: Field, code: i16| case(name, request, Expect::Code(at, code));
    let huge = vec![b'g'; 32_000];
    let big_metadata = vec![0xa5u8; 2 << 20];
    let many: Vec<Vec<u8>> = (0..10_000).map(|i| format!("p{i}").into_bytes()).collect();
    let many: Vec<(&[u8], &[u8])> = many.iter().map(|n| (n.as_slice(), &b""[..])).collect();
    let leave = |group: &[u8]| {
        let mut body = Writer::new();
        body.string(group).string(id);
        wire::request(LEAVE_GROUP, 0, CID, &body.buf)
    };
    let describe = |group: &[u8]| {
        let mut body = Writer::new();
        body.i32(1).string(group);
        wire::request(DESCRIBE_GROUPS, 0, CID, &body.buf)
    };
    let consumer = |group: &[u8], session_ms: i32, kind: &[u8], protocols: &[(&[u8], &[u8])]| {
        join(group, session_ms, b"", kind, protocols)
    };
    let range: &[(&[u8], &[u8])] = &[(b"range", b"")];
    vec![
        code("JoinGroup: empty group id", consumer_join(b"", b""), after_throttle, INVALID_GROUP_ID),
        code("Heartbeat: empty group id", heartbeat(b"", generation, id), after_throttle, INVALID_GROUP_ID),
        code("SyncGroup: empty group id", sync(b"", generation, id, &[]), after_throttle, INVALID_GROUP_ID),
        code("LeaveGroup: empty group id", leave(b""), first_i16, INVALID_GROUP_ID),
        // Kafka 4.1.1 checks the generation before the id here: no group "" has this member.
        code("OffsetCommit: empty group id", offset_commit(b"", generation, id, 0), offset_commit_code, ILLEGAL_GENERATION),
        // As Kafka 4.1.1 answers: a group that does not exist is described as Dead.
        code("DescribeGroups: empty group id", describe(b""), describe_groups_code, NONE),
        code("JoinGroup: 32000-byte group id", consumer_join(&huge, b""), after_throttle, MEMBER_ID_REQUIRED),
        code("Heartbeat: 32000-byte group id", heartbeat(&huge, 1, b"m"), after_throttle, UNKNOWN_MEMBER_ID),
        code("Heartbeat: generation 999", heartbeat(GROUP, 999, id), after_throttle, ILLEGAL_GENERATION),
        code("Heartbeat: generation -5", heartbeat(GROUP, -5, id), after_throttle, ILLEGAL_GENERATION),
        code("Heartbeat: unknown member", heartbeat(GROUP, generation, b"nobody"), after_throttle, UNKNOWN_MEMBER_ID),
        code("SyncGroup: generation 999", sync(GROUP, 999, id, &[]), after_throttle, ILLEGAL_GENERATION),
        code("OffsetCommit: generation 999", offset_commit(GROUP, 999, id, 0), offset_commit_code, ILLEGAL_GENERATION),
        code("JoinGroup: session timeout 1 ms", consumer(b"short-session", 1, b"consumer", range), after_throttle, INVALID_SESSION_TIMEOUT),
        code("JoinGroup: no protocols", consumer(b"no-protocols", 300_000, b"consumer", &[]), after_throttle, INCONSISTENT_GROUP_PROTOCOL),
        code("JoinGroup: empty protocol type", consumer(b"no-type", 300_000, b"", range), after_throttle, INCONSISTENT_GROUP_PROTOCOL),
        code("JoinGroup: another protocol type", consumer(GROUP, 300_000, b"connect", range), after_throttle, INCONSISTENT_GROUP_PROTOCOL),
        code("JoinGroup: 512 KiB protocol metadata",
            consumer(b"big-metadata", 300_000, b"consumer", &[(b"range", &big_metadata[..512 << 10])]),
            after_throttle, MEMBER_ID_REQUIRED),
        // BlazeMQ's bound on a member's protocol metadata (1 MiB); Kafka has none and answers
        // MEMBER_ID_REQUIRED.
        code("JoinGroup: 2 MiB protocol metadata (BlazeMQ's bound)",
            consumer(b"big-metadata", 300_000, b"consumer", &[(b"range", &big_metadata)]),
            after_throttle, INVALID_REQUEST),
        code("JoinGroup: 10000 protocols", consumer(b"many-protocols", 300_000, b"consumer", &many), after_throttle, MEMBER_ID_REQUIRED),
    ]
}

/// Every catalogued case, groups first so the member's generation is still current.
fn catalogue(member: &Member, advertised: &[(i16, i16)]) -> Vec<Case> {
    let mut cases = group_cases(member);
    cases.extend(size_prefix_cases());
    cases.extend(header_cases());
    cases.extend(version_cases(advertised));
    cases.extend(truncated_body_cases());
    cases.extend(cut_body_cases());
    cases.extend(claim_cases());
    cases.extend(produce_cases());
    cases.extend(producer_state_cases());
    cases.extend(fetch_cases());
    cases.extend(list_offsets_cases());
    cases.extend(metadata_cases());
    cases.extend(create_topics_cases());
    cases
}

// ---------------------------------------------------------------------------------------------
// Running it.

/// The broker under test: started here, or one already running at `BLAZEMQ_BOOTSTRAP`.
struct Target {
    broker: Option<Broker>,
    addr: SocketAddr,
}

impl Target {
    fn start() -> Target {
        if let Ok(bootstrap) = std::env::var("BLAZEMQ_BOOTSTRAP") {
            let addr = std::net::ToSocketAddrs::to_socket_addrs(&bootstrap)
                .ok()
                .and_then(|mut a| a.next())
                .unwrap_or_else(|| panic!("BLAZEMQ_BOOTSTRAP={bootstrap} is not an address"));
            return Target { broker: None, addr };
        }
        let broker = Broker::start_with(
            BrokerOptions::default()
                .arg("--max-request-size")
                .arg(REQUEST_SIZE_MAX.to_string())
                .arg("--auto-create-topics")
                .arg("false"),
        );
        let addr = broker.socket_addr();
        Target {
            broker: Some(broker),
            addr,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect_timeout(&self.addr, REACTION_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr));
        stream
            .set_write_timeout(Some(REACTION_TIMEOUT))
            .expect("a non-zero timeout is valid");
        stream
            .set_read_timeout(Some(REACTION_TIMEOUT))
            .expect("a non-zero timeout is valid");
        stream
    }

    fn assert_alive(&mut self, after: &str) {
        if let Some(broker) = self.broker.as_mut() {
            assert!(
                broker.is_running(),
                "broker died after `{after}`\n{}",
                broker.output()
            );
        }
    }

    fn rss_kib(&self) -> Option<u64> {
        self.broker.as_ref().and_then(Broker::rss_kib)
    }
}

/// Sends `request` on `stream` and returns the answer's body after the correlation id.
fn call(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    wire::round_trip(stream, request, CID).unwrap_or_else(|e| panic!("setup request failed: {e}"))
}

/// Creates the catalogue's topics and joins its group; returns the member.
fn setup(target: &Target) -> Member {
    let mut stream = target.connect();
    let tiny_max: &[u8] = b"1024";
    for request in [
        create_topic(TOPIC, 3, 1, &[]),
        create_topic(TINY, 1, 1, &[(b"max.message.bytes", tiny_max)]),
        create_topic(SERVED, 1, 1, &[]),
    ] {
        assert_eq!(
            create_topics_code(&call(&mut stream, &request)),
            Some(NONE),
            "setup: create topic"
        );
    }
    let mut body = Writer::new();
    body.string(GROUP);
    call(
        &mut stream,
        &wire::request(FIND_COORDINATOR, 0, CID, &body.buf),
    );
    find_transaction_coordinator(&mut stream);
    let member_id = join_until_answered(&mut stream, b"", MEMBER_ID_REQUIRED).1;
    let (generation, id) = join_until_answered(&mut stream, &member_id, NONE);
    let synced = call(&mut stream, &sync(GROUP, generation, &id, &[(&id, b"")]));
    assert_eq!(after_throttle(&synced), Some(NONE), "setup: SyncGroup");
    let committed = call(&mut stream, &offset_commit(GROUP, generation, &id, 0));
    assert_eq!(
        offset_commit_code(&committed),
        Some(NONE),
        "setup: OffsetCommit"
    );
    Member { id, generation }
}

/// FindCoordinator v1 for the catalogue's transactional id until it is answered without error:
/// a Kafka creates its transaction state topic on the first one, and only then answers a
/// transactional batch as the catalogue expects.
fn find_transaction_coordinator(stream: &mut TcpStream) {
    let mut body = Writer::new();
    body.string(TXN_ID).i8(1);
    let request = wire::request(FIND_COORDINATOR, 1, CID, &body.buf);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = after_throttle(&call(stream, &request));
        if answer == Some(NONE) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "setup: FindCoordinator for a transaction answered {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// JoinGroup v5 until the coordinator is ready (a Kafka creates its offsets topic first);
/// returns the generation and member id of an answer with `code`.
fn join_until_answered(stream: &mut TcpStream, member: &[u8], code: i16) -> (i32, Vec<u8>) {
    const NOT_READY: [i16; 3] = [14, 15, 16];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = call(stream, &consumer_join(GROUP, member));
        let mut r = Reader::new(&body);
        let parsed = (|| {
            r.i32()?;
            let error = r.i16()?;
            let generation = r.i32()?;
            r.string()?; // protocol_name
            r.string()?; // leader
            Some((error, generation, r.string()?.to_vec()))
        })();
        match parsed {
            Some((error, generation, id)) if error == code => return (generation, id),
            Some((error, ..)) if NOT_READY.contains(&error) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            other => panic!("setup: JoinGroup answered {other:?}, expected code {code}"),
        }
    }
}

/// The (api key, max version) pairs ApiVersions v0 advertises.
fn advertised_apis(target: &Target) -> Vec<(i16, i16)> {
    let mut stream = target.connect();
    let body = call(
        &mut stream,
        &wire::request(wire::api_key::API_VERSIONS, 0, CID, &[]),
    );
    let mut r = Reader::new(&body);
    assert_eq!(r.i16(), Some(NONE), "ApiVersions answers");
    let count = r.i32().unwrap_or(0);
    let apis: Vec<(i16, i16)> = (0..count)
        .map_while(|_| {
            let key = r.i16()?;
            r.i16()?;
            Some((key, r.i16()?))
        })
        .collect();
    assert!(!apis.is_empty(), "ApiVersions lists the APIs");
    apis
}

/// A well-behaved client: each check produces one record and fetches it back.
struct Served {
    stream: TcpStream,
    next_offset: i64,
}

impl Served {
    fn check(&mut self) -> Result<(), String> {
        let offset = self.next_offset;
        let value = format!("served-{offset}").into_bytes();
        let request = produce_batch(SERVED, 0, &batch(&[&value]));
        let body = wire::round_trip(&mut self.stream, &request, CID)
            .map_err(|e| format!("produce: {e}"))?;
        let produced = wire::produce_response_result(&body);
        if produced != Some((NONE, offset)) {
            return Err(format!(
                "produce answered {produced:?}, expected (0, {offset})"
            ));
        }
        let request = fetch(SERVED, 0, offset, 1 << 20);
        let body =
            wire::round_trip(&mut self.stream, &request, CID).map_err(|e| format!("fetch: {e}"))?;
        let fetched = wire::fetch_response(&body).ok_or("unreadable fetch response")?;
        let records = wire::fetched_records(&fetched.records).ok_or("unreadable records")?;
        let first = records.iter().find(|r| r.offset == offset);
        if fetched.error_code != NONE || first.map(|r| &r.value) != Some(&value) {
            return Err(format!(
                "fetch at {offset}: code {}, records {records:?}",
                fetched.error_code
            ));
        }
        self.next_offset += 1;
        Ok(())
    }
}

/// Reads until the broker answers one frame or closes; a silent, open connection is an error.
fn reaction(stream: &mut TcpStream) -> Result<Reaction, String> {
    match wire::read_frame(stream) {
        Ok(frame) => Ok(Reaction::Answered(frame)),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(format!(
            "neither answered nor closed within {REACTION_TIMEOUT:?}"
        )),
        Err(e) if e.kind() == ErrorKind::InvalidData => Err(format!("unreadable answer: {e}")),
        Err(_) => Ok(Reaction::Closed),
    }
}

/// Sends one case on a new connection and checks the reaction; returns how long it took.
fn run_case(target: &Target, case: &Case) -> Result<Duration, String> {
    let mut stream = target.connect();
    let started = Instant::now();
    if let Err(e) = stream.write_all(&case.bytes) {
        // A broker may close while the rest of a refused request is still being sent.
        if !matches!(case.expect, Expect::Closed) {
            return Err(format!("write failed: {e}"));
        }
    }
    if case.half_close
        && let Err(e) = stream.shutdown(Shutdown::Write)
    {
        return Err(format!("half-close failed: {e}"));
    }
    let reaction = reaction(&mut stream)?;
    let took = started.elapsed();
    match (case.expect, reaction) {
        (Expect::Closed, Reaction::Closed) => Ok(took),
        (Expect::Closed, Reaction::Answered(frame)) => Err(format!(
            "answered {} bytes instead of closing: {:02x?}",
            frame.len(),
            &frame[..frame.len().min(24)]
        )),
        (Expect::Code(..), Reaction::Closed) => Err("closed instead of answering".into()),
        (Expect::Code(at, code), Reaction::Answered(frame)) => {
            if frame.get(..4) != Some(&CID.to_be_bytes()[..]) {
                return Err("answer with a wrong correlation id".into());
            }
            match at(&frame[4..]) {
                Some(got) if got == code => Ok(took),
                got => Err(format!("expected code {code}, answered {got:?}")),
            }
        }
    }
}

#[test]
fn malformed_catalogue_is_refused_while_a_client_is_served() {
    let mut target = Target::start();
    let member = setup(&target);
    let advertised = advertised_apis(&target);
    let mut served = Served {
        stream: target.connect(),
        next_offset: 0,
    };
    served
        .check()
        .unwrap_or_else(|e| panic!("the well-behaved client before the catalogue: {e}"));
    let rss_before = target.rss_kib();
    let cases = catalogue(&member, &advertised);
    assert!(
        cases.len() >= 50,
        "a catalogue of at least 50 inputs, not {}",
        cases.len()
    );
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, "");
    for case in &cases {
        match run_case(&target, case) {
            Ok(took) if took > slowest.0 => slowest = (took, &case.name),
            Ok(_) => {}
            Err(why) => failures.push(format!("{}: {why}", case.name)),
        }
        target.assert_alive(&case.name);
        if let Err(e) = served.check() {
            panic!("the well-behaved client after `{}`: {e}", case.name);
        }
    }
    let rss_after = target.rss_kib();
    println!(
        "{} cases; slowest {:?} ({}); RSS {rss_before:?} -> {rss_after:?} KiB; {} well-behaved round trips",
        cases.len(),
        slowest.0,
        slowest.1,
        served.next_offset
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases reacted otherwise:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        assert!(
            after <= before + RSS_GROWTH_KIB_MAX,
            "RSS grew from {before} KiB to {after} KiB"
        );
    }
}
