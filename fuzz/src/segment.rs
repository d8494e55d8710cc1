//! `segment_recovery`: a segment opened over arbitrary bytes, as after a clean shutdown
//! (trusted) or a crash.

use blazemq_core::log::Segment;
use blazemq_core::records::{BatchBuilder, RecordBatch};
use blazemq_core::storage::MemorySegment;

/// Room left after the recovered bytes for the appends that follow recovery.
const SPARE_BYTES: usize = 4096;

/// The first byte picks how the segment is opened (bit 0: trusted; bit 1: its base offset is the
/// first batch's, as a real segment's file name says, instead of 0); the rest are its bytes.
///
/// Recovery never panics, keeps a prefix of the bytes made of whole batches with ascending
/// offsets (CRC-checked unless trusted), cuts the rest, finds and reads what it kept, and
/// takes appends after it that a second recovery finds again.
pub fn segment_recovery(data: &[u8]) {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let trusted = flags & 1 == 1;
    let base_offset = if flags & 2 == 2 {
        bytes
            .first_chunk::<8>()
            .map_or(0, |b| i64::from_be_bytes(*b))
    } else {
        0
    };
    let buffer = MemorySegment::from_bytes(bytes.to_vec(), bytes.len() + SPARE_BYTES);
    let segment = match Segment::open(buffer, base_offset, trusted) {
        Ok(segment) => segment,
        Err(e) => panic!("a memory segment failed to open: {e:?}"),
    };
    let len = segment.len_bytes();
    assert_eq!(
        segment.data(),
        &bytes[..len],
        "recovery kept bytes that were not written"
    );
    assert_eq!(segment.buffer().as_ref().len(), len, "the tail was not cut");
    let all_crc_valid = check_batches(&segment, base_offset, !trusted);
    read_back(&segment);
    append_after(segment, base_offset, all_crc_valid);
}

/// Walks the kept batches: whole, ascending offsets from `base_offset`, each CRC valid when
/// `crc_checked`. Returns whether every CRC is valid.
fn check_batches(segment: &Segment<MemorySegment>, base_offset: i64, crc_checked: bool) -> bool {
    let mut rest = segment.data();
    let mut next = base_offset;
    let mut all_valid = true;
    while !rest.is_empty() {
        let batch = match RecordBatch::new_unchecked_header(rest) {
            Ok(batch) => batch,
            Err(e) => panic!("recovery kept a batch that does not parse: {e:?}"),
        };
        assert!(
            batch.base_offset() >= next,
            "offsets within a segment ascend"
        );
        let last = batch
            .base_offset()
            .checked_add(i64::from(batch.last_offset_delta()))
            .filter(|last| *last < i64::MAX && *last >= batch.base_offset());
        let Some(last) = last else {
            panic!("recovery kept a batch whose offsets overflow: {batch:?}");
        };
        let valid = batch.crc_valid();
        assert!(
            valid || !crc_checked,
            "recovery after a crash kept a bad CRC"
        );
        all_valid &= valid;
        next = last + 1;
        rest = &rest[batch.total_len()..];
    }
    assert_eq!(segment.next_offset(), next, "next offset");
    all_valid
}

/// Lookups over what recovery kept never panic and stay within it.
fn read_back(segment: &Segment<MemorySegment>) {
    let first = segment.base_offset();
    let offsets = [
        first,
        first.saturating_add(1),
        segment.next_offset().saturating_sub(1),
    ];
    for offset in offsets {
        if let Some((start, len)) = segment.read(offset, 1) {
            let end = start as usize + len as usize;
            assert!(end <= segment.len_bytes(), "a read past the data");
        }
    }
    if let Some((ts, offset)) = segment.max_timestamp() {
        assert!(ts >= 0);
        assert!(offset >= first && offset < segment.next_offset());
    }
    for ts in [i64::MIN, 0, segment.largest_timestamp()] {
        core::hint::black_box(segment.find_timestamp(ts, first));
    }
}

/// After recovery, a batch appends at the next offset, and recovering again (as after a
/// crash) finds everything kept before plus the new batch.
fn append_after(mut segment: Segment<MemorySegment>, base_offset: i64, all_crc_valid: bool) {
    let mut builder = BatchBuilder::new(0);
    builder.push(1_700_000_000_000, Some(b"key"), Some(b"value"), &[]);
    let batch = builder.finish();
    let (len, offset) = (segment.len_bytes(), segment.next_offset());
    if offset == i64::MAX {
        // No offset is left for a batch: the partition is full.
        return;
    }
    if let Err(e) = segment.append(&batch, offset, None) {
        panic!("append after recovery failed: {e:?}");
    }
    assert_eq!(segment.len_bytes(), len + batch.len());
    assert_eq!(segment.next_offset(), offset + 1);
    assert_eq!(segment.find_batch(offset), Some(len));
    if !all_crc_valid {
        // A trusted segment may hold batches a crash recovery would cut; nothing more to compare.
        return;
    }
    let bytes = segment.into_buffer().into_bytes();
    let total = bytes.len();
    let reopened = match Segment::open(MemorySegment::from_bytes(bytes, total), base_offset, false)
    {
        Ok(reopened) => reopened,
        Err(e) => panic!("a memory segment failed to reopen: {e:?}"),
    };
    assert_eq!(
        reopened.len_bytes(),
        total,
        "recovery lost an appended batch"
    );
    assert_eq!(reopened.next_offset(), offset + 1);
}
