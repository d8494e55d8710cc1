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
use crate::log::AppendAt;

use super::producers::{Sequenced, Verdict};
use crate::records;
use crate::storage::Storage;

/// Where one partition's append ended.
struct Appended {
    base_offset: i64,
    /// The time stamped on the batches of a LogAppendTime topic, else -1.
    log_append_time_ms: i64,
    log_start_offset: i64,
}

impl Appended {
    /// What a partition's error result carries.
    const NONE: Appended = Appended {
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
    };
}

impl<S: Storage> Broker<S> {
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
                let (error, appended) = match result {
                    Ok(a) => (ErrorCode::None, a),
                    Err(code) => {
                        any_error = true;
                        (code, Appended::NONE)
                    }
                };
                if out
                    .partition(
                        &mut w,
                        index,
                        error.code(),
                        appended.base_offset,
                        appended.log_append_time_ms,
                        appended.log_start_offset,
                    )
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
        let sequenced = if validated.batch_count == 1 {
            Sequenced::of(
                validated.producer_id,
                validated.producer_epoch,
                validated.base_sequence,
                validated.record_count,
            )
        } else {
            None
        };
        if let Some(s) = &sequenced {
            match self.producers.check(pi, s) {
                Verdict::Append => {}
                Verdict::Duplicate(base_offset) => {
                    let log_start_offset = self
                        .topics
                        .partition(pi)
                        .map_or(-1, |p| p.log.log_start_offset());
                    return Ok(Appended {
                        base_offset,
                        log_append_time_ms: -1,
                        log_start_offset,
                    });
                }
                Verdict::Refuse(code) => return Err(code),
            }
        }
        let size = segment_size(&self.config);
        let unix_ms = self.unix_ms;
        let log_append_time = self.log_append_time(ti);
        let partition = self
            .topics
            .partition_mut(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let at = AppendAt {
            segment_size: size,
            unix_ms,
            log_append_time,
        };
        let info = partition
            .log
            .append_at(&mut self.storage, topic, index, batches, at)
            .map_err(|e| e.error_code())?;
        let mut log_start_offset = partition.log.log_start_offset();
        if let Some(s) = &sequenced {
            self.producers.appended(pi, s, info.base_offset);
        }
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
            log_append_time_ms: info.log_append_time_ms,
            log_start_offset,
        })
    }

    /// Whether the topic's `message.timestamp.type` is LogAppendTime: the broker, not the
    /// producer, then sets the batches' timestamps.
    fn log_append_time(&self, ti: u32) -> bool {
        self.topics.topic(ti).config("message.timestamp.type") == Some("LogAppendTime")
    }

    /// The topic's `max.message.bytes`, or Kafka's default.
    fn max_message_bytes(&self, ti: u32) -> usize {
        self.topics
            .topic(ti)
            .config("max.message.bytes")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(BATCH_SIZE_BYTES_MAX_DEFAULT as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{broker, call, create, produce_batch};
    use crate::codec::messages::{ProduceRequest, ProduceResponse};
    use crate::records::{BatchBuilder, RecordBatch, TimestampType};
    use alloc::vec::Vec;

    fn produce(name: &str) -> ProduceRequest {
        let mut batch = BatchBuilder::new(0);
        batch.push(1_000, None, Some(b"a"), &[]);
        batch.push(1_005, None, Some(b"b"), &[]);
        produce_batch(name, 0, batch.finish())
    }

    fn produce_sequenced(epoch: i16, first: i32, records: usize) -> ProduceRequest {
        let mut batch = BatchBuilder::new(0).producer(4242, epoch, first, false);
        for i in 0..records {
            batch.push(1_000 + i as i64, None, Some(b"v"), &[]);
        }
        produce_batch("t", 0, batch.finish())
    }

    #[test]
    fn a_retried_idempotent_batch_is_answered_with_its_first_offset_and_not_stored_twice() {
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let mut send = |epoch, first, records| {
            let resp: ProduceResponse = call(&mut b, 9, &produce_sequenced(epoch, first, records));
            let p = &resp.responses[0].partition_responses[0];
            (p.error_code, p.base_offset)
        };
        assert_eq!(send(0, 0, 3), (0, 0));
        assert_eq!(send(0, 3, 2), (0, 3));
        // The retry of a batch whose answer was lost: its offset again, nothing appended.
        assert_eq!(send(0, 0, 3), (0, 0));
        assert_eq!(send(0, 3, 2), (0, 3));
        // A gap: OUT_OF_ORDER_SEQUENCE_NUMBER (45); the next in order is appended after 0..4.
        assert_eq!(send(0, 9, 1), (45, -1));
        assert_eq!(send(0, 5, 1), (0, 5));
        // A new epoch restarts at 0; the old one is fenced: INVALID_PRODUCER_EPOCH (47).
        assert_eq!(send(1, 0, 1), (0, 6));
        assert_eq!(send(0, 6, 1), (47, -1));
        let ti = b.topics.by_name("t").expect("topic");
        let pi = b.topics.partition_of(ti, 0).expect("partition");
        let log = &b.topics.partition(pi).expect("partition").log;
        assert_eq!(log.log_end_offset(), 7);
    }

    /// The bytes stored in `name`'s partition 0, from offset 0.
    fn stored(b: &super::Broker<crate::storage::MemoryStorage>, name: &str) -> Vec<u8> {
        let ti = b.topics.by_name(name).expect("topic");
        let pi = b.topics.partition_of(ti, 0).expect("partition");
        let log = &b.topics.partition(pi).expect("partition").log;
        let slice = log.read(0, 1 << 20).expect("reads").expect("data");
        log.segment_bytes(slice.segment_base_offset, slice.start, slice.len)
            .expect("bytes")
            .to_vec()
    }

    #[test]
    fn a_log_append_time_topic_stamps_its_batches_with_the_append_time() {
        let mut b = broker();
        create(
            &mut b,
            "t",
            1,
            &[("message.timestamp.type", "LogAppendTime")],
        );
        create(&mut b, "c", 1, &[]);
        // The wall clock, as the last input carried it.
        let now = 1_700_000_000_000;
        b.unix_ms = now;

        let resp: ProduceResponse = call(&mut b, 9, &produce("t"));
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!((p.error_code, p.log_append_time_ms), (0, now));
        let bytes = stored(&b, "t");
        let batch = RecordBatch::new_checked(&bytes[..]).expect("a whole batch");
        assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(batch.max_timestamp(), now);
        assert!(
            batch.crc_valid(),
            "the CRC covers the new attributes and max timestamp"
        );

        // A CreateTime topic keeps the producer's timestamps and answers -1.
        let resp: ProduceResponse = call(&mut b, 9, &produce("c"));
        assert_eq!(
            resp.responses[0].partition_responses[0].log_append_time_ms,
            -1
        );
        let bytes = stored(&b, "c");
        let batch = RecordBatch::new_checked(&bytes[..]).expect("a whole batch");
        assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
        assert_eq!(batch.max_timestamp(), 1_005);
    }
}
