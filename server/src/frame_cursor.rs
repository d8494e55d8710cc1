//! Where the request frames of a connection's byte stream end, so the loop can hand the broker
//! one frame at a time and stop between two frames once the connection's output is over its
//! bound. Only the 4-byte size prefixes are read; checking them is the broker's job, so a size
//! it would refuse just makes the rest of the stream one "frame" for the broker to reject.

/// Position in a stream of size-prefixed frames, carried across reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCursor {
    /// The size prefix of the current frame, as far as it has arrived.
    prefix: [u8; 4],
    /// Bytes of `prefix` seen (4: the size is known and `body_left` counts down).
    prefix_len: usize,
    /// Bytes of the current frame's body not yet seen.
    body_left: usize,
}

impl FrameCursor {
    /// How many leading bytes of `data` to hand over next, and whether they end a frame.
    /// Consumes them: call again with the rest.
    pub fn step(&mut self, data: &[u8]) -> (usize, bool) {
        let mut used = 0;
        if self.prefix_len < 4 {
            let take = (4 - self.prefix_len).min(data.len());
            self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&data[..take]);
            self.prefix_len += take;
            used = take;
            if self.prefix_len < 4 {
                return (used, false);
            }
            // A negative size is the broker's to refuse: it closes the connection on it.
            self.body_left = usize::try_from(i32::from_be_bytes(self.prefix)).unwrap_or(usize::MAX);
        }
        let take = self.body_left.min(data.len() - used);
        self.body_left -= take;
        used += take;
        let ended = self.body_left == 0;
        if ended {
            self.prefix_len = 0;
        }
        (used, ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    /// Split `stream` into pieces of `read` bytes, step through each, return the frame ends.
    fn ends(stream: &[u8], read: usize) -> Vec<usize> {
        let mut cursor = FrameCursor::default();
        let mut ends = Vec::new();
        let mut pos = 0;
        for piece in stream.chunks(read) {
            let mut at = 0;
            while at < piece.len() {
                let (n, ended) = cursor.step(&piece[at..]);
                assert!(n > 0, "a step always moves");
                at += n;
                if ended {
                    ends.push(pos + at);
                }
            }
            pos += piece.len();
        }
        ends
    }

    #[test]
    fn frame_ends_are_found_across_any_split() {
        let mut stream = frame(b"abc");
        stream.extend(frame(b""));
        stream.extend(frame(&[7; 300]));
        stream.extend(frame(b"z"));
        for read in [1, 2, 3, 4, 5, 7, 64, 1000] {
            assert_eq!(ends(&stream, read), [7, 11, 315, 320], "reads of {read}");
        }
    }

    #[test]
    fn a_negative_size_swallows_the_rest() {
        let mut stream = (-1i32).to_be_bytes().to_vec();
        stream.extend(frame(b"abc"));
        assert_eq!(ends(&stream, 3), Vec::<usize>::new());
    }
}
