//! The log cleaner: compaction of topics whose `cleanup.policy` includes `compact`, and of the
//! offsets log, as Kafka's log cleaner does it.
//!
//! The offsets log and the transaction log are compacted too, as Kafka's are. A pass over one
//! partition (the dirtiest whose dirty ratio reaches
//! `min.cleanable.dirty.ratio`, or whose oldest dirty segment is older than
//! `max.compaction.lag.ms`) is a [`Job`]: it maps each key of the dirty range to its newest
//! offset (within `log_cleaner_dedupe_buffer_size` bytes: a log with more keys is cleaned in
//! several passes), then rewrites each sealed segment up to the end of that range, oldest first.
//! A segment that changed is replaced by its rewrite here, through [`Storage::replace_segment`]
//! (atomic: a crash leaves one or the other). The dirty range ends before the active segment,
//! before the first open transaction, and before the first segment with records newer than
//! `min.compaction.lag.ms`.
//!
//! Where a job runs is the runtime's choice ([`super::BrokerConfig::cleaner_jobs`]): on a thread
//! of its own, as Kafka's cleaner threads, taking it with [`Broker::take_clean_job`] and handing
//! back what it did with [`Broker::cleaned`]; or here, in steps of at most [`STEP_BYTES`] between
//! inputs (the cleaner's deadline is then now while a pass runs, and each step delays the
//! requests that arrive during it). After a pass the next is looked for at once; otherwise a
//! log to clean is looked for `log_cleaner_backoff_ms` after client bytes (Kafka's
//! `log.cleaner.backoff.ms`): an idle broker never wakes for the cleaner.
//!
//! What the passes have cleaned is kept across restarts ([`checkpoint`]), written after each
//! pass.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::Broker;
use crate::codec::primitives::Uuid;
use crate::log::cleaner::job::{Aborted, Job, JobIo, Plan, Progress, Rewritten, Span};
use crate::records::validate::decompressed_bytes_max;
use crate::storage::{Storage, StorageError, StorageErrorKind};
use crate::time::Instant;

/// Bytes a step run here reads at most: a step runs between two turns of the runtime's loop,
/// so a request that arrives during one waits for it. 64 KiB takes a fraction of a
/// millisecond; 1 MiB took 3-7 ms, which a producer saw as its latency (docs/performance.md).
pub(super) const STEP_BYTES: usize = 64 << 10;
/// Cleaning passes remembered per partition for their tombstones: more are merged, which only
/// keeps tombstones longer.
const PASSES_KEPT: usize = 16;
/// How soon a rewrite is tried again while a response still sends its segment's old bytes.
const HELD_RETRY: Duration = Duration::from_millis(10);

/// The cleaner's state.
#[derive(Debug)]
pub(super) struct Cleaner<T> {
    /// When the cleaner acts next: now while a pass runs here.
    pub deadline: Option<Instant>,
    /// The pass under way.
    running: Option<Running<T>>,
    /// Rewrites done but not yet in place: a response still sends the old segment's bytes.
    held: Vec<(u32, Uuid, Rewritten<T>)>,
    /// Per partition, the first offset no pass has cleaned (Kafka's cleaner checkpoint).
    first_dirty: BTreeMap<u32, i64>,
    /// Per partition, `(end of a pass, unix ms it ended)`, oldest first: tombstones below an
    /// end are removed once `delete.retention.ms` has passed since.
    passes: BTreeMap<u32, Vec<(i64, i64)>>,
    /// Rewrites of abandoned passes that could not be deleted (removed at the next start).
    pub rewrites_left: u64,
    /// Writes of the cleaner's checkpoint that failed (the storage logs why; the next pass
    /// writes it again).
    pub checkpoint_write_failures: u64,
    /// Whether any topic is compacted, as of [`super::topics::Topics::changes`]: client bytes
    /// wake the cleaner only then.
    compacted: Option<(u64, bool)>,
}

