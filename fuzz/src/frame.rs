//! `frame`: a connection's byte stream cut into frames, each frame's header read three ways
//! and its body decoded as the request target does.

use blazemq_core::codec::{
    FrameError, decode_request_header, peek_request_header, request_header_ref,
    request_header_version, split,
};

/// The limits a stream is split under: one that short inputs can cross, and Kafka's default
/// `socket.request.max.bytes`.
const MAX_BYTES: [u32; 2] = [64, 100 * 1024 * 1024];

/// Splits `data` as a connection's buffer would be, and reads every whole frame.
pub fn frame(data: &[u8]) {
    for max_bytes in MAX_BYTES {
        split_stream(data, max_bytes);
    }
}

fn split_stream(data: &[u8], max_bytes: u32) {
    let mut rest = data;
    loop {
        let prefix = rest.first_chunk::<4>().map(|p| i32::from_be_bytes(*p));
        match split(rest, max_bytes) {
            Ok(None) => {
                // "Need more" only when the prefix or the frame it announces is not all here.
                if let Some(size) = prefix {
                    assert!(size >= 0 && size as u32 <= max_bytes);
                    assert!(
                        4 + size as usize > rest.len(),
                        "a whole frame was not found"
                    );
                }
                return;
            }
            Ok(Some(n)) => {
                let size = prefix.expect("a frame has a prefix");
                assert_eq!(n, 4 + size as usize, "frame length is the prefix plus 4");
                assert!(n <= rest.len() && size as u32 <= max_bytes);
                frame_body(&rest[4..n]);
                rest = &rest[n..];
            }
            Err(FrameError::NegativeSize(size)) => {
                assert_eq!(Some(size), prefix);
                assert!(size < 0);
                return;
            }
            Err(FrameError::TooLarge { size, max_bytes: m }) => {
                assert_eq!(m, max_bytes);
                assert_eq!(Some(size as i32), prefix);
                assert!(size > max_bytes);
                return;
            }
        }
    }
}

/// The in-place header must accept what the generated one accepts, with the same fields and
/// the same body; the peeked first 8 bytes must match both.
fn frame_body(body: &[u8]) {
    let peeked = peek_request_header(body);
    let owned = decode_request_header(body);
    let in_place = request_header_ref(body);
    match (owned, in_place) {
        (Ok((header, owned_rest)), Ok((header_ref, ref_rest))) => {
            assert_eq!(header.request_api_key, header_ref.api_key);
            assert_eq!(header.request_api_version, header_ref.api_version);
            assert_eq!(header.correlation_id, header_ref.correlation_id);
            let api = (header.request_api_key, header.request_api_version);
            if request_header_version(api.0, api.1) >= 1 {
                // Header v0 has no client id: the generated header holds the spec's default
                // (""), the in-place one None; neither is read from the wire.
                assert_eq!(header.client_id.as_deref(), header_ref.client_id);
            }
            assert_eq!(
                owned_rest, ref_rest,
                "the two headers end at different bytes"
            );
            let first_8 = (
                header.request_api_key,
                header.request_api_version,
                header.correlation_id,
            );
            assert_eq!(peeked, Ok(first_8));
            crate::request::body(
                header.request_api_key,
                header.request_api_version,
                owned_rest,
            );
        }
        (Err(_), Err(_)) => {}
        (owned, in_place) => {
            panic!("header decoders disagree: generated {owned:?}, in place {in_place:?}")
        }
    }
}
