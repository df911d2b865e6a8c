//! The resource pool engine: one lock around every slot's state, the idle list and the
//! waiters, so each call is one decision made whole.

use super::config::{ResourceConfig, MAX_BACKOFF_MS};
use super::events::{ResourceEvent, ResourceSink};
use super::slots::{Slot, SlotId, SlotState, Slots};
use super::stats::ResourceStats;
use super::timers::Timed;
use super::{Placement, Take};
use crate::buckets::{BucketsSnapshot, FixedHistogram};
use crate::clock::now_ms;
use crate::contract::EvictReason;
use crate::contract::IdleOrder;
use crate::deadlines::Deadlines;
use crate::histogram::Histogram;
use crate::sync::lock;
use crate::waiters::{WaitSampler, Waiter, WaiterId, Waiters};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

pub struct ResourcePool {
    config: ResourceConfig,
    state: Mutex<State>,
    /// Waits of acquires served by a hand-off (hits are counted as zeros at read time).
    wait: Histogram,
    /// The same waits in fixed buckets, for Prometheus (`wait_buckets`).
    wait_buckets: FixedHistogram,
    deadlines: Deadlines,
    /// Wakes the timer task to plan a refill (start, or a backoff that began).
    refill: Notify,
    shutdown: watch::Sender<bool>,
    sink: Arc<dyn ResourceSink>,
}

/// Everything under the lock. Counts are plain integers: the lock is held anyway.
#[derive(Default)]
struct State {
    slots: Slots,
    /// Idle slots, least recently released at the front.
    idle: VecDeque<SlotId>,
    waiters: Waiters,
    in_use: u32,
    creating: u32,
    destroying: u32,
    /// `min` is maintained only once started.
    started: bool,
    closed: bool,
    /// The current refill backoff (0: none) and when a refill may run again (clock ms).
    backoff_ms: u64,
    retry_at: u64,
    /// Waiters wait out a failed create's backoff (`retry_for_waiters`, until the pool
    /// stops refilling: a draining pool rejects them instead, so that it drains).
    retry_for_waiters: bool,
    /// Creates ever completed: seeds the lifetime jitter.
    expiry_seed: u64,
    /// Picks which waits are timed.
    waits: WaitSampler,
    tally: Tally,
}

#[derive(Default)]
struct Tally {
    created: u64,
    destroyed: u64,
    hits: u64,
    handoffs: u64,
    reused: u64,
    create_failures: u64,
    timeouts: u64,
    evicted_idle: u64,
    evicted_lifetime: u64,
    max_wait_us: u64,
}

/// A slot handed out (a hit or a hand-off): in use, and a reuse if it served before.
fn lend(slot: &mut Slot, tally: &mut Tally, in_use: &mut u32) {
    slot.state = SlotState::InUse;
    if slot.uses > 0 {
        tally.reused += 1;
    }
    slot.uses += 1;
    *in_use += 1;
}

impl State {
    /// Idle + in use + being created: what `min` counts.
    fn size(&self) -> u32 {
        self.idle.len() as u32 + self.in_use + self.creating
    }

    /// Every slot that holds a place under `max`.
    fn open(&self) -> u32 {
        self.size() + self.destroying
    }

    fn new_slot(&mut self) -> SlotId {
        self.creating += 1;
        self.slots.insert_creating()
    }

    /// A create for the waiters, when more wait than creates in flight will serve (and, when
    /// creates for waiters are retried, no backoff holds them back).
    fn demand_create(&mut self, config: &ResourceConfig) -> Option<SlotId> {
        (self.waiters_need_create(config)
            && !(self.retry_for_waiters && self.backing_off(now_ms())))
        .then(|| self.new_slot())
    }

    /// More waiters than creates in flight will serve, and room under `max`.
    fn waiters_need_create(&self, config: &ResourceConfig) -> bool {
        !self.closed && self.waiters.len() > self.creating as usize && self.open() < config.max
    }

    /// A backoff after a failed create is running (`retry_at` is 0 once a create succeeded,
    /// so a pool whose creates work reads no clock here).
    fn backing_off(&self, now: u64) -> bool {
        self.retry_at != 0 && now < self.retry_at
    }

