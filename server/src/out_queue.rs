//! A connection's responses waiting to be written, in order, with how much of the first one is
//! already on the wire. Record data stays in the segments until the moment it is written.
//!
//! Two sizes are kept: the bytes still to write (wire bytes, segment ranges included) and the
//! memory the queued responses hold. Back-pressure uses the memory: a segment range is a few
//! bytes of `SegmentRef` whatever its length, and its bytes are page cache the broker maps anyway,
//! so counting them would throttle a consumer's large fetches without saving any memory.

use std::collections::VecDeque;
use std::io::IoSlice;

use blazemq_core::broker::{Chunk, Response, SegmentRef};

/// A response names segment bytes the broker no longer has (the segment was deleted, or the
/// range is not what was promised): the frame cannot be completed, so the connection must close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentGone(pub SegmentRef);

/// Responses not yet fully written.
#[derive(Debug, Default)]
pub struct OutQueue {
    responses: VecDeque<Response>,
    /// Bytes of `responses[0]` already written.
    head_written_bytes: usize,
    /// Bytes of all queued responses not yet written.
    unsent_bytes: usize,
    /// Memory the queued responses hold (see [`response_held_bytes`]).
    held_bytes: usize,
    /// The most `held_bytes` has been since [`OutQueue::take_peak_held_bytes`].
    peak_held_bytes: usize,
    /// Responses fully written, for the broker to reuse their buffers.
    written: Vec<Response>,
}

impl OutQueue {
    /// Queue `response` after the others.
    pub fn push(&mut self, response: Response) {
        self.unsent_bytes = self.unsent_bytes.saturating_add(response.len());
        self.held_bytes = self
            .held_bytes
            .saturating_add(response_held_bytes(&response));
        self.peak_held_bytes = self.peak_held_bytes.max(self.held_bytes);
        self.responses.push_back(response);
    }

    /// Take the responses written so far (their buffers go back to the broker).
    pub fn take_written(&mut self) -> std::vec::Drain<'_, Response> {
        if self.responses.is_empty() && self.responses.capacity() > KEPT_SLOTS_MAX {
            // A burst is over: give its slots back instead of holding them while idle.
            self.responses = VecDeque::new();
        }
        if self.written.capacity() > KEPT_SLOTS_MAX {
            // Emptied by the drain below before anything is pushed again.
            self.written.shrink_to(KEPT_SLOTS_MAX);
        }
        self.written.drain(..)
    }

    /// Take every response, written or not (the connection is closing): the broker gets them
    /// back so the segments they read from may close.
    pub fn take_all(&mut self) -> impl Iterator<Item = Response> + '_ {
        self.head_written_bytes = 0;
        self.unsent_bytes = 0;
        self.held_bytes = 0;
        self.written.drain(..).chain(self.responses.drain(..))
    }

    /// Whether everything was written.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty()
    }

    /// Bytes still to write.
    pub fn unsent_bytes(&self) -> usize {
        self.unsent_bytes
    }

    /// Memory held by the responses not yet fully written: what back-pressure bounds.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// The most memory held at once since the last call; the count restarts from now.
    pub fn take_peak_held_bytes(&mut self) -> usize {
        std::mem::replace(&mut self.peak_held_bytes, self.held_bytes)
    }

    /// Fill `iov` with the next unwritten pieces, in order; returns how many slots were used.
    /// `resolve` gives the bytes of a segment range (`Broker::segment_bytes`).
    pub fn gather<'a, 'b: 'a>(
        &'a self,
        resolve: impl Fn(&SegmentRef) -> Option<&'b [u8]>,
        iov: &mut [IoSlice<'a>],
    ) -> Result<usize, SegmentGone> {
        let mut skip = self.head_written_bytes;
        let mut used = 0;
        for response in &self.responses {
            for chunk in response.chunks() {
                if used == iov.len() {
                    return Ok(used);
                }
                let bytes = match chunk {
                    Chunk::Bytes(bytes) => bytes,
                    Chunk::Segment(segment) => match resolve(&segment) {
                        Some(bytes) if bytes.len() == segment.len as usize => bytes,
                        _ => return Err(SegmentGone(segment)),
                    },
                };
                if skip >= bytes.len() {
                    skip -= bytes.len();
                    continue;
                }
                iov[used] = IoSlice::new(&bytes[skip..]);
                skip = 0;
                used += 1;
            }
        }
        Ok(used)
    }

    /// `written_bytes` more bytes reached the socket.
    pub fn advance(&mut self, mut written_bytes: usize) {
        assert!(
            written_bytes <= self.unsent_bytes,
            "a write cannot exceed what was gathered"
        );
        self.unsent_bytes -= written_bytes;
        while let Some(front) = self.responses.front() {
            let remaining = front.len() - self.head_written_bytes;
            if written_bytes < remaining {
                self.head_written_bytes += written_bytes;
                return;
            }
            written_bytes -= remaining;
            self.head_written_bytes = 0;
            if let Some(done) = self.responses.pop_front() {
                self.held_bytes -= response_held_bytes(&done);
                self.written.push(done);
            }
        }
    }
}

/// Queue slots (and written-list slots) kept once a queue empties; more are freed, so a
/// connection's burst does not pin memory after it drains. 1024 slots are 48 KiB.
const KEPT_SLOTS_MAX: usize = 1024;

