//! Fetch: record bytes straight from the segments, with long polling (KIP-74 limits, KIP-227
//! sessions answered as full fetches).

use alloc::vec::Vec;
use core::time::Duration;

use super::list_offsets::LEADER_EPOCH;
use super::{Broker, ConnId, Hdr, Reply, encode_response};
use crate::ErrorCode;
use crate::codec::messages::fetch_request::FetchPartition;
use crate::codec::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use crate::codec::messages::{FetchRequest, FetchResponse};
use crate::codec::primitives::Uuid;
use crate::codec::{Message, Records, SegmentRef};
use crate::records;
use crate::storage::Storage;
use crate::time::Instant;

/// A Fetch waiting for `min_bytes` of data or its deadline.
#[derive(Debug)]
pub(crate) struct ParkedFetch {
    pub conn: ConnId,
    pub hdr: Hdr,
    pub request: FetchRequest,
    pub deadline: Instant,
    /// Partitions whose appends may complete it.
    pub partitions: Vec<u32>,
}

/// A Fetch response as built now.
struct Built {
    response: FetchResponse,
    bytes: usize,
    /// A partition answered with an error: Kafka then answers at once.
    error: bool,
    partitions: Vec<u32>,
}

impl<S: Storage> Broker<S>
where
    S::Segment: core::fmt::Debug,
{
    pub(super) fn fetch(&mut self, conn: ConnId, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = FetchRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        if let Some(code) = session_error(hdr.api_version, &request) {
            let response = FetchResponse {
                error_code: code.code(),
                ..Default::default()
            };
            return encode_response(hdr, &response);
        }
        let built = self.build_fetch(hdr.api_version, &request);
        let wait = request
            .max_wait_ms
            .clamp(0, self.config.limits.fetch_wait_ms_max as i32);
        let satisfied = built.bytes >= request.min_bytes.max(0) as usize;
        let room = self.parked.len() < self.config.limits.parked_requests_max as usize;
        if satisfied || built.error || wait == 0 || built.partitions.is_empty() || !room {
            return encode_response(hdr, &built.response);
        }
        let deadline = self.now + Duration::from_millis(wait as u64);
        self.parked.insert(ParkedFetch {
            conn,
            hdr,
            request,
            deadline,
            partitions: built.partitions,
        });
        Reply::Parked
    }

    /// New data in `touched` partitions: answer the parked fetches it satisfies.
    pub(super) fn wake_fetches(&mut self, touched: &[u32]) {
        if touched.is_empty() || self.parked.len() == 0 {
            return;
        }
        let mut woken = core::mem::take(&mut self.woken);
        self.parked.waiting_on(touched, &mut woken);
        for &id in &woken {
            let Some(p) = self.parked.get(id) else {
                continue;
            };
            let built = self.build_fetch(p.hdr.api_version, &p.request);
            if built.error || built.bytes >= p.request.min_bytes.max(0) as usize {
                if let Some(p) = self.parked.remove(id) {
                    let reply = encode_response(p.hdr, &built.response);
                    self.unpark(p.conn, reply);
                }
            }
        }
        self.woken = woken;
    }

    /// Answer the parked fetches whose deadline has passed with what there is.
    pub(super) fn expire_parked(&mut self) {
        for id in self.parked.due(self.now) {
            let Some(p) = self.parked.remove(id) else {
                continue;
            };
            let built = self.build_fetch(p.hdr.api_version, &p.request);
            let reply = encode_response(p.hdr, &built.response);
            self.unpark(p.conn, reply);
        }
    }

    fn build_fetch(&self, v: i16, request: &FetchRequest) -> Built {
        let mut built = Built {
            response: FetchResponse::default(),
            bytes: 0,
            error: false,
            partitions: Vec::new(),
        };
        // KIP-74: `max_bytes` bounds the response, but the first batch is sent even if larger.
        let mut remaining = if v >= 3 {
            request.max_bytes.max(0) as usize
        } else {
            usize::MAX
        };
        for topic in &request.topics {
            let ti = if v >= 13 {
                self.topics.by_id(&topic.topic_id)
            } else {
                self.topics.by_name(&topic.topic)
            };
            let unknown = if v >= 13 {
                ErrorCode::UnknownTopicId
            } else {
                ErrorCode::UnknownTopicOrPartition
            };
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for fp in &topic.partitions {
                let pi = ti.and_then(|ti| self.topics.partition_of(ti, fp.partition));
                let (data, len) = match pi {
                    None => (error_partition(fp.partition, unknown), 0),
                    Some(pi) => {
                        built.partitions.push(pi);
                        self.fetch_partition(v, pi, fp, &mut remaining, built.bytes == 0)
                            .unwrap_or_else(|code| (error_partition(fp.partition, code), 0))
                    }
                };
                built.error |= data.error_code != 0;
                built.bytes += len;
                partitions.push(data);
            }
            built.response.responses.push(FetchableTopicResponse {
                topic: if v < 13 {
                    topic.topic.clone()
                } else {
                    Default::default()
                },
                topic_id: if v >= 13 {
                    topic.topic_id
                } else {
                    Uuid::default()
                },
                partitions,
            });
        }
        built
    }

    /// One partition's data and its length in bytes.
    fn fetch_partition(
        &self,
        v: i16,
        pi: u32,
        fp: &FetchPartition,
        remaining: &mut usize,
        first: bool,
    ) -> Result<(PartitionData, usize), ErrorCode> {
        let log = &self
            .topics
            .partition(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?
            .log;
        if v >= 9 && fp.current_leader_epoch > LEADER_EPOCH {
            return Err(ErrorCode::UnknownLeaderEpoch);
        }
        if v >= 9 && fp.current_leader_epoch >= 0 && fp.current_leader_epoch < LEADER_EPOCH {
            return Err(ErrorCode::FencedLeaderEpoch);
        }
        let (start, end) = (log.log_start_offset(), log.log_end_offset());
        let mut data = PartitionData {
            partition_index: fp.partition,
            error_code: 0,
            high_watermark: end,
            last_stable_offset: if v >= 4 { end } else { -1 },
            log_start_offset: if v >= 5 { start } else { -1 },
            aborted_transactions: None,
            preferred_read_replica: -1,
            records: Some(Records::Bytes(Vec::new())),
            ..Default::default()
        };
        if fp.fetch_offset < start || fp.fetch_offset > end {
            // The client resets its position from these, so they go with the error.
            data.error_code = ErrorCode::OffsetOutOfRange.code();
            return Ok((data, 0));
        }
        let limit = (fp.partition_max_bytes.max(0) as usize).min(*remaining);
        if limit == 0 && !first {
            return Ok((data, 0));
        }
        let slice = log
            .read(fp.fetch_offset, limit.max(1))
            .map_err(|e| e.error_code())?;
        let Some(slice) = slice else {
            return Ok((data, 0));
        };
        let len = slice.len as usize;
        if len > limit && !first {
            // Only the response's first batch may exceed the limits.
            return Ok((data, 0));
        }
        let seg = SegmentRef {
            partition: pi,
            base_offset: slice.segment_base_offset,
            start: slice.start,
            len: slice.len,
        };
        data.records = Some(if v >= 4 {
            Records::Segment(seg)
        } else {
            let bytes = log
                .segment_bytes(seg.base_offset, seg.start, seg.len)
                .ok_or(ErrorCode::KafkaStorageError)?;
            // Fetch v0-v1 read magic 0 message sets, v2-v3 magic 1 (KIP-32).
            let magic = if v >= 2 { 1 } else { 0 };
            Records::Bytes(
                records::legacy::down_convert(bytes, magic, fp.fetch_offset)
                    .map_err(|e| e.error_code())?,
            )
        });
        *remaining = remaining.saturating_sub(len);
        Ok((data, len))
    }
}

/// KIP-227: this broker creates no fetch sessions (it answers session id 0, which tells the client
/// to keep sending full requests), so a request naming a session, or an incremental epoch, is
/// refused as Kafka refuses one for a session it does not hold.
fn session_error(v: i16, request: &FetchRequest) -> Option<ErrorCode> {
    if v < 7 {
        return None;
    }
    if request.session_id != 0 {
        return Some(ErrorCode::FetchSessionIdNotFound);
    }
    // Epoch 0 asks for a new session and -1 for none; anything else needs an existing session.
    if request.session_epoch != 0 && request.session_epoch != -1 {
        return Some(ErrorCode::InvalidFetchSessionEpoch);
    }
    None
}

fn error_partition(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        preferred_read_replica: -1,
        aborted_transactions: None,
        records: Some(Records::Bytes(Vec::new())),
        ..Default::default()
    }
}
