//! What the broker has promised, kept in plain maps, and the checks against it.
//!
//! The broker handles one request at a time and pushes a response when it handles it (a parked
//! request when it finishes), so the order in which responses come out of `poll_output` is the
//! order in which their requests took effect. The model applies responses in that order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A topic partition.
pub type Tp = (String, i32);

/// What is known of one produced record (every value is unique, so it names its record).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    /// Sent, not answered. `silent`: acks=0, never answered.
    InFlight { tp: Tp, silent: bool },
    /// Answered with an error, or never answered: stored or not.
    Maybe { tp: Tp },
    /// Stored at `offset` (acknowledged, or seen there).
    Stored { tp: Tp, offset: i64 },
    /// Acknowledged, then cut by a power loss: must never be read again.
    Lost,
}

/// What is known of a partition's log end.
#[derive(Clone, Debug, Default)]
struct Part {
    /// The log end at the last response that told it: every later append starts here or above.
    end: i64,
    /// Whether a record may have been appended since without the model knowing where.
    uncertain: bool,
    /// acks=0 produces sent and not known to be handled.
    silent_pending: u32,
    /// The highest high watermark reported (it never goes down without a power loss).
    hw_seen: i64,
}

/// What is known of a topic.
#[derive(Clone, Debug, Default)]
pub struct Topic {
    /// Its partition count, once known.
    pub partitions: Option<i32>,
    /// Whether CreateTopics acknowledged it: it must then exist with that count.
    pub acked: Option<i32>,
}

/// Committed offsets of one group partition. Commit values ascend (one global counter).
#[derive(Clone, Debug, Default)]
struct Commits {
    sent: BTreeSet<i64>,
    /// Commits sent and never acknowledged: the broker may have applied them (a crash can
    /// take the answer), so OffsetFetch may return one.
    unconfirmed: BTreeSet<i64>,
    /// The commit acknowledged last. Members commit concurrently, so a later acknowledged
    /// commit may be lower than an earlier one: the broker applies them in the order it
    /// answers them.
    acked_last: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Model {
    values: HashMap<Vec<u8>, Status>,
    /// Stored records by partition and offset.
    stored: BTreeMap<Tp, BTreeMap<i64, Vec<u8>>>,
    parts: BTreeMap<Tp, Part>,
    pub topics: BTreeMap<String, Topic>,
    commits: BTreeMap<(String, Tp), Commits>,
    next_value: u64,
    next_commit: i64,
    /// Records acknowledged, for the summary.
    pub acked_records: u64,
    /// Commits acknowledged, for the summary.
    pub acked_commits: u64,
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}
pub(crate) use ensure;

impl Model {
    /// Partitions whose topic has a known partition count.
    pub fn known_partitions(&self) -> Vec<Tp> {
        let mut out = Vec::new();
        for (name, t) in &self.topics {
            for p in 0..t.partitions.unwrap_or(0) {
                out.push((name.clone(), p));
            }
        }
        out
    }

    /// Every partition the model holds records or an end for.
    pub fn partitions_with_state(&self) -> Vec<Tp> {
        self.parts.keys().cloned().collect()
    }

    pub fn commit_keys(&self) -> Vec<(String, Tp)> {
        self.commits.keys().cloned().collect()
    }

    /// `n` new unique values, registered as in flight to `tp`.
    pub fn new_values(&mut self, tp: &Tp, n: usize, silent: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            self.next_value += 1;
            let v = format!("v{}", self.next_value).into_bytes();
            let status = Status::InFlight {
                tp: tp.clone(),
                silent,
            };
            self.values.insert(v.clone(), status);
            out.push(v);
        }
        if silent {
            self.parts.entry(tp.clone()).or_default().silent_pending += 1;
        }
        out
    }

