//! Pool-wide counters, readable at any time without stopping the pool.

use crate::buckets::FixedHistogram;
use crate::contract::EvictReason;
use crate::error::DialErrorCode;
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
    /// The same waits and connects in fixed buckets, for Prometheus (see `metrics.rs`).
    pub acquire_wait_buckets: FixedHistogram,
    pub connect_buckets: FixedHistogram,
    /// Dial failures by code (`DialErrorCode::ALL`'s order, then handshake failures).
    pub dial_failure_codes: [AtomicU64; DIAL_FAILURE_KINDS],
    /// New native connections, each handed straight to the session that dialed it (JS's new
    /// connections are counted as hand-offs under the shard lock instead).
    pub native_first_uses: AtomicU64,
    /// `forward()` sessions ended, and their bytes each way.
    pub forward_sessions: AtomicU64,
    pub forward_bytes_in: AtomicU64,
    pub forward_bytes_out: AtomicU64,
}

/// Slots of `Counters::dial_failure_codes`: every dial code, then JS's handshake failures.
pub const DIAL_FAILURE_KINDS: usize = DialErrorCode::ALL.len() + 1;

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connect finished: `us` into the quantile histogram and the Prometheus buckets.
    pub fn connected(&self, us: u64) {
        self.connect.record_us(us);
        self.connect_buckets.record_us(us);
    }

    /// A timed acquire wait, standing for `weight` waits (see `WaitSampler`).
    pub fn waited(&self, us: u64, weight: u64) {
        self.acquire_wait.record_weighted_us(us, weight);
        self.acquire_wait_buckets.record_weighted_us(us, weight);
    }

    /// A dial failed with `code` (`None`: JS's handshake on a new connection failed).
    pub fn dial_failed_with(&self, code: Option<DialErrorCode>) {
        let at = code
            .and_then(|c| DialErrorCode::ALL.iter().position(|&k| k == c))
            .unwrap_or(DialErrorCode::ALL.len());
        Self::bump(&self.dial_failure_codes[at]);
    }

    /// A `forward()` session ended.
    pub fn forwarded(&self, bytes_in: u64, bytes_out: u64) {
        Self::bump(&self.forward_sessions);
        self.forward_bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        self.forward_bytes_out
            .fetch_add(bytes_out, Ordering::Relaxed);
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
        self.fill_counts(s, hits, handoffs);
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

    /// The counters alone, without the quantiles (what `metrics()` needs).
    pub fn fill_counts(&self, s: &mut StatsSnapshot, hits: u64, handoffs: u64) {
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
    }
}
