//! Limits of native sessions and the listener, against real loopback sockets: the idle
//! timeout (quiet sessions end, one-way traffic keeps them, the wait for an upstream is bounded),
//! a dropped native acquire is no longer counted as waiting, `max_connections` stops accepting
//! and resumes, `max_connections_per_client` resets beyond it and forgets addresses.

use berth_core::net::sys::OwnedSock;
use berth_core::pool::{DestId, Event, EventSink, Pool, PoolConfig, UpstreamTarget};
use berth_core::proxy::drain::CloseReport;
use berth_core::proxy::listener::{self, ListenOptions, Route};
use berth_core::proxy::relay::{Counts, End};
use berth_core::proxy::session::{self, Abort, Client, SessionEnd, SessionRequest};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

struct NoSink;

impl EventSink for NoSink {
    fn emit(&self, _: Event) -> bool {
        true
    }
}

fn pool(config: PoolConfig) -> Arc<Pool> {
    Pool::new(config, Arc::new(NoSink), berth_core::runtime::handle())
}

/// An upstream that echoes every byte on every connection it accepts.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    dest
}

/// An upstream that sends one byte every `every` on each connection, `count` times, then stays
/// silent (open).
fn trickle_server(every: Duration, count: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                for _ in 0..count {
                    thread::sleep(every);
                    if stream.write_all(b"t").is_err() {
                        return;
                    }
                }
                let mut sink = [0u8; 64];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    dest
}

fn client_pair() -> (TcpStream, OwnedSock) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (inbound, _) = listener.accept().unwrap();
    (client, OwnedSock::from(inbound))
}

fn request(client: OwnedSock, dest: DestId, idle: Option<Duration>) -> SessionRequest {
    SessionRequest {
        client: Client::Fd(client),
        dest: UpstreamTarget::Dest(dest),
        head: Vec::new(),
        reply: Vec::new(),
        fail_reply: Vec::new(),
        fail_reply_ask: None,
        send_proxy: None,
        reuse: false,
        idle_timeout: idle,
        setup_deadline: None,
    }
}

/// Reads until end of stream or error; the bytes read.
fn read_to_close(client: &mut TcpStream) -> Vec<u8> {
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut all = Vec::new();
    let _ = client.read_to_end(&mut all);
    all
}

