//! When the earliest acquire deadline falls, shared by the pool (which queues waiters) and
//! its timer task (which expires them).
//!
//! Deadlines live in the waiter entries themselves; this keeps only the earliest, as an atomic
//! that queuing lowers with one `fetch_min`. Serving or cancelling a waiter costs nothing here:
//! a stale (too early) value only makes the timer task look once more and find nothing due.
//! The timer task publishes when it plans to wake; a new deadline wakes it early only when it
//! falls before that, so a burst of waiters with the usual long timeout wakes no thread.

use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

const NONE: u64 = u64::MAX;

pub struct Deadlines {
    earliest: AtomicU64,
    planned_wake: AtomicU64,
    wake: Notify,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            earliest: AtomicU64::new(NONE),
            planned_wake: AtomicU64::new(NONE),
            wake: Notify::new(),
        }
    }
}

impl Deadlines {
    /// A waiter with this deadline (clock ms) was queued.
    pub fn note(&self, deadline: u64) {
        // Deadlines mostly arrive in increasing order (one timeout for all): a plain load then
        // spares the read-modify-write.
        if deadline < self.earliest.load(Ordering::Acquire) {
            self.earliest.fetch_min(deadline, Ordering::AcqRel);
        }
        if deadline < self.planned_wake.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }

    /// Puts back a deadline still pending after a scan, without waking anyone.
    pub fn keep(&self, deadline: u64) {
        self.earliest.fetch_min(deadline, Ordering::AcqRel);
    }

    /// Takes the earliest deadline for a scan, leaving none: the scan `keep`s what remains,
    /// and deadlines noted meanwhile are not lost.
    pub fn take(&self) -> Option<u64> {
        let earliest = self.earliest.swap(NONE, Ordering::AcqRel);
        (earliest != NONE).then_some(earliest)
    }

    pub fn earliest(&self) -> Option<u64> {
        let earliest = self.earliest.load(Ordering::Acquire);
        (earliest != NONE).then_some(earliest)
    }

    /// The timer task says when it will wake next (clock ms).
    pub fn plan_wake(&self, at: u64) {
        self.planned_wake.store(at, Ordering::Release);
    }

    pub fn woken(&self) -> &Notify {
        &self.wake
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_earliest_through_a_scan() {
        let d = Deadlines::default();
        assert_eq!(d.earliest(), None);
        d.note(30);
        d.note(10);
        d.note(20);
        assert_eq!(d.take(), Some(10));
        assert_eq!(d.earliest(), None);
        d.note(25); // queued during the scan
        d.keep(30); // left by the scan
        assert_eq!(d.earliest(), Some(25));
    }
}
