//! Random bytes from the operating system, for ids that must differ between brokers and runs.

use std::io;

/// Fill `buf` from the OS's cryptographically secure source.
pub fn fill(buf: &mut [u8]) -> io::Result<()> {
    getrandom::fill(buf).map_err(|e| io::Error::other(format!("random source failed: {e}")))
}

/// A random `u64`, e.g. the seed of the broker's id generator.
pub fn u64() -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    fill(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_draws_differ() {
        let a = super::u64().expect("the OS random source is available in tests");
        let b = super::u64().expect("the OS random source is available in tests");
        assert_ne!(a, b);
    }
}
