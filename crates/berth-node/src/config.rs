//! The engine's configuration as JS passes it (already validated by the facade).

use berth_core::{IdleOrder, PoolConfig};
use napi_derive::napi;
use std::time::Duration;

#[napi(object)]
pub struct EngineConfig {
    pub max_per_destination: u32,
    pub max_idle_per_destination: u32,
    pub max_total: u32,
    pub max_total_idle: u32,
    pub max_waiters: u32,
    pub max_concurrent_dials: u32,
    /// Milliseconds; `Infinity` disables.
    pub idle_timeout: f64,
    /// Milliseconds; `Infinity` disables.
    pub max_lifetime: f64,
    /// Milliseconds.
    pub connect_timeout: f64,
    /// Milliseconds; `Infinity` waits forever.
    pub acquire_timeout: f64,
    /// `"lifo"` or `"fifo"`.
    pub order: String,
    /// Leases per connection; `Infinity`: no limit.
    pub max_uses: f64,
}

pub(crate) fn millis(ms: f64) -> Option<Duration> {
    ms.is_finite()
        .then(|| Duration::from_millis(ms.max(0.0) as u64))
}

impl From<EngineConfig> for PoolConfig {
    fn from(c: EngineConfig) -> Self {
        PoolConfig {
            max_per_destination: c.max_per_destination,
            max_idle_per_destination: c.max_idle_per_destination,
            max_total: c.max_total,
            max_total_idle: c.max_total_idle,
            max_waiters: c.max_waiters,
            max_concurrent_dials: c.max_concurrent_dials,
            idle_timeout: millis(c.idle_timeout),
            max_lifetime: millis(c.max_lifetime),
            connect_timeout: millis(c.connect_timeout).unwrap_or(Duration::MAX),
            acquire_timeout: millis(c.acquire_timeout),
            order: if c.order == "fifo" {
                IdleOrder::Fifo
            } else {
                IdleOrder::Lifo
            },
            max_uses: (c.max_uses.is_finite() && c.max_uses >= 1.0).then_some(c.max_uses as u64),
        }
    }
}
