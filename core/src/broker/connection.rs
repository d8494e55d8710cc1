//! One client connection's request state: bytes not yet framed, and whether a request is parked.
//!
//! Kafka answers a connection's requests strictly in order (clients match responses to requests by
//! that order as much as by correlation id), so while one request is parked the frames behind it
//! wait here.

use alloc::vec::Vec;

#[derive(Debug, Default)]
pub(crate) struct Connection {
    /// Received bytes that do not yet form whole frames, or frames queued behind a parked request.
    pub inbound: Vec<u8>,
    /// A request of this connection is parked; later frames wait.
    pub parked: bool,
    /// The parked request, for its response's stamp.
    pub parked_request: crate::codec::RequestStamp,
    /// The client's host as Kafka reports it (`/127.0.0.1`).
    pub host: alloc::string::String,
}
