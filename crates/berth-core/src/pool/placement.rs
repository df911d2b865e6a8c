//! Where a free connection goes (a waiter, the idle list, or closing): the rules every
//! release and every fresh dial pass through.

use super::shard::{Conn, ConnId, ConnState, DestState};
use super::{reserve, Pool};
use crate::clock::now_ms;
use crate::contract::EvictReason;
use crate::waiters::WaiterId;
use std::sync::atomic::Ordering;

/// Where a connection goes when it becomes free (released, or freshly dialed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Into the idle list.
    Idle,
    /// Straight to this waiter, which now holds it.
    Handoff(WaiterId),
    /// Nowhere: the caller must close it (limits, lifetime, or the pool is closed).
    Close,
}

impl Pool {
    /// Whether releasing `id` would hand a reused connection to a waiter without the watch
    /// having been drained since something could have reached it: since the waiter's acquire,
    /// or, after a lease that wrote (`wrote`), at all (its reply may have arrived after the
    /// last drain, unread).
    pub(super) fn handoff_needs_drain(&self, id: ConnId, wrote: bool) -> bool {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return false;
        };
        let drains = self.drains.load(Ordering::Relaxed);
        conn.uses > 0
            && ds
                .waiters
                .peek()
                .is_some_and(|w| wrote || w.drain_seq >= drains)
    }

    /// Decides where a free connection goes: the next waiter, the idle list, or closing.
    pub(super) fn place(&self, conn: &mut Conn, ds: &mut DestState, id: ConnId) -> Placement {
        if self.closed.load(Ordering::Relaxed) {
            return Placement::Close;
        }
        // The clock only where an answer depends on it: without maxLifetime a hand-off, the
        // contended path, needs no time at all.
        if conn.expires_ms != u64::MAX && now_ms() >= conn.expires_ms {
            self.counters.evicted(EvictReason::Lifetime);
            conn.evicted = Some(EvictReason::Lifetime);
            return Placement::Close;
        }
        if self.config.max_uses.is_some_and(|max| conn.uses >= max) {
            self.counters.evicted(EvictReason::MaxUses);
            conn.evicted = Some(EvictReason::MaxUses);
            return Placement::Close;
        }
        if let Some(next) = ds.waiters.peek() {
            // A reused connection goes to a waiter only once something proves it alive after
            // that waiter's acquire (its last lease may have held it unused while the peer
            // closed it): a drain of the watch since then that left it unsuspected, or a peek.
            let drained_since = next.drain_seq < self.drains.load(Ordering::Relaxed);
            let proven = conn.uses == 0
                || (drained_since && !conn.suspect && !self.watch_broken.load(Ordering::Relaxed));
            if !proven {
                if let Some(reason) = conn.liveness().eviction() {
                    self.counters.evicted(reason);
                    conn.evicted = Some(reason);
                    return Placement::Close;
                }
                conn.suspect = false;
            }
        }
        if let Some(waiter) = ds.waiters.pop() {
            conn.state = ConnState::InUse;
            if conn.uses > 0 {
                ds.handoff_reuses += 1;
            } else {
                ds.handoff_fresh += 1;
            }
            conn.uses += 1;
            ds.in_use += 1;
            if let Some((since, weight)) = waiter.since {
                self.counters
                    .waited(since.elapsed().as_micros() as u64, weight);
            }
            return Placement::Handoff(waiter.id);
        }
        // Another destination is waiting for room under maxTotal, or a native session for a
        // place in this one: give it ours.
        if self.has_starved.load(Ordering::Relaxed) || ds.native_waiting > 0 {
            self.counters.evicted(EvictReason::Idle);
            conn.evicted = Some(EvictReason::Idle);
            return Placement::Close;
        }
        if ds.no_idle {
            self.counters.evicted(EvictReason::Unhealthy);
            conn.evicted = Some(EvictReason::Unhealthy);
            return Placement::Close;
        }
        if ds.idle.len() as u32 >= self.config.max_idle_per_destination
            || !reserve(&self.total_idle, self.config.max_total_idle)
        {
            return Placement::Close;
        }
        conn.state = ConnState::Idle;
        conn.released_ms = now_ms();
        ds.idle.push_back(id);
        Placement::Idle
    }
}
