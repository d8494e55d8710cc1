//! The hot paths allocate nothing per request in steady state: a counting global allocator
//! watches `core`'s broker serve a thousand Produce requests, a thousand Fetch requests answered
//! at once and a thousand long-polled ones (in memory, as any runtime would drive it) once its
//! buffers have warmed up.
//!
//! Allocations are counted per thread, so tests running side by side (and the harness
//! reporting them) do not count in each other's window.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::time::Duration;
use std::alloc::System;

use blazemq_core::Instant;
use blazemq_core::broker::{Broker, BrokerConfig, ConnId, Input, Output, Response};
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::fetch_request::{FetchPartition, FetchTopic};
use blazemq_core::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use blazemq_core::codec::messages::{
    CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse, ProduceRequest,
    RequestHeader,
};
use blazemq_core::codec::{
    Message, Records, Uuid, Writer, request_header_version, response_header_version,
};
use blazemq_core::records::BatchBuilder;
use blazemq_core::storage::MemoryStorage;

struct Counting;

thread_local! {
    // Const-initialised and without a destructor: using it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // During thread teardown the counter may be gone; such allocations are not the broker's.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations made by this thread so far.
fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call is passed straight to the system allocator; only a counter is added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we forward.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn frame<M: Message>(version: i16, correlation_id: i32, body: &M) -> Vec<u8> {
    let header = RequestHeader {
        request_api_key: M::API_KEY,
        request_api_version: version,
        correlation_id,
        client_id: Some("alloc-test".into()),
    };
    let mut w = Writer::new();
    w.put_i32(0);
    header
        .encode(&mut w, request_header_version(M::API_KEY, version))
        .expect("header");
    body.encode(&mut w, version).expect("body");
    let mut bytes = w.into_bytes();
    let size = (bytes.len() - 4) as i32;
    bytes[..4].copy_from_slice(&size.to_be_bytes());
    bytes
}

/// Feed one frame and hand every response back for reuse, as the server does once written.
fn serve(broker: &mut Broker<MemoryStorage>, data: &[u8]) -> usize {
    broker.handle(Input::Bytes {
        conn: ConnId(1),
        now: Instant::from_nanos(1),
        unix_ms: 1,
        data,
    });
    let mut responses = 0;
    loop {
        match broker.poll_output() {
            Output::Send { response, .. } => {
                responses += 1;
                broker.recycle(response);
            }
            Output::Close(_) => panic!("connection closed"),
            Output::Timeout(_) => return responses,
        }
    }
}

#[test]
fn produce_allocates_nothing_in_steady_state() {
    let config = BrokerConfig {
        segment_size_bytes: 64 << 20,
        ..BrokerConfig::default()
    };
    let mut broker = Broker::new(config, MemoryStorage::default(), 1).expect("starts");
    broker.handle(Input::Accepted {
        conn: ConnId(1),
        now: Instant::from_nanos(1),
        peer: "127.0.0.1",
    });
    let create = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "t".into(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 1000,
        validate_only: false,
    };
    assert_eq!(serve(&mut broker, &frame(7, 1, &create)), 1);

    let mut batch = BatchBuilder::new(0);
    batch.push(1, None, Some(&[7u8; 100]), &[]);
    let produce = ProduceRequest {
        transactional_id: None,
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "t".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Records::Bytes(batch.finish())),
            }],
        }],
    };
    let request = frame(9, 2, &produce);
    // Warm up: response buffers, output queue and the segment index reach their working size.
    let first = allocations();
    for _ in 0..2_000 {
        assert_eq!(serve(&mut broker, &request), 1);
    }
    let before = allocations();
    assert!(before > first, "the counter sees the warm-up's allocations");
    for _ in 0..1_000 {
        assert_eq!(serve(&mut broker, &request), 1);
    }
    let allocations = allocations() - before;
    println!("{allocations} allocations for 1,000 produce requests");
    // The sparse offset index grows by one entry per ~4 KiB of log (Vec doubling): a handful of
    // reallocations over 1,000 requests at most, never one per request.
    assert!(
        allocations <= 4,
        "{allocations} allocations for 1,000 produce requests"
    );
}

/// A clock for the long-poll tests: each step is a second, longer than any wait they use.
fn at(second: u64) -> Instant {
    Instant::from_nanos(1) + Duration::from_secs(second)
}

