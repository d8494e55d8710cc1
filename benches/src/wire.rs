//! A blocking Kafka connection on `core`'s codec: request frames out, response frames in.
//!
//! Requests that repeat (a Produce of the same batch) are encoded once; only the correlation id
//! is rewritten before each send ([`set_correlation_id`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use blazemq_core::codec::messages::api_versions_response::ApiVersion;
use blazemq_core::codec::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use blazemq_core::codec::messages::describe_log_dirs_request::DescribableLogDirTopic;
use blazemq_core::codec::messages::fetch_request::{FetchPartition, FetchTopic};
use blazemq_core::codec::messages::fetch_response::PartitionData;
use blazemq_core::codec::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use blazemq_core::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
use blazemq_core::codec::messages::{
    ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DescribeLogDirsRequest, DescribeLogDirsResponse, FetchRequest, FetchResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ProduceRequest,
    ProduceResponse, RequestHeader, ResponseHeader,
};
use blazemq_core::codec::{
    ApiKey, Message, Records, Writer, request_header_version, response_header_version,
};
use blazemq_core::records::RecordBatch;

use crate::error::{BenchError, Result};

/// The client id on every request.
pub const CLIENT_ID: &str = "blazemq-bench";
/// Largest response frame accepted: a Fetch of the largest `--fetch-max-bytes` plus its framing.
pub const RESPONSE_BYTES_MAX: usize = FETCH_BYTES_MAX as usize + 1024 * 1024;
/// Largest Fetch `max_bytes` the tool asks for.
pub const FETCH_BYTES_MAX: i32 = 512 * 1024 * 1024;
/// How long a read or write may block before the run fails instead of hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Kafka's UNSUPPORTED_VERSION: ApiVersions at a version the broker does not know.
const UNSUPPORTED_VERSION: i16 = 35;
/// What Kafka answers for a partition it has created but does not lead yet:
/// UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER.
const NOT_READY: [i16; 3] = [3, 5, 6];
/// Kafka's TOPIC_ALREADY_EXISTS: fine for a benchmark topic.
const TOPIC_ALREADY_EXISTS: i16 = 36;
/// The resource type of a topic in config requests (Kafka's `ConfigResource.Type.TOPIC`).
const RESOURCE_TOPIC: i8 = 2;
/// IncrementalAlterConfigs' SET operation.
const CONFIG_SET: i8 = 0;

/// The request versions a connection uses: the newest both sides know, capped where a newer
/// version would need more than a benchmark has (Fetch v13+ names topics by id only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    /// Produce (at least 3: record batch v2).
    pub produce: i16,
    /// Fetch (at least 4: record batch v2 and the last stable offset).
    pub fetch: i16,
    /// CreateTopics.
    pub create_topics: i16,
}

impl Versions {
    /// Our preferred versions, before negotiation.
    pub const PREFERRED: Versions = Versions {
        produce: ProduceRequest::HIGHEST_VERSION,
        fetch: 12,
        create_topics: CreateTopicsRequest::HIGHEST_VERSION,
    };

    /// The preferred versions limited to what the broker lists.
    pub fn negotiate(api_keys: &[ApiVersion]) -> Result<Versions> {
        let pick = |key, preferred, lowest| pick_version(api_keys, key, preferred, lowest);
        let p = Versions::PREFERRED;
        Ok(Versions {
            produce: pick(ApiKey::Produce, p.produce, 3)?,
            fetch: pick(ApiKey::Fetch, p.fetch, 4)?,
            create_topics: pick(ApiKey::CreateTopics, p.create_topics, 0)?,
        })
    }
}

/// The newest version of `key` at most `preferred` that the broker lists, if it is at least
/// `lowest`.
pub fn pick_version(
    api_keys: &[ApiVersion],
    key: ApiKey,
    preferred: i16,
    lowest: i16,
) -> Result<i16> {
    let listed = api_keys.iter().find(|k| k.api_key == key.code());
    let v = listed.map_or(-1, |k| k.max_version.min(preferred));
    if listed.is_some_and(|k| k.min_version <= v) && v >= lowest {
        Ok(v)
    } else {
        Err(BenchError::Protocol(format!(
            "the broker does not support {key:?} v{lowest}..=v{preferred}"
        )))
    }
}

