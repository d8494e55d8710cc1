//! The coordinator's transitions, checked as Kafka's `TransactionCoordinator` checks them.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use super::state::{PendingOffset, TxnMetadata, TxnState, epoch_exhausted};
use crate::error::ErrorCode;

/// Every transactional id the coordinator knows, and the open transactions by expiry.
#[derive(Debug)]
pub struct TxnCoordinator {
    txns: BTreeMap<String, TxnMetadata>,
    /// `(expiry in wall-clock ms, transactional id)` of every open transaction: the next
    /// timeout is the first entry, found without a look at the others.
    expiry: BTreeSet<(i64, String)>,
    /// `(last update in wall-clock ms, transactional id)` of every id with no transaction open
    /// or ending: the next to expire is the first entry.
    idle: BTreeSet<(i64, String)>,
    /// Kafka's `transaction.max.timeout.ms`.
    max_timeout_ms: i32,
}

/// What InitProducerId writes, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitPlan {
    /// An open transaction is aborted first under a bumped epoch that fences its producer: this
    /// `PrepareAbort`, its markers, then its completion.
    pub fence: Option<TxnMetadata>,
    /// The transactional id's new producer id and epoch, `Empty`.
    pub init: TxnMetadata,
}

/// DescribeTransactions' view of one transactional id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub state: TxnState,
    pub timeout_ms: i32,
    pub start_ms: i64,
    pub partitions: Vec<(String, i32)>,
}

/// ListTransactions' view of one transactional id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub transactional_id: String,
    pub producer_id: i64,
    pub state: TxnState,
}

impl TxnCoordinator {
    pub fn new(max_timeout_ms: i32) -> Self {
        TxnCoordinator {
            txns: BTreeMap::new(),
            expiry: BTreeSet::new(),
            idle: BTreeSet::new(),
            max_timeout_ms,
        }
    }

    /// Whether no transactional id is known.
    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&TxnMetadata> {
        self.txns.get(id)
    }

    /// Take `meta` for `id` once it is stored.
    pub fn apply(&mut self, id: &str, meta: TxnMetadata) {
        self.forget_expiry(id);
        if let Some(at) = meta.expires_ms() {
            self.expiry.insert((at, String::from(id)));
        }
        if is_idle(&meta) {
            self.idle.insert((meta.last_update_ms, String::from(id)));
        }
        self.txns.insert(String::from(id), meta);
    }

    /// Forget `id` (its log record was a tombstone).
    pub fn remove(&mut self, id: &str) {
        self.forget_expiry(id);
        self.txns.remove(id);
    }

    fn forget_expiry(&mut self, id: &str) {
        let Some(meta) = self.txns.get(id) else {
            return;
        };
        if let Some(at) = meta.expires_ms() {
            self.expiry.remove(&(at, String::from(id)));
        }
        self.idle.remove(&(meta.last_update_ms, String::from(id)));
    }

    /// When the longest idle transactional id expires, `expiration_ms` after its last use
    /// (Kafka's `transactional.id.expiration.ms`).
    pub fn next_idle_expiry_ms(&self, expiration_ms: i64) -> Option<i64> {
        self.idle
            .first()
            .map(|(at, _)| at.saturating_add(expiration_ms))
    }

