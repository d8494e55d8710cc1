//! Clients that send requests and never read their responses: each costs the broker at most
//! `max_connection_output_bytes` of memory, the memory goes back when they disconnect, and a
//! producer on another connection keeps being answered promptly meanwhile.
#![allow(clippy::std_instead_of_core)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use blazemq_core::records::crc::crc32c;

const BIN: &str = env!("CARGO_BIN_EXE_blazemq");
const READY_LINE: &str = "Broker ready";
const OUTPUT_BOUND_BYTES: u64 = 4 << 20;
const FLOODERS: u64 = 4;
const TOPIC: &str = "steady";
const KIB: u64 = 1024;

struct Broker {
    child: Child,
    port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        // Best effort: the broker may already be gone after a failed assertion.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Broker {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port can be bound");
        listener.local_addr().expect("bound address").port()
    };
    let mut child = Command::new(BIN)
        .args(["--port", &port.to_string(), "--log-dir"])
        .arg(dir)
        .args(["--segment-size", "8MiB"])
        .args([
            "--max-connection-output-bytes",
            &OUTPUT_BOUND_BYTES.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn blazemq");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    // Bounded: the banner is a dozen lines; EOF ends the loop if the broker dies.
    let ready = lines.any(|line| line.is_ok_and(|l| l == READY_LINE));
    assert!(ready, "the broker printed no ready line");
    Broker { child, port }
}

/// The broker's anonymous resident memory (heap and other private pages; segment files mapped
/// from disk are not in it), and its whole resident set, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| -> u64 {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"));
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .expect("a number of kB")
    };
    (field("RssAnon:"), field("VmRSS:"))
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// A request frame: size, header v1 (api key, version, correlation id, client id), body.
fn request(api_key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let client_id = b"output-bound-test";
    let mut frame = Vec::new();
    frame.extend_from_slice(&0i32.to_be_bytes());
    frame.extend_from_slice(&api_key.to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&correlation_id.to_be_bytes());
    frame.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    frame.extend_from_slice(client_id);
    frame.extend_from_slice(body);
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    frame
}

/// A record batch v2 holding one record with `value`.
fn record_batch(value: &[u8]) -> Vec<u8> {
    let mut record = vec![0u8, 0, 0, 1]; // attributes, timestamp delta, offset delta, key -1
    record.push((value.len() * 2) as u8); // zigzag varint; values stay under 64 bytes
    record.extend_from_slice(value);
    record.push(0); // no headers
    assert!(record.len() < 64, "one-byte length varint");
    let mut after_crc = Vec::new();
    after_crc.extend_from_slice(&0i16.to_be_bytes()); // attributes
    after_crc.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    after_crc.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    after_crc.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    after_crc.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    after_crc.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    after_crc.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    after_crc.extend_from_slice(&1i32.to_be_bytes()); // records
    after_crc.push((record.len() * 2) as u8);
    after_crc.extend_from_slice(&record);
    let mut batch = Vec::new();
    batch.extend_from_slice(&0i64.to_be_bytes()); // base offset
    batch.extend_from_slice(&((after_crc.len() + 9) as i32).to_be_bytes()); // batch length
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    batch.push(2); // magic
    batch.extend_from_slice(&crc32c(&after_crc).to_be_bytes());
    batch.extend_from_slice(&after_crc);
    batch
}

/// Produce v3, acks=1, one batch to partition 0 of `TOPIC`.
fn produce(correlation_id: i32) -> Vec<u8> {
    let batch = record_batch(b"steady value");
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i16).to_be_bytes()); // no transactional id
    body.extend_from_slice(&1i16.to_be_bytes()); // acks
    body.extend_from_slice(&5000i32.to_be_bytes()); // timeout
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(TOPIC.len() as i16).to_be_bytes());
    body.extend_from_slice(TOPIC.as_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&(batch.len() as i32).to_be_bytes());
    body.extend_from_slice(&batch);
    request(0, 3, correlation_id, &body)
}