/// The memory `response` holds while queued: its buffers as allocated (not just as filled) and
/// its slot in the queue. Segment ranges count as the `Splice` that names them.
fn response_held_bytes(response: &Response) -> usize {
    size_of::<Response>()
        + response.bytes.capacity()
        + response.splices.capacity() * size_of::<blazemq_core::broker::Splice>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazemq_core::broker::Splice;

    const SEGMENT: &[u8] = b"0123456789";

    fn segment_ref(start: u32, len: u32) -> SegmentRef {
        SegmentRef {
            partition: 0,
            base_offset: 0,
            start,
            len,
        }
    }

    fn resolve(s: &SegmentRef) -> Option<&'static [u8]> {
        SEGMENT.get(s.start as usize..(s.start + s.len) as usize)
    }

    fn plain(bytes: &[u8]) -> Response {
        Response {
            bytes: bytes.to_vec(),
            splices: Vec::new(),
            ..Default::default()
        }
    }

    /// Drain the queue through writes of at most `step` bytes, as a slow socket would take them.
    fn drain(queue: &mut OutQueue, step: usize, iov_slots: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        for _ in 0..10_000 {
            if queue.is_empty() {
                return wire;
            }
            let mut iov = vec![IoSlice::new(&[]); iov_slots];
            let used = queue.gather(resolve, &mut iov).expect("segments resolve");
            let mut budget = step;
            let mut written = 0;
            for slice in &iov[..used] {
                let n = slice.len().min(budget);
                wire.extend_from_slice(&slice[..n]);
                budget -= n;
                written += n;
            }
            queue.advance(written);
        }
        panic!("queue never drained");
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        for step in [1, 2, 3, 7, 100] {
            for slots in [1, 2, 64] {
                let mut queue = OutQueue::default();
                queue.push(plain(b"head"));
                queue.push(Response {
                    bytes: b"[ab]".to_vec(),
                    splices: vec![
                        Splice {
                            at: 1,
                            segment: segment_ref(2, 3),
                        },
                        Splice {
                            at: 3,
                            segment: segment_ref(0, 1),
                        },
                    ],
                    ..Default::default()
                });
                queue.push(plain(b""));
                queue.push(plain(b"tail"));
                assert_eq!(queue.unsent_bytes(), 4 + 8 + 4);
                let wire = drain(&mut queue, step, slots);
                assert_eq!(wire, b"head[234ab0]tail", "step {step}, slots {slots}");
                assert_eq!(queue.unsent_bytes(), 0);
            }
        }
    }

    #[test]
    fn held_memory_counts_buffers_not_segment_bytes_and_returns_when_written() {
        let mut queue = OutQueue::default();
        let mut bytes = Vec::with_capacity(1000);
        bytes.extend_from_slice(b"frame");
        queue.push(Response {
            bytes,
            splices: Vec::new(),
            ..Default::default()
        });
        let big_fetch = Response {
            bytes: b"x".to_vec(),
            splices: vec![Splice {
                at: 1,
                segment: segment_ref(0, 9),
            }],
            ..Default::default()
        };
        let fetch_held = size_of::<Response>() + big_fetch.bytes.capacity() + size_of::<Splice>();
        queue.push(big_fetch);
        let held = size_of::<Response>() + 1000 + fetch_held;
        assert_eq!(queue.held_bytes(), held, "allocated capacity, not length");
        assert_eq!(queue.unsent_bytes(), 5 + 1 + 9);
        drain(&mut queue, 3, 64);
        assert_eq!(queue.held_bytes(), 0);
        assert_eq!(queue.take_peak_held_bytes(), held);
        assert_eq!(
            queue.take_peak_held_bytes(),
            0,
            "the peak restarts from now"
        );
    }

    #[test]
    fn a_drained_burst_gives_its_slots_back() {
        let mut queue = OutQueue::default();
        for _ in 0..5000 {
            queue.push(plain(b"r"));
        }
        drain(&mut queue, 1 << 20, 64);
        assert_eq!(queue.take_written().count(), 5000);
        assert!(queue.take_written().next().is_none());
        assert!(queue.responses.capacity() <= KEPT_SLOTS_MAX);
        assert!(queue.written.capacity() <= KEPT_SLOTS_MAX);
    }

    #[test]
    fn a_closing_queue_gives_back_written_and_unsent_responses() {
        let mut queue = OutQueue::default();
        for text in [&b"one"[..], b"two", b"three"] {
            queue.push(plain(text));
        }
        // The first written, part of the second.
        queue.advance(5);
        let all: Vec<Response> = queue.take_all().collect();
        assert_eq!(all.len(), 3, "every response, once");
        assert!(queue.is_empty());
        assert_eq!((queue.unsent_bytes(), queue.held_bytes()), (0, 0));
    }

    #[test]
    fn a_missing_or_short_segment_is_reported() {
        let mut queue = OutQueue::default();
        queue.push(Response {
            bytes: b"x".to_vec(),
            splices: vec![Splice {
                at: 1,
                segment: segment_ref(8, 5),
            }],
            ..Default::default()
        });
        let mut iov = [IoSlice::new(&[]); 4];
        assert_eq!(
            queue.gather(resolve, &mut iov),
            Err(SegmentGone(segment_ref(8, 5)))
        );
        let short = |_: &SegmentRef| Some(&SEGMENT[..2]);
        assert!(queue.gather(short, &mut iov).is_err());
    }
}
