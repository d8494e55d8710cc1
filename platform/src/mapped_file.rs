//! A segment file: written with `pwritev`, read through a read-only memory map.
//!
//! The file holds exactly what was written to it: it grows with each write, up to a capacity,
//! and has no reserved tail. Every byte reaches the file through a write call, so a full disk,
//! a quota or an I/O error comes back as an error from that call. A store into a shared mapping
//! of a file cannot report such a fault except as SIGBUS, which is why the mapping is read-only.
//! Reads stay within the written length, so they never touch a page past the end of the file
//! (which would also fault).
//!
//! The map is a window at least as long as the file, grown by doubling as the file grows and
//! cut to the file's length when the segment is sealed: a partition that is never written costs
//! a small window of address space, not its whole capacity.
//!
//! Another process truncating a mapped file makes access past the new end fault (SIGBUS): the data
//! directory is the broker's alone, which the lock file in [`crate::fs::DirLock`] enforces.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

/// The smallest window mapped for a file that may grow: big enough that a partition written at
/// a steady pace remaps rarely, small enough that ten thousand of them fit in the address space.
const WINDOW_MIN_BYTES: usize = 1 << 20;

/// A file read through a memory map and written with `pwritev`, `len()` bytes long.
pub struct MappedFile {
    path: PathBuf,
    file: File,
    /// Read-only, at least `len_bytes` long.
    map: Mmap,
    /// Bytes in the file.
    len_bytes: usize,
    /// Bytes the file may grow to.
    capacity_bytes: usize,
}

