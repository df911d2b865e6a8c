//! The engine's vocabulary (berth_core::contract), exported to JS under the names the
//! facade reads (src/shared/native/contract.ts): the values are declared in the core once;
//! this file only names them for JS. `__test__/contract.test.mjs` checks the facade against
//! them.

use crate::config::{AddressPolicyConfig, EngineConfig};
use crate::resource::ResourceEngineConfig;
use berth_core::contract::{codes, events, EvictReason as Evict, IdleOrder};
use berth_core::error::DialErrorCode;
use berth_core::pool::PoolConfig;
use berth_core::probe::ProbeState as Probe;
use berth_core::resource::ResourceConfig;
use napi_derive::napi;
use std::time::Duration;

/// Declares each `name = value` as a `#[napi]` constant of type `ty`.
macro_rules! js_consts {
    ($($ty:ty: $($name:ident = $value:expr),+;)+) => {
        $($(#[napi] pub const $name: $ty = $value;)+)+
    };
}

// Grouped by what answers with them; the values and their meaning: berth_core::contract.
js_consts! {
    f64: KEY_BASE = codes::KEY_BASE;
    i32: PLACED_IDLE = codes::PLACED_IDLE, PLACED_CLOSE = codes::PLACED_CLOSE;
    i32: NOT_BORROWED = codes::NOT_BORROWED, QUEUED = codes::QUEUED, CLOSED = codes::CLOSED;
    i32: QUEUE_FULL = codes::QUEUE_FULL, BAD_ARGUMENT = codes::BAD_ARGUMENT;
    i32: UNKNOWN_DESTINATION = codes::UNKNOWN_DESTINATION;
    i32: DEAD_BASE = codes::DEAD_BASE, EXPIRED_BASE = codes::EXPIRED_BASE;
    i32: DISCARD_BY_USER = codes::DISCARD_BY_USER;
    u32: GAUGE_SIZE = codes::GAUGE_SIZE, GAUGE_IDLE = codes::GAUGE_IDLE;
    u32: EVENT_DIALED = events::DIALED, EVENT_DIAL_FAILED = events::DIAL_FAILED;
    u32: EVENT_EVICT = events::EVICT, EVENT_WAITER_TIMED_OUT = events::WAITER_TIMED_OUT;
    u32: EVENT_MEMBER_UP = events::MEMBER_UP, EVENT_MEMBER_DOWN = events::MEMBER_DOWN;
    u32: EVENT_MEMBER_EJECTED = events::MEMBER_EJECTED, EVENT_MEMBER_CHECK = events::MEMBER_CHECK;
    u32: EVENT_DIAL_ORDER = events::DIAL_ORDER;
    u32: RES_EVENT_CREATE = events::RES_CREATE, RES_EVENT_EVICT = events::RES_EVICT;
    u32: RES_EVENT_WAITER_TIMED_OUT = events::RES_WAITER_TIMED_OUT;
    u32: EVICT_IDLE = Evict::Idle as u32, EVICT_LIFETIME = Evict::Lifetime as u32;
    u32: EVICT_PEER_CLOSED = Evict::PeerClosed as u32, EVICT_UNHEALTHY = Evict::Unhealthy as u32;
    u32: EVICT_MAX_USES = Evict::MaxUses as u32;
    u32: EVICT_KEEP_ALIVE_EXPIRED = Evict::KeepAliveExpired as u32;
    u32: PROBE_OPEN = Probe::Open as u32, PROBE_CLOSED = Probe::Closed as u32;
    u32: PROBE_FILTERED = Probe::Filtered as u32, PROBE_ERROR = Probe::Error as u32;
}

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
        node_dial: Some(d.node_dial),
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