/// Drain the outputs, recycling every response; returns how many were sent.
fn drain(broker: &mut Broker<MemoryStorage>) -> usize {
    let mut responses = 0;
    loop {
        match broker.poll_output() {
            Output::Send { response, .. } => {
                responses += 1;
                broker.recycle(response);
            }
            Output::Close(_) => panic!("connection closed"),
            Output::Timeout(_) => return responses,
        }
    }
}

fn feed(broker: &mut Broker<MemoryStorage>, conn: u64, now: Instant, data: &[u8]) -> usize {
    broker.handle(Input::Bytes {
        conn: ConnId(conn),
        now,
        unix_ms: 1,
        data,
    });
    drain(broker)
}

/// Feed one frame and return the single response's body, for setting up (it allocates).
fn call<M: Message>(broker: &mut Broker<MemoryStorage>, api_key: i16, v: i16, data: &[u8]) -> M {
    broker.handle(Input::Bytes {
        conn: ConnId(1),
        now: at(0),
        unix_ms: 1,
        data,
    });
    let Output::Send { response, .. } = broker.poll_output() else {
        panic!("an answer");
    };
    assert!(matches!(broker.poll_output(), Output::Timeout(_)));
    let bytes = flatten(broker, &response);
    let header = 8 + usize::from(response_header_version(api_key, v) >= 1);
    M::decode_complete(&bytes[header..], v).expect("response decodes")
}

fn flatten(broker: &Broker<MemoryStorage>, response: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in response.chunks() {
        match chunk {
            blazemq_core::broker::Chunk::Bytes(b) => out.extend_from_slice(b),
            blazemq_core::broker::Chunk::Segment(s) => {
                out.extend_from_slice(broker.segment_bytes(&s).expect("segment"))
            }
        }
    }
    out
}

/// A broker with topics `data` and `idle`, one partition each, and their topic ids.
fn fetch_broker() -> (Broker<MemoryStorage>, Uuid, Uuid) {
    let config = BrokerConfig {
        segment_size_bytes: 64 << 20,
        ..BrokerConfig::default()
    };
    let mut broker = Broker::new(config, MemoryStorage::default(), 1).expect("starts");
    for conn in 1..=3 {
        broker.handle(Input::Accepted {
            conn: ConnId(conn),
            now: at(0),
            peer: "127.0.0.1",
        });
    }
    let topic = |name: &str| CreatableTopic {
        name: name.into(),
        num_partitions: 1,
        replication_factor: 1,
        ..Default::default()
    };
    let create = CreateTopicsRequest {
        topics: vec![topic("data"), topic("idle")],
        timeout_ms: 1000,
        validate_only: false,
    };
    let created: CreateTopicsResponse = call(&mut broker, 19, 7, &frame(7, 1, &create));
    let id = |name: &str| {
        let t = created
            .topics
            .iter()
            .find(|t| t.name == name)
            .expect("created");
        assert_eq!(t.error_code, 0);
        t.topic_id
    };
    let (data, idle) = (id("data"), id("idle"));
    (broker, data, idle)
}

fn produce(topic: &str, value_len: usize) -> Vec<u8> {
    let mut batch = BatchBuilder::new(0);
    batch.push(1, None, Some(&vec![7u8; value_len]), &[]);
    let request = ProduceRequest {
        transactional_id: None,
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Records::Bytes(batch.finish())),
            }],
        }],
    };
    frame(9, 2, &request)
}

fn fetch(v: i16, topic: &str, id: Uuid, offset: i64, max_wait_ms: i32) -> Vec<u8> {
    let request = FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: if v <= 12 { topic.into() } else { String::new() },
            topic_id: if v >= 13 { id } else { Uuid::ZERO },
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    frame(v, 3, &request)
}

