//! The placement rules against real loopback connections: idle order, hand-off by priority,
//! the caps, and which idle connection `make_room` closes. The harness plays the owner's part
//! (adopt, offer, forget) as the JS facade would; being inside the module, it can pin the
//! release times that the LRU choice reads instead of sleeping.

use super::{Acquire, Event, EventSink, Placement, Pool, PoolConfig};
use crate::contract::IdleOrder;
use crate::net::sys::{from_raw, OwnedSock};
use std::net::TcpListener;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Events(Mutex<Sender<Event>>);

impl EventSink for Events {
    fn emit(&self, event: Event) -> bool {
        self.0
            .lock()
            .map(|tx| tx.send(event).is_ok())
            .unwrap_or(false)
    }
}

/// A pool, its events, the listeners it dials and the descriptors the "owner" adopted.
struct Owner {
    pool: Arc<Pool>,
    events: Receiver<Event>,
    servers: Vec<TcpListener>,
    held: Vec<OwnedSock>,
    next_waiter: u64,
}

impl Owner {
    fn new(config: PoolConfig) -> Owner {
        let (tx, events) = channel();
        let sink = Arc::new(Events(Mutex::new(tx)));
        Owner {
            pool: Pool::new(config, sink, crate::runtime::handle()),
            events,
            servers: Vec::new(),
            held: Vec::new(),
            next_waiter: 0,
        }
    }

    /// A new loopback destination, interned.
    fn destination(&mut self) -> u64 {
        let server = TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
        let port = server.local_addr().expect("a bound port").port();
        self.servers.push(server);
        self.pool
            .intern(&format!("127.0.0.1:{port}"))
            .expect("a valid destination")
    }

    fn acquire(&mut self, dest: u64, priority: i32) -> Acquire {
        self.next_waiter += 1;
        self.pool.acquire(dest, self.next_waiter, priority, None)
    }

    fn event(&self) -> Event {
        self.events
            .recv_timeout(Duration::from_secs(10))
            .expect("an engine event within 10 s")
    }

    /// Waits for the next dial, adopts its descriptor and offers it.
    fn settle_dial(&mut self) -> (u32, Placement) {
        let Event::Dialed { conn, .. } = self.event() else {
            panic!("expected a dialed connection");
        };
        let fd = self.pool.adopt(conn).expect("a descriptor to adopt");
        // SAFETY: `adopt` hands the descriptor's ownership to the caller.
        self.held.push(unsafe { from_raw(fd) });
        (conn, self.pool.offer(conn))
    }

    /// Leases `n` fresh connections to `dest` (queued, dialed, handed over).
    fn lease_fresh(&mut self, dest: u64, n: usize) -> Vec<u32> {
        let queued: Vec<Acquire> = (0..n).map(|_| self.acquire(dest, 0)).collect();
        assert!(queued.iter().all(|a| matches!(a, Acquire::Queued(_))));
        (0..n)
            .map(|_| {
                let (conn, placed) = self.settle_dial();
                assert!(matches!(placed, Placement::Handoff(_)), "{placed:?}");
                conn
            })
            .collect()
    }

    /// Pins an idle connection's release time (the clock is too coarse to order two
    /// releases made a microsecond apart).
    fn released_at(&self, conn: u32, ms: u64) {
        self.pool
            .shard(conn)
            .conn_mut(conn)
            .expect("a known connection")
            .released_ms = ms;
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.pool.close();
    }
}

/// An owner of a pool with `config` and one destination.
fn one_destination(config: PoolConfig) -> (Owner, u64) {
    let mut owner = Owner::new(config);
    let dest = owner.destination();
    (owner, dest)
}

fn queued(a: Acquire) -> u64 {
    match a {
        Acquire::Queued(w) => w,
        other => panic!("expected a queued waiter, got {other:?}"),
    }
}

fn idle_order(order: IdleOrder) -> (u32, u32, Acquire) {
    let (mut owner, dest) = one_destination(PoolConfig {
        order,
        ..PoolConfig::default()
    });
    let conns = owner.lease_fresh(dest, 2);
    assert_eq!(owner.pool.release(conns[0], false), Placement::Idle);
    assert_eq!(owner.pool.release(conns[1], false), Placement::Idle);
    let hit = owner.acquire(dest, 0);
    (conns[0], conns[1], hit)
}