    /// A create for `min`, unless a backoff after a failed create holds it back.
    fn min_create(&mut self, config: &ResourceConfig, now: u64) -> Option<SlotId> {
        (self.started
            && !self.closed
            && now >= self.retry_at
            && self.size() < config.min
            && self.open() < config.max)
            .then(|| self.new_slot())
    }

    /// Marks a slot (already taken out of its previous state's count) as being destroyed.
    fn start_destroying(&mut self, id: SlotId) {
        if let Some(slot) = self.slots.get_mut(id) {
            slot.state = SlotState::Destroying;
            self.destroying += 1;
        }
    }
}

impl ResourcePool {
    /// Creates a pool and starts its timer task (deadlines, sweeps, `min` refills) on `runtime`.
    pub fn new(
        config: ResourceConfig,
        sink: Arc<dyn ResourceSink>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<ResourcePool> {
        let (shutdown, stop) = watch::channel(false);
        let pool = Arc::new(ResourcePool {
            state: Mutex::new(State {
                retry_for_waiters: config.retry_for_waiters,
                ..State::default()
            }),
            config,
            wait: Histogram::default(),
            wait_buckets: FixedHistogram::default(),
            deadlines: Deadlines::default(),
            refill: Notify::new(),
            shutdown,
            sink,
        });
        runtime.spawn(super::timers::run(Arc::clone(&pool), stop));
        pool
    }

    pub fn config(&self) -> &ResourceConfig {
        &self.config
    }

    /// Starts keeping `min`: returns the slots to create now.
    pub fn start(&self) -> Vec<SlotId> {
        let mut st = lock(&self.state);
        st.started = true;
        let now = now_ms();
        std::iter::from_fn(|| st.min_create(&self.config, now)).collect()
    }

    // ---- the hot path -------------------------------------------------------------------

    /// As `acquire` with the pool's acquire timeout.
    pub fn acquire_default(&self, waiter: WaiterId, priority: i32) -> Take {
        self.acquire(waiter, priority, self.config.acquire_timeout)
    }

    /// Takes an idle slot, or queues `waiter` (the caller's token, unique among its queued
    /// waiters) and starts a create when the waiters need one.
    pub fn acquire(&self, waiter: WaiterId, priority: i32, timeout: Option<Duration>) -> Take {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        if st.closed {
            return Take::Closed;
        }
        let popped = match self.config.order {
            IdleOrder::Lifo => st.idle.pop_back(),
            IdleOrder::Fifo => st.idle.pop_front(),
        };
        if let Some((id, slot)) = popped.and_then(|id| st.slots.get_mut(id).map(|s| (id, s))) {
            // The clock only when resources retire: without maxLifetime a hit reads no time.
            if slot.expires_ms != u64::MAX && now_ms() >= slot.expires_ms {
                st.tally.evicted_lifetime += 1;
                st.start_destroying(id);
                return Take::Expired(id);
            }
            lend(slot, &mut st.tally, &mut st.in_use);
            st.tally.hits += 1;
            return Take::Hit(id);
        }
        if st.waiters.len() >= self.config.max_waiters as usize {
            return Take::QueueFull;
        }
        let deadline = timeout.map(|t| now_ms().saturating_add(t.as_millis() as u64));
        st.waiters.push(
            Waiter {
                id: waiter,
                since: st.waits.sample().map(|weight| (Instant::now(), weight)),
                deadline,
                // Resources are not sockets: nothing to prove at hand-off.
                drain_seq: 0,
                ticket: 0,
            },
            priority,
        );
        if let Some(deadline) = deadline {
            self.deadlines.note(deadline);
        }
        Take::Queued {
            create: self.demand_create_or_plan(st),
        }
    }

    /// A create for the waiters now, or, when a backoff holds it back (`retry_for_waiters`),
    /// a wake-up for the timer task to start it once the backoff is over.
    fn demand_create_or_plan(&self, st: &mut State) -> Option<SlotId> {
        let create = st.demand_create(&self.config);
        if create.is_none() && st.retry_for_waiters && st.waiters_need_create(&self.config) {
            self.refill.notify_one();
        }
        create
    }

    /// Returns a borrowed slot; None when it is not borrowed.
    pub fn release(&self, id: SlotId) -> Option<Placement> {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let slot = st.slots.in_state(id, SlotState::InUse)?;
        let expired = slot.expires_ms != u64::MAX && now_ms() >= slot.expires_ms;
        st.in_use -= 1;
        if st.closed || expired {
            if !st.closed {
                st.tally.evicted_lifetime += 1;
            }
            st.start_destroying(id);
            return Some(Placement::Destroy);
        }
        Some(self.place(st, id))
    }

    /// Gives a free slot (counted in no state) to the next waiter, or to the idle list.
    fn place(&self, st: &mut State, id: SlotId) -> Placement {
        let Some(slot) = st.slots.get_mut(id) else {
            return Placement::Destroy;
        };
        if let Some(waiter) = st.waiters.pop() {
            lend(slot, &mut st.tally, &mut st.in_use);
            st.tally.handoffs += 1;
            if let Some((since, weight)) = waiter.since {
                let us = since.elapsed().as_micros() as u64;
                self.wait.record_weighted_us(us, weight);
                self.wait_buckets.record_weighted_us(us, weight);
                st.tally.max_wait_us = st.tally.max_wait_us.max(us);
            }
            return Placement::Handoff(waiter.id);
        }
        slot.state = SlotState::Idle;
        slot.released_ms = now_ms();
        st.idle.push_back(id);
        Placement::Idle
    }

    // ---- creating -----------------------------------------------------------------------

    /// A create succeeded: the resource goes to the next waiter or the idle list (or is
    /// destroyed, the pool being closed). None when the slot was not being created.
    pub fn created(&self, id: SlotId) -> Option<Placement> {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let now = now_ms();
        st.expiry_seed += 1;
        let expires_ms = self.expiry(now, st.expiry_seed);
        let slot = st.slots.in_state(id, SlotState::Creating)?;
        slot.expires_ms = expires_ms;
        st.creating -= 1;
        st.tally.created += 1;
        st.backoff_ms = 0;
        st.retry_at = 0;
        if st.closed {
            st.start_destroying(id);
            return Some(Placement::Destroy);
        }
        Some(self.place(st, id))
    }

    /// A create failed; its slot is gone. With `reject_waiter`, the next waiter, for the
    /// owner to reject with the cause (so a failing factory never leaves acquires hanging).
    /// Then a new slot to create when waiters remain that no create in flight will serve
    /// (with `retry_for_waiters`, none: the timer task starts it once the backoff is over).
    /// Refills of `min` back off from now on.
    pub fn create_failed(
        &self,
        id: SlotId,
        reject_waiter: bool,
    ) -> (Option<WaiterId>, Option<SlotId>) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        if st.slots.in_state(id, SlotState::Creating).is_none() {
            return (None, None);
        }
        st.slots.remove(id);
        st.creating -= 1;
        st.tally.create_failures += 1;
        let base = (self.config.create_backoff.as_millis() as u64).max(1);
        st.backoff_ms = if st.backoff_ms == 0 {
            base.min(MAX_BACKOFF_MS)
        } else {
            st.backoff_ms.saturating_mul(2).min(MAX_BACKOFF_MS)
        };
        st.retry_at = now_ms().saturating_add(st.backoff_ms);
        let waiter = if reject_waiter {
            st.waiters.pop().map(|w| w.id)
        } else {
            None
        };
        let next = st.demand_create(&self.config);
        drop(guard);
        // The timer task plans the retry.
        self.refill.notify_one();
        (waiter, next)
    }

