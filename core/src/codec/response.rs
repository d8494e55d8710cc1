//! A response frame whose record data may stay in the segments it was read from.

use alloc::vec::Vec;

use crate::time::Instant;

/// A byte range of one partition's segment, written to the socket straight from the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentRef {
    /// The broker's index of the partition (stable while the partition exists).
    pub partition: u32,
    /// Base offset of the segment, which names it.
    pub base_offset: i64,
    /// First byte within the segment.
    pub start: u32,
    /// Number of bytes.
    pub len: u32,
}

/// Segment bytes to insert at byte `at` of [`Response::bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Splice {
    /// Position in `bytes` before which the segment bytes go; splices are in ascending order.
    pub at: usize,
    /// The segment bytes.
    pub segment: SegmentRef,
}

/// The request a response answers, so a runtime can count and time it: its api key and the
/// `now` of the input that fed its last byte. A parked request keeps its arrival, so its time
/// includes the wait (Kafka's `TotalTimeMs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestStamp {
    /// The request's api key; -1 on a response not yet handed out by the broker.
    pub api_key: i16,
    /// When the request's last byte was fed.
    pub received: Instant,
}

impl Default for RequestStamp {
    fn default() -> Self {
        RequestStamp {
            api_key: -1,
            received: Instant::default(),
        }
    }
}

/// A whole response frame (size prefix included): `bytes` with `splices` inserted.
///
/// Its life, in order: the runtime sends its [`Response::chunks`], resolving each segment chunk
/// with `Broker::segment_bytes` (or writes it whole with `Broker::write_response`), then hands
/// it back with `Broker::recycle`, which reuses its buffers and lets the segments it named
/// close; the crate root's run-loop example shows the three steps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The encoded frame around the spliced segment bytes.
    pub bytes: Vec<u8>,
    /// Segment ranges to insert, ascending by `at`.
    pub splices: Vec<Splice>,
    /// The request it answers.
    pub request: RequestStamp,
}

/// One piece of a response in write order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Bytes of the response itself.
    Bytes(&'a [u8]),
    /// A segment range to resolve with `Broker::segment_bytes`.
    Segment(SegmentRef),
}

impl Response {
    /// The frame's total length on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
            + self
                .splices
                .iter()
                .map(|s| s.segment.len as usize)
                .sum::<usize>()
    }

    /// Whether the response is empty (never for a real response).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pieces in write order.
    pub fn chunks(&self) -> impl Iterator<Item = Chunk<'_>> + '_ {
        let mut pos = 0;
        let mut splices = self.splices.iter();
        let mut pending: Option<SegmentRef> = None;
        core::iter::from_fn(move || {
            if let Some(seg) = pending.take() {
                return Some(Chunk::Segment(seg));
            }
            match splices.next() {
                Some(s) => {
                    let bytes = &self.bytes[pos..s.at];
                    pos = s.at;
                    if bytes.is_empty() {
                        Some(Chunk::Segment(s.segment))
                    } else {
                        pending = Some(s.segment);
                        Some(Chunk::Bytes(bytes))
                    }
                }
                None if pos < self.bytes.len() => {
                    let bytes = &self.bytes[pos..];
                    pos = self.bytes.len();
                    Some(Chunk::Bytes(bytes))
                }
                None => None,
            }
        })
    }
}
