//! The resource pool: the engine behind the JS `ResourcePool`, for arbitrary JS resources
//! (database clients, channels) instead of sockets.
//!
//! The JS facade holds the resources themselves in an array indexed by slot id; this engine
//! owns every decision about them: limits, idle order, waiters, acquire deadlines, idle and
//! lifetime eviction, keeping `min` alive with backoff, counters. All calls are synchronous
//! under one lock per pool; what happens on the engine's own clock (timeouts, evictions,
//! background creates) reaches the owner as `ResourceEvent`s from the timer task.
//!
//! Slot ids are reused once a slot is gone, yet a stale id never acts on a new resource:
//! a slot leaves the table only when the owner reports it gone (`destroyed`,
//! `create_failed`), so an id the owner still holds is never given to another resource.

mod config;
mod events;
mod pool;
mod slots;
mod stats;
mod timers;

pub use config::ResourceConfig;
pub use events::{ResourceEvent, ResourceSink};
pub use pool::ResourcePool;
pub use slots::SlotId;
pub use stats::ResourceStats;

use crate::waiters::WaiterId;

/// The result of `acquire`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// This idle slot is now in use.
    Hit(SlotId),
    /// This idle slot outlived `maxLifetime` and is now being destroyed: the owner destroys
    /// it, reports `destroyed`, and calls `acquire` again.
    Expired(SlotId),
    /// The waiter is queued. `create`: a new slot (creating) the owner must create now.
    Queued {
        create: Option<SlotId>,
    },
    /// No idle slot and `maxWaiters` already queued.
    QueueFull,
    Closed,
}

/// Where a free slot (released, or just created) goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Straight to this waiter, which now holds it.
    Handoff(WaiterId),
    /// Into the idle list.
    Idle,
    /// Nowhere: the slot is now being destroyed (pool closed, or lifetime passed).
    Destroy,
}
