//! kill -9 against the real binary.
//!
//! Cycles: producers send acks=all batches to several partitions while the broker is killed with
//! SIGKILL at a random moment (seeded; the seed is printed, and `BLAZEMQ_CRASH_SEED` replays
//! one), then restarted. After every cycle, each acknowledged record must be in its partition
//! exactly once, in order, at the offset it was acknowledged at; records whose answer the kill
//! cut off may be there or not, but never twice.
//!
//! Restart: ~200 MB over 20 partitions, kill -9, and the time from restart to ready and the RSS
//! after it must stay under generous bounds (the figures are printed).

// A test crate runs on std only: `core` paths for std items would buy nothing here.
#![allow(clippy::std_instead_of_core)]

use std::collections::HashMap;
use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blazemq_tests::wire::{self, error_code};
use blazemq_tests::{Broker, BrokerOptions};

/// Kill-restart cycles.
const CYCLES: u32 = 20;
/// Partitions the cycles produce to, one producer connection each.
const CYCLE_PARTITIONS: i32 = 4;
/// The longest a cycle produces before its kill, in milliseconds.
const KILL_AFTER_MS_MAX: u64 = 400;
/// Records in one cycle batch.
const CYCLE_BATCH_RECORDS: usize = 8;
/// The whole cycle test's time bound, on a loaded 2-core machine.
const CYCLES_TIME_MAX: Duration = Duration::from_secs(60);

/// Partitions and bytes of the restart measurement.
const BULK_PARTITIONS: i32 = 20;
const BULK_BYTES: usize = 200 << 20;
/// One bulk batch: 256 records of 1 KiB, well under max.message.bytes.
const BULK_RECORD_BYTES: usize = 1024;
const BULK_BATCH_RECORDS: usize = 256;
/// Generous bounds on a restart after kill -9 with the bulk data on disk.
const RESTART_READY_MAX: Duration = Duration::from_secs(10);
/// Mapped segment pages a recovery read count in RSS (reclaimable page cache, about the data's
/// size here); memory of the broker's own is the anonymous part, bounded tighter.
const RESTART_RSS_KIB_MAX: u64 = 384 * 1024;
const RESTART_ANON_KIB_MAX: u64 = 64 * 1024;

/// xorshift64*: a few seeded random numbers, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    if let Ok(text) = std::env::var("BLAZEMQ_CRASH_SEED") {
        return text
            .parse()
            .unwrap_or_else(|_| panic!("BLAZEMQ_CRASH_SEED={text} is not a u64"));
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    // Never zero: xorshift would stay at zero.
    (nanos as u64) | 1
}

fn unix_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn create_topic(broker: &Broker, topic: &[u8], partitions: i32) {
    let mut stream = broker.connect();
    let body = wire::round_trip(
        &mut stream,
        &wire::create_topics_request(1, topic, partitions),
        1,
    )
    .unwrap_or_else(|e| panic!("CreateTopics: {e}\n{}", broker.output()));
    assert_eq!(
        wire::create_topics_response_error(&body),
        Some(error_code::NONE),
        "create {}",
        String::from_utf8_lossy(topic)
    );
}

/// Sends one acks=all Produce and returns (error code, base offset), or the I/O error a kill
/// causes.
fn produce(
    stream: &mut TcpStream,
    correlation_id: i32,
    topic: &[u8],
    partition: i32,
    batch: &[u8],
) -> io::Result<(i16, i64)> {
    let request = wire::produce_request(correlation_id, topic, partition, batch);
    let body = wire::round_trip(stream, &request, correlation_id)?;
    wire::produce_response_result(&body)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable produce response"))
}

