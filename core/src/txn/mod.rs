//! The transaction coordinator (KIP-98, KIP-360, KIP-447): each transactional id's producer id
//! and epoch, the state of its transaction and the partitions and consumer offsets in it.
//!
//! Pure state, as Kafka's `TransactionCoordinator` keeps it: a request is first checked and turned
//! into the metadata it leads to ([`TxnCoordinator::prepare_init`], `prepare_add`,
//! `prepare_end`, ...); the caller writes that metadata to the transaction log (and, ending a
//! transaction, the markers into its partitions) and only then [`TxnCoordinator::apply`]s it, so
//! nothing is acknowledged that a restart would not bring back ([`records`] replays the log).
//! One broker is the coordinator of every transactional id, and markers are written in the same
//! turn as the transaction log, so `PrepareCommit` and `PrepareAbort` last only until the next
//! write, or, after a crash between the two, until the replay completes them.

mod coordinator;
pub mod records;
mod state;

pub use coordinator::TxnCoordinator;
pub use state::{PendingOffset, TxnMetadata, TxnState};

/// Kafka's `transaction.max.timeout.ms` default: the longest transaction a producer may ask for.
pub const TRANSACTION_MAX_TIMEOUT_MS_DEFAULT: i32 = 900_000;

/// Kafka's `transactional.id.expiration.ms` default: seven days.
pub const TRANSACTIONAL_ID_EXPIRATION_MS_DEFAULT: i64 = 604_800_000;

/// The name of the transaction log, Kafka's internal topic.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";
