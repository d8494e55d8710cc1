//! What can stop a benchmark run.

use std::fmt;
use std::io;

use blazemq_core::codec::{DecodeError, EncodeError};

/// Why a run failed. Every variant ends the run with a message; none is retried.
#[derive(Debug)]
pub enum BenchError {
    /// A socket, file or process call failed.
    Io(io::Error),
    /// A response could not be decoded.
    Decode(DecodeError),
    /// A request could not be encoded at the negotiated version.
    Encode(EncodeError),
    /// The broker answered with a Kafka error code.
    Broker {
        /// What was asked.
        context: &'static str,
        /// The error code.
        code: i16,
    },
    /// The broker broke the protocol (wrong correlation id, oversized frame, missing data).
    Protocol(String),
    /// The command line is wrong.
    Usage(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Io(e) => write!(f, "I/O error: {e}"),
            BenchError::Decode(e) => write!(f, "cannot decode a response: {e:?}"),
            BenchError::Encode(e) => write!(f, "cannot encode a request: {e:?}"),
            BenchError::Broker { context, code } => {
                write!(f, "{context}: the broker answered error code {code}")
            }
            BenchError::Protocol(m) => write!(f, "protocol error: {m}"),
            BenchError::Usage(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<io::Error> for BenchError {
    fn from(e: io::Error) -> Self {
        BenchError::Io(e)
    }
}

impl From<DecodeError> for BenchError {
    fn from(e: DecodeError) -> Self {
        BenchError::Decode(e)
    }
}

impl From<EncodeError> for BenchError {
    fn from(e: EncodeError) -> Self {
        BenchError::Encode(e)
    }
}

/// The result of anything in a run.
pub type Result<T> = std::result::Result<T, BenchError>;
