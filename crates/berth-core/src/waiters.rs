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
    /// The pool's count of watch drains when it was queued: a drain counted after it saw
    /// everything that reached the pool's sockets before this acquire was called.
    pub drain_seq: u64,
    /// Its place in its destination's arrival order (`DestState::queued`).
    pub ticket: u64,
}

/// Picks which waits are timed for the acquire-wait histogram: reading the clock twice per
/// wait was a twentieth of a contended acquire. Every wait is timed until `TIME_ALL` of them
/// were seen, then one in `SAMPLE_EVERY`, counted that many times.
#[derive(Default, Debug)]
pub struct WaitSampler {
    waits: u64,
}

impl WaitSampler {
    /// Whether to time the next wait, and how many waits its sample stands for.
    pub fn sample(&mut self) -> Option<u64> {
        const TIME_ALL: u64 = 256;
        const SAMPLE_EVERY: u64 = 8;
        self.waits += 1;
        if self.waits <= TIME_ALL {
            Some(1)
        } else if self.waits % SAMPLE_EVERY == 0 {
            Some(SAMPLE_EVERY)
        } else {
            None
        }
    }
}

#[derive(Default)]
pub struct Waiters {
    /// Priority 0, the level almost every acquire uses. Its own deque, kept (with its
    /// capacity) when empty: a map entry per level would be allocated when a level fills and
    /// freed when it empties, which on a contended pool is every other acquire.
    normal: VecDeque<Waiter>,
    /// Every other level, highest first.
    others: BTreeMap<Reverse<i32>, VecDeque<Waiter>>,
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
        if priority == 0 {
            self.normal.push_back(waiter);
        } else {
            self.others
                .entry(Reverse(priority))
                .or_default()
                .push_back(waiter);
        }
        self.len += 1;
    }

    /// The waiter `pop` would return, left queued.
    pub fn peek(&self) -> Option<&Waiter> {
        match self.others.first_key_value() {
            Some((level, queue)) if level.0 > 0 || self.normal.is_empty() => queue.front(),
            _ => self.normal.front(),
        }
    }

    /// The waiter to serve next.
    pub fn pop(&mut self) -> Option<Waiter> {
        let waiter = match self.others.first_entry() {
            // A level above 0 goes first; otherwise the normal lane, then the levels below.
            Some(mut level) if level.key().0 > 0 || self.normal.is_empty() => {
                let waiter = level.get_mut().pop_front();
                if level.get().is_empty() {
                    level.remove();
                }
                waiter
            }
            _ => self.normal.pop_front(),
        };
        if waiter.is_some() {
            self.len -= 1;
        }
        waiter
    }

    /// Removes a waiter that gave up (abort, timeout); None when it is no longer queued.
    /// Linear in the queue length: giving up is the rare path.
    pub fn remove(&mut self, id: WaiterId) -> Option<Waiter> {
        let waiter = if let Some(pos) = self.normal.iter().position(|w| w.id == id) {
            self.normal.remove(pos)?
        } else {
            let (key, pos) = self.others.iter().find_map(|(key, queue)| {
                queue.iter().position(|w| w.id == id).map(|pos| (*key, pos))
            })?;
            let queue = self.others.get_mut(&key)?;
            let waiter = queue.remove(pos)?;
            if queue.is_empty() {
                self.others.remove(&key);
            }
            waiter
        };
        self.len -= 1;
        Some(waiter)
    }

    /// Takes out every waiter whose deadline is at or before `now`; returns them and the
    /// earliest deadline among those left.
    pub fn expire(&mut self, now: u64) -> (Vec<Waiter>, Option<u64>) {
        let mut expired = Vec::new();
        let mut earliest: Option<u64> = None;
        for queue in std::iter::once(&mut self.normal).chain(self.others.values_mut()) {
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
        self.others.retain(|_, queue| !queue.is_empty());
        self.len -= expired.len();
        (expired, earliest)
    }

    pub fn drain(&mut self) -> Vec<Waiter> {
        self.len = 0;
        let mut all: Vec<Waiter> = self.normal.drain(..).collect();
        all.extend(std::mem::take(&mut self.others).into_values().flatten());
        all
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
            drain_seq: 0,
            ticket: 0,
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
    fn levels_below_zero_wait_for_the_normal_lane() {
        let mut w = Waiters::default();
        w.push(waiter(1), -3);
        w.push(waiter(2), 0);
        w.push(waiter(3), -1);
        assert_eq!(w.pop().map(|w| w.id), Some(2));
        w.push(waiter(4), 0);
        w.push(waiter(5), 2);
        let order: Vec<_> = std::iter::from_fn(|| w.pop().map(|w| w.id)).collect();
        assert_eq!(order, vec![5, 4, 3, 1]);
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
            drain_seq: 0,
            ticket: 0,
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
