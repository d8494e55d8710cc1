//! Member ids: `<client_id>-<uuid-ish>` from a seeded generator, so a run replays exactly.

use alloc::string::String;
use core::fmt::Write;

/// SplitMix64 over a seed: ids need to be unique, not secret.
#[derive(Clone, Debug)]
pub(crate) struct IdGenerator(u64);

impl IdGenerator {
    pub(crate) fn new(seed: u64) -> Self {
        IdGenerator(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A new member id, shaped like Kafka's (`consumer-g-1-1f0c...-...`).
    pub(crate) fn member_id(&mut self, client_id: &str) -> String {
        let (hi, lo) = (self.next_u64(), self.next_u64());
        let mut id = String::with_capacity(client_id.len() + 37);
        id.push_str(client_id);
        write!(
            id,
            "-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
        .expect("writing into a String cannot fail");
        id
    }
}

#[cfg(test)]
mod tests {
    use super::IdGenerator;

    #[test]
    fn ids_are_prefixed_unique_and_replayable() {
        let (mut a, mut b) = (IdGenerator::new(9), IdGenerator::new(9));
        let first = a.member_id("app");
        assert_eq!(first, b.member_id("app"));
        assert!(first.starts_with("app-"));
        assert_eq!(first.len(), "app-".len() + 36);
        assert_ne!(first, a.member_id("app"));
    }
}
