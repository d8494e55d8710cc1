//! Produce: validate each partition's batches and append them to the partition's log.
//!
//! The hot path: the request is read in place (`ProduceView`), each batch is copied once, into
//! its segment, and the response is written into a recycled buffer.
//!
//! BlazeMQ has no transaction coordinator, so a transactional batch (attributes bit 4) is
//! refused as Kafka 4.x refuses one that no transaction covers (checked against 4.1.1 and 4.4.0
//! with `scripts/kafka-reference.sh`): in a request without a `transactional_id`, every
//! partition gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED; with one, the partition gets
//! INVALID_PRODUCER_ID_MAPPING, Kafka's answer (KIP-890 verification) for a transactional id its
//! coordinator never initialised, which is every transactional id here.

use super::{Broker, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::produce_view::{ProduceResponseWriter, ProduceView, RecordError};
use crate::codec::{Writer, response_header_version};

use super::producers::{Sequenced, Verdict};
use crate::records::{self, ValidatedRecords};
use crate::storage::Storage;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The partition a Produce request writes to, and what of the request its checks need.
#[derive(Clone, Copy)]
struct Target<'a> {
    version: i16,
    topic: &'a str,
    index: i32,
    transactional_id: Option<&'a str>,
}

/// The error every partition of `request` gets before any is looked at, if any.
fn refusal(request: &ProduceView<'_>) -> Option<ErrorCode> {
    // Kafka checks the transactional id first, for the whole request (KafkaApis: it must be
    // present, and authorised, when any batch is transactional).
    if request.transactional_id.is_none() && has_transactional_batch(request) {
        return Some(ErrorCode::TransactionalIdAuthorizationFailed);
    }
    if !matches!(request.acks, -1..=1) {
        return Some(ErrorCode::InvalidRequiredAcks);
    }
    None
}

/// Whether any partition of `request` holds a transactional batch (Kafka's
/// `ProduceRequest.hasTransactionalRecords`, by the attribute alone, with or without a producer
/// id).
fn has_transactional_batch(request: &ProduceView<'_>) -> bool {
    request.topics().any(|topic| {
        topic
            .partitions()
            .any(|(_, records)| first_transactional(records.unwrap_or_default()).is_some())
    })
}

/// The producer id of the first transactional v2 batch in `bytes`, read from the headers only
/// (the checks that use it come before validation, as Kafka's do). A legacy message set cannot
/// be transactional; a truncated batch or other magic ends the walk, and validation refuses it.
fn first_transactional(bytes: &[u8]) -> Option<(i64, i16)> {
    let mut rest = bytes;
    // Each step moves past one whole batch of at least a header's length, so this ends.
    while let Ok(batch) = records::RecordBatch::new_unchecked_header(rest) {
        if batch.is_transactional() {
            return Some((batch.producer_id(), batch.producer_epoch()));
        }
        rest = &rest[batch.total_len()..];
    }
    None
}

/// The producer fields of one idempotent batch; several batches (a legacy client's) have none.
fn sequenced(validated: &records::ValidatedRecords) -> Option<Sequenced> {
    if validated.batch_count != 1 {
        return None;
    }
    Sequenced::of(
        validated.producer_id,
        validated.producer_epoch,
        validated.base_sequence,
        validated.record_count,
    )
}

/// Where one partition's append ended.
struct Appended {
    base_offset: i64,
    /// The time stamped on the batches of a LogAppendTime topic, else -1.
    log_append_time_ms: i64,
    log_start_offset: i64,
}

/// Why a partition's records were not appended: Kafka's error code, and for INVALID_RECORD on a
/// compacted topic the records without a key (their index within the batch).
struct Refused {
    code: ErrorCode,
    keyless: Vec<i32>,
}

impl From<ErrorCode> for Refused {
    fn from(code: ErrorCode) -> Self {
        Refused {
            code,
            keyless: Vec::new(),
        }
    }
}

