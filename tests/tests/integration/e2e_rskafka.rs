//! End-to-end: the `blazemq` binary driven by rskafka, a real Kafka client.
//!
//! Every test runs under a timeout, so a broker that stops answering fails the test instead of
//! hanging it.

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use blazemq_tests::{Broker, BrokerOptions};
use chrono::{TimeZone, Utc};
use rskafka::BackoffConfig;
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;

const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `test` on a fresh runtime, failing if it takes longer than [`TEST_TIMEOUT`].
fn run<F: Future<Output = ()>>(test: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime can be built");
    runtime.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, test)
            .await
            .expect("test finished within its timeout");
    });
}

async fn client(broker: &Broker) -> Client {
    // Bounded retries: a broker that is down fails the call instead of retrying for minutes.
    let backoff = BackoffConfig {
        init_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        base: 2.0,
        deadline: Some(Duration::from_secs(15)),
    };
    ClientBuilder::new(vec![broker.addr()])
        .backoff_config(backoff)
        .build()
        .await
        .unwrap_or_else(|e| panic!("client connects: {e}\n{}", broker.output()))
}

async fn partition(client: &Client, topic: &str, index: i32) -> PartitionClient {
    client
        .partition_client(topic, index, UnknownTopicHandling::Retry)
        .await
        .unwrap_or_else(|e| panic!("partition client for {topic}/{index}: {e}"))
}

fn record(value: &str) -> Record {
    Record {
        key: Some(format!("key-{value}").into_bytes()),
        value: Some(value.as_bytes().to_vec()),
        headers: BTreeMap::from([("origin".to_owned(), b"e2e".to_vec())]),
        timestamp: Utc
            .timestamp_millis_opt(1_700_000_000_000)
            .single()
            .expect("a fixed, valid timestamp"),
    }
}

/// Produces `batches` batches of `per_batch` records named `prefix-b-i`; returns every value
/// in offset order, checking that offsets are dense and ascending from `first_offset`.
async fn produce_batches(
    partition: &PartitionClient,
    prefix: &str,
    batches: usize,
    per_batch: usize,
    first_offset: i64,
) -> Vec<String> {
    let mut values = Vec::new();
    let mut next = first_offset;
    for b in 0..batches {
        let batch: Vec<String> = (0..per_batch)
            .map(|i| format!("{prefix}-{b}-{i}"))
            .collect();
        let offsets = partition
            .produce(
                batch.iter().map(|v| record(v)).collect(),
                Compression::NoCompression,
            )
            .await
            .expect("produce is acknowledged");
        let expected: Vec<i64> = (next..).take(per_batch).collect();
        assert_eq!(offsets, expected, "offsets of batch {b}");
        next += i64::try_from(per_batch).expect("small batches");
        values.extend(batch);
    }
    values
}

/// Fetches from `offset` until `count` records arrived (bounded by the test timeout).
async fn fetch_all(partition: &PartitionClient, offset: i64, count: usize) -> Vec<(i64, Record)> {
    let mut out = Vec::new();
    let mut next = offset;
    for _ in 0..100 {
        if out.len() >= count {
            break;
        }
        let (records, _high_watermark) = partition
            .fetch_records(next, 1..1_000_000, 100)
            .await
            .expect("fetch succeeds");
        for r in records {
            assert!(r.offset >= next, "fetched offset {} below {next}", r.offset);
            next = r.offset + 1;
            out.push((r.offset, r.record));
        }
    }
    out
}

