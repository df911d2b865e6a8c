//! The engine's vocabulary (berth_core::contract), exported to JS under the names the
//! facade reads (src/shared/native-contract.ts): the values are declared in the core once;
//! this file only names them for JS. `__test__/contract.test.mjs` checks the facade against
//! them.

use crate::config::{AddressPolicyConfig, EngineConfig};
use crate::resource::ResourceEngineConfig;
use berth_core::contract::{codes, events, EvictReason, IdleOrder};
use berth_core::error::DialErrorCode;
use berth_core::pool::PoolConfig;
use berth_core::probe::ProbeState;
use berth_core::resource::ResourceConfig;
use napi_derive::napi;
use std::time::Duration;

#[napi]
pub const KEY_BASE: f64 = codes::KEY_BASE;
#[napi]
pub const PLACED_IDLE: i32 = codes::PLACED_IDLE;
#[napi]
pub const PLACED_CLOSE: i32 = codes::PLACED_CLOSE;
#[napi]
pub const NOT_BORROWED: i32 = codes::NOT_BORROWED;
#[napi]
pub const QUEUED: i32 = codes::QUEUED;
#[napi]
pub const QUEUE_FULL: i32 = codes::QUEUE_FULL;
#[napi]
pub const UNKNOWN_DESTINATION: i32 = codes::UNKNOWN_DESTINATION;
#[napi]
pub const CLOSED: i32 = codes::CLOSED;
#[napi]
pub const BAD_ARGUMENT: i32 = codes::BAD_ARGUMENT;
#[napi]
pub const DEAD_BASE: i32 = codes::DEAD_BASE;
#[napi]
pub const EXPIRED_BASE: i32 = codes::EXPIRED_BASE;
#[napi]
pub const DISCARD_BY_USER: i32 = codes::DISCARD_BY_USER;
#[napi]
pub const GAUGE_SIZE: u32 = codes::GAUGE_SIZE;
#[napi]
pub const GAUGE_IDLE: u32 = codes::GAUGE_IDLE;

#[napi]
pub const EVENT_DIALED: u32 = events::DIALED;
#[napi]
pub const EVENT_DIAL_FAILED: u32 = events::DIAL_FAILED;
#[napi]
pub const EVENT_EVICT: u32 = events::EVICT;
#[napi]
pub const EVENT_WAITER_TIMED_OUT: u32 = events::WAITER_TIMED_OUT;
#[napi]
pub const RES_EVENT_CREATE: u32 = events::RES_CREATE;
#[napi]
pub const RES_EVENT_EVICT: u32 = events::RES_EVICT;
#[napi]
pub const RES_EVENT_WAITER_TIMED_OUT: u32 = events::RES_WAITER_TIMED_OUT;

#[napi]
pub const EVICT_IDLE: u32 = EvictReason::Idle as u32;
#[napi]
pub const EVICT_LIFETIME: u32 = EvictReason::Lifetime as u32;
#[napi]
pub const EVICT_PEER_CLOSED: u32 = EvictReason::PeerClosed as u32;
#[napi]
pub const EVICT_UNHEALTHY: u32 = EvictReason::Unhealthy as u32;
#[napi]
pub const EVICT_MAX_USES: u32 = EvictReason::MaxUses as u32;
#[napi]
pub const EVICT_KEEP_ALIVE_EXPIRED: u32 = EvictReason::KeepAliveExpired as u32;

#[napi]
pub const PROBE_OPEN: u32 = ProbeState::Open as u32;
#[napi]
pub const PROBE_CLOSED: u32 = ProbeState::Closed as u32;
#[napi]
pub const PROBE_FILTERED: u32 = ProbeState::Filtered as u32;
#[napi]
pub const PROBE_ERROR: u32 = ProbeState::Error as u32;

/// Every error code the engine reports (a dial's, a native session's), for the facade to
/// check that its `BerthErrorCode` names them all.
#[napi(catch_unwind)]
pub fn engine_error_codes() -> Vec<&'static str> {
    DialErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

fn ms(d: Option<Duration>) -> f64 {
    d.map_or(f64::INFINITY, |d| d.as_millis() as f64)
}

/// The socket pool's defaults (`PoolConfig::default()`), in ms (`Infinity`: none).
#[napi(catch_unwind)]
pub fn pool_defaults() -> EngineConfig {
    let d = PoolConfig::default();
    EngineConfig {
        max_per_destination: d.max_per_destination,
        max_idle_per_destination: d.max_idle_per_destination,
        max_total: d.max_total,
        max_total_idle: d.max_total_idle,
        max_waiters: d.max_waiters,
        max_concurrent_dials: d.max_concurrent_dials,
        idle_timeout: ms(d.idle_timeout),
        max_lifetime: ms(d.max_lifetime),
        connect_timeout: ms(Some(d.connect_timeout)),
        acquire_timeout: ms(d.acquire_timeout),
        order: d.order.as_str().to_owned(),
        max_uses: d.max_uses.map_or(f64::INFINITY, |n| n as f64),
        address_policy: None::<AddressPolicyConfig>,
    }
}

/// The resource pool's defaults (`ResourceConfig::default()`), in ms (`Infinity`: none).
#[napi(catch_unwind)]
pub fn resource_defaults() -> ResourceEngineConfig {
    let d = ResourceConfig::default();
    let count = |n: u32| {
        if n == u32::MAX {
            f64::INFINITY
        } else {
            f64::from(n)
        }
    };
    ResourceEngineConfig {
        min: d.min,
        max: d.max,
        max_waiters: count(d.max_waiters),
        lifo: d.order == IdleOrder::Lifo,
        acquire_timeout: ms(d.acquire_timeout),
        idle_timeout: ms(d.idle_timeout),
        soft_idle_timeout: ms(d.soft_idle_timeout),
        max_lifetime: ms(d.max_lifetime),
        eviction_interval: ms(Some(d.eviction_interval)),
        tests_per_eviction: count(d.tests_per_eviction),
        create_backoff: ms(Some(d.create_backoff)),
        retry_for_waiters: Some(d.retry_for_waiters),
    }
}
