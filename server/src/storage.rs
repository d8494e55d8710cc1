//! `core`'s [`Storage`] over memory-mapped files, in Kafka's layout:
//! `<log_dir>/<topic>-<partition>/<base offset, 20 digits>.log` and, beside the segments,
//! `partition.metadata` and `log-start-offset` (each replaced atomically), `transaction-index`
//! (appended to, replaced atomically when compacted), and in the data
//! directory the recovery checkpoint, written by a thread of its own after a file-system sync.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use blazemq_core::storage::{
    FoundPartition, FoundSegment, Recovery, SegmentBuffer, Storage, StorageError, StorageErrorKind,
};
use blazemq_platform::MappedFile;
use blazemq_platform::fs::{sync_filesystem, temp_path, write_atomic, write_replace};
use blazemq_platform::syncer::Syncer;

use crate::logging::RateLimiter;

/// Name of a partition's metadata file.
pub const METADATA_FILE: &str = "partition.metadata";
/// Name of the file holding a partition's log start offset once DeleteRecords raised it.
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset";
/// Name of the file holding a partition's transactions (open ones, aborted ones), once it had
/// one: fixed-size entries, see docs/format.md.
pub const TRANSACTION_INDEX_FILE: &str = "transaction-index";
/// Name of the recovery checkpoint in the data directory: Kafka's name, our format.
pub const RECOVERY_CHECKPOINT_FILE: &str = "recovery-point-offset-checkpoint";
/// Name of the file in the data directory holding the dynamic broker settings.
pub const BROKER_CONFIGS_FILE: &str = "broker-configs";
/// The log cleaner's progress, under the data directory (Kafka's name for it).
pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
/// Extension of segment files.
const SEGMENT_EXTENSION: &str = "log";
/// Extension of a segment's rewrite by the log cleaner, before it replaces the segment.
const CLEANED_EXTENSION: &str = "cleaned";
/// Digits of a segment file's name: Kafka pads base offsets to 20.
const SEGMENT_NAME_DIGITS: usize = 20;

/// A segment file: written with `pwritev`, read through a read-only map, while open. Closed, it
/// is only its path and capacity: no file descriptor, no mapping (`core` opens it when the
/// partition is used, and closes the least recently used past `max_open_segments`).
#[derive(Debug)]
pub struct SegmentFile {
    path: PathBuf,
    /// The open file; `None` while closed.
    file: Option<MappedFile>,
    /// Bytes the file may grow to, kept while it is closed.
    capacity_bytes: usize,
    /// Its last write failed and was logged: a full disk fails every append until space
    /// returns, and one line says so, not one per request.
    failing: bool,
    /// A cleaner's rewrite already trimmed and synced on the cleaner's thread.
    durable: bool,
}

impl SegmentFile {
    fn new(file: MappedFile) -> SegmentFile {
        SegmentFile {
            path: file.path().to_path_buf(),
            capacity_bytes: file.capacity(),
            file: Some(file),
            failing: false,
            durable: false,
        }
    }

    /// The segment at `path`, not opened: opening it grows it to `capacity_bytes` at most.
    fn closed(path: PathBuf, capacity_bytes: usize) -> SegmentFile {
        SegmentFile {
            path,
            file: None,
            capacity_bytes,
            failing: false,
            durable: false,
        }
    }

    /// Whether its file is open and mapped.
    #[cfg(test)]
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    fn open_file(&mut self) -> Result<&mut MappedFile, StorageError> {
        self.file.as_mut().ok_or_else(|| {
            StorageError::new(
                StorageErrorKind::Invalid,
                format!("{} is closed", self.path.display()),
            )
        })
    }
}

impl AsRef<[u8]> for SegmentFile {
    /// The file's bytes; nothing while closed (`core` never reads a segment it closed).
    fn as_ref(&self) -> &[u8] {
        self.file.as_ref().map_or(&[], MappedFile::as_ref)
    }
}

impl SegmentBuffer for SegmentFile {
    fn capacity_bytes(&self) -> usize {
        self.file
            .as_ref()
            .map_or(self.capacity_bytes, MappedFile::capacity)
    }

    fn write_at(&mut self, position: usize, head: &[u8], tail: &[u8]) -> Result<(), StorageError> {
        let file = self.open_file()?;
        match file.write_at(position, head, tail) {
            Ok(()) => {
                if std::mem::take(&mut self.failing) {
                    storage_recovered(&self.path);
                }
                Ok(())
            }
            Err(e) => {
                self.failing = true;
                Err(io_error(
                    &e,
                    format!("cannot write {}", self.path.display()),
                ))
            }
        }
    }