    // ---- leaving the pool ---------------------------------------------------------------

    /// A borrowed slot will be destroyed instead of released; false when it is not borrowed.
    pub fn destroy(&self, id: SlotId) -> bool {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        if st.slots.in_state(id, SlotState::InUse).is_none() {
            return false;
        }
        st.in_use -= 1;
        st.start_destroying(id);
        true
    }

    /// A destroy finished; the slot is gone and its place free. Returns a new slot to create
    /// when waiters or `min` need one.
    pub fn destroyed(&self, id: SlotId) -> Option<SlotId> {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        st.slots.in_state(id, SlotState::Destroying)?;
        st.slots.remove(id);
        st.destroying -= 1;
        st.tally.destroyed += 1;
        self.demand_create_or_plan(st)
            .or_else(|| st.min_create(&self.config, now_ms()))
    }

    /// Removes a waiter that gave up (abort); false when it was already served or timed out.
    pub fn cancel(&self, waiter: WaiterId) -> bool {
        lock(&self.state).waiters.remove(waiter).is_some()
    }

    /// Stops keeping `min` (a draining pool creates only for the waiters it still serves).
    /// With `retry_for_waiters`, waiters no longer wait out a backoff: the timer task starts
    /// their creates now, and each failed one may reject a waiter (so a pool whose creates
    /// keep failing still drains).
    pub fn stop_refill(&self) {
        let mut st = lock(&self.state);
        st.started = false;
        if st.retry_for_waiters {
            st.retry_for_waiters = false;
            drop(st);
            self.refill.notify_one();
        }
    }

