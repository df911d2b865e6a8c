//! The pool's bookkeeping against real loopback listeners: limits, waiter order, hand-off,
//! dial failures and deadlines. The test plays the owner's part (adopt, offer, forget).

use berth_core::net::sys::{from_raw, OwnedSock};
use berth_core::pool::{Acquire, DestId, Event, EventSink, Placement, Pool, PoolConfig};
use std::net::TcpListener;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct ChannelSink(Mutex<Sender<Event>>);

impl EventSink for ChannelSink {
    fn emit(&self, event: Event) -> bool {
        self.0.lock().unwrap().send(event).is_ok()
    }
}

fn pool(config: PoolConfig) -> (Arc<Pool>, Receiver<Event>) {
    let (tx, rx) = channel();
    let pool = Pool::new(
        config,
        Arc::new(ChannelSink(Mutex::new(tx))),
        berth_core::runtime::handle(),
    );
    (pool, rx)
}

fn next(rx: &Receiver<Event>) -> Event {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("an engine event within 10 s")
}

fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
    (l, dest)
}

/// Waiter names for `acquire`, unique within a test process.
fn name() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn queued(a: Acquire) -> u64 {
    match a {
        Acquire::Queued(w) => w,
        other => panic!("expected a queued waiter, got {other:?}"),
    }
}

/// Adopts a dialed connection (taking its descriptor, as JS's socket would) and offers it.
fn adopt_and_offer(pool: &Arc<Pool>, conn: u32, fds: &mut Vec<OwnedSock>) -> Placement {
    let fd = pool.adopt(conn).expect("a descriptor to adopt");
    // SAFETY: adopt transferred ownership of this descriptor to us.
    fds.push(unsafe { from_raw(fd) });
    pool.offer(conn)
}

/// Queues one acquire on an idle destination and plays the owner until it holds the freshly
/// dialed connection; returns the connection.
fn lease_new(
    pool: &Arc<Pool>,
    rx: &Receiver<Event>,
    dest: DestId,
    fds: &mut Vec<OwnedSock>,
) -> u32 {
    let waiter = queued(pool.acquire(dest, name(), 0, None));
    let Event::Dialed { conn, .. } = next(rx) else {
        panic!("expected a dial")
    };
    assert_eq!(adopt_and_offer(pool, conn, fds), Placement::Handoff(waiter));
    conn
}

