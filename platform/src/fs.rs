//! File-system steps the broker needs for durability: fsync of a directory, atomic replacement of
//! a small file, and an exclusive lock on a data directory.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

/// fsync the directory at `path`, making file creations, renames and removals in it durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Write back everything of the file system that holds `path` (`syncfs`): segments, their
/// lengths and directories, once, at a clean shutdown.
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    let dir = File::open(path)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        rustix::fs::syncfs(&dir)?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // No syncfs: the directory alone; segments were flushed when sealed by the OS.
        dir.sync_all()?;
        rustix::fs::sync();
    }
    Ok(())
}

/// Replace the file at `path` with `bytes` atomically: write `<path>.tmp`, fsync it, rename it
/// over `path`, fsync the directory. A crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Replace the file at `path` with `bytes` by writing `<path>.tmp` and renaming it over `path`,
/// without waiting for the disk: a crash of the process leaves the old or the new content, but a
/// power loss soon after may leave the file empty.
pub fn write_replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    File::create(&tmp)?.write_all(bytes)?;
    std::fs::rename(&tmp, path)
}

/// The temporary name [`write_atomic`] uses for `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// An exclusive advisory lock (`flock`) on a file in a directory, held until dropped or the
/// process exits (the kernel releases it even after a crash).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Lock `<dir>/<name>`, creating it. Fails with `ErrorKind::WouldBlock` if another process
    /// holds it.
    pub fn acquire(dir: &Path, name: &str) -> io::Result<DirLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(name))?;
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::AGAIN => Err(
                io::Error::new(io::ErrorKind::WouldBlock, "held by another process"),
            ),
            Err(e) => Err(e.into()),
        }
    }
}

/// Raise the soft limit on open files to the hard limit (each connection and segment costs a
/// descriptor); returns the limit now in force, `None` if unlimited or unknown.
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    limit.current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("partition.metadata");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn a_second_lock_on_the_same_dir_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DirLock::acquire(dir.path(), ".lock").expect("first lock");
        let err = DirLock::acquire(dir.path(), ".lock").expect_err("second lock must fail");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(first);
        DirLock::acquire(dir.path(), ".lock").expect("lock is free again");
    }

    #[test]
    fn open_files_limit_is_known_or_unlimited() {
        if let Some(n) = raise_open_files_limit() {
            assert!(n >= 16);
        }
    }
}