#[test]
fn fetch_answered_at_once_allocates_nothing_in_steady_state() {
    let (mut broker, data, _) = fetch_broker();
    for _ in 0..10 {
        assert_eq!(feed(&mut broker, 1, at(0), &produce("data", 100)), 1);
    }
    // Answered from offset 3, so each response splices segment bytes.
    let versions = [4, 12, 13, 17];
    let requests: Vec<Vec<u8>> = versions
        .iter()
        .map(|&v| fetch(v, "data", data, 3, 500))
        .collect();
    for (&v, request) in versions.iter().zip(&requests) {
        broker.handle(Input::Bytes {
            conn: ConnId(2),
            now: at(0),
            unix_ms: 1,
            data: request,
        });
        let Output::Send { response, .. } = broker.poll_output() else {
            panic!("answered at once");
        };
        assert_eq!(
            response.splices.len(),
            1,
            "version {v}: data from the segment"
        );
        let bytes = flatten(&broker, &response);
        let header = 8 + usize::from(v >= 12);
        let body = FetchResponse::decode_complete(&bytes[header..], v).expect("decodes");
        let p = &body.responses[0].partitions[0];
        assert_eq!((p.error_code, p.high_watermark), (0, 10), "version {v}");
        assert!(matches!(&p.records, Some(Records::Bytes(b)) if !b.is_empty()));
        broker.recycle(response);
        assert_eq!(drain(&mut broker), 0);
    }
    for i in 0..2_000 {
        assert_eq!(
            feed(&mut broker, 2, at(0), &requests[i % requests.len()]),
            1
        );
    }
    let before = allocations();
    assert!(before > 0, "the counter sees this thread's allocations");
    for i in 0..1_000 {
        assert_eq!(
            feed(&mut broker, 2, at(0), &requests[i % requests.len()]),
            1
        );
    }
    let allocated = allocations() - before;
    println!("{allocated} allocations for 1,000 fetch requests");
    assert_eq!(allocated, 0, "fetches answered at once allocate nothing");
}

/// Long polls at the log end of `idle`: each parks, then is woken by a produce or, one in four,
/// expires at its deadline. Returns the frames of `rounds` rounds, built before counting.
struct LongPolls {
    rounds: Vec<(u64, Vec<u8>, bool)>,
    produce: Vec<u8>,
}

fn long_polls(idle: Uuid, first_offset: i64, rounds: usize) -> LongPolls {
    let mut offset = first_offset;
    let rounds = (0..rounds)
        .map(|i| {
            // Alternate a classic consumer (by name, v4) and a current one (by id, v13).
            let (conn, v) = if i % 2 == 0 { (2, 4) } else { (3, 13) };
            let expires = i % 4 == 3;
            let request = fetch(v, "idle", idle, offset, 500);
            if !expires {
                offset += 1;
            }
            (conn, request, expires)
        })
        .collect();
    LongPolls {
        rounds,
        produce: produce("idle", 10),
    }
}

fn run_long_polls(broker: &mut Broker<MemoryStorage>, polls: &LongPolls, clock: &mut u64) {
    for (conn, request, expires) in &polls.rounds {
        let now = at(*clock);
        assert_eq!(feed(broker, *conn, now, request), 0, "parked");
        if *expires {
            broker.handle(Input::Timeout {
                now: now + Duration::from_millis(500),
                unix_ms: 1,
            });
            assert_eq!(drain(broker), 1, "answered empty at its deadline");
        } else {
            assert_eq!(feed(broker, 1, now, &polls.produce), 2, "produce and fetch");
        }
        *clock += 1;
    }
}

#[test]
fn long_polled_fetches_allocate_nothing_in_steady_state() {
    let (mut broker, _, idle) = fetch_broker();
    // Batches of just over 4 KiB each add one sparse-index entry: 300 leave the index room to
    // grow by the ~20 entries the small batches below add, so no reallocation falls inside the
    // counted window.
    let big = produce("idle", 4200);
    for _ in 0..300 {
        assert_eq!(feed(&mut broker, 1, at(0), &big), 1);
    }
    let warm = long_polls(idle, 300, 2_000);
    let measured = long_polls(idle, 300 + 1_500, 1_000);
    let mut clock = 1;
    run_long_polls(&mut broker, &warm, &mut clock);
    let before = allocations();
    run_long_polls(&mut broker, &measured, &mut clock);
    let allocated = allocations() - before;
    println!("{allocated} allocations for 1,000 long-polled fetches");
    assert_eq!(
        allocated, 0,
        "parked, woken and expired fetches allocate nothing"
    );
    match broker.poll_output() {
        Output::Timeout(deadline) => assert_eq!(deadline, None, "nothing left parked"),
        other => panic!("unexpected {other:?}"),
    }
}
