//! Which sealed segments leave the front of a log: those wholly below the log start offset
//! (DeleteRecords), and those `retention.ms` or `retention.bytes` no longer keep, as Kafka's
//! `deleteOldSegments` decides. The active segment always stays.

use crate::storage::{SegmentBuffer, Storage, StorageError};

use super::partition::PartitionLog;

/// What retention keeps of a log: Kafka's `retention.ms` and `retention.bytes`, each negative for
/// no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Keep a segment while its largest timestamp is at most this old.
    pub ms: i64,
    /// Keep the log at least this large: delete the oldest segment only while the rest still
    /// hold this many bytes.
    pub bytes: i64,
}

impl Retention {
    /// Nothing is deleted for age or size (a compacted topic keeps only what DeleteRecords leaves).
    pub const KEEP_ALL: Retention = Retention { ms: -1, bytes: -1 };
}

impl<T: SegmentBuffer> PartitionLog<T> {
    /// Delete sealed segments from the front while one of Kafka's rules holds for the oldest:
    /// the next segment starts at or below the log start offset; the log without it still holds
    /// `retention.bytes`; or its largest timestamp is more than `retention.ms` before `unix_ms`.
    /// Returns how many were deleted; the log start offset rises to the new first segment.
    ///
    /// Kafka checks the three rules one after another every few minutes; applying them together
    /// until none holds gives what its repeated checks converge to.
    pub fn delete_old_segments<S: Storage<Segment = T>>(
        &mut self,
        storage: &mut S,
        retention: Retention,
        unix_ms: i64,
    ) -> Result<usize, StorageError> {
        let mut deleted = 0;
        // Bounded: each round deletes a segment or stops.
        while let [first, next, ..] = self.segments() {
            let below_start = next.base_offset() <= self.log_start_offset();
            let rest = self.size_bytes() - first.len_bytes() as u64;
            let by_size =
                retention.bytes >= 0 && rest >= u64::try_from(retention.bytes).unwrap_or(0);
            let largest = first.largest_timestamp();
            let by_time =
                retention.ms >= 0 && largest >= 0 && unix_ms.saturating_sub(largest) > retention.ms;
            if !(below_start || by_size || by_time) {
                break;
            }
            self.delete_first_segment(storage)?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// The wall-clock millisecond from which `retention.ms` deletes the oldest sealed segment,
    /// or `None` if no segment will ever age out (a single segment, no limit, or no timestamp).
    pub fn retention_due_ms(&self, retention: Retention) -> Option<i64> {
        let [first, _, ..] = self.segments() else {
            return None;
        };
        let largest = first.largest_timestamp();
        (retention.ms >= 0 && largest >= 0)
            .then(|| largest.saturating_add(retention.ms).saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogError;
    use crate::records::BatchBuilder;
    use crate::storage::{FoundSegment, MemorySegment, MemoryStorage};
    use alloc::vec;
    use alloc::vec::Vec;

    const SEGMENT: usize = 1_000;

    /// A batch of one record at timestamp `ts` with a 250-byte value: three fit a segment.
    fn batch(ts: i64) -> Vec<u8> {
        let mut b = BatchBuilder::new(0);
        b.push(ts, None, Some(&[1; 250]), &[]);
        let bytes = b.finish();
        assert!(3 * bytes.len() <= SEGMENT && 4 * bytes.len() > SEGMENT);
        bytes
    }

    /// A log of `n` one-record batches with timestamps 1000, 2000, ... appended at `unix_ms` 5.
    fn log_of(n: i64) -> (PartitionLog<MemorySegment>, MemoryStorage) {
        let mut storage = MemoryStorage::default();
        let mut log = PartitionLog::new(MemorySegment::new(SEGMENT), 0);
        for i in 1..=n {
            log.append(&mut storage, "t", 0, &batch(i * 1_000), SEGMENT, 5)
                .expect("append");
        }
        // Rolls closed the sealed segments: opened again to be read here.
        log.open_all(&mut storage).expect("opens");
        (log, storage)
    }

    fn bases(log: &PartitionLog<MemorySegment>) -> Vec<i64> {
        log.segments().iter().map(|s| s.base_offset()).collect()
    }

    #[test]
    fn delete_records_moves_the_start_and_drops_whole_segments_below_it() {
        let (mut log, mut storage) = log_of(8);
        assert_eq!(bases(&log), [0, 3, 6]);
        assert_eq!(
            log.raise_log_start_offset(9),
            Err(LogError::OffsetOutOfRange),
            "past the high watermark"
        );
        log.raise_log_start_offset(4).expect("within the log");
        assert_eq!(log.log_start_offset(), 4);
        log.raise_log_start_offset(2).expect("lower: no change");
        assert_eq!(log.log_start_offset(), 4);
        // Offsets below the start are out of range; a read at the start begins with the batch
        // holding it, in the segment that starts before it.
        assert_eq!(log.read(3, 1 << 20), Err(LogError::OffsetOutOfRange));
        let slice = log.read(4, 1).expect("in range").expect("data");
        assert_eq!(slice.segment_base_offset, 3);

        let deleted = log
            .delete_old_segments(&mut storage, Retention::KEEP_ALL, 0)
            .expect("deleted");
        assert_eq!((deleted, storage.segments_deleted), (1, 1));
        assert_eq!(bases(&log), [3, 6], "segment 3 still holds offset 4");
        assert_eq!(log.log_start_offset(), 4);

        // Up to the high watermark: every sealed segment goes, the active one stays.
        log.raise_log_start_offset(8).expect("the high watermark");
        log.delete_old_segments(&mut storage, Retention::KEEP_ALL, 0)
            .expect("deleted");
        assert_eq!(bases(&log), [6]);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (8, 8));
        assert_eq!(log.read(8, 100), Ok(None));
        assert_eq!(log.size_bytes(), log.segments()[0].len_bytes() as u64);
        // Appends go on at the log end.
        log.append(&mut storage, "t", 0, &batch(0), SEGMENT, 0)
            .expect("append");
        assert_eq!(log.log_end_offset(), 9);
    }

    #[test]
    fn retention_ms_deletes_segments_whose_newest_record_is_older() {
        // Segments hold timestamps 1000-3000, 4000-6000, 7000-8000 (active).
        let (mut log, mut storage) = log_of(8);
        let keep_10s = Retention {
            ms: 10_000,
            bytes: -1,
        };
        assert_eq!(log.retention_due_ms(keep_10s), Some(13_001));
        assert_eq!(
            log.delete_old_segments(&mut storage, keep_10s, 13_000),
            Ok(0),
            "exactly retention.ms old is kept"
        );
        assert_eq!(
            log.delete_old_segments(&mut storage, keep_10s, 13_001),
            Ok(1)
        );
        assert_eq!((bases(&log), log.log_start_offset()), (vec![3, 6], 3));
        assert_eq!(log.retention_due_ms(keep_10s), Some(16_001));
        // Much later: everything sealed goes, never the active segment.
        assert_eq!(
            log.delete_old_segments(&mut storage, keep_10s, 1 << 40),
            Ok(1)
        );
        assert_eq!(bases(&log), [6]);
        assert_eq!(log.retention_due_ms(keep_10s), None, "only the active one");
        assert_eq!(log.log_end_offset(), 8);
        // No limit: nothing is ever due.
        let (log, _) = log_of(8);
        assert_eq!(log.retention_due_ms(Retention::KEEP_ALL), None);
    }

    #[test]
    fn retention_bytes_keeps_at_least_that_many_bytes() {
        let (mut log, mut storage) = log_of(8);
        let seg: Vec<u64> = log
            .segments()
            .iter()
            .map(|s| s.len_bytes() as u64)
            .collect();
        let total = log.size_bytes();
        assert_eq!(total, seg.iter().sum::<u64>());
        // Deleting the first would leave less than asked: kept.
        let keep = |bytes: u64| Retention {
            ms: -1,
            bytes: bytes as i64,
        };
        assert_eq!(
            log.delete_old_segments(&mut storage, keep(total - seg[0] + 1), 0),
            Ok(0)
        );
        // Exactly what the rest holds: the first goes, the second would leave too little.
        assert_eq!(
            log.delete_old_segments(&mut storage, keep(total - seg[0]), 0),
            Ok(1)
        );
        assert_eq!(bases(&log), [3, 6]);
        assert_eq!(log.delete_old_segments(&mut storage, keep(0), 0), Ok(1));
        assert_eq!((bases(&log), log.log_start_offset()), (vec![6], 6));
    }

    #[test]
    fn segments_without_timestamps_age_by_their_last_write() {
        let mut storage = MemoryStorage::default();
        let mut log = PartitionLog::new(MemorySegment::new(SEGMENT), 0);
        for i in 0..4 {
            // Timestamp -1: legacy messages converted to a v2 batch carry none.
            log.append(&mut storage, "t", 0, &batch(-1), SEGMENT, 100 + i)
                .expect("append");
        }
        let retention = Retention { ms: 10, bytes: -1 };
        // The first segment's last write was the third append.
        assert_eq!(log.segments()[0].largest_timestamp(), 102);
        assert_eq!(log.retention_due_ms(retention), Some(113));
        // Reopened, nothing is known of the last write until the broker's start is given.
        let found = log
            .segments()
            .iter()
            .map(|s| FoundSegment {
                base_offset: s.base_offset(),
                segment: s.buffer().clone(),
                recovery: crate::storage::Recovery::HeadersTrusted,
            })
            .collect();
        let mut reopened = crate::log::partition::tests::recovered(found, "opens");
        assert_eq!(reopened.segments()[0].largest_timestamp(), -1);
        assert_eq!(reopened.retention_due_ms(retention), None, "never ages out");
        assert_eq!(
            reopened.delete_old_segments(&mut storage, retention, i64::MAX),
            Ok(0)
        );
        reopened.set_unknown_modified_ms(42);
        assert_eq!(reopened.retention_due_ms(retention), Some(53));
        assert_eq!(
            reopened.delete_old_segments(&mut storage, retention, 53),
            Ok(1)
        );
    }
}
