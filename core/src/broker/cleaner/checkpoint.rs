//! What the cleaner has done, kept across restarts (Kafka's `cleaner-offset-checkpoint`): per
//! compacted partition, the first offset no pass has cleaned and the ends of its recent passes
//! with their times, so a restart neither cleans every compacted log again nor makes tombstones
//! wait `delete.retention.ms` anew. Text, one line per partition:
//!
//! ```text
//! version 0
//! <topic> <partition> <topic id, 32 hex digits> <first dirty offset> [<pass end>:<unix ms>]...
//! ```
//!
//! Topic names hold no spaces (Kafka's legal characters are letters, digits, `.`, `_`, `-`).
//! The topic id keeps an entry from a deleted topic off a new one of the same name. Losing the
//! file, or a line, costs only cleaning again: it is written after each pass without a sync.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::codec::primitives::Uuid;

const HEADER: &str = "version 0";

/// One partition's entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub topic: String,
    pub partition: i32,
    pub topic_id: Uuid,
    pub first_dirty: i64,
    /// `(end of a pass, unix ms it ended)`, oldest first.
    pub passes: Vec<(i64, i64)>,
}

/// The file's bytes for `entries`.
pub(super) fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = String::from(HEADER);
    out.push('\n');
    for e in entries {
        // Writing to a String cannot fail.
        let line = write!(out, "{} {} ", e.topic, e.partition)
            .and_then(|()| e.topic_id.0.iter().try_for_each(|b| write!(out, "{b:02x}")))
            .and_then(|()| write!(out, " {}", e.first_dirty))
            .and_then(|()| {
                e.passes
                    .iter()
                    .try_for_each(|(end, at)| write!(out, " {end}:{at}"))
            });
        debug_assert!(line.is_ok());
        out.push('\n');
    }
    out.into_bytes()
}

/// The entries of a file; lines that do not parse are left out, and a file of another version
/// yields none.
pub(super) fn parse(bytes: &[u8]) -> Vec<Entry> {
    let Ok(text) = core::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Vec::new();
    }
    lines.filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let mut fields = line.split(' ');
    let topic = String::from(fields.next().filter(|t| !t.is_empty())?);
    let partition = fields.next()?.parse().ok()?;
    let topic_id = parse_uuid(fields.next()?)?;
    let first_dirty = fields.next()?.parse().ok()?;
    let passes = fields
        .map(|pass| {
            let (end, at) = pass.split_once(':')?;
            Some((end.parse().ok()?, at.parse().ok()?))
        })
        .collect::<Option<Vec<(i64, i64)>>>()?;
    Some(Entry {
        topic,
        partition,
        topic_id,
        first_dirty,
        passes,
    })
}

fn parse_uuid(hex: &str) -> Option<Uuid> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Uuid(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(topic: &str, passes: Vec<(i64, i64)>) -> Entry {
        Entry {
            topic: topic.into(),
            partition: 3,
            topic_id: Uuid([0xab; 16]),
            first_dirty: 120,
            passes,
        }
    }

    #[test]
    fn entries_round_trip() {
        let entries = alloc::vec![
            entry(
                "orders",
                alloc::vec![(100, 1_700_000_000_000), (120, 1_700_000_100_000)]
            ),
            entry("__consumer_offsets", Vec::new()),
        ];
        let bytes = encode(&entries);
        assert!(bytes.starts_with(b"version 0\norders 3 abababab"));
        assert_eq!(parse(&bytes), entries);
    }

    #[test]
    fn what_does_not_parse_is_left_out() {
        let good = encode(&[entry("t", alloc::vec![(5, 6)])]);
        let mut text = String::from_utf8(good.clone()).expect("utf-8");
        text.push_str("t 1 zz 4\nt x 00 4\nt 1 abababababababababababababababab 4 5:\n\n");
        assert_eq!(parse(text.as_bytes()), parse(&good));
        assert_eq!(
            parse(b"version 1\nt 3 abababababababababababababababab 120\n"),
            []
        );
        assert_eq!(parse(&[0xff, 0xfe]), []);
    }
}
