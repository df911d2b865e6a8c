//! The resource engine's decisions: limits, idle order, priorities, hand-offs, timeouts,
//! evictions, `min` refills with backoff, close and clear. Timed behaviour is asserted by
//! waiting (generously) for the events, never by how long they took.

use berth_core::contract::EvictReason;
use berth_core::contract::IdleOrder;
use berth_core::resource::{
    Placement, ResourceConfig, ResourceEvent, ResourcePool, ResourceSink, Take,
};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<ResourceEvent>>,
    changed: Condvar,
}

impl ResourceSink for Recorder {
    fn emit(&self, event: ResourceEvent) -> bool {
        self.events.lock().unwrap().push(event);
        self.changed.notify_all();
        true
    }
}

impl Recorder {
    /// Waits (up to 10 s) for an event matching `want`, and takes it out.
    fn wait_for(&self, want: impl Fn(&ResourceEvent) -> bool) -> ResourceEvent {
        let events = self.events.lock().unwrap();
        let (mut events, _) = self
            .changed
            .wait_timeout_while(events, Duration::from_secs(10), |e| !e.iter().any(&want))
            .unwrap();
        let pos = events.iter().position(&want).expect("the event never came");
        events.remove(pos)
    }

    fn taken(&self) -> Vec<ResourceEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

fn pool(config: ResourceConfig) -> (Arc<ResourcePool>, Arc<Recorder>) {
    let sink = Arc::new(Recorder::default());
    let pool = ResourcePool::new(config, sink.clone(), berth_core::runtime::handle());
    (pool, sink)
}

fn config(max: u32) -> ResourceConfig {
    ResourceConfig {
        max,
        idle_timeout: None,
        acquire_timeout: None,
        ..ResourceConfig::default()
    }
}

/// Queues `waiter` and returns the slot it asked to create.
fn queue_creating(pool: &ResourcePool, waiter: u64) -> u32 {
    match pool.acquire(waiter, 0, None) {
        Take::Queued { create: Some(slot) } => slot,
        other => panic!("expected a create, got {other:?}"),
    }
}

/// A slot created and left idle, via a waiter that releases it at once.
fn idle_slot(pool: &ResourcePool, waiter: u64) -> u32 {
    let slot = queue_creating(pool, waiter);
    assert_eq!(pool.created(slot), Some(Placement::Handoff(waiter)));
    assert_eq!(pool.release(slot), Some(Placement::Idle));
    slot
}

#[test]
fn max_and_max_waiters_are_limits() {
    let (pool, _) = pool(ResourceConfig {
        max_waiters: 3,
        ..config(2)
    });
    let a = queue_creating(&pool, 1);
    let b = queue_creating(&pool, 2);
    assert_ne!(a, b);
    assert_eq!(pool.acquire(3, 0, None), Take::Queued { create: None });
    assert_eq!(pool.acquire(4, 0, None), Take::QueueFull);
    let s = pool.stats();
    assert_eq!((s.size, s.creating, s.waiting), (2, 2, 3));
    assert_eq!(pool.created(a), Some(Placement::Handoff(1)));
    assert_eq!(pool.created(b), Some(Placement::Handoff(2)));
    assert_eq!(pool.release(a), Some(Placement::Handoff(3)));
    assert_eq!(pool.release(b), Some(Placement::Idle));
    assert_eq!(pool.release(b), None, "not borrowed any more");
    assert_eq!(pool.release(99), None, "no such slot");
    let s = pool.stats();
    assert_eq!((s.size, s.idle, s.in_use, s.waiting), (2, 1, 1, 0));
    assert_eq!((s.created, s.acquired, s.reused), (2, 3, 1));
    pool.close();
}

#[test]
fn a_waiter_is_not_given_a_create_that_one_in_flight_will_serve() {
    let (pool, _) = pool(ResourceConfig {
        min: 1,
        ..config(4)
    });
    let started = pool.start();
    assert_eq!(started.len(), 1);
    // The min create in flight serves the first waiter; the second needs its own.
    assert_eq!(pool.acquire(1, 0, None), Take::Queued { create: None });
    let second = queue_creating(&pool, 2);
    assert_eq!(pool.created(started[0]), Some(Placement::Handoff(1)));
    assert_eq!(pool.created(second), Some(Placement::Handoff(2)));
    pool.close();
}

#[test]
fn lifo_and_fifo_order() {
    for (order, expect_first) in [(IdleOrder::Lifo, 2), (IdleOrder::Fifo, 0)] {
        let (pool, _) = pool(ResourceConfig {
            min: 3,
            order,
            ..config(3)
        });
        let slots = pool.start();
        assert_eq!(slots.len(), 3);
        for &slot in &slots {
            assert_eq!(pool.created(slot), Some(Placement::Idle));
        }
        assert_eq!(pool.acquire(1, 0, None), Take::Hit(slots[expect_first]));
        pool.close();
    }
}

#[test]
fn higher_priority_first_fifo_within_a_priority() {
    let (pool, _) = pool(config(1));
    let slot = queue_creating(&pool, 100);
    assert_eq!(pool.created(slot), Some(Placement::Handoff(100)));
    for (waiter, priority) in [(1, 0), (2, 5), (3, 0), (4, -1), (5, 5)] {
        assert_eq!(
            pool.acquire(waiter, priority, None),
            Take::Queued { create: None }
        );
    }
    let served: Vec<_> = (0..5)
        .map(|_| match pool.release(slot) {
            Some(Placement::Handoff(w)) => w,
            other => panic!("expected a hand-off, got {other:?}"),
        })
        .collect();
    assert_eq!(served, vec![2, 5, 1, 3, 4]);
    assert_eq!(pool.release(slot), Some(Placement::Idle));
    pool.close();
}

#[test]
fn acquire_timeouts_come_as_events() {
    let (pool, sink) = pool(config(1));
    let slot = queue_creating(&pool, 1);
    pool.created(slot);
    assert_eq!(
        pool.acquire(7, 0, Some(Duration::from_millis(20))),
        Take::Queued { create: None }
    );
    assert_eq!(pool.acquire(8, 0, None), Take::Queued { create: None });
    sink.wait_for(|e| *e == ResourceEvent::WaiterTimedOut { waiter: 7 });
    assert!(!pool.cancel(7), "already dequeued");
    assert_eq!(pool.stats().timeouts, 1);
    assert_eq!(pool.release(slot), Some(Placement::Handoff(8)));
    assert!(!pool.cancel(8), "served already");
    pool.close();
}

#[test]
fn cancel_takes_a_waiter_out() {
    let (pool, _) = pool(config(1));
    let slot = queue_creating(&pool, 1);
    assert!(pool.cancel(1));
    assert!(!pool.cancel(1));
    // The create goes on; nobody waits for it any more.
    assert_eq!(pool.created(slot), Some(Placement::Idle));
    pool.close();
}

#[test]
fn idle_timeout_evicts_even_below_min_and_min_refills() {
    let (pool, sink) = pool(ResourceConfig {
        min: 1,
        idle_timeout: Some(Duration::from_millis(20)),
        eviction_interval: Duration::from_millis(5),
        ..config(1)
    });
    let slots = pool.start();
    assert_eq!(pool.created(slots[0]), Some(Placement::Idle));
    let evicted = sink.wait_for(|e| matches!(e, ResourceEvent::Evict { .. }));
    assert_eq!(
        evicted,
        ResourceEvent::Evict {
            slot: slots[0],
            reason: EvictReason::Idle
        }
    );
    let s = pool.stats();
    assert_eq!((s.idle, s.destroying, s.evicted_idle), (0, 1, 1));
    // The place frees when the destroy finishes; min wants it back.
    let refill = pool.destroyed(slots[0]).expect("a refill for min");
    assert_eq!(pool.created(refill), Some(Placement::Idle));
    assert_eq!(pool.stats().destroyed, 1);
    pool.close();
}

#[test]
fn soft_idle_timeout_keeps_min() {
    let (pool, sink) = pool(ResourceConfig {
        min: 1,
        soft_idle_timeout: Some(Duration::from_millis(20)),
        eviction_interval: Duration::from_millis(5),
        ..config(3)
    });
    let first = pool.start()[0];
    pool.created(first);
    assert_eq!(pool.acquire(1, 0, None), Take::Hit(first));
    let second = queue_creating(&pool, 2);
    assert_eq!(pool.created(second), Some(Placement::Handoff(2)));
    pool.release(first);
    pool.release(second);
    sink.wait_for(|e| {
        matches!(
            e,
            ResourceEvent::Evict {
                reason: EvictReason::Idle,
                ..
            }
        )
    });
    // Several sweeps later, the one left (min) is still there.
    std::thread::sleep(Duration::from_millis(100));
    assert!(sink.taken().is_empty());
    let s = pool.stats();
    assert_eq!((s.idle, s.destroying, s.evicted_idle), (1, 1, 1));
    pool.close();
}

#[test]
fn lifetime_expires_idle_and_released_slots() {
    // No sweeps: the acquire and the release find the expiry themselves.
    let (pool, _) = pool(ResourceConfig {
        max_lifetime: Some(Duration::from_millis(20)),
        eviction_interval: Duration::from_secs(3600),
        ..config(2)
    });
    let idle = queue_creating(&pool, 1);
    let borrowed = queue_creating(&pool, 2);
    assert_eq!(pool.created(idle), Some(Placement::Handoff(1)));
    assert_eq!(pool.created(borrowed), Some(Placement::Handoff(2)));
    assert_eq!(pool.release(idle), Some(Placement::Idle));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(pool.acquire(3, 0, None), Take::Expired(idle));
    assert_eq!(pool.release(borrowed), Some(Placement::Destroy));
    let s = pool.stats();
    assert_eq!((s.destroying, s.evicted_lifetime), (2, 2));
    assert_eq!(
        pool.destroyed(idle),
        None,
        "no waiter, no min: nothing to create"
    );
    pool.close();
}

#[test]
fn sweeps_evict_idle_slots_past_their_lifetime() {
    let (pool, sink) = pool(ResourceConfig {
        max_lifetime: Some(Duration::from_millis(20)),
        eviction_interval: Duration::from_millis(5),
        ..config(1)
    });
    let slot = idle_slot(&pool, 1);
    let event = sink.wait_for(|e| matches!(e, ResourceEvent::Evict { .. }));
    assert_eq!(
        event,
        ResourceEvent::Evict {
            slot,
            reason: EvictReason::Lifetime
        }
    );
    assert_eq!(pool.stats().evicted_lifetime, 1);
    pool.close();
}

#[test]
fn tests_per_eviction_limits_a_sweep() {
    let (pool, sink) = pool(ResourceConfig {
        min: 3,
        idle_timeout: Some(Duration::from_millis(10)),
        eviction_interval: Duration::from_millis(50),
        tests_per_eviction: 1,
        ..config(3)
    });
    let slots = pool.start();
    for &slot in &slots {
        pool.created(slot);
    }
    // Least recently released first, one per sweep.
    for &slot in &slots {
        let event = sink.wait_for(|e| matches!(e, ResourceEvent::Evict { .. }));
        assert_eq!(
            event,
            ResourceEvent::Evict {
                slot,
                reason: EvictReason::Idle
            }
        );
    }
    pool.close();
}

#[test]
fn min_refills_after_failed_creates() {
    let (pool, sink) = pool(ResourceConfig {
        min: 2,
        create_backoff: Duration::from_millis(10),
        ..config(4)
    });
    let slots = pool.start();
    assert_eq!(slots.len(), 2);
    assert_eq!(pool.create_failed(slots[0], false), (None, None));
    assert_eq!(pool.stats().create_failures, 1);
    let ResourceEvent::Create { slot } =
        sink.wait_for(|e| matches!(e, ResourceEvent::Create { .. }))
    else {
        unreachable!()
    };
    assert_eq!(pool.created(slot), Some(Placement::Idle));
    assert_eq!(pool.created(slots[1]), Some(Placement::Idle));
    assert_eq!(pool.stats().size, 2);
    pool.close();
}

#[test]
fn min_refills_wait_out_the_backoff() {
    let (pool, sink) = pool(ResourceConfig {
        min: 1,
        create_backoff: Duration::from_secs(60),
        ..config(2)
    });
    let slot = pool.start()[0];
    pool.create_failed(slot, false);
    std::thread::sleep(Duration::from_millis(100));
    assert!(sink.taken().is_empty(), "no refill during the backoff");
    assert_eq!(pool.stats().creating, 0);
    // A waiter's need is not held back: it gets its create at once.
    let demand = queue_creating(&pool, 1);
    assert_eq!(pool.created(demand), Some(Placement::Handoff(1)));
    pool.close();
}

#[test]
fn a_failed_create_rejects_a_waiter_and_starts_the_next() {
    let (pool, _) = pool(config(1));
    let slot = queue_creating(&pool, 1);
    assert_eq!(pool.acquire(2, 0, None), Take::Queued { create: None });
    let (rejected, next) = pool.create_failed(slot, true);
    assert_eq!(rejected, Some(1));
    let next = next.expect("a create for the waiter left");
    assert_eq!(pool.created(next), Some(Placement::Handoff(2)));
    assert_eq!(pool.create_failed(next, true), (None, None), "not creating");
    pool.close();
}

#[test]
fn destroy_frees_the_place_for_a_waiter() {
    let (pool, _) = pool(config(1));
    let slot = queue_creating(&pool, 1);
    pool.created(slot);
    assert_eq!(pool.acquire(2, 0, None), Take::Queued { create: None });
    assert!(pool.destroy(slot));
    assert!(!pool.destroy(slot));
    assert_eq!(pool.release(slot), None);
    let next = pool.destroyed(slot).expect("a create for the waiter");
    assert_eq!(pool.destroyed(slot), None, "gone already");
    assert_eq!(pool.created(next), Some(Placement::Handoff(2)));
    let s = pool.stats();
    assert_eq!((s.created, s.destroyed, s.in_use), (2, 1, 1));
    pool.close();
}

#[test]
fn clear_and_close() {
    let (pool, _) = pool(ResourceConfig {
        min: 3,
        ..config(3)
    });
    let idle = idle_slot(&pool, 1);
    assert_eq!(pool.clear(), vec![idle]);
    assert_eq!(pool.stats().destroying, 1);
    assert_eq!(pool.destroyed(idle), None, "not started: min not kept yet");
    let idle = queue_creating(&pool, 2);
    let borrowed = queue_creating(&pool, 3);
    pool.created(idle);
    pool.created(borrowed);
    assert_eq!(pool.release(idle), Some(Placement::Idle));
    let creating = pool.start();
    assert_eq!(creating.len(), 1);
    let (waiters, slots) = pool.close();
    assert!(waiters.is_empty());
    assert_eq!(slots, vec![idle]);
    assert!(pool.is_closed());
    assert_eq!(pool.acquire(6, 0, None), Take::Closed);
    assert_eq!(pool.release(borrowed), Some(Placement::Destroy));
    assert_eq!(pool.created(creating[0]), Some(Placement::Destroy));
    assert_eq!(pool.destroyed(idle), None, "no creates after close");
    assert_eq!(pool.start(), vec![]);
    let s = pool.stats();
    assert_eq!((s.size, s.destroying, s.waiting), (0, 2, 0));
}

#[test]
fn close_returns_the_queued_waiters() {
    let (pool, _) = pool(config(1));
    let creating = queue_creating(&pool, 1);
    assert_eq!(pool.acquire(2, 3, None), Take::Queued { create: None });
    let (mut waiters, slots) = pool.close();
    waiters.sort();
    assert_eq!(waiters, vec![1, 2]);
    assert!(slots.is_empty());
    assert_eq!(pool.create_failed(creating, true), (None, None));
    assert_eq!(pool.stats().size, 0);
}

#[test]
fn waits_are_measured_and_hits_count_as_zero() {
    let (pool, _) = pool(config(1));
    let slot = queue_creating(&pool, 1);
    pool.created(slot);
    assert_eq!(pool.acquire(2, 0, None), Take::Queued { create: None });
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(pool.release(slot), Some(Placement::Handoff(2)));
    let s = pool.stats();
    assert!(s.acquire_wait_max_us >= 20_000.0, "{s:?}");
    assert!(s.acquire_wait_p99_us > 0.0, "{s:?}");
    for waiter in 3..10 {
        pool.release(slot);
        assert_eq!(pool.acquire(waiter, 0, None), Take::Hit(slot));
    }
    let s = pool.stats();
    assert_eq!(s.acquire_wait_p50_us, 0.0, "hits wait 0: {s:?}");
    assert_eq!((s.acquired, s.reused), (9, 8));
    pool.close();
}

#[test]
fn slot_ids_stay_dense() {
    let (pool, _) = pool(config(2));
    let a = queue_creating(&pool, 1);
    let b = queue_creating(&pool, 2);
    assert_eq!((a, b), (0, 1));
    assert_eq!(pool.create_failed(a, true), (Some(1), None));
    assert_eq!(pool.created(b), Some(Placement::Handoff(2)));
    // The failed slot's id is free again; the live one is untouched by the reuse.
    let c = queue_creating(&pool, 3);
    assert_eq!(c, a);
    assert_eq!(pool.release(b), Some(Placement::Handoff(3)));
    assert_eq!(pool.created(c), Some(Placement::Idle));
    assert_eq!(pool.release(c), None, "idle, not borrowed");
    pool.close();
}

#[test]
fn a_pool_that_stops_refilling_creates_only_for_its_waiters() {
    let (pool, _) = pool(ResourceConfig {
        min: 1,
        ..config(2)
    });
    let first = pool.start();
    assert_eq!(first.len(), 1, "min wants one");
    pool.created(first[0]);
    assert_eq!(pool.acquire(1, 0, None), Take::Hit(first[0]));
    assert!(pool.destroy(first[0]));
    pool.stop_refill();
    assert_eq!(
        pool.destroyed(first[0]),
        None,
        "draining: min is not refilled"
    );
    let slot = queue_creating(&pool, 2);
    assert_eq!(
        pool.created(slot),
        Some(Placement::Handoff(2)),
        "a waiter still gets a create"
    );
    pool.close();
}

/// The slot of the next `Create` event (waits up to 10 s for it).
fn next_create(sink: &Recorder) -> u32 {
    match sink.wait_for(|e| matches!(e, ResourceEvent::Create { .. })) {
        ResourceEvent::Create { slot } => slot,
        other => panic!("expected a create, got {other:?}"),
    }
}

#[test]
fn retry_for_waiters_keeps_the_waiter_and_retries_after_the_backoff() {
    let (pool, sink) = pool(ResourceConfig {
        create_backoff: Duration::from_millis(20),
        retry_for_waiters: true,
        ..config(1)
    });
    let slot = queue_creating(&pool, 1);
    assert_eq!(
        pool.create_failed(slot, false),
        (None, None),
        "the waiter stays; no create during the backoff"
    );
    assert_eq!(pool.stats().waiting, 1);
    // Another failure in a row: the backoff doubles, and the waiter still waits.
    let retry = next_create(&sink);
    assert_eq!(pool.create_failed(retry, false), (None, None));
    let retry = next_create(&sink);
    assert_eq!(pool.created(retry), Some(Placement::Handoff(1)));
    assert_eq!(pool.stats().create_failures, 2);
    pool.close();
}

#[test]
fn retry_for_waiters_holds_back_new_waiters_creates_during_the_backoff() {
    let (pool, sink) = pool(ResourceConfig {
        create_backoff: Duration::from_millis(200),
        retry_for_waiters: true,
        ..config(2)
    });
    let slot = queue_creating(&pool, 1);
    assert_eq!(pool.create_failed(slot, false), (None, None));
    // A new acquire does not bypass the backoff: no create of its own now...
    assert_eq!(pool.acquire(2, 0, None), Take::Queued { create: None });
    assert_eq!(pool.stats().creating, 0);
    // ...but both get one once the backoff is over.
    let retries = [next_create(&sink), next_create(&sink)];
    let placements: Vec<_> = retries.iter().map(|&s| pool.created(s)).collect();
    assert!(placements.contains(&Some(Placement::Handoff(1))));
    assert!(placements.contains(&Some(Placement::Handoff(2))));
    pool.close();
}

#[test]
fn retry_for_waiters_is_bounded_by_the_waiters_deadline() {
    let (pool, sink) = pool(ResourceConfig {
        create_backoff: Duration::from_millis(5),
        retry_for_waiters: true,
        ..config(1)
    });
    let slot = match pool.acquire(1, 0, Some(Duration::from_millis(50))) {
        Take::Queued { create: Some(slot) } => slot,
        other => panic!("expected a create, got {other:?}"),
    };
    pool.create_failed(slot, false);
    // Keep failing every retry until the waiter's deadline takes it out.
    loop {
        let event = sink.wait_for(|e| {
            matches!(
                e,
                ResourceEvent::Create { .. } | ResourceEvent::WaiterTimedOut { .. }
            )
        });
        match event {
            ResourceEvent::Create { slot } => {
                pool.create_failed(slot, false);
            }
            ResourceEvent::WaiterTimedOut { waiter } => {
                assert_eq!(waiter, 1);
                break;
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(pool.stats().waiting, 0);
    // Nobody waits any more: no retries.
    std::thread::sleep(Duration::from_millis(100));
    let late = sink.taken();
    let creates = late
        .iter()
        .filter(|e| matches!(e, ResourceEvent::Create { .. }))
        .count();
    assert!(creates <= 1, "at most one retry already planned: {late:?}");
    pool.close();
}

#[test]
fn without_retry_for_waiters_a_waiter_left_gets_a_create_at_once() {
    let (pool, _) = pool(ResourceConfig {
        create_backoff: Duration::from_secs(60),
        ..config(2)
    });
    let slot = queue_creating(&pool, 1);
    assert_eq!(pool.acquire(2, 0, None), Take::Queued { create: Some(1) });
    let (rejected, next) = pool.create_failed(slot, true);
    assert_eq!(rejected, Some(1));
    assert_eq!(next, None, "waiter 2 has its own create in flight");
    assert_eq!(pool.acquire(3, 0, None), Take::Queued { create: Some(0) });
    pool.close();
}

#[test]
fn retry_for_waiters_ends_when_the_pool_stops_refilling() {
    let (pool, sink) = pool(ResourceConfig {
        create_backoff: Duration::from_secs(60),
        retry_for_waiters: true,
        ..config(1)
    });
    let slot = queue_creating(&pool, 1);
    assert_eq!(pool.acquire(2, 0, None), Take::Queued { create: None });
    assert_eq!(pool.create_failed(slot, false), (None, None));
    // Draining: no waiting out the 60 s backoff; the retry starts now, and a failure
    // rejects a waiter and starts the create for the next one at once.
    pool.stop_refill();
    let retry = next_create(&sink);
    let (rejected, next) = pool.create_failed(retry, true);
    assert_eq!(rejected, Some(1));
    let next = next.expect("a create for the waiter left");
    assert_eq!(pool.create_failed(next, true), (Some(2), None));
    assert_eq!(pool.stats().waiting, 0);
    pool.close();
}
