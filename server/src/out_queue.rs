//! A connection's responses waiting to be written, in order, with how much of the first one is
//! already on the wire. Record data stays in the segments until the moment it is written.

use std::collections::VecDeque;
use std::io::IoSlice;

use blazemq_core::codec::{Chunk, Response, SegmentRef};

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
    /// Responses fully written, for the broker to reuse their buffers.
    written: Vec<Response>,
}

impl OutQueue {
    /// Queue `response` after the others.
    pub fn push(&mut self, response: Response) {
        self.unsent_bytes = self.unsent_bytes.saturating_add(response.len());
        self.responses.push_back(response);
    }

    /// Take the responses written so far (their buffers go back to the broker).
    pub fn take_written(&mut self) -> std::vec::Drain<'_, Response> {
        self.written.drain(..)
    }

    /// Whether everything was written.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty()
    }

    /// Bytes still to write.
    pub fn unsent_bytes(&self) -> usize {
        self.unsent_bytes
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
                self.written.push(done);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazemq_core::codec::Splice;

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
    fn a_missing_or_short_segment_is_reported() {
        let mut queue = OutQueue::default();
        queue.push(Response {
            bytes: b"x".to_vec(),
            splices: vec![Splice {
                at: 1,
                segment: segment_ref(8, 5),
            }],
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
