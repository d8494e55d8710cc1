use super::*;
use crate::records::BatchBuilder;
use crate::storage::{MemorySegment, MemoryStorage};

const SEGMENT: usize = 3_000;
const ID: [u8; 16] = [0xab; 16];

/// A log of `n` batches of 100-byte records over several segments.
fn log(n: usize) -> PartitionLog<MemorySegment> {
    let mut storage = MemoryStorage::default();
    let mut log = PartitionLog::new(MemorySegment::new(SEGMENT), 0);
    for i in 0..n {
        let mut b = BatchBuilder::new(0);
        b.push(1_000 + i as i64, None, Some(&[1; 100]), &[]);
        log.append(&mut storage, "t", 0, &b.finish(), SEGMENT, 50 + i as i64)
            .expect("append");
    }
    // Rolls closed the sealed segments: opened again to be read here.
    log.open_all(&mut storage).expect("opens");
    log
}

/// The log's segments as found after a crash.
fn found(log: &PartitionLog<MemorySegment>) -> Vec<FoundSegment<MemorySegment>> {
    log.segments()
        .iter()
        .map(|s| FoundSegment {
            base_offset: s.base_offset(),
            segment: s.buffer().clone(),
            recovery: Recovery::Checked,
        })
        .collect()
}

fn checkpoint_of(log: &PartitionLog<MemorySegment>) -> Vec<u8> {
    let mut w = CheckpointWriter::default();
    w.partition("my.topic", &ID, 3, log);
    w.finish()
}

#[test]
fn round_trip_and_apply() {
    let log = log(60);
    assert!(log.segment_count() > 2);
    let bytes = checkpoint_of(&log);
    let text = core::str::from_utf8(&bytes).expect("text");
    assert!(text.starts_with("blazemq-recovery-checkpoint 1\n3 abababab"));
    let cp = RecoveryCheckpoint::decode(&bytes).expect("decodes");
    assert_eq!(cp.len(), log.segment_count());
    assert_eq!(cp.vouched_bytes(), log.size_bytes());
    let mut segments = found(&log);
    cp.apply("my.topic", &ID, 3, &mut segments);
    for (f, s) in segments.iter().zip(log.segments()) {
        assert_eq!(f.recovery, Recovery::Known(s.summary()));
    }
    let reopened = crate::log::partition::tests::recovered(segments, "opens");
    assert!(reopened.segments().iter().all(|s| !s.is_indexed()));
    assert_eq!(reopened.log_end_offset(), log.log_end_offset());
    assert_eq!(reopened.size_bytes(), log.size_bytes());
    assert_eq!(reopened.max_timestamp(), log.max_timestamp());
    assert_eq!(reopened.offset_for_timestamp(1_030), Ok(Some((30, 1_030))));
    assert_eq!(reopened.read(17, 1), log.read(17, 1));
}

#[test]
fn entries_that_do_not_match_are_ignored() {
    let log = log(60);
    let cp = RecoveryCheckpoint::decode(&checkpoint_of(&log)).expect("decodes");
    // Another topic id (deleted and created again), another partition, another name.
    for (name, id, p) in [
        ("my.topic", [1; 16], 3),
        ("my.topic", ID, 4),
        ("other", ID, 3),
    ] {
        let mut segments = found(&log);
        cp.apply(name, &id, p, &mut segments);
        assert!(segments.iter().all(|f| f.recovery == Recovery::Checked));
    }
    // A file shorter than its entry (a crash lost what it counts) keeps its recovery; a
    // segment deleted since the checkpoint has no file, its entry matches nothing.
    let mut segments = found(&log);
    segments.remove(0);
    let last = segments.last_mut().expect("segments");
    let mut bytes = last.segment.clone().into_bytes();
    bytes.truncate(bytes.len() - 1);
    last.segment = MemorySegment::from_bytes(bytes, SEGMENT);
    cp.apply("my.topic", &ID, 3, &mut segments);
    let n = segments.len();
    assert!(
        segments[..n - 1]
            .iter()
            .all(|f| matches!(f.recovery, Recovery::Known(_)))
    );
    assert_eq!(segments[n - 1].recovery, Recovery::Checked);
    let reopened = crate::log::partition::tests::recovered(segments, "opens");
    assert_eq!(reopened.log_end_offset(), log.log_end_offset() - 1);
}

