//! A `Storage` whose "disk" outlives the broker and whose faults come from a seeded plan.
//!
//! The disk is shared (`Rc<RefCell<..>>`) between every broker the simulator boots over it, so a
//! crash is dropping the broker and booting a new one: what survives is what reached the disk.
//! Each segment keeps two views: the bytes the broker sees (`SegmentBuffer::as_ref`, which
//! `AsRef` cannot borrow out of a `RefCell`) and the file image on the disk, which also holds
//! what a failed write left behind (a short write whose cut-back never ran).

use core::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use blazemq_core::storage::{
    FoundPartition, FoundSegment, Recovery, SegmentBuffer, Storage, StorageError, StorageErrorKind,
};

use super::rng::Rng;

/// The internal log of committed offsets, named as the broker names it.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// How often, and which, faults the disk injects.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// Chance, per thousand, that a write, create or metadata replacement fails.
    pub per_mille: u32,
    /// The disk is full: every write that needs space fails with ENOSPC.
    pub full: bool,
    /// Whether the offsets log gets faults too (see `sim_offsets_faults` in simulation.rs).
    pub offsets_log: bool,
    /// No faults at all (boot retries, audits).
    pub paused: bool,
}

/// Faults injected so far, by kind, for the summary line.
#[derive(Clone, Debug, Default)]
pub struct FaultStats {
    pub no_space: u64,
    pub io: u64,
    pub short_writes: u64,
    pub created_then_failed: u64,
    pub torn: u64,
    /// Segments opened again after the broker closed them (the cap on open segments).
    pub opens: u64,
}

/// One file on the disk.
#[derive(Debug, Default)]
pub struct File {
    /// Everything that reached the disk, partial writes included.
    pub image: Vec<u8>,
    /// `(position, length)` of the last whole write: what a power loss may tear.
    pub last_write: Option<(usize, usize)>,
}

/// A partition directory.
#[derive(Debug, Default)]
pub struct Dir {
    pub segments: BTreeMap<i64, Rc<RefCell<File>>>,
    pub metadata: Option<Vec<u8>>,
    pub log_start_offset: Option<i64>,
    /// The transaction index, once the partition had a transaction.
    pub transaction_index: Option<File>,
}

#[derive(Debug)]
pub struct DiskState {
    pub dirs: BTreeMap<(String, i32), Dir>,
    /// The recovery checkpoint as last written: durable, as everything written before it.
    checkpoint: Option<Vec<u8>>,
    /// The dynamic broker settings, written atomically and durably.
    broker_configs: Option<Vec<u8>>,
    pub plan: FaultPlan,
    pub stats: FaultStats,
    rng: Rng,
}

/// A fault drawn for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    NoSpace,
    Io,
    /// Only a prefix of the bytes reached the disk, then ENOSPC.
    Short,
    /// The file was made, then syncing its directory failed.
    CreatedThenIo,
}

impl DiskState {
    fn draw(&mut self, topic: &str, grows: bool) -> Option<Fault> {
        self.draw_scaled(topic, grows, 1)
    }

    /// A fault `scale` times as likely as the plan says: segment creations are rare, and
    /// their faults would otherwise hardly ever be drawn.
    fn draw_scaled(&mut self, topic: &str, grows: bool, scale: u32) -> Option<Fault> {
        let plan = &self.plan;
        if plan.paused || (topic == OFFSETS_TOPIC && !plan.offsets_log) {
            return None;
        }
        if plan.full && grows {
            self.stats.no_space += 1;
            return Some(Fault::NoSpace);
        }
        if !self.rng.chance(plan.per_mille.saturating_mul(scale)) {
            return None;
        }
        let fault = match self.rng.below(4) {
            0 => Fault::NoSpace,
            1 => Fault::Io,
            2 => Fault::Short,
            _ => Fault::CreatedThenIo,
        };
        match fault {
            Fault::NoSpace => self.stats.no_space += 1,
            Fault::Io => self.stats.io += 1,
            Fault::Short => self.stats.short_writes += 1,
            Fault::CreatedThenIo => self.stats.created_then_failed += 1,
        }
        Some(fault)
    }
}

