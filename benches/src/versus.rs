//! Two broker commands side by side (`--versus-cmd`): each round starts each broker in turn
//! (the order alternates between rounds, so neither always runs first on a warmer machine),
//! runs the same modes against it, and stops it; the table gives each run's median records/s
//! over the rounds for both, and their ratio.

use std::fmt::Write as _;

use crate::modes::RunResult;

/// Records/s of every round, per run label, for the two commands.
#[derive(Clone, Debug, Default)]
pub struct Versus {
    /// Run labels in first-seen order, with the rates of command A and of command B.
    runs: Vec<(String, Vec<f64>, Vec<f64>)>,
}

impl Versus {
    /// A round's results of command A (`b` false) or B.
    pub fn add(&mut self, b: bool, results: &[RunResult]) {
        for r in results {
            let rate = r.rate(r.records);
            let i = match self.runs.iter().position(|(l, _, _)| *l == r.label) {
                Some(i) => i,
                None => {
                    self.runs.push((r.label.clone(), Vec::new(), Vec::new()));
                    self.runs.len() - 1
                }
            };
            let (_, a_rates, b_rates) = &mut self.runs[i];
            if b { b_rates } else { a_rates }.push(rate);
        }
    }

    /// The table: per run, each round's records/s of A and B, the medians and B / A.
    pub fn table(&self, a: &str, b: &str) -> String {
        let mut out = format!("A: {a}\nB: {b}\n\n");
        out.push_str("run | A records/s (median; rounds) | B records/s (median; rounds) | B / A\n");
        for (label, a_rates, b_rates) in &self.runs {
            let (ma, mb) = (median(a_rates), median(b_rates));
            let ratio = match (ma, mb) {
                (Some(x), Some(y)) if x > 0.0 => format!("{:.3}", y / x),
                _ => "-".into(),
            };
            writeln!(
                out,
                "{label} | {} | {} | {ratio}",
                rates_text(ma, a_rates),
                rates_text(mb, b_rates)
            )
            .expect("writing to a String cannot fail");
        }
        out
    }
}

fn rates_text(median: Option<f64>, rates: &[f64]) -> String {
    let all: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    match median {
        Some(m) => format!("{m:.0}; {}", all.join(", ")),
        None => "-".into(),
    }
}

/// The median (the mean of the middle two for an even count); `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::args::Mode;

    fn result(label: &str, records: u64) -> RunResult {
        RunResult {
            mode: Mode::Throughput,
            label: label.into(),
            elapsed: Duration::from_secs(1),
            requests: records,
            records,
            bytes: 0,
            latency: crate::stats::Latencies::new().summary(),
            broker_cpu_us_per_request: None,
            notes: Vec::new(),
        }
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn the_table_pairs_the_runs_of_both_commands() {
        let mut v = Versus::default();
        for (a, b) in [(100, 99), (110, 97), (90, 103)] {
            v.add(false, &[result("x1", a)]);
            v.add(true, &[result("x1", b)]);
        }
        let table = v.table("off", "on");
        assert!(
            table.contains("x1 | 100; 100, 110, 90 | 99; 99, 97, 103 | 0.990"),
            "{table}"
        );
    }
}
