//! The API's routes over a broker in memory, asked through the broker's own dispatch.

use blazemq_core::Instant;
use blazemq_core::broker::{Broker, BrokerConfig, ConnId, Input, Output};
use blazemq_core::codec::Message;
use blazemq_core::codec::Records as RecordBytes;
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::join_group_request::JoinGroupRequestProtocol;
use blazemq_core::codec::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use blazemq_core::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use blazemq_core::codec::messages::sync_group_request::SyncGroupRequestAssignment;
use blazemq_core::codec::messages::{
    CreateTopicsRequest, CreateTopicsResponse, JoinGroupRequest, JoinGroupResponse,
    OffsetCommitRequest, OffsetCommitResponse, ProduceRequest, ProduceResponse, SyncGroupRequest,
    SyncGroupResponse,
};
use blazemq_core::records::batch::field;
use blazemq_core::records::crc::crc32;
use blazemq_core::records::{BatchBuilder, RecordBatch};
use blazemq_core::storage::MemoryStorage;
use serde_json::Value;

use super::{ConsoleSettings, route};
use crate::http::ask::{Ask, BrokerAsk};
use crate::http::{Method, Request};

const CONN: ConnId = ConnId(1);

/// A broker in memory and the console's routes in front of it.
struct Console {
    broker: Broker<MemoryStorage>,
    others: Vec<Output>,
    correlation_id: i32,
    write: bool,
}

impl Console {
    fn new() -> Console {
        let mut broker = Broker::new(BrokerConfig::default(), MemoryStorage::default(), 0)
            .expect("an empty broker starts");
        broker.handle(Input::Accepted {
            conn: CONN,
            now: Instant::from_nanos(0),
            peer: "127.0.0.1",
        });
        Console {
            broker,
            others: Vec::new(),
            correlation_id: 0,
            write: true,
        }
    }

    fn with_ask<T>(&mut self, f: impl FnOnce(&mut BrokerAsk<'_, MemoryStorage>) -> T) -> T {
        let mut ask = BrokerAsk {
            broker: &mut self.broker,
            conn: CONN,
            now: Instant::from_nanos(1_000_000),
            // The console stamps produced records with the wall clock, which the broker checks
            // against its own (`message.timestamp.after.max.ms`).
            unix_ms: super::messages::unix_ms(),
            others: &mut self.others,
            correlation_id: self.correlation_id,
        };
        let answer = f(&mut ask);
        self.correlation_id = ask.correlation_id;
        answer
    }

    fn ask<Q: Message, R: Message>(&mut self, version: i16, request: &Q) -> R {
        self.with_ask(|ask| ask.ask(version, request))
            .expect("the broker answers")
    }

    /// The status and JSON body of `method` on `target` (path and query) with `body`.
    fn call(&mut self, method: Method, target: &str, body: &str) -> (u16, Value) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let req = Request {
            method,
            path,
            query,
            body: body.as_bytes(),
        };
        let settings = ConsoleSettings { write: self.write };
        let response = self
            .with_ask(|ask| route(&req, ask, &settings))
            .expect("a console path");
        assert_eq!(response.content_type, "application/json");
        let json = serde_json::from_slice(&response.body).expect("the answer is JSON");
        (response.status, json)
    }

    fn get(&mut self, target: &str) -> (u16, Value) {
        self.call(Method::Get, target, "")
    }

    /// A POST with the write token, as the page sends it.
    fn post(&mut self, target: &str, body: &str) -> (u16, Value) {
        let body = format!("{body}&token={}", super::write_token());
        self.call(Method::Post, target, &body)
    }

