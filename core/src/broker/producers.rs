//! Idempotent producers' sequence numbers, per partition (Kafka's `ProducerStateManager`).
//!
//! A producer with an id numbers its batches per partition. A retried batch that was already
//! appended (its answer was lost) must not be appended again: it gets the first answer's offset.
//! A batch that skips ahead means one was lost: OUT_OF_ORDER_SEQUENCE_NUMBER, and the producer
//! resends. As in Kafka, the last five batches of each producer are remembered, a new epoch starts
//! at sequence 0, an older epoch is fenced, and a producer the partition has not seen (new, or
//! forgotten) may start at any sequence: Kafka 4.x answers 0 to a first batch at sequence 5,
//! from an id it issued or one it never did (its `ProducerAppendInfo` accepts any sequence when
//! it holds no epoch for the producer; UNKNOWN_PRODUCER_ID is no longer sent since KIP-360).
//!
//! The state survives a restart: the recovery checkpoint keeps it as it was when the checkpoint's
//! segment lines were taken, and a restart restores that and reads the batches appended since
//! (see `producer_state`), so a retry of a batch appended before a kill -9 is still answered as a
//! duplicate. A producer idle for `producer_id_expiration_ms` with no transaction open is
//! forgotten, as Kafka forgets it, so the state stays bounded by the producers of that window.

use alloc::collections::BTreeMap;

use crate::error::ErrorCode;
use crate::log::checkpoint::ProducerEntry;

/// How many of a producer's batches are remembered: the most a producer sends in flight
/// (`max.in.flight.requests.per.connection` is at most 5 with idempotence).
const BATCHES_REMEMBERED: usize = 5;

/// One appended batch: its sequence numbers and where it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BatchSeq {
    first: i32,
    last: i32,
    base_offset: i64,
}

#[derive(Debug)]
struct Producer {
    epoch: i16,
    /// The largest timestamp of its last batch (DescribeProducers' `LastTimestamp`).
    last_timestamp: i64,
    /// The last [`BATCHES_REMEMBERED`]; a new one overwrites the oldest.
    batches: heapless::HistoryBuf<BatchSeq, BATCHES_REMEMBERED>,
}

/// A batch's producer fields, when it has a producer id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sequenced {
    pub producer_id: i64,
    pub epoch: i16,
    pub first: i32,
    pub last: i32,
}

impl Sequenced {
    /// The fields of a batch whose first sequence is `base_sequence` and that holds `records`
    /// records; `None` without a producer id.
    pub fn of(producer_id: i64, epoch: i16, base_sequence: i32, records: u64) -> Option<Self> {
        if producer_id < 0 || base_sequence < 0 || records == 0 {
            return None;
        }
        let span = i32::try_from(records - 1).ok()?;
        Some(Sequenced {
            producer_id,
            epoch,
            first: base_sequence,
            last: increment(base_sequence, span),
        })
    }
}

/// What to do with a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Append it.
    Append,
    /// Already appended at this base offset: answer that, append nothing.
    Duplicate(i64),
    /// Refuse it with this error.
    Refuse(ErrorCode),
}

/// Sequence state of every producer, by partition index and producer id.
#[derive(Debug, Default)]
pub(super) struct Producers {
    by_partition: BTreeMap<(u32, i64), Producer>,
}

impl Producers {
    /// Kafka's checks for a batch `s` about to be appended to partition `partition`.
    pub fn check(&self, partition: u32, s: &Sequenced) -> Verdict {
        let Some(p) = self.by_partition.get(&(partition, s.producer_id)) else {
            return Verdict::Append;
        };
        if s.epoch < p.epoch {
            return Verdict::Refuse(ErrorCode::InvalidProducerEpoch);
        }
        if s.epoch > p.epoch {
            return if s.first == 0 {
                Verdict::Append
            } else {
                Verdict::Refuse(ErrorCode::OutOfOrderSequenceNumber)
            };
        }
        if let Some(b) = p
            .batches
            .oldest_ordered()
            .find(|b| b.first == s.first && b.last == s.last)
        {
            return Verdict::Duplicate(b.base_offset);
        }
        match p.batches.recent() {
            Some(last) if s.first != increment(last.last, 1) => {
                Verdict::Refuse(ErrorCode::OutOfOrderSequenceNumber)
            }
            _ => Verdict::Append,
        }
    }

