extern crate std;

use super::*;
use crate::records::{BatchBuilder, Records};
use alloc::string::String;
use alloc::vec;

/// `(offset, key, value, timestamp, headers count)` of every record of `bytes` (whole batches).
type Row = (i64, Option<Vec<u8>>, Option<Vec<u8>>, i64, u32);

fn rows(bytes: &[u8]) -> Vec<Row> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let batch = RecordBatch::new_checked(rest).expect("a valid batch");
        let mut scratch = Scratch {
            decompressed_bytes_max: 1 << 20,
            ..Scratch::default()
        };
        for_each_record(&batch, &mut scratch, &mut |r, _| {
            out.push((
                batch.base_offset() + i64::from(r.offset_delta),
                r.key.map(<[u8]>::to_vec),
                r.value.map(<[u8]>::to_vec),
                batch.base_timestamp() + r.timestamp_delta,
                r.headers_count(),
            ));
        })
        .expect("records");
        rest = &rest[batch.total_len()..];
    }
    out
}

/// A batch at `base` of `(key, value)` records, timestamps 100, 101, ...; the first record has
/// a header.
fn batch(base: i64, records: &[(Option<&str>, Option<&str>)]) -> Vec<u8> {
    let mut b = BatchBuilder::new(base);
    for (i, (k, v)) in records.iter().enumerate() {
        let headers: &[(&[u8], Option<&[u8]>)] = if i == 0 { &[(b"h", Some(b"1"))] } else { &[] };
        b.push(
            100 + i as i64,
            k.map(str::as_bytes),
            v.map(str::as_bytes),
            headers,
        );
    }
    b.finish()
}

fn scratch() -> Scratch {
    Scratch {
        decompressed_bytes_max: 1 << 20,
        ..Scratch::default()
    }
}

/// Map every key of `batches`, then filter each; the bytes kept.
fn clean(batches: &[Vec<u8>], keep: Keep) -> Vec<u8> {
    let mut map = KeyMap::new(1 << 20);
    let mut s = scratch();
    for b in batches {
        let batch = RecordBatch::new_checked(b.as_slice()).expect("batch");
        each_key(&batch, false, &mut s, &mut |k, o| {
            if o < keep.mapped_end {
                map.put(k, o);
            }
        })
        .expect("keys");
    }
    let mut out = Vec::new();
    for b in batches {
        let batch = RecordBatch::new_checked(b.as_slice()).expect("batch");
        if filter_batch(&batch, &map, keep, false, &mut s, &mut out) == Filtered::Whole {
            out.extend_from_slice(b);
        }
    }
    out
}

const ALL: Keep = Keep {
    mapped_end: i64::MAX,
    tombstones_before: 0,
};

#[test]
fn the_newest_record_of_each_key_survives_at_its_offset_with_its_headers() {
    let batches = [
        batch(0, &[(Some("a"), Some("a0")), (Some("b"), Some("b0"))]),
        batch(2, &[(Some("a"), Some("a1")), (Some("c"), Some("c0"))]),
        batch(4, &[(Some("b"), Some("b1"))]),
    ];
    let kept = rows(&clean(&batches, ALL));
    let row = |o: i64, k: &str, v: &str, ts: i64, h: u32| -> Row {
        (o, Some(k.into()), Some(v.into()), ts, h)
    };
    assert_eq!(
        kept,
        vec![
            row(2, "a", "a1", 100, 1),
            row(3, "c", "c0", 101, 0),
            row(4, "b", "b1", 100, 1)
        ]
    );
}

#[test]
fn a_rewritten_batch_keeps_its_base_offset_and_producer_and_is_valid() {
    let mut b = BatchBuilder::new(10).producer(42, 3, 7, false);
    b.push(5, Some(b"k"), Some(b"old"), &[]);
    b.push(6, Some(b"other"), Some(b"x"), &[]);
    b.push(9, Some(b"k"), Some(b"new"), &[]);
    let bytes = b.finish();
    let out = clean(core::slice::from_ref(&bytes), ALL);
    let batch = RecordBatch::new_checked(out.as_slice()).expect("valid, CRC included");
    assert_eq!(batch.base_offset(), 10);
    assert_eq!(batch.last_offset(), 12);
    assert_eq!(batch.records_count(), 2);
    assert_eq!(
        (
            batch.producer_id(),
            batch.producer_epoch(),
            batch.base_sequence()
        ),
        (42, 3, 7)
    );
    assert_eq!(batch.max_timestamp(), 9);
    assert!(out.len() < bytes.len());
    let offsets: Vec<i64> = rows(&out).iter().map(|r| r.0).collect();
    assert_eq!(offsets, [11, 12]);
    assert_eq!(Records::of_batch(&batch).count(), 2);
}

