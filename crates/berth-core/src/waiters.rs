//! The queue of acquires waiting for a connection to one destination: highest priority first,
//! first come first served within a priority.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

pub type WaiterId = u64;

#[derive(Default)]
pub struct Waiters {
    /// Keyed by (higher priority first, then lower id = earlier arrival).
    queue: BTreeMap<(Reverse<i32>, WaiterId), Instant>,
    priority_of: HashMap<WaiterId, i32>,
}

impl Waiters {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// `id` must grow with arrival order: it breaks ties within a priority.
    pub fn push(&mut self, id: WaiterId, priority: i32, since: Instant) {
        self.queue.insert((Reverse(priority), id), since);
        self.priority_of.insert(id, priority);
    }

    /// The waiter to serve next, with when it started waiting.
    pub fn pop(&mut self) -> Option<(WaiterId, Instant)> {
        let ((_, id), since) = self.queue.pop_first()?;
        self.priority_of.remove(&id);
        Some((id, since))
    }

    /// Removes a waiter that gave up; false when it is no longer queued.
    pub fn remove(&mut self, id: WaiterId) -> bool {
        match self.priority_of.remove(&id) {
            Some(priority) => self.queue.remove(&(Reverse(priority), id)).is_some(),
            None => false,
        }
    }

    pub fn drain_ids(&mut self) -> Vec<WaiterId> {
        self.priority_of.clear();
        std::mem::take(&mut self.queue)
            .into_keys()
            .map(|(_, id)| id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_within_priority_and_higher_priority_first() {
        let mut w = Waiters::default();
        let now = Instant::now();
        w.push(1, 0, now);
        w.push(2, 0, now);
        w.push(3, 5, now);
        w.push(4, -1, now);
        w.push(5, 5, now);
        let order: Vec<_> = std::iter::from_fn(|| w.pop().map(|(id, _)| id)).collect();
        assert_eq!(order, vec![3, 5, 1, 2, 4]);
        assert!(w.is_empty());
    }

    #[test]
    fn remove_takes_out_only_queued_waiters() {
        let mut w = Waiters::default();
        let now = Instant::now();
        w.push(1, 0, now);
        w.push(2, 3, now);
        assert!(w.remove(1));
        assert!(!w.remove(1));
        assert_eq!(w.len(), 1);
        assert_eq!(w.pop().map(|(id, _)| id), Some(2));
        assert!(!w.remove(2));
    }
}
