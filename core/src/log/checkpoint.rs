//! The recovery checkpoint: for every segment of every partition, how many of its bytes were
//! durable when it was written, and what they hold (Kafka's `recovery-point-offset-checkpoint`,
//! per segment and in our own format). A restart trusts those bytes without reading them and
//! checks only what was written after (see [`super::Segment::open_known`]).
//!
//! It also holds each partition's idempotent producers as they were when the segments' lines were
//! taken (Kafka keeps them in `.snapshot` files): a restart restores them and reads only the
//! batches appended after, so a producer carries on without duplicates or sequence errors.
//!
//! The file is text, one segment or producer a line, and ends with a CRC-32C of everything
//! before it, so a torn or damaged file is detected and ignored as a whole:
//!
//! ```text
//! blazemq-recovery-checkpoint 1
//! <partition> <topic id, 32 hex> <base offset> <len bytes> <next offset> <max timestamp> <max timestamp position> <modified ms> <topic>
//! producer <partition> <topic id, 32 hex> <producer id> <epoch> <last timestamp> <batches> <topic>
//! crc32c <8 hex>
//! ```
//!
//! `<batches>` is `-` or the producer's last batches, oldest first, as
//! `<first sequence>:<last sequence>:<base offset>` joined by `,`. Version 0 files (segments
//! only) are still read; they restore no producer.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use crate::records::crc::crc32c;
use crate::storage::{FoundSegment, Recovery, SegmentSummary};

use super::PartitionLog;
use crate::hex::{hex16, parse_hex16};

/// The first line: the format and its version.
const HEADER: &str = "blazemq-recovery-checkpoint 1\n";
/// The first line of files without producers, still read.
const HEADER_V0: &str = "blazemq-recovery-checkpoint 0\n";
/// The first field of a producer's line.
const PRODUCER_PREFIX: &str = "producer ";
/// The most batches a producer's line may list (Kafka's clients keep at most five in flight).
pub const PRODUCER_BATCHES_MAX: usize = 5;

/// An idempotent producer's state on one partition, as the checkpoint keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerEntry {
    /// Its producer id.
    pub producer_id: i64,
    /// Its epoch: an older one is fenced.
    pub epoch: i16,
    /// The largest timestamp of its last batch.
    pub last_timestamp: i64,
    /// Its last batches, oldest first: `(first sequence, last sequence, base offset)`.
    pub batches: heapless::Vec<(i32, i32, i64), PRODUCER_BATCHES_MAX>,
}
/// The prefix of the last line.
const CRC_PREFIX: &str = "crc32c ";

/// A checkpoint being written, partition by partition.
#[derive(Debug)]
pub struct CheckpointWriter {
    text: String,
}

impl Default for CheckpointWriter {
    fn default() -> Self {
        CheckpointWriter {
            text: String::from(HEADER),
        }
    }
}

impl CheckpointWriter {
    /// Record every segment of partition `partition` of topic `topic` (id `topic_id`).
    pub fn partition<T: AsRef<[u8]>>(
        &mut self,
        topic: &str,
        topic_id: &[u8; 16],
        partition: i32,
        log: &PartitionLog<T>,
    ) {
        let id = hex16(topic_id);
        for segment in log.segments() {
            let s = segment.summary();
            writeln!(
                self.text,
                "{partition} {id} {} {} {} {} {} {} {topic}",
                segment.base_offset(),
                s.len_bytes,
                s.next_offset,
                s.max_timestamp,
                s.max_timestamp_position,
                s.modified_ms,
            )
            .expect("writing into a String cannot fail");
        }
    }

    /// Record producer `entry` of partition `partition` of topic `topic` (id `topic_id`).
    pub fn producer(
        &mut self,
        topic: &str,
        topic_id: &[u8; 16],
        partition: i32,
        entry: &ProducerEntry,
    ) {
        let id = hex16(topic_id);
        let ProducerEntry {
            producer_id,
            epoch,
            last_timestamp,
            batches,
        } = entry;
        let mut line =
            format!("{PRODUCER_PREFIX}{partition} {id} {producer_id} {epoch} {last_timestamp} ");
        if batches.is_empty() {
            line.push('-');
        }
        for (i, (first, last, base)) in batches.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            line.push_str(&format!("{sep}{first}:{last}:{base}"));
        }
        self.text.push_str(&line);
        self.text.push(' ');
        self.text.push_str(topic);
        self.text.push('\n');
    }

    /// The file's bytes, with the CRC line.
    pub fn finish(mut self) -> Vec<u8> {
        let crc = crc32c(self.text.as_bytes());
        self.text.push_str(&format!("{CRC_PREFIX}{crc:08x}\n"));
        self.text.into_bytes()
    }
}

/// One segment's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    topic_id: [u8; 16],
    summary: SegmentSummary,
}

/// A checkpoint as read back at startup.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecoveryCheckpoint {
    /// By `(topic, partition, base offset)`.
    entries: BTreeMap<(String, i32, i64), Entry>,
    /// Producers by `(topic, partition)`, each with its topic's id; `None` for a version 0 file,
    /// which kept none.
    producers: Option<ProducersByPartition>,
}

/// Producer lines by `(topic, partition)`, each with its topic's id.
type ProducersByPartition = BTreeMap<(String, i32), Vec<([u8; 16], ProducerEntry)>>;

