//! The transaction APIs (KIP-98, KIP-360, KIP-447) over the coordinator in `crate::txn`:
//! InitProducerId with a transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
//! TxnOffsetCommit, DescribeTransactions and ListTransactions, and the timeouts.
//!
//! Every change is written to the transaction log before it takes effect; ending a transaction
//! writes `PrepareCommit`/`PrepareAbort`, then a marker into each of its partitions (and, on
//! commit, its offsets into their groups), then `CompleteCommit`/`CompleteAbort`, all in one
//! turn. A crash in between leaves the prepared state in the log: the replay at startup
//! completes it.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::groups::OFFSETS_TOPIC;
use super::{Broker, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, DescribeProducersRequest, DescribeProducersResponse,
    DescribeTransactionsRequest, DescribeTransactionsResponse, EndTxnRequest, EndTxnResponse,
    InitProducerIdRequest, InitProducerIdResponse, ListTransactionsRequest,
    ListTransactionsResponse, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
    add_partitions_to_txn_request as aptr, add_partitions_to_txn_response as aptx,
    describe_producers_response as dpx, describe_transactions_response as dtx,
    list_transactions_response as ltx, txn_offset_commit_response as toc,
};
use crate::group::{CommitPartition, CommitRequest};
use crate::records::BatchBuilder;
use crate::storage::Storage;
use crate::time::Instant;
use crate::txn::{
    PendingOffset, TRANSACTION_STATE_TOPIC, TxnCoordinator, TxnMetadata, TxnState, records,
};

/// How long a transaction whose end could not be written waits before the next try.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// The partition of the offsets log a group's offsets go to: the log has one.
fn offsets_partition() -> (String, i32) {
    (String::from(OFFSETS_TOPIC), 0)
}

/// The error a request of version `v` of an API reports for `code`: PRODUCER_FENCED exists from
/// `fenced_from` on (older versions say INVALID_PRODUCER_EPOCH), TRANSACTION_ABORTABLE from
/// `abortable_from` on (older ones say INVALID_TXN_STATE).
fn versioned(code: ErrorCode, v: i16, fenced_from: i16, abortable_from: i16) -> ErrorCode {
    match code {
        ErrorCode::ProducerFenced if v < fenced_from => ErrorCode::InvalidProducerEpoch,
        ErrorCode::InvalidTxnState if v >= abortable_from => ErrorCode::TransactionAbortable,
        code => code,
    }
}

