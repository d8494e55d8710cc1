//! The log cleaner: compaction of topics whose `cleanup.policy` includes `compact`, and of the
//! offsets log, as Kafka's log cleaner does it, in bounded steps on the event loop.
//!
//! A pass over one partition (the dirtiest whose dirty ratio reaches
//! `min.cleanable.dirty.ratio`, or whose oldest dirty segment is older than
//! `max.compaction.lag.ms`) first maps each key of the dirty range to its newest offset
//! ([`KeyMap`], at most `log_cleaner_dedupe_buffer_size` bytes: a log with more keys is cleaned
//! in several passes), then rewrites each sealed segment up to the end of that range, oldest
//! first, keeping what [`filter_batch`] keeps. A segment that changed is replaced by its rewrite
//! through [`Storage::replace_segment`] (atomic: a crash leaves one or the other); one that did
//! not is left alone. The dirty range ends before the active segment, before the first open
//! transaction, and before the first segment with records newer than `min.compaction.lag.ms`.
//!
//! Each step reads at most [`STEP_BYTES`]; while a pass runs the cleaner's deadline is now, so
//! the runtime serves clients between steps, and after a pass the next is looked for at once.
//! Otherwise a log to clean is looked for `log_cleaner_backoff_ms` after client bytes (Kafka's
//! `log.cleaner.backoff.ms`): an idle broker never wakes for the cleaner.
//!
//! What the cleaner has done lives in memory: after a restart every compacted log is dirty
//! from its start, so it is cleaned once more, and tombstones wait `delete.retention.ms` after
//! that pass.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::time::Duration;

use super::Broker;
use crate::codec::primitives::Uuid;
use crate::log::cleaner::{Filtered, Keep, KeyMap, Scratch, each_key, filter_batch};
use crate::records::RecordBatch;
use crate::records::validate::decompressed_bytes_max;
use crate::storage::{SegmentBuffer, Storage};
use crate::time::Instant;

/// Bytes a step reads at most: a step runs between two turns of the runtime's loop, so a
/// request that arrives during one waits for it. 64 KiB takes a fraction of a millisecond;
/// 1 MiB took 3-7 ms, which a producer saw as its latency (docs/performance.md).
pub(super) const STEP_BYTES: usize = 64 << 10;
/// Cleaning passes remembered per partition for their tombstones: more are merged, which only
/// keeps tombstones longer.
const PASSES_KEPT: usize = 16;

/// The cleaner's state.
#[derive(Debug)]
pub(super) struct Cleaner<T> {
    /// When the cleaner acts next: now while a pass runs.
    pub deadline: Option<Instant>,
    pass: Option<Pass<T>>,
    /// Per partition, the first offset no pass has cleaned (Kafka's cleaner checkpoint).
    first_dirty: BTreeMap<u32, i64>,
    /// Per partition, `(end of a pass, unix ms it ended)`, oldest first: tombstones below an
    /// end are removed once `delete.retention.ms` has passed since.
    passes: BTreeMap<u32, Vec<(i64, i64)>>,
    scratch: Scratch,
    out: Vec<u8>,
    /// Rewrites of abandoned passes that could not be deleted (removed at the next start).
    pub rewrites_left: u64,
    /// Whether any topic is compacted, as of [`super::topics::Topics::changes`]: client bytes
    /// wake the cleaner only then.
    compacted: Option<(u64, bool)>,
}

impl<T> Default for Cleaner<T> {
    fn default() -> Self {
        Cleaner {
            deadline: None,
            pass: None,
            first_dirty: BTreeMap::new(),
            passes: BTreeMap::new(),
            scratch: Scratch::default(),
            out: Vec::new(),
            rewrites_left: 0,
            compacted: None,
        }
    }
}

/// One pass over one partition.
#[derive(Debug)]
struct Pass<T> {
    pi: u32,
    /// The topic's id when the pass began: a topic deleted and created again is another log.
    topic_id: Uuid,
    /// The dirty range ends here (a batch boundary).
    end: i64,
    map: KeyMap,
    stage: Stage<T>,
}

#[derive(Debug)]
enum Stage<T> {
    /// Mapping the dirty range; the next batch at or after `next`.
    Mapping { next: i64 },
    /// Rewriting sealed segments below `end`, oldest first.
    Rewriting {
        keep: Keep,
        /// The segment being rewritten, or `None` before the next one.
        current: Option<Rewrite<T>>,
        /// Base offset of the next segment to rewrite.
        next_segment: i64,
    },
}

