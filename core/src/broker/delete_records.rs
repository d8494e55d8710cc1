//! DeleteRecords (KIP-107): raise partitions' log start offsets, then delete the segments that
//! lie wholly below them.

use alloc::vec::Vec;

use super::{Broker, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use crate::codec::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use crate::log::Retention;
use crate::storage::Storage;

/// The offset that names the high watermark (Kafka's `DeleteRecordsRequest.HIGH_WATERMARK`).
const HIGH_WATERMARK: i64 = -1;

impl<S: Storage> Broker<S> {
    pub(super) fn delete_records(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = DeleteRecordsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let mut moved = Vec::new();
        let mut topics = Vec::with_capacity(request.topics.len());
        for t in &request.topics {
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in &t.partitions {
                let result = self.delete_records_of(&t.name, p.partition_index, p.offset);
                let (low_watermark, code) = match result {
                    Ok((low, pi)) => {
                        moved.extend(pi);
                        (low, ErrorCode::None)
                    }
                    Err(code) => (-1, code),
                };
                partitions.push(DeleteRecordsPartitionResult {
                    partition_index: p.partition_index,
                    low_watermark,
                    error_code: code.code(),
                });
            }
            topics.push(DeleteRecordsTopicResult {
                name: t.name.clone(),
                partitions,
            });
        }
        // Parked fetches below the new start now get OFFSET_OUT_OF_RANGE.
        self.wake_fetches(&moved);
        self.respond(
            hdr,
            &DeleteRecordsResponse {
                throttle_time_ms: 0,
                topics,
            },
        )
    }

    /// Delete the records of one partition below `offset`; returns the new log start offset (the
    /// low watermark) and the partition's index if the start moved. Errors as Kafka's
    /// `ReplicaManager.deleteRecords`.
    fn delete_records_of(
        &mut self,
        topic: &str,
        index: i32,
        offset: i64,
    ) -> Result<(i64, Option<u32>), ErrorCode> {
        if super::names::is_internal(topic) {
            // "Cannot delete records of internal topic".
            return Err(ErrorCode::InvalidTopicException);
        }
        let ti = self
            .topics
            .by_name(topic)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let pi = self
            .topics
            .partition_of(ti, index)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        // A compacted topic keeps its records: "can not be deleted due to the configured policy".
        self.topic_retention(ti).ok_or(ErrorCode::PolicyViolation)?;
        let log = &mut self
            .topics
            .partition_mut(pi)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?
            .log;
        let high_watermark = log.log_end_offset();
        let target = if offset == HIGH_WATERMARK {
            high_watermark
        } else {
            offset
        };
        if target < 0 || target > high_watermark {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        if target <= log.log_start_offset() {
            // Kafka only ever raises the start: a lower offset is a success that changes nothing.
            return Ok((log.log_start_offset(), None));
        }
        // Recorded durably before any segment goes, so no restart finds records below it again.
        self.storage
            .write_log_start_offset(topic, index, target)
            .map_err(|_| ErrorCode::KafkaStorageError)?;
        log.raise_log_start_offset(target)
            .map_err(|e| e.error_code())?;
        // The start is raised and recorded: a segment file that cannot be removed now is removed
        // at the next start, as Kafka's deletion runs later on its own too.
        let _ = log.delete_old_segments(&mut self.storage, Retention::KEEP_ALL, self.unix_ms);
        let low_watermark = log.log_start_offset();
        self.prune_transactions(pi);
        Ok((low_watermark, Some(pi)))
    }
}