/// A request frame: size prefix, header at the version the api calls for, body.
pub fn encode_request<M: Message>(version: i16, correlation_id: i32, body: &M) -> Result<Vec<u8>> {
    let header = RequestHeader {
        request_api_key: M::API_KEY,
        request_api_version: version,
        correlation_id,
        client_id: Some(CLIENT_ID.into()),
    };
    let mut w = Writer::new();
    w.put_i32(0);
    header.encode(&mut w, request_header_version(M::API_KEY, version))?;
    body.encode(&mut w, version)?;
    let mut bytes = w.into_bytes();
    let size = i32::try_from(bytes.len() - 4)
        .map_err(|_| BenchError::Protocol("request larger than 2 GiB".into()))?;
    bytes[..4].copy_from_slice(&size.to_be_bytes());
    Ok(bytes)
}

/// Rewrites the correlation id of a frame made by [`encode_request`] (bytes 8..12: after the
/// size, api key and api version, in every header version).
pub fn set_correlation_id(frame: &mut [u8], correlation_id: i32) {
    frame[8..12].copy_from_slice(&correlation_id.to_be_bytes());
}

/// The correlation id of a response frame body (its first four bytes).
pub fn correlation_id_of(body: &[u8]) -> Result<i32> {
    body.first_chunk::<4>()
        .map(|b| i32::from_be_bytes(*b))
        .ok_or_else(|| BenchError::Protocol("response shorter than its header".into()))
}

/// Decodes a response frame body (the bytes after the size prefix) to a request of `M`'s api key
/// at `version`, checking the correlation id.
pub fn decode_response<M: Message>(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    body: &[u8],
) -> Result<M> {
    let (rest, header) =
        match ResponseHeader::decode(body, response_header_version(api_key, version)) {
            Ok(ok) => ok,
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => return Err(e.into()),
            Err(nom::Err::Incomplete(_)) => {
                return Err(BenchError::Protocol("truncated response header".into()));
            }
        };
    if header.correlation_id != correlation_id {
        return Err(BenchError::Protocol(format!(
            "correlation id {} where {correlation_id} was expected",
            header.correlation_id
        )));
    }
    Ok(M::decode_complete(rest, version)?)
}

/// One Produce of `records` (record batches v2) to one partition, acks=1.
pub fn produce_request(topic: &str, partition: i32, records: Vec<u8>) -> ProduceRequest {
    produce_request_as(topic, partition, records, 1, None)
}

/// One Produce of `records` to one partition with `acks`, sent for `transactional_id` if given
/// (the broker checks it against the batches' producer).
pub fn produce_request_as(
    topic: &str,
    partition: i32,
    records: Vec<u8>,
    acks: i16,
    transactional_id: Option<&str>,
) -> ProduceRequest {
    ProduceRequest {
        transactional_id: transactional_id.map(Into::into),
        acks,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(Records::Bytes(records)),
            }],
        }],
    }
}

/// The base offset a Produce response gives its one partition, or the broker's error.
pub fn produce_base_offset(resp: &ProduceResponse) -> Result<i64> {
    let p = resp
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
        .ok_or_else(|| BenchError::Protocol("produce response without a partition".into()))?;
    if p.error_code != 0 {
        return Err(BenchError::Broker {
            context: "produce",
            code: p.error_code,
        });
    }
    Ok(p.base_offset)
}

/// One Fetch of one partition from `offset`.
pub fn fetch_request(
    topic: &str,
    partition: i32,
    offset: i64,
    max_bytes: i32,
    max_wait_ms: i32,
) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        max_bytes,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: max_bytes,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The record bytes and high watermark of a Fetch response's one partition, or its error.
pub fn fetched(resp: &FetchResponse) -> Result<(&[u8], i64)> {
    let p = fetched_partition(resp)?;
    match &p.records {
        Some(Records::Bytes(b)) => Ok((b, p.high_watermark)),
        None => Ok((&[], p.high_watermark)),
        Some(Records::Segment(_)) => Err(BenchError::Protocol("segment in a decoded fetch".into())),
    }
}

/// A Fetch response's one partition, or its error.
pub fn fetched_partition(resp: &FetchResponse) -> Result<&PartitionData> {
    if resp.error_code != 0 {
        return Err(BenchError::Broker {
            context: "fetch",
            code: resp.error_code,
        });
    }
    let p = resp
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| BenchError::Protocol("fetch response without a partition".into()))?;
    if p.error_code != 0 {
        return Err(BenchError::Broker {
            context: "fetch",
            code: p.error_code,
        });
    }
    Ok(p)
}

