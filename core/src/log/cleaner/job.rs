//! One cleaning pass over one partition as a job that needs nothing of the broker: the plan (the
//! sealed segments from the log start to the end of the dirty range, the aborted transactions
//! among them, the tombstone horizon) and the segments' bytes. The broker may run a job itself in
//! bounded steps between inputs, or hand it to its runtime, which runs it on a thread of its own
//! as Kafka's cleaner threads do and hands back each rewritten segment for the broker to put in
//! place ([`Progress`]). Either way the steps are the same.
//!
//! A job first maps the keys of the dirty range to their newest offsets, then rewrites every
//! segment of the plan, oldest first, keeping what [`filter_batch`] keeps, and the transaction
//! markers a record of whose transaction is left or that a pass passed too recently (as
//! Kafka's cleaner: a producer's records come before its marker). A segment is read
//! from its start, batch by batch; the plan's lengths are of sealed segments, whose bytes do not
//! change while the job reads them.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Filtered, Keep, KeyMap, Scratch, each_key, filter_batch};
use crate::records::RecordBatch;
use crate::records::control::read_marker;
use crate::storage::{SegmentBuffer, StorageError, StorageErrorKind};

/// A sealed segment of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Its base offset.
    pub base: i64,
    /// The offset after its last batch.
    pub next_offset: i64,
    /// Its length in bytes: whole batches.
    pub len: usize,
}

/// A transaction aborted on the partition: its data batches are removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aborted {
    /// The producer of the transaction.
    pub producer_id: i64,
    /// The offset of its first batch on the partition.
    pub first_offset: i64,
    /// The offset of its abort marker.
    pub last_offset: i64,
}

/// What a pass cleans.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The partition's topic and index, for a runtime to find its files.
    pub topic: String,
    /// The partition's index within its topic.
    pub partition: i32,
    /// Sealed segments from the log start up to the end of the dirty range, oldest first.
    pub segments: Vec<Span>,
    /// The first offset of the dirty range: mapping starts at the batch holding it.
    pub first_dirty: i64,
    /// The end of the dirty range (a segment's end): mapping stops there, or before when the
    /// map is full.
    pub end: i64,
    /// Tombstones below this offset were passed by a pass at least `delete.retention.ms` ago.
    pub tombstones_before: i64,
    /// The aborted transactions overlapping the plan's segments, by first offset.
    pub aborted: Vec<Aborted>,
    /// The key map's budget in bytes (`log.cleaner.dedupe.buffer.size`).
    pub map_budget_bytes: usize,
    /// The most a batch's records may decompress to.
    pub decompressed_bytes_max: usize,
}

/// Where a job reads segments and writes their rewrites.
pub trait JobIo {
    /// A rewrite.
    type Out: SegmentBuffer;

    /// The first `len` bytes of the sealed segment `base`.
    fn segment(&mut self, base: i64, len: usize) -> Result<&[u8], StorageError>;

    /// A new, empty rewrite of segment `base`, growable to `capacity_bytes`.
    fn create(&mut self, base: i64, capacity_bytes: usize) -> Result<Self::Out, StorageError>;

    /// Remove a rewrite that will not be used.
    fn discard(&mut self, out: Self::Out) -> Result<(), StorageError>;

    /// A rewrite is complete at `len_bytes`: whatever the storage does before it may be put in
    /// place (a server trims and syncs it here, off the event loop). Nothing by default.
    fn finish(&mut self, _out: &mut Self::Out, _len_bytes: usize) -> Result<(), StorageError> {
        Ok(())
    }
}

/// What a step of a job came to.
#[derive(Debug)]
pub enum Progress<T> {
    /// The step's budget is spent: more steps to come.
    Working,
    /// A segment's rewrite, smaller than the segment, to put in its place.
    Rewritten(Rewritten<T>),
    /// Every segment of the plan is done: the log is clean below `end`.
    Done {
        /// The end of the range this pass cleaned.
        end: i64,
    },
    /// The job stopped on a storage error; its rewrite in progress is removed
    /// (`rewrite_left`: it could not be, and is a file the next start removes).
    Failed {
        /// The error.
        error: StorageError,
        /// A rewrite could not be removed.
        rewrite_left: bool,
    },
}

/// A segment's rewrite.
#[derive(Debug)]
pub struct Rewritten<T> {
    /// The base offset of the segment it replaces.
    pub base: i64,
    /// Its bytes.
    pub out: T,
    /// Its length in bytes (0: every record was removed).
    pub len: usize,
}

/// A pass over one partition: [`Job::step`] until it is [`Progress::Done`] or
/// [`Progress::Failed`].
#[derive(Debug)]
pub struct Job<T> {
    plan: Plan,
    map: KeyMap,
    scratch: Scratch,
    out: Vec<u8>,
    stage: Stage<T>,
    /// Per producer, while rewriting: whether its transaction being read has kept a record.
    txn_kept: BTreeMap<i64, bool>,
}

