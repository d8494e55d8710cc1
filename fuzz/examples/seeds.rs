//! Derives the seeds of every target from the request frames in `<corpus>/frame/`, which
//! `scripts/capture-corpus.py` recorded from real clients:
//!
//! - `request`: each frame's api key, version and body (the header read by the codec);
//! - `record_batch` and `legacy`: the records of every partition of every Produce;
//! - `segment_recovery`: those batches appended to a segment, whole, torn and corrupted;
//! - `group`: consumer lifecycles (join, sync, heartbeat, commit, leave, expiry) in the
//!   target's operation encoding, as the group consumer in the capture went through them.
//!
//! Usage: `cargo run --no-default-features --example seeds -- fuzz/corpus`

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use blazemq_core::codec::decode_request_header;
use blazemq_core::codec::produce_view::ProduceView;
use blazemq_core::log::Segment;
use blazemq_core::records::{RecordBatch, legacy};
use blazemq_core::storage::MemorySegment;

/// Seeds of one target, by content hash.
type Seeds = BTreeMap<String, Vec<u8>>;

/// A segment seed holds at most this much, so the corpus stays small.
const SEGMENT_BYTES_MAX: usize = 32 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = std::env::args().nth(1).ok_or("usage: seeds <corpus dir>")?;
    let corpus = Path::new(&corpus);
    let (mut request, mut batches, mut legacy_sets) = (Seeds::new(), Seeds::new(), Seeds::new());
    let mut v2_batches = Vec::new();
    for entry in fs::read_dir(corpus.join("frame"))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("stream-") {
            continue;
        }
        let frame = fs::read(&path)?;
        let Some(body) = frame.get(4..) else { continue };
        let Ok((header, rest)) = decode_request_header(body) else {
            continue;
        };
        let (key, version) = (header.request_api_key, header.request_api_version);
        let (Ok(key_byte), Ok(version_byte)) = (u8::try_from(key), u8::try_from(version)) else {
            continue;
        };
        add(&mut request, [&[key_byte, version_byte][..], rest].concat());
        if key != 0 {
            continue;
        }
        let Ok(view) = ProduceView::decode(rest, version) else {
            continue;
        };
        for topic in view.topics() {
            for (_, records) in topic.partitions() {
                let Some(records) = records.filter(|r| r.len() > 16) else {
                    continue;
                };
                if records[16] == 2 {
                    v2_batches.push(records.to_vec());
                } else {
                    add(&mut legacy_sets, records.to_vec());
                }
                add(&mut batches, records.to_vec());
            }
        }
    }
    // Magic 1 sets as Fetch v2-v3 returns them (librdkafka sends magic 1 only to brokers it
    // takes for 0.10, which this capture could not make it believe).
    for batch in &v2_batches {
        if let Ok(set) = legacy::down_convert(batch, 1, 0)
            && !set.is_empty()
        {
            add(&mut legacy_sets, set.clone());
            add(&mut batches, set);
        }
    }
    let segments = segment_seeds(&v2_batches);
    let groups = group_seeds();
    for (target, seeds) in [
        ("request", request),
        ("record_batch", batches),
        ("legacy", legacy_sets),
        ("segment_recovery", segments),
        ("group", groups),
    ] {
        let dir = corpus.join(target);
        fs::create_dir_all(&dir)?;
        for (name, data) in &seeds {
            fs::write(dir.join(name), data)?;
        }
        println!("{target}: {} seeds", seeds.len());
    }
    Ok(())
}

fn add(seeds: &mut Seeds, data: Vec<u8>) {
    seeds.insert(format!("{:016x}", fnv1a(&data)), data);
}

/// FNV-1a: a stable name for a seed, so reruns overwrite instead of duplicating.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Segments as the broker writes them: each producer's batches appended at offsets from 0,
/// and all of them in one segment; each opened trusted and not, whole, torn and with a flipped
/// byte.
fn segment_seeds(batches: &[Vec<u8>]) -> Seeds {
    let mut seeds = Seeds::new();
    let mut segments: Vec<Vec<u8>> = batches.iter().map(|b| segment_of(&[b])).collect();
    let all: Vec<&Vec<u8>> = batches.iter().collect();
    segments.push(segment_of(&all));
    for bytes in segments {
        for flags in [0u8, 1, 3] {
            add(&mut seeds, [&[flags][..], &bytes].concat());
        }
        let torn = &bytes[..bytes.len() - bytes.len().min(7)];
        add(&mut seeds, [&[0u8][..], torn].concat());
        let mut flipped = bytes.clone();
        if let Some(b) = flipped.get_mut(bytes.len() / 2) {
            *b ^= 0x40;
        }
        add(&mut seeds, [&[1u8][..], &flipped].concat());
    }
    seeds
}