#[test]
fn dials_serve_waiters_in_order_within_the_limits() {
    let (_l, dest) = listener();
    let (pool, rx) = pool(PoolConfig {
        max_per_destination: 3,
        max_concurrent_dials: 2,
        ..PoolConfig::default()
    });
    let d = pool.intern(&dest).unwrap();
    let waiters: Vec<u64> = (0..5)
        .map(|_| queued(pool.acquire(d, name(), 0, None)))
        .collect();
    // Two dials in flight at most, however many wait.
    assert_eq!(pool.stats().dialing, 2);
    assert_eq!(pool.stats().waiting, 5);

    let mut fds = Vec::new();
    let mut served = Vec::new();
    let mut conns = Vec::new();
    while conns.len() < 3 {
        match next(&rx) {
            Event::Dialed { conn, .. } => {
                conns.push(conn);
                match adopt_and_offer(&pool, conn, &mut fds) {
                    Placement::Handoff(w) => served.push(w),
                    other => panic!("a fresh connection goes to a waiter, got {other:?}"),
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(served, waiters[..3].to_vec(), "oldest waiters first");
    let s = pool.stats();
    assert_eq!((s.open, s.in_use, s.dialing, s.waiting), (3, 3, 0, 2));

    // The limit is reached: releases hand over, oldest first, and nothing more is dialed.
    assert_eq!(
        pool.release(conns[0], false),
        Placement::Handoff(waiters[3])
    );
    assert_eq!(
        pool.release(conns[1], false),
        Placement::Handoff(waiters[4])
    );
    assert_eq!(pool.release(conns[2], false), Placement::Idle);
    assert!(rx.try_recv().is_err(), "no further dial");
    assert_eq!(pool.stats().reused, 2);
    pool.close();
}

#[test]
fn higher_priority_is_served_first() {
    let (_l, dest) = listener();
    let (pool, rx) = pool(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let d = pool.intern(&dest).unwrap();
    let first = queued(pool.acquire(d, name(), 0, None));
    let low = queued(pool.acquire(d, name(), 0, None));
    let high = queued(pool.acquire(d, name(), 7, None));
    let mut fds = Vec::new();
    let Event::Dialed { conn, .. } = next(&rx) else {
        panic!("expected a dial")
    };
    // The dial goes to the highest priority waiter, even though it came last.
    assert_eq!(
        adopt_and_offer(&pool, conn, &mut fds),
        Placement::Handoff(high)
    );
    assert_eq!(pool.release(conn, false), Placement::Handoff(first));
    assert_eq!(pool.release(conn, false), Placement::Handoff(low));
    assert_eq!(pool.release(conn, false), Placement::Idle);
    pool.close();
}

#[test]
fn a_failed_dial_rejects_one_waiter_and_the_next_dial_starts() {
    let (l, dest) = listener();
    drop(l); // nobody listens: every dial is refused
    let (pool, rx) = pool(PoolConfig {
        max_concurrent_dials: 1,
        ..PoolConfig::default()
    });
    let d = pool.intern(&dest).unwrap();
    let a = queued(pool.acquire(d, name(), 0, None));
    let b = queued(pool.acquire(d, name(), 0, None));
    for expected in [a, b] {
        match next(&rx) {
            Event::DialFailed { conn, error, .. } => {
                assert_eq!(error.code.as_str(), "CONNECT_REFUSED");
                assert_eq!(pool.dial_failed(conn), Some(expected));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let s = pool.stats();
    assert_eq!((s.open, s.waiting, s.dial_failures), (0, 0, 2));
    pool.close();
}

/// A dial started for an acquire that went away (served by a release, or aborted) must not
/// fail a later acquire that merely waited on it: that acquire gets a dial of its own. (A fresh
/// clone's CI saw a server reset a leftover dial's connection and fail the next round's use.)
#[test]
fn a_failed_dial_rejects_no_waiter_queued_after_it_started() {
    let (l, dest) = listener();
    drop(l); // nobody listens: every dial is refused
    let (pool, rx) = pool(PoolConfig::default());
    let d = pool.intern(&dest).unwrap();
    let gone = queued(pool.acquire(d, name(), 0, None));
    assert!(pool.cancel(d, gone));
    let later = queued(pool.acquire(d, name(), 0, None));
    let Event::DialFailed { conn, .. } = next(&rx) else {
        panic!("expected the first dial to fail")
    };
    assert_eq!(
        pool.dial_failed(conn),
        None,
        "the later waiter did not cause that dial"
    );
    assert_eq!(pool.stats().waiting, 1);
    let Event::DialFailed { conn, .. } = next(&rx) else {
        panic!("expected a dial for the later waiter")
    };
    assert_eq!(
        pool.dial_failed(conn),
        Some(later),
        "its own dial's failure rejects it"
    );
    let s = pool.stats();
    assert_eq!((s.open, s.waiting, s.dial_failures), (0, 0, 2));
    pool.close();
}

#[test]
fn max_total_takes_room_from_another_destinations_idle_connection() {
    let (_la, dest_a) = listener();
    let (_lb, dest_b) = listener();
    let (pool, rx) = pool(PoolConfig {
        max_total: 1,
        ..PoolConfig::default()
    });
    let a = pool.intern(&dest_a).unwrap();
    let b = pool.intern(&dest_b).unwrap();
    let mut fds = Vec::new();
    let ca = lease_new(&pool, &rx, a, &mut fds);
    assert_eq!(pool.release(ca, false), Placement::Idle);

    // b needs room: a's idle connection is evicted to make it.
    let wb = queued(pool.acquire(b, name(), 0, None));
    match next(&rx) {
        Event::Evict { conn, .. } => assert_eq!(conn, ca),
        other => panic!("expected an eviction, got {other:?}"),
    }
    assert_eq!(
        pool.stats().dialing,
        0,
        "still no room until the socket is closed"
    );
    pool.forget(ca);
    let Event::Dialed { conn: cb, .. } = next(&rx) else {
        panic!("expected b's dial")
    };
    assert_eq!(adopt_and_offer(&pool, cb, &mut fds), Placement::Handoff(wb));
    assert_eq!(pool.stats().open, 1);
    pool.close();
}

#[test]
fn queue_full_and_deadlines() {
    let (_l, dest) = listener();
    let (pool, rx) = pool(PoolConfig {
        max_per_destination: 1,
        max_waiters: 2,
        ..PoolConfig::default()
    });
    let d = pool.intern(&dest).unwrap();
    let mut fds = Vec::new();
    let conn = lease_new(&pool, &rx, d, &mut fds);
    let timed = queued(pool.acquire(d, name(), 0, Some(Duration::from_millis(50))));
    let patient = queued(pool.acquire(d, name(), 0, None));
    assert_eq!(pool.acquire(d, name(), 0, None), Acquire::QueueFull);
    match next(&rx) {
        Event::WaiterTimedOut { waiter } => assert_eq!(waiter, timed),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(pool.stats().acquire_timeouts, 1);
    assert!(pool.cancel(d, patient));
    assert!(!pool.cancel(d, patient), "a waiter is cancelled once");
    assert_eq!(pool.release(conn, false), Placement::Idle);
    pool.close();
}

#[test]
fn close_returns_waiters_and_cancels_dials() {
    let (_l, dest) = listener();
    let (pool, rx) = pool(PoolConfig::default());
    let d = pool.intern(&dest).unwrap();
    let w = queued(pool.acquire(d, name(), 0, None));
    assert_eq!(pool.close(), vec![w]);
    // The dial either finished first (then the owner abandons it) or was cancelled.
    match next(&rx) {
        Event::Dialed { conn, .. } => pool.abandon(conn),
        Event::DialFailed { conn, error, .. } => {
            assert_eq!(error.code.as_str(), "POOL_CLOSED");
            assert_eq!(pool.dial_failed(conn), None);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(pool.stats().open, 0);
    assert_eq!(pool.stats().closing, 0);
}