    fn truncate(&mut self, len_bytes: usize) -> Result<(), StorageError> {
        let path = self.path.display().to_string();
        self.open_file()?
            .truncate(len_bytes)
            .map_err(|e| io_error(&e, format!("cannot cut {path} to {len_bytes} bytes")))
    }
}

/// Segment files under one data directory.
#[derive(Debug)]
pub struct FileStorage {
    log_dir: PathBuf,
    /// Makes new files' names durable off the event loop; started on first use.
    syncer: Option<Syncer>,
    /// Whether the previous run shut down cleanly, so recovery may trust segment lengths.
    clean: bool,
    /// Writes recovery checkpoints; started with the first one.
    flusher: Option<Flusher>,
    /// A checkpoint was handed to the flusher after the last path was handed to the syncer:
    /// the file-system sync before it covers every path queued.
    checkpoint_after_sync_later: bool,
    /// Held while a partition's directory is deleted, and by a cleaner thread creating a file
    /// in one.
    dirs: Arc<Mutex<()>>,
}

/// The checkpoint waiting for the flusher thread.
#[derive(Debug, Default)]
struct FlushSlot {
    /// The newest checkpoint not yet taken: a newer one replaces it.
    pending: Option<Vec<u8>>,
    /// The storage is closing: write what is pending, then stop.
    closing: bool,
}

type Shared = Arc<(Mutex<FlushSlot>, Condvar)>;

/// A thread that makes the segments durable (`syncfs`) and then replaces the checkpoint that
/// vouches for them, off the event loop: a sync may take as long as the disk needs.
#[derive(Debug)]
struct Flusher {
    shared: Shared,
    thread: Option<JoinHandle<Result<(), StorageError>>>,
}

impl Flusher {
    fn start(log_dir: PathBuf) -> Result<Flusher, StorageError> {
        let shared = Shared::default();
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("blazemq-checkpoint".into())
            .spawn(move || flush_loop(&log_dir, &theirs))
            .map_err(|e| io_error(&e, "cannot start the checkpoint thread".into()))?;
        Ok(Flusher {
            shared,
            thread: Some(thread),
        })
    }

    fn hand(&self, bytes: &[u8]) {
        let (lock, wake) = &*self.shared;
        lock.lock().unwrap_or_else(PoisonError::into_inner).pending = Some(bytes.to_vec());
        wake.notify_one();
    }

    /// Let the thread write what is pending and stop; the last write's result.
    fn finish(&mut self) -> Result<(), StorageError> {
        let (lock, wake) = &*self.shared;
        lock.lock().unwrap_or_else(PoisonError::into_inner).closing = true;
        wake.notify_one();
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(StorageError::new(
                StorageErrorKind::Io,
                "the checkpoint thread panicked",
            )),
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        // Dropped without `Storage::close` (a failed start, a test): the thread still stops. A
        // checkpoint it fails to write leaves the older one, which is correct, only staler.
        if let Err(e) = self.finish() {
            crate::error!("the last recovery checkpoint was not written", error = e);
        }
    }
}

/// The flusher thread: take the newest checkpoint, sync, write; until closing with nothing
/// pending. Returns the result of the last write.
fn flush_loop(log_dir: &Path, shared: &Shared) -> Result<(), StorageError> {
    let (lock, wake) = &**shared;
    let mut last = Ok(());
    loop {
        let bytes = {
            let mut slot = lock.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(bytes) = slot.pending.take() {
                    break bytes;
                }
                if slot.closing {
                    return last;
                }
                slot = wake.wait(slot).unwrap_or_else(PoisonError::into_inner);
            }
        };
        // A failure is logged where it happens (`io_error`).
        last = write_checkpoint(log_dir, &bytes);
    }
}

/// Make every segment byte written so far durable, then replace the checkpoint that vouches for
/// them: a power loss can take neither before the checkpoint counts them.
fn write_checkpoint(log_dir: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let started = std::time::Instant::now();
    sync_filesystem(log_dir)
        .map_err(|e| io_error(&e, format!("cannot sync {}", log_dir.display())))?;
    let synced = started.elapsed();
    let path = log_dir.join(RECOVERY_CHECKPOINT_FILE);
    write_atomic(&path, bytes)
        .map_err(|e| io_error(&e, format!("cannot write {}", path.display())))?;
    crate::debug!(
        "data synced and recovery checkpoint written",
        checkpoint_bytes = bytes.len(),
        sync_ms = synced,
        took_ms = started.elapsed(),
    );
    Ok(())
}

