//! Upstream groups against real loopback listeners: members, picking, outlier ejection and
//! its cap, the return check, the retry budget, and the native lane's failover.

use berth_core::group::{Balance, GroupConfig, MemberChange, MemberSpec, MemberState};
use berth_core::pool::{Event, EventSink, Pool, PoolConfig, RouteTarget, UpstreamTarget};
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

fn pool() -> (Arc<Pool>, Receiver<Event>) {
    let (tx, rx) = channel();
    let pool = Pool::new(
        PoolConfig::default(),
        Arc::new(ChannelSink(Mutex::new(tx))),
        berth_core::runtime::handle(),
    );
    (pool, rx)
}

fn config(consecutive: u32, base_ms: u64, percent: u32) -> GroupConfig {
    GroupConfig {
        balance: Balance::RoundRobin,
        consecutive_failures: consecutive,
        base_ejection_ms: base_ms,
        max_ejection_percent: percent,
        attempts: 3,
        backoff_ms: 0,
        budget: 0.2,
        health: None,
        check_timeout_ms: 1000,
    }
}

fn spec(addr: &str) -> MemberSpec {
    MemberSpec {
        addr: addr.to_owned(),
        host: None,
        weight: 1,
    }
}

/// A port nobody listens on.
fn dead_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}

fn member_event(rx: &Receiver<Event>) -> MemberChange {
    loop {
        match rx
            .recv_timeout(Duration::from_secs(10))
            .expect("an event within 10 s")
        {
            Event::Member { change, .. } => return change,
            _ => continue,
        }
    }
}

#[test]
fn members_are_their_own_destinations_and_round_robin_takes_turns() {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let (pool, _rx) = pool();
    let group = pool.create_group("g", "", config(5, 1000, 10)).unwrap();
    let addrs = [a, b].map(|l| format!("127.0.0.1:{}", l.local_addr().unwrap().port()));
    let ids = pool
        .set_group_members(&group, &[spec(&addrs[0]), spec(&addrs[1])])
        .unwrap();
    // Not the plain destination of the same address: the group's profile keys them apart.
    assert_ne!(ids[0], pool.intern(&addrs[0]).unwrap());
    let picks: Vec<_> = (0..4)
        .map(|i| group.pick(None, &[], i == 0, |_| 0).unwrap().dest)
        .collect();
    assert_eq!(picks, [ids[0], ids[1], ids[0], ids[1]]);
    // Tried members are left out; with every member tried, nothing.
    assert_eq!(
        group.pick(None, &[ids[0]], false, |_| 0).unwrap().dest,
        ids[1]
    );
    assert!(group.pick(None, &ids, false, |_| 0).is_none());
    assert!(pool.create_group("g", "", config(5, 1000, 10)).is_err());
    pool.close();
}