    fn create_topic(&mut self, name: &str, partitions: i32) {
        let request = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 1_000,
            validate_only: false,
        };
        let response: CreateTopicsResponse = self.ask(5, &request);
        assert_eq!(response.topics[0].error_code, 0);
    }

    /// Produces `batch` (whole record batches) to `topic`-`partition` as a client would.
    fn produce_batch(&mut self, topic: &str, partition: i32, batch: Vec<u8>) -> i64 {
        let request = ProduceRequest {
            acks: -1,
            timeout_ms: 1_000,
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(RecordBytes::Bytes(batch)),
                }],
            }],
            ..Default::default()
        };
        let response: ProduceResponse = self.ask(9, &request);
        let answer = &response.responses[0].partition_responses[0];
        assert_eq!(answer.error_code, 0);
        answer.base_offset
    }

    fn commit(&mut self, group: &str, topic: &str, partition: i32, offset: i64) {
        let request = OffsetCommitRequest {
            group_id: group.into(),
            topics: vec![OffsetCommitRequestTopic {
                name: topic.into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: partition,
                    committed_offset: offset,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let response: OffsetCommitResponse = self.ask(7, &request);
        assert_eq!(response.topics[0].partitions[0].error_code, 0);
    }
}

fn records(batch: &Value) -> &Vec<Value> {
    batch["records"].as_array().expect("records")
}

#[test]
fn topics_are_listed_and_described() {
    let mut c = Console::new();
    c.create_topic("orders", 2);
    for value in ["a", "bb", "ccc"] {
        let (status, _) = c.post(
            "/api/topics/orders/messages",
            &format!("partition=1&value={value}"),
        );
        assert_eq!(status, 200);
    }
    let (status, list) = c.get("/api/topics");
    assert_eq!(status, 200);
    let orders = &list["topics"][0];
    assert_eq!(orders["name"], "orders");
    assert_eq!(orders["partitions"], 2);
    assert_eq!(orders["end_offsets"], 3);
    assert_eq!(orders["log_start_offsets"], 0);
    assert!(orders["size_bytes"].as_i64().expect("a size") > 0);
    let (status, topic) = c.get("/api/topics/orders");
    assert_eq!(status, 200);
    let partitions = topic["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 2);
    assert_eq!(partitions[1]["partition"], 1);
    assert_eq!(partitions[1]["end_offset"], 3);
    assert_eq!(partitions[0]["end_offset"], 0);
    let configs = topic["configs"].as_array().expect("configs");
    let cleanup = configs.iter().find(|c| c["name"] == "cleanup.policy");
    let cleanup = cleanup.expect("cleanup.policy is described");
    assert_eq!(cleanup["value"], "delete");
    assert_eq!(cleanup["source"], "DEFAULT_CONFIG");
    let (status, overview) = c.get("/api/overview");
    assert_eq!(status, 200);
    assert_eq!(overview["topics"], 1);
    assert_eq!(overview["partitions"], 2);
    assert_eq!(overview["write"], true);
    assert_eq!(overview["brokers"].as_array().map(Vec::len), Some(1));
    let (status, config) = c.get("/api/config");
    assert_eq!(status, 200);
    assert!(config["configs"].as_array().is_some_and(|c| !c.is_empty()));
}

#[test]
fn produced_records_read_back_with_keys_values_and_headers() {
    let mut c = Console::new();
    c.create_topic("t", 1);
    // Stamped a minute ago: older records would be past retention.ms and deleted.
    let minute_ago = super::messages::unix_ms() - 60_000;
    let mut batch = BatchBuilder::new(0);
    batch.push(minute_ago, Some(&[0xff, 0x00, 0x7f]), None, &[]);
    batch.push(minute_ago + 1_000, None, Some(b"v"), &[]);
    assert_eq!(c.produce_batch("t", 0, batch.finish()), 0);
    let (status, written) = c.post(
        "/api/topics/t/messages",
        "key=k1&value=hello+world&headers=trace%3Dabc%0Aflag",
    );
    assert_eq!(status, 200, "{written}");
    assert_eq!(written["offset"], 2);
    let (status, read) = c.get("/api/topics/t/messages?partition=0&offset=0");
    assert_eq!(status, 200, "{read}");
    let rows = records(&read);
    assert_eq!(rows.len(), 3, "{read}");
    assert_eq!(rows[0]["offset"], 0);
    assert_eq!(rows[0]["key"], "ff007f");
    assert_eq!(rows[0]["value"], Value::Null);
    assert_eq!(rows[0]["timestamp"], minute_ago);
    assert_eq!(rows[0]["timestamp_type"], "CreateTime");
    assert_eq!(rows[1]["key"], Value::Null);
    assert_eq!(rows[2]["key"], "6b31");
    assert_eq!(rows[2]["value"], "68656c6c6f20776f726c64");
    assert_eq!(rows[2]["headers"][0]["key"], "trace");
    assert_eq!(rows[2]["headers"][0]["value"], "616263");
    assert_eq!(rows[2]["headers"][1]["key"], "flag");
    assert_eq!(rows[2]["headers"][1]["value"], Value::Null);
    assert_eq!(read["next_offset"], 3);
    // From an offset within a batch, with a limit.
    let (_, read) = c.get("/api/topics/t/messages?offset=1&limit=5");
    assert_eq!(records(&read).len(), 2);
    assert_eq!(records(&read)[0]["offset"], 1);
    let (_, read) = c.get("/api/topics/t/messages?offset=0&limit=2");
    assert_eq!(records(&read).len(), 2);
    assert_eq!(read["next_offset"], 2);
    // By time: the first record stamped at or after half a second later is offset 1; none is
    // after the last.
    let (_, read) = c.get(&format!(
        "/api/topics/t/messages?timestamp={}",
        minute_ago + 500
    ));
    assert_eq!(read["from"], 1);
    assert_eq!(records(&read)[0]["offset"], 1);
    let (_, read) = c.get("/api/topics/t/messages?timestamp=99999999999999");
    assert_eq!(records(&read).len(), 0);
    // With neither, the last `limit`.
    let (_, read) = c.get("/api/topics/t/messages?limit=1");
    assert_eq!(records(&read)[0]["offset"], 2);
}

/// `records` (uncompressed record bytes) in one gzip member of stored deflate blocks: what a
/// gzip writer may emit for incompressible data, and enough to prove the batch is inflated.
fn gzip_stored(records: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let len = u16::try_from(records.len()).expect("a small test batch");
    out.push(1); // BFINAL, stored
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(records);
    out.extend_from_slice(&crc32(records).to_le_bytes());
    let size = u32::try_from(records.len()).expect("a small test batch");
    out.extend_from_slice(&size.to_le_bytes());
    out
}

#[test]
fn compressed_batches_are_inflated() {
    let mut c = Console::new();
    c.create_topic("z", 1);
    let mut builder = BatchBuilder::new(0);
    let now = super::messages::unix_ms();
    builder.push(now, Some(b"k"), Some(b"one"), &[]);
    builder.push(now, Some(b"k"), Some(b"two"), &[]);
    let plain = builder.finish();
    let mut bytes = plain[..field::RECORDS].to_vec();
    bytes.extend_from_slice(&gzip_stored(&plain[field::RECORDS..]));
    let length = i32::try_from(bytes.len() - field::BATCH_LENGTH.end).expect("small");
    bytes[field::BATCH_LENGTH].copy_from_slice(&length.to_be_bytes());
    bytes[field::ATTRIBUTES].copy_from_slice(&1i16.to_be_bytes());
    let mut batch = RecordBatch::new_unchecked(bytes);
    batch.fill_crc();
    c.produce_batch("z", 0, batch.into_inner());
    let (status, read) = c.get("/api/topics/z/messages?offset=0");
    assert_eq!(status, 200, "{read}");
    let values: Vec<&Value> = records(&read).iter().map(|r| &r["value"]).collect();
    assert_eq!(values, ["6f6e65", "74776f"]);
}

#[test]
fn groups_show_lag_and_reset_when_empty() {
    let mut c = Console::new();
    c.create_topic("t", 1);
    for _ in 0..5 {
        c.post("/api/topics/t/messages", "partition=0&value=x");
    }
    c.commit("g1", "t", 0, 2);
    let (status, groups) = c.get("/api/groups");
    assert_eq!(status, 200);
    assert_eq!(groups["groups"][0]["group_id"], "g1");
    assert_eq!(groups["groups"][0]["state"], "Empty");
    let (status, group) = c.get("/api/groups/g1");
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["offsets"][0]["committed"], 2);
    assert_eq!(group["offsets"][0]["end_offset"], 5);
    assert_eq!(group["offsets"][0]["lag"], 3);
    assert_eq!(group["lag"], 3);
    let (status, reset) = c.post("/api/groups/g1/reset", "topic=t&to=earliest");
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["partitions"][0]["offset"], 0);
    let (_, group) = c.get("/api/groups/g1");
    assert_eq!(group["offsets"][0]["lag"], 5);
    // An offset past the end moves to the end, as kafka-consumer-groups does.
    let (status, reset) = c.post(
        "/api/groups/g1/reset",
        "topic=t&partition=0&to=offset&offset=99",
    );
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["partitions"][0]["offset"], 5);
    let (_, reset) = c.post("/api/groups/g1/reset", "topic=t&to=offset&offset=3");
    assert_eq!(reset["partitions"][0]["offset"], 3);
    // A group that never existed may be given offsets (it is Dead), then it shows.
    let (status, _) = c.post("/api/groups/fresh/reset", "topic=t&to=latest");
    assert_eq!(status, 200);
    let (_, fresh) = c.get("/api/groups/fresh");
    assert_eq!(fresh["offsets"][0]["committed"], 5);
    for bad in [
        "topic=t&to=sideways",
        "to=earliest",
        "topic=t&to=offset",
        "topic=t&to=offset&offset=x",
    ] {
        assert_eq!(c.post("/api/groups/g1/reset", bad).0, 400, "{bad}");
    }
    assert_eq!(
        c.post("/api/groups/g1/reset", "topic=nope&to=earliest").0,
        404
    );
    assert_eq!(
        c.post("/api/groups/g1/reset", "topic=t&partition=3&to=earliest")
            .0,
        404
    );
    assert_eq!(c.get("/api/groups/never-seen").0, 404);
}

