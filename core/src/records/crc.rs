//! The two checksums of Kafka's record formats.
//!
//! Record batch v2 uses CRC-32C (Castagnoli, `CRC_32_ISCSI`); legacy messages (magic 0 and 1)
//! use CRC-32 (IEEE, as `java.util.zip.CRC32`). Both have a 16-entry slicing table here. The
//! CRC-32C of every produced and recovered batch is on the hot path, where the CPU's `crc32`
//! instruction does it with less than half the instructions; `core` forbids `unsafe`, and a
//! call into a `#[target_feature]` function needs it on stable Rust, so a runtime that has the
//! instruction installs it once with [`install_crc32c`] (the server does, from
//! `blazemq_platform::crc`), and every CRC-32C after that uses it.

use alloc::boxed::Box;

use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, Crc, Table};
use once_cell::race::OnceBox;

const CASTAGNOLI: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
const IEEE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// Runs the reflected CRC-32C register `crc` over `data`, without the initial and final
/// inversion: what the SSE4.2 `crc32` instruction (and ARMv8's `crc32c`) compute.
pub type Crc32cUpdate = fn(crc: u32, data: &[u8]) -> u32;

static INSTALLED: OnceBox<Crc32cUpdate> = OnceBox::new();

/// Use `update` for every CRC-32C from now on, in place of the table. The first installation
/// wins; returns whether this one did.
pub fn install_crc32c(update: Crc32cUpdate) -> bool {
    INSTALLED.set(Box::new(update)).is_ok()
}

/// CRC-32C of `data`, as stored in a v2 batch header (over attributes to the batch end).
pub fn crc32c(data: &[u8]) -> u32 {
    match INSTALLED.get() {
        Some(update) => !update(u32::MAX, data),
        None => CASTAGNOLI.checksum(data),
    }
}

/// CRC-32C of `first` followed by `second`, as if they were one slice: a batch header kept
/// apart from its records.
pub fn crc32c_of_parts(first: &[u8], second: &[u8]) -> u32 {
    if let Some(update) = INSTALLED.get() {
        return !update(update(u32::MAX, first), second);
    }
    let mut digest = CASTAGNOLI.digest();
    digest.update(first);
    digest.update(second);
    digest.finalize()
}

/// The table's CRC-32C register update, in the form [`install_crc32c`] takes: for tests and
/// for a runtime checking its instruction against it.
pub fn crc32c_update_by_table(crc: u32, data: &[u8]) -> u32 {
    // The catalogue's digest takes its initial register bit-reversed (it reverses it back, as
    // the algorithm is reflected) and inverts the register at the end.
    let mut digest = CASTAGNOLI.digest_with_initial(crc.reverse_bits());
    digest.update(data);
    !digest.finalize()
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
    fn the_update_form_agrees_with_the_checksum() {
        let data: alloc::vec::Vec<u8> = (0..100u32).map(|i| (i * 31) as u8).collect();
        for len in 0..data.len() {
            let (a, b) = data[..len].split_at(len / 2);
            let updated = crc32c_update_by_table(crc32c_update_by_table(u32::MAX, a), b);
            assert_eq!(!updated, CASTAGNOLI.checksum(&data[..len]), "{len}");
        }
    }

    #[test]
    fn an_installed_update_is_used_and_the_first_installation_wins() {
        // The table's own update, installed: every result stays the same.
        let first = install_crc32c(crc32c_update_by_table);
        assert!(
            !install_crc32c(|_, _| 0),
            "a second installation is refused"
        );
        assert!(first || INSTALLED.get().is_some());
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_of_parts(b"1234", b"56789"), 0xE306_9283);
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