    /// Remember that `s`, stamped up to `max_timestamp`, was appended at `base_offset` of
    /// partition `partition`.
    pub fn appended(
        &mut self,
        partition: u32,
        s: &Sequenced,
        base_offset: i64,
        max_timestamp: i64,
    ) {
        let p = self
            .by_partition
            .entry((partition, s.producer_id))
            .or_insert(Producer {
                epoch: s.epoch,
                last_timestamp: -1,
                batches: heapless::HistoryBuf::new(),
            });
        p.last_timestamp = max_timestamp;
        if s.epoch != p.epoch {
            p.epoch = s.epoch;
            p.batches.clear();
        }
        p.batches.write(BatchSeq {
            first: s.first,
            last: s.last,
            base_offset,
        });
    }

    /// A COMMIT or ABORT marker of `producer_id` at `epoch` was appended to `partition`: as in
    /// Kafka, a newer epoch becomes the producer's there, fencing the older one, and its next
    /// batch starts a new sequence.
    pub fn marker(&mut self, partition: u32, producer_id: i64, epoch: i16, timestamp: i64) {
        let p = self
            .by_partition
            .entry((partition, producer_id))
            .or_insert(Producer {
                epoch,
                last_timestamp: timestamp,
                batches: heapless::HistoryBuf::new(),
            });
        if epoch > p.epoch {
            p.epoch = epoch;
            p.batches.clear();
        }
        p.last_timestamp = p.last_timestamp.max(timestamp);
    }

    /// Forget the producers whose last batch is stamped `expiration_ms` or more before
    /// `now_ms` and that `keep` does not hold (a producer with a transaction open); returns how
    /// many were forgotten. Kafka's rule: the batches' own timestamps against the wall clock.
    pub fn expire(
        &mut self,
        now_ms: i64,
        expiration_ms: i64,
        keep: impl Fn(u32, i64) -> bool,
    ) -> usize {
        let before = self.by_partition.len();
        self.by_partition.retain(|&(partition, id), p| {
            now_ms.saturating_sub(p.last_timestamp) < expiration_ms || keep(partition, id)
        });
        before - self.by_partition.len()
    }

    /// Whether no producer is known.
    pub fn is_empty(&self) -> bool {
        self.by_partition.is_empty()
    }

    /// Partition `partition`'s producers, as the recovery checkpoint keeps them.
    pub fn snapshot(&self, partition: u32) -> impl Iterator<Item = ProducerEntry> + '_ {
        self.by_partition
            .range((partition, i64::MIN)..=(partition, i64::MAX))
            .map(|(&(_, producer_id), p)| ProducerEntry {
                producer_id,
                epoch: p.epoch,
                last_timestamp: p.last_timestamp,
                batches: p
                    .batches
                    .oldest_ordered()
                    .map(|b| (b.first, b.last, b.base_offset))
                    .collect(),
            })
    }

    /// Take back a producer of partition `partition` from the recovery checkpoint.
    pub fn restore(&mut self, partition: u32, entry: &ProducerEntry) {
        let mut batches = heapless::HistoryBuf::new();
        for &(first, last, base_offset) in &entry.batches {
            batches.write(BatchSeq {
                first,
                last,
                base_offset,
            });
        }
        self.by_partition.insert(
            (partition, entry.producer_id),
            Producer {
                epoch: entry.epoch,
                last_timestamp: entry.last_timestamp,
                batches,
            },
        );
    }

    /// The producers partition `partition` has seen, as `(producer id, epoch, last sequence,
    /// last timestamp)`, by producer id.
    pub fn on_partition(&self, partition: u32) -> impl Iterator<Item = (i64, i16, i32, i64)> + '_ {
        self.by_partition
            .range((partition, i64::MIN)..=(partition, i64::MAX))
            .map(|(&(_, id), p)| {
                let last = p.batches.recent().map_or(-1, |b| b.last);
                (id, p.epoch, last, p.last_timestamp)
            })
    }

    /// Forget the producers of a partition that was deleted.
    pub fn forget_partition(&mut self, partition: u32) {
        let ids: alloc::vec::Vec<(u32, i64)> = self
            .by_partition
            .range((partition, i64::MIN)..=(partition, i64::MAX))
            .map(|(&key, _)| key)
            .collect();
        for key in ids {
            self.by_partition.remove(&key);
        }
    }
}

