//! The two checksums of Kafka's record formats.
//!
//! Record batch v2 uses CRC-32C (Castagnoli, `CRC_32_ISCSI`); legacy messages (magic 0 and 1)
//! use CRC-32 (IEEE, as `java.util.zip.CRC32`). Both use 16-entry slicing tables: the CRC of every
//! produced and recovered batch is on the hot path.

use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, Crc, Table};

const CASTAGNOLI: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
const IEEE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// CRC-32C of `data`, as stored in a v2 batch header (over attributes to the batch end).
pub fn crc32c(data: &[u8]) -> u32 {
    CASTAGNOLI.checksum(data)
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
}
