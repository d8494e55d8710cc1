//! Size-prefixed framing: every Kafka request and response is an int32 size and that many bytes.

/// Why a frame's size prefix is unacceptable. Either way the connection cannot continue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The size prefix is negative.
    NegativeSize(i32),
    /// The size prefix is larger than the limit (Kafka's `socket.request.max.bytes`).
    TooLarge {
        /// The size on the wire.
        size: u32,
        /// The limit.
        max_bytes: u32,
    },
}

/// Finds the first whole frame in `buf`.
///
/// `Ok(None)`: more bytes are needed. `Ok(Some(n))`: the first `n` bytes (the 4-byte prefix
/// included) are one frame. The size is checked from the prefix alone, so an oversized frame
/// is rejected before any of it is buffered.
pub fn split(buf: &[u8], max_bytes: u32) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let size = i32::from_be_bytes(*prefix);
    if size < 0 {
        return Err(FrameError::NegativeSize(size));
    }
    let size = size as u32;
    if size > max_bytes {
        return Err(FrameError::TooLarge { size, max_bytes });
    }
    let total = 4 + size as usize;
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_whole_and_bad_frames() {
        assert_eq!(split(&[], 100), Ok(None));
        assert_eq!(split(&[0, 0, 0], 100), Ok(None));
        assert_eq!(split(&[0, 0, 0, 2, 1], 100), Ok(None));
        assert_eq!(split(&[0, 0, 0, 2, 1, 2, 3], 100), Ok(Some(6)));
        assert_eq!(split(&[0, 0, 0, 0], 100), Ok(Some(4)));
        assert_eq!(
            split(&[0xff, 0xff, 0xff, 0xff], 100),
            Err(FrameError::NegativeSize(-1))
        );
        assert_eq!(
            split(&[0, 0, 0, 101], 100),
            Err(FrameError::TooLarge {
                size: 101,
                max_bytes: 100
            })
        );
    }
}
