//! The CPU's CRC-32C instruction, where it has one: `blazemq-core` forbids `unsafe` and takes
//! the instruction from here (`blazemq_core::records::crc::install_crc32c`).

/// The CRC-32C register update by the CPU's instruction (SSE4.2 `crc32` on x86-64), when this
/// CPU has it. The function runs the reflected register over the data without the initial and
/// final inversion.
pub fn crc32c_instruction() -> Option<fn(u32, &[u8]) -> u32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.2") {
        return Some(sse42::update_checked);
    }
    None
}

#[cfg(target_arch = "x86_64")]
mod sse42 {
    use std::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};

    /// Handed out only after `is_x86_feature_detected!("sse4.2")` said yes.
    pub fn update_checked(crc: u32, data: &[u8]) -> u32 {
        // SAFETY: `crc32c_instruction` returns this function only when the CPU running the
        // process has SSE4.2, the one feature `update` is compiled for; it takes no pointers.
        #[allow(unsafe_code)]
        unsafe {
            update(crc, data)
        }
    }

    #[target_feature(enable = "sse4.2")]
    fn update(crc: u32, data: &[u8]) -> u32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The bitwise definition: reflected polynomial 0x82F63B78, no inversions.
    fn by_bits(mut crc: u32, data: &[u8]) -> u32 {
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn the_instruction_agrees_with_the_definition_at_every_length_and_alignment() {
        let Some(update) = crc32c_instruction() else {
            // Only x86-64 without SSE4.2 (before 2008) lands here: nothing to compare.
            return;
        };
        assert_eq!(!update(u32::MAX, b"123456789"), 0xE306_9283);
        let data: Vec<u8> = (0..300u32).map(|i| (i * 151 + 7) as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                let bytes = &data[start..end];
                assert_eq!(update(0x1234_5678, bytes), by_bits(0x1234_5678, bytes));
            }
        }
    }
}