/// What a scan of the data directory found.
#[derive(Debug)]
pub struct Scan {
    /// The partitions, sorted by topic then partition.
    pub partitions: Vec<FoundPartition<SegmentFile>>,
    /// Entries that are not partitions or segments, left alone (for the log).
    pub ignored: Vec<PathBuf>,
}

impl FileStorage {
    /// Storage under `log_dir`, which must exist; `clean` if the previous run shut down
    /// cleanly (its marker was found).
    pub fn new(log_dir: PathBuf, clean: bool) -> FileStorage {
        FileStorage {
            log_dir,
            syncer: None,
            clean,
            flusher: None,
            checkpoint_after_sync_later: false,
            dirs: Arc::default(),
        }
    }

    /// What a cleaner thread needs to run the broker's cleaning jobs.
    pub fn cleaning_files(&self) -> cleaning::CleaningFiles {
        cleaning::CleaningFiles {
            log_dir: self.log_dir.clone(),
            dirs: Arc::clone(&self.dirs),
        }
    }

    /// fsync `path` soon, on the sync thread.
    fn sync_later(&mut self, path: &Path) -> Result<(), StorageError> {
        self.checkpoint_after_sync_later = false;
        let syncer = match &mut self.syncer {
            Some(syncer) => syncer,
            None => self.syncer.insert(
                Syncer::spawn().map_err(|e| io_error(&e, "cannot start the sync thread".into()))?,
            ),
        };
        syncer
            .sync_later(path)
            .map_err(|e| io_error(&e, format!("cannot sync {}", path.display())))
    }

    /// Create `dir` (a partition directory) if missing; its name is made durable soon.
    fn ensure_dir(&mut self, dir: &Path) -> Result<(), StorageError> {
        if dir.is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| io_error(&e, format!("cannot create {}", dir.display())))?;
        let log_dir = self.log_dir.clone();
        self.sync_later(&log_dir)
    }

    /// The directory of a partition; refuses names that would leave the data directory (core
    /// validates topic names too, this is the last line of defence).
    fn partition_dir(&self, topic: &str, partition: i32) -> Result<PathBuf, StorageError> {
        let safe = !topic.is_empty()
            && topic != "."
            && topic != ".."
            && !topic.contains(['/', '\\', '\0'])
            && partition >= 0;
        if !safe {
            return Err(StorageError::new(
                StorageErrorKind::Invalid,
                format!("invalid partition name {topic}-{partition}"),
            ));
        }
        Ok(self.log_dir.join(format!("{topic}-{partition}")))
    }

    /// Every partition under the data directory with its segments, none opened: the newest
    /// growable to `segment_size_bytes` so appends can go on, older ones sealed at their length.
    /// After a `clean` shutdown the segments are trusted; after a crash recovery checks them.
    pub fn scan(&self, segment_size_bytes: usize, clean: bool) -> io::Result<Scan> {
        let mut scan = Scan {
            partitions: Vec::new(),
            ignored: Vec::new(),
        };
        for entry in std::fs::read_dir(&self.log_dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                scan.ignored.push(path);
                continue;
            };
            if name.starts_with('.') || !entry.file_type()?.is_dir() {
                continue;
            }
            match parse_partition_dir(name) {
                Some((topic, partition)) => scan.partitions.push(scan_partition(
                    &path,
                    topic,
                    partition,
                    segment_size_bytes,
                    clean,
                    &mut scan.ignored,
                )?),
                None => scan.ignored.push(path),
            }
        }
        scan.partitions
            .sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(scan)
    }
}

impl Storage for FileStorage {
    type Segment = SegmentFile;

    /// [`FileStorage::scan`]; entries that are neither partitions nor segments are left alone
    /// and named on stderr.
    fn recover(
        &mut self,
        segment_size_bytes: usize,
    ) -> Result<Vec<FoundPartition<SegmentFile>>, StorageError> {
        let scan = self.scan(segment_size_bytes, self.clean).map_err(|e| {
            io_error(
                &e,
                format!("cannot scan the data directory {}", self.log_dir.display()),
            )
        })?;
        for path in &scan.ignored {
            crate::warn!(
                "ignoring an entry of the data directory: not a partition or segment",
                path = path.as_path(),
            );
        }
        Ok(scan.partitions)
    }

