use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use blazemq_core::Instant;
use blazemq_core::broker::{Broker, BrokerConfig, ConnId, Input, Output};
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use blazemq_core::codec::messages::{CreateTopicsRequest, OffsetCommitRequest};
use blazemq_core::codec::{Message, RequestStamp, Writer};
use blazemq_core::storage::MemoryStorage;

use super::*;

/// Label names and values, unescaped.
type Labels = Vec<(String, String)>;

/// One sample line, parsed.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Labels,
    value: f64,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    valid_name(name) && !name.contains(':') && !name.starts_with("__")
}

/// `{a="x",b="y"}` from just after the `{`: the labels (unescaped) and the rest after `}`.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let (name, rest) = s.split_once("=\"").ok_or(format!("no =\" in {s:?}"))?;
        if !valid_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        labels.push((name.to_string(), value));
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        s => s.parse().map_err(|e| format!("bad value {s:?}: {e}")),
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or(format!("no value in {line:?}"))?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(after) => parse_labels(after)?,
        None => (Vec::new(), &line[name_end..]),
    };
    let value = rest
        .strip_prefix(' ')
        .ok_or(format!("no space in {line:?}"))?;
    Ok(Sample {
        name: name.to_string(),
        labels,
        value: parse_value(value)?,
    })
}

/// The family a sample belongs to: a histogram's samples carry a suffix.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|t| t == "histogram") {
                return base;
            }
        }
    }
    name
}

/// Parse a whole exposition as Prometheus would, failing on anything malformed: every line a
/// comment or a sample, HELP and TYPE once per family and before its samples, a family's
/// samples together, no sample twice.
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let (mut helps, mut types) = (BTreeSet::new(), BTreeMap::new());
    let (mut done, mut current, mut seen) = (BTreeSet::new(), String::new(), BTreeSet::new());
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (word, name) = (parts.next(), parts.next().unwrap_or(""));
            if !valid_name(name) {
                return Err(format!("bad name in {line:?}"));
            }
            let fresh = match word {
                Some("HELP") => helps.insert(name.to_string()),
                Some("TYPE") => {
                    let t = parts.next().unwrap_or("").to_string();
                    types.insert(name.to_string(), t).is_none()
                }
                _ => true,
            };
            if !fresh || done.contains(name) {
                return Err(format!("{line:?} repeats a family"));
            }
            if current != name {
                done.insert(std::mem::replace(&mut current, name.to_string()));
            }
            continue;
        }
        let sample = parse_sample(line)?;
        let family = family_of(&sample.name, &types);
        if family != current || !types.contains_key(family) {
            return Err(format!("{line:?} is outside its family's block"));
        }
        if !seen.insert(format!("{}{:?}", sample.name, sample.labels)) {
            return Err(format!("{line:?} is a duplicate"));
        }
        samples.push(sample);
    }
    Ok(samples)
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
    })
}

fn frame<M: Message>(api_key: i16, version: i16, body: &M) -> Vec<u8> {
    let mut w = Writer::new();
    w.put_i32(0);
    w.put_i16(api_key);
    w.put_i16(version);
    w.put_i32(1);
    w.put_nullable_string(Some("test"), false, true, "client_id")
        .expect("a client id");
    if version >= M::FIRST_FLEXIBLE_VERSION {
        w.put_uvarint(0);
    }
    body.encode(&mut w, version).expect("encodes");
    let mut bytes = w.into_bytes();
    let size = (bytes.len() - 4) as i32;
    bytes[..4].copy_from_slice(&size.to_be_bytes());
    bytes
}

