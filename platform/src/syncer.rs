//! fsyncs done on a thread of their own, so the event loop never waits for the disk.
//!
//! Making a new file's name durable needs an fsync of its directory, and on a virtual disk one
//! fsync can take milliseconds: a request creating thousands of topics did tens of thousands of
//! them on the loop and stalled every client for seconds. What the loop hands [`Syncer`] is
//! synced soon after, in order; a process that is killed loses nothing by the wait (the page
//! cache survives it), only a power loss in that moment can, as it can take any data written
//! since the last sync. A clean shutdown waits for the queue ([`Syncer::finish`]), or drops it when a
//! sync of the whole file system follows ([`Syncer::finish_covered`]).

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// A thread that fsyncs the files and directories it is handed.
pub struct Syncer {
    queue: Option<mpsc::Sender<PathBuf>>,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// What is still queued need not be synced: a sync of the whole file system follows.
    covered: Arc<AtomicBool>,
}

impl Syncer {
    /// Start the thread.
    pub fn spawn() -> io::Result<Syncer> {
        let (queue, paths) = mpsc::channel();
        let covered = Arc::new(AtomicBool::new(false));
        let theirs = Arc::clone(&covered);
        let thread = std::thread::Builder::new()
            .name("blazemq-sync".into())
            .spawn(move || sync_all(&paths, &theirs))?;
        Ok(Syncer {
            queue: Some(queue),
            thread: Some(thread),
            covered,
        })
    }

    /// fsync `path` (a file or a directory) soon.
    pub fn sync_later(&self, path: &Path) -> io::Result<()> {
        let queue = self
            .queue
            .as_ref()
            .ok_or_else(|| io::Error::other("the sync thread has finished"))?;
        queue
            .send(path.to_path_buf())
            .map_err(|_| io::Error::other("the sync thread has stopped"))
    }

    /// Stop without syncing what is still queued, waiting only for the fsync in progress: for a
    /// caller that syncs the whole file system next (`syncfs`), which makes every path handed
    /// over so far durable at once. A round of hundreds of fsyncs, a directory and a file for
    /// each new partition, would otherwise hold a shutdown for as many disk flushes.
    pub fn finish_covered(&mut self) -> io::Result<()> {
        self.covered.store(true, Ordering::Relaxed);
        self.finish()
    }

    /// Wait until everything handed over is synced; the first error any sync met, if one did.
    pub fn finish(&mut self) -> io::Result<()> {
        drop(self.queue.take());
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the sync thread panicked")),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            eprintln!("blazemq: syncing created files: {e}");
        }
    }
}

impl fmt::Debug for Syncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Syncer")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

/// The thread: take what is queued, each path once per round, until the queue closes. A path
/// that no longer exists (a topic deleted meanwhile) needs no sync.
fn sync_all(paths: &mpsc::Receiver<PathBuf>, covered: &AtomicBool) -> io::Result<()> {
    let mut first_error = Ok(());
    while let Ok(path) = paths.recv() {
        let mut round = BTreeSet::from([path]);
        round.extend(paths.try_iter());
        for path in round {
            if covered.load(Ordering::Relaxed) {
                break;
            }
            match File::open(&path).and_then(|f| f.sync_all()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    if first_error.is_ok() {
                        first_error = Err(io::Error::new(
                            e.kind(),
                            format!("fsync {}: {e}", path.display()),
                        ));
                    }
                }
            }
        }
    }
    first_error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_what_it_is_handed_and_finishes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("a");
        std::fs::write(&file, b"x").expect("write");
        let mut syncer = Syncer::spawn().expect("spawn");
        syncer.sync_later(&file).expect("queued");
        syncer.sync_later(dir.path()).expect("queued");
        syncer.sync_later(&dir.path().join("gone")).expect("queued");
        syncer.finish().expect("all synced");
        assert!(syncer.sync_later(&file).is_err(), "finished");
        syncer.finish().expect("finishing twice is fine");
    }

    #[test]
    fn a_covered_finish_drops_the_queue() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut syncer = Syncer::spawn().expect("spawn");
        for i in 0..1000 {
            syncer
                .sync_later(&dir.path().join(format!("gone-{i}")))
                .expect("queued");
        }
        syncer.finish_covered().expect("stopped");
        assert!(syncer.sync_later(dir.path()).is_err(), "finished");
    }
}
