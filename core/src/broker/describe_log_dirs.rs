//! DescribeLogDirs (KIP-113): the one log directory and the size of each partition in it, as
//! `kafka-log-dirs --describe` asks.

use alloc::vec::Vec;

use super::{Broker, Hdr, Reply};
use crate::codec::Message;
use crate::codec::messages::describe_log_dirs_request::DescribableLogDirTopic;
use crate::codec::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use crate::codec::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};
use crate::storage::Storage;

/// Kafka's answer for a volume whose size it does not know (`UNKNOWN_VOLUME_BYTES`): `core`
/// reads no file system, so the total and usable bytes are not known here.
const UNKNOWN_VOLUME_BYTES: i64 = -1;

impl<S: Storage> Broker<S> {
    pub(super) fn describe_log_dirs(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = DescribeLogDirsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let topics = match request.topics {
            // Null asks for every partition in the directory.
            None => self.all_log_dir_topics(),
            Some(wanted) => self.log_dir_topics(&wanted),
        };
        let response = DescribeLogDirsResponse {
            results: alloc::vec![DescribeLogDirsResult {
                log_dir: self.config.log_dir.clone(),
                topics,
                total_bytes: UNKNOWN_VOLUME_BYTES,
                usable_bytes: UNKNOWN_VOLUME_BYTES,
                ..Default::default()
            }],
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    fn all_log_dir_topics(&self) -> Vec<DescribeLogDirsTopic> {
        self.topics
            .iter()
            .map(|(_, t)| {
                let all: Vec<i32> = (0..t.partitions.len())
                    .filter_map(|p| i32::try_from(p).ok())
                    .collect();
                self.log_dir_topic(&t.name, &all)
            })
            .filter(|t| !t.partitions.is_empty())
            .collect()
    }

    /// The asked partitions that exist; Kafka leaves the others out without an error.
    fn log_dir_topics(&self, wanted: &[DescribableLogDirTopic]) -> Vec<DescribeLogDirsTopic> {
        wanted
            .iter()
            .map(|t| self.log_dir_topic(&t.topic, &t.partitions))
            .filter(|t| !t.partitions.is_empty())
            .collect()
    }

    fn log_dir_topic(&self, name: &str, partitions: &[i32]) -> DescribeLogDirsTopic {
        let topic = self.topics.by_name(name);
        let partitions = partitions
            .iter()
            .filter_map(|&p| {
                let idx = self.topics.partition_of(topic?, p)?;
                let size = self.topics.partition(idx)?.log.size_bytes();
                Some(DescribeLogDirsPartition {
                    partition_index: p,
                    partition_size: i64::try_from(size).unwrap_or(i64::MAX),
                    // The only replica is the leader: no lag, and no future replica moving.
                    offset_lag: 0,
                    is_future_key: false,
                })
            })
            .collect();
        DescribeLogDirsTopic {
            name: name.into(),
            partitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::harness::{broker, call, create, produce_request};
    use crate::codec::messages::ProduceResponse;
    use crate::records::BatchBuilder;

    #[test]
    fn partitions_are_listed_with_their_sizes() {
        let mut b = broker();
        create(&mut b, "a", 2, &[]);
        create(&mut b, "b", 1, &[]);
        let mut batch = BatchBuilder::new(0);
        batch.push(1, None, Some(b"x"), &[]);
        let bytes = batch.finish();
        let len = bytes.len() as i64;
        let resp: ProduceResponse = call(&mut b, 9, &produce_request("a", 1, bytes));
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
        for v in 0..=4 {
            let all: DescribeLogDirsResponse =
                call(&mut b, v, &DescribeLogDirsRequest { topics: None });
            assert_eq!(all.results.len(), 1);
            let dir = &all.results[0];
            assert_eq!(dir.log_dir, b.config().log_dir);
            let listed: Vec<(&str, i32, i64)> = dir
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (t.name.as_str(), p.partition_index, p.partition_size))
                })
                .collect();
            assert_eq!(listed, [("a", 0, 0), ("a", 1, len), ("b", 0, 0)]);
            if v >= 4 {
                assert_eq!(dir.total_bytes, UNKNOWN_VOLUME_BYTES);
            }
        }
        let some = DescribeLogDirsRequest {
            topics: Some(alloc::vec![
                DescribableLogDirTopic {
                    topic: "a".into(),
                    partitions: alloc::vec![1, 7]
                },
                DescribableLogDirTopic {
                    topic: "nope".into(),
                    partitions: alloc::vec![0]
                },
            ]),
        };
        let resp: DescribeLogDirsResponse = call(&mut b, 4, &some);
        let topics = &resp.results[0].topics;
        assert_eq!(topics.len(), 1);
        assert_eq!(topics[0].name, "a");
        assert_eq!(topics[0].partitions.len(), 1);
        assert_eq!(topics[0].partitions[0].partition_index, 1);
    }
}