/// A counting broker with topic `t` (2 partitions) and group `g "\` with a newline in its id,
/// which committed offset 0 of `t`-0, plus a CreateTopics of `t` again (an error).
fn busy_broker() -> Broker<MemoryStorage> {
    let config = BrokerConfig {
        stats: true,
        ..BrokerConfig::default()
    };
    let mut broker = Broker::new(config, MemoryStorage::default(), 1).expect("starts");
    let conn = ConnId(1);
    let now = Instant::from_nanos(1);
    broker.handle(Input::Accepted {
        conn,
        now,
        peer: "127.0.0.1",
    });
    let create = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "t".into(),
            num_partitions: 2,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 1000,
        validate_only: false,
    };
    let commit = OffsetCommitRequest {
        group_id: "g \"\\\n".into(),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 0,
                committed_leader_epoch: -1,
                commit_timestamp: -1,
                committed_metadata: None,
            }],
        }],
        ..Default::default()
    };
    let frames = [
        frame(19, 4, &create),
        frame(19, 4, &create),
        frame(8, 7, &commit),
    ];
    for data in &frames {
        broker.handle(Input::Bytes {
            conn,
            now,
            unix_ms: 1,
            data,
        });
        // Bounded: a request gets one answer; a topic created in a later turn, a few.
        for _ in 0..16 {
            match broker.poll_output() {
                Output::Send { response, .. } => broker.recycle(response),
                Output::Close(c) => panic!("closed {c:?}"),
                Output::Timeout(Some(_)) => broker.handle(Input::Timeout { now, unix_ms: 1 }),
                Output::Timeout(None) => break,
            }
        }
    }
    broker
}

fn rendered(broker: &Broker<MemoryStorage>, server: &ServerMetrics) -> Vec<Sample> {
    let mut out = String::new();
    render(broker, server, &mut out);
    parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"))
}

#[test]
fn the_exposition_parses_and_holds_every_family() {
    let broker = busy_broker();
    let mut server = ServerMetrics::new(
        true,
        std::time::Instant::now(),
        1_700_000_000_000,
        Duration::from_millis(1500),
    );
    server.connection_opened();
    server.connection_opened();
    server.connection_closed();
    server.received(100);
    server.sent(40);
    let samples = rendered(&broker, &server);
    let value = |name: &str, labels: &[(&str, &str)]| {
        find(&samples, name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?}"))
            .value
    };
    assert_eq!(
        value("blazemq_requests_total", &[("api", "CreateTopics")]),
        2.0
    );
    assert_eq!(
        value("blazemq_requests_total", &[("api", "OffsetCommit")]),
        1.0
    );
    let exists = [("api", "CreateTopics"), ("error", "TOPIC_ALREADY_EXISTS")];
    assert_eq!(value("blazemq_response_errors_total", &exists), 1.0);
    let t0 = [("topic", "t"), ("partition", "0")];
    assert_eq!(value("blazemq_partition_high_watermark", &t0), 0.0);
    assert_eq!(value("blazemq_partition_log_start_offset", &t0), 0.0);
    assert_eq!(
        value(
            "blazemq_partition_size_bytes",
            &[("topic", "t"), ("partition", "1")]
        ),
        0.0
    );
    // The group id comes back whole through the escapes.
    let lag = [("group", "g \"\\\n"), ("topic", "t"), ("partition", "0")];
    assert_eq!(value("blazemq_consumer_group_lag", &lag), 0.0);
    assert_eq!(value("blazemq_consumer_group_committed_offset", &lag), 0.0);
    assert_eq!(value("blazemq_connections_opened_total", &[]), 2.0);
    assert_eq!(value("blazemq_connections", &[]), 1.0);
    assert_eq!(value("blazemq_network_received_bytes_total", &[]), 100.0);
    assert_eq!(value("blazemq_network_sent_bytes_total", &[]), 40.0);
    assert_eq!(value("blazemq_recovery_duration_seconds", &[]), 1.5);
    assert_eq!(value("process_start_time_seconds", &[]), 1_700_000_000.0);
    assert!(value("blazemq_uptime_seconds", &[]) >= 0.0);
    assert!(
        find(
            &samples,
            "blazemq_storage_errors_total",
            &[("kind", "no_space")]
        )
        .is_some()
    );
}

