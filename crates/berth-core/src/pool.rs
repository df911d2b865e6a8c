//! The pool engine: every connection's bookkeeping, limits, waiters and timers.
//!
//! Descriptor ownership: the core owns a descriptor while it is being dialed and until JS
//! adopts it (`ConnState::Delivered`); from then on JS's socket owns it and the core only
//! peeks at it (never reads, never closes). Every decision about who gets a connection is
//! made under the lock of the destination's shard.

use crate::clock::now_ms;
use crate::config::{IdleOrder, PoolConfig};
use crate::deadlines::Deadlines;
use crate::destination::Destination;
use crate::dial::dial;
use crate::error::{DialError, DialErrorCode};
use crate::events::{Event, EventSink};
use crate::interner::Interner;
use crate::liveness;
use crate::redact::redact;
use crate::shard::{shard_of, Conn, ConnId, ConnState, DestId, DestState, Shard, SHARDS};
use crate::stats::{Counters, EvictReason, StatsSnapshot};
use crate::waiters::{Waiter, WaiterId};
use crate::watch::{split_watch_token, watch_token, Watch};
use std::collections::VecDeque;
use std::os::fd::{IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

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

/// The result of trying to take an idle connection without waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checkout {
    /// This idle connection passed its check and is now in use.
    Hit(ConnId),
    /// This idle connection failed its check and must be closed; try again.
    Dead(ConnId),
    /// No idle connection: enqueue a waiter.
    Miss,
}

/// The result of `acquire`: a connection now, or a place in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// This idle connection passed its check and is now in use.
    Hit(ConnId),
    /// This idle connection failed its check and must be closed; call again.
    Dead(ConnId),
    /// No idle connection: this waiter is queued (and dials started as limits allow).
    Queued(WaiterId),
    /// No idle connection, and `maxWaiters` are already queued.
    QueueFull,
    UnknownDestination,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EnqueueError {
    QueueFull,
    UnknownDestination,
}

/// One destination's view for `snapshot()`.
#[derive(Clone, Debug)]
pub struct DestSnapshot {
    pub destination: String,
    pub open: u32,
    pub idle: u32,
    pub in_use: u32,
    pub dialing: u32,
    pub waiting: u32,
    pub connections: Vec<ConnSnapshot>,
}

#[derive(Clone, Debug)]
pub struct ConnSnapshot {
    pub id: ConnId,
    pub state: &'static str,
    pub age_ms: u64,
    pub idle_ms: u64,
    pub uses: u64,
}

