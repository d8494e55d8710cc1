//! Produce, hand-written for the hot path. The request is read in place: topic names and record
//! bytes borrow from the frame, so a record batch is copied once, into its segment. The response
//! is written field by field into the caller's buffer. The generated `ProduceRequest` and
//! `ProduceResponse` stay the reference: the tests below check both agree at every version.

use super::primitives::{self as p, DecodeError, EncodeError, Writer};

/// The versions of Produce this module reads and writes (those of the spec).
pub const VERSIONS: core::ops::RangeInclusive<i16> = 0..=11;

const FIRST_FLEXIBLE: i16 = 9;

/// A Produce request body, validated whole and read in place.
#[derive(Clone, Copy, Debug)]
pub struct ProduceView<'a> {
    /// The transactional id, if any (v3+).
    pub transactional_id: Option<&'a str>,
    /// Acknowledgements asked for: 0, 1 or -1.
    pub acks: i16,
    /// How long the client waits.
    pub timeout_ms: i32,
    topics: &'a [u8],
    topic_count: usize,
    flexible: bool,
}

/// One topic of a Produce request.
#[derive(Clone, Copy, Debug)]
pub struct TopicView<'a> {
    /// The topic's name.
    pub name: &'a str,
    partitions: &'a [u8],
    partition_count: usize,
    flexible: bool,
}

fn nom_error(e: nom::Err<DecodeError>) -> DecodeError {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::Truncated,
    }
}

impl<'a> ProduceView<'a> {
    /// Read a Produce request body at `version`, checking every field once so that iterating
    /// it afterwards cannot fail.
    pub fn decode(body: &'a [u8], version: i16) -> Result<Self, DecodeError> {
        if !VERSIONS.contains(&version) {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let flexible = version >= FIRST_FLEXIBLE;
        let parsed = (|| -> p::Parsed<'a, Self> {
            let mut input = body;
            let mut transactional_id = None;
            if version >= 3 {
                (input, transactional_id) =
                    p::nullable_str(input, flexible, true, "TransactionalId")?;
            }
            let (input, acks) = p::int16(input)?;
            let (input, timeout_ms) = p::int32(input)?;
            let (topics, count) = p::array_len(input, flexible)?;
            let topic_count =
                count.ok_or(nom::Err::Error(DecodeError::NullNotAllowed("TopicData")))?;
            let mut rest = topics;
            for _ in 0..topic_count {
                (rest, _) = topic(rest, flexible)?;
            }
            if flexible {
                (rest, _) = p::tagged_fields(rest, |_, _| Ok(()))?;
            }
            let view = ProduceView {
                transactional_id,
                acks,
                timeout_ms,
                topics,
                topic_count,
                flexible,
            };
            Ok((rest, view))
        })();
        parsed.map(|(_, view)| view).map_err(nom_error)
    }

    /// How many topics the request names.
    pub fn topic_count(&self) -> usize {
        self.topic_count
    }

    /// The topics, in request order.
    pub fn topics(&self) -> impl Iterator<Item = TopicView<'a>> + 'a {
        p::checked_entries(self.topics, self.topic_count, self.flexible, topic)
    }
}

impl<'a> TopicView<'a> {
    /// How many partitions the topic entry names.
    pub fn partition_count(&self) -> usize {
        self.partition_count
    }

    /// `(partition index, record bytes)` in request order; `None` records stand for null.
    pub fn partitions(&self) -> impl Iterator<Item = (i32, Option<&'a [u8]>)> + 'a {
        p::checked_entries(
            self.partitions,
            self.partition_count,
            self.flexible,
            partition,
        )
    }
}

fn topic(input: &[u8], flexible: bool) -> p::Parsed<'_, TopicView<'_>> {
    let (input, name) = p::nullable_str(input, flexible, false, "Name")?;
    let (partitions, count) = p::array_len(input, flexible)?;
    let partition_count = count.ok_or(nom::Err::Error(DecodeError::NullNotAllowed(
        "PartitionData",
    )))?;
    let mut rest = partitions;
    for _ in 0..partition_count {
        (rest, _) = partition(rest, flexible)?;
    }
    if flexible {
        (rest, _) = p::tagged_fields(rest, |_, _| Ok(()))?;
    }
    let name = name.unwrap_or_default();
    Ok((
        rest,
        TopicView {
            name,
            partitions,
            partition_count,
            flexible,
        },
    ))
}

fn partition(input: &[u8], flexible: bool) -> p::Parsed<'_, (i32, Option<&[u8]>)> {
    let (input, index) = p::int32(input)?;
    let (mut input, records) = p::nullable_bytes_ref(input, flexible, true, "Records")?;
    if flexible {
        (input, _) = p::tagged_fields(input, |_, _| Ok(()))?;
    }
    Ok((input, (index, records)))
}