impl<T> Default for Cleaner<T> {
    fn default() -> Self {
        Cleaner {
            deadline: None,
            running: None,
            held: Vec::new(),
            first_dirty: BTreeMap::new(),
            passes: BTreeMap::new(),
            rewrites_left: 0,
            checkpoint_write_failures: 0,
            compacted: None,
        }
    }
}

/// The pass under way.
#[derive(Debug)]
struct Running<T> {
    pi: u32,
    /// The topic's id when the pass began: a topic deleted and created again is another log.
    topic_id: Uuid,
    /// The job while it is here (`None` while the runtime runs it, or once it ended).
    job: Option<Job<T>>,
    /// The job ended, cleaning below this offset, but rewrites of it are still held: the
    /// pass is recorded once they are in place.
    ended: Option<i64>,
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

    /// If the cleaner's deadline has come: rewrites held back tried again, and one step of the
    /// pass run here, or the choice of the next pass.
    pub(super) fn cleaner_check(&mut self) {
        if self.cleaner.deadline.is_none_or(|d| d > self.now) {
            return;
        }
        self.cleaner.deadline = None;
        self.retry_held();
        if self.cleaner.running.is_none() {
            self.cleaner.running = self.dirtiest();
        }
        if !self.config.cleaner_jobs {
            self.cleaner_step();
        }
        if self
            .cleaner
            .running
            .as_ref()
            .is_some_and(|r| r.job.is_some() && !self.config.cleaner_jobs)
        {
            self.cleaner.deadline = Some(self.now);
        }
        if !self.cleaner.held.is_empty() {
            let retry = self.now + HELD_RETRY;
            self.cleaner.deadline = Some(self.cleaner.deadline.map_or(retry, |d| d.min(retry)));
        }
    }

    /// The pass to run, for a runtime that runs passes on a thread of its own
    /// ([`super::BrokerConfig::cleaner_jobs`]): each step's [`Progress`] comes back through
    /// [`Broker::cleaned`], in order. Look after each drain of outputs.
    pub fn take_clean_job(&mut self) -> Option<Job<S::Segment>> {
        if !self.config.cleaner_jobs {
            return None;
        }
        self.cleaner.running.as_mut()?.job.take()
    }

    /// What a step of the job taken with [`Broker::take_clean_job`] came to: a rewrite put in
    /// place of its segment, or the pass ended. Drain [`Broker::poll_output`] afterwards.
    pub fn cleaned(&mut self, now: Instant, unix_ms: i64, progress: Progress<S::Segment>) {
        self.tick(now, unix_ms);
        if self
            .cleaner
            .running
            .as_ref()
            .is_some_and(|r| r.job.is_none())
        {
            self.on_progress(progress);
        } else if let Progress::Rewritten(rewritten) = progress {
            // No job is away: nothing of this may be used.
            self.discard(rewritten.out);
        }
        self.continue_create_jobs();
        self.run_resumed();
    }

    /// The compaction settings of topic `ti`, if its `cleanup.policy` includes `compact`, or
    /// it is the offsets log or the transaction log: compacted as Kafka's `__consumer_offsets`
    /// and `__transaction_state` are, whatever they were created with, so their size and the
    /// replay at startup follow the groups, offsets and transactional ids held, not every change
    /// ever made (the newest record of each key is the state replayed).
    fn compaction(&self, ti: u32) -> Option<Compaction> {
        let topic = self.topics.topic(ti);
        let s = &topic.settings;
        let state_log = topic.name == super::groups::OFFSETS_TOPIC
            || topic.name == crate::txn::TRANSACTION_STATE_TOPIC;
        (s.compact || state_log).then_some(Compaction {
            min_dirty_ratio: s.min_cleanable_dirty_ratio,
            min_lag_ms: s.min_compaction_lag_ms,
            max_lag_ms: s.max_compaction_lag_ms,
        })
    }

