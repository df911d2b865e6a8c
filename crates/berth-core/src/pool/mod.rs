//! The pool engine: every connection's bookkeeping, limits, waiters and timers.
//!
//! Descriptor ownership: the core owns a descriptor while it is being dialed and until JS
//! adopts it (`ConnState::Delivered`); from then on JS's socket owns it and the core only
//! peeks at it (never reads, never closes). Every decision about who gets a connection is
//! made under the lock of the destination's shard.

//!
//! Files: `acquire` (idle hit or a place in the queue), `placement` (where a free
//! connection goes), `release` (coming back, leaving, the descriptor's close), `dial` and
//! `adopt` (new connections for JS's waiters), `room` (`maxTotal`), `sweep` and `timers`
//! (deadlines, idle and lifetime), `upstream` (the native lane), `destinations` and
//! `interner` (destination ids), `watch` (readability of JS's connections), `shard`
//! (per-destination state), `introspect` (`stats`, `snapshot`).

mod acquire;
mod adopt;
pub mod config;
mod destinations;
mod dial;
pub mod events;
mod groups;
mod interner;
mod introspect;
mod metrics;
mod observe;
mod placement;
mod release;
mod room;
mod shard;
pub mod stats;
mod sweep;
#[cfg(test)]
mod tests;
mod timers;
mod upstream;
mod watch;

pub use acquire::Acquire;
pub use config::PoolConfig;
pub use destinations::DestPin;
pub use events::{Event, EventSink};
pub use groups::{
    GroupError, GroupStats, MemberStats, RouteTarget, UpstreamTarget, GROUP_PREFIX, MAX_GROUPS,
};
pub use introspect::{ConnSnapshot, DestSnapshot};
pub use metrics::{DestGauges, MemberGauge, PoolMetrics};
pub use observe::WaitCap;
pub use placement::Placement;
pub use shard::{ConnId, DestId};
pub use stats::{Counters, StatsSnapshot};
pub use upstream::Upstream;

use crate::deadlines::Deadlines;
use crate::sync::lock;
use crate::waiters::WaiterId;
use interner::Interner;
use shard::{shard_of, Shard, SHARDS};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::Notify;
use watch::Watch;

pub struct Pool {
    config: PoolConfig,
    shards: Box<[Mutex<Shard>]>,
    interner: RwLock<Interner>,
    /// Open connections across destinations (dialing and closing included), under `maxTotal`.
    total_open: AtomicU32,
    total_idle: AtomicU32,
    /// Dials started, ever: seeds the lifetime jitter.
    dials_started: AtomicU64,
    counters: Counters,
    closed: AtomicBool,
    /// Native sessions waiting for room or an idle upstream (see upstream.rs; per destination
    /// in `DestState::native_waiting`), and where they wait: every freed place wakes them
    /// while there are any.
    native_waiting: AtomicU32,
    upstream_room: Notify,
    /// Destinations whose waiters are blocked by `maxTotal`, served first when room appears.
    starved: Mutex<VecDeque<DestId>>,
    has_starved: AtomicBool,
    deadlines: Deadlines,
    /// Reuses handed to waiters in destinations since forgotten (`stats().reused` keeps them).
    forgotten_handoffs: AtomicU64,
    /// First leases of new connections in destinations since forgotten (for `metrics()`).
    forgotten_fresh: AtomicU64,
    /// Watches JS's connections for anything arriving (see watch.rs).
    watch: Watch,
    /// The watch could not be read once: from then on every connection is peeked.
    watch_broken: AtomicBool,
    /// Serial numbers of adopted connections, for their watch tokens.
    serials: AtomicU32,
    /// Drains of the watch started, ever (drains and hand-offs run on the pool's JS thread).
    drains: AtomicU64,
    /// Node-dialled path: when each connect JS is making started, for its connect time.
    node_dials: Mutex<std::collections::HashMap<shard::ConnId, std::time::Instant>>,
    /// Upstream groups and their member destinations (see groups.rs).
    groups: RwLock<groups::GroupTable>,
    shutdown: tokio::sync::watch::Sender<bool>,
    sink: Arc<dyn EventSink>,
    runtime: tokio::runtime::Handle,
}

impl Pool {
    /// Creates a pool and starts its timer task on `runtime`.
    pub fn new(
        config: PoolConfig,
        sink: Arc<dyn EventSink>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Pool> {
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let pool = Arc::new(Pool {
            config,
            shards: (0..SHARDS).map(|i| Mutex::new(Shard::new(i))).collect(),
            interner: RwLock::new(Interner::default()),
            total_open: AtomicU32::new(0),
            total_idle: AtomicU32::new(0),
            dials_started: AtomicU64::new(0),
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            native_waiting: AtomicU32::new(0),
            upstream_room: Notify::new(),
            starved: Mutex::new(VecDeque::new()),
            has_starved: AtomicBool::new(false),
            deadlines: Deadlines::default(),
            forgotten_handoffs: AtomicU64::new(0),
            forgotten_fresh: AtomicU64::new(0),
            watch: Watch::new(),
            watch_broken: AtomicBool::new(false),
            serials: AtomicU32::new(0),
            drains: AtomicU64::new(0),
            groups: RwLock::default(),
            node_dials: Mutex::default(),
            shutdown,
            sink,
            runtime,
        });
        let timers = Arc::clone(&pool);
        let mut stop = pool.shutdown.subscribe();
        let interval = pool.config.sweep_interval();
        pool.runtime.spawn(async move {
            timers::run(timers, &mut stop, interval).await;
        });
        pool
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(crate) fn shard(&self, id: impl Into<u64>) -> MutexGuard<'_, Shard> {
        lock(&self.shards[shard_of(id)])
    }

    // ---- shutdown and introspection -----------------------------------------------------

    /// Refuses new work, cancels dials in flight (each reports `PoolClosed`) and returns every
    /// queued waiter so the owner can reject it.
    pub fn close(self: &Arc<Self>) -> Vec<WaiterId> {
        self.closed.store(true, Ordering::Relaxed);
        self.shutdown.send_replace(true);
        self.watch.close();
        let mut waiters = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for (_, ds) in shard.dests_mut() {
                waiters.extend(ds.waiters.drain().into_iter().map(|w| w.id));
            }
        }
        self.close_native_idle();
        self.upstream_room.notify_waiters();
        waiters
    }

    pub(crate) fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub(crate) fn sink(&self) -> &Arc<dyn EventSink> {
        &self.sink
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    pub(crate) fn shards(&self) -> &[Mutex<Shard>] {
        &self.shards
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Stops the timer task and cancels dials; called when the owner goes away.
    pub fn shutdown(self: &Arc<Self>) {
        self.close();
    }
}

/// Takes one unit of `counter` if it stays within `max`.
pub(super) fn reserve(counter: &AtomicU32, max: u32) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
            (n < max).then_some(n + 1)
        })
        .is_ok()
}
