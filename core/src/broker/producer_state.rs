//! Idempotent producers across restarts and over time: restored at startup from the recovery
//! checkpoint plus the batches appended after it, and forgotten once idle for
//! `producer_id_expiration_ms` (Kafka's `producer.id.expiration.ms`).
//!
//! Kafka snapshots this state per segment and replays from the newest snapshot. Here the
//! recovery checkpoint carries it: it is taken with the segments' lines and written after the
//! file system is synced, so it never describes a batch a crash can take. A restart restores
//! it and reads only the batches after the offset it was taken at, which are the bytes recovery
//! checks anyway. A partition the checkpoint does not know (created since, or no usable
//! checkpoint) is read whole; one whose log now ends before that offset (a power loss took
//! synced bytes, which the medium promises not to) keeps no producer, which accepts its next
//! batch at any sequence, as for a producer never seen.

use core::time::Duration;

use super::log_replay::each_batch;
use super::producers::{Producers, Sequenced};
use super::topics::Topics;
use super::{Broker, names};
use crate::log::RecoveryCheckpoint;
use crate::records::RecordBatch;
use crate::storage::{Storage, StorageError};

/// How often idle producers are looked for while any is known (Kafka's
/// `producer.id.expiration.check.interval.ms`, 10 minutes).
pub(super) const EXPIRATION_CHECK_INTERVAL: Duration = Duration::from_secs(600);

/// Every partition's producers, as of the recovered logs.
pub(super) fn restore<S: Storage>(
    topics: &mut Topics<S::Segment>,
    storage: &mut S,
    checkpoint: &RecoveryCheckpoint,
) -> Result<Producers, StorageError> {
    let mut producers = Producers::default();
    let mut partitions = alloc::vec::Vec::new();
    for (_, topic) in topics.iter() {
        if names::is_broker_log(&topic.name) {
            // The broker's own logs hold no producer's batches.
            continue;
        }
        for &pi in &topic.partitions {
            if let Some(p) = topics.partition(pi) {
                let known = checkpoint.producers(&topic.name, &topic.id.0, p.index);
                let from = match known {
                    Some((known_to, _)) if known_to > p.log.log_end_offset() => continue,
                    Some((known_to, entries)) => {
                        for entry in entries {
                            producers.restore(pi, entry);
                        }
                        known_to
                    }
                    None => p.log.log_start_offset(),
                };
                if from < p.log.log_end_offset() {
                    partitions.push((pi, from));
                }
            }
        }
    }
    for (pi, from) in partitions {
        if let Some(p) = topics.partition_mut(pi) {
            each_batch(&mut p.log, storage, from, &mut |batch| {
                replay(&mut producers, pi, batch);
            })?;
        }
    }
    Ok(producers)
}

/// What an appended batch tells of its producer, as the append told it.
fn replay(producers: &mut Producers, pi: u32, batch: &RecordBatch<&[u8]>) {
    if batch.producer_id() < 0 {
        return;
    }
    if batch.is_control() {
        producers.marker(
            pi,
            batch.producer_id(),
            batch.producer_epoch(),
            batch.max_timestamp(),
        );
        return;
    }
    let records = u64::try_from(batch.records_count()).unwrap_or(0);
    let sequenced = Sequenced::of(
        batch.producer_id(),
        batch.producer_epoch(),
        batch.base_sequence(),
        records,
    );
    if let Some(s) = sequenced {
        producers.appended(pi, &s, batch.base_offset(), batch.max_timestamp());
    }
}

impl<S: Storage> Broker<S> {
    /// A producer may have been heard from: the expiration check is due within its interval,
    /// unless one already is.
    pub(super) fn producer_expiry_arm(&mut self) {
        if self.producer_expiry.is_none() && !self.producers.is_empty() {
            self.producer_expiry = Some(self.now + EXPIRATION_CHECK_INTERVAL);
        }
    }

    /// Forget the producers idle for `producer_id_expiration_ms` if the check is due. A producer
    /// with a transaction open on a partition is kept there, as Kafka keeps it.
    pub(super) fn producer_expiry_check(&mut self) {
        if self.producer_expiry.is_none_or(|d| d > self.now) {
            return;
        }
        self.producer_expiry = None;
        let topics = &self.topics;
        let open = |pi: u32, id: i64| {
            topics
                .partition(pi)
                .is_some_and(|p| p.txns.open_since(id).is_some())
        };
        self.producers
            .expire(self.unix_ms, self.config.producer_id_expiration_ms, open);
        self.producer_expiry_arm();
    }
}

#[cfg(test)]
mod tests;