/// Every record of `partition` from offset 0 to the high watermark, by raw Fetch.
fn fetch_all(broker: &Broker, topic: &[u8], partition: i32) -> Vec<wire::FetchedRecord> {
    let mut stream = broker.connect();
    let mut records: Vec<wire::FetchedRecord> = Vec::new();
    let mut offset = 0;
    // Bounded: every round moves `offset` forward or ends, and no partition here holds more
    // batches than this.
    for correlation_id in 0..1_000_000 {
        let request = wire::fetch_request(correlation_id, topic, partition, offset, 8 << 20);
        let body = wire::round_trip(&mut stream, &request, correlation_id)
            .unwrap_or_else(|e| panic!("Fetch of partition {partition}: {e}"));
        let fetched = wire::fetch_response(&body).expect("a readable Fetch response");
        assert_eq!(
            fetched.error_code,
            error_code::NONE,
            "Fetch of partition {partition} at {offset}"
        );
        let batch = wire::fetched_records(&fetched.records).expect("readable record batches");
        let next = batch.last().map(|r| r.offset + 1);
        records.extend(batch.into_iter().filter(|r| r.offset >= offset));
        match next {
            Some(next) if next > offset => offset = next,
            _ => {
                assert!(
                    offset >= fetched.high_watermark,
                    "Fetch at {offset} returned nothing below the high watermark {}",
                    fetched.high_watermark
                );
                return records;
            }
        }
    }
    panic!("partition {partition} was not read to its end")
}

/// One acknowledged batch: its base offset and values.
type AckedBatch = (i64, Vec<Vec<u8>>);

/// Produces batches to `partition` until the connection fails (the kill) or `stop`; returns the
/// acknowledged ones in order, or what went wrong other than the kill.
fn producer(
    addr: std::net::SocketAddr,
    partition: i32,
    cycle: u32,
    stop: &AtomicBool,
) -> Result<Vec<AckedBatch>, String> {
    let mut acked = Vec::new();
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return Ok(acked); // killed before this producer connected
    };
    for timeout in [
        stream.set_read_timeout(Some(Duration::from_secs(5))),
        stream.set_write_timeout(Some(Duration::from_secs(5))),
    ] {
        timeout.map_err(|e| format!("socket timeout: {e}"))?;
    }
    // Bounded: a cycle lasts well under a second, each batch takes a round trip.
    for n in 0..100_000 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let values: Vec<Vec<u8>> = (0..CYCLE_BATCH_RECORDS)
            .map(|i| format!("p{partition}-c{cycle}-b{n}-r{i}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let batch = wire::record_batch(unix_ms(), &refs);
        match produce(&mut stream, n, b"audit", partition, &batch) {
            Ok((error_code::NONE, base)) => acked.push((base, values)),
            Ok((code, _)) => return Err(format!("partition {partition}: produce answered {code}")),
            // The kill cut the connection: this batch's fate is unknown.
            Err(_) => break,
        }
    }
    Ok(acked)
}

/// Checks one partition's log against what was acknowledged, in acknowledgement order.
fn audit(partition: i32, records: &[wire::FetchedRecord], acked: &[AckedBatch]) {
    for (index, record) in records.iter().enumerate() {
        assert_eq!(
            record.offset, index as i64,
            "partition {partition}: offsets are dense from 0"
        );
    }
    let mut seen: HashMap<&[u8], i64> = HashMap::new();
    for record in records {
        if let Some(first) = seen.insert(&record.value, record.offset) {
            panic!(
                "partition {partition}: {} stored twice, at {first} and {}",
                String::from_utf8_lossy(&record.value),
                record.offset
            );
        }
    }
    let mut last_base = -1;
    for (base, values) in acked {
        assert!(
            *base > last_base,
            "partition {partition}: acknowledged offsets go forward"
        );
        last_base = *base;
        for (offset, value) in (*base..).zip(values) {
            let stored = records.get(usize::try_from(offset).unwrap_or(usize::MAX));
            assert_eq!(
                stored.map(|r| &r.value),
                Some(value),
                "partition {partition}: acknowledged {} at offset {offset}",
                String::from_utf8_lossy(value)
            );
        }
    }
}

