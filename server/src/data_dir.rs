//! The data directory's own files: the lock that keeps a second broker out, `meta.properties`
//! with the cluster id, and the clean-shutdown marker that tells recovery it may trust lengths.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use blazemq_platform::fs::{DirLock, sync_dir, write_replace};

/// Lock file held for the broker's lifetime.
const LOCK_FILE: &str = ".lock";
/// Kafka's name for the file holding the cluster id.
const META_FILE: &str = "meta.properties";
/// Present only between a clean shutdown and the next start.
const CLEAN_SHUTDOWN_FILE: &str = ".clean_shutdown";
/// Largest `meta.properties` read; it holds three short lines.
const META_FILE_BYTES_MAX: u64 = 64 * 1024;

/// How the previous run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviousRun {
    /// No previous run: the directory had no `meta.properties`.
    None,
    /// It shut down cleanly: segments were trimmed to their data.
    Clean,
    /// It crashed or was killed: recovery scans the newest segments.
    Crashed,
}

/// A locked data directory.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: DirLock,
    /// The persisted cluster id.
    pub cluster_id: String,
    /// How the previous run ended.
    pub previous_run: PreviousRun,
}

/// Why the data directory cannot be used.
#[derive(Debug)]
pub enum DataDirError {
    /// Creating or writing in it failed.
    Io(PathBuf, io::Error),
    /// Another process holds its lock.
    Locked(PathBuf),
    /// `meta.properties` exists but has no usable cluster id.
    BadMeta(PathBuf, String),
}

impl fmt::Display for DataDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataDirError::Io(path, e) => {
                write!(f, "cannot use the log_dir: {}: {e}", path.display())
            }
            DataDirError::Locked(path) => write!(
                f,
                "log_dir {} is in use by another broker (lock held on {})",
                path.display(),
                path.join(LOCK_FILE).display()
            ),
            DataDirError::BadMeta(path, reason) => {
                write!(f, "cannot use the log_dir: {}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for DataDirError {}

impl DataDir {
    /// Create and lock `path`, read or create its cluster id, and consume the clean-shutdown
    /// marker (a crash from here on must not look clean). `new_cluster_id` is called only when
    /// the directory has none yet.
    pub fn open(
        path: &Path,
        new_cluster_id: impl FnOnce() -> io::Result<String>,
    ) -> Result<DataDir, DataDirError> {
        let io_err = |p: &Path| {
            let p = p.to_path_buf();
            move |e| DataDirError::Io(p, e)
        };
        std::fs::create_dir_all(path).map_err(io_err(path))?;
        let lock = match DirLock::acquire(path, LOCK_FILE) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(DataDirError::Locked(path.to_path_buf()));
            }
            Err(e) => return Err(DataDirError::Io(path.join(LOCK_FILE), e)),
        };
        let meta_path = path.join(META_FILE);
        let (cluster_id, existed) = match read_cluster_id(&meta_path)? {
            Some(id) => (id, true),
            None => {
                // Not synced: it only names the cluster, and two fsyncs would double the startup
                // time. A power loss right after the first start can leave it empty, which reads
                // as missing: the broker then starts as new, under a new cluster id.
                let id = new_cluster_id().map_err(io_err(&meta_path))?;
                let text = format!("version=1\ncluster.id={id}\n");
                write_replace(&meta_path, text.as_bytes()).map_err(io_err(&meta_path))?;
                (id, false)
            }
        };
        let marker = path.join(CLEAN_SHUTDOWN_FILE);
        let clean = match std::fs::remove_file(&marker) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(DataDirError::Io(marker, e)),
        };
        if clean {
            // The marker must be gone for good before anything is written: a crash from here on
            // must not look clean.
            sync_dir(path).map_err(io_err(path))?;
        }
        let previous_run = match (existed, clean) {
            (false, _) => PreviousRun::None,
            (true, true) => PreviousRun::Clean,
            (true, false) => PreviousRun::Crashed,
        };
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
            cluster_id,
            previous_run,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record that every segment was sealed: the next start may trust file lengths.
    pub fn mark_clean_shutdown(&self) -> io::Result<()> {
        // The segments' data and lengths reach the disk before the marker that vouches for them.
        blazemq_platform::fs::sync_filesystem(&self.path)?;
        // Empty: its name is the mark, and an empty file can be made on a full disk.
        std::fs::File::create(self.path.join(CLEAN_SHUTDOWN_FILE))?.sync_all()?;
        sync_dir(&self.path)
    }
}

