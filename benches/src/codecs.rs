//! Record batches compressed as Kafka's clients compress them: for the compressed produce runs
//! of `blazemq-bench` and the validation micro-benchmark.

use std::io::Write;

use blazemq_core::records::BatchBuilder;
use blazemq_core::records::crc::crc32c;

use crate::error::{BenchError, Result};

/// Record batch v2 header length; where its length, CRC and attributes sit.
const HEADER_LEN: usize = 61;
const BATCH_LENGTH: std::ops::Range<usize> = 8..12;
const CRC: std::ops::Range<usize> = 17..21;
const ATTRIBUTES: std::ops::Range<usize> = 21..23;

/// A compression codec of a record batch (the low three bits of its attributes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Records stored as they are.
    None,
    /// gzip, as `java.util.zip.GZIPOutputStream` writes it.
    Gzip,
    /// snappy-java's framed stream.
    Snappy,
    /// The LZ4 frame format with independent blocks.
    Lz4,
    /// A zstd frame.
    Zstd,
}

impl Codec {
    /// Every codec, by attribute id.
    pub const ALL: [Codec; 5] = [
        Codec::None,
        Codec::Gzip,
        Codec::Snappy,
        Codec::Lz4,
        Codec::Zstd,
    ];

    /// Its id in a batch's attributes.
    pub fn id(self) -> i16 {
        match self {
            Codec::None => 0,
            Codec::Gzip => 1,
            Codec::Snappy => 2,
            Codec::Lz4 => 3,
            Codec::Zstd => 4,
        }
    }

    /// Its name, as Kafka's `compression.type` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }

    /// The codec named `s`.
    pub fn parse(s: &str) -> Result<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| BenchError::Usage(format!("unknown compression {s:?}")))
    }

    /// `data` compressed as a Kafka client writes it.
    fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Codec::None => data.to_vec(),
            Codec::Gzip => gzip(data),
            Codec::Snappy => snappy(data),
            Codec::Lz4 => lz4(data),
            Codec::Zstd => {
                ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
            }
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    w.write_all(data).expect("writing to a Vec succeeds");
    w.finish().expect("writing to a Vec succeeds")
}

fn snappy(data: &[u8]) -> Vec<u8> {
    let mut out = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    // snappy-java writes blocks of at most 32 KiB.
    for chunk in data.chunks(32 * 1024) {
        let raw = snap::raw::Encoder::new()
            .compress_vec(chunk)
            .expect("a 32 KiB block is within snappy's limit");
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

/// A batch of `records` records whose values are JSON-like events padded or cut to
/// `value_size` bytes, as an application would send them (so compression ratios are
/// realistic), with keys when `keyed`.
pub fn json_batch(records: usize, value_size: usize, keyed: bool) -> Vec<u8> {
    let mut b = BatchBuilder::new(0);
    for i in 0..records {
        let mut value = format!(
            r#"{{"id":{i},"user":"user-{}","event":"click","page":"/items/{}","ok":true}}"#,
            i * 7919 % 10_007,
            i % 97
        )
        .into_bytes();
        value.resize(value_size, b' ');
        let key = format!("key-{}", i % 64);
        let key = keyed.then_some(key.as_bytes());
        b.push(1_700_000_000_000 + i as i64, key, Some(&value), &[]);
    }
    b.finish()
}

/// The uncompressed batch `plain` with its records compressed by `codec`: length, attributes
/// and CRC rewritten.
pub fn compressed(plain: &[u8], codec: Codec) -> Vec<u8> {
    let mut out = plain[..HEADER_LEN].to_vec();
    out.extend_from_slice(&codec.compress(&plain[HEADER_LEN..]));
    let batch_length = u32::try_from(out.len() - BATCH_LENGTH.end).unwrap_or(u32::MAX);
    out[BATCH_LENGTH].copy_from_slice(&batch_length.to_be_bytes());
    let attributes = i16::from_be_bytes([plain[ATTRIBUTES.start], plain[ATTRIBUTES.start + 1]]);
    let attributes = (attributes & !0x07) | codec.id();
    out[ATTRIBUTES].copy_from_slice(&attributes.to_be_bytes());
    let crc = crc32c(&out[ATTRIBUTES.start..]);
    out[CRC].copy_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazemq_core::records::validate_batches;

    #[test]
    fn every_codec_gives_a_batch_the_broker_accepts_with_the_same_records() {
        let plain = json_batch(300, 100, true);
        for codec in Codec::ALL {
            let batch = compressed(&plain, codec);
            let v = validate_batches(&batch, 1 << 20)
                .unwrap_or_else(|e| panic!("{}: {e:?}", codec.name()));
            assert_eq!(v.record_count, 300, "{}", codec.name());
            if codec != Codec::None {
                assert!(batch.len() < plain.len() / 2, "{} compresses", codec.name());
            }
        }
        assert_eq!(Codec::parse("lz4").ok(), Some(Codec::Lz4));
        assert!(Codec::parse("brotli").is_err());
    }
}