#[derive(Debug)]
enum Stage<T> {
    /// Mapping keys: the next batch is at `position` in segment `segment` of the plan.
    Mapping {
        segment: usize,
        position: usize,
    },
    /// Rewriting segment `segment` of the plan: `current` once its rewrite is created.
    Rewriting {
        segment: usize,
        current: Option<Rewrite<T>>,
    },
    Finished,
}

#[derive(Debug)]
struct Rewrite<T> {
    /// Where the next batch of the segment is.
    position: usize,
    out: T,
    written: usize,
    changed: bool,
}

impl<T: SegmentBuffer> Job<T> {
    /// A job for `plan`.
    pub fn new(plan: Plan) -> Job<T> {
        let scratch = Scratch {
            buf: Vec::new(),
            decompressed_bytes_max: plan.decompressed_bytes_max,
        };
        Job {
            map: KeyMap::new(plan.map_budget_bytes),
            scratch,
            out: Vec::new(),
            stage: Stage::Mapping {
                segment: 0,
                position: 0,
            },
            txn_kept: BTreeMap::new(),
            plan,
        }
    }

    /// What the job cleans.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Work on, reading about `budget` bytes of the log at most (at least one batch).
    pub fn step<I: JobIo<Out = T>>(&mut self, io: &mut I, budget: usize) -> Progress<T> {
        let stage = core::mem::replace(&mut self.stage, Stage::Finished);
        let result = match stage {
            Stage::Mapping { segment, position } => self.map_some(io, segment, position, budget),
            Stage::Rewriting { segment, current } => {
                self.rewrite_some(io, segment, current, budget)
            }
            Stage::Finished => Ok(Progress::Done { end: self.plan.end }),
        };
        result.unwrap_or_else(|(error, rewrite)| {
            self.stage = Stage::Finished;
            let rewrite_left = rewrite.is_some_and(|r| io.discard(r.out).is_err());
            Progress::Failed {
                error,
                rewrite_left,
            }
        })
    }

