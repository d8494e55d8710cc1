//! A transactional producer's requests to its coordinator (KIP-98): FindCoordinator and
//! InitProducerId once, then AddPartitionsToTxn and EndTxn per transaction.
//!
//! The versions are those a current Java producer sends to a broker without
//! `transaction.version` 2 (KIP-890 part 2), which is how BlazeMQ presents itself: AddPartitionsToTxn
//! at most v3 (v4+ is the brokers' batched form), EndTxn at most v4 (v5 bumps the epoch at every
//! end), and Produce v11 for the batches (v12 adds partitions implicitly).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use blazemq_core::codec::ApiKey;
use blazemq_core::codec::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use blazemq_core::codec::messages::api_versions_response::ApiVersion;
use blazemq_core::codec::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, InitProducerIdRequest, InitProducerIdResponse,
};

use crate::error::{BenchError, Result};
use crate::wire::{Conn, pick_version};

/// Kafka's COORDINATOR_LOAD_IN_PROGRESS.
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
/// Kafka's COORDINATOR_NOT_AVAILABLE: Kafka answers it until `__transaction_state` exists.
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
/// Kafka's CONCURRENT_TRANSACTIONS: the previous transaction's markers are still being written.
const CONCURRENT_TRANSACTIONS: i16 = 51;
/// How long the setup may retry the errors a client retries before the run fails.
const SETUP_RETRY_FOR: Duration = Duration::from_secs(30);
/// The Java producer's backoff before it retries an AddPartitionsToTxn answered
/// CONCURRENT_TRANSACTIONS (`TransactionManager`'s 20 ms, shorter than `retry.backoff.ms`).
const ADD_PARTITIONS_BACKOFF: Duration = Duration::from_millis(20);
/// Backoff between setup retries (`retry.backoff.ms`' default).
const SETUP_BACKOFF: Duration = Duration::from_millis(100);
/// The transaction timeout asked for (the Java producer's default `transaction.timeout.ms`).
const TRANSACTION_TIMEOUT_MS: i32 = 60_000;

/// Versions of the coordinator requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnVersions {
    /// FindCoordinator (v1+: key type; v4+: a list of keys).
    pub find_coordinator: i16,
    /// InitProducerId.
    pub init_producer_id: i16,
    /// AddPartitionsToTxn in its client form (v0-3).
    pub add_partitions: i16,
    /// EndTxn.
    pub end_txn: i16,
}

impl TxnVersions {
    /// The Java producer's versions, limited to what the broker lists.
    pub fn negotiate(api_keys: &[ApiVersion]) -> Result<TxnVersions> {
        Ok(TxnVersions {
            find_coordinator: pick_version(api_keys, ApiKey::FindCoordinator, 6, 1)?,
            init_producer_id: pick_version(api_keys, ApiKey::InitProducerId, 5, 0)?,
            add_partitions: pick_version(api_keys, ApiKey::AddPartitionsToTxn, 3, 0)?,
            end_txn: pick_version(api_keys, ApiKey::EndTxn, 4, 0)?,
        })
    }
}

/// A broker's error code as a run error.
fn check(context: &'static str, code: i16) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(BenchError::Broker { context, code })
    }
}

/// Whether `host:port` names the broker at `peer` (the tool talks to one broker only).
fn same_broker(host: &str, port: i32, peer: SocketAddr) -> bool {
    let Ok(port) = u16::try_from(port) else {
        return false;
    };
    (host, port).to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|a| {
            a.port() == peer.port()
                && (a.ip() == peer.ip() || (a.ip().is_loopback() && peer.ip().is_loopback()))
        })
    })
}

/// A transactional producer's identity and state with its coordinator.
#[derive(Debug)]
pub struct Transactional {
    /// The `transactional.id`.
    pub transactional_id: String,
    /// From InitProducerId.
    pub producer_id: i64,
    /// From InitProducerId.
    pub producer_epoch: i16,
    /// The request versions.
    pub versions: TxnVersions,
    /// AddPartitionsToTxn requests answered CONCURRENT_TRANSACTIONS and sent again.
    pub retries: u64,
}

impl Transactional {
    /// FindCoordinator (key type 1) and InitProducerId on `conn`, retrying what a client
    /// retries (the coordinator loading or not yet available) for up to 30 s. The coordinator
    /// must be the broker `conn` is connected to.
    pub fn init(conn: &mut Conn, transactional_id: &str) -> Result<Transactional> {
        let versions = TxnVersions::negotiate(&conn.api_keys)?;
        let started = Instant::now();
        let retriable = |code: i16| {
            matches!(
                code,
                COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | CONCURRENT_TRANSACTIONS
            ) && started.elapsed() < SETUP_RETRY_FOR
        };
        let (host, port) = loop {
            let (code, host, port) =
                find_coordinator(conn, versions.find_coordinator, transactional_id)?;
            if !retriable(code) {
                check("FindCoordinator", code)?;
                break (host, port);
            }
            std::thread::sleep(SETUP_BACKOFF);
        };
        if !same_broker(&host, port, conn.peer()?) {
            return Err(BenchError::Protocol(format!(
                "the transaction coordinator is {host}:{port}, not the broker connected to"
            )));
        }
        let req = InitProducerIdRequest {
            transactional_id: Some(transactional_id.into()),
            transaction_timeout_ms: TRANSACTION_TIMEOUT_MS,
            producer_id: -1,
            producer_epoch: -1,
        };
        let resp = loop {
            let resp: InitProducerIdResponse = conn.call(versions.init_producer_id, &req)?;
            if !retriable(resp.error_code) {
                check("InitProducerId", resp.error_code)?;
                break resp;
            }
            std::thread::sleep(SETUP_BACKOFF);
        };
        if resp.producer_id < 0 || resp.producer_epoch < 0 {
            return Err(BenchError::Protocol(format!(
                "InitProducerId gave producer {} epoch {}",
                resp.producer_id, resp.producer_epoch
            )));
        }
        Ok(Transactional {
            transactional_id: transactional_id.into(),
            producer_id: resp.producer_id,
            producer_epoch: resp.producer_epoch,
            versions,
            retries: 0,
        })
    }