impl<S: Storage> Broker<S> {
    /// InitProducerId with a transactional id.
    pub(super) fn init_transactional(
        &mut self,
        v: i16,
        request: &InitProducerIdRequest,
        id: &str,
    ) -> InitProducerIdResponse {
        let failed = |code: ErrorCode| InitProducerIdResponse {
            error_code: versioned(code, v, 4, i16::MAX).code(),
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        if id.is_empty() {
            return failed(ErrorCode::InvalidRequest);
        }
        let expected = (v >= 3 && request.producer_id >= 0)
            .then_some((request.producer_id, request.producer_epoch));
        let mut next_id = self.next_producer_id;
        let plan = self.txns.prepare_init(
            id,
            request.transaction_timeout_ms,
            expected,
            self.unix_ms,
            &mut || {
                next_id += 1;
                next_id - 1
            },
        );
        self.next_producer_id = next_id;
        let plan = match plan {
            Ok(plan) => plan,
            Err(code) => return failed(code),
        };
        if let Some(fence) = plan.fence {
            if let Err(code) = self
                .store_txn(id, fence)
                .and_then(|()| self.complete_txn(id))
            {
                return failed(code);
            }
        }
        let init = plan.init;
        let (producer_id, producer_epoch) = (init.producer_id, init.producer_epoch);
        match self.store_txn(id, init) {
            Ok(()) => InitProducerIdResponse {
                producer_id,
                producer_epoch,
                ..Default::default()
            },
            Err(code) => failed(code),
        }
    }

    pub(super) fn add_partitions_to_txn(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = AddPartitionsToTxnRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        if v <= 3 {
            let results = self.add_partitions(
                v,
                &request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id,
                request.v3_and_below_producer_epoch,
                false,
                &request.v3_and_below_topics,
            );
            let response = AddPartitionsToTxnResponse {
                results_by_topic_v3_and_below: results,
                ..Default::default()
            };
            return self.respond(hdr, &response);
        }
        // v4+ (brokers' batched form): each transaction on its own.
        let results_by_transaction = request
            .transactions
            .iter()
            .map(|t| aptx::AddPartitionsToTxnResult {
                transactional_id: t.transactional_id.clone(),
                topic_results: self.add_partitions(
                    v,
                    &t.transactional_id,
                    t.producer_id,
                    t.producer_epoch,
                    t.verify_only,
                    &t.topics,
                ),
            })
            .collect();
        let response = AddPartitionsToTxnResponse {
            results_by_transaction,
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    /// One transaction's partitions added (or, `verify_only`, checked to be in it), answered
    /// per partition: unknown partitions UNKNOWN_TOPIC_OR_PARTITION and the others
    /// OPERATION_NOT_ATTEMPTED, as Kafka answers before it asks the coordinator.
    fn add_partitions(
        &mut self,
        v: i16,
        id: &str,
        producer_id: i64,
        epoch: i16,
        verify_only: bool,
        topics: &[aptr::AddPartitionsToTxnTopic],
    ) -> Vec<aptx::AddPartitionsToTxnTopicResult> {
        let wanted: Vec<(String, i32)> = topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| (t.name.clone(), p)))
            .collect();
        let unknown = |b: &Self, (t, p): &(String, i32)| {
            !b.has_partition(t, *p) || t == TRANSACTION_STATE_TOPIC
        };
        let any_unknown = wanted.iter().any(|tp| unknown(self, tp));
        let outcome: Vec<ErrorCode> = if any_unknown {
            wanted
                .iter()
                .map(|tp| {
                    if unknown(self, tp) {
                        ErrorCode::UnknownTopicOrPartition
                    } else {
                        ErrorCode::OperationNotAttempted
                    }
                })
                .collect()
        } else if verify_only {
            wanted
                .iter()
                .map(|tp| {
                    let r = self.txns.check_in_transaction(id, producer_id, epoch, tp);
                    versioned(r.err().unwrap_or(ErrorCode::None), v, 2, 5)
                })
                .collect()
        } else {
            let code = self.add_to_transaction(id, producer_id, epoch, &wanted);
            let code = versioned(code.err().unwrap_or(ErrorCode::None), v, 2, 5);
            wanted.iter().map(|_| code).collect()
        };
        let mut results: Vec<aptx::AddPartitionsToTxnTopicResult> = Vec::new();
        for ((topic, partition), code) in wanted.into_iter().zip(outcome) {
            let entry = aptx::AddPartitionsToTxnPartitionResult {
                partition_index: partition,
                partition_error_code: code.code(),
            };
            match results.iter_mut().find(|r| r.name == topic) {
                Some(r) => r.results_by_partition.push(entry),
                None => results.push(aptx::AddPartitionsToTxnTopicResult {
                    name: topic,
                    results_by_partition: alloc::vec![entry],
                }),
            }
        }
        results
    }

    /// The partitions join `id`'s transaction, stored before the answer.
    fn add_to_transaction(
        &mut self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), ErrorCode> {
        if id.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        let next = self
            .txns
            .prepare_add(id, producer_id, epoch, partitions, self.unix_ms)?;
        match next {
            Some(next) => self.store_txn(id, next),
            None => Ok(()),
        }
    }

    pub(super) fn add_offsets_to_txn(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, r)) = AddOffsetsToTxnRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let result = if r.group_id.is_empty() {
            Err(ErrorCode::InvalidGroupId)
        } else {
            let partitions = [offsets_partition()];
            self.ensure_offsets_log().and_then(|()| {
                self.add_to_transaction(
                    &r.transactional_id,
                    r.producer_id,
                    r.producer_epoch,
                    &partitions,
                )
            })
        };
        let code = versioned(
            result.err().unwrap_or(ErrorCode::None),
            hdr.api_version,
            2,
            4,
        );
        let response = AddOffsetsToTxnResponse {
            error_code: code.code(),
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    pub(super) fn end_txn(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, r)) = EndTxnRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let id = &r.transactional_id;
        let result = if id.is_empty() {
            Err(ErrorCode::InvalidRequest)
        } else {
            self.txns
                .prepare_end(
                    id,
                    r.producer_id,
                    r.producer_epoch,
                    r.committed,
                    self.unix_ms,
                )
                .and_then(|prepared| match prepared {
                    Some(prepared) => self
                        .store_txn(id, prepared)
                        .and_then(|()| self.complete_txn(id)),
                    None => Ok(()),
                })
        };
        let code = versioned(
            result.err().unwrap_or(ErrorCode::None),
            hdr.api_version,
            2,
            4,
        );
        let response = EndTxnResponse {
            error_code: code.code(),
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    pub(super) fn txn_offset_commit(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, r)) = TxnOffsetCommitRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let v = hdr.api_version;
        let result = self.stage_txn_offsets(&r);
        // TxnOffsetCommit has no PRODUCER_FENCED: a stale epoch is INVALID_PRODUCER_EPOCH.
        let code = versioned(result.err().unwrap_or(ErrorCode::None), v, i16::MAX, 4);
        let topics = r
            .topics
            .iter()
            .map(|t| toc::TxnOffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| toc::TxnOffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code.code(),
                    })
                    .collect(),
            })
            .collect();
        let response = TxnOffsetCommitResponse {
            topics,
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    /// TxnOffsetCommit's checks, then its offsets held in the transaction (stored with it).
    fn stage_txn_offsets(&mut self, r: &TxnOffsetCommitRequest) -> Result<(), ErrorCode> {
        if r.group_id.is_empty() {
            return Err(ErrorCode::InvalidGroupId);
        }
        let check = CommitRequest {
            group_id: r.group_id.clone(),
            generation_id: r.generation_id,
            member_id: r.member_id.clone(),
            group_instance_id: r.group_instance_id.clone(),
            topics: Vec::new(),
        };
        self.groups.check_transactional_commit(self.now, &check)?;
        let mut offsets = Vec::new();
        for t in &r.topics {
            for p in &t.partitions {
                if !self.has_partition(&t.name, p.partition_index) {
                    return Err(ErrorCode::UnknownTopicOrPartition);
                }
                let pending = PendingOffset {
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.clone(),
                };
                offsets.push(((t.name.clone(), p.partition_index), pending));
            }
        }
        let next = self.txns.prepare_offsets(
            &r.transactional_id,
            (r.producer_id, r.producer_epoch),
            &offsets_partition(),
            &r.group_id,
            offsets,
            self.unix_ms,
        )?;
        self.store_txn(&r.transactional_id, next)
    }

    /// DescribeProducers: the producers each partition has seen, with the first offset of the
    /// transaction each has open there.
    pub(super) fn describe_producers(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, r)) = DescribeProducersRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let topics = r
            .topics
            .iter()
            .map(|t| dpx::TopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partition_indexes
                    .iter()
                    .map(|&index| self.producers_of(&t.name, index))
                    .collect(),
            })
            .collect();
        let response = DescribeProducersResponse {
            topics,
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    fn producers_of(&self, topic: &str, index: i32) -> dpx::PartitionResponse {
        let found = self
            .topics
            .by_name(topic)
            .and_then(|ti| self.topics.partition_of(ti, index))
            .and_then(|pi| self.topics.partition(pi).map(|p| (pi, p)));
        let Some((pi, partition)) = found else {
            return dpx::PartitionResponse {
                partition_index: index,
                error_code: ErrorCode::UnknownTopicOrPartition.code(),
                ..Default::default()
            };
        };
        let active_producers = self
            .producers
            .on_partition(pi)
            .map(
                |(id, epoch, last_sequence, last_timestamp)| dpx::ProducerState {
                    producer_id: id,
                    producer_epoch: i32::from(epoch),
                    last_sequence,
                    last_timestamp,
                    coordinator_epoch: -1,
                    current_txn_start_offset: partition.txns.open_since(id).unwrap_or(-1),
                },
            )
            .collect();
        dpx::PartitionResponse {
            partition_index: index,
            active_producers,
            ..Default::default()
        }
    }

    pub(super) fn describe_transactions(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, r)) = DescribeTransactionsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let transaction_states = r
            .transactional_ids
            .iter()
            .map(|id| match self.txns.describe(id) {
                Ok(d) => {
                    let mut topics: Vec<dtx::TopicData> = Vec::new();
                    for (topic, partition) in d.partitions {
                        match topics.iter_mut().find(|t| t.topic == topic) {
                            Some(t) => t.partitions.push(partition),
                            None => topics.push(dtx::TopicData {
                                topic,
                                partitions: alloc::vec![partition],
                            }),
                        }
                    }
                    dtx::TransactionState {
                        transactional_id: id.clone(),
                        transaction_state: String::from(d.state.name()),
                        transaction_timeout_ms: d.timeout_ms,
                        transaction_start_time_ms: d.start_ms,
                        producer_id: d.producer_id,
                        producer_epoch: d.producer_epoch,
                        topics,
                        ..Default::default()
                    }
                }
                Err(code) => dtx::TransactionState {
                    error_code: code.code(),
                    transactional_id: id.clone(),
                    transaction_state: String::new(),
                    transaction_start_time_ms: -1,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                },
            })
            .collect();
        let response = DescribeTransactionsResponse {
            transaction_states,
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    pub(super) fn list_transactions(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, r)) = ListTransactionsRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        let mut states = Vec::new();
        let mut unknown_state_filters = Vec::new();
        for name in &r.state_filters {
            match TxnState::from_name(name) {
                Some(state) => states.push(state),
                None => unknown_state_filters.push(name.clone()),
            }
        }
        // Only unknown names: nothing can match them.
        let listed = if states.is_empty() && !unknown_state_filters.is_empty() {
            Vec::new()
        } else {
            let duration = if hdr.api_version >= 1 {
                r.duration_filter
            } else {
                -1
            };
            self.txns
                .list(&states, &r.producer_id_filters, duration, self.unix_ms)
        };
        let transaction_states = listed
            .into_iter()
            .map(|l| ltx::TransactionState {
                transactional_id: l.transactional_id,
                producer_id: l.producer_id,
                transaction_state: String::from(l.state.name()),
            })
            .collect();
        let response = ListTransactionsResponse {
            unknown_state_filters,
            transaction_states,
            ..Default::default()
        };
        self.respond(hdr, &response)
    }

    /// Kafka's verification of a transactional batch (KIP-890 part 1): its producer must hold
    /// `transactional_id` with this epoch, and the partition must be in the open transaction.
    /// The errors are Produce's: a stale epoch is INVALID_PRODUCER_EPOCH, a partition outside
    /// the transaction INVALID_TXN_STATE (TRANSACTION_ABORTABLE from Produce v11 on).
    pub(super) fn verify_transactional(
        &self,
        produce_version: i16,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), ErrorCode> {
        let tp = (String::from(topic), partition);
        self.txns
            .check_in_transaction(transactional_id, producer_id, epoch, &tp)
            .map_err(|code| versioned(code, produce_version, i16::MAX, 11))
    }

    /// Whether an open transaction holds an offset for the group's partition (OffsetFetch's
    /// `require_stable`).
    pub(super) fn offset_unstable(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.txns
            .has_pending_offset(group, &(String::from(topic), partition))
    }

    /// Write `meta` to the transaction log, then take it.
    fn store_txn(&mut self, id: &str, meta: TxnMetadata) -> Result<(), ErrorCode> {
        let mut batch = BatchBuilder::new(0);
        let value = records::value(&meta);
        batch.push(self.unix_ms, Some(&records::key(id)), Some(&value), &[]);
        self.append_internal(TRANSACTION_STATE_TOPIC, &batch.finish())?;
        self.txns.apply(id, meta);
        self.txn_arm();
        Ok(())
    }

    /// Finish `id`'s prepared transaction: a marker into each of its partitions, on commit its
    /// offsets into their groups, then its completion in the log.
    fn complete_txn(&mut self, id: &str) -> Result<(), ErrorCode> {
        let Some(prepared) = self.txns.get(id).cloned() else {
            return Ok(());
        };
        let commit = prepared.state == TxnState::PrepareCommit;
        for (topic, partition) in &prepared.partitions {
            // A partition deleted since it joined has nothing left to mark.
            let Some(pi) = self
                .topics
                .by_name(topic)
                .and_then(|ti| self.topics.partition_of(ti, *partition))
            else {
                continue;
            };
            self.write_transaction_marker(
                pi,
                prepared.producer_id,
                prepared.producer_epoch,
                commit,
                0,
            )?;
        }
        if commit && !prepared.offsets.is_empty() {
            for (group, offsets) in &prepared.offsets {
                let offsets = offsets
                    .iter()
                    .map(|((topic, partition), o)| {
                        let p = CommitPartition {
                            partition: *partition,
                            offset: o.offset,
                            leader_epoch: o.leader_epoch,
                            commit_timestamp_ms: -1,
                            metadata: o.metadata.clone(),
                        };
                        (topic.clone(), p)
                    })
                    .collect();
                // An offset refused for a bound is dropped as OffsetCommit would refuse it.
                self.groups
                    .commit_transactional(self.unix_ms, group, offsets);
            }
            if let Some(error) = self.drain_groups(None).error {
                return Err(error);
            }
        }
        let done = prepared.completed(self.unix_ms);
        self.store_txn(id, done)
    }

    /// The offsets log exists before a transaction names it as a partition.
    fn ensure_offsets_log(&mut self) -> Result<(), ErrorCode> {
        if self.topics.by_name(OFFSETS_TOPIC).is_none() {
            self.create_topic(OFFSETS_TOPIC, 1, Vec::new())?;
        }
        Ok(())
    }

    /// The next time the coordinator must act: the oldest open transaction's timeout, or a
    /// retry of a transaction whose end could not be written.
    fn txn_arm(&mut self) {
        let expiration_ms = self.config.transactional_id_expiration_ms;
        let expiry = [
            self.txns.next_expiry_ms(),
            self.txns.next_idle_expiry_ms(expiration_ms),
        ];
        let at = expiry
            .into_iter()
            .flatten()
            .min()
            .map(|ms| self.instant_of(ms));
        self.txn_deadline = [at, self.txn_retry].into_iter().flatten().min();
    }

    /// Abort the transactions that timed out (fencing their producers) and finish those whose
    /// end could not be written before. Called on every timeout; cheap when nothing is due.
    pub(super) fn txn_timer(&mut self) {
        let due = self.txn_deadline.is_some_and(|d| d <= self.now);
        if !due {
            return;
        }
        self.txn_retry = None;
        let mut failed = false;
        for id in self.txns.prepared() {
            failed |= self.complete_txn(&id).is_err();
        }
        for id in self.txns.expired(self.unix_ms) {
            if let Some(abort) = self.txns.prepare_timeout(&id, self.unix_ms) {
                failed |= self
                    .store_txn(&id, abort)
                    .and_then(|()| self.complete_txn(&id))
                    .is_err();
            }
        }
        let expiration_ms = self.config.transactional_id_expiration_ms;
        for id in self.txns.idle_expired(self.unix_ms, expiration_ms) {
            failed |= self.expire_txn(&id).is_err();
        }
        if failed {
            self.txn_retry = Some(self.now + RETRY_BACKOFF);
        }
        self.txn_arm();
    }

    /// Forget an idle transactional id: a tombstone in the log, then out of memory.
    fn expire_txn(&mut self, id: &str) -> Result<(), ErrorCode> {
        let mut batch = BatchBuilder::new(0);
        batch.push(self.unix_ms, Some(&records::key(id)), None, &[]);
        self.append_internal(TRANSACTION_STATE_TOPIC, &batch.finish())?;
        self.txns.remove(id);
        Ok(())
    }
}

/// Rebuild the coordinator from the transaction log, oldest record first.
pub(super) fn replay<S: Storage>(
    txns: &mut TxnCoordinator,
    log: &mut crate::log::PartitionLog<S::Segment>,
    storage: &mut S,
) -> Result<(), crate::storage::StorageError> {
    super::log_replay::each_record(log, storage, &mut |key, value| {
        // A record that does not parse was never acknowledged as anything: skipped.
        if txns.replay(key, value).is_err() {}
    })
}

/// A broker that starts with transactional ids looks at them at once: prepared transactions (a
/// crash between their prepare and their completion) are completed, and the timeouts and
/// expirations of the rest become its deadline.
pub(super) fn deadline_after_replay(txns: &TxnCoordinator, now: Instant) -> Option<Instant> {
    (!txns.is_empty()).then_some(now)
}

#[cfg(test)]
mod tests;