    /// A pass over the partition most worth cleaning, if one is.
    fn dirtiest(&mut self) -> Option<Running<S::Segment>> {
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
        let plan = self.plan(pi, end)?;
        let topic_id = self.topics.topic(self.topics.partition(pi)?.topic).id;
        Some(Running {
            pi,
            topic_id,
            job: Some(Job::new(plan)),
            ended: None,
        })
    }

    /// The plan of a pass over partition `pi` whose dirty range ends at `end`.
    fn plan(&self, pi: u32, end: i64) -> Option<Plan> {
        let p = self.topics.partition(pi)?;
        let topic = self.topics.topic(p.topic);
        let start = p.log.log_start_offset();
        let first_dirty = self
            .cleaner
            .first_dirty
            .get(&pi)
            .map_or(start, |&d| d.max(start));
        let sealed = &p.log.segments()[..p.log.segment_count() - 1];
        let segments: Vec<Span> = sealed
            .iter()
            .take_while(|s| s.base_offset() < end)
            .map(|s| Span {
                base: s.base_offset(),
                next_offset: s.next_offset(),
                len: s.len_bytes(),
            })
            .collect();
        let mut aborted: Vec<Aborted> = p
            .txns
            .aborted_overlapping(segments.first().map_or(end, |s| s.base), end)
            .map(|a| Aborted {
                producer_id: a.producer_id,
                first_offset: a.first_offset,
                last_offset: a.last_offset,
            })
            .collect();
        aborted.sort_unstable_by_key(|a| a.first_offset);
        Some(Plan {
            topic: topic.name.clone(),
            partition: p.index,
            segments,
            first_dirty,
            end,
            tombstones_before: self.tombstones_before(pi, topic.settings.delete_retention_ms),
            aborted,
            map_budget_bytes: usize::try_from(self.config.log_cleaner_dedupe_buffer_size)
                .unwrap_or(usize::MAX),
            decompressed_bytes_max: decompressed_bytes_max(topic.settings.max_message_bytes),
        })
    }