/// `seq + by`, wrapping past `i32::MAX` to 0 as Kafka's sequence numbers do.
fn increment(seq: i32, by: i32) -> i32 {
    if seq > i32::MAX - by {
        by - (i32::MAX - seq) - 1
    } else {
        seq + by
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(epoch: i16, first: i32, records: u64) -> Sequenced {
        Sequenced::of(7, epoch, first, records).expect("sequenced")
    }

    #[test]
    fn sequences_wrap_to_zero_after_the_largest() {
        assert_eq!(increment(5, 3), 8);
        assert_eq!(increment(i32::MAX, 1), 0);
        assert_eq!(increment(i32::MAX - 1, 3), 1);
        assert_eq!(batch(0, i32::MAX - 1, 4).last, 1);
        assert_eq!(Sequenced::of(-1, 0, 0, 1), None);
        assert_eq!(Sequenced::of(7, 0, -1, 1), None);
    }

    #[test]
    fn kafkas_rules_for_a_producers_batches() {
        let mut p = Producers::default();
        // A producer this partition has not seen may start anywhere.
        assert_eq!(p.check(0, &batch(0, 40, 2)), Verdict::Append);
        p.appended(0, &batch(0, 40, 2), 100, 0);
        // The next in order; a retry of an appended one; a gap; a batch that overlaps.
        assert_eq!(p.check(0, &batch(0, 42, 3)), Verdict::Append);
        p.appended(0, &batch(0, 42, 3), 102, 0);
        assert_eq!(p.check(0, &batch(0, 40, 2)), Verdict::Duplicate(100));
        assert_eq!(p.check(0, &batch(0, 42, 3)), Verdict::Duplicate(102));
        let out_of_order = Verdict::Refuse(ErrorCode::OutOfOrderSequenceNumber);
        assert_eq!(p.check(0, &batch(0, 46, 1)), out_of_order);
        assert_eq!(p.check(0, &batch(0, 44, 1)), out_of_order);
        // Another partition, another producer: their own sequences.
        assert_eq!(p.check(1, &batch(0, 9, 1)), Verdict::Append);
        assert_eq!(
            p.check(0, &Sequenced::of(8, 0, 9, 1).expect("sequenced")),
            Verdict::Append
        );
        // A new epoch starts at 0; an old one is fenced.
        assert_eq!(p.check(0, &batch(1, 5, 1)), out_of_order);
        assert_eq!(p.check(0, &batch(1, 0, 1)), Verdict::Append);
        p.appended(0, &batch(1, 0, 1), 105, 0);
        assert_eq!(
            p.check(0, &batch(0, 45, 1)),
            Verdict::Refuse(ErrorCode::InvalidProducerEpoch)
        );
        assert_eq!(p.check(0, &batch(1, 1, 1)), Verdict::Append);
        p.forget_partition(0);
        assert_eq!(p.check(0, &batch(0, 45, 1)), Verdict::Append);
    }

    #[test]
    fn a_producer_with_no_state_here_starts_anywhere_as_kafka_accepts_it() {
        let mut p = Producers::default();
        // Kafka 4.1.1 and 4.4.0 answer 0 to a first batch at 5, from any producer id.
        assert_eq!(p.check(0, &batch(0, 5, 1)), Verdict::Append);
        p.appended(0, &batch(0, 5, 1), 0, 0);
        assert_eq!(p.check(0, &batch(0, 6, 1)), Verdict::Append);
        // After a restart (state in memory only), a producer in the middle of its sequence goes
        // on; its epoch and sequence are then checked from there.
        let mut restarted = Producers::default();
        assert_eq!(restarted.check(0, &batch(3, 7_000, 2)), Verdict::Append);
        restarted.appended(0, &batch(3, 7_000, 2), 10, 0);
        assert_eq!(restarted.check(0, &batch(3, 7_002, 1)), Verdict::Append);
        assert_eq!(
            restarted.check(0, &batch(2, 0, 1)),
            Verdict::Refuse(ErrorCode::InvalidProducerEpoch)
        );
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut p = Producers::default();
        for i in 0..7 {
            p.appended(0, &batch(0, i, 1), i64::from(i) * 10, 0);
        }
        // Batches 2 to 6 are known; 0 and 1 are neither duplicates nor next.
        assert_eq!(p.check(0, &batch(0, 2, 1)), Verdict::Duplicate(20));
        assert_eq!(p.check(0, &batch(0, 6, 1)), Verdict::Duplicate(60));
        assert_eq!(
            p.check(0, &batch(0, 1, 1)),
            Verdict::Refuse(ErrorCode::OutOfOrderSequenceNumber)
        );
        assert_eq!(p.check(0, &batch(0, 7, 1)), Verdict::Append);
    }
}