/// Polls `check` every 10 ms, at most 20 s (a hang guard, not a threshold).
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..2000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not reached within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_session_ends_as_idle_and_closes_both_sides() {
    let dest = echo_server();
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&dest).unwrap();
    let (mut client, inbound) = client_pair();
    let session = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move {
            let req = request(inbound, id, Some(Duration::from_millis(100)));
            session::run(&pool, req, &Counts::default(), &Abort::default()).await
        })
    };
    client.write_all(b"ping").unwrap();
    let mut echo = [0u8; 4];
    client.read_exact(&mut echo).unwrap();
    let outcome = session.await.unwrap();
    assert_eq!(outcome.end, SessionEnd::Relay(End::IdleTimeout));
    assert_eq!((outcome.bytes_in, outcome.bytes_out), (4, 4));
    assert!(!outcome.upstream_returned);
    assert!(
        read_to_close(&mut client).is_empty(),
        "the client sees the end"
    );
    assert_eq!(pool.stats().open, 0, "the upstream is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_traffic_keeps_a_session_past_several_idle_timeouts() {
    // 30 bytes, one every 100 ms, against a 1 s idle timeout: three timeouts long.
    let dest = trickle_server(Duration::from_millis(100), 30);
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&dest).unwrap();
    let (mut client, inbound) = client_pair();
    let req = request(inbound, id, Some(Duration::from_secs(1)));
    let reader = thread::spawn(move || read_to_close(&mut client));
    let outcome = session::run(&pool, req, &Counts::default(), &Abort::default()).await;
    // It ends only once the trickle stopped, with every byte delivered.
    assert_eq!(outcome.end, SessionEnd::Relay(End::IdleTimeout));
    assert_eq!(outcome.bytes_out, 30);
    assert_eq!(reader.join().unwrap(), vec![b't'; 30]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_for_an_upstream_ends_at_the_idle_timeout_and_is_uncounted() {
    let dest = echo_server();
    let pool = pool(PoolConfig {
        max_per_destination: 1,
        acquire_timeout: None,
        ..PoolConfig::default()
    });
    let id = pool.intern(&dest).unwrap();
    let holder = pool.acquire_upstream(id, None).await.unwrap();
    let (mut client, inbound) = client_pair();
    let outcome = session::run(
        &pool,
        request(inbound, id, Some(Duration::from_millis(100))),
        &Counts::default(),
        &Abort::default(),
    )
    .await;
    assert_eq!(outcome.end, SessionEnd::Relay(End::IdleTimeout));
    assert!(outcome.error.is_none());
    assert_eq!(pool.stats().waiting, 0, "the dropped wait is not counted");
    assert!(read_to_close(&mut client).is_empty());
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_wait_for_an_upstream_is_uncounted() {
    let dest = echo_server();
    let pool = pool(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let id = pool.intern(&dest).unwrap();
    let holder = pool.acquire_upstream(id, None).await.unwrap();
    let waiter = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { pool.acquire_upstream(id, None).await.is_ok() })
    };
    eventually("the second acquire waits", || pool.stats().waiting == 1).await;
    waiter.abort();
    let _ = waiter.await;
    assert_eq!(pool.stats().waiting, 0);
    drop(holder);
}

fn options(max_connections: u32, per_client: u32) -> ListenOptions {
    ListenOptions {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        peek: 0,
        peek_timeout: Duration::from_secs(1),
        reuse_upstream: false,
        backlog: 64,
        idle_timeout: Some(Duration::from_secs(30)),
        max_connections,
        max_connections_per_client: per_client,
        accept_proxy: None,
        send_proxy: None,
    }
}

fn echo_round_trip(client: &mut TcpStream, msg: &[u8]) {
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    client.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    client.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_pauses_accepting_and_resumes() {
    let dest = echo_server();
    let pool = pool(PoolConfig::default());
    let pin = pool.intern_pinned(&dest).unwrap();
    let listener = listener::listen(&pool, options(2, 100), Route::Fixed(pin.into())).unwrap();
    let addr = listener.local_addr();
    let c = &listener.counters;
    let mut first = TcpStream::connect(addr).unwrap();
    let mut second = TcpStream::connect(addr).unwrap();
    echo_round_trip(&mut first, b"1");
    echo_round_trip(&mut second, b"2");
    eventually("paused", || c.accept_pauses.load(Ordering::Relaxed) == 1).await;
    let third = thread::spawn(move || {
        let mut third = TcpStream::connect(addr).unwrap();
        echo_round_trip(&mut third, b"3");
    });
    // While paused, the third is not accepted: the session counts stay.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(c.sessions_total.load(Ordering::Relaxed), 2);
    first.shutdown(Shutdown::Both).unwrap();
    drop(first);
    tokio::task::spawn_blocking(move || third.join().unwrap())
        .await
        .unwrap();
    assert_eq!(c.sessions_total.load(Ordering::Relaxed), 3);
    drop(second);
    listener.close(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_cap_resets_beyond_it_and_forgets_the_address() {
    let dest = echo_server();
    let pool = pool(PoolConfig::default());
    let pin = pool.intern_pinned(&dest).unwrap();
    let listener = listener::listen(&pool, options(100, 1), Route::Fixed(pin.into())).unwrap();
    let addr = listener.local_addr();
    let c = &listener.counters;
    let mut first = TcpStream::connect(addr).unwrap();
    echo_round_trip(&mut first, b"first");
    let mut extra = TcpStream::connect(addr).unwrap();
    assert!(read_to_close(&mut extra).is_empty(), "reset, no data");
    assert_eq!(c.rejected_per_client.load(Ordering::Relaxed), 1);
    assert_eq!(c.clients.load(Ordering::Relaxed), 1);
    drop(first);
    eventually("forgotten", || c.clients.load(Ordering::Relaxed) == 0).await;
    let mut again = TcpStream::connect(addr).unwrap();
    echo_round_trip(&mut again, b"again");
    drop(again);
    listener.close(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_close_lets_a_session_finish_and_cuts_the_other() {
    let dest = echo_server();
    let pool = pool(PoolConfig::default());
    let pin = pool.intern_pinned(&dest).unwrap();
    let listener = listener::listen(&pool, options(100, 100), Route::Fixed(pin.into())).unwrap();
    let addr = listener.local_addr();
    let mut short = TcpStream::connect(addr).unwrap();
    let mut long = TcpStream::connect(addr).unwrap();
    echo_round_trip(&mut short, b"short");
    echo_round_trip(&mut long, b"long");
    let closer = Arc::clone(&listener);
    let mut closing = Box::pin(async move { closer.close(Some(Duration::from_secs(600))).await });
    // Polled once here, so that the close has begun (no accept after it) before the probes
    // below: a probe accepted before that would be a session of its own, and would count as
    // finished or not depending on when it ended.
    tokio::select! {
        biased;
        _ = &mut closing => unreachable!("the drain lasts 600 s"),
        _ = std::future::ready(()) => {}
    }
    let closing = tokio::spawn(closing);
    // Accepting stops at once; the short session then ends by itself.
    eventually("refused", || TcpStream::connect(addr).is_err()).await;
    short.shutdown(Shutdown::Write).unwrap();
    let c = &listener.counters;
    eventually("short ended", || {
        c.sessions_active.load(Ordering::Relaxed) == 1
    })
    .await;
    // A second close without a drain cuts the long one now.
    let report = listener.close(None).await;
    assert_eq!(
        report,
        CloseReport {
            finished: 1,
            cut: 1
        }
    );
    assert_eq!(closing.await.unwrap(), report);
    assert!(read_to_close(&mut long).is_empty(), "cut: closed");
}