#[test]
fn a_torn_or_damaged_file_is_ignored_whole() {
    let bytes = checkpoint_of(&log(30));
    assert!(RecoveryCheckpoint::decode(&bytes).is_some());
    for cut in [0, 1, 30, bytes.len() / 2, bytes.len() - 12, bytes.len() - 1] {
        assert_eq!(
            RecoveryCheckpoint::decode(&bytes[..cut]),
            None,
            "cut at {cut}"
        );
    }
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x04;
        assert_eq!(RecoveryCheckpoint::decode(&damaged), None, "byte {i}");
    }
    // Another version with a good checksum.
    let text = core::str::from_utf8(&bytes).expect("text");
    let body = text
        .split("crc32c")
        .next()
        .expect("body")
        .replace("checkpoint 1\n", "checkpoint 2\n");
    let crc = crc32c(body.as_bytes());
    let other = format!("{body}crc32c {crc:08x}\n");
    assert_eq!(RecoveryCheckpoint::decode(other.as_bytes()), None);
}

#[test]
fn an_empty_broker_writes_an_empty_checkpoint() {
    let bytes = CheckpointWriter::default().finish();
    let cp = RecoveryCheckpoint::decode(&bytes).expect("decodes");
    assert!(cp.is_empty());
}

/// A file with `body` after the header line `header`, and its CRC line.
fn with_crc(header: &str, body: &str) -> Vec<u8> {
    let text = format!("{header}{body}");
    let crc = crc32c(text.as_bytes());
    format!("{text}crc32c {crc:08x}\n").into_bytes()
}

fn producer(id: i64, batches: &[(i32, i32, i64)]) -> ProducerEntry {
    ProducerEntry {
        producer_id: id,
        epoch: 3,
        last_timestamp: 1_700,
        batches: batches.iter().copied().collect(),
    }
}

#[test]
fn producers_round_trip_with_the_offset_they_are_known_to() {
    let log = log(60);
    let mut w = CheckpointWriter::default();
    w.partition("my.topic", &ID, 3, &log);
    let kept = [producer(7, &[(0, 4, 10), (5, 5, 20)]), producer(9, &[])];
    for p in &kept {
        w.producer("my.topic", &ID, 3, p);
    }
    let cp = RecoveryCheckpoint::decode(&w.finish()).expect("decodes");
    let (known_to, producers) = cp.producers("my.topic", &ID, 3).expect("known");
    assert_eq!(known_to, log.log_end_offset());
    assert_eq!(producers.cloned().collect::<Vec<_>>(), kept);
    // Segments still apply as before.
    assert_eq!(cp.len(), log.segment_count());
    // A topic created again (another id), or a partition the checkpoint does not hold.
    assert!(cp.producers("my.topic", &[1; 16], 3).is_none());
    assert!(cp.producers("my.topic", &ID, 4).is_none());
    // A partition with segments but no producer has none.
    let mut w = CheckpointWriter::default();
    w.partition("my.topic", &ID, 3, &log);
    let cp = RecoveryCheckpoint::decode(&w.finish()).expect("decodes");
    let (_, producers) = cp.producers("my.topic", &ID, 3).expect("known");
    assert_eq!(producers.count(), 0);
}

#[test]
fn a_version_0_file_vouches_for_segments_but_keeps_no_producer() {
    let log = log(10);
    let bytes = checkpoint_of(&log);
    let text = core::str::from_utf8(&bytes).expect("text");
    let body = text
        .split("crc32c")
        .next()
        .and_then(|b| b.strip_prefix("blazemq-recovery-checkpoint 1\n"))
        .expect("body");
    let v0 = with_crc("blazemq-recovery-checkpoint 0\n", body);
    let cp = RecoveryCheckpoint::decode(&v0).expect("decodes");
    assert_eq!(cp.len(), log.segment_count());
    assert!(cp.producers("my.topic", &ID, 3).is_none());
    // A producer line has no place in a version 0 file.
    let line = "producer 3 abababababababababababababababab 7 0 1 - my.topic\n";
    let bad = with_crc("blazemq-recovery-checkpoint 0\n", &format!("{body}{line}"));
    assert_eq!(RecoveryCheckpoint::decode(&bad), None);
}

#[test]
fn malformed_producer_lines_fail_the_file() {
    let id = "abababababababababababababababab";
    for line in [
        format!("producer 3 {id} 7 0 1 0:4 my.topic"),
        format!("producer 3 {id} 7 0 1 0:4:10,1 my.topic"),
        format!("producer 3 {id} 7 0 1 0:0:1,1:1:2,2:2:3,3:3:4,4:4:5,5:5:6 my.topic"),
        format!("producer 3 {id} 7 99999 1 - my.topic"),
        format!("producer 3 {id} 7 0 1 -"),
    ] {
        let bytes = with_crc("blazemq-recovery-checkpoint 1\n", &format!("{line}\n"));
        assert_eq!(RecoveryCheckpoint::decode(&bytes), None, "{line}");
    }
    let good = format!("producer 3 {id} 7 0 1 0:0:1,1:1:2 my.topic\n");
    assert!(
        RecoveryCheckpoint::decode(&with_crc("blazemq-recovery-checkpoint 1\n", &good)).is_some()
    );
}
