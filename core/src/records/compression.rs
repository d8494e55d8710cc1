//! Compression codecs of record data, and bounded decompression for all four.
//!
//! - gzip: `miniz_oxide` (raw inflate) with the RFC 1952 header and trailer read here.
//! - lz4: the LZ4 frame format (what Kafka's `KafkaLZ4BlockOutputStream` and librdkafka write)
//!   read here, blocks decoded by `lz4_flex`'s safe block decoder.
//! - snappy: raw blocks and Kafka's xerial framing, decoded in [`super::snappy`] (the `snap`
//!   crate needs std).
//! - zstd: `ruzstd`, in [`super::zstd`].
//!
//! Every decompression takes `output_bytes_max` and fails past it: a small compressed batch that
//! inflates to gigabytes must not exhaust memory.

use alloc::vec::Vec;

use super::crc::crc32;
use super::error::RecordsError;
use super::{snappy, zstd};

/// The codec of a batch's records (attribute bits 0-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed (0).
    None,
    /// gzip (1).
    Gzip,
    /// snappy with xerial framing (2).
    Snappy,
    /// LZ4 frame format (3).
    Lz4,
    /// zstd (4), KIP-110.
    Zstd,
}

impl Compression {
    /// The codec with attribute id `id`; 5 to 7 are unassigned and an error.
    pub fn from_id(id: u8) -> Result<Self, RecordsError> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(RecordsError::UnknownCompression(other)),
        }
    }

    /// The attribute id.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Whether [`decompress`] can read this codec: every codec can now.
    pub fn can_decompress(self) -> bool {
        true
    }
}

/// Decompress `input` written with `codec`, producing at most `output_bytes_max` bytes.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    output_bytes_max: usize,
) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    decompress_into(codec, input, output_bytes_max, &mut out)?;
    Ok(out)
}