    /// The transactional ids unused for `expiration_ms` at `now_ms`: their producers may no
    /// longer resume, and their records are tombstoned.
    pub fn idle_expired(&self, now_ms: i64, expiration_ms: i64) -> Vec<String> {
        self.idle
            .iter()
            .take_while(|(at, _)| at.saturating_add(expiration_ms) <= now_ms)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// The highest producer id any transactional id holds (or held before a rotation): ids
    /// issued after a restart start above it.
    pub fn max_producer_id(&self) -> i64 {
        self.txns
            .values()
            .map(|m| m.producer_id.max(m.last_producer_id))
            .max()
            .unwrap_or(-1)
    }

    /// When the oldest open transaction times out (wall-clock ms).
    pub fn next_expiry_ms(&self) -> Option<i64> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// The open transactions whose timeout has passed at `now_ms`, oldest first.
    pub fn expired(&self, now_ms: i64) -> Vec<String> {
        self.expiry
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Transactional ids whose transaction must still be completed (after a replay that found
    /// it prepared but not complete).
    pub fn prepared(&self) -> Vec<String> {
        self.txns
            .iter()
            .filter(|(_, m)| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// InitProducerId with a transactional id: a producer id and a new epoch, fencing every
    /// older producer of the id. `expected` is the id and epoch a producer already has (v3+).
    pub fn prepare_init(
        &self,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now_ms: i64,
        new_producer_id: &mut dyn FnMut() -> i64,
    ) -> Result<InitPlan, ErrorCode> {
        if timeout_ms <= 0 || timeout_ms > self.max_timeout_ms {
            return Err(ErrorCode::InvalidTransactionTimeout);
        }
        let current = match self.txns.get(id) {
            Some(m) => m.clone(),
            None => TxnMetadata::new(new_producer_id(), timeout_ms, now_ms),
        };
        let fence = match current.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                return Err(ErrorCode::ConcurrentTransactions);
            }
            // Kafka aborts the open transaction under a bumped epoch, answers
            // CONCURRENT_TRANSACTIONS and bumps again when the producer retries; here the abort
            // completes in this turn, so the second bump follows at once.
            TxnState::Ongoing => Some(fenced(&current, now_ms)),
            _ => None,
        };
        let base = match &fence {
            Some(f) => f.completed(now_ms),
            None => current,
        };
        let init = next_epoch(&base, timeout_ms, expected, now_ms, new_producer_id)?;
        Ok(InitPlan { fence, init })
    }

    /// The checks every request of an open transaction passes: the id is known with this
    /// producer id (else INVALID_PRODUCER_ID_MAPPING) and epoch (else PRODUCER_FENCED).
    fn current(&self, id: &str, producer_id: i64, epoch: i16) -> Result<&TxnMetadata, ErrorCode> {
        let meta = self
            .txns
            .get(id)
            .filter(|m| m.producer_id == producer_id)
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        if meta.producer_epoch != epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        Ok(meta)
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, whose partition is the group's offsets log):
    /// `None` when every partition is already in the open transaction.
    pub fn prepare_add(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        now_ms: i64,
    ) -> Result<Option<TxnMetadata>, ErrorCode> {
        let meta = self.current(id, producer_id, epoch)?;
        match meta.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            TxnState::Ongoing if partitions.iter().all(|p| meta.partitions.contains(p)) => Ok(None),
            state => {
                let mut next = meta.clone();
                next.partitions.extend(partitions.iter().cloned());
                if state != TxnState::Ongoing {
                    next.start_ms = now_ms;
                    next.state = TxnState::Ongoing;
                }
                next.last_update_ms = now_ms;
                Ok(Some(next))
            }
        }
    }

    /// Whether `partition` is in the open transaction of `id` under this producer: Kafka's
    /// verification of a transactional batch and of TxnOffsetCommit. INVALID_TXN_STATE when it
    /// is not (newer request versions say TRANSACTION_ABORTABLE; the caller maps it).
    pub fn check_in_transaction(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partition: &(String, i32),
    ) -> Result<(), ErrorCode> {
        let meta = self.current(id, producer_id, epoch)?;
        if meta.state == TxnState::Ongoing && meta.partitions.contains(partition) {
            Ok(())
        } else {
            Err(ErrorCode::InvalidTxnState)
        }
    }

    /// TxnOffsetCommit of `producer` (id and epoch): the offsets join the open transaction,
    /// for `group`.
    pub fn prepare_offsets(
        &self,
        id: &str,
        (producer_id, epoch): (i64, i16),
        offsets_partition: &(String, i32),
        group: &str,
        offsets: Vec<((String, i32), PendingOffset)>,
        now_ms: i64,
    ) -> Result<TxnMetadata, ErrorCode> {
        self.check_in_transaction(id, producer_id, epoch, offsets_partition)?;
        let mut next = self.current(id, producer_id, epoch)?.clone();
        next.offsets
            .entry(String::from(group))
            .or_default()
            .extend(offsets);
        next.last_update_ms = now_ms;
        Ok(next)
    }

    /// EndTxn from the producer: `None` when the transaction already ended the same way (a
    /// retry), else its `PrepareCommit` or `PrepareAbort`.
    pub fn prepare_end(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> Result<Option<TxnMetadata>, ErrorCode> {
        let meta = self.current(id, producer_id, epoch)?;
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => {
                let mut next = meta.clone();
                next.state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                next.last_update_ms = now_ms;
                Ok(Some(next))
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(None),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            _ => Err(ErrorCode::InvalidTxnState),
        }
    }

    /// The abort of an open transaction that timed out, under a bumped epoch so its producer is
    /// fenced; `None` if `id` has none open.
    pub fn prepare_timeout(&self, id: &str, now_ms: i64) -> Option<TxnMetadata> {
        self.txns
            .get(id)
            .filter(|m| m.state == TxnState::Ongoing)
            .map(|m| fenced(m, now_ms))
    }

    /// Whether an open transaction holds an offset for `group`'s `(topic, partition)`: the
    /// group's committed offset there is not stable yet (OffsetFetch's UNSTABLE_OFFSET_COMMIT).
    pub fn has_pending_offset(&self, group: &str, partition: &(String, i32)) -> bool {
        self.txns.values().any(|m| {
            m.offsets
                .get(group)
                .is_some_and(|offsets| offsets.contains_key(partition))
        })
    }

    pub fn describe(&self, id: &str) -> Result<Described, ErrorCode> {
        if id.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        let meta = self
            .txns
            .get(id)
            .filter(|m| m.state != TxnState::Dead)
            .ok_or(ErrorCode::TransactionalIdNotFound)?;
        Ok(Described {
            producer_id: meta.producer_id,
            producer_epoch: meta.producer_epoch,
            state: meta.state,
            timeout_ms: meta.timeout_ms,
            start_ms: meta.start_ms,
            partitions: meta.partitions.iter().cloned().collect(),
        })
    }

    /// ListTransactions: every id in one of `states` (all when empty) whose producer id is one
    /// of `producer_ids` (all when empty) and whose transaction began at least `min_duration_ms`
    /// before `now_ms` (v1; negative: no bound).
    pub fn list(
        &self,
        states: &[TxnState],
        producer_ids: &[i64],
        min_duration_ms: i64,
        now_ms: i64,
    ) -> Vec<Listed> {
        self.txns
            .iter()
            .filter(|(_, m)| m.state != TxnState::Dead)
            .filter(|(_, m)| states.is_empty() || states.contains(&m.state))
            .filter(|(_, m)| producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
            .filter(|(_, m)| {
                min_duration_ms < 0
                    || (m.state == TxnState::Ongoing
                        && now_ms.saturating_sub(m.start_ms) >= min_duration_ms)
            })
            .map(|(id, m)| Listed {
                transactional_id: id.clone(),
                producer_id: m.producer_id,
                state: m.state,
            })
            .collect()
    }
}

/// Whether `meta` has no transaction open or ending: it may expire.
fn is_idle(meta: &TxnMetadata) -> bool {
    matches!(
        meta.state,
        TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
    )
}

/// `meta` aborting under the next epoch (the same once exhausted), which fences its producer.
fn fenced(meta: &TxnMetadata, now_ms: i64) -> TxnMetadata {
    let mut next = meta.clone();
    if !epoch_exhausted(meta.producer_epoch) {
        next.producer_epoch = meta.producer_epoch + 1;
    }
    next.last_producer_epoch = -1;
    next.state = TxnState::PrepareAbort;
    next.last_update_ms = now_ms;
    next
}

/// Kafka's `prepareIncrementProducerEpoch` and `prepareProducerIdRotation`: the next epoch of
/// a transactional id with no open transaction, or a new producer id once epochs run out.
fn next_epoch(
    meta: &TxnMetadata,
    timeout_ms: i32,
    expected: Option<(i64, i16)>,
    now_ms: i64,
    new_producer_id: &mut dyn FnMut() -> i64,
) -> Result<TxnMetadata, ErrorCode> {
    // A producer that names its id must hold this id's current one, or the previous one when it
    // is retrying the rotation that replaced it.
    let known = |(pid, epoch): (i64, i16)| {
        meta.producer_epoch == -1
            || pid == meta.producer_id
            || (pid == meta.last_producer_id && epoch_exhausted(epoch))
    };
    if !expected.is_none_or(known) {
        return Err(ErrorCode::ProducerFenced);
    }
    let mut next = meta.clone();
    next.state = TxnState::Empty;
    next.partitions = BTreeSet::new();
    next.offsets = BTreeMap::new();
    next.start_ms = -1;
    next.timeout_ms = timeout_ms;
    next.last_update_ms = now_ms;
    let exhausted = epoch_exhausted(meta.producer_epoch);
    if exhausted && expected.is_none_or(|(_, epoch)| epoch == meta.producer_epoch) {
        next.last_producer_id = meta.producer_id;
        next.producer_id = new_producer_id();
        next.producer_epoch = 0;
        next.last_producer_epoch = if expected.is_some() {
            meta.producer_epoch
        } else {
            -1
        };
        return Ok(next);
    }
    match expected {
        Some((_, epoch))
            if meta.producer_epoch != -1
                && epoch != meta.producer_epoch
                && epoch == meta.last_producer_epoch =>
        {
            // A retry whose answer was lost: the bump already happened.
            Ok(next)
        }
        Some((_, epoch)) if meta.producer_epoch != -1 && epoch != meta.producer_epoch => {
            Err(ErrorCode::ProducerFenced)
        }
        _ => {
            next.last_producer_epoch = meta.producer_epoch;
            next.producer_epoch = meta.producer_epoch + 1;
            Ok(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const NOW: i64 = 1_000_000;

    fn ids() -> impl FnMut() -> i64 {
        let mut next = 100;
        move || {
            next += 1;
            next
        }
    }

    fn init(c: &mut TxnCoordinator, id: &str, ids: &mut dyn FnMut() -> i64) -> TxnMetadata {
        let plan = c.prepare_init(id, 60_000, None, NOW, ids).expect("init");
        assert_eq!(plan.fence, None);
        c.apply(id, plan.init.clone());
        plan.init
    }

    fn tp(topic: &str, partition: i32) -> (String, i32) {
        (String::from(topic), partition)
    }

    #[test]
    fn init_begin_add_commit() {
        let mut c = TxnCoordinator::new(900_000);
        let mut ids = ids();
        let m = init(&mut c, "t", &mut ids);
        assert_eq!(
            (m.producer_id, m.producer_epoch, m.state),
            (101, 0, TxnState::Empty)
        );
        let added = c
            .prepare_add("t", 101, 0, &[tp("a", 0), tp("a", 1)], NOW + 5)
            .expect("add")
            .expect("a change");
        assert_eq!((added.state, added.start_ms), (TxnState::Ongoing, NOW + 5));
        c.apply("t", added);
        assert_eq!(c.next_expiry_ms(), Some(NOW + 5 + 60_000));
        assert_eq!(c.prepare_add("t", 101, 0, &[tp("a", 1)], NOW + 6), Ok(None));
        assert_eq!(c.check_in_transaction("t", 101, 0, &tp("a", 0)), Ok(()));
        assert_eq!(
            c.check_in_transaction("t", 101, 0, &tp("b", 0)),
            Err(ErrorCode::InvalidTxnState)
        );
        let prepared = c
            .prepare_end("t", 101, 0, true, NOW + 7)
            .expect("end")
            .expect("prepared");
        assert_eq!(prepared.state, TxnState::PrepareCommit);
        c.apply("t", prepared.clone());
        assert_eq!(c.next_expiry_ms(), None, "no longer open");
        assert_eq!(
            c.prepare_add("t", 101, 0, &[tp("a", 0)], NOW),
            Err(ErrorCode::ConcurrentTransactions)
        );
        c.apply("t", prepared.completed(NOW + 8));
        let done = c.get("t").expect("known");
        assert_eq!(done.state, TxnState::CompleteCommit);
        assert!(done.partitions.is_empty());
        // A retried commit succeeds; an abort of a committed transaction does not.
        assert_eq!(c.prepare_end("t", 101, 0, true, NOW), Ok(None));
        assert_eq!(
            c.prepare_end("t", 101, 0, false, NOW),
            Err(ErrorCode::InvalidTxnState)
        );
    }

    #[test]
    fn a_second_init_fences_the_first_producer() {
        let mut c = TxnCoordinator::new(900_000);
        let mut ids = ids();
        init(&mut c, "t", &mut ids);
        let again = init(&mut c, "t", &mut ids);
        assert_eq!((again.producer_id, again.producer_epoch), (101, 1));
        assert_eq!(
            c.prepare_add("t", 101, 0, &[tp("a", 0)], NOW),
            Err(ErrorCode::ProducerFenced)
        );
        assert_eq!(
            c.prepare_end("t", 102, 1, true, NOW),
            Err(ErrorCode::InvalidProducerIdMapping)
        );
        assert_eq!(
            c.prepare_end("t", 101, 1, true, NOW),
            Err(ErrorCode::InvalidTxnState),
            "nothing is open"
        );
    }

    #[test]
    fn init_over_an_open_transaction_aborts_it_under_a_fencing_epoch() {
        let mut c = TxnCoordinator::new(900_000);
        let mut ids = ids();
        init(&mut c, "t", &mut ids);
        let added = c
            .prepare_add("t", 101, 0, &[tp("a", 0)], NOW)
            .expect("as planned")
            .expect("as planned");
        c.apply("t", added);
        let plan = c
            .prepare_init("t", 60_000, None, NOW, &mut ids)
            .expect("init");
        let fence = plan.fence.expect("the open transaction is aborted");
        assert_eq!(
            (fence.state, fence.producer_epoch),
            (TxnState::PrepareAbort, 1)
        );
        assert_eq!(
            fence.partitions.len(),
            1,
            "its markers go to its partitions"
        );
        assert_eq!(
            (plan.init.producer_epoch, plan.init.state),
            (2, TxnState::Empty)
        );
    }

    #[test]
    fn timeouts_come_in_expiry_order_and_fence() {
        let mut c = TxnCoordinator::new(900_000);
        let mut ids = ids();
        for (id, at) in [("late", NOW + 10), ("early", NOW)] {
            init(&mut c, id, &mut ids);
            let pid = c.get(id).expect("as planned").producer_id;
            let added = c
                .prepare_add(id, pid, 0, &[tp("a", 0)], at)
                .expect("as planned")
                .expect("as planned");
            c.apply(id, added);
        }
        assert_eq!(c.next_expiry_ms(), Some(NOW + 60_000));
        assert_eq!(c.expired(NOW + 60_000), vec![String::from("early")]);
        assert_eq!(c.expired(NOW + 60_010).len(), 2);
        let abort = c.prepare_timeout("early", NOW + 60_000).expect("open");
        assert_eq!(
            (abort.state, abort.producer_epoch),
            (TxnState::PrepareAbort, 1)
        );
        assert_eq!(c.prepare_timeout("missing", NOW), None);
    }

    #[test]
    fn idle_ids_expire_oldest_first_and_open_ones_never() {
        let mut c = TxnCoordinator::new(900_000);
        let mut ids = ids();
        init(&mut c, "idle", &mut ids);
        init(&mut c, "open", &mut ids);
        let added = c
            .prepare_add("open", 102, 0, &[tp("a", 0)], NOW + 5)
            .expect("as planned")
            .expect("as planned");
        c.apply("open", added);
        assert_eq!(c.next_idle_expiry_ms(100), Some(NOW + 100));
        assert_eq!(c.idle_expired(NOW + 99, 100), Vec::<String>::new());
        assert_eq!(
            c.idle_expired(NOW + 10_000, 100),
            vec![String::from("idle")]
        );
        c.remove("idle");
        assert_eq!(
            c.next_idle_expiry_ms(100),
            None,
            "an open transaction does not expire"
        );
    }

    #[test]
    fn timeouts_are_bounded_by_the_broker() {
        let c = TxnCoordinator::new(1000);
        let mut ids = ids();
        for bad in [0, -1, 1001] {
            assert_eq!(
                c.prepare_init("t", bad, None, NOW, &mut ids),
                Err(ErrorCode::InvalidTransactionTimeout)
            );
        }
    }

    #[test]
    fn a_producer_naming_another_id_is_fenced_and_a_lost_answer_is_retried() {
        let mut c = TxnCoordinator::new(900_000);
        let mut ids = ids();
        init(&mut c, "t", &mut ids);
        assert_eq!(
            c.prepare_init("t", 60_000, Some((7, 0)), NOW, &mut ids),
            Err(ErrorCode::ProducerFenced)
        );
        let bumped = c
            .prepare_init("t", 60_000, Some((101, 0)), NOW, &mut ids)
            .expect("as planned");
        assert_eq!(bumped.init.producer_epoch, 1);
        c.apply("t", bumped.init);
        let retried = c
            .prepare_init("t", 60_000, Some((101, 0)), NOW, &mut ids)
            .expect("as planned");
        assert_eq!(retried.init.producer_epoch, 1, "the bump already happened");
        assert_eq!(
            c.prepare_init("t", 60_000, Some((101, 5)), NOW, &mut ids),
            Err(ErrorCode::ProducerFenced)
        );
    }

    #[test]
    fn an_exhausted_epoch_rotates_the_producer_id() {
        let mut c = TxnCoordinator::new(900_000);
        let mut ids = ids();
        let mut m = init(&mut c, "t", &mut ids);
        m.producer_epoch = i16::MAX - 1;
        c.apply("t", m);
        let rotated = c
            .prepare_init("t", 60_000, None, NOW, &mut ids)
            .expect("as planned")
            .init;
        assert_eq!(
            (
                rotated.producer_id,
                rotated.producer_epoch,
                rotated.last_producer_id
            ),
            (102, 0, 101)
        );
    }

    #[test]
    fn listing_filters_by_state_producer_and_duration() {
        let mut c = TxnCoordinator::new(900_000);
        let mut ids = ids();
        init(&mut c, "idle", &mut ids);
        init(&mut c, "open", &mut ids);
        let added = c
            .prepare_add("open", 102, 0, &[tp("a", 0)], NOW)
            .expect("as planned")
            .expect("as planned");
        c.apply("open", added);
        let names = |l: Vec<Listed>| {
            l.into_iter()
                .map(|l| l.transactional_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(c.list(&[], &[], -1, NOW)), vec!["idle", "open"]);
        assert_eq!(
            names(c.list(&[TxnState::Ongoing], &[], -1, NOW)),
            vec!["open"]
        );
        assert_eq!(names(c.list(&[], &[101], -1, NOW)), vec!["idle"]);
        assert_eq!(
            names(c.list(&[], &[], 500, NOW + 499)),
            Vec::<String>::new()
        );
        assert_eq!(names(c.list(&[], &[], 500, NOW + 500)), vec!["open"]);
        assert_eq!(c.describe(""), Err(ErrorCode::InvalidRequest));
        assert_eq!(c.describe("nope"), Err(ErrorCode::TransactionalIdNotFound));
        assert_eq!(
            c.describe("open").expect("as planned").partitions,
            vec![tp("a", 0)]
        );
    }
}
