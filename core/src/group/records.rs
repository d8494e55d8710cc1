//! The offsets log: committed offsets and group metadata as key/value records, in the spirit of
//! Kafka's `__consumer_offsets`, so a restart replays them.
//!
//! All integers are big-endian. `str` is a `u32` length and UTF-8 bytes; `str?` is an `i32`
//! length, -1 for null; `bytes` is a `u32` length and the bytes.
//!
//! | record        | key                                                        | value |
//! |---------------|------------------------------------------------------------|-------|
//! | offset commit | `u16 1`, group `str`, topic `str`, partition `i32`          | `u16 1`, offset `i64`, leader epoch `i32`, metadata `str?`, commit time ms `i64` |
//! | group         | `u16 2`, group `str`                                        | `u16 2`, protocol type `str?`, generation `i32`, protocol `str?`, leader `str?`, member count `u32`, members, empty since ms `i64` |
//! | tombstone     | a group key (or an offset key)                              | empty: the group with its offsets (or the one offset) is gone; a deleted group's offsets each get one before the group's |
//!
//! A member is: id `str`, instance id `str?`, client id `str`, client host `str`, session
//! timeout ms `u32`, rebalance timeout ms `u32`, protocol count `u32`, each protocol as name
//! `str` and metadata `bytes`, then its assignment `bytes`. "Empty since" is the wall clock when
//! the group last became Empty (Kafka's `currentStateTimestamp`), -1 when unknown; a group value
//! of version 1 (written before it existed) lacks it and reads as unknown.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::state::{Committed, Group, Member, State};
use super::types::Protocol;
pub use crate::kv::RecordError;
use crate::kv::{Reader, put_bytes, put_len, put_opt_str, put_str, put_u16};
use crate::time::Instant;

const KEY_OFFSET: u16 = 1;
const KEY_GROUP: u16 = 2;
const VALUE_VERSION: u16 = 1;
/// The group value's version: 2 added "empty since".
const GROUP_VALUE_VERSION: u16 = 2;

/// One record for the offsets log. An empty `value` is a tombstone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    /// What the record is about (a group, or a group's partition).
    pub key: Vec<u8>,
    /// The state to keep; empty when the key's state is deleted.
    pub value: Vec<u8>,
}

fn offset_key(group: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut key = Vec::new();
    put_u16(&mut key, KEY_OFFSET);
    put_str(&mut key, group);
    put_str(&mut key, topic);
    key.extend_from_slice(&partition.to_be_bytes());
    key
}

/// The record of a commit.
pub(crate) fn offset_commit(
    group: &str,
    topic: &str,
    partition: i32,
    c: &Committed,
) -> GroupRecord {
    let key = offset_key(group, topic, partition);
    let mut value = Vec::new();
    put_u16(&mut value, VALUE_VERSION);
    value.extend_from_slice(&c.offset.to_be_bytes());
    value.extend_from_slice(&c.leader_epoch.to_be_bytes());
    put_opt_str(&mut value, c.metadata.as_deref());
    value.extend_from_slice(&c.commit_timestamp_ms.to_be_bytes());
    GroupRecord { key, value }
}

fn group_key(group: &str) -> Vec<u8> {
    let mut key = Vec::new();
    put_u16(&mut key, KEY_GROUP);
    put_str(&mut key, group);
    key
}

/// The record of a group's generation: its protocol, leader and members.
pub(crate) fn group_metadata(id: &str, g: &Group) -> GroupRecord {
    let mut value = Vec::new();
    put_u16(&mut value, GROUP_VALUE_VERSION);
    put_opt_str(&mut value, g.protocol_type.as_deref());
    value.extend_from_slice(&g.generation.to_be_bytes());
    put_opt_str(&mut value, g.protocol_name.as_deref());
    put_opt_str(&mut value, g.leader.as_deref());
    let members = g.members_by_seq();
    put_len(&mut value, members.len());
    for (member_id, m) in members {
        put_str(&mut value, member_id);
        put_opt_str(&mut value, m.instance_id.as_deref());
        put_str(&mut value, &m.client_id);
        put_str(&mut value, &m.client_host);
        put_len(&mut value, millis(m.session_timeout));
        put_len(&mut value, millis(m.rebalance_timeout));
        put_len(&mut value, m.protocols.len());
        for p in &m.protocols {
            put_str(&mut value, &p.name);
            put_bytes(&mut value, &p.metadata);
        }
        put_bytes(&mut value, &m.assignment);
    }
    value.extend_from_slice(&g.empty_since_ms.unwrap_or(-1).to_be_bytes());
    GroupRecord {
        key: group_key(id),
        value,
    }
}

