//! Record batches: CRC-32C and the validation every Produce goes through.
// The workspace lint steers no_std-capable code to `core`; this code is std by nature.
#![allow(clippy::std_instead_of_core)]

use std::hint::black_box;

use blazemq_core::records::crc::crc32c;
use blazemq_core::records::{BatchBuilder, validate_batches};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// `message.max.bytes`, Kafka's default, as the broker passes it.
const BATCH_BYTES_MAX: usize = 1_048_588;

fn batch(records: usize, value_size: usize) -> Vec<u8> {
    let value = vec![b'v'; value_size];
    let mut b = BatchBuilder::new(0);
    for i in 0..records {
        b.push(
            1_700_000_000_000 + i as i64,
            Some(b"key"),
            Some(&value),
            &[],
        );
    }
    b.finish()
}

fn crc(c: &mut Criterion) {
    let mut group = c.benchmark_group("crc32c");
    for (name, len) in [("1KiB", 1 << 10), ("1MiB", 1 << 20)] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(name, |b| b.iter(|| crc32c(black_box(&data))));
    }
    group.finish();
}

fn validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate_batches");
    let one = batch(1, 100);
    let hundred = batch(100, 100);
    let ten_batches: Vec<u8> = (0..10).flat_map(|_| batch(100, 100)).collect();
    for (name, buf) in [
        ("1_record", &one),
        ("100_records", &hundred),
        ("10_batches_of_100", &ten_batches),
    ] {
        validate_batches(buf, BATCH_BYTES_MAX).expect("the bench batches are valid");
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| validate_batches(black_box(buf), BATCH_BYTES_MAX).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, crc, validate);
criterion_main!(benches);
