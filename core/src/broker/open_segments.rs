//! The cap on open segments: a segment's buffer (on a server, an open file and its mapping) is
//! opened when the partition is written or read, and the least recently used one is closed when
//! more than `open_segments_max` would be open, so ten thousand idle partitions hold no file
//! descriptor and no address space.
//!
//! A segment that a response not yet given back ([`Broker::recycle`]) sends bytes from is held
//! open: the runtime resolves those bytes later, maybe over several turns. While every open
//! segment is held, the cap is exceeded rather than a read refused; the extra segments close as
//! their responses come back. A response the runtime never gives back keeps its segments open
//! longer, never loses bytes.

use alloc::vec::Vec;

use crate::codec::Response;
use crate::log::{AppendAt, AppendInfo, LogError, PartitionLog};
use crate::storage::{Storage, StorageError};

use super::Broker;

/// Reads of one log that may each find one more segment closed: a read touches at most the
/// segment holding its offset, so two rounds suffice; the bound only stops a livelock.
const OPEN_ROUNDS_MAX: usize = 4;

/// The segments the broker opened, for the cap.
#[derive(Debug, Default)]
pub(super) struct OpenSegments {
    /// `(partition index, base offset)` of each segment opened and not closed since. Entries of
    /// segments deleted meanwhile stay until the next pass over the list drops them.
    open: Vec<(u32, i64)>,
    /// The use counter: each use of a segment stamps it with the next value.
    tick: u64,
}

impl OpenSegments {
    /// How many segments are open (deleted ones not yet dropped included).
    pub(super) fn len(&self) -> usize {
        self.open.len()
    }
}

impl<S: Storage> Broker<S> {
    /// Segments open now (as the broker counts them).
    pub fn open_segment_count(&self) -> usize {
        self.open_segments.len()
    }

    /// Open segment `base_offset` of partition `pi` if closed, first closing the least recently
    /// used segments to stay within the cap, and mark it used now.
    pub(super) fn use_segment(&mut self, pi: u32, base_offset: i64) -> Result<(), StorageError> {
        self.open_segments.tick += 1;
        let tick = self.open_segments.tick;
        let is_open = match self.segment_of(pi, base_offset) {
            None => return Ok(()),
            Some(segment) => {
                segment.set_last_used(tick);
                segment.is_open()
            }
        };
        if is_open {
            return Ok(());
        }
        self.close_unused(1);
        let Some(partition) = self.topics.partition_mut(pi) else {
            return Ok(());
        };
        if partition.log.open_segment(&mut self.storage, base_offset)? {
            self.open_segments.open.push((pi, base_offset));
        }
        Ok(())
    }

    /// Close a segment if the cap is reached: creating a partition opens its new segment for a
    /// moment (then closes it).
    pub(super) fn make_room_for_new_segment(&mut self) {
        self.close_unused(1);
    }

    /// `read` over partition `pi`'s log; a segment it finds closed is opened and it is asked
    /// again. `None` if there is no such partition.
    pub(super) fn read_log<R>(
        &mut self,
        pi: u32,
        read: impl Fn(&PartitionLog<S::Segment>) -> Result<R, LogError>,
    ) -> Option<Result<R, LogError>> {
        for _ in 0..OPEN_ROUNDS_MAX {
            let log = &self.topics.partition(pi)?.log;
            match read(log) {
                Err(LogError::SegmentClosed { base_offset }) => {
                    if let Err(e) = self.use_segment(pi, base_offset) {
                        return Some(Err(LogError::Storage(e)));
                    }
                }
                answer => return Some(answer),
            }
        }
        let log = &self.topics.partition(pi)?.log;
        Some(read(log))
    }

    /// Append to partition `pi`'s log as [`PartitionLog::append_at`] does, its active segment
    /// opened first; segments the append rolled to are counted as open.
    pub(super) fn append_log(
        &mut self,
        pi: u32,
        topic: &str,
        index: i32,
        batches: &[u8],
        at: AppendAt,
    ) -> Result<AppendInfo, LogError> {
        let active = self
            .topics
            .partition(pi)
            .map_or(0, |p| p.log.active_base_offset());
        self.use_segment(pi, active)?;
        let partition = self.topics.partition_mut(pi).ok_or(LogError::NoSegments)?;
        let appended = partition
            .log
            .append_at(&mut self.storage, topic, index, batches, at);
        // Every segment after the one appended to was created by this append, open.
        let tick = self.open_segments.tick;
        for segment in partition.log.segments_mut_after(active) {
            if segment.is_open() && segment.last_used() == 0 {
                segment.set_last_used(tick);
                self.open_segments.open.push((pi, segment.base_offset()));
            }
        }
        if self.open_segments.len() > self.open_segments_max() {
            self.close_unused(0);
        }
        appended
    }

