//! The transaction log (`__transaction_state`): one record per change of a transactional id,
//! the latest of each key being its state, so a restart replays them in order.
//!
//! Encoded as `crate::kv` encodes (big-endian; `str` a `u32` length and UTF-8):
//!
//! | record      | key                          | value |
//! |-------------|------------------------------|-------|
//! | transaction | `u16 1`, transactional id `str` | `u16 1`, producer id `i64`, last producer id `i64`, epoch `i16`, last epoch `i16`, timeout ms `i32`, state `u16` (Kafka's `TransactionState` id), start ms `i64`, last update ms `i64`, partition count `u32` × (topic `str`, partition `i32`), group count `u32` × (group `str`, offset count `u32` × (topic `str`, partition `i32`, offset `i64`, leader epoch `i32`, metadata `str?`)) |
//! | tombstone   | a transaction key            | empty: the transactional id expired |

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::coordinator::TxnCoordinator;
use super::state::{PendingOffset, TxnMetadata, TxnState};
use crate::kv::{Reader, RecordError, put_len, put_opt_str, put_str, put_u16};

const KEY_TRANSACTION: u16 = 1;
const VALUE_VERSION: u16 = 1;

/// The key of `id`'s records.
pub fn key(id: &str) -> Vec<u8> {
    let mut key = Vec::new();
    put_u16(&mut key, KEY_TRANSACTION);
    put_str(&mut key, id);
    key
}

fn put_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// The value of a record holding `m`.
pub fn value(m: &TxnMetadata) -> Vec<u8> {
    let mut out = Vec::new();
    put_u16(&mut out, VALUE_VERSION);
    put_i64(&mut out, m.producer_id);
    put_i64(&mut out, m.last_producer_id);
    put_i16(&mut out, m.producer_epoch);
    put_i16(&mut out, m.last_producer_epoch);
    put_i32(&mut out, m.timeout_ms);
    put_u16(&mut out, u16::from(m.state.id()));
    put_i64(&mut out, m.start_ms);
    put_i64(&mut out, m.last_update_ms);
    put_len(&mut out, m.partitions.len());
    for (topic, partition) in &m.partitions {
        put_str(&mut out, topic);
        put_i32(&mut out, *partition);
    }
    put_len(&mut out, m.offsets.len());
    for (group, offsets) in &m.offsets {
        put_str(&mut out, group);
        put_len(&mut out, offsets.len());
        for ((topic, partition), o) in offsets {
            put_str(&mut out, topic);
            put_i32(&mut out, *partition);
            put_i64(&mut out, o.offset);
            put_i32(&mut out, o.leader_epoch);
            put_opt_str(&mut out, o.metadata.as_deref());
        }
    }
    out
}

fn read_i16(r: &mut Reader<'_>) -> Result<i16, RecordError> {
    Ok(i16::from_be_bytes(r.array()?))
}

/// The metadata a record's value holds.
pub fn read_value(value: &[u8]) -> Result<TxnMetadata, RecordError> {
    let mut r = Reader(value);
    let version = r.u16()?;
    if version != VALUE_VERSION {
        return Err(RecordError::UnknownVersion(version));
    }
    let producer_id = r.i64()?;
    let last_producer_id = r.i64()?;
    let producer_epoch = read_i16(&mut r)?;
    let last_producer_epoch = read_i16(&mut r)?;
    let timeout_ms = r.i32()?;
    let state_id = r.u16()?;
    let state = u8::try_from(state_id)
        .ok()
        .and_then(TxnState::from_id)
        .ok_or(RecordError::UnknownVersion(state_id))?;
    let start_ms = r.i64()?;
    let last_update_ms = r.i64()?;
    let mut m = TxnMetadata {
        producer_id,
        last_producer_id,
        producer_epoch,
        last_producer_epoch,
        timeout_ms,
        state,
        partitions: Default::default(),
        start_ms,
        last_update_ms,
        offsets: BTreeMap::new(),
    };
    // Counts are not trusted for allocation: each entry is read before it is kept.
    for _ in 0..r.u32()? {
        let topic = r.str()?;
        m.partitions.insert((topic, r.i32()?));
    }
    for _ in 0..r.u32()? {
        let group = r.str()?;
        let mut offsets = BTreeMap::new();
        for _ in 0..r.u32()? {
            let topic = r.str()?;
            let partition = r.i32()?;
            let offset = PendingOffset {
                offset: r.i64()?,
                leader_epoch: r.i32()?,
                metadata: r.opt_str()?,
            };
            offsets.insert((topic, partition), offset);
        }
        m.offsets.insert(group, offsets);
    }
    r.end()?;
    Ok(m)
}

/// The transactional id a key names.
pub fn read_key(key: &[u8]) -> Result<String, RecordError> {
    let mut r = Reader(key);
    let version = r.u16()?;
    if version != KEY_TRANSACTION {
        return Err(RecordError::UnknownVersion(version));
    }
    let id = r.str()?;
    r.end()?;
    Ok(id)
}

impl TxnCoordinator {
    /// Take one record of the transaction log, oldest first; an empty or absent value forgets
    /// the id.
    pub fn replay(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), RecordError> {
        let id = read_key(key)?;
        match value.filter(|v| !v.is_empty()) {
            Some(v) => self.apply(&id, read_value(v)?),
            None => self.remove(&id),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    fn sample() -> TxnMetadata {
        let mut offsets = BTreeMap::new();
        offsets.insert(
            (String::from("in"), 3),
            PendingOffset {
                offset: 42,
                leader_epoch: -1,
                metadata: Some(String::from("m")),
            },
        );
        let mut groups = BTreeMap::new();
        groups.insert(String::from("g"), offsets);
        TxnMetadata {
            producer_id: 7,
            last_producer_id: -1,
            producer_epoch: 3,
            last_producer_epoch: 2,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: BTreeSet::from([(String::from("out"), 0), (String::from("out"), 1)]),
            start_ms: 10,
            last_update_ms: 20,
            offsets: groups,
        }
    }

    #[test]
    fn records_read_back_what_was_written() {
        let m = sample();
        assert_eq!(read_value(&value(&m)), Ok(m));
        assert_eq!(read_key(&key("t")), Ok(String::from("t")));
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let v = value(&sample());
        for cut in 0..v.len() {
            assert!(read_value(&v[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = v.clone();
        long.push(0);
        assert_eq!(read_value(&long), Err(RecordError::TrailingBytes));
        let mut huge = Vec::new();
        put_u16(&mut huge, VALUE_VERSION);
        huge.extend_from_slice(&[0; 34]);
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(read_value(&huge), Err(RecordError::Truncated));
    }

    #[test]
    fn replay_keeps_the_latest_and_forgets_tombstones() {
        let mut c = TxnCoordinator::new(900_000);
        let mut m = sample();
        c.replay(&key("t"), Some(&value(&m))).expect("replay");
        m.state = TxnState::CompleteCommit;
        c.replay(&key("t"), Some(&value(&m))).expect("replay");
        assert_eq!(c.get("t").map(|m| m.state), Some(TxnState::CompleteCommit));
        assert_eq!(c.next_expiry_ms(), None);
        c.replay(&key("t"), None).expect("tombstone");
        assert_eq!(c.get("t"), None);
    }
}
