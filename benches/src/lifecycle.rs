//! Starts and stops of a broker the tool runs itself: startup with an empty data directory,
//! startup on data written by an earlier run (after a clean shutdown), and the time from
//! SIGTERM to the exit.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::broker::SpawnedBroker;
use crate::error::{BenchError, Result};
use crate::modes::produce::Producer;
use crate::modes::throughput::pipelined;
use crate::modes::{Bounds, batch, topic_name};

/// Median, minimum and maximum of a few durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spread {
    /// How many.
    pub n: usize,
    /// The median (the upper one of an even count).
    pub median: Duration,
    /// The smallest.
    pub min: Duration,
    /// The largest.
    pub max: Duration,
}

impl Spread {
    /// The spread of `samples` (`None` when there are none).
    pub fn of(mut samples: Vec<Duration>) -> Option<Spread> {
        samples.sort_unstable();
        Some(Spread {
            n: samples.len(),
            median: *samples.get(samples.len() / 2)?,
            min: *samples.first()?,
            max: *samples.last()?,
        })
    }
}

/// What the extra starts measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lifecycle {
    /// Startup with an empty data directory.
    pub startup_empty: Option<Spread>,
    /// SIGTERM to exit of an idle broker, after those starts.
    pub exit: Option<Spread>,
    /// Exit codes other than 0 seen after SIGTERM.
    pub unclean_exits: usize,
    /// Partitions holding data for the restarts.
    pub restart_partitions: usize,
    /// Startup on those partitions after a clean shutdown.
    pub startup_with_data: Option<Spread>,
    /// SIGTERM to exit right after a batch was written to each of those partitions.
    pub exit_with_data: Option<Spread>,
}

/// Starts `template` `n` times with an empty data directory, each time waiting for the first
/// answer and then stopping it with SIGTERM.
pub fn starts(template: &str, n: usize, lifecycle: &mut Lifecycle) -> Result<()> {
    let (mut startups, mut exits) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let mut broker = SpawnedBroker::start(template)?;
        startups.push(broker.startup);
        let exit = broker.stop()?;
        exits.push(exit.after);
        if exit.code != Some(0) {
            lifecycle.unclean_exits += 1;
        }
    }
    lifecycle.startup_empty = Spread::of(startups);
    lifecycle.exit = Spread::of(exits);
    Ok(())
}

/// Starts `template`, then `n` times writes one batch of `records` records to each of
/// `partitions` partitions and restarts the broker on that data: SIGTERM to exit (what the
/// shutdown syncs is what was just written), then start to first answer.
pub fn restarts(
    template: &str,
    partitions: usize,
    records: usize,
    value_size: usize,
    n: usize,
    lifecycle: &mut Lifecycle,
) -> Result<()> {
    let mut broker = SpawnedBroker::start(template)?;
    let count =
        i32::try_from(partitions).map_err(|_| BenchError::Usage("too many partitions".into()))?;
    let mut producer = Producer::new(
        broker.addr,
        &topic_name("restart"),
        count,
        0,
        batch(records, value_size),
    )?;
    producer.spread_over(count);
    let fill = Bounds {
        duration: Duration::from_secs(600),
        count: Some(partitions as u64),
    };
    let (mut startups, mut exits) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n.max(1) {
        pipelined(&mut producer, 8, &fill, &AtomicU64::new(0))?;
        let (exit, startup) = broker.restart()?;
        if exit.code != Some(0) {
            lifecycle.unclean_exits += 1;
        }
        exits.push(exit.after);
        startups.push(startup);
        producer.reconnect(broker.addr)?;
    }
    if broker.stop()?.code != Some(0) {
        lifecycle.unclean_exits += 1;
    }
    lifecycle.restart_partitions = partitions;
    lifecycle.startup_with_data = Spread::of(startups);
    lifecycle.exit_with_data = Spread::of(exits);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads() {
        let ms = Duration::from_millis;
        assert_eq!(Spread::of(Vec::new()), None);
        let s = Spread::of(vec![ms(5), ms(1), ms(3), ms(9)]).expect("samples");
        assert_eq!((s.n, s.median, s.min, s.max), (4, ms(5), ms(1), ms(9)));
        let one = Spread::of(vec![ms(2)]).expect("a sample");
        assert_eq!((one.median, one.min, one.max), (ms(2), ms(2), ms(2)));
    }
}