/// One cycle: producers on every partition, a kill after `kill_after`, a restart. Adds what was
/// acknowledged to `acked`.
fn cycle(broker: &mut Broker, number: u32, kill_after: Duration, acked: &mut [Vec<AckedBatch>]) {
    let stop = Arc::new(AtomicBool::new(false));
    let addr = broker.socket_addr();
    let producers: Vec<_> = (0..CYCLE_PARTITIONS)
        .map(|partition| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || producer(addr, partition, number, &stop))
        })
        .collect();
    thread::sleep(kill_after);
    broker.kill9();
    stop.store(true, Ordering::Relaxed);
    for (partition, handle) in producers.into_iter().enumerate() {
        let batches = match handle.join() {
            Ok(Ok(batches)) => batches,
            Ok(Err(why)) => panic!("cycle {number}: {why}"),
            Err(_) => panic!("cycle {number}: a producer thread panicked"),
        };
        acked[partition].extend(batches);
    }
    broker.restart();
}

#[test]
fn acknowledged_records_survive_kill9_cycles() {
    let started = Instant::now();
    let seed = seed();
    println!("seed {seed} (BLAZEMQ_CRASH_SEED={seed} replays the kill times)");
    let mut rng = Rng(seed);
    let mut broker =
        Broker::start_with(BrokerOptions::default().arg("--segment-size").arg("256KiB"));
    create_topic(&broker, b"audit", CYCLE_PARTITIONS);
    let mut acked: Vec<Vec<AckedBatch>> = vec![Vec::new(); CYCLE_PARTITIONS as usize];
    for number in 0..CYCLES {
        let kill_after = Duration::from_millis(rng.below(KILL_AFTER_MS_MAX + 1));
        cycle(&mut broker, number, kill_after, &mut acked);
        let total: usize = acked.iter().map(Vec::len).sum();
        println!(
            "cycle {number}: killed after {kill_after:?}; {total} batches acknowledged so far"
        );
    }
    let mut stored = 0;
    for (partition, batches) in (0..CYCLE_PARTITIONS).zip(&acked) {
        let records = fetch_all(&broker, b"audit", partition);
        audit(partition, &records, batches);
        stored += records.len();
    }
    let acked_records: usize = acked.iter().flatten().map(|(_, v)| v.len()).sum();
    println!(
        "{acked_records} acknowledged records all present once, in order, at their offsets; {stored} stored; {:?}",
        started.elapsed()
    );
    assert!(
        acked_records > 0,
        "some batches were acknowledged between kills"
    );
    assert!(
        started.elapsed() < CYCLES_TIME_MAX,
        "{CYCLES} cycles took {:?}",
        started.elapsed()
    );
}

fn records(values: &[&str]) -> Vec<wire::FetchedRecord> {
    (0..)
        .zip(values)
        .map(|(offset, v)| wire::FetchedRecord {
            offset,
            key: None,
            value: v.as_bytes().to_vec(),
        })
        .collect()
}

#[test]
#[should_panic(expected = "acknowledged b at offset 1")]
fn the_audit_finds_a_lost_record() {
    let acked = vec![(0, vec![b"a".to_vec(), b"b".to_vec()])];
    audit(0, &records(&["a"]), &acked);
}

#[test]
#[should_panic(expected = "stored twice")]
fn the_audit_finds_a_duplicate() {
    let acked = vec![(0, vec![b"a".to_vec()]), (2, vec![b"b".to_vec()])];
    audit(0, &records(&["a", "b", "b"]), &acked);
}

#[test]
#[should_panic(expected = "acknowledged b at offset 1")]
fn the_audit_finds_a_record_at_another_offset() {
    let acked = vec![(0, vec![b"a".to_vec()]), (1, vec![b"b".to_vec()])];
    audit(0, &records(&["a", "unacknowledged", "b"]), &acked);
}