    fn create_segment(
        &mut self,
        topic: &str,
        partition: i32,
        base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<SegmentFile, StorageError> {
        let dir = self.partition_dir(topic, partition)?;
        if base_offset < 0 {
            return Err(StorageError::new(
                StorageErrorKind::Invalid,
                format!("negative base offset {base_offset}"),
            ));
        }
        self.ensure_dir(&dir)?;
        let path = dir.join(segment_file_name(base_offset));
        let segment = MappedFile::create(&path, capacity_bytes)
            .map(SegmentFile::new)
            .map_err(|e| io_error(&e, format!("cannot create {}", path.display())))?;
        // The new file's name becomes durable soon: a kill loses nothing meanwhile (see
        // blazemq_platform::syncer), and the loop does not wait for the disk.
        self.sync_later(&dir)?;
        Ok(segment)
    }

    fn create_cleaned_segment(
        &mut self,
        topic: &str,
        partition: i32,
        base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<SegmentFile, StorageError> {
        let dir = self.partition_dir(topic, partition)?;
        let path = dir.join(cleaned_file_name(base_offset));
        MappedFile::create(&path, capacity_bytes)
            .map(SegmentFile::new)
            .map_err(|e| io_error(&e, format!("cannot create {}", path.display())))
    }

    /// The cleaned file is trimmed and synced, then renamed over the old one: the rename is the
    /// moment of the switch, and the data it points to is on disk before it.
    fn replace_segment(
        &mut self,
        old: &mut SegmentFile,
        cleaned: &mut SegmentFile,
        len_bytes: usize,
    ) -> Result<(), StorageError> {
        let path = cleaned.path.display().to_string();
        if !cleaned.durable {
            self.seal_segment(cleaned, len_bytes)?;
            cleaned
                .open_file()?
                .sync()
                .map_err(|e| io_error(&e, format!("cannot sync {path}")))?;
        }
        std::fs::rename(&cleaned.path, &old.path).map_err(|e| {
            io_error(
                &e,
                format!("cannot rename {path} to {}", old.path.display()),
            )
        })?;
        cleaned.path = old.path.clone();
        // The directory is synced soon: a power loss before it leaves the old file, whole.
        match old.path.parent() {
            Some(dir) => self.sync_later(dir),
            None => Ok(()),
        }
    }

    /// Open the file and map it, growable to the segment's capacity.
    fn open_segment(&mut self, segment: &mut SegmentFile) -> Result<(), StorageError> {
        if segment.file.is_some() {
            return Ok(());
        }
        match MappedFile::open(&segment.path, segment.capacity_bytes) {
            Ok(file) => {
                segment.file = Some(file);
                Ok(())
            }
            Err(e) => {
                segment.failing = true;
                Err(io_error(
                    &e,
                    format!("cannot open {}", segment.path.display()),
                ))
            }
        }
    }

    /// Unmap and close the file; nothing is written.
    fn close_segment(&mut self, segment: &mut SegmentFile) -> Result<(), StorageError> {
        if let Some(file) = segment.file.take() {
            segment.capacity_bytes = file.capacity();
        }
        Ok(())
    }

    /// Open: trimmed and unmapped past `len_bytes`. Closed: its file holds what was written
    /// (writes go through `pwritev` and a failed one is cut back), so only a longer file, which
    /// should not be, is cut.
    fn seal_segment(
        &mut self,
        segment: &mut SegmentFile,
        len_bytes: usize,
    ) -> Result<(), StorageError> {
        let what = |e: &io::Error| {
            let path = segment.path.display();
            io_error(e, format!("cannot trim {path} to {len_bytes} bytes"))
        };
        if let Some(file) = &mut segment.file {
            return file.trim(len_bytes).map_err(|e| what(&e));
        }
        let len = u64::try_from(len_bytes).unwrap_or(u64::MAX);
        let stored = std::fs::metadata(&segment.path)
            .map_err(|e| what(&e))?
            .len();
        if stored > len {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&segment.path)
                .map_err(|e| what(&e))?;
            file.set_len(len).map_err(|e| what(&e))?;
        }
        segment.capacity_bytes = len_bytes;
        Ok(())
    }

    fn write_metadata(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        let dir = self.partition_dir(topic, partition)?;
        self.ensure_dir(&dir)?;
        let path = dir.join(METADATA_FILE);
        if path.exists() {
            // A config change replaces the file: synced before the rename, so a power loss
            // leaves the old configs or the new ones, never an empty file.
            return write_atomic(&path, bytes)
                .map_err(|e| io_error(&e, format!("cannot write {}", path.display())));
        }
        // A new partition's first file: its data and name synced off the loop, as its segment's.
        write_replace(&path, bytes)
            .map_err(|e| io_error(&e, format!("cannot write {}", path.display())))?;
        self.sync_later(&path)?;
        self.sync_later(&dir)
    }

    fn delete_partition(&mut self, topic: &str, partition: i32) -> Result<(), StorageError> {
        let dir = self.partition_dir(topic, partition)?;
        let removed = {
            let _dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
            std::fs::remove_dir_all(&dir)
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(&e, format!("cannot remove {}", dir.display()))),
        }
        let log_dir = self.log_dir.clone();
        self.sync_later(&log_dir)
    }

