//! Produce validation of compressed batches, per codec: decompression plus the walk over every
//! record. Throughput is in bytes of (uncompressed) records validated.
// The workspace lint steers no_std-capable code to `core`; this code is std by nature.
#![allow(clippy::std_instead_of_core)]

use std::hint::black_box;

use blazemq_benches::codecs::{Codec, compressed, json_batch};
use blazemq_core::records::validate_batches_with;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// `message.max.bytes`, Kafka's default, as the broker passes it.
const BATCH_BYTES_MAX: usize = 1_048_588;
/// Record batch v2 header length.
const HEADER_LEN: usize = 61;

fn validate_compressed(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate_compressed");
    // 100 records of 100 B, and one larger batch of 5,000 (about 640 KB of records).
    for (size, records) in [("100x100B", 100), ("5000x100B", 5_000)] {
        let plain = json_batch(records, 100, true);
        let records_bytes = (plain.len() - HEADER_LEN) as u64;
        for codec in Codec::ALL {
            let name = codec.name();
            let batch = compressed(&plain, codec);
            let mut scratch = Vec::new();
            validate_batches_with(&batch, BATCH_BYTES_MAX, &mut scratch)
                .expect("the bench batches are valid");
            group.throughput(Throughput::Bytes(records_bytes));
            group.bench_function(format!("{name}/{size}"), |b| {
                b.iter(|| {
                    validate_batches_with(black_box(&batch), BATCH_BYTES_MAX, &mut scratch)
                        .expect("valid")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, validate_compressed);
criterion_main!(benches);
