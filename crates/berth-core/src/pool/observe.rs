//! What the owner asks only when someone observes the pool (tracing, events): nothing here
//! runs on the hot path unless asked.

use super::shard::{ConnId, DestId};
use super::Pool;
use crate::contract::EvictReason;
use std::sync::atomic::Ordering;

/// Which limit keeps a queued acquire waiting without a dial of its own (`wait_cap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitCap {
    /// None: a dial in flight serves it, or `maxConcurrentDials` paces the dials.
    None = 0,
    /// The destination has `maxPerDestination` connections open.
    PerDestination = 1,
    /// The pool has `maxTotal` connections open.
    Total = 2,
}

impl Pool {
    /// Why the engine closed connection `id` (found dead at acquire, or a release it placed
    /// to close), while its record lasts (until the owner reports the descriptor closed).
    pub fn close_reason(&self, id: ConnId) -> Option<EvictReason> {
        self.shard(id).conn_mut(id).and_then(|conn| conn.evicted)
    }

    /// Which cap keeps `dest`'s newest waiter waiting, asked right after an acquire queued.
    /// A waiter covered by a dial in flight waits for no cap.
    pub fn wait_cap(&self, dest: DestId) -> WaitCap {
        let mut shard = self.shard(dest);
        let Some(ds) = shard.dest(dest) else {
            return WaitCap::None;
        };
        if ds.waiters.len() as u32 <= ds.dialing {
            return WaitCap::None;
        }
        if ds.open >= self.config.max_per_destination {
            return WaitCap::PerDestination;
        }
        if ds.dialing >= self.config.max_concurrent_dials {
            return WaitCap::None;
        }
        if self.total_open.load(Ordering::Relaxed) >= self.config.max_total {
            return WaitCap::Total;
        }
        WaitCap::None
    }
}