/// A segment being rewritten.
#[derive(Debug)]
struct Rewrite<T> {
    base: i64,
    /// The next batch to read, at or after this offset.
    next: i64,
    out: T,
    written: usize,
    changed: bool,
}

/// What a topic's configs say of compaction.
#[derive(Clone, Copy, Debug)]
struct Compaction {
    min_dirty_ratio: f64,
    min_lag_ms: i64,
    max_lag_ms: i64,
}

impl<S: Storage> Broker<S> {
    /// Client bytes came: look for a log to clean after the backoff, unless a look or a pass is
    /// already due.
    pub(super) fn cleaner_arm(&mut self) {
        if self.cleaner.deadline.is_none() && self.any_compacted() {
            let backoff = Duration::from_millis(u64::from(self.config.log_cleaner_backoff_ms));
            self.cleaner.deadline = Some(self.now + backoff);
        }
    }

    /// Whether some topic is compacted; looked at only after topics or settings changed.
    fn any_compacted(&mut self) -> bool {
        let changes = self.topics.changes();
        match self.cleaner.compacted {
            Some((seen, any)) if seen == changes => any,
            _ => {
                let any = self
                    .topics
                    .iter()
                    .any(|(ti, _)| self.compaction(ti).is_some());
                self.cleaner.compacted = Some((changes, any));
                any
            }
        }
    }

    /// If the cleaner's deadline has come: one step of the running pass, or the choice of the
    /// next one.
    pub(super) fn cleaner_check(&mut self) {
        if self.cleaner.deadline.is_none_or(|d| d > self.now) {
            return;
        }
        self.cleaner.deadline = None;
        if self.cleaner.pass.is_none() {
            self.cleaner.pass = self.dirtiest();
        }
        if self.cleaner.pass.is_some() {
            self.cleaner_step();
        }
        if self.cleaner.pass.is_some() {
            self.cleaner.deadline = Some(self.now);
        }
    }

    /// The compaction settings of topic `ti`, if its `cleanup.policy` includes `compact`, or
    /// it is the offsets log: compacted as Kafka's `__consumer_offsets` is, whatever it was
    /// created with, so its size and the replay at startup follow the groups and offsets held,
    /// not every commit ever made (the newest record of each key is the state replayed).
    fn compaction(&self, ti: u32) -> Option<Compaction> {
        let topic = self.topics.topic(ti);
        let s = &topic.settings;
        let offsets_log = topic.name == super::groups::OFFSETS_TOPIC;
        (s.compact || offsets_log).then_some(Compaction {
            min_dirty_ratio: s.min_cleanable_dirty_ratio,
            min_lag_ms: s.min_compaction_lag_ms,
            max_lag_ms: s.max_compaction_lag_ms,
        })
    }

    /// A pass over the partition most worth cleaning, if one is.
    fn dirtiest(&mut self) -> Option<Pass<S::Segment>> {
        let mut best: Option<(f64, u32, i64)> = None;
        for (ti, topic) in self.topics.iter() {
            let Some(c) = self.compaction(ti) else {
                continue;
            };
            for &pi in &topic.partitions {
                if let Some((ratio, end)) = self.dirty_range(pi, c) {
                    if best.is_none_or(|(r, _, _)| ratio > r) {
                        best = Some((ratio, pi, end));
                    }
                }
            }
        }
        let (_, pi, end) = best?;
        let p = self.topics.partition(pi)?;
        let topic = self.topics.topic(p.topic);
        let start = p.log.log_start_offset();
        let from = self
            .cleaner
            .first_dirty
            .get(&pi)
            .map_or(start, |&d| d.max(start));
        let budget =
            usize::try_from(self.config.log_cleaner_dedupe_buffer_size).unwrap_or(usize::MAX);
        let max_message = topic.settings.max_message_bytes;
        self.cleaner.scratch.decompressed_bytes_max = decompressed_bytes_max(max_message);
        Some(Pass {
            pi,
            topic_id: topic.id,
            end,
            map: KeyMap::new(budget),
            stage: Stage::Mapping { next: from },
        })
    }