    pub fn produce_acked(&mut self, tp: &Tp, values: &[Vec<u8>], base: i64) -> Result<(), String> {
        let part = self.parts.entry(tp.clone()).or_default();
        ensure!(
            base >= part.end,
            "{tp:?}: produce acknowledged at {base}, below the log end {} already given out",
            part.end
        );
        ensure!(
            part.uncertain || part.silent_pending > 0 || base == part.end,
            "{tp:?}: produce acknowledged at {base}, the log end was {}: offsets not dense",
            part.end
        );
        part.end = base + values.len() as i64;
        part.uncertain = false;
        part.hw_seen = part.hw_seen.max(part.end);
        for (i, v) in values.iter().enumerate() {
            self.store(tp, base + i as i64, v)?;
            self.acked_records += 1;
        }
        Ok(())
    }

    /// A produce answered with an error, or never answered: its records may be stored.
    pub fn produce_unknown(&mut self, tp: &Tp, values: &[Vec<u8>], answered: bool) {
        for v in values {
            if let Some(s @ Status::InFlight { .. }) = self.values.get_mut(v) {
                *s = Status::Maybe { tp: tp.clone() };
            }
        }
        if answered {
            self.parts.entry(tp.clone()).or_default().uncertain = true;
        }
    }

    /// An acks=0 produce was handled (a later response on its connection came) or dropped.
    pub fn silent_resolved(&mut self, tp: &Tp, values: &[Vec<u8>]) {
        let part = self.parts.entry(tp.clone()).or_default();
        part.silent_pending = part.silent_pending.saturating_sub(1);
        part.uncertain = true;
        self.produce_unknown(tp, values, false);
    }

    /// The latest offset ListOffsets reported: the log end when the broker handled it.
    pub fn observe_end(&mut self, tp: &Tp, end: i64) -> Result<(), String> {
        self.observe_hw(tp, end)?;
        let part = self.parts.entry(tp.clone()).or_default();
        ensure!(
            part.uncertain || part.silent_pending > 0 || end == part.end,
            "{tp:?}: log end {end} reported, but only {} was appended",
            part.end
        );
        part.end = end;
        if part.silent_pending == 0 {
            part.uncertain = false;
        }
        Ok(())
    }

    /// A high watermark a Fetch reported. A long poll woken by a produce is answered just
    /// before that produce, so its high watermark may run ahead of the acknowledgements: it is
    /// held only to what was acknowledged and reported before.
    pub fn observe_hw(&mut self, tp: &Tp, hw: i64) -> Result<(), String> {
        let part = self.parts.entry(tp.clone()).or_default();
        ensure!(
            hw >= part.end,
            "{tp:?}: log end {hw} reported, below {} acknowledged",
            part.end
        );
        ensure!(
            hw >= part.hw_seen,
            "{tp:?}: log end {hw} reported, below {} reported before",
            part.hw_seen
        );
        part.hw_seen = hw;
        Ok(())
    }

    fn store(&mut self, tp: &Tp, offset: i64, value: &[u8]) -> Result<(), String> {
        let at = self.stored.entry(tp.clone()).or_default();
        if let Some(old) = at.get(&offset) {
            ensure!(
                old == value,
                "{tp:?} offset {offset}: {} stored, then {} at the same offset",
                show(old),
                show(value)
            );
        }
        if let Some(Status::Stored { tp: t, offset: o }) = self.values.get(value) {
            ensure!(
                t == tp && *o == offset,
                "{} stored at {t:?} {o}, then at {tp:?} {offset}",
                show(value)
            );
        }
        at.insert(offset, value.to_vec());
        let status = Status::Stored {
            tp: tp.clone(),
            offset,
        };
        self.values.insert(value.to_vec(), status);
        Ok(())
    }

    /// Records read from `tp` at `fetch_offset` (whole batches, so some may lie before it).
    pub fn fetched(
        &mut self,
        tp: &Tp,
        fetch_offset: i64,
        read: &[(i64, Vec<u8>)],
        hw: i64,
    ) -> Result<(), String> {
        let mut prev: Option<i64> = None;
        for (offset, value) in read {
            if let Some(p) = prev {
                ensure!(
                    *offset == p + 1,
                    "{tp:?}: offset {offset} read after {p}: not dense"
                );
            } else {
                ensure!(
                    *offset <= fetch_offset,
                    "{tp:?}: fetch at {fetch_offset} starts at {offset}: records skipped"
                );
            }
            prev = Some(*offset);
            ensure!(
                *offset < hw,
                "{tp:?}: offset {offset} read at or past the high watermark {hw}"
            );
            self.check_read(tp, *offset, value)?;
        }
        Ok(())
    }