    /// Every idle slot is now being destroyed: the owner destroys them.
    pub fn clear(&self) -> Vec<SlotId> {
        let mut st = lock(&self.state);
        let idle: Vec<SlotId> = st.idle.drain(..).collect();
        for &id in &idle {
            st.start_destroying(id);
        }
        idle
    }

    /// Refuses every acquire and create from now on; returns the queued waiters (to reject)
    /// and the idle slots, now being destroyed. Borrowed slots are destroyed when released,
    /// slots being created when created. Stops the timer task.
    pub fn close(&self) -> (Vec<WaiterId>, Vec<SlotId>) {
        let mut st = lock(&self.state);
        st.closed = true;
        let waiters = st.waiters.drain().into_iter().map(|w| w.id).collect();
        drop(st);
        let slots = self.clear();
        self.shutdown.send_replace(true);
        (waiters, slots)
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// The four gauges generic-pool users poll, without building the whole stats:
    /// (size, idle, in use, waiting).
    pub fn gauges(&self) -> (u32, u32, u32, u32) {
        let st = lock(&self.state);
        (
            st.size(),
            st.idle.len() as u32,
            st.in_use,
            st.waiters.len() as u32,
        )
    }

    /// Acquire waits in Prometheus buckets (seconds), reuse hits as 0 s.
    pub fn wait_buckets(&self) -> BucketsSnapshot {
        let hits = lock(&self.state).tally.hits;
        self.wait_buckets.snapshot_with_zeros(hits)
    }

    pub fn stats(&self) -> ResourceStats {
        let st = lock(&self.state);
        let t = &st.tally;
        let wait = self.wait.quantiles_ms_with_zeros(t.hits, &[0.5, 0.99]);
        ResourceStats {
            size: u64::from(st.size()),
            idle: st.idle.len() as u64,
            in_use: u64::from(st.in_use),
            creating: u64::from(st.creating),
            destroying: u64::from(st.destroying),
            waiting: st.waiters.len() as u64,
            created: t.created,
            destroyed: t.destroyed,
            acquired: t.hits + t.handoffs,
            reused: t.reused,
            create_failures: t.create_failures,
            timeouts: t.timeouts,
            evicted_idle: t.evicted_idle,
            evicted_lifetime: t.evicted_lifetime,
            // The histogram answers in ms (bucket bounds, whole µs): back to µs exactly.
            acquire_wait_p50_us: (wait[0] * 1000.0).round(),
            acquire_wait_p99_us: (wait[1] * 1000.0).round(),
            acquire_wait_max_us: t.max_wait_us as f64,
        }
    }

    /// When a resource created now retires: maxLifetime less up to 2.5% jitter, so that
    /// resources made together do not all expire together.
    fn expiry(&self, now: u64, seed: u64) -> u64 {
        match self.config.max_lifetime {
            None => u64::MAX,
            Some(lifetime) => {
                let ms = lifetime.as_millis() as u64;
                let jitter = (ms / 40).max(1);
                let mixed = splitmix(seed ^ now.rotate_left(17));
                now.saturating_add(ms - (mixed % jitter).min(ms))
            }
        }
    }
}

impl Timed for ResourcePool {
    fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    fn refill_wake(&self) -> &Notify {
        &self.refill
    }