/// Send one Produce and read its answer: the partition's error code.
fn produce_once(stream: &mut TcpStream, correlation_id: i32) -> i16 {
    stream
        .write_all(&produce(correlation_id))
        .expect("send produce");
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("produce response size");
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).expect("produce response");
    assert_eq!(
        body[..4],
        correlation_id.to_be_bytes(),
        "responses in order"
    );
    // correlation id, topics count, topic name, partitions count, partition index: error code.
    let at = 4 + 4 + 2 + TOPIC.len() + 4 + 4;
    i16::from_be_bytes([body[at], body[at + 1]])
}

/// Create the topic (Metadata naming it auto-creates it), then produce until that succeeds.
fn warm_up(stream: &mut TcpStream) {
    let mut topics = 1i32.to_be_bytes().to_vec();
    topics.extend_from_slice(&(TOPIC.len() as i16).to_be_bytes());
    topics.extend_from_slice(TOPIC.as_bytes());
    stream
        .write_all(&request(3, 1, 0, &topics))
        .expect("send metadata");
    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .expect("metadata response size");
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).expect("metadata response");
    // Bounded: the topic exists once Metadata answered; retries only cover its creation.
    for id in 1..100 {
        if produce_once(stream, id) == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("produce never succeeded");
}

/// Pipelined Metadata (every topic) and ApiVersions requests, sent until `stop`; never reads.
fn flood(port: u16, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut stream = connect(port);
        stream
            .set_write_timeout(Some(Duration::from_millis(50)))
            .expect("write timeout");
        let mut burst = Vec::new();
        for id in 0..2000 {
            burst.extend_from_slice(&request(3, 1, id, &(-1i32).to_be_bytes()));
            burst.extend_from_slice(&request(18, 0, id, &[]));
        }
        // Bounded by `stop`, which the test sets after a fixed time.
        while !stop.load(Ordering::Relaxed) {
            match stream.write(&burst) {
                Ok(n) => {
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                }
                // The broker stopped reading us: that is the point; keep pushing.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("flooding connection failed: {e}"),
            }
        }
        // Dropped here: the connection closes with its responses unread.
    })
}

/// Produce one batch at a time until `stop`, returning each round trip.
fn steady_producer(port: u16, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut stream = connect(port);
        let mut latencies = Vec::new();
        // Bounded by `stop` and by the 10 s read timeout of each round trip.
        for id in 1000.. {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let sent = Instant::now();
            assert_eq!(produce_once(&mut stream, id), 0, "produce {id} refused");
            latencies.push(sent.elapsed());
            std::thread::sleep(Duration::from_millis(2));
        }
        latencies
    })
}

/// Sample the broker's memory every 50 ms for `span`; the largest figures seen.
fn peak_memory_kib(pid: u32, span: Duration) -> (u64, u64) {
    let until = Instant::now() + span;
    let (mut anon, mut rss) = memory_kib(pid);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
        let (a, r) = memory_kib(pid);
        anon = anon.max(a);
        rss = rss.max(r);
    }
    (anon, rss)
}

#[test]
fn clients_that_never_read_cost_at_most_the_bound_and_their_memory_returns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = start(dir.path());
    let pid = broker.child.id();
    warm_up(&mut connect(broker.port));

    let producer_stop = Arc::new(AtomicBool::new(false));
    let producer = steady_producer(broker.port, producer_stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let (idle_anon, idle_rss) = memory_kib(pid);

    let flood_stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|_| flood(broker.port, flood_stop.clone(), sent.clone()))
        .collect();
    let (during_anon, during_rss) = peak_memory_kib(pid, Duration::from_secs(3));
    flood_stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        flooder.join().expect("flooder finished");
    }

    // Memory returns once the broker notices the closed connections: wait for it, bounded.
    let after_limit_kib = 2 * idle_anon + 1024;
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut after_anon, mut after_rss) = memory_kib(pid);
    while after_anon > after_limit_kib && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        (after_anon, after_rss) = memory_kib(pid);
    }
    producer_stop.store(true, Ordering::Relaxed);
    let mut latencies = producer.join().expect("producer finished");
    latencies.sort_unstable();
    let p99 = latencies[latencies.len() * 99 / 100];
    let max = latencies[latencies.len() - 1];

    let sent_kib = sent.load(Ordering::Relaxed) / KIB;
    let bound_kib = OUTPUT_BOUND_BYTES / KIB;
    eprintln!(
        "RssAnon idle {idle_anon} KiB, during {during_anon} KiB, after {after_anon} KiB; \
         VmRSS idle {idle_rss} KiB, during {during_rss} KiB, after {after_rss} KiB; \
         {sent_kib} KiB of requests sent; produce p99 {p99:?}, max {max:?} over {} requests",
        latencies.len()
    );
    // The flood was real: the flooders' queues filled to their bound.
    assert!(
        during_anon >= idle_anon + FLOODERS * bound_kib / 2,
        "the flooders' responses never piled up ({during_anon} KiB during, {idle_anon} idle)"
    );
    let slack_kib = 8 * KIB;
    assert!(
        during_anon <= idle_anon + FLOODERS * bound_kib + slack_kib,
        "{during_anon} KiB during the flood: more than {FLOODERS} x {bound_kib} KiB over idle"
    );
    assert!(
        after_anon <= after_limit_kib,
        "{after_anon} KiB after the flooders left, idle was {idle_anon} KiB"
    );
    assert!(latencies.len() >= 100, "the producer was starved");
    assert!(p99 < Duration::from_millis(100), "produce p99 {p99:?}");
}

