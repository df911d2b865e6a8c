//! The queue of acquires waiting for a connection to one destination: highest priority first,
//! first come first served within a priority.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

pub type WaiterId = u64;

#[derive(Clone, Copy, Debug)]
pub struct Waiter {
    pub id: WaiterId,
    /// When it started waiting and how many waits it stands for in the acquire-wait
    /// histogram, if this wait is timed.
    pub since: Option<(Instant, u64)>,
    /// Its acquire deadline (clock ms), if it has one.
    pub deadline: Option<u64>,
}

#[derive(Default)]
pub struct Waiters {
    /// One FIFO per priority level, highest level first. Almost every pool uses one level, so
    /// push and pop are a map lookup and a deque operation.
    levels: BTreeMap<Reverse<i32>, VecDeque<Waiter>>,
    len: usize,
}

impl Waiters {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, waiter: Waiter, priority: i32) {
        self.levels
            .entry(Reverse(priority))
            .or_default()
            .push_back(waiter);
        self.len += 1;
    }

    /// The waiter to serve next.
    pub fn pop(&mut self) -> Option<Waiter> {
        let mut level = self.levels.first_entry()?;
        let waiter = level.get_mut().pop_front();
        if level.get().is_empty() {
            level.remove();
        }
        if waiter.is_some() {
            self.len -= 1;
        }
        waiter
    }

    /// Removes a waiter that gave up (abort, timeout); None when it is no longer queued.
    /// Linear in the queue length: giving up is the rare path.
    pub fn remove(&mut self, id: WaiterId) -> Option<Waiter> {
        let (key, pos) = self.levels.iter().find_map(|(key, queue)| {
            queue.iter().position(|w| w.id == id).map(|pos| (*key, pos))
        })?;
        let queue = self.levels.get_mut(&key)?;
        let waiter = queue.remove(pos)?;
        if queue.is_empty() {
            self.levels.remove(&key);
        }
        self.len -= 1;
        Some(waiter)
    }

    /// Takes out every waiter whose deadline is at or before `now`; returns them and the
    /// earliest deadline among those left.
    pub fn expire(&mut self, now: u64) -> (Vec<Waiter>, Option<u64>) {
        let mut expired = Vec::new();
        let mut earliest: Option<u64> = None;
        for queue in self.levels.values_mut() {
            queue.retain(|w| match w.deadline {
                Some(d) if d <= now => {
                    expired.push(*w);
                    false
                }
                Some(d) => {
                    earliest = Some(earliest.map_or(d, |e| e.min(d)));
                    true
                }
                None => true,
            });
        }
        self.levels.retain(|_, queue| !queue.is_empty());
        self.len -= expired.len();
        (expired, earliest)
    }

    pub fn drain(&mut self) -> Vec<Waiter> {
        self.len = 0;
        std::mem::take(&mut self.levels)
            .into_values()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(id: WaiterId) -> Waiter {
        Waiter {
            id,
            since: Some((Instant::now(), 1)),
            deadline: None,
        }
    }

    #[test]
    fn fifo_within_priority_and_higher_priority_first() {
        let mut w = Waiters::default();
        w.push(waiter(1), 0);
        w.push(waiter(2), 0);
        w.push(waiter(3), 5);
        w.push(waiter(4), -1);
        w.push(waiter(5), 5);
        assert_eq!(w.len(), 5);
        let order: Vec<_> = std::iter::from_fn(|| w.pop().map(|w| w.id)).collect();
        assert_eq!(order, vec![3, 5, 1, 2, 4]);
        assert!(w.is_empty());
    }

    #[test]
    fn remove_takes_out_only_queued_waiters() {
        let mut w = Waiters::default();
        w.push(waiter(1), 0);
        w.push(waiter(2), 3);
        assert_eq!(w.remove(1).map(|w| w.id), Some(1));
        assert!(w.remove(1).is_none());
        assert_eq!(w.len(), 1);
        assert_eq!(w.pop().map(|w| w.id), Some(2));
        assert!(w.remove(2).is_none());
        assert!(w.pop().is_none());
    }

    #[test]
    fn expire_takes_due_waiters_and_reports_the_next_deadline() {
        let mut w = Waiters::default();
        let at = |id, deadline| Waiter {
            id,
            since: Some((Instant::now(), 1)),
            deadline,
        };
        w.push(at(1, Some(10)), 0);
        w.push(at(2, None), 0);
        w.push(at(3, Some(30)), 1);
        w.push(at(4, Some(5)), 1);
        let (expired, next) = w.expire(10);
        let mut ids: Vec<_> = expired.iter().map(|w| w.id).collect();
        ids.sort();
        assert_eq!(ids, vec![1, 4]);
        assert_eq!(next, Some(30));
        assert_eq!(w.len(), 2);
        assert_eq!(w.pop().map(|w| w.id), Some(3));
        assert_eq!(w.pop().map(|w| w.id), Some(2));
    }

    #[test]
    fn drain_returns_everyone() {
        let mut w = Waiters::default();
        for id in 0..10 {
            w.push(waiter(id), (id % 3) as i32);
        }
        let mut ids: Vec<_> = w.drain().into_iter().map(|w| w.id).collect();
        ids.sort();
        assert_eq!(ids, (0..10).collect::<Vec<_>>());
        assert!(w.is_empty());
    }
}