    /// Give up: the rewrite in progress, if any, is removed. `false` if it could not be.
    pub fn cancel<I: JobIo<Out = T>>(mut self, io: &mut I) -> bool {
        match core::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::Rewriting {
                current: Some(rewrite),
                ..
            } => io.discard(rewrite.out).is_ok(),
            _ => true,
        }
    }

    /// Map the keys of the dirty range from `position` of segment `segment`.
    fn map_some<I: JobIo<Out = T>>(
        &mut self,
        io: &mut I,
        mut segment: usize,
        mut position: usize,
        budget: usize,
    ) -> Result<Progress<T>, Failure<T>> {
        let mut read = 0usize;
        let mut keys: Vec<(Vec<u8>, i64)> = Vec::new();
        // The range is mapped to its end (or the map is full).
        let mut mapped_all = false;
        while let Some(&span) = self.plan.segments.get(segment) {
            if span.base >= self.plan.end || read >= budget {
                break;
            }
            if span.next_offset <= self.plan.first_dirty || position >= span.len {
                segment += 1;
                position = 0;
                continue;
            }
            let bytes = io.segment(span.base, span.len).map_err(|e| (e, None))?;
            let Some(batch) = batch_at(bytes, position) else {
                // Unreadable from here: its keys are not mapped, so nothing of it is removed.
                segment += 1;
                position = 0;
                continue;
            };
            position += batch.total_len();
            read += batch.total_len();
            if batch.last_offset() < self.plan.first_dirty {
                continue;
            }
            if batch.base_offset() >= self.plan.end {
                mapped_all = true;
                break;
            }
            let aborted = self.is_aborted(&batch);
            keys.clear();
            let mapped = each_key(&batch, aborted, &mut self.scratch, &mut |k, o| {
                keys.push((k.to_vec(), o));
            });
            if mapped.is_err() {
                continue;
            }
            if !self.map.fits(keys.iter().map(|(k, _)| k.as_slice())) {
                // Full: this pass cleans what it mapped, the next one the rest.
                if self.map.is_empty() && batch.base_offset() <= self.plan.first_dirty {
                    return Err((full_map(), None));
                }
                self.plan.end = batch.base_offset();
                mapped_all = true;
                break;
            }
            for (k, o) in &keys {
                self.map.put(k, *o);
            }
        }
        mapped_all |= self
            .plan
            .segments
            .get(segment)
            .is_none_or(|s| s.base >= self.plan.end);
        self.stage = if mapped_all || self.plan.end <= self.plan.first_dirty {
            Stage::Rewriting {
                segment: 0,
                current: None,
            }
        } else {
            Stage::Mapping { segment, position }
        };
        Ok(Progress::Working)
    }

    /// Rewrite segment `segment` of the plan from where `current` left it.
    fn rewrite_some<I: JobIo<Out = T>>(
        &mut self,
        io: &mut I,
        segment: usize,
        current: Option<Rewrite<T>>,
        budget: usize,
    ) -> Result<Progress<T>, Failure<T>> {
        let Some(&span) = self
            .plan
            .segments
            .get(segment)
            .filter(|s| s.base < self.plan.end)
        else {
            self.stage = Stage::Finished;
            return Ok(Progress::Done { end: self.plan.end });
        };
        let mut rewrite = match current {
            Some(rewrite) => rewrite,
            None => Rewrite {
                position: 0,
                out: io.create(span.base, span.len).map_err(|e| (e, None))?,
                written: 0,
                changed: false,
            },
        };
        let keep = Keep {
            mapped_end: self.plan.end,
            tombstones_before: self.plan.tombstones_before,
        };
        let mut read = 0usize;
        while rewrite.position < span.len {
            if read >= budget {
                self.stage = Stage::Rewriting {
                    segment,
                    current: Some(rewrite),
                };
                return Ok(Progress::Working);
            }
            let bytes = match io.segment(span.base, span.len) {
                Ok(bytes) => bytes,
                Err(e) => return Err((e, Some(rewrite))),
            };
            let Some(batch) = batch_at(bytes, rewrite.position) else {
                // Never written so (recovery checked every sealed segment): the segment is
                // left as it is rather than cut.
                return Err((unreadable(span.base, rewrite.position), Some(rewrite)));
            };
            if let Err(e) = self.rewrite_batch(&batch, keep, &mut rewrite) {
                return Err((e, Some(rewrite)));
            }
            rewrite.position += batch.total_len();
            read += batch.total_len();
        }
        // The segment is read: the next one at the next step.
        self.stage = Stage::Rewriting {
            segment: segment + 1,
            current: None,
        };
        if !rewrite.changed {
            io.discard(rewrite.out).map_err(|e| (e, None))?;
            return Ok(Progress::Working);
        }
        if let Err(e) = io.finish(&mut rewrite.out, rewrite.written) {
            return Err((e, Some(rewrite)));
        }
        Ok(Progress::Rewritten(Rewritten {
            base: span.base,
            out: rewrite.out,
            len: rewrite.written,
        }))
    }

    /// Write what `keep` and the map keep of `batch` to `rewrite`.
    fn rewrite_batch(
        &mut self,
        batch: &RecordBatch<&[u8]>,
        keep: Keep,
        rewrite: &mut Rewrite<T>,
    ) -> Result<(), StorageError> {
        let aborted = self.is_aborted(batch);
        self.out.clear();
        let kept: &[u8] = if self.marker_goes(batch, keep) {
            &[]
        } else {
            match filter_batch(
                batch,
                &self.map,
                keep,
                aborted,
                &mut self.scratch,
                &mut self.out,
            ) {
                Filtered::Whole => batch.as_bytes(),
                Filtered::Removed => &[],
                Filtered::Rewritten => self.out.as_slice(),
            }
        };
        if batch.is_transactional() && !batch.is_control() {
            *self.txn_kept.entry(batch.producer_id()).or_default() |= !kept.is_empty();
        }
        rewrite.changed |= kept.len() != batch.total_len();
        if !kept.is_empty() {
            rewrite.out.write_at(rewrite.written, kept, &[])?;
            rewrite.written += kept.len();
        }
        Ok(())
    }

    /// Whether `batch` is a transaction marker to remove, as Kafka's cleaner removes one: no
    /// record of its transaction is left (every one was cleaned away, or it was aborted), and
    /// a pass passed it `delete.retention.ms` ago, so readers had that long to see it. The
    /// producer's next transaction starts after it.
    fn marker_goes(&mut self, batch: &RecordBatch<&[u8]>, keep: Keep) -> bool {
        if !batch.is_control() || read_marker(batch).is_none() {
            return false;
        }
        let kept = self.txn_kept.remove(&batch.producer_id()).unwrap_or(false);
        !kept && batch.last_offset() < keep.tombstones_before
    }

    /// Whether `batch` belongs to a transaction aborted on the partition.
    fn is_aborted(&self, batch: &RecordBatch<&[u8]>) -> bool {
        if !batch.is_transactional() || batch.is_control() {
            return false;
        }
        let (offset, producer) = (batch.base_offset(), batch.producer_id());
        // Sorted by first offset: only those that began at or before the batch can hold it.
        let began = self
            .plan
            .aborted
            .partition_point(|a| a.first_offset <= offset);
        self.plan.aborted[..began]
            .iter()
            .any(|a| a.producer_id == producer && a.last_offset >= offset)
    }
}

/// A step's error, with the rewrite it leaves to remove.
type Failure<T> = (StorageError, Option<Rewrite<T>>);

/// The batch at `position` of a segment's bytes, if a whole one is there.
fn batch_at(bytes: &[u8], position: usize) -> Option<RecordBatch<&[u8]>> {
    RecordBatch::new_checked(bytes.get(position..)?).ok()
}

/// A sealed segment holds no batch at `position`, before its end.
fn unreadable(base: i64, position: usize) -> StorageError {
    StorageError::new(
        StorageErrorKind::Invalid,
        alloc::format!("segment {base}: no batch at byte {position}"),
    )
}

/// The first batch of the dirty range holds more keys than the whole map.
fn full_map() -> StorageError {
    StorageError::new(
        StorageErrorKind::Invalid,
        "a batch holds more keys than log_cleaner_dedupe_buffer_size",
    )
}
