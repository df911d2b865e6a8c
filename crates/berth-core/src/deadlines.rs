//! Acquire deadlines of queued waiters, earliest first, shared by the pool (which adds and
//! removes them) and its timer task (which expires them).
//!
//! Entries are removed as soon as their waiter is served or gives up, so the set holds only
//! live waiters however many pass through. The timer task publishes when it plans to wake; a
//! new deadline wakes it early only when it falls before that, so a burst of waiters with the
//! usual long timeout costs no cross-thread wake-ups.

use crate::shard::DestId;
use crate::waiters::WaiterId;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Deadlines {
    set: Mutex<BTreeSet<(u64, DestId, WaiterId)>>,
    planned_wake: AtomicU64,
    wake: Notify,
}

impl Deadlines {
    fn set(&self) -> std::sync::MutexGuard<'_, BTreeSet<(u64, DestId, WaiterId)>> {
        self.set
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add(&self, deadline: u64, dest: DestId, waiter: WaiterId) {
        self.set().insert((deadline, dest, waiter));
        if deadline < self.planned_wake.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }

    pub fn remove(&self, deadline: u64, dest: DestId, waiter: WaiterId) {
        self.set().remove(&(deadline, dest, waiter));
    }

    /// Takes the earliest deadline if it is due at `now`; otherwise returns when the next one
    /// falls due.
    pub fn pop_due(&self, now: u64) -> Result<(DestId, WaiterId), Option<u64>> {
        let mut set = self.set();
        match set.first() {
            Some(&(deadline, dest, waiter)) if deadline <= now => {
                set.pop_first();
                Ok((dest, waiter))
            }
            Some(&(deadline, _, _)) => Err(Some(deadline)),
            None => Err(None),
        }
    }

    pub fn earliest(&self) -> Option<u64> {
        self.set().first().map(|&(deadline, _, _)| deadline)
    }

    pub fn clear(&self) {
        self.set().clear();
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
    fn pops_due_deadlines_in_order_and_forgets_removed_ones() {
        let d = Deadlines::default();
        d.add(30, 1, 3);
        d.add(10, 1, 1);
        d.add(20, 2, 2);
        d.remove(20, 2, 2);
        assert_eq!(d.pop_due(5), Err(Some(10)));
        assert_eq!(d.pop_due(15), Ok((1, 1)));
        assert_eq!(d.pop_due(15), Err(Some(30)));
        assert_eq!(d.pop_due(30), Ok((1, 3)));
        assert_eq!(d.pop_due(100), Err(None));
    }
}
