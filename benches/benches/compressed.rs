//! Produce validation of compressed batches, per codec: decompression plus the walk over every
//! record. Throughput is in bytes of (uncompressed) records validated.
// The workspace lint steers no_std-capable code to `core`; this code is std by nature.
#![allow(clippy::std_instead_of_core)]

use std::hint::black_box;
use std::io::Write;

use blazemq_core::records::crc::crc32c;
use blazemq_core::records::{BatchBuilder, validate_batches_with};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// `message.max.bytes`, Kafka's default, as the broker passes it.
const BATCH_BYTES_MAX: usize = 1_048_588;
/// Record batch v2 header length, and where its length, attributes and CRC sit.
const HEADER_LEN: usize = 61;

/// A batch of `records` records with ~100-byte JSON-like values, as a producer would send.
fn plain_batch(records: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(0);
    for i in 0..records {
        let mut value = format!(
            r#"{{"id":{i},"user":"user-{}","event":"click","page":"/items/{}","ok":true}}"#,
            i * 7919 % 10_007,
            i % 97
        )
        .into_bytes();
        value.resize(100, b' ');
        let key = format!("key-{}", i % 64);
        b.push(
            1_700_000_000_000 + i as i64,
            Some(key.as_bytes()),
            Some(&value),
            &[],
        );
    }
    b.finish()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(data).expect("writing to a Vec succeeds");
    w.finish().expect("writing to a Vec succeeds")
}

fn snappy(data: &[u8]) -> Vec<u8> {
    let mut out = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    // snappy-java writes blocks of at most 32 KiB.
    for chunk in data.chunks(32 * 1024) {
        let raw = snap::raw::Encoder::new()
            .compress_vec(chunk)
            .expect("bench data compresses");
        out.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        out.extend_from_slice(&raw);
    }
    out
}

fn lz4(data: &[u8]) -> Vec<u8> {
    let mut out = 0x184D_2204u32.to_le_bytes().to_vec();
    out.extend_from_slice(&[0x60, 0x40, 0x82]); // independent 64 KiB blocks
    for chunk in data.chunks(64 * 1024) {
        let c = lz4_flex::block::compress(chunk);
        out.extend_from_slice(&(c.len() as u32).to_le_bytes());
        out.extend_from_slice(&c);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// `plain` with its records compressed by `compress` under codec id `codec`.
fn compressed(plain: &[u8], codec: i16, compress: Encoder) -> Vec<u8> {
    let mut out = plain[..HEADER_LEN].to_vec();
    out.extend_from_slice(&compress(&plain[HEADER_LEN..]));
    let batch_length = i32::try_from(out.len() - 12).expect("bench batches are small");
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[21..23].copy_from_slice(&codec.to_be_bytes());
    let crc = crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A codec's writer, as the bench's batches are compressed.
type Encoder = fn(&[u8]) -> Vec<u8>;

fn validate_compressed(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate_compressed");
    let codecs: [(&str, i16, Encoder); 5] = [
        ("none", 0, <[u8]>::to_vec),
        ("gzip", 1, gzip),
        ("snappy", 2, snappy),
        ("lz4", 3, lz4),
        ("zstd", 4, zstd),
    ];
    // 100 records of 100 B, and one larger batch of 5,000 (about 640 KB of records).
    for (size, records) in [("100x100B", 100), ("5000x100B", 5_000)] {
        let plain = plain_batch(records);
        let records_bytes = (plain.len() - HEADER_LEN) as u64;
        for (name, id, compress) in codecs {
            let batch = compressed(&plain, id, compress);
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
