//! ListOffsets: the earliest, latest, max-timestamp, or first-at-timestamp offset of partitions.

use alloc::vec::Vec;

use super::{Broker, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use crate::codec::messages::{ListOffsetsRequest, ListOffsetsResponse};
use crate::storage::Storage;

/// Special timestamps of ListOffsets (KIP-734, KIP-405).
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

/// The leader epoch this broker reports for every partition it leads.
pub(super) const LEADER_EPOCH: i32 = 0;

impl<S: Storage> Broker<S> {
    pub(super) fn list_offsets(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = ListOffsetsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        let topics = request
            .topics
            .iter()
            .map(|t| ListOffsetsTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let found = self
                            .topics
                            .by_name(&t.name)
                            .and_then(|ti| self.topics.partition_of(ti, p.partition_index));
                        let fault = found.and_then(|_| {
                            (self.faults).partition_error(self.now, &t.name, p.partition_index)
                        });
                        let answer = match (found, fault) {
                            (None, _) => Err(ErrorCode::UnknownTopicOrPartition),
                            (Some(_), Some(code)) => Err(code),
                            (Some(_), None) if v >= 4 && p.current_leader_epoch > LEADER_EPOCH => {
                                Err(ErrorCode::UnknownLeaderEpoch)
                            }
                            (Some(_), None)
                                if v >= 4
                                    && p.current_leader_epoch >= 0
                                    && p.current_leader_epoch < LEADER_EPOCH =>
                            {
                                Err(ErrorCode::FencedLeaderEpoch)
                            }
                            (Some(pi), None) => {
                                self.lookup(pi, p.timestamp, request.isolation_level == 1)
                            }
                        };
                        partition_response(v, p.partition_index, answer)
                    })
                    .collect(),
            })
            .collect();
        self.respond(
            hdr,
            &ListOffsetsResponse {
                topics,
                ..Default::default()
            },
        )
    }

    /// `(timestamp, offset)` for one partition; `(-1, -1)` when no record qualifies. A search
    /// by timestamp opens the segment it reads; failing to is KAFKA_STORAGE_ERROR.
    ///
    /// Kafka's `lastFetchableOffset` bounds the answer: the last stable offset when `committed`
    /// (READ_COMMITTED), else the high watermark. LATEST is that bound; a record found by
    /// timestamp at or past it is no answer.
    fn lookup(
        &mut self,
        pi: u32,
        timestamp: i64,
        committed: bool,
    ) -> Result<(i64, i64), ErrorCode> {
        let Some(p) = self.topics.partition(pi) else {
            return Ok((-1, -1));
        };
        let log = &p.log;
        let bound = if committed {
            self.last_stable_offset(pi)
        } else {
            log.log_end_offset()
        };
        let found = match timestamp {
            LATEST => return Ok((-1, bound)),
            EARLIEST | EARLIEST_LOCAL => return Ok((-1, log.log_start_offset())),
            LATEST_TIERED => return Ok((-1, -1)),
            MAX_TIMESTAMP => self.read_log(pi, |log| log.max_timestamp()),
            ts => self.read_log(pi, |log| {
                log.offset_for_timestamp(ts)
                    .map(|found| found.map(|(o, t)| (t, o)))
            }),
        };
        match found {
            None | Some(Ok(None)) => Ok((-1, -1)),
            Some(Ok(Some((_, offset)))) if offset >= bound => Ok((-1, -1)),
            Some(Ok(Some(answer))) => Ok(answer),
            Some(Err(e)) => Err(e.error_code()),
        }
    }
}

fn partition_response(
    v: i16,
    index: i32,
    answer: Result<(i64, i64), ErrorCode>,
) -> ListOffsetsPartitionResponse {
    match answer {
        Ok((_, offset)) if v == 0 => ListOffsetsPartitionResponse {
            partition_index: index,
            old_style_offsets: if offset >= 0 {
                alloc::vec![offset]
            } else {
                Vec::new()
            },
            ..Default::default()
        },
        Ok((timestamp, offset)) => ListOffsetsPartitionResponse {
            partition_index: index,
            timestamp,
            offset,
            leader_epoch: if v >= 4 && offset >= 0 {
                LEADER_EPOCH
            } else {
                -1
            },
            ..Default::default()
        },
        Err(code) => ListOffsetsPartitionResponse {
            partition_index: index,
            error_code: code.code(),
            ..Default::default()
        },
    }
}
