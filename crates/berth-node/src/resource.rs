//! `ResourceEngine`: the resource pool's engine as a napi class, one per JS `ResourcePool`.
//! Its config, events and stats as plain JS objects. The hot calls (`resAcquire`,
//! `resRelease`) are raw functions in resource_hot.rs that find the engine by `handle`.

use crate::config::millis;
use crate::registry::RESOURCE_POOLS;
use crate::resource_hot::placement_code;
use berth_core::contract::{codes, events, IdleOrder};
use berth_core::resource::{
    ResourceConfig, ResourceEvent, ResourcePool, ResourceSink, ResourceStats,
};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use std::sync::Arc;
use std::time::Duration;

// ---- config -----------------------------------------------------------------------------

/// Numbers are milliseconds unless named otherwise; `Infinity` disables a timeout (waits
/// forever for `acquireTimeout`). Already validated by the facade.
#[napi(object)]
pub struct ResourceEngineConfig {
    pub min: u32,
    pub max: u32,
    /// `Infinity`: unbounded.
    pub max_waiters: f64,
    /// Idle order: most recently released first (true) or least (false).
    pub lifo: bool,
    pub acquire_timeout: f64,
    pub idle_timeout: f64,
    pub soft_idle_timeout: f64,
    pub max_lifetime: f64,
    pub eviction_interval: f64,
    /// Idle resources examined per sweep; `Infinity`: all.
    pub tests_per_eviction: f64,
    /// First wait before `min` is refilled after a failed create (doubles, capped at 10 s).
    pub create_backoff: f64,
    /// A failed create leaves the waiters queued and creates for them are retried on the
    /// backoff (generic-pool's contract); default false: the owner rejects a waiter.
    pub retry_for_waiters: Option<bool>,
}

/// A count where `Infinity` (or anything past u32) means no limit.
fn count(n: f64) -> u32 {
    if n >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        n.max(0.0) as u32
    }
}

impl From<ResourceEngineConfig> for ResourceConfig {
    fn from(c: ResourceEngineConfig) -> Self {
        ResourceConfig {
            min: c.min,
            max: c.max,
            max_waiters: count(c.max_waiters),
            order: if c.lifo {
                IdleOrder::Lifo
            } else {
                IdleOrder::Fifo
            },
            acquire_timeout: millis(c.acquire_timeout),
            idle_timeout: millis(c.idle_timeout),
            soft_idle_timeout: millis(c.soft_idle_timeout),
            max_lifetime: millis(c.max_lifetime),
            eviction_interval: millis(c.eviction_interval).unwrap_or(Duration::from_secs(1)),
            tests_per_eviction: count(c.tests_per_eviction),
            create_backoff: millis(c.create_backoff).unwrap_or(Duration::from_secs(10)),
            retry_for_waiters: c.retry_for_waiters.unwrap_or(false),
        }
    }
}

// ---- events -----------------------------------------------------------------------------

/// `kind` (berth_core::contract::events): `RES_CREATE` (`id` = slot, already counted as
/// creating), `RES_EVICT` (`id` = slot, now destroying; `reason` an `EvictReason` code),
/// `RES_WAITER_TIMED_OUT` (`id` = waiter, dequeued).
#[napi(object)]
pub struct ResourceEngineEvent {
    pub kind: u32,
    pub id: f64,
    pub reason: u32,
}

/// Weak: the function does not keep the event loop alive unless the facade refs it.
pub type ResourceEventCallback =
    ThreadsafeFunction<ResourceEngineEvent, (), ResourceEngineEvent, Status, false, true>;

struct JsResourceSink(Arc<ResourceEventCallback>);

impl ResourceSink for JsResourceSink {
    fn emit(&self, event: ResourceEvent) -> bool {
        let (kind, id, reason) = match event {
            ResourceEvent::Create { slot } => (events::RES_CREATE, f64::from(slot), 0),
            ResourceEvent::Evict { slot, reason } => {
                (events::RES_EVICT, f64::from(slot), reason.code())
            }
            ResourceEvent::WaiterTimedOut { waiter } => {
                (events::RES_WAITER_TIMED_OUT, waiter as f64, 0)
            }
        };
        let event = ResourceEngineEvent { kind, id, reason };
        self.0.call(event, ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok
    }
}

// ---- stats ------------------------------------------------------------------------------

/// Gauges and counters; acquire waits in milliseconds (a hit counts as a wait of 0).
#[napi(object)]
pub struct ResourceEngineStats {
    /// Idle + in use + being created.
    pub size: f64,
    pub idle: f64,
    pub in_use: f64,
    pub creating: f64,
    pub destroying: f64,
    pub waiting: f64,
    pub created: f64,
    pub destroyed: f64,
    pub acquired: f64,
    pub reused: f64,
    pub create_failures: f64,
    pub timeouts: f64,
    pub evicted_idle: f64,
    pub evicted_lifetime: f64,
    /// Acquire waits in milliseconds (a hit counts as 0); no quantile above the maximum.
    pub acquire_wait_p50_ms: f64,
    pub acquire_wait_p99_ms: f64,
    pub acquire_wait_max_ms: f64,
}

impl From<ResourceStats> for ResourceEngineStats {
    fn from(s: ResourceStats) -> Self {
        let wait_ms = s.acquire_wait_ms();
        ResourceEngineStats {
            size: s.size as f64,
            idle: s.idle as f64,
            in_use: s.in_use as f64,
            creating: s.creating as f64,
            destroying: s.destroying as f64,
            waiting: s.waiting as f64,
            created: s.created as f64,
            destroyed: s.destroyed as f64,
            acquired: s.acquired as f64,
            reused: s.reused as f64,
            create_failures: s.create_failures as f64,
            timeouts: s.timeouts as f64,
            evicted_idle: s.evicted_idle as f64,
            evicted_lifetime: s.evicted_lifetime as f64,
            acquire_wait_p50_ms: wait_ms[0],
            acquire_wait_p99_ms: wait_ms[1],
            acquire_wait_max_ms: wait_ms[2],
        }
    }
}

/// What `close()` hands back: waiters to reject, idle slots to destroy.
#[napi(object)]
pub struct ResourceEngineClosed {
    pub waiters: Vec<f64>,
    pub slots: Vec<u32>,
}

// ---- the class --------------------------------------------------------------------------

/// Slot results other than a slot id: none.
const NO_SLOT: f64 = -1.0;

#[napi]
pub struct ResourceEngine {
    pool: Arc<ResourcePool>,
    events: Arc<ResourceEventCallback>,
    handle: u32,
    registered: bool,
}

#[napi]
impl ResourceEngine {
    #[napi(constructor, catch_unwind)]
    pub fn new(
        config: ResourceEngineConfig,
        #[napi(ts_arg_type = "(event: ResourceEngineEvent) => void")]
        on_event: ResourceEventCallback,
    ) -> Self {
        let events = Arc::new(on_event);
        let sink = Arc::new(JsResourceSink(Arc::clone(&events)));
        let pool = ResourcePool::new(config.into(), sink, berth_core::runtime::handle());
        let handle = RESOURCE_POOLS.register(Arc::clone(&pool));
        ResourceEngine {
            pool,
            events,
            handle,
            registered: true,
        }
    }