    /// `(dirty ratio, end of the dirty range)` of partition `pi` if it is to be cleaned now.
    /// Whole sealed segments only: the dirty range ends before the active segment, the first
    /// open transaction and the first segment with records newer than the minimum lag.
    fn dirty_range(&self, pi: u32, c: Compaction) -> Option<(f64, i64)> {
        let p = self.topics.partition(pi)?;
        let log = &p.log;
        let start = log.log_start_offset();
        let first_dirty = self
            .cleaner
            .first_dirty
            .get(&pi)
            .map_or(start, |&d| d.max(start));
        let mut uncleanable = log.active_base_offset();
        if let Some(open) = p.txns.first_open_offset() {
            uncleanable = uncleanable.min(open);
        }
        let now_ms = self.unix_ms;
        let (mut clean, mut dirty, mut end) = (0u64, 0u64, first_dirty);
        let mut oldest_dirty = None;
        let sealed = &log.segments()[..log.segment_count() - 1];
        for s in sealed {
            if s.next_offset() > uncleanable
                || (c.min_lag_ms > 0 && s.largest_timestamp() > now_ms.saturating_sub(c.min_lag_ms))
            {
                break;
            }
            if s.next_offset() <= first_dirty {
                clean += s.len_bytes() as u64;
            } else {
                dirty += s.len_bytes() as u64;
                end = s.next_offset();
                oldest_dirty.get_or_insert(s.largest_timestamp());
            }
        }
        if dirty == 0 {
            return None;
        }
        let ratio = dirty as f64 / (clean + dirty) as f64;
        let forced = oldest_dirty
            .is_some_and(|ts| c.max_lag_ms < i64::MAX && ts < now_ms.saturating_sub(c.max_lag_ms));
        (ratio >= c.min_dirty_ratio || forced).then_some((ratio, end))
    }

    /// One bounded step of the running pass.
    fn cleaner_step(&mut self) {
        let Some(pass) = self.cleaner.pass.take() else {
            return;
        };
        let live = self
            .topics
            .partition(pass.pi)
            .is_some_and(|p| self.topics.topic(p.topic).id == pass.topic_id);
        if !live {
            self.abandon(pass);
            return;
        }
        match self.advance(pass) {
            Ok(Some(pass)) => self.cleaner.pass = Some(pass),
            Ok(None) => {}
            Err(pass) => self.abandon(pass),
        }
    }

    /// The pass one step further; `Ok(None)` when it is done, `Err` to abandon it.
    fn advance(
        &mut self,
        mut pass: Pass<S::Segment>,
    ) -> Result<Option<Pass<S::Segment>>, Pass<S::Segment>> {
        match &mut pass.stage {
            Stage::Mapping { next } => {
                let from = *next;
                match self.map_step(&mut pass.map, pass.pi, from, pass.end) {
                    Some((next_offset, end)) => {
                        pass.end = end;
                        if next_offset < end {
                            pass.stage = Stage::Mapping { next: next_offset };
                        } else {
                            pass.stage = self.rewriting(pass.pi, end);
                        }
                        Ok(Some(pass))
                    }
                    None => Err(pass),
                }
            }
            Stage::Rewriting { .. } => self.rewrite_step(pass),
        }
    }

    /// Map the keys of the batches from `from`, [`STEP_BYTES`] at most: `(next offset to map,
    /// end of the range)`, the end moved down when the map is full. `None` on a read error.
    fn map_step(&mut self, map: &mut KeyMap, pi: u32, from: i64, end: i64) -> Option<(i64, i64)> {
        let slice = self.read_log(pi, |log| log.read(from, STEP_BYTES))?.ok()?;
        let Some(slice) = slice else {
            return Some((end, end));
        };
        let p = self.topics.partition(pi)?;
        let mut bytes = p
            .log
            .segment_bytes(slice.segment_base_offset, slice.start, slice.len)?;
        let mut next = from;
        let mut keys: Vec<(Vec<u8>, i64)> = Vec::new();
        while let Ok(batch) = RecordBatch::new_checked(bytes) {
            if batch.base_offset() >= end {
                return Some((end, end));
            }
            let aborted = is_aborted(p, &batch);
            keys.clear();
            let read = each_key(&batch, aborted, &mut self.cleaner.scratch, &mut |k, o| {
                keys.push((k.to_vec(), o));
            });
            if read.is_ok() {
                if !map.fits(keys.iter().map(|(k, _)| k.as_slice())) {
                    // Full: this pass cleans what it mapped, the next one the rest.
                    return (batch.base_offset() > from || !map.is_empty())
                        .then_some((batch.base_offset(), batch.base_offset()));
                }
                for (k, o) in &keys {
                    map.put(k, *o);
                }
            }
            next = batch.last_offset() + 1;
            bytes = &bytes[batch.total_len()..];
        }
        Some((next.max(slice.next_offset), end))
    }