#[test]
fn consecutive_failures_eject_at_most_the_allowed_share() {
    let (pool, rx) = pool();
    let group = pool.create_group("g", "", config(2, 60_000, 10)).unwrap();
    let addrs: Vec<String> = (0..3).map(|_| dead_addr()).collect();
    let specs: Vec<_> = addrs.iter().map(|a| spec(a)).collect();
    let ids = pool.set_group_members(&group, &specs).unwrap();
    let members = group.members();
    pool.note_failed(ids[0]);
    assert_eq!(members[0].consecutive_failures(), 1);
    assert_eq!(members[0].state(), MemberState::Up);
    pool.note_failed(ids[0]);
    assert_eq!(member_event(&rx), MemberChange::Ejected(60_000));
    assert_eq!(members[0].state(), MemberState::Ejected);
    // 10% of 3 members rounds down to 0, but one member may always be ejected: not a second.
    pool.note_failed(ids[1]);
    pool.note_failed(ids[1]);
    pool.note_failed(ids[1]);
    assert_eq!(members[1].state(), MemberState::Up);
    assert_eq!(
        members[1]
            .failures
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    // An ejected member is not picked.
    for i in 0..4 {
        assert_ne!(group.pick(None, &[], i == 0, |_| 0).unwrap().dest, ids[0]);
    }
    pool.close();
}

#[test]
fn an_ejected_member_returns_only_after_its_time_and_a_passing_check() {
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("127.0.0.1:{}", live.local_addr().unwrap().port());
    let (pool, rx) = pool();
    let group = pool.create_group("g", "", config(1, 100, 100)).unwrap();
    let dead = dead_addr();
    let ids = pool
        .set_group_members(&group, &[spec(&dead), spec(&addr)])
        .unwrap();
    pool.note_failed(ids[0]);
    assert_eq!(member_event(&rx), MemberChange::Ejected(100));
    // Its ejection ends; the connect check fails (nobody listens): ejected again, longer.
    assert_eq!(member_event(&rx), MemberChange::Ejected(200));
    assert_eq!(group.members()[0].ejections(), 2);
    // The live member ejected: its check passes once its time is over, and it is up again.
    pool.note_failed(ids[1]);
    assert_eq!(member_event(&rx), MemberChange::Ejected(100));
    loop {
        match member_event(&rx) {
            MemberChange::Up => break,
            // The dead member's next ejections may come first.
            MemberChange::Ejected(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(group.members()[1].state(), MemberState::Up);
    pool.close();
}

#[test]
fn the_retry_budget_has_a_floor_and_counts_refusals() {
    let (pool, _rx) = pool();
    let group = pool.create_group("g", "", config(5, 1000, 10)).unwrap();
    // No acquires yet: the floor, 100 per 10 s.
    let granted = (0..150).filter(|_| group.try_retry()).count();
    assert_eq!(granted, 100);
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(group.retries.load(Relaxed), 100);
    assert_eq!(group.retries_refused.load(Relaxed), 50);
    pool.close();
}

#[test]
fn routes_name_groups_and_the_native_lane_fails_over_to_a_live_member() {
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("127.0.0.1:{}", live.local_addr().unwrap().port());
    let (pool, _rx) = pool();
    let group = pool.create_group("api", "", config(5, 1000, 10)).unwrap();
    pool.set_group_members(&group, &[spec(&dead_addr()), spec(&addr)])
        .unwrap();
    assert!(pool.route_target("group:nope").is_err());
    let Ok(RouteTarget::Group(found)) = pool.route_target("group:api") else {
        panic!("group:api is a group target")
    };
    assert!(matches!(
        RouteTarget::Group(Arc::clone(&found)).upstream(),
        UpstreamTarget::Group(_)
    ));
    let tls = pool
        .create_group("secure", "tls abc", config(5, 1000, 10))
        .unwrap();
    assert!(tls.tls);
    assert!(pool
        .route_target("group:secure")
        .err()
        .unwrap()
        .contains("TLS"));
    let rt = berth_core::runtime::handle();
    for _ in 0..4 {
        let (upstream, member) = rt
            .block_on(pool.acquire_upstream_group(&found, Some(Duration::from_secs(5))))
            .expect("every acquire reaches the live member");
        assert_eq!(member.addr, addr);
        upstream.release(false);
    }
    assert!(found.retries.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    // Every member dead: NO_HEALTHY_MEMBER.
    let dead = pool.create_group("dead", "", config(5, 1000, 10)).unwrap();
    pool.set_group_members(&dead, &[spec(&dead_addr()), spec(&dead_addr())])
        .unwrap();
    let err = rt
        .block_on(pool.acquire_upstream_group(&dead, Some(Duration::from_secs(5))))
        .err()
        .expect("no member connects");
    assert_eq!(err.code.as_str(), "NO_HEALTHY_MEMBER");
    pool.close();
}

#[test]
fn an_ejected_members_connections_are_not_kept_idle() {
    use berth_core::net::sys::from_raw;
    use berth_core::pool::{Acquire, Placement};
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("127.0.0.1:{}", live.local_addr().unwrap().port());
    let (pool, rx) = pool();
    let group = pool.create_group("g", "", config(1, 60_000, 100)).unwrap();
    let ids = pool
        .set_group_members(&group, &[spec(&addr), spec(&dead_addr())])
        .unwrap();
    // Lease two connections of the live member, as JS would (adopt, then offer).
    let mut fds = Vec::new();
    let mut conns = Vec::new();
    for waiter in [1, 2] {
        assert!(matches!(
            pool.acquire(ids[0], waiter, 0, None),
            Acquire::Queued(_)
        ));
        let conn = loop {
            match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
                Event::Dialed { conn, .. } => break conn,
                _ => continue,
            }
        };
        let fd = pool.adopt(conn).unwrap();
        // SAFETY: adopt handed this descriptor to us.
        fds.push(unsafe { from_raw(fd) });
        assert_eq!(pool.offer(conn), Placement::Handoff(waiter));
        conns.push(conn);
    }
    // Up: a release keeps it idle.
    assert_eq!(pool.release(conns[0], false), Placement::Idle);
    // Ejected: a release closes it.
    pool.note_failed(ids[0]);
    assert_eq!(member_event(&rx), MemberChange::Ejected(60_000));
    assert_eq!(pool.release(conns[1], false), Placement::Close);
    pool.close();
}

#[test]
fn a_removed_group_gives_no_upstream() {
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("127.0.0.1:{}", live.local_addr().unwrap().port());
    let (pool, _rx) = pool();
    let group = pool.create_group("gone", "", config(5, 1000, 10)).unwrap();
    pool.set_group_members(&group, &[spec(&addr)]).unwrap();
    assert!(pool.remove_group(group.id));
    let rt = berth_core::runtime::handle();
    let err = rt
        .block_on(pool.acquire_upstream_group(&group, Some(Duration::from_secs(5))))
        .err()
        .expect("a removed group connects nowhere");
    assert!(err.message.contains("removed"), "{err}");
    pool.close();
}
