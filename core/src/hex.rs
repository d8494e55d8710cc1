//! 16-byte ids (topic ids) as 32 lowercase hex digits, as the metadata and checkpoint files
//! hold them.

use alloc::string::String;
use core::fmt::Write;

/// `bytes` as 32 lowercase hex digits.
pub(crate) fn hex16(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(32);
    for b in bytes {
        write!(out, "{b:02x}").expect("writing into a String cannot fail");
    }
    out
}

/// The 16 bytes that 32 hex digits spell, or `None` for anything else.
pub(crate) fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    let s = s.as_bytes();
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_bad_digits_are_refused() {
        let id: [u8; 16] = core::array::from_fn(|i| (i * 17) as u8);
        let text = hex16(&id);
        assert_eq!(text.len(), 32);
        assert_eq!(parse_hex16(&text), Some(id));
        assert_eq!(parse_hex16(&text[..30]), None);
        assert_eq!(parse_hex16(&"zz".repeat(16)), None);
    }
}
