//! A file mapped read-write into memory: how a segment's bytes reach the broker.
//!
//! The file is sized to its capacity with `set_len`, which on every mainstream file system makes
//! it sparse: no disk space is used until a page is written. Trimming unmaps, cuts the file to its
//! data and maps that again, so the segment stays readable after it is sealed.
//!
//! The part of the mapping past the data is advised `MADV_RANDOM`: a fault there must not read
//! around. Read-around on a hole allocates and zeroes the whole readahead window (8 MiB on some
//! block devices), which made the first append to a fresh segment cost milliseconds.
//!
//! Writes of a page or more go through the file with `pwritev` ([`MappedFile::write_at`]): the
//! mapping then sees them through the shared page cache, without a page fault per new page.
//!
//! Another process truncating a mapped file makes access past the new end fault (SIGBUS): the data
//! directory is the broker's alone, which the lock file in [`crate::fs::DirLock`] enforces.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

/// Advice ranges start at a multiple of this: aligned for every page size in use (4, 16 and
/// 64 KiB); rounding down only takes read-around from the last few pages of the data.
const ADVICE_ALIGN_BYTES: usize = 64 * 1024;

/// Writes from this size on go through the file rather than the mapping: about where a
/// `pwritev` costs less than the page faults of a copy into pages not yet written.
pub const WRITE_THROUGH_FILE_MIN_BYTES: usize = 4096;

/// A file mapped read-write, `len()` bytes long.
pub struct MappedFile {
    path: PathBuf,
    file: File,
    map: MmapMut,
}

impl MappedFile {
    /// Create (or empty) the file at `path`, size it sparse to `capacity_bytes` (reading as zeros)
    /// and map it.
    pub fn create(path: &Path, capacity_bytes: usize) -> io::Result<MappedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.set_len(to_u64(capacity_bytes)?)?;
        let mapped = MappedFile::map(path, file, capacity_bytes)?;
        mapped.advise_random_from(0)?;
        Ok(mapped)
    }

    /// Map the existing file at `path`, first extending it (sparse, zero-filled) to
    /// `capacity_bytes` if it is shorter. A longer file is mapped whole, so no data is hidden.
    pub fn open(path: &Path, capacity_bytes: usize) -> io::Result<MappedFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len_bytes = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::other("file larger than the address space"))?;
        if len_bytes < capacity_bytes {
            file.set_len(to_u64(capacity_bytes)?)?;
        }
        let mapped = MappedFile::map(path, file, len_bytes.max(capacity_bytes))?;
        mapped.advise_random_from(len_bytes)?;
        Ok(mapped)
    }

    /// Advise `MADV_RANDOM` from the page holding `position` to the end: no read-around there.
    fn advise_random_from(&self, position: usize) -> io::Result<()> {
        let start = position - position % ADVICE_ALIGN_BYTES;
        if start >= self.map.len() {
            return Ok(());
        }
        self.map
            .advise_range(memmap2::Advice::Random, start, self.map.len() - start)
    }

    /// Write `head` and then `tail` at `position`, within the mapped length.
    ///
    /// Up to [`WRITE_THROUGH_FILE_MIN_BYTES`] the bytes are copied into the mapping: a small
    /// append mostly lands in a page already written, and a copy is cheaper than a syscall. From
    /// there on they go to the file with `pwritev`, which costs one syscall instead of a page
    /// fault for each page not yet written through the mapping. Both reach the same page cache.
    pub fn write_at(&mut self, position: usize, head: &[u8], tail: &[u8]) -> io::Result<()> {
        let total = head.len() + tail.len();
        let end = position
            .checked_add(total)
            .filter(|&end| end <= self.map.len())
            .ok_or(io::ErrorKind::InvalidInput)?;
        if total < WRITE_THROUGH_FILE_MIN_BYTES {
            let middle = position + head.len();
            self.map[position..middle].copy_from_slice(head);
            self.map[middle..end].copy_from_slice(tail);
            return Ok(());
        }
        let (mut head, mut tail, mut offset) = (head, tail, to_u64(position)?);
        while !head.is_empty() || !tail.is_empty() {
            let written = rustix::io::pwritev(
                &self.file,
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

    fn map(path: &Path, file: File, len_bytes: usize) -> io::Result<MappedFile> {
        // SAFETY: the mapping is valid while `file` is this long. BlazeMQ alone changes files in
        // its locked data directory, and `trim` remaps after every change of length.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().len(len_bytes).map_mut(&file)? };
        Ok(MappedFile {
            path: path.to_path_buf(),
            file,
            map,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Mapped length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Write dirty pages back to the file (msync), waiting for the writes.
    pub fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }

    /// Flush, then fsync the file so its data and length survive a power loss.
    pub fn sync(&self) -> io::Result<()> {
        self.map.flush()?;
        self.file.sync_all()
    }

    /// Keep only the first `len_bytes` bytes: unmap, cut the file, map again.
    ///
    /// Nothing is forced to disk here: the written pages stay in the page cache, which survives
    /// the process (kill -9), and the kernel writes them back in the background. A segment roll
    /// must not stall the loop for the seconds a synchronous flush of a full segment takes;
    /// a clean shutdown syncs the whole file system once instead ([`crate::fs::sync_filesystem`]).
    pub fn trim(&mut self, len_bytes: usize) -> io::Result<()> {
        if len_bytes > self.map.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot trim {} to {len_bytes} bytes: only {} are mapped",
                    self.path.display(),
                    self.map.len()
                ),
            ));
        }
        // Unmap before cutting the file: touching mapped pages past the new end would fault.
        self.map = MmapMut::map_anon(0)?;
        self.file.set_len(to_u64(len_bytes)?)?;
        // SAFETY: as in `map`; the file is now exactly `len_bytes` long.
        #[allow(unsafe_code)]
        let map = unsafe {
            memmap2::MmapOptions::new()
                .len(len_bytes)
                .map_mut(&self.file)?
        };
        self.map = map;
        Ok(())
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl AsMut<[u8]> for MappedFile {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }
}

impl fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.path)
            .field("len", &self.map.len())
            .finish()
    }
}

