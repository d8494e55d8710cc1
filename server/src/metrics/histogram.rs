//! A latency histogram with fixed buckets: counting is a few comparisons and additions, and
//! nothing is allocated.

use super::text::{Exposition, Kind};

/// Upper bounds of the buckets in nanoseconds, with the `le` label each renders as: from 100 µs
/// (an answer from memory) to 30 s (past Kafka's longest default fetch wait, 500 ms, and a
/// JoinGroup's rebalance wait). `+Inf` is implicit.
const BUCKETS: [(u64, &str); 16] = [
    (100_000, "0.0001"),
    (250_000, "0.00025"),
    (500_000, "0.0005"),
    (1_000_000, "0.001"),
    (2_500_000, "0.0025"),
    (5_000_000, "0.005"),
    (10_000_000, "0.01"),
    (25_000_000, "0.025"),
    (50_000_000, "0.05"),
    (100_000_000, "0.1"),
    (250_000_000, "0.25"),
    (500_000_000, "0.5"),
    (1_000_000_000, "1"),
    (2_500_000_000, "2.5"),
    (10_000_000_000, "10"),
    (30_000_000_000, "30"),
];

const _: () = {
    let mut i = 1;
    while i < BUCKETS.len() {
        assert!(BUCKETS[i - 1].0 < BUCKETS[i].0, "bucket bounds ascend");
        i += 1;
    }
};

/// Observations by bucket (not cumulative: rendering adds them up), their sum and count.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum_nanos: u64,
    count: u64,
}

impl Histogram {
    /// One observation of `nanos` nanoseconds.
    #[inline]
    pub fn observe(&mut self, nanos: u64) {
        if let Some(i) = BUCKETS.iter().position(|&(bound, _)| nanos <= bound) {
            self.buckets[i] += 1;
        }
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The samples of family `name` (started by the caller) with `labels` and `le`.
    pub fn render(&self, w: &mut Exposition<'_>, name: &str, labels: &[(&str, &str)]) {
        let bucket = format!("{name}_bucket");
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        with_le.push(("le", ""));
        let last = with_le.len() - 1;
        let mut cumulative = 0;
        for (&(_, le), &n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n;
            with_le[last].1 = le;
            w.sample(&bucket, &with_le, cumulative);
        }
        with_le[last].1 = "+Inf";
        w.sample(&bucket, &with_le, self.count);
        w.sample(&format!("{name}_sum"), labels, self.sum_nanos as f64 / 1e9);
        w.sample(&format!("{name}_count"), labels, self.count);
    }
}

/// Start a histogram family.
pub fn family(w: &mut Exposition<'_>, name: &str, help: &str) {
    w.family(name, help, Kind::Histogram);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let mut h = Histogram::default();
        h.observe(0);
        h.observe(100_000);
        h.observe(100_001);
        h.observe(31_000_000_000);
        assert_eq!(h.buckets[0], 2, "at or below 100 µs");
        assert_eq!(h.buckets[1], 1);
        assert_eq!(h.buckets.iter().sum::<u64>(), 3, "above 30 s: only +Inf");
        assert_eq!((h.count, h.sum_nanos), (4, 31_000_200_001));
    }

    #[test]
    fn buckets_render_cumulative_and_inf_is_the_count() {
        let mut h = Histogram::default();
        h.observe(1_000_000);
        h.observe(2_000_000_000);
        let mut out = String::new();
        let mut w = Exposition::new(&mut out);
        family(&mut w, "x_seconds", "X.");
        h.render(&mut w, "x_seconds", &[("api", "Produce")]);
        assert!(out.contains("x_seconds_bucket{api=\"Produce\",le=\"0.0005\"} 0\n"));
        assert!(out.contains("x_seconds_bucket{api=\"Produce\",le=\"0.001\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{api=\"Produce\",le=\"2.5\"} 2\n"));
        assert!(out.contains("x_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 2\n"));
        assert!(out.contains("x_seconds_sum{api=\"Produce\"} 2.001\n"));
        assert!(out.contains("x_seconds_count{api=\"Produce\"} 2\n"));
    }
}
