//! Kafka requests from inside the process: the console's JSON API asks the broker what any
//! client would ask it (Metadata, Fetch, DescribeGroups...), through the same dispatch, so what
//! the console shows is what a client sees.

use blazemq_core::Instant;
use blazemq_core::broker::{Broker, ConnId, Input, Output};
use blazemq_core::codec::{Message, decode_response_frame, request_frame};
use blazemq_core::storage::Storage;

/// The client id the broker sees on requests asked this way.
pub const CLIENT_ID: &str = "blazemq-console";

/// Why a request asked from inside got no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AskError {
    /// The request could not be encoded at that version.
    Encode,
    /// The broker closed the connection or did not answer at once (a parked request).
    NoAnswer,
    /// The answer did not decode as the response expected.
    Decode,
}

/// Something that answers Kafka requests as the broker does.
pub trait Ask {
    /// `request` at `version`, answered: the response body decoded as `R`.
    fn ask<Q: Message, R: Message>(&mut self, version: i16, request: &Q) -> Result<R, AskError>;
}

/// Asks `broker` on connection `conn`, which the broker must have accepted. Outputs for other
/// connections that the request causes (a parked Fetch woken by a Produce) go to `others`, for
/// the runtime to route as it routes any output.
#[derive(Debug)]
pub struct BrokerAsk<'b, S: Storage> {
    pub broker: &'b mut Broker<S>,
    pub conn: ConnId,
    pub now: Instant,
    pub unix_ms: i64,
    pub others: &'b mut Vec<Output>,
    pub correlation_id: i32,
}

impl<S: Storage> Ask for BrokerAsk<'_, S> {
    fn ask<Q: Message, R: Message>(&mut self, version: i16, request: &Q) -> Result<R, AskError> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let frame = request_frame(version, self.correlation_id, Some(CLIENT_ID), request)
            .map_err(|_| AskError::Encode)?;
        self.broker.handle(Input::Bytes {
            conn: self.conn,
            now: self.now,
            unix_ms: self.unix_ms,
            data: &frame,
        });
        let mut answer = None;
        loop {
            match self.broker.poll_output() {
                Output::Send { conn, response } if conn == self.conn => {
                    let mut bytes = Vec::with_capacity(response.len());
                    let written = self.broker.write_response(&response, &mut bytes);
                    self.broker.recycle(response);
                    if written {
                        answer = Some(bytes);
                    }
                }
                Output::Timeout(deadline) => {
                    // Given back so the runtime sets its timer from it.
                    self.others.push(Output::Timeout(deadline));
                    break;
                }
                other => self.others.push(other),
            }
        }
        let bytes = answer.ok_or(AskError::NoAnswer)?;
        let (correlation_id, body) =
            decode_response_frame::<R>(version, &bytes).map_err(|_| AskError::Decode)?;
        if correlation_id != self.correlation_id {
            return Err(AskError::Decode);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use blazemq_core::broker::BrokerConfig;
    use blazemq_core::codec::messages::{
        ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    };
    use blazemq_core::storage::MemoryStorage;

    use super::*;

    #[test]
    fn asks_through_the_dispatch() {
        let mut broker = Broker::new(BrokerConfig::default(), MemoryStorage::default(), 0)
            .expect("an empty broker starts");
        let conn = ConnId(1);
        broker.handle(Input::Accepted {
            conn,
            now: Instant::from_nanos(0),
            peer: "127.0.0.1",
        });
        let mut others = Vec::new();
        let mut ask = BrokerAsk {
            broker: &mut broker,
            conn,
            now: Instant::from_nanos(0),
            unix_ms: 0,
            others: &mut others,
            correlation_id: 0,
        };
        let request = ApiVersionsRequest {
            client_software_name: "blazemq-console".into(),
            client_software_version: "1".into(),
        };
        let versions: ApiVersionsResponse = ask.ask(3, &request).expect("ApiVersions answers");
        assert_eq!(versions.error_code, 0);
        assert!(versions.api_keys.len() > 30);
        let metadata: MetadataResponse = ask
            .ask(12, &MetadataRequest::default())
            .expect("Metadata answers");
        assert_eq!(metadata.brokers.len(), 1);
        // A request of the wrong shape for its answer fails to decode, it does not panic.
        let wrong: Result<MetadataResponse, _> = ask.ask(3, &request);
        assert_eq!(wrong.err(), Some(AskError::Decode));
    }
}