    /// A response now sends bytes of segment `base_offset` of partition `pi`: keep it open until
    /// the response is given back.
    pub(super) fn hold_segment(&mut self, pi: u32, base_offset: i64) {
        if let Some(segment) = self.segment_of(pi, base_offset) {
            segment.hold();
        }
    }

    /// `response` was given back: the segments it sent bytes of may close again.
    pub(super) fn release_segments(&mut self, response: &Response) {
        if response.splices.is_empty() {
            return;
        }
        for splice in &response.splices {
            let s = splice.segment;
            if let Some(segment) = self.segment_of(s.partition, s.base_offset) {
                segment.release();
            }
        }
        if self.open_segments.len() > self.open_segments_max() {
            self.close_unused(0);
        }
    }

    fn open_segments_max(&self) -> usize {
        (self.config.open_segments_max as usize).max(1)
    }

    fn segment_of(
        &mut self,
        pi: u32,
        base_offset: i64,
    ) -> Option<&mut crate::log::Segment<S::Segment>> {
        self.topics.partition_mut(pi)?.log.segment_mut(base_offset)
    }

    /// Close least recently used segments that no response holds until `room` more fit under
    /// the cap, or none is left to close. Entries of deleted or closed segments are dropped on
    /// the way. A segment that fails to close stays open and counted, and the pass ends.
    fn close_unused(&mut self, room: usize) {
        let cap = self.open_segments_max();
        // Each round removes an entry or ends: at most `open.len()` rounds.
        while self.open_segments.open.len() + room > cap {
            let Some(i) = self.least_recently_used() else {
                return;
            };
            let (pi, base_offset) = self.open_segments.open.swap_remove(i);
            let Some(partition) = self.topics.partition_mut(pi) else {
                continue;
            };
            let Some(segment) = partition.log.segment_mut(base_offset) else {
                continue;
            };
            if segment.close(&mut self.storage).is_err() {
                // Still open: counted again, and tried again at the next pass.
                self.open_segments.open.push((pi, base_offset));
                return;
            }
        }
    }

    /// Index in the open list of the least recently used segment no response holds, after
    /// dropping entries of segments gone or closed.
    fn least_recently_used(&mut self) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        let mut i = 0;
        while i < self.open_segments.open.len() {
            let (pi, base_offset) = self.open_segments.open[i];
            let state = self
                .topics
                .partition(pi)
                .and_then(|p| p.log.segment(base_offset))
                .filter(|s| s.is_open())
                .map(|s| (s.refs(), s.last_used()));
            match state {
                None => {
                    self.open_segments.open.swap_remove(i);
                    continue;
                }
                Some((0, used)) if best.is_none_or(|(_, b)| used < b) => best = Some((i, used)),
                Some(_) => {}
            }
            i += 1;
        }
        best.map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerConfig;
    use crate::broker::harness::{
        CONN, Driver, call, create, driven, fetch_request, produce_request, response,
    };
    use crate::codec::Records;
    use crate::codec::messages::{FetchResponse, ProduceResponse};
    use crate::records::{BatchBuilder, RecordBatch, Records as RecordIter};
    use crate::storage::{FoundPartition, MemorySegment, MemoryStorage, SegmentBuffer};
    use alloc::vec;

    /// A segment whose bytes leave it while it is closed, as a file's leave the process: a read
    /// of a closed segment would find nothing.
    #[derive(Debug)]
    struct Lidded {
        bytes: MemorySegment,
        stored: Option<MemorySegment>,
    }

    impl AsRef<[u8]> for Lidded {
        fn as_ref(&self) -> &[u8] {
            self.bytes.as_ref()
        }
    }

    impl SegmentBuffer for Lidded {
        fn capacity_bytes(&self) -> usize {
            self.bytes.capacity_bytes()
        }
        fn write_at(&mut self, at: usize, head: &[u8], tail: &[u8]) -> Result<(), StorageError> {
            assert!(self.stored.is_none(), "a closed segment is never written");
            self.bytes.write_at(at, head, tail)
        }
        fn truncate(&mut self, len_bytes: usize) -> Result<(), StorageError> {
            self.bytes.truncate(len_bytes)
        }
    }

