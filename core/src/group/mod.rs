//! The classic consumer-group coordinator and committed offsets, as a sans-IO state machine.
//!
//! [`GroupCoordinator`] owns every group: Kafka's states (Empty, PreparingRebalance,
//! CompletingRebalance, Stable; Dead is a group no longer held), generations, leaders,
//! static members (KIP-345) and committed offsets. It never reads a clock: every call that
//! depends on time takes `now`.
//!
//! # How the broker drives it
//!
//! 1. A request comes in: call the matching method (`join`, `sync`, `heartbeat`, `leave`,
//!    `commit`, `fetch`, `delete_offsets`, `describe`, `list`, `delete`; [`find_coordinator`]
//!    needs no state).
//!    `join` and `sync` return [`Reply::Now`] or [`Reply::Pending`] with a [`Ticket`]: the
//!    request is parked until the group moves on.
//! 2. At the deadline from `next_deadline`, call `on_timer(now)` (spurious calls are harmless);
//!    it also expires committed offsets (Kafka's `offsets.retention.minutes`), by the wall clock
//!    last given to `set_clock`.
//! 3. After either, drain in this order:
//!    - `records`: append every [`GroupRecord`] to the offsets log in one write, then report
//!      the outcome with `records_stored` or `records_failed` (which gives the error for the
//!      request's answer), so nothing is answered, and no commit or rebalance takes effect,
//!      before it is durable;
//!    - `poll_completed` until `None`: send each parked request's answer (a ticket whose
//!      connection has closed is dropped);
//!    - `next_deadline`: when to call `on_timer` next; `None` when nothing waits on the clock.
//!
//! At startup, replay the offsets log through `apply`, oldest record first, then give the wall
//! clock to `set_clock`, and again whenever the clocks move.
//!
//! It knows nothing of the wire: the broker converts between Kafka's messages and these types.

mod admin;
mod coordinator;
mod durability;
mod expiry;
mod join;
mod limits;
mod member_id;
mod offset_delete;
mod offsets;
mod rebalance;
pub mod records;
mod replay;
mod staged;
mod state;
mod types;

pub use admin::{KEY_TYPE_GROUP, KEY_TYPE_TRANSACTION, find_coordinator};
pub use coordinator::GroupCoordinator;
pub use durability::coordinator_error;
pub use limits::{GroupConfig, GroupLimits};
pub use records::{GroupRecord, RecordError};
pub use types::*;

#[cfg(test)]
mod tests;
