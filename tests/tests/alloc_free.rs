//! The produce hot path allocates nothing per request in steady state: a counting global
//! allocator watches `core`'s broker serve a thousand Produce requests (in memory, as any
//! runtime would drive it) once its buffers have warmed up.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU64, Ordering};
use std::alloc::System;

use blazemq_core::Instant;
use blazemq_core::broker::{Broker, BrokerConfig, ConnId, Input, Output};
use blazemq_core::codec::messages::create_topics_request::CreatableTopic;
use blazemq_core::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use blazemq_core::codec::messages::{CreateTopicsRequest, ProduceRequest, RequestHeader};
use blazemq_core::codec::{Message, Records, Writer, request_header_version};
use blazemq_core::records::BatchBuilder;
use blazemq_core::storage::MemoryStorage;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed straight to the system allocator; only a counter is added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we forward.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
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
    let mut broker = Broker::new(config, MemoryStorage::default(), Vec::new(), 1).expect("starts");
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
    let first = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..2_000 {
        assert_eq!(serve(&mut broker, &request), 1);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(before > first, "the counter sees the warm-up's allocations");
    for _ in 0..1_000 {
        assert_eq!(serve(&mut broker, &request), 1);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("{allocations} allocations for 1,000 produce requests");
    // The sparse offset index grows by one entry per ~4 KiB of log (Vec doubling): a handful of
    // reallocations over 1,000 requests at most, never one per request.
    assert!(
        allocations <= 4,
        "{allocations} allocations for 1,000 produce requests"
    );
}
