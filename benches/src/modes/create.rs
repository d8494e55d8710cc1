//! Topic creation beside a producer: one connection sends a single CreateTopics of many
//! one-partition topics while another produces one record at a time. The producer's latency is
//! measured for as long as the CreateTopics is unanswered, which shows whether the broker's
//! file-system work for new partitions stalls the clients it already serves.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blazemq_core::codec::messages::CreateTopicsRequest;
use blazemq_core::codec::messages::CreateTopicsResponse;
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;

use super::floor::worker_panicked;
use super::produce::Producer;
use super::{Bounds, RunResult, batch, topic_name};
use crate::args::Mode;
use crate::error::{BenchError, Result};
use crate::stats::Latencies;
use crate::wire::Conn;

/// How long the broker may take to create the topics before the run is a failure.
const CREATE_TIMEOUT: Duration = Duration::from_secs(600);

/// One CreateTopics request for `topics` new one-partition topics.
fn create_request(topics: usize) -> CreateTopicsRequest {
    let prefix = topic_name("create");
    CreateTopicsRequest {
        topics: (0..topics)
            .map(|i| CreatableTopic {
                name: format!("{prefix}-{i}"),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            })
            .collect(),
        timeout_ms: CREATE_TIMEOUT.as_millis() as i32,
        validate_only: false,
    }
}

/// Sends the CreateTopics and checks that every topic was created; returns how long the
/// answer took.
fn create_all(admin: &mut Conn, req: &CreateTopicsRequest) -> Result<Duration> {
    let sent = Instant::now();
    let resp: CreateTopicsResponse = admin.call(admin.versions.create_topics, req)?;
    let took = sent.elapsed();
    if resp.topics.len() != req.topics.len() {
        return Err(BenchError::Protocol(format!(
            "CreateTopics answered {} of {} topics",
            resp.topics.len(),
            req.topics.len()
        )));
    }
    match resp.topics.iter().find(|t| t.error_code != 0) {
        Some(t) => Err(BenchError::Broker {
            context: "CreateTopics",
            code: t.error_code,
        }),
        None => Ok(took),
    }
}

/// Produce round trips until `creating` turns false (or the timeout passes).
fn produce_while(producer: &mut Producer, creating: &AtomicBool) -> Result<Latencies> {
    let mut latencies = Latencies::new();
    let started = Instant::now();
    while creating.load(Ordering::Acquire) {
        if started.elapsed() > CREATE_TIMEOUT {
            return Err(BenchError::Protocol(format!(
                "CreateTopics unanswered after {CREATE_TIMEOUT:?}"
            )));
        }
        let sent = Instant::now();
        let id = producer.send()?;
        producer.recv(id)?;
        latencies.record(sent.elapsed());
    }
    Ok(latencies)
}

/// Runs the creation test: the producer warms up for `warmup`, then produces while the broker
/// creates `topics` topics. `bounds` is not used: the run lasts as long as the creation.
pub fn run(
    addr: SocketAddr,
    topics: usize,
    value_size: usize,
    warmup: &Bounds,
    _bounds: &Bounds,
) -> Result<RunResult> {
    let records = batch(1, value_size);
    let batch_len = records.len() as u64;
    let mut producer = Producer::new(addr, &topic_name("create-producer"), 1, 0, records)?;
    producer.round_trips(warmup, &AtomicU64::new(0))?;
    let mut admin = Conn::connect(addr)?;
    let req = create_request(topics);
    let creating = AtomicBool::new(true);
    eprintln!("running create ({topics} topics)...");
    let (created_in, latencies) = std::thread::scope(|s| {
        let creator = s.spawn(|| {
            let outcome = create_all(&mut admin, &req);
            creating.store(false, Ordering::Release);
            outcome
        });
        let latencies = produce_while(&mut producer, &creating);
        // The producer stops on its own error too: the creator's answer still ends the run.
        let created_in = creator.join().map_err(|_| worker_panicked());
        (created_in, latencies)
    });
    let created_in = created_in??;
    let latencies = latencies?;
    let requests = latencies.count();
    Ok(RunResult {
        mode: Mode::Create,
        label: format!("1 conn producing 1 x {value_size} B during 1 CreateTopics of {topics}"),
        elapsed: created_in,
        requests,
        records: requests,
        bytes: requests * batch_len,
        latency: latencies.summary(),
        broker_cpu_us_per_request: None,
        notes: vec![format!(
            "CreateTopics of {topics} one-partition topics answered in {:.2} s, every topic created",
            created_in.as_secs_f64()
        )],
    })
}