#[test]
fn tombstones_stay_until_a_pass_passed_them_long_enough_ago() {
    let batches = [
        batch(0, &[(Some("a"), Some("a0"))]),
        batch(1, &[(Some("a"), None), (Some("b"), Some("b0"))]),
    ];
    let kept = rows(&clean(&batches, ALL));
    assert_eq!(kept.len(), 2, "the tombstone and b");
    assert_eq!(kept[0], (1, Some(b"a".to_vec()), None, 100, 1));
    let passed = Keep {
        tombstones_before: 2,
        ..ALL
    };
    let kept = rows(&clean(&batches, passed));
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1.as_deref(), Some(&b"b"[..]));
}

#[test]
fn records_past_the_mapped_range_and_control_batches_are_kept_keyless_ones_removed() {
    let batches = [
        batch(0, &[(Some("a"), Some("a0")), (None, Some("no key"))]),
        batch(2, &[(Some("a"), Some("a1"))]),
        batch(3, &[(Some("a"), Some("a2"))]),
    ];
    // Only offsets 0..3 mapped: a1 is the newest a mapped; a2 (at 3) is past the range.
    let keep = Keep {
        mapped_end: 3,
        tombstones_before: 0,
    };
    let kept: Vec<i64> = rows(&clean(&batches, keep)).iter().map(|r| r.0).collect();
    assert_eq!(kept, [2, 3]);
    let marker = crate::records::control::end_transaction_marker(
        7,
        0,
        crate::records::control::ControlType::Commit,
        0,
        1,
    );
    let mut out = Vec::new();
    let control = RecordBatch::new_checked(marker.as_slice()).expect("marker");
    let map = KeyMap::new(1 << 20);
    let mut s = scratch();
    assert_eq!(
        filter_batch(&control, &map, ALL, false, &mut s, &mut out),
        Filtered::Whole
    );
    let data = batch(0, &[(Some("a"), Some("a0"))]);
    let data = RecordBatch::new_checked(data.as_slice()).expect("batch");
    assert_eq!(
        filter_batch(&data, &map, ALL, true, &mut s, &mut out),
        Filtered::Removed,
        "a batch of an aborted transaction"
    );
    assert!(out.is_empty());
}

/// A gzip batch of `records` (key, value).
fn gzip_batch(base: i64, records: &[(&str, String)]) -> Vec<u8> {
    use flate2::{Compression as Level, write::GzEncoder};
    use std::io::Write;
    let mut plain = BatchBuilder::new(base);
    for (k, v) in records {
        plain.push(100, Some(k.as_bytes()), Some(v.as_bytes()), &[]);
    }
    let plain = plain.finish();
    let header = &plain[..HEADER_LEN];
    let mut gz = GzEncoder::new(Vec::new(), Level::default());
    gz.write_all(&plain[HEADER_LEN..]).expect("gzip");
    let body = gz.finish().expect("gzip");
    let mut out = header.to_vec();
    out.extend_from_slice(&body);
    let len = i32::try_from(out.len() - field::BATCH_LENGTH.end).expect("fits");
    out[field::BATCH_LENGTH].copy_from_slice(&len.to_be_bytes());
    out[field::ATTRIBUTES].copy_from_slice(&1i16.to_be_bytes());
    let crc = crc32c(&out[field::ATTRIBUTES.start..]);
    out[field::CRC].copy_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn a_compressed_batch_is_rewritten_uncompressed_only_when_that_is_smaller() {
    // Values that compress well: the kept half uncompressed is larger than the whole gzipped.
    let repetitive: Vec<(&str, String)> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| (*k, "x".repeat(500)))
        .collect();
    let first = gzip_batch(0, &repetitive);
    let newer = batch(4, &[(Some("a"), Some("1")), (Some("b"), Some("2"))]);
    let out = clean(&[first.clone(), newer.clone()], ALL);
    assert_eq!(&out[..first.len()], first.as_slice(), "kept byte for byte");
    // Short values: the two kept records uncompressed are smaller than the gzip frame.
    let short: Vec<(&str, String)> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| (*k, String::from("v")))
        .collect();
    let first = gzip_batch(0, &short);
    let out = clean(&[first.clone(), newer], ALL);
    let rewritten = RecordBatch::new_checked(out.as_slice()).expect("valid");
    assert!(rewritten.total_len() < first.len());
    assert_eq!(rewritten.compression(), Ok(Compression::None));
    let kept: Vec<Option<Vec<u8>>> = rows(&out).into_iter().map(|r| r.1).collect();
    assert_eq!(
        kept,
        [
            Some(b"c".to_vec()),
            Some(b"d".to_vec()),
            Some(b"a".to_vec()),
            Some(b"b".to_vec())
        ]
    );
}

#[test]
fn the_map_takes_keys_within_its_budget() {
    let mut map = KeyMap::new(2 * (KEY_OVERHEAD_BYTES + 1));
    assert!(map.fits([&b"a"[..], b"b"].into_iter()));
    map.put(b"a", 1);
    map.put(b"b", 2);
    assert!(
        map.fits([&b"a"[..]].into_iter()),
        "a key held costs nothing more"
    );
    assert!(!map.fits([&b"c"[..]].into_iter()));
    map.put(b"a", 3);
    assert_eq!((map.newest(b"a"), map.len()), (Some(3), 2));
}