/// A member that joined and synced `group` with `t`-0 assigned to it.
fn join(c: &mut Console, group: &str) {
    let join = JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: 30_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: vec![0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff],
        }],
        ..Default::default()
    };
    let joined: JoinGroupResponse = c.ask(3, &join);
    assert_eq!(joined.error_code, 0);
    // ConsumerProtocolAssignment v0: t-0, no user data.
    let assignment = vec![
        0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
    ];
    let sync = SyncGroupRequest {
        group_id: group.into(),
        generation_id: joined.generation_id,
        member_id: joined.member_id.clone(),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: joined.member_id,
            assignment,
        }],
        ..Default::default()
    };
    let synced: SyncGroupResponse = c.ask(3, &sync);
    assert_eq!(synced.error_code, 0);
}

#[test]
fn a_group_with_members_shows_assignments_and_refuses_a_reset() {
    let mut c = Console::new();
    c.create_topic("t", 1);
    join(&mut c, "live");
    let (status, group) = c.get("/api/groups/live");
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["state"], "Stable");
    assert_eq!(group["protocol"], "range");
    let member = &group["members"][0];
    assert_eq!(member["client_id"], "blazemq-console");
    assert_eq!(member["assignment"][0]["topic"], "t");
    assert_eq!(member["assignment"][0]["partitions"][0], 0);
    // Assigned, nothing committed: shown without an offset or lag.
    assert_eq!(group["offsets"][0]["committed"], Value::Null);
    assert_eq!(group["offsets"][0]["client_id"], "blazemq-console");
    let (status, refused) = c.post("/api/groups/live/reset", "topic=t&to=earliest");
    assert_eq!(status, 409, "{refused}");
}

