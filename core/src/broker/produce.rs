//! Produce: validate each partition's batches and append them to the partition's log.

use alloc::string::String;
use alloc::vec::Vec;

use super::names::invalid_topic_reason;
use super::{Broker, Hdr, Reply, encode_response, segment_size};
use crate::ErrorCode;
use crate::codec::messages::produce_request::PartitionProduceData;
use crate::codec::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use crate::codec::messages::{ProduceRequest, ProduceResponse};
use crate::codec::{Message, Records};
use crate::limits::BATCH_SIZE_BYTES_MAX_DEFAULT;
use crate::records;
use crate::storage::Storage;

/// Where one partition's append ended.
struct Appended {
    base_offset: i64,
    log_start_offset: i64,
}

impl<S: Storage> Broker<S>
where
    S::Segment: core::fmt::Debug,
{
    pub(super) fn produce(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = ProduceRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        let acks_valid = matches!(request.acks, -1..=1);
        let mut touched = Vec::new();
        let mut any_error = false;
        let mut responses = Vec::with_capacity(request.topic_data.len());
        for topic in &request.topic_data {
            let mut partition_responses = Vec::with_capacity(topic.partition_data.len());
            for p in &topic.partition_data {
                let result = if acks_valid {
                    self.append_partition(v, &topic.name, p, &mut touched)
                } else {
                    Err(ErrorCode::InvalidRequiredAcks)
                };
                any_error |= result.is_err();
                partition_responses.push(partition_response(v, p.index, result));
            }
            responses.push(TopicProduceResponse {
                name: topic.name.clone(),
                partition_responses,
            });
        }
        self.wake_fetches(&touched);
        if request.acks == 0 {
            // acks=0 gets no answer; on an error Kafka closes the connection so the client
            // refreshes its metadata.
            return if any_error {
                Reply::Close
            } else {
                Reply::Silent
            };
        }
        encode_response(
            hdr,
            &ProduceResponse {
                responses,
                ..Default::default()
            },
        )
    }

    fn append_partition(
        &mut self,
        v: i16,
        topic: &str,
        p: &PartitionProduceData,
        touched: &mut Vec<u32>,
    ) -> Result<Appended, ErrorCode> {
        if topic == super::groups::OFFSETS_TOPIC {
            // Kafka refuses client writes to its internal topics.
            return Err(ErrorCode::InvalidTopicException);
        }
        let Some(ti) = self.topics.by_name(topic) else {
            return Err(if invalid_topic_reason(topic).is_some() {
                ErrorCode::InvalidTopicException
            } else {
                ErrorCode::UnknownTopicOrPartition
            });
        };
        let pi = self
            .topics
            .partition_of(ti, p.index)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let batch_bytes_max = self.max_message_bytes(ti);
        let bytes: &[u8] = match &p.records {
            Some(Records::Bytes(b)) => b,
            _ => &[],
        };
        let validated =
            records::validate_batches(bytes, batch_bytes_max).map_err(|e| e.error_code())?;
        // Kafka: Produce v3+ carries exactly one record batch of magic 2 per partition.
        validated
            .check_produce_version(v)
            .map_err(|e| e.error_code())?;
        // A legacy message set arrives here already converted to one v2 batch.
        let batches = validated.batches(bytes);
        let size = segment_size(&self.config);
        let unix_ms = self.unix_ms;
        let name = String::from(topic);
        let partition = self
            .topics
            .partition_mut(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let info = partition
            .log
            .append(&mut self.storage, &name, p.index, batches, size, unix_ms)
            .map_err(|e| e.error_code())?;
        if !touched.contains(&pi) {
            touched.push(pi);
        }
        Ok(Appended {
            base_offset: info.base_offset,
            log_start_offset: partition.log.log_start_offset(),
        })
    }

    /// The topic's `max.message.bytes`, or Kafka's default.
    fn max_message_bytes(&self, ti: u32) -> usize {
        self.topics
            .topic(ti)
            .configs
            .iter()
            .find(|(k, _)| k == "max.message.bytes")
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(BATCH_SIZE_BYTES_MAX_DEFAULT as usize)
    }
}

fn partition_response(
    v: i16,
    index: i32,
    result: Result<Appended, ErrorCode>,
) -> PartitionProduceResponse {
    match result {
        Ok(a) => PartitionProduceResponse {
            index,
            error_code: 0,
            base_offset: a.base_offset,
            log_append_time_ms: -1,
            log_start_offset: if v >= 5 { a.log_start_offset } else { -1 },
            ..Default::default()
        },
        Err(code) => PartitionProduceResponse {
            index,
            error_code: code.code(),
            base_offset: -1,
            log_append_time_ms: -1,
            log_start_offset: -1,
            ..Default::default()
        },
    }
}