/// [`decompress`] into `out`, which is cleared first: a caller that validates many batches
/// reuses one buffer (gzip alone replaces it, as `miniz_oxide` returns its own).
pub fn decompress_into(
    codec: Compression,
    input: &[u8],
    output_bytes_max: usize,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    out.clear();
    match codec {
        Compression::None => {
            if input.len() > output_bytes_max {
                return Err(RecordsError::DecompressedTooLarge);
            }
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => {
            *out = gunzip(input, output_bytes_max)?;
            Ok(())
        }
        Compression::Lz4 => lz4_frame(input, output_bytes_max, out),
        Compression::Snappy => snappy::decompress_into(input, output_bytes_max, out),
        Compression::Zstd => zstd::decompress_into(input, output_bytes_max, out),
    }
}

const GZIP_FHCRC: u8 = 0x02;
const GZIP_FEXTRA: u8 = 0x04;
const GZIP_FNAME: u8 = 0x08;
const GZIP_FCOMMENT: u8 = 0x10;

/// One gzip member (RFC 1952): header, raw deflate, CRC-32 and ISIZE trailer.
fn gunzip(input: &[u8], output_bytes_max: usize) -> Result<Vec<u8>, RecordsError> {
    let bad = RecordsError::Decompression;
    if input.len() < 18 || input[0..3] != [0x1f, 0x8b, 8] {
        return Err(bad);
    }
    let flags = input[3];
    let mut pos = 10;
    if flags & GZIP_FEXTRA != 0 {
        let xlen = input.get(pos..pos + 2).ok_or(bad)?;
        pos += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for flag in [GZIP_FNAME, GZIP_FCOMMENT] {
        if flags & flag != 0 {
            let rest = input.get(pos..).ok_or(bad)?;
            pos += 1 + rest.iter().position(|&b| b == 0).ok_or(bad)?;
        }
    }
    if flags & GZIP_FHCRC != 0 {
        pos += 2;
    }
    let trailer_at = input.len() - 8;
    let deflate = input.get(pos..trailer_at).ok_or(bad)?;
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(deflate, output_bytes_max)
        .map_err(|e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => RecordsError::DecompressedTooLarge,
            _ => RecordsError::Decompression,
        })?;
    let trailer = &input[trailer_at..];
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if crc != crc32(&out) || isize != out.len() as u32 {
        return Err(bad);
    }
    Ok(out)
}

const LZ4_MAGIC: u32 = 0x184D_2204;
const LZ4_FLG_BLOCK_INDEPENDENT: u8 = 0x20;
const LZ4_FLG_BLOCK_CHECKSUM: u8 = 0x10;
const LZ4_FLG_CONTENT_SIZE: u8 = 0x08;
const LZ4_FLG_CONTENT_CHECKSUM: u8 = 0x04;
const LZ4_FLG_DICT_ID: u8 = 0x01;
const LZ4_BLOCK_UNCOMPRESSED: u32 = 0x8000_0000;
/// How far back a linked block may refer.
const LZ4_WINDOW: usize = 64 * 1024;

/// The LZ4 frame format. The header checksum is not checked: Kafka's magic 0 and 1 LZ4
/// messages were written with a wrong one (KAFKA-3160), and the CRC of the batch or message
/// already covers these bytes. Block and content checksums (xxHash32) are skipped likewise.
fn lz4_frame(input: &[u8], output_bytes_max: usize, out: &mut Vec<u8>) -> Result<(), RecordsError> {
    let bad = RecordsError::Decompression;
    let header = input.get(0..6).ok_or(bad)?;
    if u32::from_le_bytes([header[0], header[1], header[2], header[3]]) != LZ4_MAGIC {
        return Err(bad);
    }
    let flg = header[4];
    if flg >> 6 != 0b01 {
        return Err(bad);
    }
    let block_max = match (header[5] >> 4) & 0x07 {
        4 => 64 * 1024,
        5 => 256 * 1024,
        6 => 1024 * 1024,
        7 => 4 * 1024 * 1024,
        _ => return Err(bad),
    };
    let mut pos = 6;
    if flg & LZ4_FLG_CONTENT_SIZE != 0 {
        pos += 8;
    }
    if flg & LZ4_FLG_DICT_ID != 0 {
        pos += 4;
    }
    pos += 1; // header checksum
    let block_checksum = if flg & LZ4_FLG_BLOCK_CHECKSUM != 0 {
        4
    } else {
        0
    };
    let linked = flg & LZ4_FLG_BLOCK_INDEPENDENT == 0;
    loop {
        let size = input.get(pos..pos + 4).ok_or(bad)?;
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
        pos += 4;
        if size == 0 {
            break;
        }
        let len = (size & !LZ4_BLOCK_UNCOMPRESSED) as usize;
        let data = input.get(pos..pos + len).ok_or(bad)?;
        pos += len + block_checksum;
        // A block decodes to at most block_max bytes, and never past the caller's bound.
        let room = output_bytes_max - out.len();
        if size & LZ4_BLOCK_UNCOMPRESSED != 0 {
            if len > room {
                return Err(RecordsError::DecompressedTooLarge);
            }
            out.extend_from_slice(data);
            continue;
        }
        // Decoded in place at the end of `out` (no second buffer to allocate and copy): the
        // bytes before it are the dictionary of a linked block.
        let start = out.len();
        out.resize(start + block_max.min(room), 0);
        let (decoded, tail) = out.split_at_mut(start);
        let dict = if linked {
            &decoded[start.saturating_sub(LZ4_WINDOW)..]
        } else {
            &[][..]
        };
        let n =
            lz4_flex::block::decompress_into_with_dict(data, tail, dict).map_err(|e| match e {
                lz4_flex::block::DecompressError::OutputTooSmall { .. } if room < block_max => {
                    RecordsError::DecompressedTooLarge
                }
                _ => bad,
            })?;
        out.truncate(start + n);
    }
    if flg & LZ4_FLG_CONTENT_CHECKSUM != 0 && input.len() < pos + 4 {
        return Err(bad);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// `printf 'hello hello hello hello' | gzip -n` (name and time left out).
    const HELLO_GZIP: &[u8] = &[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0x57, 0xc8, 0x40, 0x27, 0x01, 0xe3, 0x51, 0x3d, 0x8d, 0x17, 0x00, 0x00, 0x00,
    ];

    fn lz4_frame_of(blocks: &[Vec<u8>], independent: bool) -> Vec<u8> {
        let mut f = LZ4_MAGIC.to_le_bytes().to_vec();
        f.push(
            0x40 | if independent {
                LZ4_FLG_BLOCK_INDEPENDENT
            } else {
                0
            },
        );
        f.push(4 << 4); // 64 KiB blocks
        f.push(0); // header checksum, not checked
        for b in blocks {
            let c = lz4_flex::block::compress(b);
            f.extend_from_slice(&(c.len() as u32).to_le_bytes());
            f.extend_from_slice(&c);
        }
        f.extend_from_slice(&0u32.to_le_bytes());
        f
    }

    #[test]
    fn ids_map_both_ways() {
        for id in 0..5 {
            assert_eq!(Compression::from_id(id).map(Compression::id), Ok(id));
        }
        for id in 5..8 {
            assert_eq!(
                Compression::from_id(id),
                Err(RecordsError::UnknownCompression(id))
            );
        }
    }

    #[test]
    fn gzip_decompresses_and_checks_its_trailer() {
        assert_eq!(
            decompress(Compression::Gzip, HELLO_GZIP, 100).expect("valid gzip"),
            b"hello hello hello hello"
        );
        assert_eq!(
            decompress(Compression::Gzip, HELLO_GZIP, 10),
            Err(RecordsError::DecompressedTooLarge)
        );
        let mut bad = HELLO_GZIP.to_vec();
        let n = bad.len();
        bad[n - 5] ^= 1;
        assert_eq!(
            decompress(Compression::Gzip, &bad, 100),
            Err(RecordsError::Decompression)
        );
        for cut in 0..HELLO_GZIP.len() {
            assert!(decompress(Compression::Gzip, &HELLO_GZIP[..cut], 100).is_err());
        }
    }

    #[test]
    fn lz4_frames_decompress_with_a_bound() {
        let a = vec![b'a'; 70_000];
        let b: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
        let frame = lz4_frame_of(&[a[..60_000].to_vec(), b.clone()], true);
        let out = decompress(Compression::Lz4, &frame, 1 << 20).expect("valid lz4");
        assert_eq!(out.len(), 64_000);
        assert_eq!(&out[60_000..], &b[..]);
        assert_eq!(
            decompress(Compression::Lz4, &frame, 1000),
            Err(RecordsError::DecompressedTooLarge)
        );
        for cut in 0..frame.len().min(200) {
            assert!(decompress(Compression::Lz4, &frame[..cut], 1 << 20).is_err());
        }
    }

    #[test]
    fn a_zip_bomb_stops_at_the_bound() {
        // 64 KiB blocks of zeros compress to a few hundred bytes each.
        let zeros = vec![0u8; 65_536];
        let frame = lz4_frame_of(&vec![zeros; 64], true);
        assert!(frame.len() < 64 * 1024);
        assert_eq!(
            decompress(Compression::Lz4, &frame, 1 << 20),
            Err(RecordsError::DecompressedTooLarge)
        );
    }
}
