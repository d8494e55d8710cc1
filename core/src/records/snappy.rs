//! Snappy decompression: the raw format, and the xerial framing Kafka's clients wrap it in.
//!
//! No snappy crate builds without std, and the decoder is small. Raw format (snappy's
//! `format_description.txt`): the uncompressed length as a varint, then elements, each a tag byte
//! whose low two bits say literal (00), copy with a 1-byte offset (01), 2-byte (10) or 4-byte
//! (11). Xerial framing (snappy-java's `SnappyOutputStream`, written by the Java client and
//! librdkafka): the header `\x82SNAPPY\0`, two big-endian int32 versions, then blocks of a
//! big-endian int32 length and one raw snappy block. Data without that header is read as one raw
//! block, as snappy-java's `SnappyInputStream` does.

use alloc::vec::Vec;

use super::error::RecordsError;

const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";
/// Magic, version and minimum compatible version.
const XERIAL_HEADER_LEN: usize = XERIAL_MAGIC.len() + 8;

const TAG_LITERAL: u8 = 0b00;
const TAG_COPY_1: u8 = 0b01;
const TAG_COPY_2: u8 = 0b10;

/// Append the decompression of `input` to `out`, which may grow to at most `output_bytes_max`.
pub(super) fn decompress_into(
    input: &[u8],
    output_bytes_max: usize,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    if !input.starts_with(XERIAL_MAGIC) {
        return raw_block(input, output_bytes_max, out);
    }
    let mut rest = input
        .get(XERIAL_HEADER_LEN..)
        .ok_or(RecordsError::Decompression)?;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or(RecordsError::Decompression)?;
        let len =
            usize::try_from(u32::from_be_bytes(*len)).map_err(|_| RecordsError::Decompression)?;
        let block = tail.get(..len).ok_or(RecordsError::Decompression)?;
        raw_block(block, output_bytes_max, out)?;
        rest = &tail[len..];
    }
    Ok(())
}

/// One raw snappy block, appended to `out`. Copies refer only to this block's output.
fn raw_block(input: &[u8], output_bytes_max: usize, out: &mut Vec<u8>) -> Result<(), RecordsError> {
    let bad = RecordsError::Decompression;
    let (len, mut pos) = preamble(input)?;
    let start = out.len();
    // Refused before anything is allocated: the preamble is only a claim.
    if len > output_bytes_max.saturating_sub(start) {
        return Err(RecordsError::DecompressedTooLarge);
    }
    let end = start + len;
    out.reserve(len);
    while let Some(&tag) = input.get(pos) {
        pos += 1;
        if tag & 0b11 == TAG_LITERAL {
            let (n, used) = literal_len(tag, &input[pos..])?;
            pos += used;
            let literal = input.get(pos..pos.checked_add(n).ok_or(bad)?).ok_or(bad)?;
            if n > end - out.len() {
                return Err(bad);
            }
            out.extend_from_slice(literal);
            pos += n;
            continue;
        }
        let (n, offset, used) = copy_args(tag, &input[pos..])?;
        pos += used;
        if offset == 0 || offset > out.len() - start || n > end - out.len() {
            return Err(bad);
        }
        copy_within(out, offset, n);
    }
    if out.len() != end {
        return Err(bad);
    }
    Ok(())
}

/// The uncompressed length (a varint of at most 32 bits) and the bytes it took.
fn preamble(input: &[u8]) -> Result<(usize, usize), RecordsError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let len = u32::try_from(value).map_err(|_| RecordsError::Decompression)?;
            let len = usize::try_from(len).map_err(|_| RecordsError::Decompression)?;
            return Ok((len, i + 1));
        }
    }
    Err(RecordsError::Decompression)
}

/// A literal's length and the extra bytes after the tag that gave it: lengths up to 60 sit in
/// the tag, longer ones in the 1 to 4 little-endian bytes after it.
fn literal_len(tag: u8, rest: &[u8]) -> Result<(usize, usize), RecordsError> {
    let short = usize::from(tag >> 2);
    if short < 60 {
        return Ok((short + 1, 0));
    }
    let extra = short - 59;
    let bytes = rest.get(..extra).ok_or(RecordsError::Decompression)?;
    let len = le(bytes)
        .checked_add(1)
        .ok_or(RecordsError::Decompression)?;
    Ok((len, extra))
}

/// A copy's length, offset, and the bytes after the tag that gave them.
fn copy_args(tag: u8, rest: &[u8]) -> Result<(usize, usize, usize), RecordsError> {
    let bad = RecordsError::Decompression;
    match tag & 0b11 {
        TAG_COPY_1 => {
            let low = *rest.first().ok_or(bad)?;
            let len = 4 + usize::from((tag >> 2) & 0b111);
            Ok((len, (usize::from(tag >> 5) << 8) | usize::from(low), 1))
        }
        TAG_COPY_2 => Ok((1 + usize::from(tag >> 2), le(rest.get(..2).ok_or(bad)?), 2)),
        _ => Ok((1 + usize::from(tag >> 2), le(rest.get(..4).ok_or(bad)?), 4)),
    }
}

