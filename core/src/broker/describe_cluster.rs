//! DescribeCluster (KIP-700): this broker, the only one, is also the controller.

use alloc::format;
use alloc::string::String;

use super::metadata::CLUSTER_OPERATIONS_ALL;
use super::{Broker, Hdr, Reply};
use crate::ErrorCode;
use crate::codec::Message;
use crate::codec::messages::describe_cluster_response::DescribeClusterBroker;
use crate::codec::messages::{DescribeClusterRequest, DescribeClusterResponse};
use crate::storage::Storage;

/// KIP-919's endpoint types: a broker's listeners, or the controllers'.
const ENDPOINT_BROKER: i8 = 1;
const ENDPOINT_CONTROLLER: i8 = 2;

impl<S: Storage> Broker<S> {
    pub(super) fn describe_cluster(&mut self, hdr: Hdr, body: &[u8]) -> Reply {
        let Ok((_, request)) = DescribeClusterRequest::decode(body, hdr.api_version) else {
            return Reply::Close;
        };
        // As Kafka's broker: it serves broker endpoints only; v0 has no code for the others.
        let refusal = match request.endpoint_type {
            ENDPOINT_BROKER => None,
            ENDPOINT_CONTROLLER => Some((
                ErrorCode::MismatchedEndpointType,
                String::from(
                    "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER",
                ),
            )),
            other => Some((
                ErrorCode::UnsupportedEndpointType,
                format!("Unsupported endpoint type {other}"),
            )),
        };
        let response = match refusal {
            Some((code, message)) => DescribeClusterResponse {
                error_code: if hdr.api_version == 0 {
                    ErrorCode::InvalidRequest.code()
                } else {
                    code.code()
                },
                error_message: Some(message),
                ..Default::default()
            },
            None => DescribeClusterResponse {
                endpoint_type: ENDPOINT_BROKER,
                cluster_id: self.config.cluster_id.clone(),
                controller_id: self.config.broker_id,
                brokers: alloc::vec![DescribeClusterBroker {
                    broker_id: self.config.broker_id,
                    host: self.config.advertised_host.clone(),
                    port: self.config.advertised_port,
                    rack: None,
                }],
                // Without an authorizer Kafka grants every cluster operation.
                cluster_authorized_operations: if request.include_cluster_authorized_operations {
                    CLUSTER_OPERATIONS_ALL
                } else {
                    i32::MIN
                },
                ..Default::default()
            },
        };
        self.respond(hdr, &response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::harness::{broker, call};

    #[test]
    fn this_broker_is_the_cluster_and_its_controller() {
        let mut b = broker();
        for v in 0..=1 {
            for include in [false, true] {
                let req = DescribeClusterRequest {
                    include_cluster_authorized_operations: include,
                    endpoint_type: ENDPOINT_BROKER,
                };
                let resp: DescribeClusterResponse = call(&mut b, v, &req);
                assert_eq!(resp.error_code, 0);
                assert_eq!(resp.cluster_id, b.config().cluster_id);
                assert_eq!(resp.controller_id, 0);
                assert_eq!(resp.brokers.len(), 1);
                assert_eq!(resp.brokers[0].port, b.config().advertised_port);
                let ops = if include {
                    CLUSTER_OPERATIONS_ALL
                } else {
                    i32::MIN
                };
                assert_eq!(resp.cluster_authorized_operations, ops);
            }
        }
    }

    #[test]
    fn controller_and_unknown_endpoints_are_refused() {
        let mut b = broker();
        for (endpoint, code) in [(ENDPOINT_CONTROLLER, 114), (7, 115)] {
            let req = DescribeClusterRequest {
                include_cluster_authorized_operations: false,
                endpoint_type: endpoint,
            };
            let resp: DescribeClusterResponse = call(&mut b, 1, &req);
            assert_eq!(resp.error_code, code);
            assert!(resp.brokers.is_empty());
        }
    }
}