    fn check_read(&mut self, tp: &Tp, offset: i64, value: &[u8]) -> Result<(), String> {
        let v = show(value);
        match self.values.get(value).cloned() {
            None => Err(format!("{tp:?} offset {offset}: {v} was never produced")),
            Some(Status::Lost) => Err(format!("{tp:?} offset {offset}: {v} was lost, then read")),
            Some(Status::Stored { tp: at, offset: o }) => {
                ensure!(
                    at == *tp && o == offset,
                    "{tp:?} offset {offset}: {v} read, but it is stored at {at:?} {o}"
                );
                Ok(())
            }
            // In flight: a long poll the produce woke is answered just before it.
            Some(Status::Maybe { tp: at } | Status::InFlight { tp: at, .. }) => {
                ensure!(
                    at == *tp,
                    "{tp:?} offset {offset}: {v} was produced to {at:?}"
                );
                self.store(tp, offset, value)
            }
        }
    }

    /// A whole partition read from its start after a restart: every stored record is there.
    pub fn audit(&mut self, tp: &Tp, read: &[(i64, Vec<u8>)], hw: i64) -> Result<(), String> {
        if let Some((first, _)) = read.first() {
            ensure!(*first == 0, "{tp:?}: the log starts at {first}, not 0");
        }
        ensure!(
            read.last().map_or(0, |(o, _)| o + 1) == hw,
            "{tp:?}: records read up to {:?}, the high watermark is {hw}",
            read.last().map(|(o, _)| o)
        );
        self.fetched(tp, 0, read, hw)?;
        let got: BTreeMap<i64, &[u8]> = read.iter().map(|(o, v)| (*o, v.as_slice())).collect();
        for (offset, value) in self.stored.get(tp).into_iter().flatten() {
            ensure!(
                got.get(offset) == Some(&value.as_slice()),
                "{tp:?} offset {offset}: {} was stored, after the restart it reads {:?}",
                show(value),
                got.get(offset).map(|v| show(v))
            );
        }
        let part = self.parts.entry(tp.clone()).or_default();
        ensure!(
            hw >= part.end,
            "{tp:?}: log end {hw} after a restart, {} acknowledged",
            part.end
        );
        *part = Part {
            end: hw,
            uncertain: false,
            silent_pending: 0,
            hw_seen: hw,
        };
        Ok(())
    }

    /// The audit found no such partition: allowed only for a topic never acknowledged whose
    /// records were never stored.
    pub fn vanished(&mut self, tp: &Tp) -> Result<(), String> {
        let topic = self.topics.entry(tp.0.clone()).or_default();
        ensure!(
            topic.acked.is_none(),
            "{tp:?}: created, missing after a restart"
        );
        topic.partitions = None;
        let stored = self.stored.get(tp).map_or(0, BTreeMap::len);
        ensure!(
            stored == 0,
            "{tp:?}: {stored} stored records, missing after a restart"
        );
        self.parts.remove(tp);
        Ok(())
    }

    /// A crash: whatever was in flight was handled or not.
    pub fn crashed(&mut self) {
        for status in self.values.values_mut() {
            if let Status::InFlight { tp, .. } = status {
                *status = Status::Maybe { tp: tp.clone() };
            }
        }
        for part in self.parts.values_mut() {
            part.silent_pending = 0;
            part.uncertain = true;
        }
    }

    /// A power loss tore the batch `base..=last` of `tp`: its records are gone for good.
    pub fn lost(&mut self, tp: &Tp, base: i64, last: i64) {
        let Some(at) = self.stored.get_mut(tp) else {
            return;
        };
        let gone: Vec<i64> = at.range(base..=last).map(|(o, _)| *o).collect();
        for offset in gone {
            if let Some(v) = at.remove(&offset) {
                self.values.insert(v, Status::Lost);
            }
        }
        let part = self.parts.entry(tp.clone()).or_default();
        part.end = part.end.min(base);
        part.hw_seen = part.hw_seen.min(base);
    }

