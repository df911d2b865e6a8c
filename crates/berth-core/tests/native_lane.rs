//! The native lane (upstreams the engine uses itself) and sessions, against real loopback
//! sockets: reuse, limits shared with waiting, timeouts, the relay's half-close and reuse rules.

use berth_core::error::DialErrorCode;
use berth_core::net::sys::{from_raw, OwnedSock};
use berth_core::pool::{DestId, Event, EventSink, Pool, PoolConfig, UpstreamTarget};
use berth_core::proxy::relay::{Counts, End};
use berth_core::proxy::session::{self, Abort, Client, SessionEnd, SessionRequest};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

struct NoSink;

struct ChannelSink(std::sync::Mutex<std::sync::mpsc::Sender<Event>>);

impl EventSink for ChannelSink {
    fn emit(&self, event: Event) -> bool {
        self.0.lock().unwrap().send(event).is_ok()
    }
}

fn pool_with_events(config: PoolConfig) -> (Arc<Pool>, std::sync::mpsc::Receiver<Event>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = Arc::new(ChannelSink(std::sync::Mutex::new(tx)));
    (Pool::new(config, sink, berth_core::runtime::handle()), rx)
}

impl EventSink for NoSink {
    fn emit(&self, _: Event) -> bool {
        true
    }
}

fn pool(config: PoolConfig) -> Arc<Pool> {
    Pool::new(config, Arc::new(NoSink), berth_core::runtime::handle())
}

/// An upstream that echoes every byte on every connection it accepts; returns its address
/// and a count of accepted connections.
fn echo_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => {
                            let _ = stream.shutdown(Shutdown::Write);
                            return;
                        }
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
    (dest, accepted)
}

/// The server's accept count once it reaches `expected` (its thread counts a connection a
/// moment after the dial completes), or what it is after a bounded wait.
async fn settled(accepted: &std::sync::atomic::AtomicUsize, expected: usize) -> usize {
    for _ in 0..500 {
        if accepted.load(std::sync::atomic::Ordering::SeqCst) >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    accepted.load(std::sync::atomic::Ordering::SeqCst)
}

/// A connected pair: the client's end for the test, the inbound end for the session.
fn client_pair() -> (TcpStream, OwnedSock) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (inbound, _) = listener.accept().unwrap();
    (client, OwnedSock::from(inbound))
}

fn request(client: OwnedSock, dest: DestId, reuse: bool) -> SessionRequest {
    SessionRequest {
        client: Client::Fd(client),
        dest: UpstreamTarget::Dest(dest),
        head: Vec::new(),
        reply: Vec::new(),
        fail_reply: Vec::new(),
        fail_reply_ask: None,
        send_proxy: None,
        reuse,
        idle_timeout: None,
        setup_deadline: None,
    }
}