/// One record that caused its batch to be refused (the response's `BatchIndexAndErrorMessage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordError<'a> {
    /// The record's index within its batch.
    pub batch_index: i32,
    /// Why it was refused.
    pub message: Option<&'a str>,
}

/// Writes a Produce response body in order: `begin`, then per topic `topic`, its partitions with
/// `partition`, `end_topic`; finally `end`.
#[derive(Debug)]
pub struct ProduceResponseWriter {
    version: i16,
    flexible: bool,
}

impl ProduceResponseWriter {
    /// Start a response with `topic_count` topics.
    pub fn begin(w: &mut Writer, version: i16, topic_count: usize) -> Result<Self, EncodeError> {
        if !VERSIONS.contains(&version) {
            return Err(EncodeError::UnsupportedVersion(version));
        }
        let flexible = version >= FIRST_FLEXIBLE;
        w.put_array_len(Some(topic_count), flexible)?;
        Ok(ProduceResponseWriter { version, flexible })
    }

    /// Start a topic with `partition_count` partitions.
    pub fn topic(
        &self,
        w: &mut Writer,
        name: &str,
        partition_count: usize,
    ) -> Result<(), EncodeError> {
        w.put_string(name, self.flexible)?;
        w.put_array_len(Some(partition_count), self.flexible)
    }

    /// One partition's result. `log_append_time_ms` (-1 for CreateTime topics) is sent from v2,
    /// `log_start_offset` from v5.
    pub fn partition(
        &self,
        w: &mut Writer,
        index: i32,
        error_code: i16,
        base_offset: i64,
        log_append_time_ms: i64,
        log_start_offset: i64,
    ) -> Result<(), EncodeError> {
        let v = self.version;
        w.put_i32(index);
        w.put_i16(error_code);
        w.put_i64(base_offset);
        if v >= 2 {
            w.put_i64(log_append_time_ms);
        }
        if v >= 5 {
            w.put_i64(log_start_offset);
        }
        self.end_partition(w, &[], None)
    }