fn error(fault: Fault, what: &str) -> StorageError {
    let kind = match fault {
        Fault::NoSpace | Fault::Short => StorageErrorKind::NoSpace,
        Fault::Io | Fault::CreatedThenIo => StorageErrorKind::Io,
    };
    StorageError::new(kind, format!("simulated {fault:?}: {what}"))
}

/// The disk, shared by every broker booted over it.
#[derive(Clone, Debug)]
pub struct Disk(pub Rc<RefCell<DiskState>>);

/// What a power loss tore: the batch whose write was cut, by its offsets.
#[derive(Clone, Debug)]
pub struct Torn {
    pub topic: String,
    pub partition: i32,
    pub base_offset: i64,
    pub last_offset: i64,
}

impl Disk {
    pub fn new(rng: Rng, plan: FaultPlan) -> Self {
        Disk(Rc::new(RefCell::new(DiskState {
            dirs: BTreeMap::new(),
            checkpoint: None,
            broker_configs: None,
            plan,
            stats: FaultStats::default(),
            rng,
        })))
    }

    pub fn storage(&self, clean: bool) -> SimStorage {
        SimStorage {
            disk: self.clone(),
            clean,
        }
    }

    pub fn plan(&self) -> FaultPlan {
        self.0.borrow().plan.clone()
    }

    pub fn set_plan(&self, plan: FaultPlan) {
        self.0.borrow_mut().plan = plan;
    }

    pub fn stats(&self) -> FaultStats {
        self.0.borrow().stats.clone()
    }

    /// A power loss: the last write of one user partition's newest segment keeps only a prefix
    /// (the page cache never wrote the rest back). The offsets log is left whole: its durability
    /// under power loss is not what this checks.
    pub fn tear(&self, rng: &mut Rng) -> Option<Torn> {
        let mut state = self.0.borrow_mut();
        let candidates: Vec<(String, i32)> = state
            .dirs
            .iter()
            .filter(|((topic, _), dir)| {
                topic != OFFSETS_TOPIC
                    && dir
                        .segments
                        .values()
                        .next_back()
                        .is_some_and(|f| f.borrow().last_write.is_some())
            })
            .map(|(key, _)| key.clone())
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let key = candidates[rng.index(candidates.len())].clone();
        let file = state.dirs[&key].segments.values().next_back()?.clone();
        let mut file = file.borrow_mut();
        let (position, len) = file.last_write.take()?;
        let header = file.image.get(position..position + 27)?;
        let base_offset = i64::from_be_bytes(header[0..8].try_into().ok()?);
        let delta = i32::from_be_bytes(header[23..27].try_into().ok()?);
        let keep = rng.below(len as u64) as usize;
        file.image.truncate(position + keep);
        drop(file);
        // The partition's transaction index loses its last append likewise, in part or whole.
        if let Some(index) = state
            .dirs
            .get_mut(&key)
            .and_then(|d| d.transaction_index.as_mut())
        {
            if let Some((position, len)) = index.last_write.take() {
                let keep = rng.below(len as u64 + 1) as usize;
                index.image.truncate(position + keep);
            }
        }
        state.stats.torn += 1;
        Some(Torn {
            topic: key.0,
            partition: key.1,
            base_offset,
            last_offset: base_offset + i64::from(delta),
        })
    }
}

/// A segment: the broker's view of its bytes, and its file on the disk. Closed, it holds no
/// bytes (as a closed file holds no mapping): a read of a closed segment would find it empty,
/// which the broker must never take for its contents.
#[derive(Debug)]
pub struct SimSegment {
    bytes: Vec<u8>,
    open: bool,
    capacity_bytes: usize,
    topic: String,
    file: Rc<RefCell<File>>,
    disk: Disk,
}

impl AsRef<[u8]> for SimSegment {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl SegmentBuffer for SimSegment {
    fn capacity_bytes(&self) -> usize {
        self.capacity_bytes
    }

