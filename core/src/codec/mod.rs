//! The Kafka wire format.
//!
//! - [`frame::split`] finds size-prefixed frames in a connection's buffer.
//! - [`peek_request_header`] reads a request's api key, version and correlation id, enough to
//!   answer even a request that cannot be decoded.
//! - [`messages`] holds one generated module per request, response and header, each a plain
//!   struct implementing [`Message`].
//! - [`primitives`] holds the hand-written parsers and the [`Writer`] they share.

// Generated: one match arm per API key, which no split would make clearer.
#[allow(clippy::too_many_lines)]
pub mod api_key;
#[cfg(feature = "arbitrary")]
pub mod arbitrary;
pub mod fetch_view;
pub mod frame;
mod header;
pub mod messages;
pub mod primitives;
pub mod produce_view;
pub mod response;

pub use api_key::ApiKey;
pub use frame::{FrameError, split};
pub use header::{
    RequestHeaderRef, decode_request_header, decode_response_frame, peek_request_header,
    request_frame, request_header_ref, request_header_version, response_frame,
    response_header_version,
};
pub use primitives::{DecodeError, EncodeError, Records, Uuid, Writer};
pub use response::{Chunk, RequestStamp, Response, SegmentRef, Splice};

/// A request, response or header as Kafka's message spec defines it, at every version it has.
pub trait Message: Sized {
    /// The api key (-1 for headers).
    const API_KEY: i16;
    /// The lowest version the spec defines.
    const LOWEST_VERSION: i16;
    /// The highest version the spec defines.
    const HIGHEST_VERSION: i16;
    /// The first version with the compact ("flexible") encoding; `i16::MAX` if none.
    const FIRST_FLEXIBLE_VERSION: i16;

    /// Decodes one message at `version` from the front of `input`.
    ///
    /// A version outside `LOWEST_VERSION..=HIGHEST_VERSION` is [`DecodeError::UnsupportedVersion`].
    fn decode(input: &[u8], version: i16) -> nom::IResult<&[u8], Self, DecodeError>;

    /// Encodes the message at `version`.
    ///
    /// Fails for a version outside the spec's range, for a non-default value of a field the
    /// version lacks (unless the spec marks it ignorable: then it is dropped, as Kafka does), and
    /// for null where the version does not allow it.
    fn encode(&self, w: &mut Writer, version: i16) -> Result<(), EncodeError>;

    /// Decodes a message that is the rest of a frame.
    ///
    /// Bytes after the message are ignored, as Kafka's broker ignores them (it reads a request
    /// body from the frame's buffer and never checks that nothing is left), so a client that
    /// pads or appends data it expects a newer broker to read still gets an answer.
    fn decode_complete(input: &[u8], version: i16) -> Result<Self, DecodeError> {
        match Self::decode(input, version) {
            Ok((_rest, value)) => Ok(value),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
            // Only complete parsers are used: running out of input is an error, never this.
            Err(nom::Err::Incomplete(_)) => Err(DecodeError::Truncated),
        }
    }

    /// Whether `version` uses the flexible encoding.
    fn is_flexible(version: i16) -> bool {
        version >= Self::FIRST_FLEXIBLE_VERSION
    }

    /// Calls `f` with every error code the message carries, top level and nested (per topic,
    /// per partition), zeros included. Generated for responses; nothing for other messages.
    fn visit_error_codes<F: FnMut(i16)>(&self, _f: &mut F) {}
}

/// Checks `version` against a message's range before decoding it.
pub(crate) fn check_decode_version<M: Message>(version: i16) -> Result<(), nom::Err<DecodeError>> {
    if (M::LOWEST_VERSION..=M::HIGHEST_VERSION).contains(&version) {
        Ok(())
    } else {
        Err(nom::Err::Error(DecodeError::UnsupportedVersion(version)))
    }
}

/// Checks `version` against a message's range before encoding it.
pub(crate) fn check_encode_version<M: Message>(version: i16) -> Result<(), EncodeError> {
    if (M::LOWEST_VERSION..=M::HIGHEST_VERSION).contains(&version) {
        Ok(())
    } else {
        Err(EncodeError::UnsupportedVersion(version))
    }
}
