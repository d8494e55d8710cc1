//! The partition log over `MemoryStorage`: append, read, and offset and timestamp lookups in a
//! log whose sparse indexes hold about a million entries.
//!
//! An index entry is added per `INDEX_INTERVAL_BYTES` (4 KiB) of data, so a million entries need
//! 4 GiB of batches: the lookup log is built from 4 KiB batches in four 1 GiB segments (Kafka's
//! default segment size), zero-filled lazily by the allocator. Set
//! `BLAZEMQ_BENCH_INDEX_ENTRIES` to build a smaller one on a machine without 5 GiB to spare.
// The workspace lint steers no_std-capable code to `core`; this code is std by nature.
#![allow(clippy::std_instead_of_core)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use blazemq_core::log::PartitionLog;
use blazemq_core::log::segment::INDEX_INTERVAL_BYTES;
use blazemq_core::records::BatchBuilder;
use blazemq_core::storage::{MemorySegment, MemoryStorage};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Segment size of the append and read logs.
const SEGMENT_BYTES: usize = 8 << 20;
/// Segment size of the lookup log.
const LOOKUP_SEGMENT_BYTES: usize = 1 << 30;
/// Index entries the lookup log aims for.
const INDEX_ENTRIES_DEFAULT: usize = 1 << 20;
const BASE_TS: i64 = 1_700_000_000_000;

fn batch(records: usize, value_size: usize, ts: i64) -> Vec<u8> {
    let value = vec![b'v'; value_size];
    let mut b = BatchBuilder::new(0);
    for i in 0..records {
        b.push(ts + i as i64, None, Some(&value), &[]);
    }
    b.finish()
}

/// A one-record batch of exactly `INDEX_INTERVAL_BYTES` bytes at timestamp `ts`, so every batch
/// after the first adds one entry to each index.
fn index_sized_batch(ts: i64) -> Vec<u8> {
    let overhead = batch(1, 0, ts).len();
    let mut value_size = INDEX_INTERVAL_BYTES - overhead;
    loop {
        let b = batch(1, value_size, ts);
        if b.len() <= INDEX_INTERVAL_BYTES {
            assert_eq!(b.len(), INDEX_INTERVAL_BYTES, "one index entry per batch");
            return b;
        }
        value_size -= b.len() - INDEX_INTERVAL_BYTES;
    }
}

fn new_log(segment_bytes: usize) -> (PartitionLog<MemorySegment>, MemoryStorage) {
    (
        PartitionLog::new(MemorySegment::new(segment_bytes), 0),
        MemoryStorage::default(),
    )
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_append");
    for records in [1, 100] {
        let b = batch(records, 100, BASE_TS);
        // Several segments' worth per log, so rolls are measured in their share.
        let appends_per_log = (4 * SEGMENT_BYTES / b.len()) as u64;
        group.throughput(Throughput::Bytes(b.len() as u64));
        group.bench_function(BenchmarkId::new("records_per_batch", records), |bench| {
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let (mut log, mut storage) = new_log(SEGMENT_BYTES);
                    let n = (iters - done).min(appends_per_log);
                    let started = Instant::now();
                    for _ in 0..n {
                        log.append(&mut storage, "t", 0, black_box(&b), SEGMENT_BYTES, BASE_TS)
                            .expect("a valid batch fits a fresh segment");
                    }
                    total += started.elapsed();
                    done += n;
                }
                total
            })
        });
    }
    group.finish();
}

/// A small deterministic generator for lookup targets.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

fn read(c: &mut Criterion) {
    let (mut log, mut storage) = new_log(SEGMENT_BYTES);
    let b = batch(100, 100, BASE_TS);
    for _ in 0..2_000 {
        log.append(&mut storage, "t", 0, &b, SEGMENT_BYTES, BASE_TS)
            .expect("appends fit");
    }
    let end = log.log_end_offset() as u64;
    let mut group = c.benchmark_group("log_read");
    for max_bytes in [16 << 10, 1 << 20] {
        let mut rng = Lcg(7);
        group.bench_function(BenchmarkId::new("max_bytes", max_bytes), |bench| {
            bench.iter(|| {
                let offset = rng.below(end) as i64;
                let slice = log
                    .read(offset, max_bytes)
                    .expect("offset in range")
                    .expect("data at every offset below the end");
                log.segment_bytes(slice.segment_base_offset, slice.start, slice.len)
                    .expect("read returns a range that exists")
                    .len()
            })
        });
    }
    group.finish();
}

fn index_entries() -> usize {
    std::env::var("BLAZEMQ_BENCH_INDEX_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(INDEX_ENTRIES_DEFAULT)
}

fn lookup(c: &mut Criterion) {
    let entries = index_entries();
    let (mut log, mut storage) = new_log(LOOKUP_SEGMENT_BYTES);
    // Timestamps rise by one per batch, so the time index gains an entry per batch too.
    let mut template = index_sized_batch(BASE_TS);
    for i in 0..=entries as i64 {
        if i > 0 {
            template = index_sized_batch(BASE_TS + i);
        }
        log.append(
            &mut storage,
            "t",
            0,
            &template,
            LOOKUP_SEGMENT_BYTES,
            BASE_TS,
        )
        .expect("4 KiB batches fit 1 GiB segments");
    }
    let end = log.log_end_offset() as u64;
    let mut group = c.benchmark_group(format!("log_lookup_{entries}_index_entries"));
    let mut rng = Lcg(11);
    group.bench_function("offset", |bench| {
        bench.iter(|| {
            let offset = rng.below(end) as i64;
            log.read(offset, 0)
                .expect("offset in range")
                .expect("data at every offset below the end")
                .start
        })
    });
    let mut rng = Lcg(13);
    group.bench_function("timestamp", |bench| {
        bench.iter(|| {
            let ts = BASE_TS + rng.below(end) as i64;
            log.offset_for_timestamp(ts)
                .expect("one segment, never closed")
                .expect("every timestamp up to the last is in the log")
        })
    });
    group.finish();
}

criterion_group!(benches, append, read, lookup);
criterion_main!(benches);