    pub fn next_commit(&mut self, group: &str, tp: &Tp) -> i64 {
        self.next_commit += 1;
        let key = (group.to_string(), tp.clone());
        let c = self.commits.entry(key).or_default();
        c.sent.insert(self.next_commit);
        c.unconfirmed.insert(self.next_commit);
        self.next_commit
    }

    /// A commit answered with an error: the broker did not apply it.
    pub fn commit_refused(&mut self, group: &str, tp: &Tp, offset: i64) {
        if let Some(c) = self.commits.get_mut(&(group.to_string(), tp.clone())) {
            c.unconfirmed.remove(&offset);
        }
    }

    pub fn commit_acked(&mut self, group: &str, tp: &Tp, offset: i64) {
        let c = self
            .commits
            .entry((group.to_string(), tp.clone()))
            .or_default();
        c.acked_last = Some(offset);
        c.unconfirmed.remove(&offset);
        self.acked_commits += 1;
    }

    /// OffsetFetch answered `offset` (-1: none) for a group partition.
    pub fn offset_fetched(&self, group: &str, tp: &Tp, offset: i64) -> Result<(), String> {
        let c = self.commits.get(&(group.to_string(), tp.clone()));
        let acked = c.and_then(|c| c.acked_last);
        if offset == -1 {
            ensure!(
                acked.is_none(),
                "{group} {tp:?}: no offset, {acked:?} was committed"
            );
            return Ok(());
        }
        ensure!(
            c.is_some_and(|c| c.sent.contains(&offset)),
            "{group} {tp:?}: offset {offset} fetched, never committed"
        );
        ensure!(
            Some(offset) == acked || c.is_some_and(|c| c.unconfirmed.contains(&offset)),
            "{group} {tp:?}: offset {offset} fetched, {acked:?} was committed since: it went back"
        );
        Ok(())
    }
}

/// A value for messages: values are ASCII.
fn show(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> Tp {
        ("t".to_string(), 0)
    }

    #[test]
    fn acknowledged_offsets_must_be_dense_and_read_back() {
        let mut m = Model::default();
        let a = m.new_values(&tp(), 2, false);
        m.produce_acked(&tp(), &a, 0).expect("first");
        let b = m.new_values(&tp(), 1, false);
        assert!(m.produce_acked(&tp(), &b, 3).is_err(), "a gap is caught");
        let read = vec![(0, a[0].clone()), (1, a[1].clone())];
        m.fetched(&tp(), 0, &read, 2).expect("reads back");
        let wrong = vec![(0, a[1].clone())];
        assert!(
            m.fetched(&tp(), 0, &wrong, 2).is_err(),
            "a moved record is caught"
        );
    }

    #[test]
    fn a_failed_produce_may_or_may_not_be_stored() {
        let mut m = Model::default();
        let a = m.new_values(&tp(), 1, false);
        m.produce_unknown(&tp(), &a, true);
        let b = m.new_values(&tp(), 1, false);
        m.produce_acked(&tp(), &b, 1)
            .expect("after a maybe-stored record");
        m.fetched(&tp(), 0, &[(0, a[0].clone()), (1, b[0].clone())], 2)
            .expect("the failed one was stored after all");
        assert!(m.fetched(&tp(), 0, &[(0, b[0].clone())], 2).is_err());
    }

    #[test]
    fn committed_offsets_never_go_back() {
        let mut m = Model::default();
        let one = m.next_commit("g", &tp());
        let two = m.next_commit("g", &tp());
        m.offset_fetched("g", &tp(), -1)
            .expect("nothing acknowledged yet");
        m.commit_acked("g", &tp(), two);
        m.offset_fetched("g", &tp(), one)
            .expect("unanswered: the broker may apply it after the other");
        m.commit_acked("g", &tp(), one);
        m.offset_fetched("g", &tp(), one)
            .expect("acknowledged last, though lower");
        assert!(m.offset_fetched("g", &tp(), two).is_err(), "overwritten");
        let three = m.next_commit("g", &tp());
        m.commit_refused("g", &tp(), three);
        assert!(m.offset_fetched("g", &tp(), three).is_err(), "refused");
    }
}