#[test]
fn latency_is_measured_from_the_request_s_arrival_on_the_broker_s_clock() {
    let broker = busy_broker();
    let mut server = ServerMetrics::new(true, std::time::Instant::now(), 0, Duration::ZERO);
    let clock = Clock::new();
    // Arrived "now" on the clock: well under the first bucket's 100 µs is not guaranteed on a
    // busy machine, so only the count and the +Inf bucket are checked for it.
    let stamp = RequestStamp {
        api_key: ApiKey::Produce.code(),
        received: Instant::from_nanos(clock.now_nanos()),
    };
    server.response_queued(&stamp, &clock);
    // A fetch that arrived before the clock's origin (saturates to the whole elapsed time).
    let parked = RequestStamp {
        api_key: ApiKey::Fetch.code(),
        received: Instant::from_nanos(0),
    };
    std::thread::sleep(Duration::from_millis(2));
    server.response_queued(&parked, &clock);
    // An api key beyond the table and an unstamped response are not timed.
    server.response_queued(&RequestStamp::default(), &clock);
    let samples = rendered(&broker, &server);
    let count = |api: &str| {
        find(
            &samples,
            "blazemq_request_duration_seconds_count",
            &[("api", api)],
        )
        .map(|s| s.value)
    };
    assert_eq!(count("Produce"), Some(1.0));
    assert_eq!(count("Fetch"), Some(1.0));
    let fetch_fast = [("api", "Fetch"), ("le", "0.001")];
    let fetch_slow = [("api", "Fetch"), ("le", "0.0025")];
    let bucket = "blazemq_request_duration_seconds_bucket";
    assert_eq!(
        find(&samples, bucket, &fetch_fast).map(|s| s.value),
        Some(0.0)
    );
    assert!(
        find(
            &samples,
            "blazemq_request_duration_seconds_sum",
            &[("api", "Fetch")]
        )
        .is_some_and(|s| s.value >= 0.002)
    );
    assert!(find(&samples, bucket, &fetch_slow).is_some());
    assert_eq!(
        count("Metadata"),
        None,
        "no histogram for an api never answered"
    );
}

#[test]
fn nothing_is_counted_when_off() {
    let broker = busy_broker();
    let mut server = ServerMetrics::off();
    server.connection_opened();
    server.received(10);
    server.sent(10);
    let clock = Clock::new();
    let stamp = RequestStamp {
        api_key: 0,
        received: Instant::from_nanos(0),
    };
    server.response_queued(&stamp, &clock);
    let samples = rendered(&broker, &server);
    assert_eq!(
        find(&samples, "blazemq_connections_opened_total", &[]).map(|s| s.value),
        Some(0.0)
    );
    assert_eq!(
        find(&samples, "blazemq_network_sent_bytes_total", &[]).map(|s| s.value),
        Some(0.0)
    );
    assert!(find(&samples, "blazemq_request_duration_seconds_count", &[]).is_none());
}

#[test]
fn the_parser_refuses_what_prometheus_refuses() {
    for bad in [
        "# HELP a x\n# TYPE a counter\na 1\n# HELP a x\n",
        "# HELP a x\n# TYPE a counter\nb 1\n",
        "# HELP a x\n# TYPE a counter\na{l=\"x} 1\n",
        "# HELP a x\n# TYPE a counter\na{l=\"\\q\"} 1\n",
        "# HELP a x\n# TYPE a counter\n1a 1\n",
        "# HELP a x\n# TYPE a counter\na one\n",
        "# HELP a x\n# TYPE a counter\na 1\na 2\n",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} parsed");
    }
    let good = "# HELP a x\n# TYPE a counter\na{l=\"q\\\"\\\\\\n\"} 1\n";
    let samples = parse(good).expect("parses");
    assert_eq!(
        samples[0].labels,
        [("l".to_string(), "q\"\\\n".to_string())]
    );
}

#[test]
fn unknown_api_keys_and_error_codes_are_labelled_by_number() {
    assert_eq!(api_label(0), "Produce");
    assert_eq!(api_label(1000), "1000");
    assert_eq!(error_label(6), "NOT_LEADER_OR_FOLLOWER");
    assert_eq!(error_label(-1), "UNKNOWN_SERVER_ERROR");
    assert_eq!(error_label(9999), "9999");
}
