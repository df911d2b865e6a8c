//! Taking a connection: an idle one that passes its check, or a place in the waiter queue
//! (which starts dials as the limits allow).

use super::shard::{ConnId, ConnState, DestId, Shard};
use super::Pool;
use crate::clock::now_ms;
use crate::contract::{EvictReason, IdleOrder};
use crate::waiters::{Waiter, WaiterId};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

/// The result of trying to take an idle connection without waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checkout {
    /// This idle connection passed its check and is now in use.
    Hit(ConnId),
    /// This idle connection failed its check and must be closed; try again.
    Dead(ConnId),
    /// No idle connection: enqueue a waiter.
    Miss,
}

/// The result of `acquire`: a connection now, or a place in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// This idle connection passed its check and is now in use.
    Hit(ConnId),
    /// This idle connection failed its check and must be closed; call again.
    Dead(ConnId),
    /// No idle connection: this waiter is queued (and dials started as limits allow).
    Queued(WaiterId),
    /// No idle connection, and `maxWaiters` are already queued.
    QueueFull,
    UnknownDestination,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EnqueueError {
    QueueFull,
    UnknownDestination,
}

impl Pool {
    /// Takes an idle connection of `dest`, or queues `waiter` for one: a single lock and a
    /// single call from JS either way. `waiter` is the caller's name for the wait, unique among
    /// its queued waiters; it is used only when there is no idle connection.
    pub fn acquire(
        self: &Arc<Self>,
        dest: DestId,
        waiter: WaiterId,
        priority: i32,
        timeout: Option<Duration>,
    ) -> Acquire {
        // Before an idle connection is handed out: whatever reached it up to this call marks
        // it suspect. With no idle connection anywhere none can be handed out now (only this
        // thread adds to JS's idle lists), and a waiter is proven at its hand-off.
        if self.total_idle.load(Ordering::Relaxed) > 0 {
            self.drain_watch();
        }
        let mut shard = self.shard(dest);
        match self.checkout(&mut shard, dest) {
            Checkout::Hit(id) => Acquire::Hit(id),
            Checkout::Dead(id) => Acquire::Dead(id),
            Checkout::Miss => match self.enqueue_locked(shard, dest, waiter, priority, timeout) {
                Ok(waiter) => Acquire::Queued(waiter),
                Err(EnqueueError::QueueFull) => Acquire::QueueFull,
                Err(EnqueueError::UnknownDestination) => Acquire::UnknownDestination,
            },
        }
    }

    /// As `acquire` at priority 0 with the pool's acquire timeout.
    pub fn acquire_default(self: &Arc<Self>, dest: DestId, waiter: WaiterId) -> Acquire {
        self.acquire(dest, waiter, 0, self.config.acquire_timeout)
    }

    /// Takes an idle connection of `dest` if one passes its liveness check.
    pub(super) fn checkout(&self, shard: &mut Shard, dest: DestId) -> Checkout {
        let Some(ds) = shard.dest(dest) else {
            return Checkout::Miss;
        };
        let popped = match self.config.order {
            IdleOrder::Lifo => ds.idle.pop_back(),
            IdleOrder::Fifo => ds.idle.pop_front(),
        };
        let Some(id) = popped else {
            return Checkout::Miss;
        };
        self.total_idle.fetch_sub(1, Ordering::Relaxed);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return Checkout::Miss;
        };
        // Checked on every hit, however recently the connection was released: a peer's FIN or
        // RST that reached this host before this call must be seen, and JS's own watch of idle
        // sockets only runs when its event loop turns (a server restart or an idle reaper can
        // close a connection a microsecond after its release). The engine's watch (drained at
        // the top of `acquire`) tells which connections anything reached; those are peeked.
        let verdict = if conn.expires_ms != u64::MAX && now_ms() >= conn.expires_ms {
            Some(EvictReason::Lifetime)
        } else if conn.suspect || self.watch_broken.load(Ordering::Relaxed) {
            let verdict = conn.liveness().eviction();
            conn.suspect = verdict.is_some();
            verdict
        } else {
            // The drain at the top of `acquire` saw nothing reach this socket since a peek
            // (or its adoption) proved it clean.
            None
        };
        if let Some(reason) = verdict {
            self.start_closing(conn);
            self.counters.evicted(reason);
            conn.evicted = Some(reason);
            return Checkout::Dead(id);
        }
        conn.state = ConnState::InUse;
        conn.uses += 1;
        ds.in_use += 1;
        shard.hits += 1;
        Checkout::Hit(id)
    }

    /// Queues an acquire that found no idle connection, and starts dials if limits allow.
    pub(super) fn enqueue_locked(
        self: &Arc<Self>,
        mut shard: MutexGuard<'_, Shard>,
        dest: DestId,
        id: WaiterId,
        priority: i32,
        timeout: Option<Duration>,
    ) -> Result<WaiterId, EnqueueError> {
        match shard.dest(dest) {
            None => return Err(EnqueueError::UnknownDestination),
            Some(ds) if ds.waiters.len() as u32 >= self.config.max_waiters => {
                return Err(EnqueueError::QueueFull)
            }
            Some(_) => {}
        }
        let sample = shard.wait_sample();
        let Some(ds) = shard.dest(dest) else {
            return Err(EnqueueError::UnknownDestination);
        };
        let deadline = timeout.map(|t| now_ms().saturating_add(t.as_millis() as u64));
        let ticket = ds.queued;
        ds.queued += 1;
        ds.waiters.push(
            Waiter {
                id,
                since: sample.map(|weight| (Instant::now(), weight)),
                deadline,
                drain_seq: self.drains.load(Ordering::Relaxed),
                ticket,
            },
            priority,
        );
        if let Some(deadline) = deadline {
            self.deadlines.note(deadline);
        }
        let needs_room = self.pump(&mut shard, dest);
        drop(shard);
        if needs_room {
            self.make_room(dest);
        }
        Ok(id)
    }

    /// Removes a waiter that gave up (abort); false when it was already served or timed out.
    pub fn cancel(&self, dest: DestId, waiter: WaiterId) -> bool {
        self.shard(dest)
            .dest(dest)
            .and_then(|ds| ds.waiters.remove(waiter))
            .is_some()
    }
}
