//! What the engine tells its owner (the JS side) from its own threads.

use crate::contract::EvictReason;
use crate::error::DialError;
use crate::group::MemberChange;
use crate::net::DialOrder;
use crate::pool::shard::{ConnId, DestId};
use crate::waiters::WaiterId;

#[derive(Debug)]
pub enum Event {
    /// A dial succeeded: adopt the descriptor, then offer the connection.
    /// `us`: how long the connect took (DNS included), for tracing.
    Dialed { conn: ConnId, dest: DestId, us: u64 },
    /// A dial failed: report it to the engine, which names the waiter to reject.
    DialFailed {
        conn: ConnId,
        dest: DestId,
        error: DialError,
        /// How long the attempt took until it failed.
        us: u64,
    },
    /// Node-dialled path (`PoolConfig::node_dial`): connect to one of `order` (in that order),
    /// then report `node_dialed` or `node_dial_failed`. `us`: how long resolving took.
    DialOrder {
        conn: ConnId,
        dest: DestId,
        order: DialOrder,
        us: u64,
    },
    /// An idle connection must be closed (the engine already took it out of the idle list).
    Evict { conn: ConnId, reason: EvictReason },
    /// A waiter's acquire deadline passed (the engine already dequeued it).
    WaiterTimedOut { waiter: WaiterId },
    /// A group member changed state, or its user check must run (`MemberChange::Check`).
    Member {
        group: u32,
        dest: DestId,
        change: MemberChange,
    },
}

/// Delivers events to the owner's thread. `emit` returns false when the owner is gone.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event) -> bool;
}
