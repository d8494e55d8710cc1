//! Encoders for tests: each codec's reference writer, framed as Kafka's clients frame it.

extern crate std;

use alloc::vec::Vec;
use std::io::Write;

use super::batch::{self, field};
use super::compression::Compression;
use super::crc::crc32c;

/// `data` compressed with `codec` as a Kafka client writes it.
pub(crate) fn compress(codec: Compression, data: &[u8]) -> Vec<u8> {
    match codec {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            w.write_all(data).expect("writing to a Vec succeeds");
            w.finish().expect("writing to a Vec succeeds")
        }
        Compression::Snappy => {
            // snappy-java's stream header, then one block.
            let mut out = b"\x82SNAPPY\x00".to_vec();
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let raw = snap::raw::Encoder::new()
                .compress_vec(data)
                .expect("test data compresses");
            out.extend_from_slice(&(raw.len() as u32).to_be_bytes());
            out.extend_from_slice(&raw);
            out
        }
        Compression::Lz4 => {
            // Frame header: version 01, independent blocks; 64 KiB blocks; checksum unchecked.
            let mut out = 0x184D_2204u32.to_le_bytes().to_vec();
            out.extend_from_slice(&[0x60, 0x40, 0x00]);
            for chunk in data.chunks(64 * 1024) {
                let c = lz4_flex::block::compress(chunk);
                out.extend_from_slice(&(c.len() as u32).to_le_bytes());
                out.extend_from_slice(&c);
            }
            out.extend_from_slice(&0u32.to_le_bytes());
            out
        }
        Compression::Zstd => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
    }
}

/// The uncompressed batch `batch` with its records replaced by `records`, sent as `codec`:
/// length, attributes and CRC rewritten.
pub(crate) fn with_records(batch: &[u8], codec: Compression, records: &[u8]) -> Vec<u8> {
    let mut out = batch[..batch::HEADER_LEN].to_vec();
    out.extend_from_slice(records);
    let length = (out.len() - batch::LOG_OVERHEAD) as i32;
    out[field::BATCH_LENGTH].copy_from_slice(&length.to_be_bytes());
    let attributes = i16::from_be_bytes([
        out[field::ATTRIBUTES.start],
        out[field::ATTRIBUTES.start + 1],
    ]);
    let attributes = (attributes & !0x07) | i16::from(codec.id());
    out[field::ATTRIBUTES].copy_from_slice(&attributes.to_be_bytes());
    let crc = crc32c(&out[field::ATTRIBUTES.start..]);
    out[field::CRC].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The uncompressed batch `batch` recompressed with `codec`.
pub(crate) fn compressed(batch: &[u8], codec: Compression) -> Vec<u8> {
    with_records(batch, codec, &compress(codec, &batch[batch::HEADER_LEN..]))
}
