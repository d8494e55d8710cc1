//! When the recovery checkpoint is written: at shutdown, and while appends go on, once every
//! `log.flush.offset.checkpoint.interval.ms` (as Kafka checkpoints its recovery points). Client
//! bytes arm the deadline; an idle broker never wakes for it, and a checkpoint that would say
//! what the last one said is not written again.

use alloc::vec::Vec;
use core::time::Duration;

use super::Broker;
use crate::storage::{Storage, StorageError};
use crate::time::Instant;

/// The checkpoint's deadline and what was last written.
#[derive(Debug, Default)]
pub(super) struct CheckpointTimer {
    /// When the next checkpoint is due; `None` until something may have been appended.
    pub deadline: Option<Instant>,
    /// The bytes last handed to the storage.
    last: Vec<u8>,
}

impl<S: Storage> Broker<S> {
    /// Bytes came from a client and may have been appended: a checkpoint is due within the
    /// interval, unless one already is.
    pub(super) fn checkpoint_arm(&mut self) {
        let interval = self.config.log_flush_offset_checkpoint_interval_ms;
        if let (None, Some(ms)) = (self.checkpoint.deadline, interval) {
            self.checkpoint.deadline = Some(self.now + Duration::from_millis(u64::from(ms)));
        }
    }

    /// Write the checkpoint if its deadline has come. A failed write is retried at the next
    /// deadline; meanwhile the last checkpoint written stays correct, it vouches for less.
    pub(super) fn checkpoint_check(&mut self) {
        if self.checkpoint.deadline.is_some_and(|d| d <= self.now) {
            self.checkpoint.deadline = None;
            if self.write_checkpoint().is_err() {
                self.checkpoint_arm();
            }
        }
    }

    /// Hand the checkpoint of every segment as it is now to the storage, unless it is the one
    /// handed last.
    pub(super) fn write_checkpoint(&mut self) -> Result<(), StorageError> {
        let bytes = self.topics.recovery_checkpoint(&self.producers);
        if bytes != self.checkpoint.last {
            self.storage.write_recovery_checkpoint(&bytes)?;
            self.checkpoint.last = bytes;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::harness::{CONN, Driver, create, driven, produce_request};
    use crate::broker::{BrokerConfig, ConnId};
    use crate::log::RecoveryCheckpoint;
    use crate::records::BatchBuilder;
    use crate::storage::MemoryStorage;
    use alloc::string::String;

    const INTERVAL_MS: u32 = 1_000;

    fn start(storage: MemoryStorage) -> Driver<MemoryStorage> {
        let config = BrokerConfig {
            segment_size_bytes: 2_000,
            log_flush_offset_checkpoint_interval_ms: Some(INTERVAL_MS),
            ..BrokerConfig::default()
        };
        driven(config, storage)
    }

    fn at(ms: u64) -> Instant {
        Instant::default() + Duration::from_millis(ms)
    }

    /// Produce one batch to `t-0` through the broker's input at `ms`; returns the deadline.
    fn produce(b: &mut Driver<MemoryStorage>, ms: u64) -> Option<Instant> {
        let mut batch = BatchBuilder::new(0);
        batch.push(ms as i64, None, Some(&[5; 200]), &[]);
        b.clock.move_to(at(ms));
        b.send(CONN, 9, &produce_request("t", 0, batch.finish()));
        drain(b)
    }

    fn drain(b: &mut Driver<MemoryStorage>) -> Option<Instant> {
        b.drain().expect("outputs end").deadline
    }

    /// Move the clock to `ms`, firing what is due on the way; returns the next deadline.
    fn tick(b: &mut Driver<MemoryStorage>, ms: u64) -> Option<Instant> {
        b.advance_to(at(ms));
        drain(b)
    }

    #[test]
    fn written_on_its_deadline_only_when_something_changed() {
        let mut b = start(MemoryStorage::default());
        // Client bytes arm the checkpoint: the topic's creation at 0 makes it due at 1 s.
        create(&mut b, "t", 1, &[]);
        // Retention's first look is due at once; after it, the creation's checkpoint.
        assert_eq!(tick(&mut b, 0), Some(at(u64::from(INTERVAL_MS))));
        assert_eq!(tick(&mut b, 1_000), None, "an idle broker has no deadline");
        assert_eq!(b.storage.recovery_checkpoints_written, 1);
        assert_eq!(
            produce(&mut b, 1_010),
            Some(at(1_010 + u64::from(INTERVAL_MS)))
        );
        assert_eq!(produce(&mut b, 1_500), Some(at(2_010)), "already due");
        tick(&mut b, 2_009);
        assert_eq!(b.storage.recovery_checkpoints_written, 1);
        assert_eq!(tick(&mut b, 2_010), None);
        assert_eq!(b.storage.recovery_checkpoints_written, 2);
        let cp = b.storage.recovery_checkpoint.clone().expect("written");
        let decoded = RecoveryCheckpoint::decode(&cp).expect("decodes");
        assert_eq!(decoded.len(), 1);
        // Nothing appended since: due again after client bytes, but not written again.
        let fetchless = produce_nothing(&mut b, 3_000);
        assert_eq!(fetchless, Some(at(4_000)));
        tick(&mut b, 4_000);
        assert_eq!(b.storage.recovery_checkpoints_written, 2);
        // Appends: written again, once.
        for ms in 5_000..5_020 {
            produce(&mut b, ms);
        }
        tick(&mut b, 6_000);
        assert_eq!(b.storage.recovery_checkpoints_written, 3);
        assert_ne!(b.storage.recovery_checkpoint, Some(cp));
    }

    /// Bytes that append nothing (half a frame, on another connection) at `ms`; returns the
    /// deadline.
    fn produce_nothing(b: &mut Driver<MemoryStorage>, ms: u64) -> Option<Instant> {
        b.clock.move_to(at(ms));
        b.feed(ConnId(2), &[0, 0]);
        drain(b)
    }

    #[test]
    fn shutdown_vouches_for_everything_and_a_restart_reads_nothing() {
        let mut b = start(MemoryStorage::default());
        create(&mut b, "t", 1, &[]);
        for ms in 0..40 {
            produce(&mut b, ms);
        }
        let end = b
            .topics
            .partition(0)
            .expect("partition")
            .log
            .log_end_offset();
        b.shutdown().expect("shuts down");
        // The restart finds the segments as after a crash, with the checkpoint.
        let metadata = &b.storage.metadata;
        let found = b.found_after_crash(|t, p| metadata.get(&(String::from(t), p)).cloned());
        let mut storage = core::mem::take(&mut b.storage);
        storage.found = found;
        let mut again = start(storage);
        let log = &again.topics.partition(0).expect("partition").log;
        assert!(log.segment_count() > 3);
        assert_eq!(log.log_end_offset(), end);
        assert!(
            log.segments().iter().all(|s| !s.is_indexed()),
            "every segment opened from the checkpoint"
        );
        assert!(
            log.segments().iter().all(|s| !s.is_open()),
            "a restart leaves every segment closed"
        );
        let read = again.read_log(0, |log| log.read(end - 1, 1).map(|r| r.is_some()));
        assert_eq!(read, Some(Ok(true)), "a read opens the segment it needs");
        assert_eq!(again.open_segment_count(), 1);
    }
}
