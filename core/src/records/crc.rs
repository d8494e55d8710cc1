//! The two checksums of Kafka's record formats.
//!
//! Record batch v2 uses CRC-32C (Castagnoli, `CRC_32_ISCSI`); legacy messages (magic 0 and 1)
//! use CRC-32 (IEEE, as `java.util.zip.CRC32`). The CRC of every produced and recovered batch is
//! on the hot path: where the build targets SSE4.2 (x86-64-v2, see `.cargo/config.toml`),
//! CRC-32C uses the CPU's `crc32` instruction, 8 bytes at a time; elsewhere, and for CRC-32, a
//! 16-entry slicing table.

use crc::{CRC_32_ISO_HDLC, Crc, Table};

// With the instruction, the table only checks it in tests.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse4.2"))))]
const CASTAGNOLI: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&crc::CRC_32_ISCSI);
const IEEE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// CRC-32C of `data`, as stored in a v2 batch header (over attributes to the batch end).
pub fn crc32c(data: &[u8]) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse4.2"))]
    {
        // SAFETY: the build enables SSE4.2 for every function (cfg above), so the CPU that runs
        // this code has it, as it has every other instruction the compiler chose.
        #[allow(unsafe_code)]
        unsafe {
            sse42::crc32c(data)
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse4.2")))]
    {
        CASTAGNOLI.checksum(data)
    }
}

/// CRC-32C of `first` followed by `second`, as if they were one slice: a batch header kept
/// apart from its records.
pub fn crc32c_of_parts(first: &[u8], second: &[u8]) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse4.2"))]
    {
        // SAFETY: as in `crc32c`.
        #[allow(unsafe_code)]
        unsafe {
            !sse42::update(sse42::update(u32::MAX, first), second)
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse4.2")))]
    {
        let mut digest = CASTAGNOLI.digest();
        digest.update(first);
        digest.update(second);
        digest.finalize()
    }
}

/// CRC-32C with the SSE4.2 `crc32` instruction, which computes the reflected Castagnoli CRC
/// without the initial and final inversion.
#[cfg(all(target_arch = "x86_64", target_feature = "sse4.2"))]
mod sse42 {
    use core::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};

    #[target_feature(enable = "sse4.2")]
    pub fn crc32c(data: &[u8]) -> u32 {
        !update(u32::MAX, data)
    }

    /// Runs the CRC register `crc` over `data`, without the final inversion.
    #[target_feature(enable = "sse4.2")]
    pub fn update(crc: u32, data: &[u8]) -> u32 {
        let words = data.chunks_exact(8);
        let tail = words.remainder();
        let mut crc = u64::from(crc);
        for word in words {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(word);
            crc = _mm_crc32_u64(crc, u64::from_le_bytes(bytes));
        }
        // The instruction leaves the upper half zero: the truncation drops nothing.
        let mut crc = crc as u32;
        for &byte in tail {
            crc = _mm_crc32_u8(crc, byte);
        }
        crc
    }
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
    fn crc32c_matches_the_table_at_every_length_and_alignment() {
        let data: alloc::vec::Vec<u8> = (0..300u32).map(|i| (i * 151 + 7) as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                let bytes = &data[start..end];
                assert_eq!(crc32c(bytes), CASTAGNOLI.checksum(bytes), "{start}..{end}");
                let (first, second) = bytes.split_at((end - start) / 3);
                assert_eq!(crc32c_of_parts(first, second), crc32c(bytes));
            }
        }
    }
}
