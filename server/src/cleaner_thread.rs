//! The log cleaner's thread, as Kafka's cleaner threads: it runs the passes the broker hands out
//! ([`Broker::take_clean_job`](blazemq_core::broker::Broker::take_clean_job)) off the event loop,
//! at a lower scheduling priority than the loop, and hands each rewritten segment and the pass's
//! end back through a channel, waking the loop, which puts rewrites in place (a rename) between
//! requests.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use blazemq_core::log::cleaner::job::{Job, JobIo, Plan, Progress};
use blazemq_core::storage::SegmentBuffer;
use blazemq_platform::wake::{self, Waker};

/// Log bytes a job reads between two looks at whether the broker is stopping.
const STEP_BYTES: usize = 1 << 20;

/// The thread and its channels.
#[derive(Debug)]
pub struct CleanerThread<T> {
    jobs: Option<mpsc::Sender<Job<T>>>,
    progress: mpsc::Receiver<Progress<T>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T: SegmentBuffer + Send + 'static> CleanerThread<T> {
    /// Start the thread: a job's segments are read and its rewrites written through
    /// `io_for(plan)`; `waker` wakes the loop when progress is waiting.
    pub fn spawn<I, F>(io_for: F, waker: Waker) -> io::Result<CleanerThread<T>>
    where
        I: JobIo<Out = T>,
        F: Fn(&Plan) -> I + Send + 'static,
    {
        let (jobs, job_rx) = mpsc::channel::<Job<T>>();
        let (progress_tx, progress) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("log-cleaner".into())
            .spawn(move || {
                if let Err(e) = wake::lower_this_threads_priority() {
                    crate::warn!(
                        "the log cleaner runs at normal priority",
                        cause = e.to_string(),
                    );
                }
                for job in job_rx {
                    let mut io = io_for(job.plan());
                    if !run(job, &mut io, &stopping, &progress_tx, &waker) {
                        return;
                    }
                }
            })?;
        Ok(CleanerThread {
            jobs: Some(jobs),
            progress,
            stop,
            thread: Some(thread),
        })
    }
}

impl<T> CleanerThread<T> {
    /// Hand `job` to the thread.
    pub fn start(&self, job: Job<T>) {
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            // Only a thread that ended on a panic refuses: the broker waits for a pass that
            // never ends, and compaction stops; serving goes on.
            crate::error!("the log cleaner thread is gone: compaction stops");
        }
    }

    /// The next progress the thread handed back.
    pub fn take_progress(&self) -> Option<Progress<T>> {
        self.progress.try_recv().ok()
    }
}

/// Run `job` to its end, sending what the loop must act on; `false` once the broker is stopping
/// (the rewrite in progress removed).
fn run<T, I: JobIo<Out = T>>(
    mut job: Job<T>,
    io: &mut I,
    stop: &AtomicBool,
    progress: &mpsc::Sender<Progress<T>>,
    waker: &Waker,
) -> bool
where
    T: SegmentBuffer,
{
    loop {
        if stop.load(Ordering::Relaxed) {
            // What it leaves if its rewrite cannot be removed, the next start removes.
            if !job.cancel(io) {
                crate::warn!("a log cleaner rewrite is left for the next start to remove");
            }
            return false;
        }
        let step = job.step(io, STEP_BYTES);
        let ended = matches!(step, Progress::Done { .. } | Progress::Failed { .. });
        if !matches!(step, Progress::Working) {
            if progress.send(step).is_err() {
                return false;
            }
            if let Err(e) = waker.wake() {
                crate::error!(
                    "the log cleaner cannot wake the event loop",
                    cause = e.to_string(),
                );
            }
        }
        if ended {
            return true;
        }
    }
}

impl<T> Drop for CleanerThread<T> {
    /// Stop the thread within a step, its rewrite in progress removed.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                crate::error!("the log cleaner thread panicked");
            }
        }
    }
}