    fn write_at(&mut self, position: usize, head: &[u8], tail: &[u8]) -> Result<(), StorageError> {
        assert!(self.open, "a closed segment is never written");
        let total = head.len() + tail.len();
        if position > self.bytes.len() || position + total > self.capacity_bytes {
            return Err(StorageError::new(
                StorageErrorKind::Invalid,
                format!("write of {total} at {position} into {}", self.bytes.len()),
            ));
        }
        let mut data = Vec::with_capacity(total);
        data.extend_from_slice(head);
        data.extend_from_slice(tail);
        let fault = self.disk.0.borrow_mut().draw(&self.topic, true);
        let mut file = self.file.borrow_mut();
        match fault {
            None => {
                write_image(&mut file.image, position, &data);
                file.last_write = Some((position, total));
                self.bytes.truncate(position);
                self.bytes.extend_from_slice(&data);
                Ok(())
            }
            Some(Fault::Short) => {
                let kept = self.disk.0.borrow_mut().rng.below(total as u64) as usize;
                write_image(&mut file.image, position, &data[..kept]);
                Err(error(Fault::Short, "segment write"))
            }
            Some(f) => Err(error(f, "segment write")),
        }
    }

    fn truncate(&mut self, len_bytes: usize) -> Result<(), StorageError> {
        self.bytes.truncate(len_bytes);
        let mut file = self.file.borrow_mut();
        file.image.truncate(len_bytes);
        file.last_write = None;
        Ok(())
    }
}

/// Write `data` at `position` of a file image, growing it; bytes past the write stay.
fn write_image(image: &mut Vec<u8>, position: usize, data: &[u8]) {
    let end = position + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[position..end].copy_from_slice(data);
}

/// The `Storage` one broker runs over.
#[derive(Debug)]
pub struct SimStorage {
    disk: Disk,
    /// Whether the last broker shut down cleanly: its segments are then trusted.
    clean: bool,
}

impl SimStorage {
    fn draw(&self, topic: &str, grows: bool) -> Option<Fault> {
        self.disk.0.borrow_mut().draw(topic, grows)
    }

    fn segment(&self, topic: &str, file: Rc<RefCell<File>>, capacity_bytes: usize) -> SimSegment {
        let bytes = file.borrow().image.clone();
        SimSegment {
            capacity_bytes: capacity_bytes.max(bytes.len()),
            bytes,
            open: true,
            topic: topic.to_string(),
            file,
            disk: self.disk.clone(),
        }
    }
}

impl Storage for SimStorage {
    type Segment = SimSegment;

    /// As the server's flusher does: every byte written so far is made durable (a power loss can
    /// no longer tear it), then the checkpoint that vouches for them replaces the last one.
    fn write_recovery_checkpoint(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let mut state = self.disk.0.borrow_mut();
        for dir in state.dirs.values_mut() {
            for file in dir.segments.values() {
                file.borrow_mut().last_write = None;
            }
            if let Some(index) = &mut dir.transaction_index {
                index.last_write = None;
            }
        }
        state.checkpoint = Some(bytes.to_vec());
        Ok(())
    }

    fn read_recovery_checkpoint(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.disk.0.borrow().checkpoint.clone())
    }

    fn write_broker_configs(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.disk.0.borrow_mut().broker_configs = Some(bytes.to_vec());
        Ok(())
    }

