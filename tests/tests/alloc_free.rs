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
use blazemq_core::broker::harness::{
    self, Clock, Driver, create_topics_request, fetch_request_at, produce_request,
};
use blazemq_core::broker::{BrokerConfig, ConnId, Output};
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::{CreateTopicsRequest, CreateTopicsResponse, FetchResponse};
use blazemq_core::codec::{Records, Uuid};
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

/// A broker over memory with 64 MiB segments, on a clock at `at(0)`, connections 1 to 3 open,
/// recording every event as the server does at `--log-level debug` and counting requests as it
/// does with metrics on: neither costs the request path an allocation.
fn broker() -> Driver<MemoryStorage> {
    let config = BrokerConfig {
        segment_size_bytes: 64 << 20,
        events: blazemq_core::broker::EventLevel::Debug,
        stats: true,
        ..BrokerConfig::default()
    };
    let clock = Clock::new(at(0), 1);
    let mut broker = Driver::start(config, MemoryStorage::default(), clock).expect("starts");
    for conn in 1..=3 {
        broker.accept(ConnId(conn));
    }
    broker
}

/// Feed one frame on `conn` at `now` and hand every response back for reuse, as the server does
/// once written; returns how many were sent.
fn feed(broker: &mut Driver<MemoryStorage>, conn: u64, now: Instant, data: &[u8]) -> usize {
    broker.clock.move_to(now);
    broker.feed(ConnId(conn), data);
    broker.drain_recycled().expect("no connection closed")
}

/// Feed one frame on connection 1.
fn serve(broker: &mut Driver<MemoryStorage>, data: &[u8]) -> usize {
    feed(broker, 1, at(0), data)
}

#[test]
fn produce_allocates_nothing_in_steady_state() {
    let mut broker = broker();
    let create = create_topics_request("t", 1, &[]);
    assert_eq!(serve(&mut broker, &harness::request(7, 1, &create)), 1);

    let produce = produce_request("t", 0, harness::batch(1, &[[7u8; 100]]));
    let request = harness::request(9, 2, &produce);
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

/// A broker with topics `data` and `idle`, one partition each, and their topic ids.
fn fetch_broker() -> (Driver<MemoryStorage>, Uuid, Uuid) {
    let mut broker = broker();
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
    let created: CreateTopicsResponse = broker.call(ConnId(1), 7, &create).expect("answered");
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
    let batch = harness::batch(1, &[vec![7u8; value_len]]);
    harness::request(9, 2, &produce_request(topic, 0, batch))
}

fn fetch(v: i16, topic: &str, id: Uuid, offset: i64, max_wait_ms: i32) -> Vec<u8> {
    harness::request(v, 3, &fetch_request_at(v, topic, id, offset, max_wait_ms))
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
        broker.feed(ConnId(2), request);
        let Output::Send { response, .. } = broker.poll_output() else {
            panic!("answered at once");
        };
        assert_eq!(
            response.splices.len(),
            1,
            "version {v}: data from the segment"
        );
        let bytes = broker.flatten(&response).expect("its segment exists");
        let body: FetchResponse = harness::response(v, &bytes).expect("decodes");
        let p = &body.responses[0].partitions[0];
        assert_eq!((p.error_code, p.high_watermark), (0, 10), "version {v}");
        assert!(matches!(&p.records, Some(Records::Bytes(b)) if !b.is_empty()));
        broker.recycle(response);
        assert_eq!(broker.drain_recycled().expect("drains"), 0);
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

fn run_long_polls(broker: &mut Driver<MemoryStorage>, polls: &LongPolls, clock: &mut u64) {
    for (conn, request, expires) in &polls.rounds {
        let now = at(*clock);
        assert_eq!(feed(broker, *conn, now, request), 0, "parked");
        if *expires {
            broker.advance_to(now + Duration::from_millis(500));
            let answered = broker.drain_recycled().expect("drains");
            assert_eq!(answered, 1, "answered empty at its deadline");
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