    /// Tombstones below this offset of partition `pi` were passed by a pass at least
    /// `retention_ms` ago: a pass removes them.
    fn tombstones_before(&self, pi: u32, retention_ms: i64) -> i64 {
        let now_ms = self.unix_ms;
        self.cleaner.passes.get(&pi).map_or(i64::MIN, |passes| {
            passes
                .iter()
                .filter(|&&(_, at)| at.saturating_add(retention_ms) <= now_ms)
                .map(|&(end, _)| end)
                .max()
                .unwrap_or(i64::MIN)
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

    /// One bounded step of the pass, run here.
    fn cleaner_step(&mut self) {
        let Some(running) = self.cleaner.running.as_mut() else {
            return;
        };
        let (pi, topic_id) = (running.pi, running.topic_id);
        let Some(mut job) = running.job.take() else {
            return;
        };
        let (topic, partition) = (job.plan().topic.clone(), job.plan().partition);
        let mut io = BrokerIo {
            broker: self,
            pi,
            topic,
            partition,
        };
        if !io.broker.is_live(pi, topic_id) {
            if !job.cancel(&mut io) {
                self.cleaner.rewrites_left += 1;
            }
            self.cleaner.running = None;
            return;
        }
        let progress = job.step(&mut io, STEP_BYTES);
        if let Some(running) = self.cleaner.running.as_mut() {
            running.job = Some(job);
        }
        self.on_progress(progress);
    }

    /// Whether partition `pi` is still the log of topic `topic_id`.
    fn is_live(&self, pi: u32, topic_id: Uuid) -> bool {
        self.topics
            .partition(pi)
            .is_some_and(|p| self.topics.topic(p.topic).id == topic_id)
    }

    /// Act on what a step of the running pass came to.
    fn on_progress(&mut self, progress: Progress<S::Segment>) {
        let Some((pi, topic_id)) = self.cleaner.running.as_ref().map(|r| (r.pi, r.topic_id)) else {
            return;
        };
        match progress {
            Progress::Working => {}
            Progress::Rewritten(rewritten) => {
                if let Err(rewritten) = self.put_in_place(pi, topic_id, rewritten) {
                    self.cleaner.held.push((pi, topic_id, rewritten));
                    let retry = self.now + HELD_RETRY;
                    self.cleaner.deadline =
                        Some(self.cleaner.deadline.map_or(retry, |d| d.min(retry)));
                }
            }
            Progress::Done { end } => {
                if let Some(running) = self.cleaner.running.as_mut() {
                    running.ended = Some(end);
                }
                self.end_pass();
            }
            Progress::Failed { rewrite_left, .. } => {
                self.cleaner.running = None;
                if rewrite_left {
                    self.cleaner.rewrites_left += 1;
                }
                // Not tried again at once, the cause may last: after the backoff that the next
                // client bytes start.
                self.cleaner.deadline = None;
            }
        }
    }

    /// The running pass's job ended: the pass is recorded (and the next looked for) once none
    /// of its rewrites is held back, so the checkpoint never claims a segment still uncleaned.
    fn end_pass(&mut self) {
        let Some(running) = self.cleaner.running.as_ref() else {
            return;
        };
        let (pi, topic_id) = (running.pi, running.topic_id);
        let Some(end) = running.ended else {
            return;
        };
        if self
            .cleaner
            .held
            .iter()
            .any(|(p, id, _)| *p == pi && *id == topic_id)
        {
            return;
        }
        self.cleaner.running = None;
        if self.is_live(pi, topic_id) {
            self.pass_done(pi, end);
        } else {
            self.cleaner.deadline = Some(self.now);
        }
    }

    /// Rewrites held back, tried again.
    fn retry_held(&mut self) {
        for (pi, topic_id, rewritten) in core::mem::take(&mut self.cleaner.held) {
            if let Err(rewritten) = self.put_in_place(pi, topic_id, rewritten) {
                self.cleaner.held.push((pi, topic_id, rewritten));
            }
        }
        self.end_pass();
    }

    /// Put a rewrite in place of its segment; `Err` gives it back while a response still sends
    /// the old segment's bytes. A rewrite that cannot be used (its log or segment gone, a
    /// storage error) is removed.
    fn put_in_place(
        &mut self,
        pi: u32,
        topic_id: Uuid,
        rewritten: Rewritten<S::Segment>,
    ) -> Result<(), Rewritten<S::Segment>> {
        let base = rewritten.base;
        let segment = self
            .is_live(pi, topic_id)
            .then(|| self.topics.partition(pi).and_then(|p| p.log.segment(base)))
            .flatten();
        let Some(segment) = segment else {
            self.discard(rewritten.out);
            return Ok(());
        };
        if segment.refs() > 0 {
            return Err(rewritten);
        }
        let Some(p) = self.topics.partition_mut(pi) else {
            self.discard(rewritten.out);
            return Ok(());
        };
        if rewritten.len == 0 && p.log.log_start_offset() < base {
            // Emptied, and not the first: removed, so reads do not step through empty files.
            if p.log.remove_emptied(&mut self.storage, base).is_err() {
                self.cleaner.deadline = None;
            }
            self.discard(rewritten.out);
            return Ok(());
        }
        // The old segment may be closed: its file is what is replaced, its bytes are not read.
        match p
            .log
            .replace_sealed(&mut self.storage, base, rewritten.out, rewritten.len)
        {
            Ok(true) => {
                // The rewrite comes open; closed like the segments the cap did not open.
                if let Some(segment) = p.log.segment_mut(base) {
                    if segment.close(&mut self.storage).is_err() {
                        self.cleaner.deadline = None;
                    }
                }
            }
            // Gone meanwhile (retention): nothing to replace, the rewrite is left as a file that
            // the next start removes.
            Ok(false) => self.cleaner.rewrites_left += 1,
            Err(_) => self.cleaner.rewrites_left += 1,
        }
        Ok(())
    }

    /// Remove a rewrite that will not be used; one that cannot be is a file the next start
    /// removes.
    fn discard(&mut self, out: S::Segment) {
        if self.storage.delete_segment(out).is_err() {
            self.cleaner.rewrites_left += 1;
        }
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
        self.write_cleaner_checkpoint();
    }

    /// Record what the passes have cleaned, for the next start.
    fn write_cleaner_checkpoint(&mut self) {
        let entries: Vec<checkpoint::Entry> = self
            .cleaner
            .first_dirty
            .iter()
            .filter_map(|(&pi, &first_dirty)| {
                let p = self.topics.partition(pi)?;
                let topic = self.topics.topic(p.topic);
                Some(checkpoint::Entry {
                    topic: topic.name.clone(),
                    partition: p.index,
                    topic_id: topic.id,
                    first_dirty,
                    passes: self.cleaner.passes.get(&pi).cloned().unwrap_or_default(),
                })
            })
            .collect();
        if self
            .storage
            .write_cleaner_checkpoint(&checkpoint::encode(&entries))
            .is_err()
        {
            self.cleaner.checkpoint_write_failures += 1;
        }
    }

    /// At startup: what the passes of the previous run cleaned, of the logs still there. A
    /// checkpoint that cannot be read (the storage logs why) only means cleaning again.
    pub(super) fn recover_cleaner(&mut self) {
        let Ok(Some(bytes)) = self.storage.read_cleaner_checkpoint() else {
            return;
        };
        for entry in checkpoint::parse(&bytes) {
            let pi = self.topics.by_name(&entry.topic).and_then(|ti| {
                (self.topics.topic(ti).id == entry.topic_id)
                    .then(|| self.topics.partition_of(ti, entry.partition))
                    .flatten()
            });
            let Some(p) = pi.and_then(|pi| self.topics.partition(pi).map(|p| (pi, p))) else {
                continue;
            };
            let (pi, log) = (p.0, &p.1.log);
            // Never past the sealed segments: the active one is not cleaned.
            let first_dirty = entry
                .first_dirty
                .min(log.active_base_offset())
                .max(log.log_start_offset());
            self.cleaner.first_dirty.insert(pi, first_dirty);
            let mut passes = entry.passes;
            passes.drain(..passes.len().saturating_sub(PASSES_KEPT));
            self.cleaner.passes.insert(pi, passes);
        }
    }
}

/// A job run here reads the partition's segments and writes rewrites through the broker's
/// storage.
struct BrokerIo<'a, S: Storage> {
    broker: &'a mut Broker<S>,
    pi: u32,
    topic: String,
    partition: i32,
}

impl<S: Storage> JobIo for BrokerIo<'_, S> {
    type Out = S::Segment;

    fn segment(&mut self, base: i64, len: usize) -> Result<&[u8], StorageError> {
        self.broker.use_segment(self.pi, base)?;
        let len = u32::try_from(len).map_err(|_| gone(base))?;
        self.broker
            .topics
            .partition(self.pi)
            .and_then(|p| p.log.segment_bytes(base, 0, len))
            .ok_or_else(|| gone(base))
    }

    fn create(&mut self, base: i64, capacity_bytes: usize) -> Result<S::Segment, StorageError> {
        let (topic, partition) = (&self.topic, self.partition);
        self.broker
            .storage
            .create_cleaned_segment(topic, partition, base, capacity_bytes)
    }

    fn discard(&mut self, out: S::Segment) -> Result<(), StorageError> {
        self.broker.storage.delete_segment(out)
    }
}

/// A segment a job reads is gone (retention took it).
fn gone(base: i64) -> StorageError {
    StorageError::new(
        StorageErrorKind::NotFound,
        alloc::format!("segment {base} is gone"),
    )
}

impl<T> Cleaner<T> {
    /// Forget what the cleaner knows of a partition that was deleted.
    pub(super) fn forget(&mut self, pi: u32) {
        self.first_dirty.remove(&pi);
        self.passes.remove(&pi);
    }
}

mod checkpoint;
#[cfg(test)]
mod tests;