/// The record that deletes one committed offset of a group.
pub(crate) fn offset_tombstone(group: &str, topic: &str, partition: i32) -> GroupRecord {
    GroupRecord {
        key: offset_key(group, topic, partition),
        value: Vec::new(),
    }
}

/// The record that deletes a group and its offsets.
pub(crate) fn tombstone(id: &str) -> GroupRecord {
    GroupRecord {
        key: group_key(id),
        value: Vec::new(),
    }
}

fn millis(d: Duration) -> usize {
    usize::try_from(d.as_millis()).unwrap_or(usize::MAX)
}

fn read_member(
    r: &mut Reader<'_>,
    now: Instant,
    seq: u64,
) -> Result<(String, Member), RecordError> {
    let id = r.str()?;
    let instance_id = r.opt_str()?;
    let client_id = r.str()?;
    let client_host = r.str()?;
    let session_timeout = Duration::from_millis(u64::from(r.u32()?));
    let rebalance_timeout = Duration::from_millis(u64::from(r.u32()?));
    let count = r.u32()?;
    // No capacity from the claimed count: it grows only as protocols are actually read.
    let mut protocols = Vec::new();
    for _ in 0..count {
        let name = r.str()?;
        let metadata = r.bytes()?.to_vec();
        protocols.push(Protocol { name, metadata });
    }
    let assignment = r.bytes()?.to_vec();
    let member = Member {
        instance_id,
        client_id,
        client_host,
        session_timeout,
        rebalance_timeout,
        protocol_type: String::new(),
        protocols,
        assignment,
        join: None,
        sync: None,
        session_deadline: now + session_timeout,
        seq,
    };
    Ok((id, member))
}

/// A group as its record describes it: Stable with its members, or Empty without.
fn read_group(value: &[u8], now: Instant) -> Result<Group, RecordError> {
    let mut r = Reader(value);
    let version = r.u16()?;
    if version != VALUE_VERSION && version != GROUP_VALUE_VERSION {
        return Err(RecordError::UnknownVersion(version));
    }
    let mut g = Group::new();
    g.protocol_type = r.opt_str()?;
    g.generation = r.i32()?;
    g.protocol_name = r.opt_str()?;
    g.leader = r.opt_str()?;
    let count = r.u32()?;
    for seq in 0..u64::from(count) {
        let (id, mut m) = read_member(&mut r, now, seq)?;
        m.protocol_type = g.protocol_type.clone().unwrap_or_default();
        if let Some(instance) = &m.instance_id {
            g.static_members.insert(instance.clone(), id.clone());
        }
        g.members.insert(id, m);
        g.next_seq = seq + 1;
    }
    if version >= GROUP_VALUE_VERSION {
        g.empty_since_ms = Some(r.i64()?).filter(|&ms| ms >= 0);
    }
    r.end()?;
    g.state = if g.members.is_empty() {
        State::Empty
    } else {
        State::Stable
    };
    Ok(g)
}

fn read_offset(value: &[u8]) -> Result<Committed, RecordError> {
    let mut r = Reader(value);
    let version = r.u16()?;
    if version != VALUE_VERSION {
        return Err(RecordError::UnknownVersion(version));
    }
    let c = Committed {
        offset: r.i64()?,
        leader_epoch: r.i32()?,
        metadata: r.opt_str()?,
        commit_timestamp_ms: r.i64()?,
    };
    r.end()?;
    Ok(c)
}

/// One record of the offsets log as read back.
#[derive(Debug)]
pub(super) enum Stored {
    /// A committed offset, or its tombstone (`None`).
    Offset {
        group: String,
        topic: String,
        partition: i32,
        committed: Option<Committed>,
    },
    /// A group's metadata, or its tombstone (`None`).
    Group { id: String, group: Option<Group> },
}

/// Read one record; a group's members come back with their sessions starting at `now`.
pub(super) fn read(now: Instant, key: &[u8], value: &[u8]) -> Result<Stored, RecordError> {
    let mut k = Reader(key);
    match k.u16()? {
        KEY_OFFSET => {
            let group = k.str()?;
            let topic = k.str()?;
            let partition = k.i32()?;
            k.end()?;
            let committed = (!value.is_empty())
                .then(|| read_offset(value))
                .transpose()?;
            Ok(Stored::Offset {
                group,
                topic,
                partition,
                committed,
            })
        }
        KEY_GROUP => {
            let id = k.str()?;
            k.end()?;
            let group = (!value.is_empty())
                .then(|| read_group(value, now))
                .transpose()?;
            Ok(Stored::Group { id, group })
        }
        v => Err(RecordError::UnknownVersion(v)),
    }
}