    /// Unmapped first, then unlinked. The directory is not synced: a segment that a power loss
    /// brings back is below the recorded log start offset, or still past its retention, and is
    /// deleted again after the restart.
    fn delete_segment(&mut self, segment: SegmentFile) -> Result<(), StorageError> {
        remove_segment_file(segment)
    }

    fn write_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), StorageError> {
        let dir = self.partition_dir(topic, partition)?;
        let path = dir.join(LOG_START_OFFSET_FILE);
        write_atomic(&path, format!("{offset}\n").as_bytes())
            .map_err(|e| io_error(&e, format!("cannot write {}", path.display())))
    }

    fn read_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, StorageError> {
        let path = self
            .partition_dir(topic, partition)?
            .join(LOG_START_OFFSET_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&e, format!("cannot read {}", path.display()))),
        };
        match text.trim_end_matches('\n').parse::<i64>() {
            Ok(offset) if offset >= 0 => Ok(Some(offset)),
            _ => Err(StorageError::new(
                StorageErrorKind::Corrupt,
                format!("{} does not hold an offset: {text:?}", path.display()),
            )),
        }
    }

    /// Appended with `O_APPEND` and left in the page cache, as segment bytes are. A failed write
    /// is cut back to the old length; should that fail too, the broker replaces the file whole
    /// before its next append. A new file's name is synced soon, as a new segment's.
    fn append_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        use std::io::Write;
        let dir = self.partition_dir(topic, partition)?;
        let path = dir.join(TRANSACTION_INDEX_FILE);
        let what = |e: &io::Error| io_error(e, format!("cannot append to {}", path.display()));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| what(&e))?;
        let len = file.metadata().map_err(|e| what(&e))?.len();
        if let Err(e) = file.write_all(bytes) {
            let _ = file.set_len(len);
            return Err(what(&e));
        }
        if len == 0 {
            self.sync_later(&dir)?;
        }
        Ok(())
    }

    fn write_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        let path = self
            .partition_dir(topic, partition)?
            .join(TRANSACTION_INDEX_FILE);
        if bytes.is_empty() {
            return match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_error(&e, format!("cannot remove {}", path.display()))),
            };
        }
        write_atomic(&path, bytes)
            .map_err(|e| io_error(&e, format!("cannot write {}", path.display())))
    }

    /// Handed to the flusher thread, which syncs the file system and then replaces the file;
    /// returns at once.
    fn write_recovery_checkpoint(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let flusher = match &mut self.flusher {
            Some(flusher) => flusher,
            None => self.flusher.insert(Flusher::start(self.log_dir.clone())?),
        };
        flusher.hand(bytes);
        self.checkpoint_after_sync_later = true;
        Ok(())
    }

    fn read_recovery_checkpoint(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.log_dir.join(RECOVERY_CHECKPOINT_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&e, format!("cannot read {}", path.display()))),
        }
    }

    fn write_broker_configs(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.log_dir.join(BROKER_CONFIGS_FILE);
        write_atomic(&path, bytes)
            .map_err(|e| io_error(&e, format!("cannot write {}", path.display())))
    }

    fn read_broker_configs(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        read_if_there(&self.log_dir.join(BROKER_CONFIGS_FILE))
    }

    /// Replaced without a sync, on the event loop: a small file, written once a pass, whose
    /// loss costs only cleaning again.
    fn write_cleaner_checkpoint(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.log_dir.join(CLEANER_CHECKPOINT_FILE);
        write_replace(&path, bytes)
            .map_err(|e| io_error(&e, format!("cannot write {}", path.display())))
    }

    fn read_cleaner_checkpoint(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        read_if_there(&self.log_dir.join(CLEANER_CHECKPOINT_FILE))
    }

    /// The pending checkpoint is written (after a file-system sync) and the threads joined.
    /// Paths still queued for an fsync are dropped when that sync follows them: it makes them
    /// durable too, in one flush instead of one each.
    fn close(&mut self) -> Result<(), StorageError> {
        let started = std::time::Instant::now();
        let synced = match self.syncer.take() {
            Some(mut syncer) if self.checkpoint_after_sync_later => syncer.finish_covered(),
            Some(mut syncer) => syncer.finish(),
            None => Ok(()),
        }
        .map_err(|e| io_error(&e, "cannot sync new files".into()));
        let syncer_done = started.elapsed();
        let flushed = match self.flusher.take() {
            Some(mut flusher) => flusher.finish(),
            None => Ok(()),
        };
        crate::debug!(
            "storage closed",
            fsync_thread_ms = syncer_done,
            took_ms = started.elapsed(),
        );
        synced.and(flushed)
    }
}