    /// One partition's refusal with the records that caused it (KIP-467): `record_errors` and
    /// `error_message` are sent from v8; the offsets are Kafka's "none" (-1).
    pub fn partition_refused(
        &self,
        w: &mut Writer,
        index: i32,
        error_code: i16,
        record_errors: &[RecordError<'_>],
        error_message: Option<&str>,
    ) -> Result<(), EncodeError> {
        w.put_i32(index);
        w.put_i16(error_code);
        w.put_i64(-1);
        if self.version >= 2 {
            w.put_i64(-1);
        }
        if self.version >= 5 {
            w.put_i64(-1);
        }
        self.end_partition(w, record_errors, error_message)
    }

    fn end_partition(
        &self,
        w: &mut Writer,
        record_errors: &[RecordError<'_>],
        error_message: Option<&str>,
    ) -> Result<(), EncodeError> {
        if self.version >= 8 {
            w.put_array_len(Some(record_errors.len()), self.flexible)?;
            for e in record_errors {
                w.put_i32(e.batch_index);
                w.put_nullable_string(e.message, self.flexible, true, "BatchIndexErrorMessage")?;
                if self.flexible {
                    w.put_uvarint(0);
                }
            }
            w.put_nullable_string(error_message, self.flexible, true, "ErrorMessage")?;
        }
        if self.flexible {
            w.put_uvarint(0);
        }
        Ok(())
    }

    /// Close a topic.
    pub fn end_topic(&self, w: &mut Writer) {
        if self.flexible {
            w.put_uvarint(0);
        }
    }

    /// Close the response.
    pub fn end(self, w: &mut Writer) {
        if self.version >= 1 {
            w.put_i32(0);
        }
        if self.flexible {
            w.put_uvarint(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use crate::codec::messages::produce_response::{
        BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
    };
    use crate::codec::messages::{ProduceRequest, ProduceResponse};
    use crate::codec::{Message, Records};
    use alloc::vec;
    use alloc::vec::Vec;

    fn request() -> ProduceRequest {
        ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms: 1500,
            topic_data: vec![
                TopicProduceData {
                    name: "a".into(),
                    partition_data: vec![
                        PartitionProduceData {
                            index: 0,
                            records: Some(Records::Bytes(vec![1, 2, 3])),
                        },
                        PartitionProduceData {
                            index: 7,
                            records: None,
                        },
                    ],
                },
                TopicProduceData {
                    name: "bé".into(),
                    partition_data: vec![],
                },
            ],
        }
    }

    #[test]
    fn view_reads_what_the_generated_encoder_writes() {
        for v in VERSIONS {
            let mut w = Writer::new();
            request().encode(&mut w, v).expect("encodes");
            let bytes = w.into_bytes();
            let view = ProduceView::decode(&bytes, v).expect("decodes");
            assert_eq!(
                (view.acks, view.timeout_ms, view.topic_count()),
                (-1, 1500, 2)
            );
            let topics: Vec<_> = view.topics().collect();
            assert_eq!(topics.len(), 2);
            assert_eq!(topics[0].name, "a");
            let parts: Vec<_> = topics[0].partitions().collect();
            assert_eq!(parts, vec![(0, Some(&[1u8, 2, 3][..])), (7, None)]);
            assert_eq!(topics[1].name, "bé");
            assert_eq!(topics[1].partitions().count(), 0);
        }
    }

    #[test]
    fn view_refuses_what_the_generated_decoder_refuses() {
        let mut w = Writer::new();
        request().encode(&mut w, 9).expect("encodes");
        let bytes = w.into_bytes();
        for cut in 0..bytes.len() {
            let ours = ProduceView::decode(&bytes[..cut], 9).is_ok();
            let generated = ProduceRequest::decode(&bytes[..cut], 9).is_ok();
            assert_eq!(ours, generated, "cut at {cut}");
        }
        assert!(ProduceView::decode(&bytes, 12).is_err());
    }

    /// The answer the writer below must reproduce byte for byte, at version `v`: a partition
    /// written, one refused, one refused with record errors (KIP-467).
    fn expected_response(v: i16) -> ProduceResponse {
        ProduceResponse {
            responses: vec![TopicProduceResponse {
                name: "t".into(),
                partition_responses: vec![
                    PartitionProduceResponse {
                        index: 1,
                        error_code: 0,
                        base_offset: 42,
                        log_append_time_ms: if v >= 2 { 1_700_000_000_000 } else { -1 },
                        log_start_offset: if v >= 5 { 3 } else { -1 },
                        ..Default::default()
                    },
                    PartitionProduceResponse {
                        index: 2,
                        error_code: 3,
                        base_offset: -1,
                        log_append_time_ms: -1,
                        log_start_offset: -1,
                        ..Default::default()
                    },
                    PartitionProduceResponse {
                        index: 3,
                        error_code: 87,
                        base_offset: -1,
                        log_append_time_ms: -1,
                        log_start_offset: -1,
                        record_errors: if v >= 8 {
                            vec![
                                BatchIndexAndErrorMessage {
                                    batch_index: 1,
                                    batch_index_error_message: Some("no key".into()),
                                },
                                BatchIndexAndErrorMessage {
                                    batch_index: 4,
                                    batch_index_error_message: None,
                                },
                            ]
                        } else {
                            vec![]
                        },
                        error_message: (v >= 8).then(|| "two records".into()),
                        ..Default::default()
                    },
                ],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn writer_matches_the_generated_encoder() {
        for v in VERSIONS {
            let expected = expected_response(v);
            let mut w = Writer::new();
            expected.encode(&mut w, v).expect("encodes");
            let mut ours = Writer::new();
            let r = ProduceResponseWriter::begin(&mut ours, v, 1).expect("begins");
            r.topic(&mut ours, "t", 3).expect("topic");
            r.partition(&mut ours, 1, 0, 42, 1_700_000_000_000, 3)
                .expect("partition");
            r.partition(&mut ours, 2, 3, -1, -1, -1).expect("partition");
            let record_errors = [
                RecordError {
                    batch_index: 1,
                    message: Some("no key"),
                },
                RecordError {
                    batch_index: 4,
                    message: None,
                },
            ];
            r.partition_refused(&mut ours, 3, 87, &record_errors, Some("two records"))
                .expect("partition");
            r.end_topic(&mut ours);
            r.end(&mut ours);
            assert_eq!(ours.into_bytes(), w.into_bytes(), "version {v}");
        }
    }
}