    fn read_broker_configs(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.disk.0.borrow().broker_configs.clone())
    }

    fn recover(
        &mut self,
        segment_size_bytes: usize,
    ) -> Result<Vec<FoundPartition<SimSegment>>, StorageError> {
        let dirs: Vec<_> = {
            let state = self.disk.0.borrow();
            let each = state.dirs.iter().map(|((topic, partition), dir)| {
                let files: Vec<_> = dir.segments.iter().map(|(b, f)| (*b, f.clone())).collect();
                let index = dir.transaction_index.as_ref().map(|f| f.image.clone());
                (
                    topic.clone(),
                    *partition,
                    files,
                    dir.metadata.clone(),
                    index,
                )
            });
            each.collect()
        };
        let mut found = Vec::new();
        for (topic, partition, files, metadata, transaction_index) in dirs {
            let newest = files.len().saturating_sub(1);
            let segments = files
                .into_iter()
                .enumerate()
                .map(|(i, (base_offset, file))| {
                    // Only the newest grows: older ones are sealed at their length.
                    let capacity = if i == newest { segment_size_bytes } else { 0 };
                    // Handed over closed, as the server's scan opens no file.
                    let mut segment = self.segment(&topic, file, capacity);
                    segment.bytes = Vec::new();
                    segment.open = false;
                    FoundSegment {
                        base_offset,
                        segment,
                        recovery: if self.clean {
                            Recovery::HeadersTrusted
                        } else {
                            Recovery::Checked
                        },
                    }
                })
                .collect();
            found.push(FoundPartition {
                topic,
                partition,
                segments,
                metadata,
                transaction_index,
            });
        }
        Ok(found)
    }

    fn create_segment(
        &mut self,
        topic: &str,
        partition: i32,
        base_offset: i64,
        capacity_bytes: usize,
    ) -> Result<SimSegment, StorageError> {
        let fault = self.disk.0.borrow_mut().draw_scaled(topic, true, 10);
        if matches!(fault, Some(Fault::NoSpace | Fault::Io | Fault::Short)) {
            return Err(error(fault.unwrap_or(Fault::Io), "create segment"));
        }
        // O_CREAT|O_TRUNC, as the server creates segment files: an existing one is emptied.
        let file = Rc::new(RefCell::new(File::default()));
        let key = (topic.to_string(), partition);
        let mut state = self.disk.0.borrow_mut();
        let dir = state.dirs.entry(key).or_default();
        dir.segments.insert(base_offset, file.clone());
        drop(state);
        if let Some(f) = fault {
            return Err(error(f, "sync after create"));
        }
        Ok(self.segment(topic, file, capacity_bytes))
    }

    /// The file's bytes as they are on the disk now (a failed write's remains included).
    fn open_segment(&mut self, segment: &mut SimSegment) -> Result<(), StorageError> {
        if !segment.open {
            let image = segment.file.borrow().image.clone();
            segment.capacity_bytes = segment.capacity_bytes.max(image.len());
            segment.bytes = image;
            segment.open = true;
            self.disk.0.borrow_mut().stats.opens += 1;
        }
        Ok(())
    }

    fn close_segment(&mut self, segment: &mut SimSegment) -> Result<(), StorageError> {
        assert!(segment.open, "only an open segment is closed");
        segment.bytes = Vec::new();
        segment.open = false;
        Ok(())
    }

    fn seal_segment(
        &mut self,
        segment: &mut SimSegment,
        len_bytes: usize,
    ) -> Result<(), StorageError> {
        // Trimming needs no space: only an I/O error can stop it.
        if let Some(f) = self.draw(&segment.topic, false) {
            return Err(error(f, "seal segment"));
        }
        segment.truncate(len_bytes)?;
        segment.capacity_bytes = len_bytes;
        Ok(())
    }

    fn write_metadata(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        if let Some(f) = self.draw(topic, true) {
            // Written to a temporary file and renamed: a failure leaves the old file.
            return Err(error(f, "write metadata"));
        }
        let mut state = self.disk.0.borrow_mut();
        let dir = state
            .dirs
            .entry((topic.to_string(), partition))
            .or_default();
        dir.metadata = Some(bytes.to_vec());
        Ok(())
    }

    fn delete_partition(&mut self, topic: &str, partition: i32) -> Result<(), StorageError> {
        let mut state = self.disk.0.borrow_mut();
        state.dirs.remove(&(topic.to_string(), partition));
        Ok(())
    }

    fn delete_segment(&mut self, segment: SimSegment) -> Result<(), StorageError> {
        let mut state = self.disk.0.borrow_mut();
        for dir in state.dirs.values_mut() {
            dir.segments.retain(|_, f| !Rc::ptr_eq(f, &segment.file));
        }
        Ok(())
    }

    fn write_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), StorageError> {
        if let Some(f) = self.draw(topic, true) {
            return Err(error(f, "write log start offset"));
        }
        let mut state = self.disk.0.borrow_mut();
        let dir = state
            .dirs
            .entry((topic.to_string(), partition))
            .or_default();
        dir.log_start_offset = Some(offset);
        Ok(())
    }

    fn read_log_start_offset(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, StorageError> {
        let state = self.disk.0.borrow();
        Ok(state
            .dirs
            .get(&(topic.to_string(), partition))
            .and_then(|d| d.log_start_offset))
    }

    /// Appended at the end, as a segment is written: a short write leaves its prefix (its
    /// cut-back never ran), and a power loss may tear the last append (`Disk::tear`).
    fn append_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        let fault = self.draw(topic, true);
        let mut state = self.disk.0.borrow_mut();
        let short = match fault {
            Some(Fault::Short) => Some(state.rng.below(bytes.len() as u64) as usize),
            _ => None,
        };
        let dir = state
            .dirs
            .entry((topic.to_string(), partition))
            .or_default();
        let index = dir.transaction_index.get_or_insert_with(File::default);
        let position = index.image.len();
        match (fault, short) {
            (None, _) => {
                index.image.extend_from_slice(bytes);
                index.last_write = Some((position, bytes.len()));
                Ok(())
            }
            (Some(f), Some(kept)) => {
                index.image.extend_from_slice(&bytes[..kept]);
                Err(error(f, "transaction index append"))
            }
            (Some(f), None) => Err(error(f, "transaction index append")),
        }
    }

    /// Replaced atomically and durably: a failure leaves the old file.
    fn write_transaction_index(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        if let Some(f) = self.draw(topic, !bytes.is_empty()) {
            return Err(error(f, "write transaction index"));
        }
        let mut state = self.disk.0.borrow_mut();
        let dir = state
            .dirs
            .entry((topic.to_string(), partition))
            .or_default();
        dir.transaction_index = (!bytes.is_empty()).then(|| File {
            image: bytes.to_vec(),
            last_write: None,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(plan: FaultPlan) -> Disk {
        Disk::new(Rng::new(1), plan)
    }

    #[test]
    fn what_was_written_survives_a_restart() {
        let disk = disk(FaultPlan::default());
        let mut storage = disk.storage(false);
        let mut seg = storage.create_segment("t", 0, 0, 64).expect("created");
        seg.write_at(0, b"abc", b"de").expect("written");
        drop((seg, storage));
        let mut storage = disk.storage(false);
        let mut found = storage.recover(64).expect("recovered");
        assert_eq!(found.len(), 1);
        let segment = &mut found[0].segments[0].segment;
        assert_eq!(segment.as_ref(), b"", "found closed");
        storage.open_segment(segment).expect("opens");
        assert_eq!(found[0].segments[0].segment.as_ref(), b"abcde");
        assert_eq!(found[0].segments[0].segment.capacity_bytes(), 64);
    }

    #[test]
    fn a_short_write_is_invisible_but_leaves_bytes_on_the_disk() {
        let disk = disk(FaultPlan {
            per_mille: 1000,
            ..FaultPlan::default()
        });
        let mut storage = disk.storage(false);
        let mut plan = disk.plan();
        plan.paused = true;
        disk.set_plan(plan.clone());
        let mut seg = storage.create_segment("t", 0, 0, 1024).expect("created");
        plan.paused = false;
        disk.set_plan(plan);
        let mut shorts = 0;
        for _ in 0..64 {
            assert!(seg.write_at(0, &[1; 100], &[2; 100]).is_err());
            assert_eq!(seg.as_ref(), b"", "a failed write is not seen");
            shorts = disk.stats().short_writes;
        }
        assert!(shorts > 0, "some faults are short writes");
        assert!(
            !seg.file.borrow().image.is_empty(),
            "a prefix reached the disk"
        );
    }

    #[test]
    fn a_full_disk_refuses_growth_but_not_trimming() {
        let disk = disk(FaultPlan::default());
        let mut storage = disk.storage(false);
        let mut seg = storage.create_segment("t", 0, 0, 64).expect("created");
        seg.write_at(0, b"abcd", b"").expect("written");
        disk.set_plan(FaultPlan {
            full: true,
            ..FaultPlan::default()
        });
        let e = seg.write_at(4, b"e", b"").expect_err("full");
        assert_eq!(e.kind, StorageErrorKind::NoSpace);
        storage.seal_segment(&mut seg, 2).expect("trims");
        assert_eq!(seg.as_ref(), b"ab");
    }
}