pub struct Pool {
    pub(crate) config: PoolConfig,
    shards: Box<[Mutex<Shard>]>,
    pub(crate) interner: RwLock<Interner>,
    /// Open connections across destinations (dialing and closing included), under `maxTotal`.
    pub(crate) total_open: AtomicU32,
    pub(crate) total_idle: AtomicU32,
    /// Dials started, ever: seeds the lifetime jitter.
    dials_started: AtomicU64,
    pub(crate) counters: Counters,
    closed: AtomicBool,
    /// Native sessions waiting for room or an idle upstream (see upstream.rs; per destination
    /// in `DestState::native_waiting`), and where they wait: every freed place wakes them
    /// while there are any.
    pub(crate) native_waiting: AtomicU32,
    pub(crate) upstream_room: Notify,
    /// Destinations whose waiters are blocked by `maxTotal`, served first when room appears.
    starved: Mutex<VecDeque<DestId>>,
    has_starved: AtomicBool,
    deadlines: Deadlines,
    /// Reuses handed to waiters in destinations since forgotten (`stats().reused` keeps them).
    pub(crate) forgotten_handoffs: AtomicU64,
    /// Watches JS's connections for anything arriving (see watch.rs).
    watch: Watch,
    /// The watch could not be read once: from then on every connection is peeked.
    watch_broken: AtomicBool,
    /// Serial numbers of adopted connections, for their watch tokens.
    serials: AtomicU32,
    /// Drains of the watch started, ever (drains and hand-offs run on the pool's JS thread).
    drains: AtomicU64,
    shutdown: watch::Sender<bool>,
    sink: Arc<dyn EventSink>,
    runtime: tokio::runtime::Handle,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a shard lock leaves counts that are still internally consistent
    // (every mutation is a few plain assignments); keep serving rather than poison the pool.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pool {
    /// Creates a pool and starts its timer task on `runtime`.
    pub fn new(
        config: PoolConfig,
        sink: Arc<dyn EventSink>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Pool> {
        let (shutdown, _) = watch::channel(false);
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
            watch: Watch::new(),
            watch_broken: AtomicBool::new(false),
            serials: AtomicU32::new(0),
            drains: AtomicU64::new(0),
            shutdown,
            sink,
            runtime,
        });
        let timers = Arc::clone(&pool);
        let mut stop = pool.shutdown.subscribe();
        let interval = pool.config.sweep_interval();
        pool.runtime.spawn(async move {
            crate::timers::run(timers, &mut stop, interval).await;
        });
        pool
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(crate) fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    pub(crate) fn shard(&self, id: impl Into<u64>) -> MutexGuard<'_, Shard> {
        lock(&self.shards[shard_of(id)])
    }

    // ---- the hot path -------------------------------------------------------------------

    /// Takes an idle connection of `dest`, or queues `waiter` for one: a single lock and a
    /// single call from JS either way. `waiter` is the caller's name for the wait, unique among
    /// its queued waiters; it is used only when there is no idle connection.
    pub fn acquire(
        self: &Arc<Self>,
        dest: DestId,
        waiter: WaiterId,
        priority: i32,
        timeout: Option<Duration>,
    ) -> Acquire {
        // Before an idle connection is handed out: whatever reached it up to this call marks
        // it suspect. With no idle connection anywhere none can be handed out now (only this
        // thread adds to JS's idle lists), and a waiter is proven at its hand-off.
        if self.total_idle.load(Ordering::Relaxed) > 0 {
            self.drain_watch();
        }
        let mut shard = self.shard(dest);
        match self.checkout(&mut shard, dest) {
            Checkout::Hit(id) => Acquire::Hit(id),
            Checkout::Dead(id) => Acquire::Dead(id),
            Checkout::Miss => match self.enqueue_locked(shard, dest, waiter, priority, timeout) {
                Ok(waiter) => Acquire::Queued(waiter),
                Err(EnqueueError::QueueFull) => Acquire::QueueFull,
                Err(EnqueueError::UnknownDestination) => Acquire::UnknownDestination,
            },
        }
    }

    /// Takes an idle connection of `dest` if one passes its liveness check.
    fn checkout(&self, shard: &mut Shard, dest: DestId) -> Checkout {
        let Some(ds) = shard.dest(dest) else {
            return Checkout::Miss;
        };
        let popped = match self.config.order {
            IdleOrder::Lifo => ds.idle.pop_back(),
            IdleOrder::Fifo => ds.idle.pop_front(),
        };
        let Some(id) = popped else {
            return Checkout::Miss;
        };
        self.total_idle.fetch_sub(1, Ordering::Relaxed);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return Checkout::Miss;
        };
        // Checked on every hit, however recently the connection was released: a peer's FIN or
        // RST that reached this host before this call must be seen, and JS's own watch of idle
        // sockets only runs when its event loop turns (a server restart or an idle reaper can
        // close a connection a microsecond after its release). The engine's watch (drained at
        // the top of `acquire`) tells which connections anything reached; those are peeked.
        let verdict = if conn.expires_ms != u64::MAX && now_ms() >= conn.expires_ms {
            Some(EvictReason::Lifetime)
        } else if conn.suspect || self.watch_broken.load(Ordering::Relaxed) {
            let verdict = liveness::check(conn.fd).eviction();
            conn.suspect = verdict.is_some();
            verdict
        } else {
            // The drain at the top of `acquire` saw nothing reach this socket since a peek
            // (or its adoption) proved it clean.
            None
        };
        if let Some(reason) = verdict {
            self.start_closing(conn);
            self.counters.evicted(reason);
            return Checkout::Dead(id);
        }
        conn.state = ConnState::InUse;
        conn.uses += 1;
        ds.in_use += 1;
        shard.hits += 1;
        Checkout::Hit(id)
    }

    /// Returns a leased connection; says where it goes next. With `check`, the connection is
    /// peeked first: a lease that wrote a request may have left part of its reply unread, and
    /// those bytes must not reach the next lease.
    pub fn release(&self, id: ConnId, check: bool) -> Placement {
        // With `check`, events from before the peek below are answered by it: drained first
        // so that they do not make the connection suspect again at its next hand-out. Before
        // a hand-off, drained if no drain since the waiter's acquire proves the connection.
        if check || self.handoff_needs_drain(id) {
            self.drain_watch();
        }
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return Placement::Close;
        };
        if !matches!(conn.state, ConnState::InUse) {
            return Placement::Close;
        }
        ds.in_use -= 1;
        if check {
            if let Some(reason) = liveness::check(conn.fd).eviction() {
                self.counters.evicted(reason);
                self.start_closing(conn);
                return Placement::Close;
            }
            conn.suspect = false;
        }
        let placement = self.place(conn, ds, id, check);
        if placement == Placement::Close {
            self.start_closing(conn);
        }
        placement
    }

    /// Whether releasing `id` would hand a reused connection to a waiter queued since the
    /// last drain of the watch.
    fn handoff_needs_drain(&self, id: ConnId) -> bool {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return false;
        };
        let drains = self.drains.load(Ordering::Relaxed);
        conn.uses > 0 && ds.waiters.peek().is_some_and(|w| w.drain_seq >= drains)
    }

    /// Decides where a free connection goes: the next waiter, the idle list, or closing.
    /// `checked`: the connection was peeked just now, after every queued waiter's acquire.
    fn place(&self, conn: &mut Conn, ds: &mut DestState, id: ConnId, checked: bool) -> Placement {
        if self.closed.load(Ordering::Relaxed) {
            return Placement::Close;
        }
        // The clock only where an answer depends on it: without maxLifetime a hand-off, the
        // contended path, needs no time at all.
        if conn.expires_ms != u64::MAX && now_ms() >= conn.expires_ms {
            self.counters.evicted(EvictReason::Lifetime);
            return Placement::Close;
        }
        if self.config.max_uses.is_some_and(|max| conn.uses >= max) {
            self.counters.evicted(EvictReason::MaxUses);
            return Placement::Close;
        }
        if let Some(next) = ds.waiters.peek() {
            // A reused connection goes to a waiter only once something proves it alive after
            // that waiter's acquire (its last lease may have held it unused while the peer
            // closed it): a drain of the watch since then that left it unsuspected, or a peek.
            let drained_since = next.drain_seq < self.drains.load(Ordering::Relaxed);
            let proven = checked
                || conn.uses == 0
                || (drained_since && !conn.suspect && !self.watch_broken.load(Ordering::Relaxed));
            if !proven {
                if let Some(reason) = liveness::check(conn.fd).eviction() {
                    self.counters.evicted(reason);
                    return Placement::Close;
                }
                conn.suspect = false;
            }
        }
        if let Some(waiter) = ds.waiters.pop() {
            conn.state = ConnState::InUse;
            if conn.uses > 0 {
                ds.handoff_reuses += 1;
            }
            conn.uses += 1;
            ds.in_use += 1;
            if let Some((since, weight)) = waiter.since {
                self.counters
                    .acquire_wait
                    .record_weighted_us(since.elapsed().as_micros() as u64, weight);
            }
            return Placement::Handoff(waiter.id);
        }
        // Another destination is waiting for room under maxTotal, or a native session for a
        // place in this one: give it ours.
        if self.has_starved.load(Ordering::Relaxed) || ds.native_waiting > 0 {
            self.counters.evicted(EvictReason::Idle);
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

    // ---- waiting and dialing ------------------------------------------------------------

    /// Queues an acquire that found no idle connection, and starts dials if limits allow.
    fn enqueue_locked(
        self: &Arc<Self>,
        mut shard: MutexGuard<'_, Shard>,
        dest: DestId,
        id: WaiterId,
        priority: i32,
        timeout: Option<Duration>,
    ) -> Result<WaiterId, EnqueueError> {
        match shard.dest(dest) {
            None => return Err(EnqueueError::UnknownDestination),
            Some(ds) if ds.waiters.len() as u32 >= self.config.max_waiters => {
                return Err(EnqueueError::QueueFull)
            }
            Some(_) => {}
        }
        let sample = shard.wait_sample();
        let Some(ds) = shard.dest(dest) else {
            return Err(EnqueueError::UnknownDestination);
        };
        let deadline = timeout.map(|t| now_ms().saturating_add(t.as_millis() as u64));
        ds.waiters.push(
            Waiter {
                id,
                since: sample.map(|weight| (Instant::now(), weight)),
                deadline,
                drain_seq: self.drains.load(Ordering::Relaxed),
            },
            priority,
        );
        if let Some(deadline) = deadline {
            self.deadlines.note(deadline);
        }
        let needs_room = self.pump(&mut shard, dest);
        drop(shard);
        if needs_room {
            self.make_room(dest);
        }
        Ok(id)
    }

    /// Removes a waiter that gave up (abort); false when it was already served or timed out.
    pub fn cancel(&self, dest: DestId, waiter: WaiterId) -> bool {
        self.shard(dest)
            .dest(dest)
            .and_then(|ds| ds.waiters.remove(waiter))
            .is_some()
    }

    /// Starts as many dials for `dest` as its waiters need and the limits allow.
    /// Returns true when `maxTotal` blocked a dial that waiters need.
    pub(crate) fn pump(self: &Arc<Self>, shard: &mut Shard, dest: DestId) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let mut starts = 0;
        let mut blocked = false;
        let mut target = None;
        self.yield_native_idle(shard, dest);
        if let Some(ds) = shard.dest(dest) {
            target = Some(Arc::clone(&ds.target));
            while (ds.waiters.len() as u32) > ds.dialing
                && ds.dialing < self.config.max_concurrent_dials
                && ds.open < self.config.max_per_destination
            {
                if !reserve(&self.total_open, self.config.max_total) {
                    blocked = true;
                    break;
                }
                ds.open += 1;
                ds.dialing += 1;
                starts += 1;
            }
        }
        if let (true, Some(target)) = (starts > 0, target) {
            // Read only when dialing: pump runs on every queued acquire.
            let now = now_ms();
            for _ in 0..starts {
                let id = shard.insert_conn(Conn {
                    dest,
                    state: ConnState::Dialing,
                    fd: -1,
                    created_ms: now,
                    expires_ms: self.expiry(now),
                    released_ms: now,
                    uses: 0,
                    suspect: true,
                    serial: 0,
                });
                self.spawn_dial(dest, &target, id);
            }
        }
        if blocked {
            self.mark_starved(dest);
        }
        blocked
    }

    /// JS waiters need places that idle native connections hold: close those (the core owns
    /// their descriptors, so at once) rather than let the waiters wait for an idle timeout.
    fn yield_native_idle(&self, shard: &mut Shard, dest: DestId) {
        loop {
            let Some(ds) = shard.dest(dest) else { return };
            let wanted = (ds.waiters.len() as u32).saturating_sub(ds.dialing);
            if wanted == 0
                || ds.native_idle.is_empty()
                || ds.open < self.config.max_per_destination
                || ds.dialing >= self.config.max_concurrent_dials
            {
                return;
            }
            let Some(id) = ds.native_idle.pop_front() else {
                return;
            };
            self.total_idle.fetch_sub(1, Ordering::Relaxed);
            self.counters.evicted(EvictReason::Idle);
            self.remove_native(shard, id);
        }
    }

    /// When a connection made now must retire: maxLifetime less up to 2.5% jitter, so that
    /// connections made together do not all expire together.
    pub(crate) fn expiry(&self, now: u64) -> u64 {
        match self.config.max_lifetime {
            None => u64::MAX,
            Some(lifetime) => {
                let ms = lifetime.as_millis() as u64;
                let jitter = (ms / 40).max(1);
                let seed = self.dials_started.fetch_add(1, Ordering::Relaxed) ^ now.rotate_left(17);
                now.saturating_add(ms - (splitmix(seed) % jitter).min(ms))
            }
        }
    }

    fn spawn_dial(self: &Arc<Self>, dest: DestId, target: &Arc<Destination>, id: ConnId) {
        let target = Arc::clone(target);
        let pool = Arc::clone(self);
        let mut stop = self.shutdown.subscribe();
        let timeout = self.config.connect_timeout;
        let policy = Arc::clone(&self.config.address_policy);
        self.runtime.spawn(async move {
            let started = Instant::now();
            let result = tokio::select! {
                result = dial(&target, timeout, &policy) => result,
                _ = stop.wait_for(|closed| *closed) => Err(DialError::new(
                    DialErrorCode::PoolClosed,
                    format!("the pool was closed while connecting to {target}"),
                )),
            };
            let event = match result {
                Ok(fd) => {
                    pool.counters
                        .connect
                        .record_us(started.elapsed().as_micros() as u64);
                    let mut shard = pool.shard(id);
                    match shard.conn_mut(id) {
                        Some(conn) => conn.state = ConnState::Delivered(fd),
                        None => return,
                    }
                    Event::Dialed { conn: id, dest }
                }
                Err(error) => Event::DialFailed {
                    conn: id,
                    dest,
                    error,
                },
            };
            pool.sink.emit(event);
        });
    }

    /// Takes the descriptor of a dialed connection: from now on the caller owns it.
    pub fn adopt(&self, id: ConnId) -> Option<RawFd> {
        let mut shard = self.shard(id);
        let conn = shard.conn_mut(id)?;
        if !matches!(conn.state, ConnState::Delivered(_)) {
            return None;
        }
        let ConnState::Delivered(fd) = std::mem::replace(&mut conn.state, ConnState::Adopted)
        else {
            return None;
        };
        conn.fd = fd.into_raw_fd();
        conn.serial = self.serials.fetch_add(1, Ordering::Relaxed);
        // Watched from now on; anything that reached it before is reported by the first drain.
        conn.suspect = !self.watch.watch(conn.fd, watch_token(id, conn.serial));
        Counters::bump(&self.counters.created);
        Some(conn.fd)
    }

    /// Marks suspect every connection the watch saw something reach since the last drain.
    fn drain_watch(&self) {
        self.drains.fetch_add(1, Ordering::Relaxed);
        let complete = self.watch.drain(|token| {
            let (id, serial) = split_watch_token(token);
            if let Some(conn) = self.shard(id).conn_mut(id) {
                if conn.serial == serial {
                    conn.suspect = true;
                }
            }
        });
        if !complete {
            self.watch_broken.store(true, Ordering::Relaxed);
        }
    }

    /// Places an adopted connection: to the oldest waiter, the idle list, or closing; then
    /// starts the next dial if waiters remain that no dial in flight will serve.
    pub fn offer(self: &Arc<Self>, id: ConnId) -> Placement {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return Placement::Close;
        };
        if !matches!(conn.state, ConnState::Adopted) {
            return Placement::Close;
        }
        ds.dialing -= 1;
        let placement = self.place(conn, ds, id, false);
        if placement == Placement::Close {
            self.start_closing(conn);
        }
        let dest = conn.dest;
        let needs_room = self.pump(&mut shard, dest);
        drop(shard);
        if needs_room {
            self.make_room(dest);
        }
        placement
    }

    /// Records a failed dial; returns the waiter that must be rejected with its error.
    pub fn dial_failed(self: &Arc<Self>, id: ConnId) -> Option<WaiterId> {
        let mut shard = self.shard(id);
        let conn = shard.remove_conn(id)?;
        let ds = shard.dest(conn.dest)?;
        ds.dialing -= 1;
        ds.open -= 1;
        self.total_open.fetch_sub(1, Ordering::Relaxed);
        Counters::bump(&self.counters.dial_failures);
        let waiter = ds.waiters.pop().map(|w| w.id);
        self.place_freed(shard, conn.dest);
        waiter
    }

    /// Closes a dialed connection the owner will not use (the pool closed while it was in
    /// flight): the core still owns the descriptor and closes it here.
    pub fn abandon(self: &Arc<Self>, id: ConnId) {
        let conn = self.shard(id).remove_conn(id);
        if let Some(conn) = conn {
            self.detach(&conn);
            // Dropping the record closes a descriptor still in `Delivered`.
            drop(conn);
            self.feed_starved();
        }
    }

    // ---- leaving the pool ---------------------------------------------------------------

    /// An idle connection's socket saw the peer close or unexpected data: take it out of the
    /// idle list. False when it was not idle (its lease or an earlier eviction handles it).
    pub fn evict_idle(&self, id: ConnId, reason: EvictReason) -> bool {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return false;
        };
        if !matches!(conn.state, ConnState::Idle) {
            return false;
        }
        if let Some(pos) = ds.idle.iter().position(|&c| c == id) {
            ds.idle.remove(pos);
            self.total_idle.fetch_sub(1, Ordering::Relaxed);
        }
        self.start_closing(conn);
        self.counters.evicted(reason);
        true
    }

    /// A leased connection is being destroyed instead of released.
    pub fn discard(&self, id: ConnId, reason: Option<EvictReason>) {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return;
        };
        if matches!(conn.state, ConnState::InUse) {
            ds.in_use -= 1;
            self.start_closing(conn);
            if let Some(reason) = reason {
                self.counters.evicted(reason);
            }
        }
    }

    /// The connection's descriptor is closed: free its place and serve whoever waits for one.
    pub fn forget(self: &Arc<Self>, id: ConnId) {
        let mut shard = self.shard(id);
        let Some(conn) = shard.remove_conn(id) else {
            return;
        };
        if let Some(ds) = shard.dest(conn.dest) {
            match conn.state {
                ConnState::Idle => {
                    if let Some(pos) = ds.idle.iter().position(|&c| c == id) {
                        ds.idle.remove(pos);
                        self.total_idle.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                ConnState::InUse => ds.in_use -= 1,
                ConnState::Dialing | ConnState::Delivered(_) | ConnState::Adopted => {
                    ds.dialing -= 1
                }
                ConnState::Closing => {}
                // Native connections are never reported by JS; keep the counts right anyway.
                ConnState::NativeDialing => ds.native_dialing -= 1,
                ConnState::NativeInUse => ds.in_use -= 1,
                ConnState::NativeIdle(_) => {
                    if let Some(pos) = ds.native_idle.iter().position(|&c| c == id) {
                        ds.native_idle.remove(pos);
                        self.total_idle.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
            ds.open -= 1;
        }
        self.total_open.fetch_sub(1, Ordering::Relaxed);
        if !matches!(conn.state, ConnState::Closing) {
            Counters::bump(&self.counters.closed);
        }
        self.place_freed(shard, conn.dest);
    }

    /// A place under the limits was freed in `dest` (shard locked): start the dials that JS
    /// waiters need, let starved destinations and waiting native sessions try again.
    pub(crate) fn place_freed(self: &Arc<Self>, mut shard: MutexGuard<'_, Shard>, dest: DestId) {
        let needs_room = self.pump(&mut shard, dest);
        drop(shard);
        if needs_room {
            self.make_room(dest);
        }
        self.feed_starved();
        self.wake_native();
    }

    /// Wakes native sessions waiting for a place, if there are any.
    pub(crate) fn wake_native(&self) {
        if self.native_waiting.load(Ordering::Relaxed) > 0 {
            self.upstream_room.notify_waiters();
        }
    }

    /// The owner is about to close this connection: from now on it counts as closed, though
    /// it holds its place under the limits until `forget` reports the descriptor gone.
    pub(crate) fn start_closing(&self, conn: &mut Conn) {
        if !matches!(conn.state, ConnState::Closing) {
            conn.state = ConnState::Closing;
            Counters::bump(&self.counters.closed);
        }
    }

    /// Takes a removed record's counts out of its destination and the totals.
    fn detach(&self, conn: &Conn) {
        {
            let mut shard = self.shard(conn.dest);
            if let Some(ds) = shard.dest(conn.dest) {
                if conn.is_dialing() {
                    ds.dialing -= 1;
                }
                ds.open -= 1;
            }
        }
        self.total_open.fetch_sub(1, Ordering::Relaxed);
        Counters::bump(&self.counters.closed);
    }

    // ---- room under maxTotal ------------------------------------------------------------

    pub(crate) fn mark_starved(&self, dest: DestId) {
        let mut starved = lock(&self.starved);
        if !starved.contains(&dest) {
            starved.push_back(dest);
        }
        self.has_starved.store(true, Ordering::Relaxed);
    }

    /// `dest` needs room under maxTotal: close the least recently used idle connection of
    /// another destination (as HTTP clients and HAProxy do), JS's or the engine's own. JS
    /// closes its own; a native one is closed here, at once.
    pub(crate) fn make_room(self: &Arc<Self>, dest: DestId) {
        // Found in one pass over the shards, taken under its shard's lock in a second; a
        // connection leased or evicted in between is skipped and the search runs again.
        for _ in 0..4 {
            let Some((shard_index, id, native)) = self.least_recently_used_idle(dest) else {
                return;
            };
            let mut shard = lock(&self.shards[shard_index]);
            let Some((conn, ds)) = shard.conn_and_dest(id) else {
                continue;
            };
            let list = if native {
                &mut ds.native_idle
            } else {
                &mut ds.idle
            };
            let Some(pos) = list.iter().position(|&c| c == id) else {
                continue;
            };
            list.remove(pos);
            self.total_idle.fetch_sub(1, Ordering::Relaxed);
            self.counters.evicted(EvictReason::Idle);
            if native {
                self.remove_native(&mut shard, id);
                drop(shard);
                self.feed_starved();
                self.wake_native();
            } else {
                self.start_closing(conn);
                drop(shard);
                self.sink.emit(Event::Evict {
                    conn: id,
                    reason: EvictReason::Idle,
                });
            }
            return;
        }
    }

    /// The idle connection released longest ago in a destination other than `dest`: its
    /// shard, id, and whether the engine owns it. Each idle list is ordered by release, so
    /// only the front of each is compared.
    fn least_recently_used_idle(&self, dest: DestId) -> Option<(usize, ConnId, bool)> {
        let mut best: Option<(u64, usize, ConnId, bool)> = None;
        for (index, shard) in self.shards.iter().enumerate() {
            let shard = lock(shard);
            for (d, ds) in shard.dests() {
                if d == dest {
                    continue;
                }
                let fronts = [(ds.idle.front(), false), (ds.native_idle.front(), true)];
                for (front, native) in fronts {
                    let Some(&id) = front else { continue };
                    let Some(conn) = shard.conn(id) else { continue };
                    if best.map_or(true, |(at, ..)| conn.released_ms < at) {
                        best = Some((conn.released_ms, index, id, native));
                    }
                }
            }
        }
        best.map(|(_, index, id, native)| (index, id, native))
    }

    /// Room appeared under maxTotal: let starved destinations dial, oldest first.
    fn feed_starved(self: &Arc<Self>) {
        if !self.has_starved.load(Ordering::Relaxed) {
            return;
        }
        let dests: Vec<DestId> = {
            let mut starved = lock(&self.starved);
            self.has_starved.store(false, Ordering::Relaxed);
            starved.drain(..).collect()
        };
        for dest in dests {
            let mut shard = self.shard(dest);
            // pump re-marks the destination if it is still blocked.
            self.pump(&mut shard, dest);
        }
    }

    // ---- timers -------------------------------------------------------------------------

    /// Rejects waiters whose deadline passed; returns the next deadline (ms), if any.
    pub(crate) fn expire_waiters(&self, now: u64) -> Option<u64> {
        let earliest = self.deadlines.take()?;
        if earliest > now {
            self.deadlines.keep(earliest);
            return self.deadlines.earliest();
        }
        let mut expired = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for (_, ds) in shard.dests_mut() {
                if ds.waiters.is_empty() {
                    continue;
                }
                let (gone, next) = ds.waiters.expire(now);
                expired.extend(gone.into_iter().map(|w| w.id));
                if let Some(next) = next {
                    self.deadlines.keep(next);
                }
            }
        }
        for waiter in expired {
            Counters::bump(&self.counters.acquire_timeouts);
            self.sink.emit(Event::WaiterTimedOut { waiter });
        }
        self.deadlines.earliest()
    }

    /// Evicts idle connections past their idle timeout or lifetime.
    pub(crate) fn sweep(self: &Arc<Self>, now: u64) {
        let idle_limit = self.config.idle_timeout.map(|d| d.as_millis() as u64);
        let mut evicted = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let mut expired = Vec::new();
            for (_, ds) in shard.dests() {
                for &id in &ds.idle {
                    expired.push(id);
                }
            }
            for id in expired {
                let Some((conn, ds)) = shard.conn_and_dest(id) else {
                    continue;
                };
                let reason = if now >= conn.expires_ms {
                    EvictReason::Lifetime
                } else if idle_limit.is_some_and(|l| now.saturating_sub(conn.released_ms) >= l) {
                    EvictReason::Idle
                } else {
                    continue;
                };
                if let Some(pos) = ds.idle.iter().position(|&c| c == id) {
                    ds.idle.remove(pos);
                    self.total_idle.fetch_sub(1, Ordering::Relaxed);
                }
                self.start_closing(conn);
                self.counters.evicted(reason);
                evicted.push((id, reason));
            }
        }
        for (conn, reason) in evicted {
            self.sink.emit(Event::Evict { conn, reason });
        }
        self.sweep_native(now, idle_limit);
        let any_unused = self
            .shards
            .iter()
            .any(|s| lock(s).dests().any(|(_, ds)| ds.is_unused()));
        if any_unused {
            self.forget_unused();
        }
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

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
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

    pub fn stats(&self) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        let mut hits = 0;
        let mut handoffs = 0;
        for shard in self.shards.iter() {
            let shard = lock(shard);
            hits += shard.hits;
            for (_, ds) in shard.dests() {
                handoffs += ds.handoff_reuses;
                let idle = (ds.idle.len() + ds.native_idle.len()) as u32;
                let dialing = ds.dialing + ds.native_dialing;
                s.open += u64::from(idle + ds.in_use + dialing);
                s.closing += u64::from(ds.open - idle - ds.in_use - dialing);
                s.idle += u64::from(idle);
                s.in_use += u64::from(ds.in_use);
                s.dialing += u64::from(dialing);
                s.waiting += ds.waiters.len() as u64;
            }
        }
        // Native sessions waiting for a place are acquires queued too.
        s.waiting += u64::from(self.native_waiting.load(Ordering::Relaxed));
        handoffs += self.forgotten_handoffs.load(Ordering::Relaxed);
        self.counters.fill(&mut s, hits, handoffs);
        s
    }

    /// Every destination the pool holds something for, oldest first (a destination that
    /// holds nothing is forgotten at the next sweep and is not listed from then on).
    pub fn snapshot(&self) -> Vec<DestSnapshot> {
        let now = now_ms();
        let mut out: Vec<(DestId, DestSnapshot)> = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            let first = out.len();
            for (id, ds) in shard.dests() {
                out.push((
                    id,
                    DestSnapshot {
                        destination: redact(&ds.target.to_string()),
                        open: ds.open,
                        idle: (ds.idle.len() + ds.native_idle.len()) as u32,
                        in_use: ds.in_use,
                        dialing: ds.dialing + ds.native_dialing,
                        waiting: ds.waiters.len() as u32,
                        connections: Vec::new(),
                    },
                ));
            }
            let mine = &mut out[first..];
            mine.sort_unstable_by_key(|(id, _)| *id);
            for (id, conn) in shard.conns() {
                let Ok(at) = mine.binary_search_by_key(&conn.dest, |(d, _)| *d) else {
                    continue;
                };
                let dest = &mut mine[at].1;
                let state = match conn.state {
                    ConnState::Dialing
                    | ConnState::Delivered(_)
                    | ConnState::Adopted
                    | ConnState::NativeDialing => "dialing",
                    ConnState::Idle | ConnState::NativeIdle(_) => "idle",
                    ConnState::InUse => "inUse",
                    ConnState::NativeInUse => "forwarding",
                    ConnState::Closing => "closing",
                };
                dest.connections.push(ConnSnapshot {
                    id,
                    state,
                    age_ms: now.saturating_sub(conn.created_ms),
                    idle_ms: if state == "idle" {
                        now.saturating_sub(conn.released_ms)
                    } else {
                        0
                    },
                    uses: conn.uses,
                });
            }
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        out.into_iter().map(|(_, d)| d).collect()
    }

    /// Stops the timer task and cancels dials; called when the owner goes away.
    pub fn shutdown(self: &Arc<Self>) {
        self.close();
    }
}

/// Takes one unit of `counter` if it stays within `max`.
pub(crate) fn reserve(counter: &AtomicU32, max: u32) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
            (n < max).then_some(n + 1)
        })
        .is_ok()
}

/// A small, good-enough mixer for lifetime jitter (no RNG dependency needed).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