/// Fetch v4 of partition 0 of `TOPIC` from offset 0, waiting up to `max_wait_ms` for 1 byte.
fn fetch(correlation_id: i32, max_wait_ms: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
    body.extend_from_slice(&max_wait_ms.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes()); // min bytes
    body.extend_from_slice(&(1i32 << 20).to_be_bytes()); // max bytes
    body.push(0); // isolation level
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(TOPIC.len() as i16).to_be_bytes());
    body.extend_from_slice(TOPIC.as_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes()); // partition
    body.extend_from_slice(&0i64.to_be_bytes()); // fetch offset
    body.extend_from_slice(&(1i32 << 20).to_be_bytes()); // partition max bytes
    request(1, 4, correlation_id, &body)
}

#[test]
fn requests_behind_a_parked_fetch_are_not_read_until_it_is_answered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = start(dir.path());
    let pid = broker.child.id();
    let mut stream = connect(broker.port);
    // Creates the topic, empty: a Fetch from offset 0 waits.
    let mut topics = 1i32.to_be_bytes().to_vec();
    topics.extend_from_slice(&(TOPIC.len() as i16).to_be_bytes());
    topics.extend_from_slice(TOPIC.as_bytes());
    stream
        .write_all(&request(3, 1, -1, &topics))
        .expect("send metadata");
    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .expect("metadata response size");
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).expect("metadata response");
    std::thread::sleep(Duration::from_millis(200));
    let (idle_anon, _) = memory_kib(pid);

    stream.write_all(&fetch(0, 3000)).expect("send fetch");
    stream
        .set_write_timeout(Some(Duration::from_millis(50)))
        .expect("write timeout");
    let mut burst = Vec::new();
    for id in 1..=4000 {
        burst.extend_from_slice(&request(18, 0, id, &[]));
    }
    // Push pipelined requests behind the Fetch for 1.5 s (it waits 3 s): only the kernel's
    // socket buffers should take them.
    let until = Instant::now() + Duration::from_millis(1500);
    let mut sent = 0usize;
    let mut partial = false;
    while Instant::now() < until {
        match stream.write(&burst) {
            Ok(n) => {
                sent += n;
                partial |= n < burst.len();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                partial = true;
            }
            Err(e) => panic!("connection failed: {e}"),
        }
        if partial {
            // The rest of a frame may be missing: send the rest of that burst, then stop.
            break;
        }
    }
    let (during_anon, _) = memory_kib(pid);
    eprintln!(
        "{} KiB sent behind the parked fetch; RssAnon idle {idle_anon} KiB, during {during_anon} KiB",
        sent / 1024
    );
    assert!(partial, "{sent} bytes sent and the broker kept taking more");
    assert!(
        during_anon <= idle_anon + 2048,
        "{during_anon} KiB while requests waited behind a parked fetch, idle {idle_anon} KiB"
    );
    // The Fetch is answered first, then the requests behind it, in order.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    for expected in 0..3 {
        stream.read_exact(&mut size).expect("response size");
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        stream.read_exact(&mut body).expect("response");
        assert_eq!(body[..4], i32::to_be_bytes(expected), "responses in order");
    }
}