    /// The number `resAcquire` / `resRelease` take to find this engine.
    #[napi(getter, catch_unwind)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Starts keeping `min`: the slots to create now.
    #[napi(catch_unwind)]
    pub fn start(&self) -> Vec<u32> {
        self.pool.start()
    }

    /// A create succeeded: a waiter id (>= 0) it went to, -1 idle, -2 destroy it (closed),
    /// -5 the slot was not being created.
    #[napi(catch_unwind)]
    pub fn created(&self, slot: u32) -> f64 {
        self.pool
            .created(slot)
            .map_or(f64::from(codes::NOT_BORROWED), placement_code)
    }

    /// A create failed: `[waiter to reject or -1, slot to create next or -1]`.
    #[napi(catch_unwind)]
    pub fn create_failed(&self, slot: u32, reject_waiter: bool) -> Vec<f64> {
        let (waiter, next) = self.pool.create_failed(slot, reject_waiter);
        vec![
            waiter.map_or(NO_SLOT, |w| w as f64),
            next.map_or(NO_SLOT, f64::from),
        ]
    }

    /// A borrowed slot will be destroyed; false when it is not borrowed.
    #[napi(catch_unwind)]
    pub fn destroy(&self, slot: u32) -> bool {
        self.pool.destroy(slot)
    }

    /// A destroy finished: the slot to create now, or -1.
    #[napi(catch_unwind)]
    pub fn destroyed(&self, slot: u32) -> f64 {
        self.pool.destroyed(slot).map_or(NO_SLOT, f64::from)
    }

    #[napi(catch_unwind)]
    pub fn cancel(&self, waiter: f64) -> bool {
        waiter >= 0.0 && self.pool.cancel(waiter as u64)
    }

    /// Stops keeping `min` (the pool is draining).
    #[napi(catch_unwind)]
    pub fn stop_refill(&self) {
        self.pool.stop_refill()
    }

    /// Every idle slot, now being destroyed.
    #[napi(catch_unwind)]
    pub fn clear(&self) -> Vec<u32> {
        self.pool.clear()
    }

    #[napi(catch_unwind)]
    pub fn close(&self) -> ResourceEngineClosed {
        let (waiters, slots) = self.pool.close();
        ResourceEngineClosed {
            waiters: waiters.into_iter().map(|w| w as f64).collect(),
            slots,
        }
    }

    /// Acquire waits in Prometheus buckets, for `resourcePool.metrics()`.
    #[napi(catch_unwind)]
    pub fn wait_buckets(&self) -> crate::metrics::EngineBuckets {
        self.pool.wait_buckets().into()
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> ResourceEngineStats {
        self.pool.stats().into()
    }

    /// Unregisters the handle (the hot functions then answer "queue full" / "not borrowed")
    /// and closes the engine. Idempotent.
    #[napi(catch_unwind)]
    pub fn dispose(&mut self) {
        if self.registered {
            self.registered = false;
            RESOURCE_POOLS.unregister(self.handle);
        }
        self.pool.close();
    }

    /// Keeps the event loop alive while JS awaits engine events (timed acquires).
    #[napi(js_name = "ref", catch_unwind)]
    pub fn keep_alive(&self, env: Env) -> Result<()> {
        crate::events::set_ref(&env, self.events.raw(), self.events.aborted(), true)
    }

    #[napi(js_name = "unref", catch_unwind)]
    pub fn let_exit(&self, env: Env) -> Result<()> {
        crate::events::set_ref(&env, self.events.raw(), self.events.aborted(), false)
    }
}

impl Drop for ResourceEngine {
    fn drop(&mut self) {
        // The JS object is gone (GC or env teardown): free the handle, stop the timer task.
        self.dispose();
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_saturate_to_unbounded() {
        assert_eq!(count(f64::INFINITY), u32::MAX);
        assert_eq!(count(5e9), u32::MAX);
        assert_eq!(count(3.0), 3);
        assert_eq!(count(-1.0), 0);
        assert_eq!(count(f64::NAN), 0);
    }
}
