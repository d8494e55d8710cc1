//! The two checksums of Kafka's record formats.
//!
//! Record batch v2 uses CRC-32C (Castagnoli, `CRC_32_ISCSI`); legacy messages (magic 0 and 1)
//! use CRC-32 (IEEE, as `java.util.zip.CRC32`). Both use a 16-entry slicing table (about 4 GB/s
//! on a current x86-64 core). The CPU's `crc32` instruction would be 2.5 times as fast, but on
//! stable Rust a call into a `#[target_feature]` function stays `unsafe` even where the build
//! enables the feature, and `core` forbids `unsafe`: the CRC of a 16 KiB batch costs about 4 µs.

use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, Crc, Table};

const CASTAGNOLI: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
const IEEE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// CRC-32C of `data`, as stored in a v2 batch header (over attributes to the batch end).
pub fn crc32c(data: &[u8]) -> u32 {
    CASTAGNOLI.checksum(data)
}

/// CRC-32C of `first` followed by `second`, as if they were one slice: a batch header kept
/// apart from its records.
pub fn crc32c_of_parts(first: &[u8], second: &[u8]) -> u32 {
    let mut digest = CASTAGNOLI.digest();
    digest.update(first);
    digest.update(second);
    digest.finalize()
}

/// CRC-32 (IEEE) of `data`, as stored in a legacy message (over magic to the message end).
pub fn crc32(data: &[u8]) -> u32 {
    IEEE.checksum(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // The "check" values of both catalogue entries.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn crc32c_of_parts_matches_crc32c_at_every_split() {
        let data: alloc::vec::Vec<u8> = (0..300u32).map(|i| (i * 151 + 7) as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                let bytes = &data[start..end];
                let (first, second) = bytes.split_at((end - start) / 3);
                assert_eq!(crc32c_of_parts(first, second), crc32c(bytes));
            }
        }
    }
}