impl MappedFile {
    /// Create (or empty) the file at `path`, to grow up to `capacity_bytes`.
    pub fn create(path: &Path, capacity_bytes: usize) -> io::Result<MappedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        MappedFile::map(path, file, 0, capacity_bytes)
    }

    /// Open the existing file at `path` with its bytes, to grow up to `capacity_bytes` (or not at
    /// all if it is already that long).
    pub fn open(path: &Path, capacity_bytes: usize) -> io::Result<MappedFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len_bytes = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::other("file larger than the address space"))?;
        MappedFile::map(path, file, len_bytes, capacity_bytes.max(len_bytes))
    }

    fn map(
        path: &Path,
        file: File,
        len_bytes: usize,
        capacity_bytes: usize,
    ) -> io::Result<MappedFile> {
        let map = map_read_only(&file, window_bytes(len_bytes, capacity_bytes))?;
        Ok(MappedFile {
            path: path.to_path_buf(),
            file,
            map,
            len_bytes,
            capacity_bytes,
        })
    }

    /// Write `head` and then `tail` at `position`, at most the file's length, with `pwritev`; the
    /// file grows to hold them, within its capacity. On an error (ENOSPC, EDQUOT, EIO) the file is
    /// cut back to its old length, so a partial write leaves nothing behind.
    pub fn write_at(&mut self, position: usize, head: &[u8], tail: &[u8]) -> io::Result<()> {
        let end = position
            .checked_add(head.len() + tail.len())
            .filter(|&end| position <= self.len_bytes && end <= self.capacity_bytes)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "write of {} bytes at {position}: the file holds {} of {} bytes",
                        head.len() + tail.len(),
                        self.len_bytes,
                        self.capacity_bytes
                    ),
                )
            })?;
        if let Err(e) = pwrite_all(&self.file, to_u64(position)?, head, tail) {
            if end > self.len_bytes {
                // Shrinking a file needs no space: this works on a full disk too.
                self.file.set_len(to_u64(self.len_bytes)?).map_err(|cut| {
                    io::Error::new(e.kind(), format!("{e}; cutting the partial write: {cut}"))
                })?;
            }
            return Err(e);
        }
        self.len_bytes = self.len_bytes.max(end);
        if self.len_bytes > self.map.len() {
            self.map = map_read_only(
                &self.file,
                window_bytes(self.len_bytes, self.capacity_bytes),
            )?;
        }
        Ok(())
    }

    /// Keep only the first `len_bytes` bytes (at most the length): recovery cutting a torn tail.
    pub fn truncate(&mut self, len_bytes: usize) -> io::Result<()> {
        if len_bytes > self.len_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot cut {} to {len_bytes} bytes: it holds {}",
                    self.path.display(),
                    self.len_bytes
                ),
            ));
        }
        self.file.set_len(to_u64(len_bytes)?)?;
        self.len_bytes = len_bytes;
        Ok(())
    }

    /// Keep only the first `len_bytes` bytes and grow no more: the map is cut to the data, so a
    /// sealed segment holds no address space past it.
    ///
    /// Nothing is forced to disk here: the written pages stay in the page cache, which survives
    /// the process (kill -9), and the kernel writes them back in the background. A segment roll
    /// must not stall the loop for the seconds a synchronous flush of a full segment takes;
    /// a clean shutdown syncs the whole file system once instead ([`crate::fs::sync_filesystem`]).
    pub fn trim(&mut self, len_bytes: usize) -> io::Result<()> {
        self.truncate(len_bytes)?;
        self.capacity_bytes = len_bytes;
        if self.map.len() != len_bytes {
            self.map = map_read_only(&self.file, len_bytes)?;
        }
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file.
    pub fn len(&self) -> usize {
        self.len_bytes
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len_bytes == 0
    }

    /// Bytes the file may grow to.
    pub fn capacity(&self) -> usize {
        self.capacity_bytes
    }

    /// fsync the file so its data and length survive a power loss.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// The window mapped for a file of `len_bytes` that may grow to `capacity_bytes`.
fn window_bytes(len_bytes: usize, capacity_bytes: usize) -> usize {
    let grown = len_bytes
        .checked_next_power_of_two()
        .unwrap_or(len_bytes)
        .max(WINDOW_MIN_BYTES);
    grown.min(capacity_bytes).max(len_bytes)
}

fn map_read_only(file: &File, len_bytes: usize) -> io::Result<Mmap> {
    // SAFETY: the map is only read, and only below the file's length (`as_ref`), which only this
    // type changes: it cuts the file only below what any later read covers, and remaps after
    // growing it. BlazeMQ alone changes files in its locked data directory.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::MmapOptions::new().len(len_bytes).map(file)? };
    Ok(map)
}

/// `pwritev` until every byte of `head` and `tail` is at `offset`.
fn pwrite_all(file: &File, mut offset: u64, mut head: &[u8], mut tail: &[u8]) -> io::Result<()> {
    while !head.is_empty() || !tail.is_empty() {
        let written = rustix::io::pwritev(
            file,
            &[io::IoSlice::new(head), io::IoSlice::new(tail)],
            offset,
        )?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        offset += to_u64(written)?;
        let from_head = written.min(head.len());
        head = &head[from_head..];
        tail = &tail[written - from_head..];
    }
    Ok(())
}

impl AsRef<[u8]> for MappedFile {
    /// The file's bytes.
    fn as_ref(&self) -> &[u8] {
        &self.map[..self.len_bytes]
    }
}

impl fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.path)
            .field("len", &self.len_bytes)
            .field("capacity", &self.capacity_bytes)
            .finish()
    }
}

