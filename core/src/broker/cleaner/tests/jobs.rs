//! Passes run by the runtime ([`BrokerConfig::cleaner_jobs`]): the broker hands out the job,
//! never steps it itself, and puts in place what comes back, as a pass run here would.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::{B, clean, newest, put, read_all, start, versions};
use crate::broker::harness::{call, create};
use crate::codec::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use crate::log::cleaner::job::{Job, JobIo, Progress};
use crate::storage::{MemorySegment, StorageError, StorageErrorKind};

/// A runtime's cleaner thread: the segments' bytes as they were when it took the job.
struct Thread {
    segments: BTreeMap<i64, Vec<u8>>,
    created: usize,
    discarded: usize,
}

impl JobIo for Thread {
    type Out = MemorySegment;

    fn segment(&mut self, base: i64, len: usize) -> Result<&[u8], StorageError> {
        self.segments
            .get(&base)
            .and_then(|bytes| bytes.get(..len))
            .ok_or_else(|| StorageError::new(StorageErrorKind::NotFound, "no such segment"))
    }

    fn create(&mut self, _base: i64, capacity_bytes: usize) -> Result<MemorySegment, StorageError> {
        self.created += 1;
        Ok(MemorySegment::new(capacity_bytes))
    }

    fn discard(&mut self, _out: MemorySegment) -> Result<(), StorageError> {
        self.discarded += 1;
        Ok(())
    }
}

/// The thread for `job`, with copies of the segments of partition 0 it names.
fn thread_for(b: &mut B, job: &Job<MemorySegment>) -> Thread {
    let mut segments = BTreeMap::new();
    for span in &job.plan().segments {
        b.use_segment(0, span.base).expect("opens");
        let len = u32::try_from(span.len).expect("small");
        let log = &b.topics.partition(0).expect("p").log;
        let bytes = log.segment_bytes(span.base, 0, len).expect("bytes");
        segments.insert(span.base, bytes.to_vec());
    }
    Thread {
        segments,
        created: 0,
        discarded: 0,
    }
}

/// Run `job` to its end on `thread` as a runtime would, in steps of `budget` bytes, handing
/// each step's progress back. How many rewrites came back.
fn run(b: &mut B, mut job: Job<MemorySegment>, thread: &mut Thread, budget: usize) -> usize {
    let mut rewritten = 0;
    for _ in 0..100_000 {
        let progress = job.step(thread, budget);
        let end = matches!(progress, Progress::Done { .. } | Progress::Failed { .. });
        rewritten += usize::from(matches!(progress, Progress::Rewritten(_)));
        let (now, unix_ms) = (b.clock.now(), b.clock.unix_ms());
        b.cleaned(now, unix_ms, progress);
        b.drain().expect("drains");
        if end {
            return rewritten;
        }
    }
    panic!("the job did not end");
}

/// Let the cleaner look, and run every job it hands out to its end.
fn clean_on_a_thread(b: &mut B) {
    let backoff = b.config.log_cleaner_backoff_ms;
    b.advance_ms(u64::from(backoff));
    for _ in 0..1_000 {
        b.drain().expect("drains");
        match b.take_clean_job() {
            Some(job) => {
                let mut thread = thread_for(b, &job);
                run(b, job, &mut thread, 1 << 20);
            }
            None if b.cleaner.deadline.is_none_or(|d| d > b.clock.now()) => return,
            None => b.advance_ms(0),
        }
    }
    panic!("the passes did not end");
}

/// Ten versions of four keys, and a tombstone, in small segments of a compacted topic.
fn fill(b: &mut B) {
    create(b, "t", 1, &[("cleanup.policy", "compact")]);
    versions(b, 0..4, 10, "v");
    put(b, "k1", None);
    versions(b, 0..4, 1, "last");
}

fn with_jobs() -> B {
    let mut b = start();
    b.config.cleaner_jobs = true;
    b
}

#[test]
fn a_pass_run_by_the_runtime_leaves_what_a_pass_run_here_leaves() {
    let mut here = start();
    let mut away = with_jobs();
    fill(&mut here);
    fill(&mut away);
    let before = read_all(&mut away);
    assert_eq!(read_all(&mut here), before);
    clean(&mut here);
    clean_on_a_thread(&mut away);
    let after = read_all(&mut away);
    assert!(
        after.len() < before.len(),
        "{} of {}",
        after.len(),
        before.len()
    );
    assert_eq!(after, read_all(&mut here));
    assert_eq!(newest(&after), newest(&before));
    assert_eq!(
        away.storage.segments_replaced,
        here.storage.segments_replaced
    );
}

#[test]
fn the_broker_never_steps_a_pass_it_handed_out() {
    let mut b = with_jobs();
    fill(&mut b);
    let before = read_all(&mut b);
    let backoff = b.config.log_cleaner_backoff_ms;
    b.advance_ms(u64::from(backoff));
    b.drain().expect("drains");
    let job = b.take_clean_job().expect("a pass is due");
    assert!(b.take_clean_job().is_none(), "one pass at a time");
    // While the job is away the broker serves, never wakes for it, and changes nothing.
    for _ in 0..3 {
        b.advance_ms(u64::from(backoff));
        b.drain().expect("drains");
        assert!(b.take_clean_job().is_none());
    }
    assert!(b.cleaner.deadline.is_none_or(|d| d > b.clock.now()));
    assert_eq!(b.storage.segments_replaced, 0);
    let produced = put(&mut b, "k9", Some("during"));
    // Its progress comes back: rewrites in place, the pass recorded.
    let mut thread = thread_for(&mut b, &job);
    assert!(run(&mut b, job, &mut thread, 100) > 0);
    assert!(b.storage.segments_replaced > 0);
    let after = read_all(&mut b);
    assert!(after.len() < before.len());
    assert_eq!(after.last().map(|r| r.0), Some(produced));
    assert!(
        b.cleaner.first_dirty.contains_key(&0),
        "the pass is recorded"
    );
}

#[test]
fn a_topic_deleted_while_its_pass_is_away_gets_nothing_of_it() {
    let mut b = with_jobs();
    fill(&mut b);
    let backoff = b.config.log_cleaner_backoff_ms;
    b.advance_ms(u64::from(backoff));
    b.drain().expect("drains");
    let job = b.take_clean_job().expect("a pass is due");
    let mut thread = thread_for(&mut b, &job);
    let deleted: DeleteTopicsResponse = call(
        &mut b,
        4,
        &DeleteTopicsRequest {
            topic_names: alloc::vec!["t".into()],
            timeout_ms: 1000,
            ..Default::default()
        },
    );
    assert_eq!(deleted.responses[0].error_code, 0);
    // The same name again: another log, which the old pass's rewrites must not touch.
    create(&mut b, "t", 1, &[("cleanup.policy", "compact")]);
    let offset = put(&mut b, "k0", Some("new"));
    let deleted_before = b.storage.segments_deleted;
    let rewritten = run(&mut b, job, &mut thread, 1 << 20);
    assert!(rewritten > 0);
    assert_eq!(b.storage.segments_replaced, 0);
    assert_eq!(
        b.storage.segments_deleted - deleted_before,
        rewritten,
        "each rewrite that came back was removed"
    );
    let rows = read_all(&mut b);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, offset);
    assert!(
        !b.cleaner.first_dirty.contains_key(&0),
        "no pass is recorded for the new log"
    );
}
