//! `record_batch` and `legacy`: what a Produce's records pass through before a log stores them,
//! and the conversions between v2 batches and legacy message sets.

use core::hint::black_box;

use blazemq_core::limits::BATCH_SIZE_BYTES_MAX_DEFAULT;
use blazemq_core::log::Segment;
use blazemq_core::records::legacy::{self, MessageSet};
use blazemq_core::records::{RecordBatch, Records, ValidatedRecords, validate_batches};
use blazemq_core::storage::MemorySegment;

/// `message.max.bytes` as Kafka sets it by default, and a small one that short inputs cross.
const BATCH_BYTES_MAX: [usize; 2] = [BATCH_SIZE_BYTES_MAX_DEFAULT as usize, 256];

/// Produce's validation over arbitrary records (v2 batches of every codec, or a legacy set).
/// What it accepts reads back as whole, checksummed batches, is stored by a segment and found
/// again by recovery, and down-converts for old consumers.
pub fn record_batch(data: &[u8]) {
    for batch_bytes_max in BATCH_BYTES_MAX {
        match validate_batches(data, batch_bytes_max) {
            Ok(validated) => accepted(data, &validated, batch_bytes_max),
            Err(e) => {
                black_box(e.error_code());
            }
        }
    }
}

fn accepted(data: &[u8], validated: &ValidatedRecords, batch_bytes_max: usize) {
    let batches = validated.batches(data);
    let mut rest = batches;
    let (mut count, mut records) = (0u32, 0u64);
    while !rest.is_empty() {
        let batch = match RecordBatch::new_checked(rest) {
            Ok(batch) => batch,
            Err(e) => panic!("batch {count} of validated records does not read back: {e:?}"),
        };
        if validated.converted.is_none() {
            assert!(
                batch.total_len() <= batch_bytes_max,
                "batch over message.max.bytes"
            );
        }
        records += u64::try_from(batch.records_count()).expect("validated counts are positive");
        count += 1;
        rest = &rest[batch.total_len()..];
    }
    let expected = if validated.is_legacy() {
        1
    } else {
        validated.batch_count
    };
    assert_eq!(count, expected, "batch count");
    assert_eq!(records, validated.record_count, "record count");
    for log_append_time in [None, Some(1_700_000_000_000)] {
        stored_and_recovered(batches, log_append_time);
    }
    down_converted(batches);
}

/// Appends `batches` to a segment as the produce path does, then recovers the segment's bytes
/// as after a crash: every batch comes back, at the offsets it was given.
fn stored_and_recovered(batches: &[u8], log_append_time: Option<i64>) {
    let mut segment = Segment::new(MemorySegment::new(batches.len()), 0);
    let mut rest = batches;
    while !rest.is_empty() {
        let offset = segment.next_offset();
        match segment.append(rest, offset, log_append_time) {
            Ok(len) => rest = &rest[len..],
            Err(e) => panic!("a validated batch was not stored: {e:?}"),
        }
    }
    let (len, next_offset) = (segment.len_bytes(), segment.next_offset());
    assert_eq!(len, batches.len());
    for trusted in [false, true] {
        let buffer = MemorySegment::from_bytes(segment.data().to_vec(), len);
        let recovered = match Segment::open(buffer, 0, trusted) {
            Ok(recovered) => recovered,
            Err(e) => panic!("a memory segment failed to open: {e:?}"),
        };
        assert_eq!(recovered.len_bytes(), len, "recovery lost stored batches");
        assert_eq!(recovered.next_offset(), next_offset);
    }
}

/// Down-conversion for Fetch v0-v3 gives a message set that converts back to v2 with one
/// record per message.
fn down_converted(batches: &[u8]) {
    for magic in [0, 1] {
        let Ok(set) = legacy::down_convert(batches, magic, 0) else {
            continue;
        };
        let messages = messages_of(&set, magic);
        if messages == 0 {
            continue;
        }
        match legacy::to_v2(&set, usize::MAX, usize::MAX) {
            Ok((_, summary)) => assert_eq!(summary.record_count, messages),
            Err(e) => panic!("a down-converted set does not convert back: {e:?}"),
        }
    }
}

/// Messages in a set this broker wrote: each parses, with the magic asked for.
fn messages_of(set: &[u8], magic: i8) -> u32 {
    let mut count = 0;
    for message in MessageSet::new(set) {
        match message {
            Ok(message) => assert_eq!(message.magic, magic),
            Err(e) => panic!("a down-converted set does not parse: {e:?}"),
        }
        count += 1;
    }
    count
}

/// A legacy message set (magic 0 or 1, wrappers of every codec) converted to one v2 batch as a
/// Produce v0-v2 is. What converts is a valid batch with one record per message, and converting
/// it back and forth again gives the same batch.
pub fn legacy(data: &[u8]) {
    black_box(MessageSet::new(data).count());
    let max = BATCH_BYTES_MAX[0];
    let (batch, summary) = match legacy::to_v2(data, max, max * 16) {
        Ok(converted) => converted,
        Err(e) => {
            black_box(e.error_code());
            return;
        }
    };
    let validated = match validate_batches(&batch, usize::MAX) {
        Ok(validated) => validated,
        Err(e) => panic!("a converted set is not a valid batch: {e:?}"),
    };
    assert_eq!(validated.batch_count, 1);
    assert_eq!(validated.record_count, u64::from(summary.record_count));
    let set = match legacy::down_convert(&batch, summary.magic, 0) {
        Ok(set) => set,
        Err(e) => panic!("a converted batch does not down-convert: {e:?}"),
    };
    assert_eq!(messages_of(&set, summary.magic), summary.record_count);
    let view = RecordBatch::new_unchecked(&batch[..]);
    for (message, record) in MessageSet::new(&set).zip(Records::of_batch(&view)) {
        let (message, record) = match (message, record) {
            (Ok(m), Ok(r)) => (m, r),
            (m, r) => panic!("converted records do not read back: {m:?} {r:?}"),
        };
        assert_eq!((message.key, message.value), (record.key, record.value));
    }
    match legacy::to_v2(&set, usize::MAX, usize::MAX) {
        Ok((again, _)) => assert_eq!(again, batch, "legacy -> v2 -> legacy -> v2 changed"),
        Err(e) => panic!("a down-converted set does not convert back: {e:?}"),
    }
}