#[test]
fn lifo_reuses_the_most_recently_released() {
    let (_, last, hit) = idle_order(IdleOrder::Lifo);
    assert_eq!(hit, Acquire::Hit(last));
}

#[test]
fn fifo_reuses_the_least_recently_released() {
    let (first, _, hit) = idle_order(IdleOrder::Fifo);
    assert_eq!(hit, Acquire::Hit(first));
}

#[test]
fn a_release_goes_to_the_highest_priority_waiter_then_in_arrival_order() {
    let (mut owner, dest) = one_destination(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let conn = owner.lease_fresh(dest, 1)[0];
    let low = owner.acquire(dest, 0);
    let high = owner.acquire(dest, 5);
    let low_later = owner.acquire(dest, 0);
    for expected in [high, low, low_later] {
        let placed = owner.pool.release(conn, false);
        assert_eq!(placed, Placement::Handoff(queued(expected)));
    }
    assert_eq!(owner.pool.release(conn, false), Placement::Idle);
}

#[test]
fn max_per_destination_queues_without_dialing() {
    let (mut owner, dest) = one_destination(PoolConfig {
        max_per_destination: 2,
        ..PoolConfig::default()
    });
    owner.lease_fresh(dest, 2);
    assert!(matches!(owner.acquire(dest, 0), Acquire::Queued(_)));
    let stats = owner.pool.stats();
    assert_eq!((stats.open, stats.dialing, stats.waiting), (2, 0, 1));
}

#[test]
fn releases_beyond_the_idle_caps_close() {
    let mut owner = Owner::new(PoolConfig {
        max_idle_per_destination: 1,
        max_total_idle: 2,
        ..PoolConfig::default()
    });
    let (a, b) = (owner.destination(), owner.destination());
    let at_a = owner.lease_fresh(a, 2);
    let at_b = owner.lease_fresh(b, 2);
    assert_eq!(owner.pool.release(at_a[0], false), Placement::Idle);
    // maxIdlePerDestination: a second idle connection at `a` closes.
    assert_eq!(owner.pool.release(at_a[1], false), Placement::Close);
    assert_eq!(owner.pool.release(at_b[0], false), Placement::Idle);
    // maxTotalIdle: two idle in the pool already.
    let c = owner.destination();
    let at_c = owner.lease_fresh(c, 1);
    assert_eq!(owner.pool.release(at_c[0], false), Placement::Close);
    assert_eq!(owner.pool.stats().idle, 2);
    let _ = at_b;
}

#[test]
fn max_uses_closes_on_the_last_release() {
    let (mut owner, dest) = one_destination(PoolConfig {
        max_uses: Some(2),
        ..PoolConfig::default()
    });
    let conn = owner.lease_fresh(dest, 1)[0];
    assert_eq!(owner.pool.release(conn, false), Placement::Idle);
    assert_eq!(owner.acquire(dest, 0), Acquire::Hit(conn));
    assert_eq!(owner.pool.release(conn, false), Placement::Close);
    assert_eq!(owner.pool.stats().evicted_max_uses, 1);
}

#[test]
fn max_total_closes_the_least_recently_released_idle_connection_elsewhere() {
    let mut owner = Owner::new(PoolConfig {
        max_total: 3,
        ..PoolConfig::default()
    });
    let (a, b) = (owner.destination(), owner.destination());
    let at_a = owner.lease_fresh(a, 2);
    let at_b = owner.lease_fresh(b, 1);
    for &conn in at_a.iter().chain(&at_b) {
        assert_eq!(owner.pool.release(conn, false), Placement::Idle);
    }
    // b's connection is the oldest release, though a's idle list is longer.
    owner.released_at(at_a[0], 2_000);
    owner.released_at(at_a[1], 3_000);
    owner.released_at(at_b[0], 1_000);
    let c = owner.destination();
    assert!(matches!(owner.acquire(c, 0), Acquire::Queued(_)));
    match owner.event() {
        Event::Evict { conn, .. } => assert_eq!(conn, at_b[0]),
        other => panic!("expected an eviction, got {other:?}"),
    }
    // The owner closes it; its place goes to c's dial.
    owner.pool.forget(at_b[0]);
    let (_, placed) = owner.settle_dial();
    assert!(matches!(placed, Placement::Handoff(_)), "{placed:?}");
    assert_eq!(owner.pool.stats().idle, 2);
}

#[test]
fn closed_counts_a_leased_or_idle_connection_and_frees_its_place() {
    let (mut owner, dest) = one_destination(PoolConfig::default());
    let conns = owner.lease_fresh(dest, 3);
    assert_eq!(owner.pool.release(conns[1], false), Placement::Idle);
    owner.pool.discard(conns[2], None);
    let before = owner.pool.stats();
    assert_eq!(owner.pool.open_count(), before.open + before.closing);
    // Leased, idle, and already closing by its user's hand: each descriptor closes.
    for &conn in &conns {
        owner.pool.closed(conn);
    }
    let after = owner.pool.stats();
    assert_eq!((after.evicted_unhealthy, after.evicted_peer_closed), (1, 1));
    assert_eq!(
        (after.open, after.closing, owner.pool.open_count()),
        (0, 0, 0)
    );
    assert_eq!(after.closed, 3);
}

#[test]
fn admit_adopts_then_places() {
    let (mut owner, dest) = one_destination(PoolConfig::default());
    let waiter = queued(owner.acquire(dest, 0));
    let Event::Dialed { conn, .. } = owner.event() else {
        panic!("expected a dialed connection");
    };
    let (fd, placed) = owner.pool.admit(conn).expect("a descriptor to take");
    // SAFETY: `admit` hands the descriptor's ownership to the caller.
    owner.held.push(unsafe { from_raw(fd) });
    assert_eq!(placed, Placement::Handoff(waiter));
    assert_eq!(owner.pool.admit(conn), None, "taken once");
}

#[test]
fn a_failed_handshake_rejects_a_waiter_and_frees_the_place() {
    let (mut owner, dest) = one_destination(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let first = queued(owner.acquire(dest, 0));
    let second = queued(owner.acquire(dest, 0));
    let Event::Dialed { conn, .. } = owner.event() else {
        panic!("expected a dialed connection");
    };
    let fd = owner.pool.adopt(conn).expect("a descriptor to adopt");
    // The handshake fails: the oldest waiter is the one to reject, as for a failed dial.
    assert_eq!(owner.pool.handshake_failed(conn), Some(first));
    assert_eq!(owner.pool.handshake_failed(conn), None, "reported once");
    assert_eq!(owner.pool.offer(conn), Placement::Close, "never placed");
    // The owner closes the descriptor and says so: the place is free and a dial starts for
    // the waiter left.
    // SAFETY: `adopt` handed the descriptor's ownership to the caller.
    drop(unsafe { from_raw(fd) });
    owner.pool.closed(conn);
    let (_, placed) = owner.settle_dial();
    assert_eq!(placed, Placement::Handoff(second));
    assert_eq!(owner.pool.open_count(), 1);
}

/// Leases a fresh layered connection (profile "tls x") to the owner's first server: its
/// destination and connection, handed over as the facade does after a TLS handshake.
fn lease_layered(owner: &mut Owner) -> (u64, u32) {
    let port = owner.servers[0].local_addr().expect("a bound port").port();
    let tls = owner
        .pool
        .intern_profiled(&format!("127.0.0.1:{port}"), "tls x")
        .expect("a valid destination");
    queued(owner.acquire(tls, 0));
    let Event::Dialed { conn, .. } = owner.event() else {
        panic!("expected a dialed connection");
    };
    let fd = owner.pool.adopt(conn).expect("a descriptor to adopt");
    // SAFETY: `adopt` hands the descriptor's ownership to the caller.
    owner.held.push(unsafe { from_raw(fd) });
    assert!(matches!(
        owner.pool.offer_layered(conn, true),
        Placement::Handoff(_)
    ));
    (tls, conn)
}

#[test]
fn profiled_destinations_are_apart_and_layered_connections_opaque() {
    let mut owner = Owner::new(PoolConfig::default());
    let plain = owner.destination();
    let (tls, conn) = lease_layered(&mut owner);
    assert_ne!(plain, tls, "another profile is another destination");
    assert!(
        owner
            .pool
            .shard(conn)
            .conn_mut(conn)
            .expect("the connection")
            .opaque
    );
    let snapshot = owner.pool.snapshot();
    let profiles: Vec<&str> = snapshot.iter().map(|d| d.profile.as_str()).collect();
    assert!(profiles.contains(&"tls x"), "{profiles:?}");
}

/// A layered (TLS) connection: bytes reaching it while idle leave it unsuspected (they prove
/// nothing there, and the drain already tells a close), so it is handed out without another
/// look; the peer's FIN makes the next drain mark it, and the acquire finds it dead.
#[cfg(target_os = "linux")]
#[test]
fn the_watch_marks_a_layered_connection_only_when_its_peer_closes() {
    use std::io::Write;
    let mut owner = Owner::new(PoolConfig::default());
    owner.destination();
    let (tls, conn) = lease_layered(&mut owner);
    let (mut peer, _) = owner.servers[0].accept().expect("the pool's connection");
    let suspect = |owner: &Owner| {
        owner
            .pool
            .shard(conn)
            .conn_mut(conn)
            .expect("the connection")
            .suspect
    };

    assert_eq!(owner.pool.release(conn, false), Placement::Idle);
    // A session ticket, say: unread bytes on an idle TLS connection.
    peer.write_all(b"ticket")
        .expect("write to the pool's connection");
    std::thread::sleep(Duration::from_millis(50));
    owner.pool.drain_watch();
    assert!(
        !suspect(&owner),
        "bytes alone do not mark a layered connection"
    );
    assert!(matches!(owner.acquire(tls, 0), Acquire::Hit(c) if c == conn));

    assert_eq!(owner.pool.release(conn, false), Placement::Idle);
    peer.shutdown(std::net::Shutdown::Write).expect("FIN");
    std::thread::sleep(Duration::from_millis(50));
    owner.pool.drain_watch();
    assert!(suspect(&owner), "the peer's FIN marks it");
    assert!(matches!(owner.acquire(tls, 0), Acquire::Dead(c) if c == conn));
}

#[test]
fn metrics_count_every_lease_and_handshake_failure_and_bucket_hits_as_zero_waits() {
    let (mut owner, dest) = one_destination(PoolConfig::default());
    // Two fresh leases (hand-offs of new connections), then two reuse hits.
    let conns = owner.lease_fresh(dest, 2);
    for &conn in &conns {
        assert_eq!(owner.pool.release(conn, false), Placement::Idle);
    }
    for _ in 0..2 {
        assert!(matches!(owner.acquire(dest, 0), Acquire::Hit(_)));
    }
    // A third connection whose handshake fails.
    let _waiter = queued(owner.acquire(dest, 0));
    let Event::Dialed { conn, .. } = owner.event() else {
        panic!("expected a dialed connection");
    };
    let fd = owner.pool.adopt(conn).expect("a descriptor to adopt");
    assert!(owner.pool.handshake_failed(conn).is_some());
    // SAFETY: `adopt` handed the descriptor's ownership to the caller.
    drop(unsafe { from_raw(fd) });
    owner.pool.closed(conn);

    let m = owner.pool.metrics();
    assert_eq!(m.acquires, 4, "two fresh leases and two hits");
    assert_eq!(m.stats.reused, 2);
    let failures: Vec<_> = m.dial_failures.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(failures, vec![&("HANDSHAKE_FAILED", 1)]);
    assert_eq!(
        m.dial_failures.iter().map(|(_, n)| n).sum::<u64>(),
        m.stats.dial_failures
    );
    // The two hits are zero waits in the lowest bucket; the hand-offs were timed (sampled).
    assert!(m.acquire_wait.cumulative[0] >= 2);
    assert_eq!(m.connect.cumulative.last(), Some(&3), "three connects");
    let d = &m.destinations[0];
    assert_eq!((d.open, d.in_use, d.idle, d.group.as_str()), (2, 2, 0, ""));
}

// ---- what observers ask (observe.rs) ----------------------------------------------------

#[test]
fn wait_cap_names_the_cap_a_waiter_waits_for_and_none_for_its_own_dial() {
    use super::WaitCap;
    let (mut owner, dest) = one_destination(PoolConfig {
        max_per_destination: 1,
        max_total: 2,
        ..PoolConfig::default()
    });
    queued(owner.acquire(dest, 0));
    assert_eq!(owner.pool.wait_cap(dest), WaitCap::None, "a dial serves it");
    let (_, placed) = owner.settle_dial();
    assert!(matches!(placed, Placement::Handoff(_)), "{placed:?}");
    queued(owner.acquire(dest, 0));
    assert_eq!(owner.pool.wait_cap(dest), WaitCap::PerDestination);

    let other = owner.destination();
    let _ = owner.lease_fresh(other, 1);
    let third = owner.destination();
    queued(owner.acquire(third, 0));
    assert_eq!(owner.pool.wait_cap(third), WaitCap::Total);
}

#[test]
fn a_release_placed_to_close_keeps_its_reason_until_the_record_goes() {
    let (mut owner, dest) = one_destination(PoolConfig {
        max_uses: Some(1),
        ..PoolConfig::default()
    });
    let conn = owner.lease_fresh(dest, 1)[0];
    assert_eq!(owner.pool.close_reason(conn), None);
    assert_eq!(owner.pool.release(conn, false), Placement::Close);
    assert_eq!(
        owner.pool.close_reason(conn),
        Some(crate::contract::EvictReason::MaxUses)
    );
    owner.pool.forget(conn);
    assert_eq!(owner.pool.close_reason(conn), None);
}

/// Node-dialled path: the engine resolves and hands over the address instead of connecting;
/// the owner's report makes the connection what `adopt` makes (counted created, handed to
/// the waiter), and reuse never peeks (there is no descriptor).
#[test]
fn node_dial_hands_out_the_order_and_takes_the_owners_socket() {
    let (mut owner, dest) = one_destination(PoolConfig {
        node_dial: true,
        ..PoolConfig::default()
    });
    let port = owner.servers[0].local_addr().expect("a bound port").port();
    let waiter = queued(owner.acquire(dest, 0));
    let Event::DialOrder { conn, order, .. } = owner.event() else {
        panic!("expected a dial order");
    };
    assert_eq!(
        order,
        crate::net::DialOrder::Tcp(vec![format!("127.0.0.1:{port}")
            .parse()
            .expect("an address")])
    );
    // Nothing connected: the engine only resolved.
    owner.servers[0]
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    assert!(owner.servers[0].accept().is_err());
    assert!(owner.pool.node_dialed(conn));
    assert!(!owner.pool.node_dialed(conn), "reported once");
    assert_eq!(owner.pool.offer(conn), Placement::Handoff(waiter));
    assert_eq!(owner.pool.release(conn, true), Placement::Idle);
    // Suspect or not, a Node-owned connection passes the engine's check (JS checks its socket).
    owner
        .pool
        .shard(conn)
        .conn_mut(conn)
        .expect("known")
        .suspect = true;
    assert_eq!(owner.acquire(dest, 0), Acquire::Hit(conn));
    let stats = owner.pool.stats();
    assert_eq!(stats.created, 1);
    assert_eq!(stats.dial_failures, 0);
}

/// A failed Node connect is counted, coded and rejected as a native dial's failure.
#[test]
fn node_dial_failures_are_coded_as_native_ones() {
    let (mut owner, dest) = one_destination(PoolConfig {
        node_dial: true,
        connect_timeout: Duration::from_millis(1234),
        ..PoolConfig::default()
    });
    for (code, expected, says) in [
        ("ECONNREFUSED", "CONNECT_REFUSED", "failed: boom"),
        ("ENOENT", "CONNECT_REFUSED", "failed: boom"),
        ("EHOSTUNREACH", "CONNECT_FAILED", "failed: boom"),
        (
            "CONNECT_TIMEOUT",
            "CONNECT_TIMEOUT",
            "timed out after 1234 ms",
        ),
        ("POOL_CLOSED", "POOL_CLOSED", "the pool was closed"),
    ] {
        let waiter = queued(owner.acquire(dest, 0));
        let Event::DialOrder { conn, .. } = owner.event() else {
            panic!("expected a dial order");
        };
        let (error, rejected) = owner.pool.node_dial_failed(conn, code, "boom");
        assert_eq!(error.code.as_str(), expected, "{code}");
        assert!(error.message.contains(says), "{code}: {}", error.message);
        assert!(error.message.contains("127.0.0.1:"), "{}", error.message);
        assert_eq!(rejected, Some(waiter));
    }
    assert_eq!(owner.pool.stats().dial_failures, 5);
    assert_eq!(owner.pool.open_count(), 0);
}

/// The address policy is applied before the order: a denied destination fails as natively.
#[test]
fn node_dial_applies_the_address_policy() {
    let policy = crate::net::policy::AddressPolicy::parse(None, &["loopback"]).expect("a policy");
    let (mut owner, dest) = one_destination(PoolConfig {
        node_dial: true,
        address_policy: Arc::new(policy),
        ..PoolConfig::default()
    });
    let _ = queued(owner.acquire(dest, 0));
    let Event::DialFailed { error, .. } = owner.event() else {
        panic!("expected a failed dial");
    };
    assert_eq!(error.code.as_str(), "DESTINATION_DENIED");
}