fn to_u64(n: usize) -> io::Result<u64> {
    u64::try_from(n).map_err(|_| io::Error::other("length does not fit in u64"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn create_is_sparse_zeroed_and_writable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        let capacity = 64 << 20;
        let mut file = MappedFile::create(&path, capacity).expect("create");
        assert_eq!(file.len(), capacity);
        assert!(file.as_ref().iter().step_by(4096).all(|&b| b == 0));
        file.as_mut()[..5].copy_from_slice(b"hello");
        file.flush().expect("flush");

        let meta = std::fs::metadata(&path).expect("metadata");
        assert_eq!(meta.len(), capacity as u64);
        // Sparse: far fewer 512-byte blocks than the capacity would need.
        assert!(
            meta.blocks() * 512 < (capacity as u64) / 4,
            "{} blocks",
            meta.blocks()
        );
        assert_eq!(&std::fs::read(&path).expect("read")[..5], b"hello");
    }

    #[test]
    fn trim_keeps_data_and_file_and_reopen_extends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        let mut file = MappedFile::create(&path, 1 << 20).expect("create");
        file.as_mut()[..3].copy_from_slice(b"abc");
        file.trim(3).expect("trim");
        assert_eq!(file.as_ref(), b"abc");
        assert_eq!(std::fs::metadata(&path).expect("metadata").len(), 3);
        assert!(file.trim(4).is_err(), "cannot grow by trimming");
        drop(file);

        let reopened = MappedFile::open(&path, 4096).expect("reopen");
        assert_eq!(reopened.len(), 4096);
        assert_eq!(&reopened.as_ref()[..4], b"abc\0");
        drop(reopened);

        // A file longer than the capacity asked for is mapped whole.
        let whole = MappedFile::open(&path, 10).expect("reopen shorter");
        assert_eq!(whole.len(), 4096);
    }

    #[test]
    fn empty_files_map_and_trim_to_zero() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        let mut file = MappedFile::create(&path, 4096).expect("create");
        file.trim(0).expect("trim to zero");
        assert!(file.is_empty());
        drop(file);
        let reopened = MappedFile::open(&path, 0).expect("reopen empty");
        assert!(reopened.is_empty());
        file = MappedFile::create(&path, 8).expect("recreate");
        assert_eq!(file.as_ref(), &[0u8; 8]);
    }

    #[test]
    fn create_empties_an_existing_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        std::fs::write(&path, b"stale bytes").expect("write");
        let file = MappedFile::create(&path, 16).expect("create");
        assert_eq!(file.as_ref(), &[0u8; 16]);
    }

    #[test]
    fn small_and_large_writes_reach_the_mapping_and_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.log");
        let mut file = MappedFile::create(&path, 1 << 20).expect("create");
        file.write_at(0, b"ab", b"cd").expect("small write");
        let big: Vec<u8> = (0..3 * WRITE_THROUGH_FILE_MIN_BYTES)
            .map(|i| (i % 251) as u8)
            .collect();
        file.write_at(4, &big[..7], &big[7..]).expect("large write");
        let end = 4 + big.len();
        file.write_at(end, b"", b"z")
            .expect("small write after a large one");
        assert_eq!(&file.as_ref()[..4], b"abcd");
        assert_eq!(&file.as_ref()[4..end], &big[..]);
        assert_eq!(file.as_ref()[end], b'z');
        assert_eq!(file.as_ref()[end + 1], 0);
        file.trim(end + 1).expect("trim");
        let on_disk = std::fs::read(&path).expect("read");
        assert_eq!(&on_disk[..4], b"abcd");
        assert_eq!(&on_disk[4..end], &big[..]);
        assert_eq!(on_disk[end], b'z');
    }

    #[test]
    fn writes_past_the_mapping_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut file = MappedFile::create(&dir.path().join("0.log"), 8192).expect("create");
        let big = vec![1u8; 8192];
        assert!(file.write_at(1, &big[..1], &big[1..]).is_err());
        assert!(file.write_at(8190, b"ab", b"c").is_err());
        assert!(file.write_at(usize::MAX, b"a", b"").is_err());
        assert!(file.as_ref().iter().all(|&b| b == 0), "nothing written");
        file.write_at(8190, b"a", b"b").expect("fits exactly");
    }

    #[test]
    fn open_missing_file_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(MappedFile::open(&dir.path().join("nope.log"), 16).is_err());
    }
}
