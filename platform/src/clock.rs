//! Time as the broker wants it: a monotonic count of nanoseconds for deadlines, and wall-clock
//! milliseconds since the Unix epoch for Kafka timestamps.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock counting nanoseconds from its creation.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Clock {
            origin: Instant::now(),
        }
    }

    /// Nanoseconds since the clock was created; never goes backwards.
    pub fn now_nanos(&self) -> u64 {
        // u64 nanoseconds last 584 years: saturating is only a formality.
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Wall-clock milliseconds since the Unix epoch (0 if the system clock is set before 1970).
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_advances() {
        let clock = Clock::new();
        let a = clock.now_nanos();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = clock.now_nanos();
        assert!(b >= a + 2_000_000, "{a} then {b}");
    }

    #[test]
    fn wall_clock_is_after_2020() {
        assert!(unix_ms() > 1_577_836_800_000);
    }
}
