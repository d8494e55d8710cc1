//! The log cleaner's files on its own thread: a job reads sealed segments through a read-only
//! map of its own, writes its rewrites as `.cleaned` files beside them, and trims and syncs each
//! before handing it to the event loop, which only renames it into place.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use blazemq_core::log::cleaner::job::{JobIo, Plan};
use blazemq_core::storage::{StorageError, StorageErrorKind};
use blazemq_platform::MappedFile;

use super::{SegmentFile, cleaned_file_name, io_error, segment_file_name};

/// What a cleaner thread needs of the storage: where partitions live, and the lock that keeps
/// a rewrite from being created in a partition's directory while it is being deleted.
#[derive(Clone, Debug)]
pub struct CleaningFiles {
    pub(super) log_dir: PathBuf,
    pub(super) dirs: Arc<Mutex<()>>,
}

impl CleaningFiles {
    /// The files of the partition `plan` cleans.
    pub fn for_plan(&self, plan: &Plan) -> JobFiles {
        JobFiles {
            dir: self
                .log_dir
                .join(format!("{}-{}", plan.topic, plan.partition)),
            dirs: Arc::clone(&self.dirs),
            reading: None,
        }
    }
}

/// One job's files.
#[derive(Debug)]
pub struct JobFiles {
    dir: PathBuf,
    dirs: Arc<Mutex<()>>,
    /// The segment being read, by base offset.
    reading: Option<(i64, MappedFile)>,
}

impl JobIo for JobFiles {
    type Out = SegmentFile;

    fn segment(&mut self, base: i64, len: usize) -> Result<&[u8], StorageError> {
        if self.reading.as_ref().is_none_or(|(b, _)| *b != base) {
            // Let go of the last one first: a segment replaced meanwhile is freed now.
            self.reading = None;
            let path = self.dir.join(segment_file_name(base));
            let file = MappedFile::open(&path, 0)
                .map_err(|e| io_error(&e, format!("cannot open {}", path.display())))?;
            self.reading = Some((base, file));
        }
        let bytes = self.reading.as_ref().map_or(&[][..], |(_, f)| f.as_ref());
        bytes.get(..len).ok_or_else(|| {
            StorageError::new(
                StorageErrorKind::Invalid,
                format!(
                    "segment {base} of {} is shorter than {len}",
                    self.dir.display()
                ),
            )
        })
    }

    fn create(&mut self, base: i64, capacity_bytes: usize) -> Result<SegmentFile, StorageError> {
        let path = self.dir.join(cleaned_file_name(base));
        // Never into a directory being deleted: after its deletion the create finds no directory.
        let _dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.dir.is_dir() {
            let e = io::Error::from(io::ErrorKind::NotFound);
            return Err(io_error(&e, format!("cannot create {}", path.display())));
        }
        MappedFile::create(&path, capacity_bytes)
            .map(SegmentFile::new)
            .map_err(|e| io_error(&e, format!("cannot create {}", path.display())))
    }

    fn discard(&mut self, out: SegmentFile) -> Result<(), StorageError> {
        super::remove_segment_file(out)
    }

    /// Trimmed to its length and synced here, so that putting it in place on the event loop is
    /// a rename.
    fn finish(&mut self, out: &mut SegmentFile, len_bytes: usize) -> Result<(), StorageError> {
        let path = out.path.display().to_string();
        let file = out.open_file()?;
        file.trim(len_bytes)
            .map_err(|e| io_error(&e, format!("cannot trim {path} to {len_bytes} bytes")))?;
        file.sync()
            .map_err(|e| io_error(&e, format!("cannot sync {path}")))?;
        out.durable = true;
        Ok(())
    }
}
