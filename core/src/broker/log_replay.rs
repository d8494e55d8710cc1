//! Reading a log back at startup: a coordinator's (the offsets log, the transaction log) record
//! by record, a partition's tail batch by batch (its producers).

use crate::log::{LogError, PartitionLog};
use crate::records::{RecordBatch, Records as RecordIter};
use crate::storage::{Storage, StorageError};

/// Bytes read from a log per step of a replay.
const REPLAY_READ_BYTES: usize = 1 << 20;

/// What a replay hands each keyed record: its key and value (`None`: a null value).
pub(crate) type EachRecord<'a> = dyn FnMut(&[u8], Option<&[u8]>) + 'a;

/// What a replay hands each batch.
pub(crate) type EachBatch<'a> = dyn FnMut(&RecordBatch<&[u8]>) + 'a;

/// Hand `each` the key and value of every keyed record of `log`, oldest first, skipping
/// control batches.
pub(crate) fn each_record<S: Storage>(
    log: &mut PartitionLog<S::Segment>,
    storage: &mut S,
    each: &mut EachRecord<'_>,
) -> Result<(), StorageError> {
    let from = log.log_start_offset();
    each_batch(log, storage, from, &mut |batch| {
        if !batch.is_control() {
            for record in RecordIter::of_batch(batch).flatten() {
                if let Some(key) = record.key {
                    each(key, record.value);
                }
            }
        }
    })
}

/// Hand `each` every batch of `log` from the one holding offset `from` to the log end, control
/// batches included. Each segment is opened through `storage` as the replay reaches it and
/// closed after it, so the replay holds one open; a segment that cannot be opened is an error.
pub(crate) fn each_batch<S: Storage>(
    log: &mut PartitionLog<S::Segment>,
    storage: &mut S,
    from: i64,
    each: &mut EachBatch<'_>,
) -> Result<(), StorageError> {
    let mut opened = None;
    let result = each_open(log, storage, from, each, &mut opened);
    match opened.and_then(|base| log.segment_mut(base)) {
        Some(segment) => segment.close(storage).and(result),
        None => result,
    }
}

/// [`each_batch`], leaving the segment it opened last in `opened`.
fn each_open<S: Storage>(
    log: &mut PartitionLog<S::Segment>,
    storage: &mut S,
    from: i64,
    each: &mut EachBatch<'_>,
    opened: &mut Option<i64>,
) -> Result<(), StorageError> {
    let mut offset = from.max(log.log_start_offset());
    // Each step moves past at least one batch or opens one segment (at most once each, as the
    // previous one is closed first), so this ends at the log end.
    while offset < log.log_end_offset() {
        let slice = match log.read(offset, REPLAY_READ_BYTES) {
            Err(LogError::SegmentClosed { base_offset }) => {
                if let Some(done) = opened.take().and_then(|b| log.segment_mut(b)) {
                    done.close(storage)?;
                }
                if !log.open_segment(storage, base_offset)? {
                    return Ok(());
                }
                *opened = Some(base_offset);
                continue;
            }
            Ok(Some(slice)) => slice,
            _ => return Ok(()),
        };
        let Some(mut bytes) = log.segment_bytes(slice.segment_base_offset, slice.start, slice.len)
        else {
            return Ok(());
        };
        let before = offset;
        while !bytes.is_empty() {
            let Ok(batch) = RecordBatch::new_checked(bytes) else {
                return Ok(());
            };
            let len = batch.total_len();
            offset = batch.last_offset() + 1;
            each(&batch);
            bytes = &bytes[len..];
        }
        if offset <= before {
            return Ok(());
        }
    }
    Ok(())
}