    /// AddPartitionsToTxn of one partition, which begins a transaction. An answer of
    /// CONCURRENT_TRANSACTIONS (Kafka still writing the last transaction's markers) is retried
    /// after 20 ms, as the Java producer does, and counted in [`Transactional::retries`].
    pub fn add_partition(&mut self, conn: &mut Conn, topic: &str, partition: i32) -> Result<()> {
        let req = AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: self.transactional_id.clone(),
            v3_and_below_producer_id: self.producer_id,
            v3_and_below_producer_epoch: self.producer_epoch,
            v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                name: topic.into(),
                partitions: vec![partition],
            }],
            ..Default::default()
        };
        let started = Instant::now();
        loop {
            let resp: AddPartitionsToTxnResponse = conn.call(self.versions.add_partitions, &req)?;
            check("AddPartitionsToTxn", resp.error_code)?;
            let code = resp
                .results_by_topic_v3_and_below
                .iter()
                .find(|t| t.name == topic)
                .and_then(|t| {
                    t.results_by_partition
                        .iter()
                        .find(|p| p.partition_index == partition)
                })
                .map(|p| p.partition_error_code)
                .ok_or_else(|| {
                    BenchError::Protocol("AddPartitionsToTxn answered without the partition".into())
                })?;
            if code != CONCURRENT_TRANSACTIONS || started.elapsed() > SETUP_RETRY_FOR {
                return check("AddPartitionsToTxn", code);
            }
            self.retries += 1;
            std::thread::sleep(ADD_PARTITIONS_BACKOFF);
        }
    }

    /// EndTxn with commit=true; the answer must carry no error.
    pub fn commit(&mut self, conn: &mut Conn) -> Result<()> {
        let req = EndTxnRequest {
            transactional_id: self.transactional_id.clone(),
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            committed: true,
        };
        let resp: EndTxnResponse = conn.call(self.versions.end_txn, &req)?;
        check("EndTxn", resp.error_code)
    }
}

/// FindCoordinator of a transactional id: `(error code, host, port)`, from the list of keys at v4+.
fn find_coordinator(
    conn: &mut Conn,
    version: i16,
    transactional_id: &str,
) -> Result<(i16, String, i32)> {
    let batched = version >= 4;
    let req = FindCoordinatorRequest {
        key: if batched {
            String::new()
        } else {
            transactional_id.into()
        },
        key_type: 1,
        coordinator_keys: if batched {
            vec![transactional_id.into()]
        } else {
            Vec::new()
        },
    };
    let resp: FindCoordinatorResponse = conn.call(version, &req)?;
    if !batched {
        return Ok((resp.error_code, resp.host, resp.port));
    }
    let c = resp
        .coordinators
        .into_iter()
        .find(|c| c.key == transactional_id)
        .ok_or_else(|| BenchError::Protocol("FindCoordinator answered without the key".into()))?;
    Ok((c.error_code, c.host, c.port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    fn listed(key: ApiKey, max: i16) -> ApiVersion {
        ApiVersion {
            api_key: key.code(),
            min_version: 0,
            max_version: max,
        }
    }

    #[test]
    fn versions_are_the_java_producers_capped_by_the_broker() {
        let kafka = [
            listed(ApiKey::FindCoordinator, 6),
            listed(ApiKey::InitProducerId, 6),
            listed(ApiKey::AddPartitionsToTxn, 5),
            listed(ApiKey::EndTxn, 5),
        ];
        let v = TxnVersions::negotiate(&kafka).unwrap();
        assert_eq!(
            (
                v.find_coordinator,
                v.init_producer_id,
                v.add_partitions,
                v.end_txn
            ),
            (6, 5, 3, 4)
        );
        let old = [
            listed(ApiKey::FindCoordinator, 3),
            listed(ApiKey::InitProducerId, 1),
            listed(ApiKey::AddPartitionsToTxn, 1),
            listed(ApiKey::EndTxn, 1),
        ];
        let v = TxnVersions::negotiate(&old).unwrap();
        assert_eq!(
            (
                v.find_coordinator,
                v.init_producer_id,
                v.add_partitions,
                v.end_txn
            ),
            (3, 1, 1, 1)
        );
        assert!(TxnVersions::negotiate(&kafka[..3]).is_err(), "no EndTxn");
    }

    #[test]
    fn the_coordinator_must_be_the_broker_connected_to() {
        let peer: SocketAddr = "127.0.0.1:9092".parse().unwrap();
        assert!(same_broker("127.0.0.1", 9092, peer));
        assert!(same_broker("localhost", 9092, peer));
        assert!(!same_broker("127.0.0.1", 9093, peer));
        assert!(!same_broker("127.0.0.1", -1, peer));
    }
}