/// Whole batches in fetched bytes: `(batches, next offset)` for each batch that ends at or after
/// `from` (a fetch may start with a batch holding earlier offsets). A partial batch at the end
/// (KIP-74 cuts at `max_bytes`) is not counted, as clients ignore it.
pub fn whole_batches(mut bytes: &[u8], from: i64) -> Result<Vec<RecordBatch<&[u8]>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let total = match blazemq_core::records::batch::peek_total_len(bytes) {
            Ok(total) if total <= bytes.len() => total,
            _ => break,
        };
        let batch = RecordBatch::new_unchecked_header(&bytes[..total])
            .map_err(|e| BenchError::Protocol(format!("bad batch in a fetch: {e}")))?;
        if batch.last_offset() >= from {
            out.push(batch);
        }
        bytes = &bytes[total..];
    }
    Ok(out)
}

/// A blocking connection to a broker.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    correlation_id: i32,
    buf: Vec<u8>,
    /// The versions negotiated by [`Conn::connect`].
    pub versions: Versions,
    /// The broker's ApiVersions answer (empty after [`Conn::open`]), for the versions of
    /// requests only some modes send.
    pub api_keys: Vec<ApiVersion>,
}

impl Conn {
    /// Connects (no delay, bounded reads and writes) without asking the broker anything.
    pub fn open(addr: SocketAddr, timeout: Duration) -> Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Conn {
            stream,
            correlation_id: 0,
            buf: Vec::new(),
            versions: Versions::PREFERRED,
            api_keys: Vec::new(),
        })
    }

    /// Connects and negotiates versions with ApiVersions.
    pub fn connect(addr: SocketAddr) -> Result<Conn> {
        let mut conn = Conn::open(addr, IO_TIMEOUT)?;
        conn.api_keys = conn.api_versions()?;
        conn.versions = Versions::negotiate(&conn.api_keys)?;
        Ok(conn)
    }

    /// The broker's address.
    pub fn peer(&self) -> Result<SocketAddr> {
        Ok(self.stream.peer_addr()?)
    }

    /// The next correlation id.
    pub fn next_correlation_id(&mut self) -> i32 {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        self.correlation_id
    }

    /// Writes a whole frame.
    pub fn send(&mut self, frame: &[u8]) -> Result<()> {
        Ok(self.stream.write_all(frame)?)
    }

    /// Reads one response frame and returns its body (after the size prefix), valid until the
    /// next call. The buffer grows with the bytes that arrive, not with the size claimed.
    pub fn recv(&mut self) -> Result<&[u8]> {
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix)?;
        let size = i32::from_be_bytes(prefix);
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= RESPONSE_BYTES_MAX)
            .ok_or_else(|| BenchError::Protocol(format!("response size prefix {size}")))?;
        self.buf.clear();
        (&mut self.stream)
            .take(size as u64)
            .read_to_end(&mut self.buf)?;
        if self.buf.len() < size {
            return Err(BenchError::Protocol(format!(
                "the connection closed {} bytes into a {size}-byte response",
                self.buf.len()
            )));
        }
        Ok(&self.buf)
    }

    /// Sends one request and decodes its response.
    pub fn call<Req: Message, Resp: Message>(&mut self, version: i16, req: &Req) -> Result<Resp> {
        let correlation_id = self.next_correlation_id();
        let frame = encode_request(version, correlation_id, req)?;
        self.send(&frame)?;
        let body = self.recv()?;
        decode_response(Req::API_KEY, version, correlation_id, body)
    }

    /// ApiVersions v3, or v0 if the broker does not know v3 (KIP-511): the broker's api keys.
    pub fn api_versions(&mut self) -> Result<Vec<ApiVersion>> {
        let req = ApiVersionsRequest {
            client_software_name: CLIENT_ID.into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        };
        let resp: ApiVersionsResponse = self.call(3, &req)?;
        let resp = if resp.error_code == UNSUPPORTED_VERSION {
            self.call(0, &ApiVersionsRequest::default())?
        } else {
            resp
        };
        if resp.error_code != 0 {
            return Err(BenchError::Broker {
                context: "ApiVersions",
                code: resp.error_code,
            });
        }
        Ok(resp.api_keys)
    }

    /// [`Conn::create_topic`], then waits (up to 30 s) until partition 0 is served: Kafka
    /// answers CreateTopics before its broker leads the new partitions, and a Produce meanwhile
    /// is answered NOT_LEADER_OR_FOLLOWER.
    pub fn create_topic_ready(&mut self, topic: &str, partitions: i32) -> Result<()> {
        self.create_topic(topic, partitions)?;
        let started = std::time::Instant::now();
        loop {
            let req = fetch_request(topic, 0, 0, 1, 0);
            let resp: FetchResponse = self.call(self.versions.fetch, &req)?;
            match fetched_partition(&resp) {
                Err(BenchError::Broker { code, .. })
                    if NOT_READY.contains(&code) && started.elapsed() < IO_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other.map(|_| ()),
            }
        }
    }

    /// Creates `topic` with `partitions` partitions; a topic that already exists is fine.
    pub fn create_topic(&mut self, topic: &str, partitions: i32) -> Result<()> {
        self.create_topic_with(topic, partitions, &[])
    }

    /// [`Conn::create_topic`] with topic configs (`cleanup.policy`, ...).
    pub fn create_topic_with(
        &mut self,
        topic: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<()> {
        let req = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: topic.into(),
                num_partitions: partitions,
                replication_factor: 1,
                configs: configs
                    .iter()
                    .map(|(name, value)| CreatableTopicConfig {
                        name: (*name).into(),
                        value: Some((*value).into()),
                    })
                    .collect(),
                ..Default::default()
            }],
            timeout_ms: 30_000,
            validate_only: false,
        };
        let resp: CreateTopicsResponse = self.call(self.versions.create_topics, &req)?;
        let code = resp.topics.first().map_or(-1, |t| t.error_code);
        match code {
            0 | TOPIC_ALREADY_EXISTS => Ok(()),
            code => Err(BenchError::Broker {
                context: "CreateTopics",
                code,
            }),
        }
    }

    /// Sets one config of `topic` with IncrementalAlterConfigs (KIP-339), as
    /// `kafka-configs --alter --add-config` does.
    pub fn set_topic_config(&mut self, topic: &str, name: &str, value: &str) -> Result<()> {
        let version = pick_version(&self.api_keys, ApiKey::IncrementalAlterConfigs, 1, 0)?;
        let req = IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: topic.into(),
                configs: vec![AlterableConfig {
                    name: name.into(),
                    config_operation: CONFIG_SET,
                    value: Some(value.into()),
                }],
            }],
            validate_only: false,
        };
        let resp: IncrementalAlterConfigsResponse = self.call(version, &req)?;
        let code = resp.responses.first().map_or(-1, |r| r.error_code);
        if code != 0 {
            return Err(BenchError::Broker {
                context: "IncrementalAlterConfigs",
                code,
            });
        }
        Ok(())
    }

    /// The size in bytes of `topic`'s `partition` that DescribeLogDirs (KIP-113) reports, as
    /// `kafka-log-dirs --describe` shows it; `None` if no log directory lists it.
    pub fn partition_size(&mut self, topic: &str, partition: i32) -> Result<Option<i64>> {
        let version = pick_version(&self.api_keys, ApiKey::DescribeLogDirs, 4, 0)?;
        let req = DescribeLogDirsRequest {
            topics: Some(vec![DescribableLogDirTopic {
                topic: topic.into(),
                partitions: vec![partition],
            }]),
        };
        let resp: DescribeLogDirsResponse = self.call(version, &req)?;
        if resp.error_code != 0 {
            return Err(BenchError::Broker {
                context: "DescribeLogDirs",
                code: resp.error_code,
            });
        }
        // One replica per broker: the first directory that holds the partition.
        Ok(resp
            .results
            .iter()
            .filter(|d| d.error_code == 0)
            .flat_map(|d| &d.topics)
            .filter(|t| t.name == topic)
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == partition && !p.is_future_key)
            .map(|p| p.partition_size))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use blazemq_core::codec::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use blazemq_core::codec::response_frame;
    use blazemq_core::records::BatchBuilder;

    #[test]
    fn request_frames_decode_as_the_broker_reads_them() {
        let mut frame = encode_request(9, 7, &produce_request("t", 2, b"batch".to_vec())).unwrap();
        assert_eq!(
            i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize,
            frame.len() - 4
        );
        set_correlation_id(&mut frame, 42);
        let (header, body) = blazemq_core::codec::decode_request_header(&frame[4..]).unwrap();
        assert_eq!((header.request_api_key, header.correlation_id), (0, 42));
        assert_eq!(header.client_id.as_deref(), Some(CLIENT_ID));
        let req = ProduceRequest::decode_complete(body, 9).unwrap();
        assert_eq!(req.acks, 1);
        assert_eq!(req.topic_data[0].partition_data[0].index, 2);
    }

    #[test]
    fn responses_check_correlation_and_errors() {
        let mut resp = ProduceResponse {
            responses: vec![TopicProduceResponse {
                name: "t".into(),
                partition_responses: vec![PartitionProduceResponse {
                    base_offset: 5,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let frame = response_frame(0, 9, 3, &resp).unwrap().bytes;
        let back: ProduceResponse = decode_response(0, 9, 3, &frame[4..]).unwrap();
        assert_eq!(produce_base_offset(&back).unwrap(), 5);
        assert!(decode_response::<ProduceResponse>(0, 9, 4, &frame[4..]).is_err());
        resp.responses[0].partition_responses[0].error_code = 3;
        assert!(matches!(
            produce_base_offset(&resp),
            Err(BenchError::Broker { code: 3, .. })
        ));
    }

    /// A connection to a peer that writes `bytes` and closes.
    fn conn_to(bytes: Vec<u8>) -> Conn {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(&bytes).unwrap();
        });
        Conn::open(addr, IO_TIMEOUT).unwrap()
    }

    #[test]
    fn bad_response_frames_are_errors_not_allocations() {
        let mut whole = vec![0, 0, 0, 3, 1, 2, 3];
        whole.extend([0, 0, 0, 1, 9]);
        let mut c = conn_to(whole);
        assert_eq!(c.recv().unwrap(), [1, 2, 3]);
        assert_eq!(c.recv().unwrap(), [9]);
        let mut short = conn_to(vec![0x7f, 0xff, 0xff, 0x00, 1, 2]);
        assert!(
            matches!(short.recv(), Err(BenchError::Protocol(_))),
            "over the limit"
        );
        let mut torn = conn_to(vec![0, 0, 1, 0, 1, 2]);
        let err = torn.recv().unwrap_err().to_string();
        assert!(err.contains("2 bytes into a 256-byte response"), "{err}");
        let mut negative = conn_to(vec![0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(negative.recv(), Err(BenchError::Protocol(_))));
    }

    #[test]
    fn versions_are_capped_by_the_broker_and_by_us() {
        let keys = |produce: i16, fetch: i16| {
            vec![
                ApiVersion {
                    api_key: 0,
                    min_version: 0,
                    max_version: produce,
                },
                ApiVersion {
                    api_key: 1,
                    min_version: 0,
                    max_version: fetch,
                },
                ApiVersion {
                    api_key: 19,
                    min_version: 0,
                    max_version: 7,
                },
            ]
        };
        let v = Versions::negotiate(&keys(11, 17)).unwrap();
        assert_eq!((v.produce, v.fetch, v.create_topics), (11, 12, 7));
        let v = Versions::negotiate(&keys(8, 10)).unwrap();
        assert_eq!((v.produce, v.fetch), (8, 10));
        assert!(
            Versions::negotiate(&keys(2, 10)).is_err(),
            "no record batch v2"
        );
        assert!(
            Versions::negotiate(&keys(8, 10)[..2]).is_err(),
            "no CreateTopics"
        );
    }

    #[test]
    fn whole_batches_skip_earlier_and_partial_ones() {
        let batch = |base: i64, n: usize| {
            let mut b = BatchBuilder::new(base);
            for _ in 0..n {
                b.push(0, None, Some(b"v"), &[]);
            }
            b.finish()
        };
        let mut bytes = batch(0, 3);
        bytes.extend(batch(3, 2));
        let third = batch(5, 4);
        bytes.extend(&third[..third.len() - 1]);
        let got = whole_batches(&bytes, 3).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].base_offset(), got[0].records_count()), (3, 2));
        assert_eq!(whole_batches(&bytes, 0).unwrap().len(), 2);
        assert!(whole_batches(&[], 0).unwrap().is_empty());
    }
}