impl RecoveryCheckpoint {
    /// Parse a checkpoint file; `None` if it is torn, damaged or of another version: then no
    /// segment is vouched for, and recovery checks them as it would without it.
    pub fn decode(bytes: &[u8]) -> Option<RecoveryCheckpoint> {
        let text = core::str::from_utf8(bytes).ok()?;
        let body = text.strip_suffix('\n')?;
        let (body, crc_line) = body.rsplit_once('\n')?;
        let body = &text[..body.len() + 1];
        let crc = u32::from_str_radix(crc_line.strip_prefix(CRC_PREFIX)?, 16).ok()?;
        if crc != crc32c(body.as_bytes()) {
            return None;
        }
        let (lines, mut producers) = match body.strip_prefix(HEADER) {
            Some(lines) => (lines, Some(BTreeMap::new())),
            None => (body.strip_prefix(HEADER_V0)?, None),
        };
        let mut entries = BTreeMap::new();
        for line in lines.lines() {
            match (line.strip_prefix(PRODUCER_PREFIX), producers.as_mut()) {
                (Some(line), Some(producers)) => {
                    let (key, id, entry) = parse_producer(line)?;
                    producers
                        .entry(key)
                        .or_insert_with(Vec::new)
                        .push((id, entry));
                }
                (Some(_), None) => return None,
                (None, _) => {
                    let (key, entry) = parse_line(line)?;
                    entries.insert(key, entry);
                }
            }
        }
        Some(RecoveryCheckpoint { entries, producers })
    }

    /// The producers kept for partition `partition` of topic `topic` (id `topic_id`), and the
    /// offset up to which they are known: the partition's log end offset when the checkpoint
    /// was taken. `None` when the checkpoint does not know the partition (it is newer, or the
    /// file kept no producers): its producers are then found by reading its whole log.
    pub fn producers(
        &self,
        topic: &str,
        topic_id: &[u8; 16],
        partition: i32,
    ) -> Option<(i64, impl Iterator<Item = &ProducerEntry>)> {
        let producers = self.producers.as_ref()?;
        let key = (topic.to_string(), partition);
        let known_to = self
            .entries
            .range((key.0.clone(), partition, i64::MIN)..=(key.0.clone(), partition, i64::MAX))
            .filter(|(_, e)| e.topic_id == *topic_id)
            .map(|(_, e)| e.summary.next_offset)
            .max()?;
        let entries = producers.get(&key).map_or(&[][..], Vec::as_slice);
        let of_topic = entries
            .iter()
            .filter(move |(id, _)| id == topic_id)
            .map(|(_, e)| e);
        Some((known_to, of_topic))
    }

    /// Number of segments vouched for.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes vouched for, over every segment.
    pub fn vouched_bytes(&self) -> u64 {
        self.entries.values().map(|e| e.summary.len_bytes).sum()
    }

    /// Whether no segment is vouched for.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Mark each of a partition's found segments that the checkpoint vouches for as
    /// [`Recovery::Known`]: same topic (name and id), partition and base offset, and no more
    /// bytes than the file holds (a shorter file lost what the entry counts, so it is checked).
    /// Segments without an entry keep how the runtime found them.
    pub fn apply<T: AsRef<[u8]>>(
        &self,
        topic: &str,
        topic_id: &[u8; 16],
        partition: i32,
        segments: &mut [FoundSegment<T>],
    ) {
        for found in segments {
            let key = (topic.to_string(), partition, found.base_offset);
            let Some(entry) = self.entries.get(&key) else {
                continue;
            };
            let fits = usize::try_from(entry.summary.len_bytes)
                .is_ok_and(|len| len <= found.segment.as_ref().len());
            if entry.topic_id == *topic_id && fits {
                found.recovery = Recovery::Known(entry.summary);
            }
        }
    }
}

/// One entry line.
fn parse_line(line: &str) -> Option<((String, i32, i64), Entry)> {
    let mut fields = line.splitn(9, ' ');
    let mut next = || fields.next();
    let partition = next()?.parse().ok()?;
    let topic_id = parse_hex16(next()?)?;
    let base_offset = next()?.parse().ok()?;
    let summary = SegmentSummary {
        len_bytes: next()?.parse().ok()?,
        next_offset: next()?.parse().ok()?,
        max_timestamp: next()?.parse().ok()?,
        max_timestamp_position: next()?.parse().ok()?,
        modified_ms: next()?.parse().ok()?,
    };
    let topic = next()?;
    if topic.is_empty() {
        return None;
    }
    let entry = Entry { topic_id, summary };
    Some(((topic.to_string(), partition, base_offset), entry))
}

/// One producer line, without its prefix.
fn parse_producer(line: &str) -> Option<((String, i32), [u8; 16], ProducerEntry)> {
    let mut fields = line.splitn(7, ' ');
    let mut next = || fields.next();
    let partition = next()?.parse().ok()?;
    let topic_id = parse_hex16(next()?)?;
    let mut entry = ProducerEntry {
        producer_id: next()?.parse().ok()?,
        epoch: next()?.parse().ok()?,
        last_timestamp: next()?.parse().ok()?,
        batches: heapless::Vec::new(),
    };
    let batches = next()?;
    if batches != "-" {
        for batch in batches.split(',') {
            let mut parts = batch.splitn(3, ':');
            let mut part = || parts.next();
            let seqs = (
                part()?.parse().ok()?,
                part()?.parse().ok()?,
                part()?.parse().ok()?,
            );
            entry.batches.push(seqs).ok()?;
        }
    }
    let topic = next()?;
    if topic.is_empty() {
        return None;
    }
    Some(((topic.to_string(), partition), topic_id, entry))
}

#[cfg(test)]
mod tests;