/// The `cluster.id` of a Java-properties style file, `None` if the file does not exist.
fn read_cluster_id(path: &Path) -> Result<Option<String>, DataDirError> {
    let bad = |reason: &str| DataDirError::BadMeta(path.to_path_buf(), reason.to_owned());
    let len = match std::fs::metadata(path) {
        // Empty: written but lost to a power loss before it reached the disk (see `open`).
        Ok(meta) if meta.len() == 0 => return Ok(None),
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataDirError::Io(path.to_path_buf(), e)),
    };
    if len > META_FILE_BYTES_MAX {
        return Err(bad("too large to be a meta.properties file"));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| DataDirError::Io(path.to_path_buf(), e))?;
    let id = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix("cluster.id="))
        .map(str::trim)
        .ok_or_else(|| bad("no cluster.id line"))?;
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(bad("cluster.id is not a base64url id"));
    }
    Ok(Some(id.to_owned()))
}

/// A new cluster id as Kafka makes them: 16 random bytes in unpadded base64url (22 characters).
pub fn new_cluster_id() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    blazemq_platform::random::fill(&mut bytes)?;
    Ok(base64url(&bytes))
}

/// Unpadded base64url (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn cluster_ids_are_22_characters_and_differ() {
        let a = new_cluster_id().expect("random source");
        let b = new_cluster_id().expect("random source");
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }

    #[test]
    fn cluster_id_persists_and_shutdowns_are_told_apart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data");
        let first = DataDir::open(&path, || Ok("AAAAAAAAAAAAAAAAAAAAAA".into())).expect("open");
        assert_eq!(first.previous_run, PreviousRun::None);
        first.mark_clean_shutdown().expect("marker");
        drop(first);

        let second = DataDir::open(&path, || panic!("the id exists")).expect("reopen");
        assert_eq!(second.cluster_id, "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(second.previous_run, PreviousRun::Clean);
        assert!(!path.join(CLEAN_SHUTDOWN_FILE).exists(), "marker consumed");
        drop(second); // no marker: a crash

        let third = DataDir::open(&path, || panic!("the id exists")).expect("reopen");
        assert_eq!(third.previous_run, PreviousRun::Crashed);
    }

    #[test]
    fn a_second_broker_on_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let _first = DataDir::open(dir.path(), new_cluster_id).expect("open");
        let err = DataDir::open(dir.path(), new_cluster_id).expect_err("locked");
        assert!(matches!(err, DataDirError::Locked(_)));
        assert!(
            err.to_string().contains("in use by another broker"),
            "{err}"
        );
    }

    #[test]
    fn a_corrupt_meta_file_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(META_FILE), "version=1\n").expect("write");
        let err = DataDir::open(dir.path(), new_cluster_id).expect_err("no id");
        assert!(err.to_string().contains("cluster.id"), "{err}");
        std::fs::write(dir.path().join(META_FILE), "cluster.id=a b\n").expect("write");
        assert!(DataDir::open(dir.path(), new_cluster_id).is_err());
    }

    #[test]
    fn an_empty_meta_file_reads_as_missing() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(META_FILE), "").expect("write");
        let data = DataDir::open(dir.path(), || Ok("NewId".into())).expect("open");
        assert_eq!(data.cluster_id, "NewId");
        assert_eq!(data.previous_run, PreviousRun::None);
        drop(data);
        let text = std::fs::read_to_string(dir.path().join(META_FILE)).expect("rewritten");
        assert!(text.contains("cluster.id=NewId"), "{text}");
    }

    #[test]
    fn kafka_written_meta_files_are_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = "#\n#Tue Jan 01 00:00:00 UTC 2030\nnode.id=1\nversion=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qk\n";
        std::fs::write(dir.path().join(META_FILE), text).expect("write");
        let data = DataDir::open(dir.path(), new_cluster_id).expect("open");
        assert_eq!(data.cluster_id, "MkU3OEVBNTcwNTJENDM2Qk");
    }
}
