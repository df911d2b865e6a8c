//! Dials to several addresses, on real loopback sockets: rotation over a name's addresses,
//! Happy Eyeballs against an address that never answers, failover, and the error when every
//! address fails. No assertion is about time: only where the connection went, and that no
//! attempt was left behind.

use crate::error::DialErrorCode;
use crate::net::dial::connect_addrs;
use crate::net::dns::Cache;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// The dial deadline of these tests (the pool's default `connectTimeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener that takes no more connections: its accept queue (backlog 0) is filled and
/// never drained, so the kernel drops new SYNs and a connect to it hangs (retransmitting
/// its SYN) until its deadline. Addresses outside loopback do not work for this here: this
/// sandbox answers a connect to 10.255.255.1 at once, and 192.0.2.1 refuses. Returns the
/// address and what must stay alive for it to stay blocked.
fn blackhole() -> (SocketAddr, socket2::Socket, Vec<TcpStream>) {
    let listener = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .unwrap();
    let any: SocketAddr = (Ipv4Addr::LOCALHOST, 0).into();
    listener.bind(&any.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // Connect until one hangs: from then on the queue is full (one connection with backlog 0
    // on Linux). The one that hung is dropped, which closes it.
    let mut held = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(stream) => held.push(stream),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return (addr, listener, held),
            Err(e) => panic!("filling the backlog of {addr}: {e}"),
        }
    }
    panic!("{addr} kept accepting connections: cannot make it drop SYNs");
}

/// How many sockets of this network namespace are still sending SYNs to `addr` (state
/// SYN_SENT in /proc/net/tcp): a dial's losing attempt to a blackhole, until it is closed.
fn connecting_to(addr: SocketAddr) -> usize {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    let remote = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(v4.ip().octets()),
        v4.port()
    );
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"02")
        })
        .count()
}

/// An address nobody listens on: connects to it are refused.
fn refusing(ip: [u8; 4]) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::from(ip), 0)).unwrap();
    listener.local_addr().unwrap()
}

/// Connections waiting in `listener`'s queue: taken, and counted.
fn accepted(listener: &TcpListener) -> Vec<SocketAddr> {
    listener.set_nonblocking(true).unwrap();
    let mut peers = Vec::new();
    loop {
        match listener.accept() {
            Ok((_, peer)) => peers.push(peer),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return peers,
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Ten dials to a name of two addresses, each taking its turn from the name's cache entry
/// as `dial` does, land five on each.
#[tokio::test]
async fn successive_dials_rotate_over_a_names_addresses() {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.2:0").unwrap();
    let addrs = vec![first.local_addr().unwrap(), second.local_addr().unwrap()];
    let cache = Cache::new(Duration::from_secs(3600));
    let key = ("two.test".to_owned(), 80);
    let mut held = Vec::new();
    for i in 0..10 {
        let (addrs, turn) = match i {
            0 => (addrs.clone(), cache.put(key.clone(), &addrs, true)),
            _ => cache.get(&key, true).unwrap(),
        };
        held.push(connect_addrs(&addrs, turn, "two.test:80").await.unwrap());
    }
    assert_eq!(accepted(&first).len(), 5);
    assert_eq!(accepted(&second).len(), 5);
}

/// The first address never answers; the second joins the race after the connection attempt
/// delay and wins, and the attempt still hanging on the first is closed.
#[tokio::test]
async fn a_blackholed_first_address_loses_to_the_second() {
    let (hole, _listener, _held) = blackhole();
    let good = TcpListener::bind("127.0.0.2:0").unwrap();
    let addrs = [hole, good.local_addr().unwrap()];
    let socket = tokio::time::timeout(CONNECT_TIMEOUT, connect_addrs(&addrs, 0, "x.test:80"))
        .await
        .expect("the dial did not finish within the connect timeout")
        .expect("the dial failed");
    let sock = socket2::SockRef::from(socket.fd());
    assert_eq!(sock.peer_addr().unwrap().as_socket(), Some(addrs[1]));
    let local = sock.local_addr().unwrap().as_socket().unwrap();
    assert_eq!(accepted(&good), vec![local]);
    assert_eq!(connecting_to(hole), 0, "the losing attempt was closed");
}

/// A dial dropped at its deadline (as `dial_socket`'s timeout drops it) closes every attempt
/// it had started.
#[tokio::test]
async fn a_dial_that_times_out_closes_its_attempts() {
    let (hole1, _l1, _h1) = blackhole();
    let (hole2, _l2, _h2) = blackhole();
    let addrs = [hole1, hole2];
    let dial = connect_addrs(&addrs, 0, "x.test:80");
    let result = tokio::time::timeout(Duration::from_millis(600), dial).await;
    assert!(result.is_err(), "nothing can connect");
    assert_eq!(connecting_to(hole1), 0);
    assert_eq!(connecting_to(hole2), 0);
}

/// A refused first address fails over to the second (a failure starts the next attempt
/// without waiting for the connection attempt delay).
#[tokio::test]
async fn a_refusing_first_address_fails_over_to_the_second() {
    let good = TcpListener::bind("127.0.0.2:0").unwrap();
    let addrs = [refusing([127, 0, 0, 1]), good.local_addr().unwrap()];
    let socket = tokio::time::timeout(CONNECT_TIMEOUT, connect_addrs(&addrs, 0, "x.test:80"))
        .await
        .unwrap()
        .unwrap();
    let peer = socket2::SockRef::from(socket.fd()).peer_addr().unwrap();
    assert_eq!(peer.as_socket(), Some(addrs[1]));
    assert_eq!(accepted(&good).len(), 1);
}

/// Every address refusing: CONNECT_REFUSED, naming the destination, whatever the turn.
#[tokio::test]
async fn all_addresses_refusing_is_connect_refused() {
    let addrs = [refusing([127, 0, 0, 1]), refusing([127, 0, 0, 2])];
    for turn in 0..2 {
        let err = connect_addrs(&addrs, turn, "svc.test:8080")
            .await
            .unwrap_err();
        assert_eq!(err.code, DialErrorCode::ConnectRefused, "{err}");
        assert!(err.message.contains("svc.test:8080"), "{err}");
    }
}

/// A dual-stack name whose first (IPv4) address never answers: the second attempt is the
/// other family's first address, not the next IPv4 one (RFC 8305's interleaving), so it is
/// the IPv6 listener that gets the connection. Skipped where ::1 cannot be bound.
#[tokio::test]
async fn the_second_attempt_goes_to_the_other_family() {
    let Ok(v6) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let (hole, _listener, _held) = blackhole();
    let v4 = TcpListener::bind("127.0.0.2:0").unwrap();
    // The resolver's order: both IPv4 addresses, then the IPv6 one.
    let addrs = [hole, v4.local_addr().unwrap(), v6.local_addr().unwrap()];
    let socket = tokio::time::timeout(CONNECT_TIMEOUT, connect_addrs(&addrs, 0, "x.test:80"))
        .await
        .unwrap()
        .unwrap();
    let peer = socket2::SockRef::from(socket.fd()).peer_addr().unwrap();
    assert_eq!(peer.as_socket(), Some(addrs[2]));
    assert_eq!(accepted(&v6).len(), 1);
}
