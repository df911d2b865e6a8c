//! Stats and snapshots as plain JS objects.

use berth_core::pool::{DestSnapshot, StatsSnapshot};
use napi_derive::napi;

#[napi(object)]
pub struct EngineStats {
    pub open: f64,
    pub closing: f64,
    pub idle: f64,
    pub in_use: f64,
    pub dialing: f64,
    pub waiting: f64,
    pub created: f64,
    pub reused: f64,
    pub closed: f64,
    pub dial_failures: f64,
    pub acquire_timeouts: f64,
    pub evicted_idle: f64,
    pub evicted_lifetime: f64,
    pub evicted_peer_closed: f64,
    pub evicted_unhealthy: f64,
    pub evicted_max_uses: f64,
    pub evicted_keep_alive_expired: f64,
    pub acquire_wait_p50: f64,
    pub acquire_wait_p95: f64,
    pub acquire_wait_p99: f64,
    pub connect_p50: f64,
    pub connect_p95: f64,
    pub connect_p99: f64,
}

impl From<StatsSnapshot> for EngineStats {
    fn from(s: StatsSnapshot) -> Self {
        EngineStats {
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
            evicted_idle: s.evicted_idle as f64,
            evicted_lifetime: s.evicted_lifetime as f64,
            evicted_peer_closed: s.evicted_peer_closed as f64,
            evicted_unhealthy: s.evicted_unhealthy as f64,
            evicted_max_uses: s.evicted_max_uses as f64,
            evicted_keep_alive_expired: s.evicted_keep_alive_expired as f64,
            acquire_wait_p50: s.acquire_wait_p50_ms,
            acquire_wait_p95: s.acquire_wait_p95_ms,
            acquire_wait_p99: s.acquire_wait_p99_ms,
            connect_p50: s.connect_p50_ms,
            connect_p95: s.connect_p95_ms,
            connect_p99: s.connect_p99_ms,
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