    /// Sweeps only when an idle limit is set: otherwise they have nothing to do.
    fn sweep_interval(&self) -> Option<Duration> {
        let limited = self.config.idle_timeout.is_some()
            || self.config.soft_idle_timeout.is_some()
            || self.config.max_lifetime.is_some();
        limited.then_some(self.config.eviction_interval)
    }

    /// Dequeues waiters whose deadline passed and reports them; returns the next deadline.
    fn expire_waiters(&self, now: u64) -> Option<u64> {
        let earliest = self.deadlines.take()?;
        if earliest > now {
            self.deadlines.keep(earliest);
            return self.deadlines.earliest();
        }
        let expired = {
            let mut st = lock(&self.state);
            let (expired, next) = st.waiters.expire(now);
            if let Some(next) = next {
                self.deadlines.keep(next);
            }
            st.tally.timeouts += expired.len() as u64;
            expired
        };
        for waiter in expired {
            self.sink
                .emit(ResourceEvent::WaiterTimedOut { waiter: waiter.id });
        }
        self.deadlines.earliest()
    }

    /// Examines up to `tests_per_eviction` idle slots, least recently released first, and
    /// evicts those past their lifetime, idle timeout, or soft idle timeout (above `min`).
    fn sweep(&self, now: u64) {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        let (hard, soft) = (
            ms(self.config.idle_timeout),
            ms(self.config.soft_idle_timeout),
        );
        let mut evicted = Vec::new();
        {
            let mut guard = lock(&self.state);
            let st = &mut *guard;
            let examined = st.idle.len().min(self.config.tests_per_eviction as usize);
            let mut size = st.size();
            for i in 0..examined {
                let id = st.idle[i];
                let Some(slot) = st.slots.get_mut(id) else {
                    continue;
                };
                let idle_for = now.saturating_sub(slot.released_ms);
                let reason = if now >= slot.expires_ms {
                    EvictReason::Lifetime
                } else if hard.is_some_and(|l| idle_for >= l)
                    || (soft.is_some_and(|l| idle_for >= l) && size > self.config.min)
                {
                    EvictReason::Idle
                } else {
                    continue;
                };
                slot.state = SlotState::Destroying;
                st.destroying += 1;
                size -= 1;
                match reason {
                    EvictReason::Lifetime => st.tally.evicted_lifetime += 1,
                    _ => st.tally.evicted_idle += 1,
                }
                evicted.push((id, reason));
            }
            if !evicted.is_empty() {
                let slots = &mut st.slots;
                st.idle.retain(|&id| {
                    slots
                        .get_mut(id)
                        .is_some_and(|s| s.state == SlotState::Idle)
                });
            }
        }
        for (slot, reason) in evicted {
            self.sink.emit(ResourceEvent::Evict { slot, reason });
        }
    }

    /// Starts the creates `min` needs (and, with `retry_for_waiters`, those the waiters
    /// need) and reports them; returns when a create held back by a backoff may run.
    fn refill(&self, now: u64) -> Option<u64> {
        let (slots, retry) = {
            let mut st = lock(&self.state);
            let mut slots: Vec<SlotId> = Vec::new();
            // Creates for waiters a failed create left waiting (generic-pool's contract).
            if self.config.retry_for_waiters && !(st.retry_for_waiters && st.backing_off(now)) {
                slots.extend(std::iter::from_fn(|| {
                    st.waiters_need_create(&self.config).then(|| st.new_slot())
                }));
            }
            slots.extend(std::iter::from_fn(|| st.min_create(&self.config, now)));
            let min_held_back = st.started
                && !st.closed
                && now < st.retry_at
                && st.size() < self.config.min
                && st.open() < self.config.max;
            let waiters_held_back =
                st.retry_for_waiters && st.backing_off(now) && st.waiters_need_create(&self.config);
            (
                slots,
                (min_held_back || waiters_held_back).then_some(st.retry_at),
            )
        };
        for slot in slots {
            self.sink.emit(ResourceEvent::Create { slot });
        }
        retry
    }
}

/// A small, good-enough mixer for lifetime jitter (no RNG dependency needed).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