    /// Memory storage that counts open segments and remembers the most ever open.
    #[derive(Debug, Default)]
    struct Counting {
        inner: MemoryStorage,
        open: usize,
        open_max: usize,
        opened: usize,
    }

    impl Counting {
        fn opened_one(&mut self) {
            self.open += 1;
            self.opened += 1;
            self.open_max = self.open_max.max(self.open);
        }
    }

    impl Storage for Counting {
        type Segment = Lidded;
        fn recover(&mut self, _: usize) -> Result<Vec<FoundPartition<Lidded>>, StorageError> {
            Ok(Vec::new())
        }
        fn create_segment(
            &mut self,
            topic: &str,
            partition: i32,
            base_offset: i64,
            capacity_bytes: usize,
        ) -> Result<Lidded, StorageError> {
            let bytes = self
                .inner
                .create_segment(topic, partition, base_offset, capacity_bytes)?;
            self.opened_one();
            Ok(Lidded {
                bytes,
                stored: None,
            })
        }
        fn open_segment(&mut self, segment: &mut Lidded) -> Result<(), StorageError> {
            let stored = segment
                .stored
                .take()
                .expect("only a closed segment is opened");
            segment.bytes = stored;
            self.opened_one();
            Ok(())
        }
        fn close_segment(&mut self, segment: &mut Lidded) -> Result<(), StorageError> {
            assert!(segment.stored.is_none(), "only an open segment is closed");
            segment.stored = Some(core::mem::take(&mut segment.bytes));
            self.open -= 1;
            Ok(())
        }
        fn seal_segment(&mut self, segment: &mut Lidded, len: usize) -> Result<(), StorageError> {
            let bytes = segment.stored.as_mut().unwrap_or(&mut segment.bytes);
            self.inner.seal_segment(bytes, len)
        }
        fn write_metadata(&mut self, t: &str, p: i32, bytes: &[u8]) -> Result<(), StorageError> {
            self.inner.write_metadata(t, p, bytes)
        }
        fn delete_partition(&mut self, t: &str, p: i32) -> Result<(), StorageError> {
            self.inner.delete_partition(t, p)
        }
        fn delete_segment(&mut self, segment: Lidded) -> Result<(), StorageError> {
            if segment.stored.is_none() {
                self.open -= 1;
            }
            Ok(())
        }
        fn write_log_start_offset(&mut self, t: &str, p: i32, o: i64) -> Result<(), StorageError> {
            self.inner.write_log_start_offset(t, p, o)
        }
        fn read_log_start_offset(&mut self, t: &str, p: i32) -> Result<Option<i64>, StorageError> {
            self.inner.read_log_start_offset(t, p)
        }
        fn append_transaction_index(
            &mut self,
            t: &str,
            p: i32,
            bytes: &[u8],
        ) -> Result<(), StorageError> {
            self.inner.append_transaction_index(t, p, bytes)
        }
        fn write_transaction_index(
            &mut self,
            t: &str,
            p: i32,
            bytes: &[u8],
        ) -> Result<(), StorageError> {
            self.inner.write_transaction_index(t, p, bytes)
        }
        fn write_broker_configs(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
            self.inner.write_broker_configs(bytes)
        }
        fn read_broker_configs(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
            self.inner.read_broker_configs()
        }
    }

    const PARTITIONS: i32 = 5;

    fn broker(cap: u32) -> Driver<Counting> {
        let config = BrokerConfig {
            // A few batches a segment: the logs roll.
            segment_size_bytes: 1_000,
            open_segments_max: cap,
            ..BrokerConfig::default()
        };
        driven(config, Counting::default())
    }

    fn value(round: u8, p: i32) -> Vec<u8> {
        vec![round ^ p as u8; 150]
    }

    fn produce(b: &mut Driver<Counting>, p: i32, round: u8) -> i64 {
        let mut batch = BatchBuilder::new(0);
        batch.push(i64::from(round), None, Some(&value(round, p)), &[]);
        let resp: ProduceResponse = call(b, 9, &produce_request("t", p, batch.finish()));
        let answer = &resp.responses[0].partition_responses[0];
        assert_eq!(answer.error_code, 0, "{answer:?}");
        answer.base_offset
    }