/// Kafka's `RecordError`s for the keyless records of a compacted topic's partition, and the
/// `error_message` summing them up (`LogValidator.validateKey` and `processRecordErrors`, checked
/// against Kafka 4.1.1 and 4.4.0: tests/python/test_compacted_keys.py).
fn keyless_errors(topic: &str, index: i32, keyless: &[i32]) -> (String, String) {
    let message = format!(
        "Compacted topic cannot accept message without key in topic partition {topic}-{index}"
    );
    let shown: Vec<String> = keyless
        .iter()
        .take(3)
        .map(|i| format!("RecordError(batchIndex={i}, message='{message}')"))
        .collect();
    let summary = format!(
        "One or more records have been rejected due to {} record errors in total, and only \
         showing the first three errors at most: [{}]",
        keyless.len(),
        shown.join(", ")
    );
    (message, summary)
}

impl<S: Storage> Broker<S> {
    pub(super) fn produce(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok(request) = ProduceView::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        let refused = refusal(&request);
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
                let to = Target {
                    version: v,
                    topic: topic.name,
                    index,
                    transactional_id: request.transactional_id,
                };
                let result = match refused
                    .or_else(|| (self.faults).partition_error(self.now, topic.name, index))
                {
                    Some(code) => Err(Refused::from(code)),
                    None => self.append_partition(to, records.unwrap_or_default(), &mut touched),
                };
                let written = match result {
                    Ok(a) => out.partition(
                        &mut w,
                        index,
                        ErrorCode::None.code(),
                        a.base_offset,
                        a.log_append_time_ms,
                        a.log_start_offset,
                    ),
                    Err(refused) => {
                        any_error = true;
                        if request.acks != 0 {
                            // acks=0 gets no response whose errors could be counted.
                            self.count_error(hdr.api_key, refused.code.code());
                        }
                        write_refused(&out, &mut w, topic.name, index, &refused)
                    }
                };
                if written.is_err() {
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
        to: Target<'_>,
        bytes: &[u8],
        touched: &mut alloc::vec::Vec<u32>,
    ) -> Result<Appended, Refused> {
        let (topic, index) = (to.topic, to.index);
        let (ti, pi) = self.produce_partition(topic, index)?;
        if let (Some(id), Some((producer_id, epoch))) =
            (to.transactional_id, first_transactional(bytes))
        {
            if producer_id >= 0 {
                // Kafka verifies the batch's transaction with the coordinator before validating
                // or appending it (KIP-890 part 1).
                self.verify_transactional(to.version, id, producer_id, epoch, topic, index)?;
            }
        }
        records::check_produce_shape(bytes, to.version).map_err(|e| e.error_code())?;
        let batch_bytes_max = self.max_message_bytes(ti);
        let validated =
            records::validate_batches(bytes, batch_bytes_max).map_err(|e| e.error_code())?;
        self.check_timestamps(ti, &validated)?;
        // Kafka: Produce v3+ carries exactly one record batch of magic 2 per partition.
        validated
            .check_produce_version(to.version)
            .map_err(|e| e.error_code())?;
        // A legacy message set arrives here already converted to one v2 batch.
        let batches = validated.batches(bytes);
        self.check_keys(ti, batches, batch_bytes_max)?;
        let sequenced = sequenced(&validated);
        if let Some(s) = &sequenced {
            if let Some(duplicate) = self.check_sequence(pi, s)? {
                return Ok(duplicate);
            }
        }
        let at = self.append_at(ti);
        let info = self
            .append_log(pi, topic, index, batches, at)
            .map_err(|e| e.error_code())?;
        let partition = self
            .topics
            .partition_mut(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let mut log_start_offset = partition.log.log_start_offset();
        let sealed = partition.log.segment_count() > 1;
        if let Some(s) = &sequenced {
            self.producers
                .appended(pi, s, info.base_offset, validated.max_timestamp);
        }
        if validated.is_transactional && validated.producer_id >= 0 {
            self.transaction_appended(pi, validated.producer_id, info.base_offset)?;
        }
        if sealed {
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

    /// The topic and partition indexes a client may produce to, or Kafka's error for them.
    fn produce_partition(&self, topic: &str, index: i32) -> Result<(u32, u32), ErrorCode> {
        if super::names::is_internal(topic) {
            // Kafka refuses client writes to its internal topics.
            return Err(ErrorCode::InvalidTopicException);
        }
        // A name no topic can have is as unknown as any other (Kafka looks it up and fails).
        let Some(ti) = self.topics.by_name(topic) else {
            return Err(ErrorCode::UnknownTopicOrPartition);
        };
        let pi = self
            .topics
            .partition_of(ti, index)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        Ok((ti, pi))
    }

    /// The idempotent producer's checks on partition `pi`: `Some` answer for a retry of a batch
    /// already appended, `None` to append it.
    fn check_sequence(&self, pi: u32, s: &Sequenced) -> Result<Option<Appended>, ErrorCode> {
        match self.producers.check(pi, s) {
            Verdict::Append => Ok(None),
            Verdict::Duplicate(base_offset) => {
                let log_start_offset = self
                    .topics
                    .partition(pi)
                    .map_or(-1, |p| p.log.log_start_offset());
                Ok(Some(Appended {
                    base_offset,
                    log_append_time_ms: -1,
                    log_start_offset,
                }))
            }
            Verdict::Refuse(code) => Err(code),
        }
    }

    /// Kafka's `message.timestamp.after.max.ms` check of a CreateTime topic: no record may be
    /// stamped further ahead of the broker's clock (INVALID_TIMESTAMP). Kafka checks each
    /// record; the batches' max timestamps bound them all.
    fn check_timestamps(&self, ti: u32, validated: &ValidatedRecords) -> Result<(), ErrorCode> {
        if self.log_append_time(ti) {
            return Ok(());
        }
        let after_max_ms = self.topics.topic(ti).settings.timestamp_after_max_ms;
        if validated.max_timestamp > self.unix_ms.saturating_add(after_max_ms) {
            return Err(ErrorCode::InvalidTimestamp);
        }
        Ok(())
    }

    /// A compacted topic (`cleanup.policy` with `compact`) takes only records with a key
    /// (KIP-467): otherwise INVALID_RECORD naming each record without one, and nothing of the
    /// batch is appended. Kafka checks keys before timestamps per record; here the batches' max
    /// timestamps were checked first, so a batch with both faults gets INVALID_TIMESTAMP, as in
    /// Kafka unless every late record is also keyless.
    fn check_keys(&self, ti: u32, batches: &[u8], batch_bytes_max: usize) -> Result<(), Refused> {
        if !self.topics.topic(ti).settings.compact {
            return Ok(());
        }
        let bytes_max = records::decompressed_bytes_max(batch_bytes_max);
        let keyless = records::keyless_records(batches, bytes_max, &mut Vec::new())
            .map_err(|e| e.error_code())?;
        if keyless.is_empty() {
            return Ok(());
        }
        Err(Refused {
            code: ErrorCode::InvalidRecord,
            keyless,
        })
    }

    /// Whether the topic's `message.timestamp.type` is LogAppendTime: the broker, not the
    /// producer, then sets the batches' timestamps.
    pub(super) fn log_append_time(&self, ti: u32) -> bool {
        self.topics.topic(ti).settings.log_append_time
    }

    /// The topic's `max.message.bytes` (or the broker's `message.max.bytes`), or Kafka's default.
    fn max_message_bytes(&self, ti: u32) -> usize {
        self.topics.topic(ti).settings.max_message_bytes
    }
}

/// A refused partition's result; the record errors of keyless records from Produce v8.
fn write_refused(
    out: &ProduceResponseWriter,
    w: &mut Writer,
    topic: &str,
    index: i32,
    refused: &Refused,
) -> Result<(), crate::codec::EncodeError> {
    if refused.keyless.is_empty() {
        return out.partition_refused(w, index, refused.code.code(), &[], None);
    }
    let (message, summary) = keyless_errors(topic, index, &refused.keyless);
    let record_errors: Vec<RecordError<'_>> = refused
        .keyless
        .iter()
        .map(|&batch_index| RecordError {
            batch_index,
            message: Some(&message),
        })
        .collect();
    out.partition_refused(
        w,
        index,
        refused.code.code(),
        &record_errors,
        Some(&summary),
    )
}

#[cfg(test)]
mod tests {
    use super::Broker;
    use crate::broker::harness::{Driver, broker, call, create, produce_request, try_call};
    use crate::codec::messages::{
        InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
    };
    use crate::records::{BatchBuilder, RecordBatch, TimestampType};
    use crate::storage::MemoryStorage;
    use alloc::format;
    use alloc::vec::Vec;

    fn produce(name: &str) -> ProduceRequest {
        let mut batch = BatchBuilder::new(0);
        batch.push(1_000, None, Some(b"a"), &[]);
        batch.push(1_005, None, Some(b"b"), &[]);
        produce_request(name, 0, batch.finish())
    }

    fn produce_sequenced(epoch: i16, first: i32, records: usize) -> ProduceRequest {
        let mut batch = BatchBuilder::new(0).producer(4242, epoch, first, false);
        for i in 0..records {
            batch.push(1_000 + i as i64, None, Some(b"v"), &[]);
        }
        produce_request("t", 0, batch.finish())
    }

    #[test]
    fn clients_cannot_write_to_the_broker_logs() {
        let mut b = broker();
        for name in [
            "__consumer_offsets",
            "__transaction_state",
            "__share_group_state",
        ] {
            create(&mut b, name, 1, &[]);
            for v in [3, 9] {
                let resp: ProduceResponse = call(&mut b, v, &produce(name));
                // Kafka's ReplicaManager: INVALID_TOPIC_EXCEPTION for an internal topic.
                let p = &resp.responses[0].partition_responses[0];
                assert_eq!(
                    (p.error_code, p.base_offset),
                    (crate::ErrorCode::InvalidTopicException.code(), -1),
                    "{name} v{v}"
                );
            }
            let ti = b.topics.by_name(name).expect("topic");
            let pi = b.topics.partition_of(ti, 0).expect("partition");
            let log = &b.topics.partition(pi).expect("partition").log;
            assert_eq!(log.log_end_offset(), 0, "nothing written to {name}");
        }
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

    /// A batch of one record from producer `pid` (transactional when `txn`) with `first`.
    fn batch_of(pid: i64, first: i32, txn: bool) -> Vec<u8> {
        let mut batch = BatchBuilder::new(0).producer(pid, 0, first, txn);
        batch.push(1_000, None, Some(b"v"), &[]);
        batch.finish()
    }

    /// Error code of each partition of a Produce at `version`, in request order.
    fn codes(b: &mut Driver<MemoryStorage>, version: i16, req: &ProduceRequest) -> Vec<i16> {
        let resp: ProduceResponse = call(b, version, req);
        resp.responses
            .iter()
            .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
            .collect()
    }

    fn log_end(b: &Broker<MemoryStorage>, name: &str, index: i32) -> i64 {
        let ti = b.topics.by_name(name).expect("topic");
        let pi = b.topics.partition_of(ti, index).expect("partition");
        b.topics
            .partition(pi)
            .expect("partition")
            .log
            .log_end_offset()
    }

    #[test]
    fn a_compacted_topic_refuses_a_batch_with_keyless_records_naming_each_one() {
        use crate::records::Compression;
        use crate::records::test_codecs::compressed;
        let mut b = broker();
        create(&mut b, "c", 1, &[("cleanup.policy", "delete,compact")]);
        let mut keyed = BatchBuilder::new(0);
        keyed.push(1_000, Some(b"k"), Some(b"v"), &[]);
        let keyed = keyed.finish();
        let mut batch = BatchBuilder::new(0);
        for key in [None, Some(&b"a"[..]), None, None, None] {
            batch.push(1_000, key, Some(b"v"), &[]);
        }
        let batch = batch.finish();
        let message = "Compacted topic cannot accept message without key in topic partition c-0";
        let shown = |i| format!("RecordError(batchIndex={i}, message='{message}')");
        let summary = format!(
            "One or more records have been rejected due to 4 record errors in total, and only \
             showing the first three errors at most: [{}, {}, {}]",
            shown(0),
            shown(2),
            shown(3)
        );
        for codec in [Compression::None, Compression::Gzip, Compression::Lz4] {
            for v in [3, 8, 11] {
                let request = produce_request("c", 0, compressed(&batch, codec));
                let resp: ProduceResponse = call(&mut b, v, &request);
                let p = &resp.responses[0].partition_responses[0];
                assert_eq!((p.error_code, p.base_offset), (87, -1), "INVALID_RECORD");
                let errors: Vec<_> = p
                    .record_errors
                    .iter()
                    .map(|e| (e.batch_index, e.batch_index_error_message.as_deref()))
                    .collect();
                if v >= 8 {
                    assert_eq!(errors, [0, 2, 3, 4].map(|i| (i, Some(message))));
                    assert_eq!(p.error_message.as_deref(), Some(summary.as_str()));
                } else {
                    assert!(errors.is_empty() && p.error_message.is_none());
                }
                assert_eq!(log_end(&b, "c", 0), 0, "nothing appended");
            }
        }
        // Keyed records are appended, and a topic without `compact` takes keyless ones.
        assert_eq!(codes(&mut b, 11, &produce_request("c", 0, keyed)), [0]);
        assert_eq!(log_end(&b, "c", 0), 1);
        create(&mut b, "d", 1, &[]);
        assert_eq!(codes(&mut b, 11, &produce_request("d", 0, batch)), [0]);
    }

    // Every code below is Apache Kafka 4.1.1's and 4.4.0's answer to the same request
    // (scripts/kafka-reference.sh; tests/python/test_idempotence.py sends them to both).
    const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    const INVALID_PRODUCER_ID_MAPPING: i16 = 49;

    #[test]
    fn a_producer_id_the_partition_has_not_seen_may_start_at_any_sequence_as_in_kafka() {
        let mut b = broker();
        create(&mut b, "t", 3, &[]);
        for v in [3, 9, 11] {
            // Never issued (Kafka keeps no registry of ids for idempotent producers) ...
            let unknown = 900_000 + i64::from(v);
            assert_eq!(
                codes(
                    &mut b,
                    v,
                    &produce_request("t", 0, batch_of(unknown, 0, false))
                ),
                [0]
            );
            assert_eq!(
                codes(
                    &mut b,
                    v,
                    &produce_request("t", 1, batch_of(unknown + 50, 5, false))
                ),
                [0]
            );
            // ... or issued, with its first batch on this partition at 5: Kafka's
            // ProducerAppendInfo accepts any sequence from a producer with no state here.
            let init = InitProducerIdRequest {
                transactional_id: None,
                ..Default::default()
            };
            let issued: InitProducerIdResponse = call(&mut b, 1, &init);
            assert_eq!(issued.error_code, 0);
            let first = batch_of(issued.producer_id, 5, false);
            assert_eq!(codes(&mut b, v, &produce_request("t", 2, first)), [0]);
        }
        assert_eq!(
            (
                log_end(&b, "t", 0),
                log_end(&b, "t", 1),
                log_end(&b, "t", 2)
            ),
            (3, 3, 3)
        );
    }

    #[test]
    fn a_transactional_batch_without_a_transactional_id_fails_the_whole_request() {
        let mut b = broker();
        create(&mut b, "t", 2, &[]);
        for v in [3, 9, 11] {
            let mut req = produce_request("t", 0, batch_of(4242, 0, true));
            // Kafka answers every partition alike, the plain batch beside it included.
            let plain = produce_request("t", 1, batch_of(-1, -1, false));
            req.topic_data[0]
                .partition_data
                .push(plain.topic_data[0].partition_data[0].clone());
            let refused = TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            assert_eq!(codes(&mut b, v, &req), [refused, refused]);
            // Also without a producer id, and before an unknown topic is looked at.
            let no_id = produce_request("t", 0, batch_of(-1, -1, true));
            assert_eq!(codes(&mut b, v, &no_id), [refused]);
            let unknown_topic = produce_request("nope", 0, batch_of(4242, 0, true));
            assert_eq!(codes(&mut b, v, &unknown_topic), [refused]);
        }
        assert_eq!((log_end(&b, "t", 0), log_end(&b, "t", 1)), (0, 0));
        // acks=0 gets no answer: the connection is closed, as Kafka does on an error.
        let mut quiet = produce_request("t", 0, batch_of(4242, 0, true));
        quiet.acks = 0;
        assert!(try_call::<_, _, ProduceResponse>(&mut b, 9, &quiet).is_none());
    }

    #[test]
    fn a_transactional_batch_outside_a_transaction_maps_to_no_transactional_id() {
        let mut b = broker();
        create(&mut b, "t", 2, &[]);
        for (seq, v) in [3, 9, 11].into_iter().enumerate() {
            let mut req = produce_request("t", 0, batch_of(4242, 0, true));
            req.transactional_id = Some("tx".into());
            // An idempotent batch in the same request is appended.
            let idempotent = produce_request("t", 1, batch_of(77, seq as i32, false));
            req.topic_data[0]
                .partition_data
                .push(idempotent.topic_data[0].partition_data[0].clone());
            assert_eq!(codes(&mut b, v, &req), [INVALID_PRODUCER_ID_MAPPING, 0]);
            // An unknown partition is answered as such first.
            let mut unknown = produce_request("t", 7, batch_of(4242, 0, true));
            unknown.transactional_id = Some("tx".into());
            assert_eq!(codes(&mut b, v, &unknown), [3]);
        }
        assert_eq!((log_end(&b, "t", 0), log_end(&b, "t", 1)), (0, 3));
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
        b.clock.set_unix_ms(now);

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

    /// One record stamped `ts`, as a v2 batch.
    fn stamped(ts: i64) -> Vec<u8> {
        let mut batch = BatchBuilder::new(0);
        batch.push(ts, None, Some(b"v"), &[]);
        batch.finish()
    }

    #[test]
    fn produce_v3_records_that_are_not_one_whole_v2_batch_are_invalid_records_as_in_kafka() {
        const INVALID_RECORD: i16 = 87;
        let mut b = broker();
        create(&mut b, "t", 1, &[]);
        let good = stamped(1);
        let mut legacy_magic = good.clone();
        legacy_magic[16] = 1;
        let mut longer = good.clone();
        let claimed = i32::try_from(good.len() - 12 + 100).expect("small");
        longer[8..12].copy_from_slice(&claimed.to_be_bytes());
        let mut two = good.clone();
        two.extend_from_slice(&good);
        for (name, records) in [
            ("magic 1 in a v2 layout", legacy_magic),
            ("a length past the bytes", longer),
            ("no batch", Vec::new()),
            ("two batches", two),
        ] {
            assert_eq!(
                codes(&mut b, 3, &produce_request("t", 0, records)),
                [INVALID_RECORD],
                "{name}"
            );
        }
        assert_eq!(log_end(&b, "t", 0), 0);
        assert_eq!(codes(&mut b, 3, &produce_request("t", 0, good)), [0]);
        // A name no topic can have is unknown, as any other (UNKNOWN_TOPIC_OR_PARTITION).
        assert_eq!(
            codes(&mut b, 3, &produce_request("bad name!", 0, stamped(1))),
            [3]
        );
    }

    #[test]
    fn records_stamped_more_than_an_hour_ahead_are_refused_unless_the_topic_allows_it() {
        const INVALID_TIMESTAMP: i16 = 32;
        let mut b = broker();
        let now = b.clock.unix_ms();
        create(&mut b, "t", 1, &[]);
        let day = 24 * 3_600_000;
        create(
            &mut b,
            "lenient",
            1,
            &[("message.timestamp.after.max.ms", "172800001")],
        );
        create(
            &mut b,
            "appended",
            1,
            &[("message.timestamp.type", "LogAppendTime")],
        );
        assert_eq!(
            codes(&mut b, 9, &produce_request("t", 0, stamped(now + 2 * day))),
            [INVALID_TIMESTAMP]
        );
        assert_eq!(log_end(&b, "t", 0), 0);
        assert_eq!(
            codes(
                &mut b,
                9,
                &produce_request("t", 0, stamped(now + 3_600_000))
            ),
            [0]
        );
        let ahead = stamped(now + 2 * day);
        assert_eq!(
            codes(&mut b, 9, &produce_request("lenient", 0, ahead.clone())),
            [0]
        );
        assert_eq!(
            codes(&mut b, 9, &produce_request("appended", 0, ahead)),
            [0]
        );
    }
}
