//! What the binary's end-to-end tests share: starting `blazemq` on a free port and waiting for
//! it, and one blocking request-response call over the Kafka protocol.
#![allow(dead_code)] // Each test crate uses its own part of this module.
#![allow(clippy::std_instead_of_core)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use blazemq_core::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use blazemq_core::codec::messages::{
    ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader,
};
use blazemq_core::codec::{Message, Writer, request_header_version, response_header_version};

pub const BIN: &str = env!("CARGO_BIN_EXE_blazemq");
pub const READY_LINE: &str = "Broker ready";
/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A started broker, killed when dropped.
pub struct Broker {
    pub child: Child,
    pub port: u16,
    /// Everything it printed on stdout up to its ready line.
    pub banner: String,
}

impl Broker {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // Cleanup only: the test has already asserted what it needed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port can be bound");
    listener.local_addr().expect("bound address").port()
}

/// Start the broker on a free port over `dir` with `args`, and wait (bounded) for its ready
/// line; returns it and the time from spawn to ready.
pub fn start(dir: &Path, args: &[&str]) -> (Broker, Duration) {
    let port = free_port();
    let began = Instant::now();
    let mut child = Command::new(BIN)
        .args(["--port", &port.to_string(), "--log-dir"])
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn blazemq");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = began + START_TIMEOUT;
    let mut banner = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                banner.push_str(&line);
                banner.push('\n');
                if line == READY_LINE {
                    break;
                }
            }
            Err(_) => panic!("no '{READY_LINE}' within {START_TIMEOUT:?}; got:\n{banner}"),
        }
    }
    let took = began.elapsed();
    (
        Broker {
            child,
            port,
            banner,
        },
        took,
    )
}

/// A connection to the broker on `port`, reads bounded to a minute.
pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    stream
}

/// Send `req` at `version` and decode its answer.
pub fn call<Req: Message, Resp: Message>(stream: &mut TcpStream, version: i16, req: &Req) -> Resp {
    let header = RequestHeader {
        request_api_key: Req::API_KEY,
        request_api_version: version,
        correlation_id: 1,
        client_id: Some("blazemq-server-test".into()),
    };
    let mut w = Writer::new();
    w.put_i32(0);
    header
        .encode(&mut w, request_header_version(Req::API_KEY, version))
        .expect("header encodes");
    req.encode(&mut w, version).expect("body encodes");
    let mut frame = w.into_bytes();
    let size = i32::try_from(frame.len() - 4).expect("frame fits");
    frame[..4].copy_from_slice(&size.to_be_bytes());
    stream.write_all(&frame).expect("request sent");
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("response size");
    let mut body = vec![0u8; u32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).expect("response body");
    let header_version = response_header_version(Req::API_KEY, version);
    let (rest, header) = ResponseHeader::decode(&body, header_version).expect("header decodes");
    assert_eq!(header.correlation_id, 1);
    Resp::decode_complete(rest, version).expect("body decodes")
}

/// Produce (acks 1) each partition's batch of `partition_data` to `topic`, and check that every
/// one was stored at `base_offset`.
pub fn produce_at(
    stream: &mut TcpStream,
    topic: &str,
    partition_data: Vec<PartitionProduceData>,
    base_offset: i64,
) {
    let req = ProduceRequest {
        acks: 1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data,
        }],
        ..Default::default()
    };
    let resp: ProduceResponse = call(stream, 7, &req);
    for part in &resp.responses[0].partition_responses {
        assert_eq!(part.error_code, 0, "partition {}", part.index);
        assert_eq!(part.base_offset, base_offset, "partition {}", part.index);
    }
}