fn segment_of(batches: &[&Vec<u8>]) -> Vec<u8> {
    let mut segment = Segment::new(MemorySegment::new(SEGMENT_BYTES_MAX), 0);
    for batch in batches {
        let mut rest = &batch[..];
        while let Ok(view) = RecordBatch::new_checked(rest) {
            let offset = segment.next_offset();
            if segment.append(rest, offset, None).is_err() {
                return segment.into_buffer().into_bytes();
            }
            rest = &rest[view.total_len()..];
        }
    }
    segment.into_buffer().into_bytes()
}

// The group target's operations (see fuzz/src/group.rs): `[op, slot, args..]`.
const JOIN_NEW: [u8; 3] = [0, 0, 1]; // join, empty member id (flags bit 0)
const JOIN_KNOWN: [u8; 3] = [0, 0, 0];
/// Protocol "range" with 2 bytes of metadata, JoinGroup v5, session 10 s, rebalance 30 s,
/// protocol type "consumer".
const JOIN_ARGS: [u8; 7] = [2, 0xaa, 0xbb, 3, 0, 0, 0];

fn join(slot: u8, new: bool) -> Vec<u8> {
    let mut op = if new { JOIN_NEW } else { JOIN_KNOWN }.to_vec();
    op[1] = slot;
    op.extend_from_slice(&JOIN_ARGS);
    op
}

fn sync(slot: u8) -> Vec<u8> {
    vec![1, slot, 0, 0, 7] // own generation, send assignments, salt 7
}

fn heartbeat(slot: u8) -> Vec<u8> {
    vec![2, slot, 0]
}

fn leave(slot: u8) -> Vec<u8> {
    vec![3, slot, 0]
}

fn commit(slot: u8, partition: u8, offset: u16) -> Vec<u8> {
    let [hi, lo] = offset.to_be_bytes();
    vec![4, slot, 0, 0, partition, hi, lo]
}

/// `[5, _, pick]` moves the clock: 1 = 100 ms, 4 = 10 s, 5 = 45 s.
fn advance(pick: u8) -> Vec<u8> {
    vec![5, 0, pick]
}

fn group_seeds() -> Seeds {
    let lone = [
        join(0, true),
        join(0, false),
        advance(1),
        sync(0),
        heartbeat(0),
        commit(0, 0, 42),
        commit(0, 1, 7),
        advance(4),
        heartbeat(0),
        leave(0),
        vec![8, 0],
    ];
    let two = [
        join(0, true),
        join(0, false),
        advance(1),
        sync(0),
        join(1, true),
        join(1, false),
        join(0, false),
        advance(1),
        sync(0),
        sync(1),
        heartbeat(1),
        commit(1, 2, 100),
        leave(1),
        join(0, false),
        sync(0),
    ];
    let static_member = [
        join(2, true),
        advance(1),
        sync(2),
        commit(2, 3, 5),
        leave(2),
        join(2, true),
        sync(2),
        join(0, true),
        join(0, false),
        advance(4),
    ];
    let expiry = [
        join(3, true),
        join(3, false),
        advance(1),
        sync(3),
        commit(3, 0, 9),
        advance(5),
        advance(5),
        heartbeat(3),
        vec![7, 3],
        vec![8, 0],
    ];
    let mut seeds = Seeds::new();
    for (config, ops) in [
        ([0u8, 0], &lone[..]),
        ([0, 0], &two[..]),
        ([1, 0], &two[..]),
        ([0, 1], &two[..]),
        ([0, 0], &static_member[..]),
        ([0, 0], &expiry[..]),
    ] {
        add(&mut seeds, [&config[..], &ops.concat()].concat());
    }
    seeds
}
