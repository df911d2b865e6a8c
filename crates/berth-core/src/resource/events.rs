//! What the resource engine tells its owner from the timer task.

use super::SlotId;
use crate::contract::EvictReason;
use crate::waiters::WaiterId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceEvent {
    /// Create a resource for `min` in this slot (already counted as being created).
    Create { slot: SlotId },
    /// Destroy this idle slot's resource (already taken out of the idle list), then report
    /// `destroyed`. `reason` is `Idle` or `Lifetime`.
    Evict { slot: SlotId, reason: EvictReason },
    /// This waiter's acquire deadline passed (already dequeued): reject it.
    WaiterTimedOut { waiter: WaiterId },
}

/// Delivers events to the owner's thread. `emit` returns false when the owner is gone.
pub trait ResourceSink: Send + Sync {
    fn emit(&self, event: ResourceEvent) -> bool;
}