fn values_of(records: &[(i64, Record)]) -> Vec<String> {
    records
        .iter()
        .map(|(_, r)| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

#[test]
fn create_produce_fetch_and_list_offsets() {
    let broker = Broker::start();
    run(async {
        let client = client(&broker).await;
        client
            .controller_client()
            .expect("a controller client")
            .create_topic("orders", 2, 1, 5_000)
            .await
            .expect("CreateTopics succeeds");
        let topics = client.list_topics().await.expect("Metadata succeeds");
        let orders = topics
            .iter()
            .find(|t| t.name == "orders")
            .expect("the new topic is listed");
        assert_eq!(
            orders.partitions.iter().copied().collect::<Vec<_>>(),
            [0, 1]
        );

        let p0 = partition(&client, "orders", 0).await;
        assert_eq!(p0.get_offset(OffsetAt::Earliest).await.ok(), Some(0));
        assert_eq!(p0.get_offset(OffsetAt::Latest).await.ok(), Some(0));

        let produced = produce_batches(&p0, "order", 4, 3, 0).await;
        let fetched = fetch_all(&p0, 0, produced.len()).await;
        assert_eq!(values_of(&fetched), produced);
        let offsets: Vec<i64> = fetched.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (0..12).collect::<Vec<_>>());
        let (_, first) = &fetched[0];
        assert_eq!(first.key.as_deref(), Some(&b"key-order-0-0"[..]));
        assert_eq!(
            first.headers.get("origin").map(Vec::as_slice),
            Some(&b"e2e"[..])
        );
        assert_eq!(first.timestamp.timestamp_millis(), 1_700_000_000_000);

        // A fetch from the middle of a batch starts at that offset.
        let tail = fetch_all(&p0, 7, 5).await;
        assert_eq!(values_of(&tail), produced[7..]);

        assert_eq!(p0.get_offset(OffsetAt::Earliest).await.ok(), Some(0));
        assert_eq!(p0.get_offset(OffsetAt::Latest).await.ok(), Some(12));

        // The other partition is independent.
        let p1 = partition(&client, "orders", 1).await;
        assert_eq!(p1.get_offset(OffsetAt::Latest).await.ok(), Some(0));
        let produced1 = produce_batches(&p1, "other", 1, 2, 0).await;
        assert_eq!(values_of(&fetch_all(&p1, 0, 2).await), produced1);
        assert_eq!(p0.get_offset(OffsetAt::Latest).await.ok(), Some(12));
    });
}

#[test]
fn create_existing_topic_fails() {
    let broker = Broker::start();
    run(async {
        let client = client(&broker).await;
        let controller = client.controller_client().expect("a controller client");
        controller
            .create_topic("twice", 1, 1, 5_000)
            .await
            .expect("first CreateTopics succeeds");
        let second = controller.create_topic("twice", 1, 1, 5_000).await;
        let message = format!("{second:?}");
        assert!(
            message.contains("TopicAlreadyExists"),
            "second CreateTopics: {message}"
        );
    });
}

#[test]
fn records_survive_a_clean_restart() {
    let mut broker = Broker::start();
    let produced = {
        let broker = &broker;
        let mut produced = Vec::new();
        run(async {
            let client = client(broker).await;
            client
                .controller_client()
                .expect("a controller client")
                .create_topic("durable", 1, 1, 5_000)
                .await
                .expect("CreateTopics succeeds");
            let p = partition(&client, "durable", 0).await;
            produced = produce_batches(&p, "before", 5, 4, 0).await;
        });
        produced
    };
    let status = broker.stop();
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    broker.restart();
    run(async {
        let client = client(&broker).await;
        let topics = client.list_topics().await.expect("Metadata succeeds");
        assert!(topics.iter().any(|t| t.name == "durable"), "{topics:?}");
        let p = partition(&client, "durable", 0).await;
        assert_eq!(p.get_offset(OffsetAt::Earliest).await.ok(), Some(0));
        assert_eq!(p.get_offset(OffsetAt::Latest).await.ok(), Some(20));
        assert_eq!(values_of(&fetch_all(&p, 0, 20).await), produced);
        // Appends continue after the recovered end.
        let more = produce_batches(&p, "after", 1, 3, 20).await;
        let all = fetch_all(&p, 0, 23).await;
        assert_eq!(values_of(&all)[20..], more);
    });
}

#[test]
fn acknowledged_records_survive_kill_9() {
    let mut broker = Broker::start();
    let mut produced = Vec::new();
    run(async {
        let client = client(&broker).await;
        client
            .controller_client()
            .expect("a controller client")
            .create_topic("crash", 1, 1, 5_000)
            .await
            .expect("CreateTopics succeeds");
        let p = partition(&client, "crash", 0).await;
        produced = produce_batches(&p, "acked", 20, 5, 0).await;
    });
    broker.kill9();
    broker.restart();
    run(async {
        let client = client(&broker).await;
        let p = partition(&client, "crash", 0).await;
        let latest = p.get_offset(OffsetAt::Latest).await.expect("ListOffsets");
        assert!(
            latest >= 100,
            "latest offset {latest} lost acknowledged records"
        );
        let fetched = fetch_all(&p, 0, produced.len()).await;
        assert_eq!(
            values_of(&fetched),
            produced,
            "every acknowledged record is back"
        );
        let more = produce_batches(&p, "later", 1, 1, latest).await;
        assert_eq!(values_of(&fetch_all(&p, latest, 1).await), more);
    });
}

#[test]
fn produce_to_unknown_topic_auto_creates_it() {
    let broker = Broker::start();
    run(async {
        let client = client(&broker).await;
        // rskafka's Metadata request (v4+) allows auto-creation, as Kafka's clients do by default.
        let p = partition(&client, "auto-created", 0).await;
        let produced = produce_batches(&p, "auto", 2, 2, 0).await;
        assert_eq!(values_of(&fetch_all(&p, 0, 4).await), produced);
        let topics = client.list_topics().await.expect("Metadata succeeds");
        assert!(
            topics.iter().any(|t| t.name == "auto-created"),
            "{topics:?}"
        );
    });
}

#[test]
fn fetch_past_the_end_is_offset_out_of_range() {
    let broker = Broker::start();
    run(async {
        let client = client(&broker).await;
        client
            .controller_client()
            .expect("a controller client")
            .create_topic("short", 1, 1, 5_000)
            .await
            .expect("CreateTopics succeeds");
        let p = partition(&client, "short", 0).await;
        produce_batches(&p, "one", 1, 1, 0).await;
        // The log end itself is a valid fetch position: empty, not an error.
        let (records, high_watermark) = p
            .fetch_records(1, 1..1_000_000, 50)
            .await
            .expect("fetch at the log end");
        assert!(records.is_empty());
        assert_eq!(high_watermark, 1);
        let beyond = p.fetch_records(5, 1..1_000_000, 50).await;
        let message = format!("{beyond:?}");
        assert!(message.contains("OffsetOutOfRange"), "{message}");
    });
}

#[test]
fn auto_created_topics_take_num_partitions() {
    let broker = Broker::start_with(BrokerOptions::default().arg("--num-partitions").arg("3"));
    run(async {
        let client = client(&broker).await;
        let p2 = partition(&client, "three", 2).await;
        let produced = produce_batches(&p2, "p2", 1, 2, 0).await;
        assert_eq!(values_of(&fetch_all(&p2, 0, 2).await), produced);
        let topics = client.list_topics().await.expect("Metadata succeeds");
        let three = topics
            .iter()
            .find(|t| t.name == "three")
            .expect("the topic was auto-created");
        assert_eq!(
            three.partitions.iter().copied().collect::<Vec<_>>(),
            [0, 1, 2]
        );
    });
}

#[test]
fn auto_creation_can_be_turned_off() {
    let broker = Broker::start_with(BrokerOptions::default().arg("--auto-create-topics=false"));
    run(async {
        let client = client(&broker).await;
        let unknown = client
            .partition_client("absent", 0, UnknownTopicHandling::Error)
            .await;
        let message = format!("{:?}", unknown.err());
        assert!(message.contains("UnknownTopicOrPartition"), "{message}");
        let topics = client.list_topics().await.expect("Metadata succeeds");
        assert!(topics.iter().all(|t| t.name != "absent"), "{topics:?}");
    });
}