#[test]
fn writes_need_the_token_of_the_overview() {
    let mut c = Console::new();
    c.create_topic("t", 1);
    let (_, overview) = c.get("/api/overview");
    let token = overview["token"]
        .as_str()
        .expect("a token when writes are allowed");
    assert_eq!(token.len(), 32);
    let refused = [
        "value=x",
        "value=x&token=",
        "value=x&token=00000000000000000000000000000000",
    ];
    for body in refused {
        assert_eq!(
            c.call(Method::Post, "/api/topics/t/messages", body).0,
            403,
            "{body}"
        );
    }
    let body = format!("value=x&token={token}");
    assert_eq!(c.call(Method::Post, "/api/topics/t/messages", &body).0, 200);
    c.write = false;
    let (_, overview) = c.get("/api/overview");
    assert_eq!(overview.get("token"), None);
}

#[test]
fn writes_are_refused_when_read_only() {
    let mut c = Console::new();
    c.create_topic("t", 1);
    c.write = false;
    assert_eq!(c.post("/api/topics/t/messages", "value=x").0, 403);
    assert_eq!(c.post("/api/groups/g/reset", "topic=t&to=earliest").0, 403);
    let (_, overview) = c.get("/api/overview");
    assert_eq!(overview["write"], false);
    let (_, read) = c.get("/api/topics/t/messages");
    assert_eq!(records(&read).len(), 0);
}