/// `00000000000000000042.cleaned` for base offset 42: the log cleaner's rewrite of that segment,
/// until it is renamed over it.
fn cleaned_file_name(base_offset: i64) -> String {
    format!("{base_offset:0SEGMENT_NAME_DIGITS$}.{CLEANED_EXTENSION}")
}

/// `00000000000000000042.log` for base offset 42.
pub fn segment_file_name(base_offset: i64) -> String {
    format!("{base_offset:0SEGMENT_NAME_DIGITS$}.{SEGMENT_EXTENSION}")
}

/// `orders-eu-3` is partition 3 of topic `orders-eu`: topic names may contain '-', partition
/// numbers may not, so split at the last one.
pub fn parse_partition_dir(name: &str) -> Option<(&str, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    if topic.is_empty() || partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((topic, partition.parse().ok()?))
}

/// The base offset a segment file's name carries.
fn parse_segment_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(SEGMENT_EXTENSION)?.strip_suffix('.')?;
    if stem.len() != SEGMENT_NAME_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

fn scan_partition(
    dir: &Path,
    topic: &str,
    partition: i32,
    segment_size_bytes: usize,
    clean: bool,
    ignored: &mut Vec<PathBuf>,
) -> io::Result<FoundPartition<SegmentFile>> {
    let mut bases = Vec::new();
    let mut metadata = None;
    let mut transaction_index = None;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_str().unwrap_or_default();
        if name == METADATA_FILE {
            metadata = Some(std::fs::read(&path)?);
        } else if name == LOG_START_OFFSET_FILE {
            // Read through `Storage::read_log_start_offset` once the log is open.
        } else if name == TRANSACTION_INDEX_FILE {
            transaction_index = Some(std::fs::read(&path)?);
        } else if path == temp_path(&dir.join(METADATA_FILE))
            || path == temp_path(&dir.join(LOG_START_OFFSET_FILE))
            || path == temp_path(&dir.join(TRANSACTION_INDEX_FILE))
        {
            // A write interrupted by a crash: the rename never happened, drop it.
            std::fs::remove_file(&path)?;
        } else if let Some(base) = parse_segment_name(name) {
            bases.push(base);
        } else if name.ends_with(CLEANED_EXTENSION) && name.len() == cleaned_file_name(0).len() {
            // A cleaning pass cut short before its rename: the segment it rewrote is whole.
            std::fs::remove_file(&path)?;
        } else {
            ignored.push(path);
        }
    }
    bases.sort_unstable();
    let mut segments = Vec::with_capacity(bases.len());
    for (i, &base_offset) in bases.iter().enumerate() {
        let path = dir.join(segment_file_name(base_offset));
        let newest = i + 1 == bases.len();
        let capacity_bytes = if newest { segment_size_bytes } else { 0 };
        // Not opened: recovery opens one segment at a time, and a partition no one uses holds
        // no file descriptor.
        segments.push(FoundSegment {
            base_offset,
            segment: SegmentFile::closed(path, capacity_bytes),
            recovery: if clean {
                Recovery::HeadersTrusted
            } else {
                Recovery::Checked
            },
        });
    }
    Ok(FoundPartition {
        topic: topic.to_owned(),
        partition,
        segments,
        metadata,
        transaction_index,
    })
}

