//! Zstandard decompression (RFC 8878) through `ruzstd`, streamed in steps so that output and
//! memory stay under the caller's bound.
//!
//! `ruzstd` reserves the window a frame header asks for before decoding anything, and its first
//! frame is not checked against its own window limit: so the header is read here first, and a
//! window over the bound is refused before `ruzstd` sees the frame. Concatenated frames are
//! read one after another, as zstd's own decoder does. The frames' xxHash64 content checksum is
//! not checked (the batch CRC-32C covers these bytes), nor are dictionaries supported (Kafka's
//! clients use none).

use alloc::vec::Vec;

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use super::error::RecordsError;

const MAGIC: u32 = 0xFD2F_B528;
/// RFC 8878 §3.1.1.1.2: decoders should support windows of at least 8 MiB. A bound lower
/// than that would refuse frames from ordinary compression levels.
const WINDOW_BYTES_MIN: u64 = 8 * 1024 * 1024;
/// Output decoded per step before it is drained and counted (a block adds at most 128 KiB).
const STEP_BYTES: usize = 64 * 1024;

/// Append the decompression of `input` to `out`, which may grow to at most `output_bytes_max`.
pub(super) fn decompress_into(
    input: &[u8],
    output_bytes_max: usize,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let window_max = WINDOW_BYTES_MIN.max(output_bytes_max as u64);
    let mut decoder = FrameDecoder::new();
    let mut rest = input;
    // An empty input is no frame at all: zstd refuses it too.
    if rest.is_empty() {
        return Err(RecordsError::Decompression);
    }
    while !rest.is_empty() {
        if window_size(rest)? > window_max {
            return Err(RecordsError::DecompressedTooLarge);
        }
        decoder
            .reset(&mut rest)
            .map_err(|_| RecordsError::Decompression)?;
        frame(&mut decoder, &mut rest, output_bytes_max, out)?;
    }
    Ok(())
}

/// Decode the blocks of one frame whose header `decoder` has read, moving `rest` past them.
fn frame(
    decoder: &mut FrameDecoder,
    rest: &mut &[u8],
    output_bytes_max: usize,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    loop {
        let finished = decoder
            .decode_blocks(&mut *rest, BlockDecodingStrategy::UptoBytes(STEP_BYTES))
            .map_err(|_| RecordsError::Decompression)?;
        if decoder.can_collect() > output_bytes_max.saturating_sub(out.len()) {
            return Err(RecordsError::DecompressedTooLarge);
        }
        decoder
            .collect_to_writer(&mut *out)
            .map_err(|_| RecordsError::Decompression)?;
        if finished {
            return Ok(());
        }
    }
}

/// The window size the frame header at the start of `frame` asks for (RFC 8878 §3.1.1.1).
fn window_size(frame: &[u8]) -> Result<u64, RecordsError> {
    let bad = RecordsError::Decompression;
    let (magic, rest) = frame.split_first_chunk::<4>().ok_or(bad)?;
    if u32::from_le_bytes(*magic) != MAGIC {
        return Err(bad);
    }
    let descriptor = *rest.first().ok_or(bad)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let window = *rest.get(1).ok_or(bad)?;
        let base = 1u64 << (10 + u32::from(window >> 3));
        return Ok(base + (base / 8) * u64::from(window & 0x07));
    }
    // A single segment's window is its content size, which then follows the dictionary id.
    let dictionary_id_len = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
    let size_at = 1 + dictionary_id_len;
    let size_len = [1, 2, 4, 8][usize::from(descriptor >> 6)];
    let bytes = rest.get(size_at..size_at + size_len).ok_or(bad)?;
    let size = bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    // The 2-byte form is offset by 256.
    Ok(if size_len == 2 { size + 256 } else { size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};

    fn zstd(data: &[u8]) -> Vec<u8> {
        compress_to_vec(data, CompressionLevel::Fastest)
    }

    fn decompress(input: &[u8], max: usize) -> Result<Vec<u8>, RecordsError> {
        let mut out = Vec::new();
        decompress_into(input, max, &mut out).map(|()| out)
    }

    fn sample() -> Vec<u8> {
        let mut data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        data.extend(b"key=value;".iter().cycle().take(200_000));
        data
    }

    /// A frame of one raw block: header descriptor 0 (window byte follows), window 1 KiB.
    fn raw_frame(data: &[u8]) -> Vec<u8> {
        let mut f = MAGIC.to_le_bytes().to_vec();
        f.extend_from_slice(&[0x00, 0x00]);
        let header = ((data.len() as u32) << 3) | 1; // last block, raw
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn frames_decompress_whole_and_concatenated() {
        let data = sample();
        let frame = zstd(&data);
        assert!(frame.len() < data.len() / 4);
        assert_eq!(decompress(&frame, 1 << 20), Ok(data.clone()));
        let mut two = frame.clone();
        two.extend_from_slice(&raw_frame(b"tail"));
        let mut expected = data.clone();
        expected.extend_from_slice(b"tail");
        assert_eq!(decompress(&two, 1 << 20), Ok(expected));
        assert_eq!(decompress(&raw_frame(b"hi"), 10), Ok(b"hi".to_vec()));
    }

    #[test]
    fn damaged_input_is_an_error() {
        let frame = zstd(&sample());
        for cut in 0..frame.len() {
            assert!(decompress(&frame[..cut], 1 << 20).is_err(), "cut {cut}");
        }
        for i in 0..frame.len().min(300) {
            for x in [0x01, 0x80, 0xff] {
                let mut bad = frame.clone();
                bad[i] ^= x;
                if let Ok(out) = decompress(&bad, 1 << 20) {
                    assert!(out.len() <= 1 << 20);
                }
            }
        }
        assert_eq!(decompress(b"", 10), Err(RecordsError::Decompression));
        assert_eq!(
            decompress(b"not zstd at all", 10),
            Err(RecordsError::Decompression)
        );
        let mut trailing = raw_frame(b"x");
        trailing.push(0);
        assert!(decompress(&trailing, 10).is_err());
    }

    #[test]
    fn bombs_and_huge_windows_stop_at_the_bound() {
        let zeros = vec![0u8; 4 << 20];
        let frame = zstd(&zeros);
        assert!(frame.len() < 64 * 1024);
        assert_eq!(
            decompress(&frame, 1 << 20),
            Err(RecordsError::DecompressedTooLarge)
        );
        // A header asking for a 2 TiB window (exponent 31) is refused before any allocation.
        let mut huge = raw_frame(b"x");
        huge[5] = 31 << 3;
        assert_eq!(
            decompress(&huge, 1 << 20),
            Err(RecordsError::DecompressedTooLarge)
        );
        // A single-segment frame whose window is its 8-byte content size.
        let mut single = MAGIC.to_le_bytes().to_vec();
        single.push(0xe0);
        single.extend_from_slice(&u64::MAX.to_le_bytes());
        single.extend_from_slice(&[0x09, 0, 0, b'x']);
        assert_eq!(
            decompress(&single, 1 << 20),
            Err(RecordsError::DecompressedTooLarge)
        );
    }
}