fn to_u64(n: usize) -> io::Result<u64> {
    u64::try_from(n).map_err(|_| io::Error::other("length does not fit in u64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_empty_and_grows_with_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        let capacity = 64 << 20;
        let mut file = MappedFile::create(&path, capacity).expect("create");
        assert_eq!((file.len(), file.capacity()), (0, capacity));
        assert_eq!(file.as_ref(), b"");
        file.write_at(0, b"hel", b"lo").expect("write");
        assert_eq!(file.as_ref(), b"hello");
        assert_eq!(std::fs::metadata(&path).expect("metadata").len(), 5);
        assert_eq!(std::fs::read(&path).expect("read"), b"hello");
    }

    #[test]
    fn writes_past_the_window_remap_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        let mut file = MappedFile::create(&path, 8 * WINDOW_MIN_BYTES).expect("create");
        let big: Vec<u8> = (0..3 * WINDOW_MIN_BYTES / 2)
            .map(|i| (i % 251) as u8)
            .collect();
        file.write_at(0, &big[..7], &big[7..]).expect("first");
        file.write_at(big.len(), &big, b"z").expect("second");
        let end = 2 * big.len() + 1;
        assert_eq!(file.len(), end);
        assert_eq!(&file.as_ref()[..big.len()], &big[..]);
        assert_eq!(&file.as_ref()[big.len()..end - 1], &big[..]);
        assert_eq!(file.as_ref()[end - 1], b'z');
        // An overwrite within the data keeps the length.
        file.write_at(1, b"ab", b"").expect("overwrite");
        assert_eq!(&file.as_ref()[..4], &[big[0], b'a', b'b', big[3]]);
        assert_eq!(file.len(), end);
    }

    #[test]
    fn writes_leaving_a_hole_or_past_the_capacity_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut file = MappedFile::create(&dir.path().join("0.log"), 8192).expect("create");
        let big = vec![1u8; 8192];
        assert!(file.write_at(1, b"a", b"").is_err(), "a hole");
        assert!(file.write_at(0, &big, b"c").is_err(), "past the capacity");
        assert!(file.write_at(usize::MAX, b"a", b"").is_err());
        assert_eq!(file.len(), 0, "nothing written");
        file.write_at(0, &big[..8190], b"ab").expect("fits exactly");
        assert_eq!(file.len(), 8192);
    }

    #[test]
    fn truncate_and_trim_cut_the_file_and_reopen_keeps_the_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        let mut file = MappedFile::create(&path, 1 << 20).expect("create");
        file.write_at(0, b"abcdef", b"").expect("write");
        assert!(file.truncate(7).is_err(), "cannot grow by cutting");
        file.truncate(4).expect("cut");
        assert_eq!(file.as_ref(), b"abcd");
        file.write_at(4, b"x", b"").expect("appends go on");
        file.trim(3).expect("trim");
        assert_eq!(file.as_ref(), b"abc");
        assert_eq!(std::fs::metadata(&path).expect("metadata").len(), 3);
        assert!(file.write_at(3, b"y", b"").is_err(), "sealed");
        drop(file);

        let mut reopened = MappedFile::open(&path, 4096).expect("reopen");
        assert_eq!(
            (reopened.as_ref(), reopened.capacity()),
            (&b"abc"[..], 4096)
        );
        reopened.write_at(3, b"d", b"").expect("grows again");
        drop(reopened);
        // A file longer than the capacity asked for is read whole.
        let whole = MappedFile::open(&path, 1).expect("reopen shorter");
        assert_eq!((whole.as_ref(), whole.capacity()), (&b"abcd"[..], 4));
    }

    #[test]
    fn empty_files_open_and_trim_to_zero() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        let mut file = MappedFile::create(&path, 4096).expect("create");
        file.trim(0).expect("trim to zero");
        assert!(file.is_empty());
        drop(file);
        let reopened = MappedFile::open(&path, 0).expect("reopen empty");
        assert!(reopened.is_empty());
        std::fs::write(&path, b"stale bytes").expect("write");
        let file = MappedFile::create(&path, 16).expect("create empties");
        assert!(file.is_empty());
    }

    #[test]
    fn open_missing_file_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(MappedFile::open(&dir.path().join("nope.log"), 16).is_err());
    }

    #[test]
    fn window_grows_by_doubling_within_the_capacity() {
        assert_eq!(window_bytes(0, 1 << 30), WINDOW_MIN_BYTES);
        assert_eq!(window_bytes(0, 100), 100);
        assert_eq!(window_bytes(3 << 20, 1 << 30), 4 << 20);
        assert_eq!(window_bytes(3 << 20, 3 << 20), 3 << 20);
        assert_eq!(
            window_bytes(5 << 20, 1 << 20),
            5 << 20,
            "never below the length"
        );
    }
}