/// `what` failed with the OS error `e`: its kind, and both for the log, where it is written
/// rate-limited ([`log_storage_error`]).
/// The bytes of the file at `path`, `None` if there is none.
fn read_if_there(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&e, format!("cannot read {}", path.display()))),
    }
}

/// Unmap and close a segment's file, then unlink it.
fn remove_segment_file(segment: SegmentFile) -> Result<(), StorageError> {
    let path = segment.path.clone();
    drop(segment);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(&e, format!("cannot remove {}", path.display()))),
    }
}

fn io_error(e: &io::Error, what: String) -> StorageError {
    let kind = match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StorageErrorKind::NoSpace,
        io::ErrorKind::NotFound => StorageErrorKind::NotFound,
        io::ErrorKind::InvalidInput => StorageErrorKind::Invalid,
        _ => StorageErrorKind::Io,
    };
    STORAGE_ERROR_COUNTS[kind_index(kind)].fetch_add(1, Ordering::Relaxed);
    let error = StorageError::new(kind, format!("{what}: {e}"));
    log_storage_error(e, &error);
    error
}

/// OS errors of storage operations since the start, by kind (the order of [`KIND_NAMES`]),
/// whether or not the log wrote them: for the metrics.
static STORAGE_ERROR_COUNTS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
/// The metrics' names of the kinds [`io_error`] gives.
const KIND_NAMES: [&str; 4] = ["no_space", "io", "not_found", "invalid"];

fn kind_index(kind: StorageErrorKind) -> usize {
    match kind {
        StorageErrorKind::NoSpace => 0,
        StorageErrorKind::NotFound => 2,
        StorageErrorKind::Invalid => 3,
        _ => 1,
    }
}

/// Storage operations the OS failed since the start, by kind.
pub fn storage_error_counts() -> impl Iterator<Item = (&'static str, u64)> {
    KIND_NAMES
        .into_iter()
        .zip(&STORAGE_ERROR_COUNTS)
        .map(|(name, n)| (name, n.load(Ordering::Relaxed)))
}

/// The cause a storage error is rate-limited by: the OS error number (ENOSPC, EIO, ...), or
/// the error's kind when the OS gave none. A full disk fails every partition's appends with the
/// same cause, and the log names it once a window, not once per partition or request.
type Cause = (Option<i32>, io::ErrorKind);

/// Causes tracked at once; more distinct causes within a minute are unlikely.
const CAUSES_TRACKED_MAX: usize = 8;
/// One line a cause a minute.
const STORAGE_ERROR_WINDOW_MS: i64 = 60_000;

static STORAGE_ERRORS: Mutex<RateLimiter<Cause, CAUSES_TRACKED_MAX>> =
    Mutex::new(RateLimiter::new(STORAGE_ERROR_WINDOW_MS));
/// A storage error was logged and no write has succeeded since.
static STORAGE_FAILING: AtomicBool = AtomicBool::new(false);

/// Log `error` (caused by `e`) at error, unless its cause was logged less than a minute ago;
/// a line that is written counts the ones held back since the last.
fn log_storage_error(e: &io::Error, error: &StorageError) {
    if !crate::logging::enabled(crate::logging::Level::Error) {
        return;
    }
    STORAGE_FAILING.store(true, Ordering::Relaxed);
    let cause = (e.raw_os_error(), e.kind());
    let verdict = STORAGE_ERRORS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .check(cause, blazemq_platform::unix_ms());
    if let Some(suppressed) = verdict {
        crate::error!(
            "storage error",
            error = error.reason,
            cause = e.kind().to_string(),
            suppressed = suppressed,
        );
    }
}

/// A segment failing to be written is written again: said once after errors were logged.
fn storage_recovered(path: &Path) {
    if STORAGE_FAILING.swap(false, Ordering::Relaxed) {
        crate::info!("storage writes succeed again", path = path);
    }
}

/// At exit: how many storage errors of each cause were held back since their last line.
pub fn log_suppressed_errors() {
    let held = STORAGE_ERRORS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take_suppressed();
    for ((errno, kind), suppressed) in held {
        crate::error!(
            "storage errors held back since the last line of their cause",
            cause = kind.to_string(),
            errno = errno.map_or(-1, i64::from),
            suppressed = suppressed,
        );
    }
}

pub mod cleaning;
#[cfg(test)]
mod tests;
