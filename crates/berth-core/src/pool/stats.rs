//! Pool-wide counters, readable at any time without stopping the pool.

use crate::contract::EvictReason;
use crate::histogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Counters {
    pub created: AtomicU64,
    pub closed: AtomicU64,
    pub dial_failures: AtomicU64,
    pub acquire_timeouts: AtomicU64,
    pub evicted_idle: AtomicU64,
    pub evicted_lifetime: AtomicU64,
    pub evicted_peer_closed: AtomicU64,
    pub evicted_unhealthy: AtomicU64,
    pub evicted_max_uses: AtomicU64,
    pub evicted_keep_alive_expired: AtomicU64,
    pub acquire_wait: Histogram,
    pub connect: Histogram,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn evicted(&self, reason: EvictReason) {
        Self::bump(match reason {
            EvictReason::Idle => &self.evicted_idle,
            EvictReason::Lifetime => &self.evicted_lifetime,
            EvictReason::PeerClosed => &self.evicted_peer_closed,
            EvictReason::Unhealthy => &self.evicted_unhealthy,
            EvictReason::MaxUses => &self.evicted_max_uses,
            EvictReason::KeepAliveExpired => &self.evicted_keep_alive_expired,
        });
    }
}

/// A point-in-time copy of every figure `pool.stats()` reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsSnapshot {
    /// Idle + in use + dialing.
    pub open: u64,
    /// Destroyed by their owner, descriptor not closed yet: still counted against the limits.
    pub closing: u64,
    pub idle: u64,
    pub in_use: u64,
    pub dialing: u64,
    pub waiting: u64,
    pub created: u64,
    pub reused: u64,
    pub closed: u64,
    pub dial_failures: u64,
    pub acquire_timeouts: u64,
    pub evicted_idle: u64,
    pub evicted_lifetime: u64,
    pub evicted_peer_closed: u64,
    pub evicted_unhealthy: u64,
    pub evicted_max_uses: u64,
    pub evicted_keep_alive_expired: u64,
    pub acquire_wait_p50_ms: f64,
    pub acquire_wait_p95_ms: f64,
    pub acquire_wait_p99_ms: f64,
    pub connect_p50_ms: f64,
    pub connect_p95_ms: f64,
    pub connect_p99_ms: f64,
}

impl Counters {
    /// Fills the counter half of a snapshot; the gauges come from the shards, as do `hits`
    /// (reuses served from an idle list, each an acquire that waited 0 µs) and `handoffs`
    /// (reuses handed to a waiter on release).
    pub fn fill(&self, s: &mut StatsSnapshot, hits: u64, handoffs: u64) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        s.created = get(&self.created);
        // A lease given back unused because its keep-alive window had passed was no reuse.
        let unused = get(&self.evicted_keep_alive_expired);
        s.reused = (hits + handoffs).saturating_sub(unused);
        s.closed = get(&self.closed);
        s.dial_failures = get(&self.dial_failures);
        s.acquire_timeouts = get(&self.acquire_timeouts);
        s.evicted_idle = get(&self.evicted_idle);
        s.evicted_lifetime = get(&self.evicted_lifetime);
        s.evicted_peer_closed = get(&self.evicted_peer_closed);
        s.evicted_unhealthy = get(&self.evicted_unhealthy);
        s.evicted_max_uses = get(&self.evicted_max_uses);
        s.evicted_keep_alive_expired = unused;
        let wait = self
            .acquire_wait
            .quantiles_ms_with_zeros(hits, &[0.5, 0.95, 0.99]);
        s.acquire_wait_p50_ms = wait[0];
        s.acquire_wait_p95_ms = wait[1];
        s.acquire_wait_p99_ms = wait[2];
        let connect = self.connect.quantiles_ms(&[0.5, 0.95, 0.99]);
        s.connect_p50_ms = connect[0];
        s.connect_p95_ms = connect[1];
        s.connect_p99_ms = connect[2];
    }
}
