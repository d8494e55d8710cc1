//! Latency histograms (HDR, nanoseconds) and the summary a run reports.

use std::time::Duration;

use hdrhistogram::Histogram;

/// The quantiles every run reports, with their names in the table and the JSON.
pub const QUANTILES: [(&str, f64); 4] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p99.9", 0.999),
];

/// Largest latency recorded: longer ones are clamped to it (a minute is a failed run anyway).
const LATENCY_NS_MAX: u64 = 60_000_000_000;

/// Latencies of one run, in nanoseconds, three significant digits.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Latencies {
        let histogram = Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3)
            .expect("1 ns to 60 s at 3 digits are valid histogram bounds");
        Latencies { histogram }
    }

    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record(ns.clamp(1, LATENCY_NS_MAX));
    }

    /// Adds another run's latencies (one histogram per connection, merged at the end).
    pub fn merge(&mut self, other: &Latencies) {
        // Both have the same bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The summary: quantiles and max, in microseconds.
    pub fn summary(&self) -> Summary {
        let us = |ns: u64| ns as f64 / 1_000.0;
        let mut quantiles = [0.0; QUANTILES.len()];
        for (q, (_, at)) in quantiles.iter_mut().zip(QUANTILES) {
            *q = us(self.histogram.value_at_quantile(at));
        }
        Summary {
            count: self.count(),
            quantiles_us: quantiles,
            max_us: us(self.histogram.max()),
        }
    }
}

/// A latency distribution in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Latencies recorded.
    pub count: u64,
    /// The values at [`QUANTILES`], in order.
    pub quantiles_us: [f64; QUANTILES.len()],
    /// The largest latency.
    pub max_us: f64,
}

impl Summary {
    /// The median.
    pub fn p50_us(&self) -> f64 {
        self.quantiles_us[0]
    }

    /// Each quantile and the max divided by the same one of `floor` (`None` where the floor is 0).
    pub fn ratios_to(&self, floor: &Summary) -> [Option<f64>; QUANTILES.len() + 1] {
        let mut out = [None; QUANTILES.len() + 1];
        let pairs = self
            .quantiles_us
            .iter()
            .zip(&floor.quantiles_us)
            .chain([(&self.max_us, &floor.max_us)]);
        for (slot, (v, f)) in out.iter_mut().zip(pairs) {
            *slot = (*f > 0.0).then(|| v / f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut l = Latencies::new();
        for us in 1..=1000 {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        let close = |a: f64, b: f64| (a - b).abs() / b < 0.01;
        assert!(close(s.p50_us(), 500.0), "{s:?}");
        assert!(close(s.quantiles_us[1], 900.0), "{s:?}");
        assert!(close(s.quantiles_us[2], 990.0), "{s:?}");
        assert!(close(s.quantiles_us[3], 999.0), "{s:?}");
        assert!(close(s.max_us, 1000.0), "{s:?}");
    }

    #[test]
    fn merge_ratios_and_clamping() {
        let mut a = Latencies::new();
        a.record(Duration::from_micros(10));
        let mut b = Latencies::new();
        b.record(Duration::from_micros(10));
        b.record(Duration::ZERO);
        b.record(Duration::from_secs(3600));
        a.merge(&b);
        assert_eq!(a.count(), 4);
        assert!(a.summary().max_us <= 60.1e6);
        let mut floor = Latencies::new();
        floor.record(Duration::from_micros(5));
        let r = a.summary().ratios_to(&floor.summary());
        assert!(r[0].is_some_and(|x| (x - 2.0).abs() < 0.01), "{r:?}");
        assert_eq!(
            Latencies::new().summary().ratios_to(&Summary {
                count: 0,
                quantiles_us: [0.0; 4],
                max_us: 0.0
            }),
            [None; 5]
        );
    }
}