#[test]
fn bad_input_is_refused_not_panicked_on() {
    let mut c = Console::new();
    c.create_topic("t", 2);
    let cases = [
        ("/api/topics/t/messages?partition=abc", 400),
        ("/api/topics/t/messages?partition=-1", 400),
        ("/api/topics/t/messages?partition=99999999999", 400),
        ("/api/topics/t/messages?partition=2", 404),
        ("/api/topics/t/messages?offset=-5", 400),
        ("/api/topics/t/messages?offset=1e3", 400),
        ("/api/topics/t/messages?limit=0", 400),
        ("/api/topics/t/messages?timestamp=soon", 400),
        ("/api/topics/t/messages?offset=999", 200),
        ("/api/topics/nope/messages", 404),
        ("/api/topics/nope", 404),
        ("/api/topics/bad%20name", 400),
        ("/api/nothing", 404),
        ("/api/topics/t/messages/more", 404),
        ("/api/groups/g/reset", 405),
    ];
    for (target, status) in cases {
        let (got, body) = c.get(target);
        assert_eq!(got, status, "{target}: {body}");
        assert!(got == 200 || body["error"].is_string(), "{target}: {body}");
    }
    assert_eq!(
        c.post("/api/topics/t/messages", "partition=x&value=v").0,
        400
    );
    assert_eq!(
        c.post("/api/topics/t/messages", "partition=5&value=v").0,
        404
    );
    assert_eq!(c.post("/api/topics/nope/messages", "value=v").0, 404);
    assert_eq!(c.post("/api/overview", "").0, 405);
    assert_eq!(c.call(Method::Delete, "/api/topics/t", "").0, 405);
}

#[test]
fn assets_are_served() {
    let mut c = Console::new();
    let settings = ConsoleSettings::default();
    let mut get = |path: &'static str| {
        let req = Request {
            method: Method::Get,
            path,
            query: "",
            body: b"",
        };
        c.with_ask(|ask| route(&req, ask, &settings))
    };
    let page = get("/").expect("the page");
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("/assets/app.js"));
    let script = get("/assets/app.js").expect("the script");
    assert!(script.content_type.starts_with("text/javascript"));
    assert_eq!(get("/assets/style.css").map(|r| r.status), Some(200));
    assert_eq!(get("/assets/missing.js").map(|r| r.status), Some(404));
    assert!(get("/metrics").is_none());
    assert!(get("/faults").is_none());
}

#[test]
fn keys_land_where_the_java_client_puts_them() {
    // Kafka's UtilsTest.testMurmur2.
    let cases: [(&[u8], i32); 3] = [
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
    ];
    for (key, hash) in cases {
        assert_eq!(
            super::messages::murmur2(key),
            hash.cast_unsigned(),
            "{key:?}"
        );
    }
}