    /// A Fetch v11 of partition `p` from `offset`, answered now and not given back.
    fn fetch(b: &mut Driver<Counting>, p: i32, offset: i64) -> Response {
        b.send(CONN, 11, &fetch_request("t", p, offset, 0, 1));
        let (_, response) = b.next_response().expect("answered").expect("answered now");
        response
    }

    /// The values of the records `response` carries, its segment bytes resolved now.
    fn values(b: &Driver<Counting>, held: &Response) -> Vec<(i64, Vec<u8>)> {
        let frame = b.flatten(held).expect("its segments are open");
        let resp: FetchResponse = response(11, &frame).expect("decodes");
        let part = &resp.responses[0].partitions[0];
        assert_eq!(part.error_code, 0);
        let Some(Records::Bytes(mut bytes)) = part.records.clone() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let batch = RecordBatch::new_checked(&bytes[..]).expect("a whole batch");
            for record in RecordIter::of_batch(&batch) {
                let record = record.expect("record");
                let offset = batch.base_offset() + i64::from(record.offset_delta);
                out.push((offset, record.value.unwrap_or_default().to_vec()));
            }
            let len = batch.total_len();
            bytes.drain(..len);
        }
        out
    }

    #[test]
    fn five_partitions_under_a_cap_of_two_read_and_write_correctly() {
        let mut b = broker(2);
        create(&mut b, "t", PARTITIONS, &[]);
        assert_eq!(b.storage.open, 0, "a new partition holds nothing open");
        let mut expected: Vec<Vec<(i64, Vec<u8>)>> = vec![Vec::new(); PARTITIONS as usize];
        for round in 0..12u8 {
            for p in 0..PARTITIONS {
                let offset = produce(&mut b, p, round);
                expected[p as usize].push((offset, value(round, p)));
                assert!(b.storage.open <= 2, "round {round}: {}", b.storage.open);
            }
        }
        let segments = b
            .topics
            .partition(0)
            .expect("partition")
            .log
            .segment_count();
        assert!(segments > 2, "the logs rolled: {segments} segments");
        // Every record back, a response at a time, each given back before the next.
        for p in 0..PARTITIONS {
            let mut got = Vec::new();
            let mut next = 0;
            while next < 12 {
                let response = fetch(&mut b, p, next);
                let batch = values(&b, &response);
                b.recycle(response);
                next = batch.last().expect("records").0 + 1;
                got.extend(batch);
            }
            assert_eq!(got, expected[p as usize], "partition {p}");
        }
        assert!(
            b.storage.open_max <= 2,
            "at most 2 open: {}",
            b.storage.open_max
        );
        assert!(b.open_segment_count() <= 2);
        assert!(
            b.storage.opened > 20,
            "segments were closed and opened again"
        );
    }

    #[test]
    fn a_segment_an_unsent_response_reads_from_stays_open() {
        let mut b = broker(2);
        create(&mut b, "t", PARTITIONS, &[]);
        for p in 0..PARTITIONS {
            produce(&mut b, p, 1);
        }
        // Held by an unsent response: partition 0's segment must outlive every other use.
        let held = fetch(&mut b, 0, 0);
        let before = values(&b, &held);
        for round in 2..6u8 {
            for p in 1..PARTITIONS {
                produce(&mut b, p, round);
                let response = fetch(&mut b, p, 0);
                assert!(!values(&b, &response).is_empty());
                b.recycle(response);
            }
        }
        assert!(b.storage.open_max <= 3, "the held one and the cap");
        assert_eq!(values(&b, &held), before, "still readable, same bytes");
        let log = &b.topics.partition(0).expect("partition").log;
        assert!(log.segments()[0].is_open());
        assert_eq!(log.segments()[0].refs(), 1);
        // Given back, it is released and the count returns under the cap.
        b.recycle(held);
        let log = &b.topics.partition(0).expect("partition").log;
        assert_eq!(log.segments()[0].refs(), 0);
        assert!(
            b.storage.open <= 2,
            "back under the cap: {}",
            b.storage.open
        );
        // Two responses over one segment hold it twice.
        let (one, two) = (fetch(&mut b, 3, 0), fetch(&mut b, 3, 0));
        let refs = |b: &Driver<Counting>| {
            b.topics.partition(3).expect("partition").log.segments()[0].refs()
        };
        assert_eq!(refs(&b), 2);
        b.recycle(one);
        assert_eq!(refs(&b), 1);
        b.recycle(two);
        assert_eq!(refs(&b), 0);
    }
}
