//! Produce: validate each partition's batches and append them to the partition's log.
//!
//! The hot path: the request is read in place (`ProduceView`), each batch is copied once, into
//! its segment, and the response is written into a recycled buffer.

use super::names::invalid_topic_reason;
use super::{Broker, Hdr, Reply, segment_size};
use crate::ErrorCode;
use crate::codec::produce_view::{ProduceResponseWriter, ProduceView};
use crate::codec::{Writer, response_header_version};
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
        let Ok(request) = ProduceView::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        let acks_valid = matches!(request.acks, -1..=1);
        let mut touched = core::mem::take(&mut self.touched);
        touched.clear();
        let mut any_error = false;
        let mut w = self.response_writer(hdr);
        let Ok(out) = ProduceResponseWriter::begin(&mut w, v, request.topic_count()) else {
            return Reply::Close;
        };
        for topic in request.topics() {
            if out
                .topic(&mut w, topic.name, topic.partition_count())
                .is_err()
            {
                return Reply::Close;
            }
            for (index, records) in topic.partitions() {
                let result = if acks_valid {
                    self.append_partition(
                        v,
                        topic.name,
                        index,
                        records.unwrap_or_default(),
                        &mut touched,
                    )
                } else {
                    Err(ErrorCode::InvalidRequiredAcks)
                };
                let (error, base_offset, log_start_offset) = match result {
                    Ok(a) => (ErrorCode::None, a.base_offset, a.log_start_offset),
                    Err(code) => {
                        any_error = true;
                        (code, -1, -1)
                    }
                };
                if out
                    .partition(&mut w, index, error.code(), base_offset, log_start_offset)
                    .is_err()
                {
                    return Reply::Close;
                }
            }
            out.end_topic(&mut w);
        }
        out.end(&mut w);
        self.wake_fetches(&touched);
        self.touched = touched;
        if request.acks == 0 {
            self.recycle_buffer(w.into_bytes());
            // acks=0 gets no answer; on an error Kafka closes the connection so the client
            // refreshes its metadata.
            return if any_error {
                Reply::Close
            } else {
                Reply::Silent
            };
        }
        super::finish_response(w)
    }

    /// A writer for `hdr`'s response in a recycled buffer, size prefix reserved and header
    /// written.
    pub(super) fn response_writer(&mut self, hdr: Hdr) -> Writer {
        let mut buf = self.spare_buffers.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&[0; 4]);
        let mut w = Writer::from_vec(buf);
        w.put_i32(hdr.correlation_id);
        if response_header_version(hdr.api_key, hdr.api_version) >= 1 {
            w.put_uvarint(0);
        }
        w
    }

    fn append_partition(
        &mut self,
        v: i16,
        topic: &str,
        index: i32,
        bytes: &[u8],
        touched: &mut alloc::vec::Vec<u32>,
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
            .partition_of(ti, index)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let batch_bytes_max = self.max_message_bytes(ti);
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
        let partition = self
            .topics
            .partition_mut(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let info = partition
            .log
            .append(&mut self.storage, topic, index, batches, size, unix_ms)
            .map_err(|e| e.error_code())?;
        let mut log_start_offset = partition.log.log_start_offset();
        if partition.log.segment_count() > 1 {
            // Only a log with sealed segments has anything retention could delete.
            self.retention_after_append(ti, pi);
            log_start_offset = self
                .topics
                .partition(pi)
                .map_or(log_start_offset, |p| p.log.log_start_offset());
        }
        if !touched.contains(&pi) {
            touched.push(pi);
        }
        Ok(Appended {
            base_offset: info.base_offset,
            log_start_offset,
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