fn le(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
}

/// Append `n` bytes starting `offset` back; they may overlap what is being written (a run), so
/// the copy goes in pieces of at most `offset` bytes, each already written when it is read.
fn copy_within(out: &mut Vec<u8>, offset: usize, mut n: usize) {
    while n > 0 {
        let piece = n.min(offset);
        let from = out.len() - offset;
        out.extend_from_within(from..from + piece);
        n -= piece;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn xerial(blocks: &[&[u8]]) -> Vec<u8> {
        let mut out = XERIAL_MAGIC.to_vec();
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for block in blocks {
            let raw = snap::raw::Encoder::new()
                .compress_vec(block)
                .expect("small input compresses");
            out.extend_from_slice(&(raw.len() as u32).to_be_bytes());
            out.extend_from_slice(&raw);
        }
        out
    }

    fn decompress(input: &[u8], max: usize) -> Result<Vec<u8>, RecordsError> {
        let mut out = Vec::new();
        decompress_into(input, max, &mut out).map(|()| out)
    }

    fn sample() -> Vec<u8> {
        // Literals, short and long copies, overlapping runs, a literal over 60 bytes.
        let mut data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        data.extend_from_slice(&[b'x'; 5000]);
        data.extend(b"abcabcabcabd".iter().cycle().take(700));
        data.extend_from_within(100..1500);
        data
    }

    #[test]
    fn raw_and_xerial_match_the_reference_encoder() {
        let data = sample();
        let raw = snap::raw::Encoder::new()
            .compress_vec(&data)
            .expect("compresses");
        assert_eq!(decompress(&raw, 1 << 20), Ok(data.clone()));
        let framed = xerial(&[&data[..4000], &data[4000..]]);
        assert_eq!(decompress(&framed, 1 << 20), Ok(data.clone()));
        assert_eq!(decompress(&xerial(&[]), 10), Ok(vec![]));
        // The bound holds across blocks too.
        assert_eq!(
            decompress(&framed, data.len() - 1),
            Err(RecordsError::DecompressedTooLarge)
        );
    }

    #[test]
    fn every_copy_tag_and_long_literals() {
        // 4-byte offset copies are rare from encoders: built by hand.
        let mut block = vec![10]; // 10 bytes
        block.extend_from_slice(&[(3 << 2) | TAG_LITERAL, b'a', b'b', b'c', b'd']);
        block.extend_from_slice(&[(5 << 2) | 0b11, 4, 0, 0, 0]);
        assert_eq!(decompress(&block, 100).as_deref(), Ok(&b"abcdabcdab"[..]));
        // A literal whose length is in one extra byte (tag 60).
        let mut block = vec![100];
        block.extend_from_slice(&[60 << 2, 99]);
        block.extend_from_slice(&[b'z'; 100]);
        assert_eq!(decompress(&block, 100), Ok(vec![b'z'; 100]));
    }

    #[test]
    fn damaged_input_is_an_error() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(&sample())
            .expect("compresses");
        for cut in 0..raw.len() {
            assert!(decompress(&raw[..cut], 1 << 20).is_err(), "cut {cut}");
        }
        let framed = xerial(&[&sample()]);
        for cut in XERIAL_HEADER_LEN + 1..framed.len() {
            assert!(decompress(&framed[..cut], 1 << 20).is_err(), "cut {cut}");
        }
        for i in 0..raw.len().min(400) {
            for x in [0x01, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[i] ^= x;
                // Decodes to something or fails; never panics, never passes the bound.
                if let Ok(out) = decompress(&bad, 1 << 20) {
                    assert!(out.len() <= 1 << 20);
                }
            }
        }
        // An offset before the block's start, and an offset of 0.
        assert!(decompress(&[4, 0b01, 1], 100).is_err());
        assert!(decompress(&[5, 0, b'a', 0b01, 0], 100).is_err());
        // Output longer or shorter than the preamble.
        assert!(decompress(&[1, 4, b'a', b'b'], 100).is_err());
        assert!(decompress(&[3, 4, b'a', b'b'], 100).is_err());
        assert!(decompress(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 100).is_err());
    }

    #[test]
    fn a_claimed_length_over_the_bound_allocates_nothing() {
        // 4 GiB - 1 claimed by five bytes.
        let block = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(
            decompress(&block, 1 << 20),
            Err(RecordsError::DecompressedTooLarge)
        );
        // A real bomb: 1 MiB of zeros from a few KiB.
        let zeros = vec![0u8; 1 << 20];
        let raw = snap::raw::Encoder::new()
            .compress_vec(&zeros)
            .expect("compresses");
        assert!(raw.len() < 64 * 1024);
        assert_eq!(
            decompress(&raw, 1 << 19),
            Err(RecordsError::DecompressedTooLarge)
        );
        assert_eq!(decompress(&raw, 1 << 20), Ok(zeros));
    }
}