    /// The rewriting stage for a dirty range ending at `end`.
    fn rewriting(&mut self, pi: u32, end: i64) -> Stage<S::Segment> {
        let now_ms = self.unix_ms;
        let retention = self.topics.partition(pi).map_or(i64::MAX, |p| {
            self.topics.topic(p.topic).settings.delete_retention_ms
        });
        let tombstones_before = self.cleaner.passes.get(&pi).map_or(i64::MIN, |passes| {
            passes
                .iter()
                .filter(|&&(_, at)| at.saturating_add(retention) <= now_ms)
                .map(|&(end, _)| end)
                .max()
                .unwrap_or(i64::MIN)
        });
        let next_segment = self
            .topics
            .partition(pi)
            .map_or(end, |p| p.log.log_start_offset());
        Stage::Rewriting {
            keep: Keep {
                mapped_end: end,
                tombstones_before,
            },
            current: None,
            next_segment,
        }
    }

    /// One step of rewriting: start the next segment, or go on with the current one, or
    /// finish it. `Ok(None)` when every segment below the end is done.
    fn rewrite_step(
        &mut self,
        mut pass: Pass<S::Segment>,
    ) -> Result<Option<Pass<S::Segment>>, Pass<S::Segment>> {
        let pi = pass.pi;
        let Stage::Rewriting {
            keep,
            current,
            next_segment,
        } = &mut pass.stage
        else {
            return Ok(Some(pass));
        };
        let keep = *keep;
        let Some(mut rewrite) = current.take() else {
            // The next sealed segment below the end, from `next_segment` on.
            let segment = self.topics.partition(pi).and_then(|p| {
                let sealed = &p.log.segments()[..p.log.segment_count() - 1];
                sealed
                    .iter()
                    .find(|s| s.base_offset() >= *next_segment)
                    .filter(|s| s.base_offset() < pass.end)
                    .map(|s| (s.base_offset(), s.len_bytes()))
            });
            let Some((base, len)) = segment else {
                self.pass_done(pi, pass.end);
                return Ok(None);
            };
            let Some((name, index)) = self.partition_name(pi).map(|(_, n, i)| (n, i)) else {
                return Err(pass);
            };
            let Ok(out) = self.storage.create_cleaned_segment(&name, index, base, len) else {
                return Err(pass);
            };
            *current = Some(Rewrite {
                base,
                next: base,
                out,
                written: 0,
                changed: false,
            });
            return Ok(Some(pass));
        };
        match self.rewrite_some(pi, &pass.map, keep, &mut rewrite) {
            Err(()) => {
                *current = Some(rewrite);
                Err(pass)
            }
            Ok(false) => {
                *current = Some(rewrite);
                Ok(Some(pass))
            }
            Ok(true) => {
                let base = rewrite.base;
                match self.finish_rewrite(pi, rewrite) {
                    Ok(()) => {
                        *next_segment = base + 1;
                        Ok(Some(pass))
                    }
                    Err(Some(rewrite)) => {
                        // Still sent by a response: tried again at the next step.
                        *current = Some(rewrite);
                        Ok(Some(pass))
                    }
                    Err(None) => Err(pass),
                }
            }
        }
    }

    /// Filter the next batches of the segment being rewritten, [`STEP_BYTES`] at most;
    /// `Ok(true)` once the segment is read to its end.
    fn rewrite_some(
        &mut self,
        pi: u32,
        map: &KeyMap,
        keep: Keep,
        rewrite: &mut Rewrite<S::Segment>,
    ) -> Result<bool, ()> {
        let base = rewrite.base;
        let seg_end = self
            .topics
            .partition(pi)
            .and_then(|p| p.log.segment(base))
            .map(|s| s.next_offset())
            .ok_or(())?;
        if rewrite.next >= seg_end {
            return Ok(true);
        }
        let from = rewrite.next;
        let slice = self
            .read_log(pi, |log| log.read(from, STEP_BYTES))
            .ok_or(())?
            .map_err(|_| ())?;
        let Some(slice) = slice.filter(|s| s.segment_base_offset == base) else {
            return Ok(true);
        };
        let p = self.topics.partition(pi).ok_or(())?;
        let mut bytes = p
            .log
            .segment_bytes(slice.segment_base_offset, slice.start, slice.len)
            .ok_or(())?;
        let cleaner = &mut self.cleaner;
        while let Ok(batch) = RecordBatch::new_checked(bytes) {
            let aborted = is_aborted(p, &batch);
            cleaner.out.clear();
            let kept: &[u8] = match filter_batch(
                &batch,
                map,
                keep,
                aborted,
                &mut cleaner.scratch,
                &mut cleaner.out,
            ) {
                Filtered::Whole => batch.as_bytes(),
                Filtered::Removed => &[],
                Filtered::Rewritten => cleaner.out.as_slice(),
            };
            if kept.len() != batch.total_len() {
                rewrite.changed = true;
            }
            if !kept.is_empty() {
                rewrite
                    .out
                    .write_at(rewrite.written, kept, &[])
                    .map_err(|_| ())?;
                rewrite.written += kept.len();
            }
            rewrite.next = batch.last_offset() + 1;
            bytes = &bytes[batch.total_len()..];
        }
        Ok(rewrite.next >= seg_end)
    }

