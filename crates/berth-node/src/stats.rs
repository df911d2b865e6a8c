//! Stats and snapshots as plain JS objects.

use berth_core::pool::{DestSnapshot, StatsSnapshot};
use napi_derive::napi;

/// Quantiles of a latency, in milliseconds (0 before anything was measured).
#[napi(object)]
pub struct LatencyQuantiles {
    /// The median, in milliseconds.
    pub p50: f64,
    /// The 95th percentile, in milliseconds.
    pub p95: f64,
    /// The 99th percentile, in milliseconds.
    pub p99: f64,
}

/// Connections the pool closed itself, by reason.
#[napi(object)]
pub struct PoolEvictions {
    /// Idle past `idleTimeout`, or closed to make room under `maxTotal`.
    pub idle: f64,
    /// Past `maxLifetime`.
    pub lifetime: f64,
    /// The peer closed or reset it while idle.
    pub peer_closed: f64,
    /// Unexpected bytes or an unusable state found at hand-out or return.
    pub unhealthy: f64,
    /// Leased `maxUses` times.
    pub max_uses: f64,
    /// Leased by the HTTP agent and given back unused: the server's `Keep-Alive: timeout` hint
    /// had passed (such a lease is not counted in `reused`).
    pub keep_alive_expired: f64,
}

// The public shape itself: the facade re-exports this type as `PoolStats` (declared here once,
// from the core's `StatsSnapshot`; the doc comments are the user's documentation).
/// What `pool.stats()` reports: gauges now, counters since the pool was made, latencies in
/// milliseconds.
#[napi(object)]
pub struct PoolStats {
    /// idle + inUse + dialing.
    pub open: f64,
    /// Destroyed, descriptor not closed yet (a moment at most): still counted against the limits.
    pub closing: f64,
    /// Connections idle, ready for reuse.
    pub idle: f64,
    /// Connections leased: to JS, or relayed by the engine for a native listener session.
    pub in_use: f64,
    /// Connections being dialed.
    pub dialing: f64,
    /// Acquires queued for a connection.
    pub waiting: f64,
    /// Connections dialed successfully, ever.
    pub created: f64,
    /// Leases served by a connection an earlier lease used.
    pub reused: f64,
    /// Connections closed, for any reason, ever.
    pub closed: f64,
    /// Dials that failed, ever.
    pub dial_failures: f64,
    /// Acquires rejected after waiting `acquireTimeout`, ever.
    pub acquire_timeouts: f64,
    /// Connections the pool closed itself, by reason.
    pub evicted: PoolEvictions,
    /// Time from acquire to lease, in milliseconds (reuse hits count as 0).
    pub acquire_wait_ms: LatencyQuantiles,
    /// Time to dial a connection, in milliseconds.
    pub connect_ms: LatencyQuantiles,
}

fn quantiles(p50: f64, p95: f64, p99: f64) -> LatencyQuantiles {
    LatencyQuantiles { p50, p95, p99 }
}

impl From<StatsSnapshot> for PoolStats {
    fn from(s: StatsSnapshot) -> Self {
        PoolStats {
            open: s.open as f64,
            closing: s.closing as f64,
            idle: s.idle as f64,
            in_use: s.in_use as f64,
            dialing: s.dialing as f64,
            waiting: s.waiting as f64,
            created: s.created as f64,
            reused: s.reused as f64,
            closed: s.closed as f64,
            dial_failures: s.dial_failures as f64,
            acquire_timeouts: s.acquire_timeouts as f64,
            evicted: PoolEvictions {
                idle: s.evicted_idle as f64,
                lifetime: s.evicted_lifetime as f64,
                peer_closed: s.evicted_peer_closed as f64,
                unhealthy: s.evicted_unhealthy as f64,
                max_uses: s.evicted_max_uses as f64,
                keep_alive_expired: s.evicted_keep_alive_expired as f64,
            },
            acquire_wait_ms: quantiles(
                s.acquire_wait_p50_ms,
                s.acquire_wait_p95_ms,
                s.acquire_wait_p99_ms,
            ),
            connect_ms: quantiles(s.connect_p50_ms, s.connect_p95_ms, s.connect_p99_ms),
        }
    }
}

#[napi(object)]
pub struct EngineConnSnapshot {
    pub id: u32,
    pub state: String,
    pub age_ms: f64,
    pub idle_ms: f64,
    pub uses: f64,
}

#[napi(object)]
pub struct EngineDestSnapshot {
    pub destination: String,
    /// The connection profile JS interned the destination under ("" for plain connections).
    pub profile: String,
    pub open: u32,
    pub idle: u32,
    pub in_use: u32,
    pub dialing: u32,
    pub waiting: u32,
    pub connections: Vec<EngineConnSnapshot>,
}

impl From<DestSnapshot> for EngineDestSnapshot {
    fn from(d: DestSnapshot) -> Self {
        EngineDestSnapshot {
            destination: d.destination,
            profile: d.profile,
            open: d.open,
            idle: d.idle,
            in_use: d.in_use,
            dialing: d.dialing,
            waiting: d.waiting,
            connections: d
                .connections
                .into_iter()
                .map(|c| EngineConnSnapshot {
                    id: c.id,
                    state: c.state.to_owned(),
                    age_ms: c.age_ms as f64,
                    idle_ms: c.idle_ms as f64,
                    uses: c.uses as f64,
                })
                .collect(),
        }
    }
}