/// Sends `msg`, reads the echo of it, then closes its sending side and waits for the end.
fn echo_then_close(mut client: TcpStream, msg: &[u8]) -> Vec<u8> {
    client.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    client.read_exact(&mut got).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    got.extend(rest);
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_upstream_is_reused_and_counted() {
    let (dest, accepted) = echo_server();
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&dest).unwrap();
    let first = pool.acquire_upstream(id, None).await.unwrap();
    assert!(!first.reused);
    assert_eq!(pool.stats().in_use, 1);
    first.release(true);
    assert_eq!(pool.stats().idle, 1, "{:?}", pool.stats());
    let second = pool.acquire_upstream(id, None).await.unwrap();
    assert!(second.reused);
    drop(second);
    let stats = pool.stats();
    assert_eq!(
        (stats.open, stats.created, stats.reused, stats.closed),
        (0, 1, 1, 1)
    );
    assert_eq!(settled(&accepted, 1).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_make_native_acquires_wait_then_time_out() {
    let (dest, _) = echo_server();
    let pool = pool(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let id = pool.intern(&dest).unwrap();
    let held = pool.acquire_upstream(id, None).await.unwrap();
    let err = pool
        .acquire_upstream(id, Some(Duration::from_millis(50)))
        .await
        .err()
        .expect("no place within 50 ms");
    assert_eq!(err.code, DialErrorCode::AcquireTimeout);
    // A waiter is served as soon as the place comes free.
    let waiting = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { pool.acquire_upstream(id, None).await.map(|u| u.reused) })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    held.release(true);
    let reused = waiting.await.unwrap().unwrap();
    // Released while someone waited: closed to free the place, and the waiter dialed anew.
    assert!(!reused);
    assert_eq!(pool.stats().acquire_timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_pool_ends_native_waits() {
    let (dest, _) = echo_server();
    let pool = pool(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let id = pool.intern(&dest).unwrap();
    let _held = pool.acquire_upstream(id, None).await.unwrap();
    let waiting = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { pool.acquire_upstream(id, None).await.err().map(|e| e.code) })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    pool.close();
    assert_eq!(waiting.await.unwrap(), Some(DialErrorCode::PoolClosed));
}

/// Runs `rounds` sessions one after the other, each sending `msg`, reading its echo and
/// closing; checks what the client got back and returns the outcomes.
async fn echo_sessions(
    pool: &Arc<Pool>,
    dest: DestId,
    reuse: bool,
    msg: &'static [u8],
    rounds: usize,
) -> Vec<session::SessionOutcome> {
    let mut outcomes = Vec::new();
    for _ in 0..rounds {
        let (client, inbound) = client_pair();
        let talk = thread::spawn(move || echo_then_close(client, msg));
        let counts = Counts::default();
        let outcome = session::run(
            pool,
            request(inbound, dest, reuse),
            &counts,
            &Abort::default(),
        )
        .await;
        assert_eq!(talk.join().unwrap(), msg);
        assert_eq!(outcome.end, SessionEnd::Relay(End::ClientClosed));
        outcomes.push(outcome);
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_session_returns_its_upstream_and_the_next_reuses_it() {
    let (dest, accepted) = echo_server();
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&dest).unwrap();
    for (round, outcome) in echo_sessions(&pool, id, true, b"ping", 3)
        .await
        .iter()
        .enumerate()
    {
        assert!(outcome.upstream_returned, "round {round}: {outcome:?}");
        assert_eq!(outcome.upstream_reused, round > 0);
        assert_eq!((outcome.bytes_in, outcome.bytes_out), (4, 4));
    }
    assert_eq!(settled(&accepted, 1).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reuse_the_clients_fin_reaches_the_upstream() {
    let (dest, accepted) = echo_server();
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&dest).unwrap();
    // The echo server answers FIN with FIN: the client reads to the end.
    for outcome in echo_sessions(&pool, id, false, b"half-close", 2).await {
        assert!(!outcome.upstream_returned);
    }
    assert_eq!(settled(&accepted, 2).await, 2);
    assert_eq!(pool.stats().open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_goes_upstream_first_and_reply_to_the_client_first() {
    let (dest, _) = echo_server();
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&dest).unwrap();
    let (mut client, inbound) = client_pair();
    let talk = thread::spawn(move || {
        client.write_all(b"body").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        all
    });
    let req = SessionRequest {
        head: b"head:".to_vec(),
        reply: b"200 OK\n".to_vec(),
        ..request(inbound, id, false)
    };
    let outcome = session::run(&pool, req, &Counts::default(), &Abort::default()).await;
    assert_eq!(talk.join().unwrap(), b"200 OK\nhead:body");
    assert_eq!((outcome.bytes_in, outcome.bytes_out), (9, 16));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upstream_is_a_connect_failure() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&format!("127.0.0.1:{port}")).unwrap();
    let (mut client, inbound) = client_pair();
    let outcome = session::run(
        &pool,
        request(inbound, id, false),
        &Counts::default(),
        &Abort::default(),
    )
    .await;
    assert_eq!(outcome.end, SessionEnd::ConnectFailed);
    assert_eq!(outcome.error.map(|e| e.0), Some("CONNECT_REFUSED"));
    let mut rest = Vec::new();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        client.read_to_end(&mut rest).unwrap(),
        0,
        "the client sees the end"
    );
    assert_eq!(pool.stats().open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_ends_the_session_and_closes_both_sides() {
    let (dest, _) = echo_server();
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&dest).unwrap();
    let (mut client, inbound) = client_pair();
    let abort = Arc::new(Abort::default());
    let fire = Arc::clone(&abort);
    let session = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move {
            session::run(
                &pool,
                request(inbound, id, true),
                &Counts::default(),
                &abort,
            )
            .await
        })
    };
    client.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    client.read_exact(&mut one).unwrap();
    fire.fire();
    let outcome = session.await.unwrap();
    assert_eq!(outcome.end, SessionEnd::Relay(End::Aborted));
    assert!(!outcome.upstream_returned);
    let mut rest = Vec::new();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
    assert_eq!(pool.stats().open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_transfer_is_byte_exact_both_ways() {
    // Large enough for both directions to switch to splice(2) on Linux.
    const SIZE: usize = 8 * 1024 * 1024;
    let (dest, _) = echo_server();
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&dest).unwrap();
    let (client, inbound) = client_pair();
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let expected = data.clone();
    let mut reader = client.try_clone().unwrap();
    let mut writer = client;
    let send = thread::spawn(move || {
        writer.write_all(&data).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let recv = thread::spawn(move || {
        let mut got = Vec::with_capacity(SIZE);
        reader.read_to_end(&mut got).unwrap();
        got
    });
    let outcome = session::run(
        &pool,
        request(inbound, id, false),
        &Counts::default(),
        &Abort::default(),
    )
    .await;
    send.join().unwrap();
    let got = recv.join().unwrap();
    assert_eq!(got.len(), SIZE);
    assert!(got == expected, "the echo differs from what was sent");
    assert_eq!(
        (outcome.bytes_in, outcome.bytes_out),
        (SIZE as u64, SIZE as u64)
    );
    assert_eq!(outcome.end, SessionEnd::Relay(End::ClientClosed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_waiter_gets_the_place_of_an_idle_native_connection() {
    let (dest, accepted) = echo_server();
    let (pool, events) = pool_with_events(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let id = pool.intern(&dest).unwrap();
    pool.acquire_upstream(id, None).await.unwrap().release(true);
    assert_eq!(pool.stats().idle, 1);
    // JS asks for the destination: the native idle connection is closed to make room.
    let queued = pool.acquire(id, 1, 0, None);
    assert!(
        matches!(queued, berth_core::pool::Acquire::Queued(1)),
        "{queued:?}"
    );
    let dialed = events.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(matches!(dialed, Event::Dialed { .. }), "{dialed:?}");
    assert_eq!(pool.stats().evicted_idle, 1);
    assert_eq!(settled(&accepted, 2).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_session_gets_the_place_of_an_idle_js_connection() {
    let (dest, _) = echo_server();
    let (pool, events) = pool_with_events(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let id = pool.intern(&dest).unwrap();
    // A JS connection: dialed, adopted (JS owns the descriptor), offered to the idle list.
    assert!(matches!(
        pool.acquire(id, 7, 0, None),
        berth_core::pool::Acquire::Queued(7)
    ));
    let Event::Dialed { conn, .. } = events.recv_timeout(Duration::from_secs(10)).unwrap() else {
        panic!("expected a dial");
    };
    let fd = pool.adopt(conn).unwrap();
    // SAFETY: adopt handed this descriptor to us.
    let js_socket = unsafe { from_raw(fd) };
    assert_eq!(pool.offer(conn), berth_core::pool::Placement::Handoff(7));
    assert_eq!(pool.release(conn, false), berth_core::pool::Placement::Idle);
    let native = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { pool.acquire_upstream(id, None).await.map(|u| u.reused) })
    };
    // The engine asks JS to close its idle connection; JS does, and reports it.
    let evict = tokio::task::spawn_blocking(move || events.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(evict, Event::Evict { conn: c, .. } if c == conn),
        "{evict:?}"
    );
    drop(js_socket);
    pool.forget(conn);
    assert!(!native.await.unwrap().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_release_gives_its_place_to_a_waiting_native_session_of_its_destination_only() {
    let (dest, _) = echo_server();
    let (other, _) = echo_server();
    let (pool, events) = pool_with_events(PoolConfig {
        max_per_destination: 1,
        ..PoolConfig::default()
    });
    let id = pool.intern(&dest).unwrap();
    let other_id = pool.intern(&other).unwrap();
    // A JS lease on each destination, in use.
    let mut fds = Vec::new();
    let mut conns = Vec::new();
    for (n, d) in [(11, id), (12, other_id)] {
        assert!(matches!(
            pool.acquire(d, n, 0, None),
            berth_core::pool::Acquire::Queued(_)
        ));
        let Event::Dialed { conn, .. } = events.recv_timeout(Duration::from_secs(10)).unwrap()
        else {
            panic!("expected a dial");
        };
        let fd = pool.adopt(conn).unwrap();
        // SAFETY: adopt handed this descriptor to us.
        fds.push(unsafe { from_raw(fd) });
        assert!(matches!(
            pool.offer(conn),
            berth_core::pool::Placement::Handoff(_)
        ));
        conns.push(conn);
    }
    // A native session waits for the first destination's only place.
    let native = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { pool.acquire_upstream(id, None).await.map(|u| u.reused) })
    };
    for _ in 0..500 {
        if pool.stats().waiting == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.stats().waiting, 1);
    // The other destination's release idles as usual; this one's closes to free the place.
    assert_eq!(
        pool.release(conns[1], false),
        berth_core::pool::Placement::Idle
    );
    assert_eq!(
        pool.release(conns[0], false),
        berth_core::pool::Placement::Close
    );
    drop(fds.remove(0));
    pool.forget(conns[0]);
    assert!(!native.await.unwrap().unwrap());
    assert_eq!(pool.stats().waiting, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_upstream_the_server_closed_is_evicted_by_the_sweep() {
    // A server that closes its connection when told to.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (close_tx, close_rx) = std::sync::mpsc::channel::<()>();
    let (closed_tx, closed_rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = close_rx.recv();
            drop(stream);
            let _ = closed_tx.send(());
        }
    });
    let pool = pool(PoolConfig {
        idle_timeout: Some(Duration::from_secs(60)),
        ..PoolConfig::default()
    });
    let id = pool.intern(&dest).unwrap();
    let upstream = pool.acquire_upstream(id, None).await.unwrap();
    upstream.release(true);
    assert_eq!(pool.stats().idle, 1);
    close_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || closed_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    // No acquire: the sweep (every second here) finds it closed.
    for _ in 0..500 {
        if pool.stats().idle == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = pool.stats();
    assert_eq!((stats.idle, stats.open), (0, 0));
    assert_eq!(stats.evicted_peer_closed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upstream_gets_the_fail_reply_then_the_end() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let pool = pool(PoolConfig::default());
    let id = pool.intern(&format!("127.0.0.1:{port}")).unwrap();
    for asked in [false, true] {
        let (mut client, inbound) = client_pair();
        let mut req = SessionRequest {
            reply: b"never\n".to_vec(),
            fail_reply: b"502 static\n".to_vec(),
            ..request(inbound, id, false)
        };
        if asked {
            // The function form: told the error, answers through the channel; wins over bytes.
            req.fail_reply_ask = Some(Box::new(|code, _message| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let _ = tx.send(format!("502 {code}\n").into_bytes());
                rx
            }));
        }
        let counts = Counts::default();
        let outcome = session::run(&pool, req, &counts, &Abort::default()).await;
        assert_eq!(outcome.end, SessionEnd::ConnectFailed);
        let code = outcome.error.as_ref().map(|e| e.0).unwrap_or_default();
        let expected = if asked {
            format!("502 {code}\n").into_bytes()
        } else {
            b"502 static\n".to_vec()
        };
        assert_eq!(outcome.bytes_out, expected.len() as u64);
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, expected);
    }
}