    /// Put a finished rewrite in place of its segment if it changed anything, else drop it.
    /// `Err(Some)`: a response still sends the old segment's bytes, try later; `Err(None)`: the
    /// pass is to be abandoned (the rewrite is dropped here).
    fn finish_rewrite(
        &mut self,
        pi: u32,
        rewrite: Rewrite<S::Segment>,
    ) -> Result<(), Option<Rewrite<S::Segment>>> {
        if !rewrite.changed {
            return self.drop_rewrite(rewrite.out).map_err(|()| None);
        }
        let held = self
            .topics
            .partition(pi)
            .and_then(|p| p.log.segment(rewrite.base))
            .is_some_and(|s| s.refs() > 0);
        if held {
            return Err(Some(rewrite));
        }
        let Some(p) = self.topics.partition_mut(pi) else {
            return self.drop_rewrite(rewrite.out).map_err(|()| None);
        };
        let base = rewrite.base;
        if rewrite.written == 0 && p.log.log_start_offset() < base {
            // Emptied, and not the first: removed, so reads do not step through empty files.
            return match p.log.remove_emptied(&mut self.storage, base) {
                Ok(_) => self.drop_rewrite(rewrite.out).map_err(|()| None),
                Err(_) => Err(None),
            };
        }
        // The old segment may be closed: its file is what is replaced, its bytes are not read.
        match p
            .log
            .replace_sealed(&mut self.storage, base, rewrite.out, rewrite.written)
        {
            Ok(true) => {
                // The rewrite comes open; closed like the segments the cap did not open.
                if let Some(segment) = p.log.segment_mut(base) {
                    segment.close(&mut self.storage).map_err(|_| None)?;
                }
                Ok(())
            }
            // Gone meanwhile (retention): nothing to replace, the rewrite is left as a file that
            // the next start removes.
            Ok(false) => Ok(()),
            Err(_) => Err(None),
        }
    }

    /// Remove a rewrite that will not be used.
    fn drop_rewrite(&mut self, out: S::Segment) -> Result<(), ()> {
        self.storage.delete_segment(out).map_err(|_| ())
    }

    /// Stop a pass: its rewrite in progress is deleted, the log is as before it.
    fn abandon(&mut self, pass: Pass<S::Segment>) {
        if let Stage::Rewriting {
            current: Some(rewrite),
            ..
        } = pass.stage
        {
            // A rewrite that cannot be deleted now is a file the next start removes.
            if self.drop_rewrite(rewrite.out).is_err() {
                self.cleaner.rewrites_left += 1;
            }
        }
        // Not tried again at once, the cause may last: after the backoff that the next client
        // bytes start.
        self.cleaner.deadline = None;
    }

    /// A pass over partition `pi` cleaned everything below `end`: look for the next at once,
    /// as Kafka's cleaner goes on while logs are dirty.
    fn pass_done(&mut self, pi: u32, end: i64) {
        self.cleaner.deadline = Some(self.now);
        self.cleaner.first_dirty.insert(pi, end);
        let passes = self.cleaner.passes.entry(pi).or_default();
        passes.push((end, self.unix_ms));
        if passes.len() > PASSES_KEPT {
            // Merged into the later one: its tombstones wait as long as the later pass's.
            passes.remove(0);
        }
    }
}

impl<T> Cleaner<T> {
    /// Forget what the cleaner knows of a partition that was deleted.
    pub(super) fn forget(&mut self, pi: u32) {
        self.first_dirty.remove(&pi);
        self.passes.remove(&pi);
    }
}

/// Whether `batch` belongs to a transaction that was aborted on partition `p`.
fn is_aborted<T>(p: &super::topics::Partition<T>, batch: &RecordBatch<&[u8]>) -> bool {
    batch.is_transactional()
        && !batch.is_control()
        && p.txns
            .aborted_overlapping(batch.base_offset(), batch.base_offset() + 1)
            .any(|a| a.producer_id == batch.producer_id())
}

#[cfg(test)]
mod tests;