/// Writes `batches` copies of `batch` round-robin to `partitions`; returns the acknowledged end
/// offset of each.
fn bulk_writer(
    addr: std::net::SocketAddr,
    partitions: Vec<i32>,
    batches: usize,
    batch: Arc<Vec<u8>>,
) -> Vec<(i32, i64)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a non-zero timeout is valid");
    let mut ends: Vec<(i32, i64)> = partitions.iter().map(|&p| (p, 0)).collect();
    for (n, i) in (0..batches).zip((0..ends.len()).cycle()) {
        let correlation_id = i32::try_from(n).expect("few batches");
        let (code, base) = produce(&mut stream, correlation_id, b"bulk", ends[i].0, &batch)
            .unwrap_or_else(|e| panic!("bulk produce: {e}"));
        assert_eq!(code, error_code::NONE, "bulk produce");
        ends[i].1 = base + BULK_BATCH_RECORDS as i64;
    }
    ends
}

/// How many segment files the broker has mapped (lines of `/proc/<pid>/maps` naming a `.log`).
fn mapped_segments(broker: &Broker) -> usize {
    std::fs::read_to_string(format!("/proc/{}/maps", broker.pid()))
        .map(|maps| maps.lines().filter(|l| l.ends_with(".log")).count())
        .unwrap_or(0)
}

/// The latest offset of `partition`, by ListOffsets.
fn latest_offset(stream: &mut TcpStream, topic: &[u8], partition: i32) -> i64 {
    let request = wire::list_offsets_request(partition, topic, partition, -1);
    let body = wire::round_trip(stream, &request, partition).expect("ListOffsets answers");
    let (code, offset) = wire::list_offsets_response(&body).expect("a ListOffsets response");
    assert_eq!(
        code,
        error_code::NONE,
        "ListOffsets of partition {partition}"
    );
    offset
}

#[test]
fn restart_after_kill9_with_200_mb_is_fast_and_small() {
    const WRITERS: i32 = 4;
    let mut broker = Broker::start();
    create_topic(&broker, b"bulk", BULK_PARTITIONS);
    let value = vec![0x5au8; BULK_RECORD_BYTES];
    let values = vec![value.as_slice(); BULK_BATCH_RECORDS];
    let batch = Arc::new(wire::record_batch(unix_ms(), &values));
    let batches = BULK_BYTES / batch.len();
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let partitions = (0..BULK_PARTITIONS).filter(|p| p % WRITERS == w).collect();
            let (addr, batch) = (broker.socket_addr(), Arc::clone(&batch));
            thread::spawn(move || bulk_writer(addr, partitions, batches / WRITERS as usize, batch))
        })
        .collect();
    let ends: Vec<(i32, i64)> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("a bulk writer finished"))
        .collect();
    let written = started.elapsed();
    let rss_before_kib = broker.rss_kib().expect("VmRSS is readable");
    broker.kill9();
    let restarted = Instant::now();
    broker.restart();
    let ready = restarted.elapsed();
    let rss_kib = broker.rss_kib().expect("VmRSS is readable");
    let anon_kib = broker.status_kib("RssAnon").expect("RssAnon is readable");
    let file_kib = broker.status_kib("RssFile").expect("RssFile is readable");
    let mapped = mapped_segments(&broker);
    let mut stream = broker.connect();
    for &(partition, end) in &ends {
        assert_eq!(
            latest_offset(&mut stream, b"bulk", partition),
            end,
            "partition {partition} after restart"
        );
    }
    let mb = (batches / WRITERS as usize * WRITERS as usize * batch.len()) as f64 / 1e6;
    println!(
        "{mb:.0} MB in {BULK_PARTITIONS} partitions written in {written:?}; RSS before kill {rss_before_kib} KiB; \
         restart to ready {ready:?}; RSS after restart {rss_kib} KiB ({anon_kib} KiB anonymous, \
         {file_kib} KiB mapped file pages; {mapped} segment mappings)"
    );
    assert!(ready < RESTART_READY_MAX, "restart to ready took {ready:?}");
    assert!(
        rss_kib < RESTART_RSS_KIB_MAX,
        "RSS after restart {rss_kib} KiB"
    );
    assert!(
        anon_kib < RESTART_ANON_KIB_MAX,
        "anonymous RSS after restart {anon_kib} KiB"
    );
}
