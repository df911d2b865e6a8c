//! The native listener: the engine accepts inbound connections itself, asks a router (the JS
//! routing function) once per connection where it goes, and runs the session natively, so
//! that JS never touches a proxied session's bytes.
//!
//! Connections come from strangers, so every session is bounded: in time (the idle timeout,
//! which also bounds the wait for the route and for an upstream), in number (`max_connections`:
//! at the cap the listener stops accepting and new clients wait in the kernel's backlog), and
//! per client address (`max_connections_per_client`: more are reset at once). The per-client
//! table holds only addresses with sessions in flight, so it is never larger than the cap.

use crate::buckets::SessionHistogram;
use crate::net::socket::Socket;
use crate::net::sys::OwnedSock;
use crate::pool::{Pool, RouteTarget, UpstreamTarget};
use crate::proxy::drain::{CloseReport, Drain};
use crate::proxy::proxy_accept::{read_header, Missing, Received};
use crate::proxy::proxy_protocol::{self, Accept, ProxyVersion};
use crate::proxy::relay::{Counts, End};
use crate::proxy::route_memo::{Memo, MemoKeys, Remembered, RouteMemo};
use crate::proxy::session::{self, Abort, Client, SessionEnd, SessionRequest};
use crate::proxy::session_report::SessionReports;
use crate::proxy::sniff;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify};
use tokio::time::Instant;

pub struct ListenOptions {
    pub addr: SocketAddr,
    /// Up to this many initial bytes are peeked (not consumed) and shown to the router.
    pub peek: usize,
    /// How long to wait for those bytes; a client that sends nothing first (a server-speaks-
    /// first protocol) is routed with what arrived by then.
    pub peek_timeout: Duration,
    /// Give upstreams back to the pool after sessions that ended cleanly.
    pub reuse_upstream: bool,
    pub backlog: i32,
    /// Close a session once no byte moved either way for this long; a session that is not
    /// relaying this long after it was accepted (peek, route, waiting for an upstream) is
    /// closed too. `None`: never (only for trusted clients).
    pub idle_timeout: Option<Duration>,
    /// Sessions in flight (being routed or relaying) at most: at the cap the listener stops
    /// accepting, so new clients wait in the kernel's backlog, until a session ends.
    pub max_connections: u32,
    /// Sessions in flight per client IP address at most: beyond it a new connection from that
    /// address is accepted and reset at once.
    pub max_connections_per_client: u32,
    /// Read a PROXY protocol header first on every connection: its source is the client (for
    /// the route and `max_connections_per_client`). A connection without a valid one by
    /// `peek_timeout` (or the setup deadline) is closed and counted.
    pub accept_proxy: Option<Accept>,
    /// Send a PROXY protocol header with the client's addresses to every upstream first.
    pub send_proxy: Option<ProxyVersion>,
}

/// What the router is told about a new connection.
pub struct Inbound {
    pub remote: SocketAddr,
    pub local_port: u16,
    /// The peeked bytes; they are still in the stream and go upstream with the rest.
    pub head: Vec<u8>,
    /// The server name of a TLS ClientHello in `head`, if any (see `sniff::client_hello`).
    pub sni: Option<String>,
    /// That ClientHello's ALPN protocols (empty: none, or not a ClientHello).
    pub alpn: Vec<String>,
    /// The `Host` of an HTTP/1 request head in `head`, if any (see `sniff::http_head`).
    pub host: Option<String>,
    /// The method and request-target of that request's first line, if it is complete.
    pub method: Option<String>,
    pub path: Option<String>,
}

/// The router's answer for one connection (see `Listener::answer`).
#[derive(Debug, Default)]
pub struct RouteAnswer {
    /// `host:port`, `[v6]:port`, `unix:/path` or `group:<name>`.
    pub dest: String,
    /// Written to the client once the upstream is connected.
    pub reply: Vec<u8>,
    /// Written to the client before closing when no upstream could be reached.
    pub fail_reply: Vec<u8>,
    /// PROXY protocol version (1 or 2) to send to the upstream first.
    pub send_proxy: Option<u8>,
    /// Remember this answer for later connections with the same key.
    pub memo: Option<Memo>,
}

impl From<String> for RouteAnswer {
    fn from(dest: String) -> Self {
        RouteAnswer {
            dest,
            ..RouteAnswer::default()
        }
    }
}

/// Where `route` sent a connection, and what goes with it.
struct Routed {
    dest: UpstreamTarget,
    reply: Vec<u8>,
    fail_reply: Vec<u8>,
    send_proxy: Option<u8>,
    /// Keeps the destination known while the session runs (a memoized route keeps its own).
    _target: Option<RouteTarget>,
}

/// Where a listener's connections go.
pub enum Route {
    /// Ask the router, once per connection.
    Ask(Arc<dyn Router>),
    /// Always here: no routing call at all (a fixed-backend TCP proxy).
    Fixed(RouteTarget),
}

/// Decides where connections go. `ask` starts a decision and returns false when it cannot
/// (the router is gone); the answer comes through `Listener::answer(token, ..)`.
pub trait Router: Send + Sync {
    fn ask(&self, token: u64, inbound: Inbound) -> bool;
}

/// A listener's figures, readable at any time.
#[derive(Default, Debug)]
pub struct ListenerCounters {
    pub sessions_total: AtomicU64,
    pub sessions_active: AtomicU64,
    /// Client to upstream, over ended sessions.
    pub bytes_in: AtomicU64,
    /// Upstream to client, over ended sessions.
    pub bytes_out: AtomicU64,
    /// Routes that threw, rejected, returned no destination or an invalid one.
    pub route_failures: AtomicU64,
    /// Sessions whose upstream could not be connected.
    pub connect_failures: AtomicU64,
    /// Sessions served by a reused upstream connection.
    pub upstream_reused: AtomicU64,
    /// Sessions closed by the idle timeout (while relaying, or not relaying in time).
    pub idle_timeouts: AtomicU64,
    /// Connections reset at once because their address had `max_connections_per_client`
    /// sessions in flight.
    pub rejected_per_client: AtomicU64,
    /// Times the listener stopped accepting because `max_connections` sessions were in flight.
    pub accept_pauses: AtomicU64,
    /// Client addresses with sessions in flight now (the per-client table's size).
    pub clients: AtomicU64,
    /// Connections closed because their PROXY protocol header was missing, invalid, or not
    /// whole in time (only with `accept_proxy`).
    pub proxy_protocol_errors: AtomicU64,
    /// How long sessions lasted, accept to close (Prometheus buckets, for `metrics()`).
    pub session_duration: SessionHistogram,
}

pub struct Listener {
    pool: Arc<Pool>,
    local: SocketAddr,
    peek: usize,
    peek_timeout: Duration,
    reuse: bool,
    idle_timeout: Option<Duration>,
    max_connections: u64,
    max_per_client: u32,
    accept_proxy: Option<Accept>,
    send_proxy: Option<ProxyVersion>,
    /// Sessions in flight per client address; an address leaves with its last session.
    clients: Mutex<HashMap<IpAddr, u32>>,
    /// Signalled when a session ends: the accept loop may be waiting for room.
    room: Notify,
    router: Mutex<Option<Arc<dyn Router>>>,
    fixed: Option<RouteTarget>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Option<RouteAnswer>>>>,
    /// Routes remembered for a key (`RouteAnswer::memo`).
    memo: RouteMemo,
    next_token: AtomicU64,
    pub counters: ListenerCounters,
    /// Session ends for the owner, while it asks (see session_report.rs).
    pub reports: SessionReports,
    abort: Abort,
    /// A close in progress: accepting stopped, sessions draining (`close(Some(drain))`).
    drain: Drain,
    accepting: AtomicBool,
    done: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Binds `options.addr` and starts accepting on the pool's runtime.
pub fn listen(pool: &Arc<Pool>, options: ListenOptions, route: Route) -> io::Result<Arc<Listener>> {
    let (router, fixed) = match route {
        Route::Ask(router) => (Some(router), None),
        Route::Fixed(dest) => (None, Some(dest)),
    };
    let domain = socket2::Domain::for_address(options.addr);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    // Unix: rebinding a port whose old connections linger in TIME_WAIT. Not on Windows, where
    // SO_REUSEADDR lets another socket bind a port that is in use (Node does not set it there).
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one setsockopt here
    // instead of one per connection.
    socket.set_tcp_nodelay(true)?;
    if options.addr.is_ipv6() {
        // '::' means IPv6 only here; bind '0.0.0.0' for IPv4, as with Node's `ipv6Only`.
        let _ = socket.set_only_v6(true);
    }
    socket.bind(&options.addr.into())?;
    socket.listen(options.backlog)?;
    socket.set_nonblocking(true)?;
    let local = socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("listening socket has no IP address"))?;
    let tcp = {
        let _runtime = pool.runtime().enter();
        listening(socket)?
    };
    let (done, _) = watch::channel(false);
    let listener = Arc::new(Listener {
        pool: Arc::clone(pool),
        local,
        peek: options.peek,
        peek_timeout: options.peek_timeout,
        reuse: options.reuse_upstream,
        idle_timeout: options.idle_timeout,
        max_connections: u64::from(options.max_connections.max(1)),
        max_per_client: options.max_connections_per_client.max(1),
        accept_proxy: options.accept_proxy,
        send_proxy: options.send_proxy,
        clients: Mutex::new(HashMap::new()),
        room: Notify::new(),
        router: Mutex::new(router),
        fixed,
        pending: Mutex::new(HashMap::new()),
        memo: RouteMemo::default(),
        next_token: AtomicU64::new(0),
        counters: ListenerCounters::default(),
        reports: SessionReports::default(),
        abort: Abort::default(),
        drain: Drain::default(),
        accepting: AtomicBool::new(true),
        done,
    });
    let me = Arc::clone(&listener);
    pool.runtime()
        .spawn(async move { me.accept_loop(tcp).await });
    Ok(listener)
}

impl Listener {
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The router's answer for `token`: where to, or `None` to refuse the connection.
    pub fn answer(&self, token: u64, answer: Option<RouteAnswer>) {
        if let Some(tx) = lock(&self.pending).remove(&token) {
            let _ = tx.send(answer);
        }
    }

    /// Stops accepting at once; lets the sessions in flight finish by themselves for up to
    /// `drain` (`None`: not at all), then ends the rest and drops the router. Resolves once
    /// every session's descriptors are closed, with how many finished and how many were cut.
    /// A later call with a shorter drain cuts sooner; every call reports the same.
    pub async fn close(self: &Arc<Self>, drain: Option<Duration>) -> CloseReport {
        self.drain.closing.fire();
        let mut done = self.done.subscribe();
        if let Some(drain) = drain {
            let _ = tokio::time::timeout(drain, done.wait_for(|done| *done)).await;
        }
        self.cut();
        let _ = done.wait_for(|done| *done).await;
        self.drain.report()
    }

    /// Ends the sessions in flight (counted as cut, once) and everything else in progress.
    fn cut(&self) {
        let active = self.counters.sessions_active.load(Ordering::Acquire);
        if self.drain.cutting(active) {
            self.shut();
        }
    }

    /// Ends everything in progress: sessions, routes still awaited, the router itself.
    fn shut(&self) {
        self.abort.fire();
        lock(&self.router).take();
        for (_, tx) in lock(&self.pending).drain() {
            let _ = tx.send(None);
        }
        self.memo.clear();
    }

    async fn accept_loop(self: Arc<Self>, tcp: Listening) {
        let mut stop = self.pool.shutdown_signal();
        loop {
            if !self.wait_for_room(&mut stop).await {
                break;
            }
            // Closing wins over a connection waiting in the backlog: none is accepted after.
            let accepted = tokio::select! {
                biased;
                _ = self.abort.fired() => break,
                _ = self.drain.closing.fired() => break,
                _ = stop.wait_for(|closed| *closed) => break,
                accepted = accept(&tcp) => accepted,
            };
            match accepted {
                Ok((stream, remote)) => {
                    // Behind a PROXY protocol sender the peer is the balancer: the client
                    // is known (and counted) only once its header is read.
                    let slot = match self.accept_proxy {
                        None => self.admit(remote),
                        Some(_) => Some(self.take_place()),
                    };
                    let Some(mut slot) = slot else {
                        // Reset, not FIN: no TIME_WAIT left here by a client that floods.
                        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                        drop(stream);
                        continue;
                    };
                    // The whole session, routing included, must be relaying by then.
                    let deadline = self
                        .idle_timeout
                        .and_then(|idle| Instant::now().checked_add(idle));
                    let me = Arc::clone(&self);
                    self.pool.runtime().spawn(async move {
                        me.serve(stream, remote, deadline, &mut slot).await;
                        drop(slot);
                    });
                }
                // Out of descriptors or memory: back off a little instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        drop(tcp);
        // A pool that closed ends its listeners for good: nothing will route again. (A
        // listener's own close ends its sessions itself, after their drain.)
        if !self.drain.is_closing() {
            self.cut();
        }
        self.accepting.store(false, Ordering::Release);
        self.check_done();
    }

    /// Waits while `max_connections` sessions are in flight; false when the listener or the
    /// pool closes meanwhile. Not accepting (rather than accepting and closing) leaves new
    /// clients in the kernel's backlog, to be served as sessions end.
    async fn wait_for_room(&self, stop: &mut watch::Receiver<bool>) -> bool {
        let mut paused = false;
        loop {
            // Registered before looking, so that a session ending in between is not missed.
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.abort.is_fired() || self.drain.is_closing() {
                return false;
            }
            if self.counters.sessions_active.load(Ordering::Acquire) < self.max_connections {
                return true;
            }
            if !paused {
                paused = true;
                self.counters.accept_pauses.fetch_add(1, Ordering::Relaxed);
            }
            tokio::select! {
                _ = notified => {}
                _ = self.abort.fired() => return false,
                _ = self.drain.closing.fired() => return false,
                _ = stop.wait_for(|closed| *closed) => return false,
            }
        }
    }

    /// Takes a place for a new session from `remote`, or `None` when that address already has
    /// `max_connections_per_client` sessions in flight (counted).
    fn admit(self: &Arc<Self>, remote: SocketAddr) -> Option<Slot> {
        let ip = remote.ip().to_canonical();
        if !self.count_client(ip) {
            return None;
        }
        self.counters.sessions_active.fetch_add(1, Ordering::AcqRel);
        Some(Slot {
            listener: Arc::clone(self),
            ip: Some(ip),
        })
    }

    /// A place for a session whose client is not known yet (see `claim_client`).
    fn take_place(self: &Arc<Self>) -> Slot {
        self.counters.sessions_active.fetch_add(1, Ordering::AcqRel);
        Slot {
            listener: Arc::clone(self),
            ip: None,
        }
    }

    /// Counts the session of `slot` (from `take_place`) against `ip`'s
    /// `max_connections_per_client`; false (counted) when that address has its share already.
    fn claim_client(&self, slot: &mut Slot, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if !self.count_client(ip) {
            return false;
        }
        slot.ip = Some(ip);
        true
    }

    /// Counts one more session of `ip` (canonical) unless it has `max_connections_per_client`
    /// already; false (counted as rejected) then. `admit` and `claim_client` share it.
    fn count_client(&self, ip: IpAddr) -> bool {
        let mut clients = lock(&self.clients);
        let n = clients.entry(ip).or_insert(0);
        if *n >= self.max_per_client {
            // `n` is at least 1 here: the entry was there before.
            self.counters
                .rejected_per_client
                .fetch_add(1, Ordering::Relaxed);
            return false;
        }
        *n += 1;
        self.counters
            .clients
            .store(clients.len() as u64, Ordering::Relaxed);
        true
    }

    /// A session ended: its address's count goes down (the address is forgotten at zero),
    /// and the accept loop may resume.
    fn leave(&self, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            let mut clients = lock(&self.clients);
            if let Some(n) = clients.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    clients.remove(&ip);
                }
            }
            self.counters
                .clients
                .store(clients.len() as u64, Ordering::Relaxed);
        }
        // Counted before the count of sessions in flight goes down: the close's report is
        // complete when that count reaches zero.
        self.drain.session_ended();
        self.counters.sessions_active.fetch_sub(1, Ordering::AcqRel);
        self.room.notify_one();
        self.check_done();
    }

    fn check_done(&self) {
        if !self.accepting.load(Ordering::Acquire)
            && self.counters.sessions_active.load(Ordering::Relaxed) == 0
        {
            self.done.send_replace(true);
        }
    }

    async fn serve(
        self: &Arc<Self>,
        stream: OwnedSock,
        remote: SocketAddr,
        deadline: Option<Instant>,
        slot: &mut Slot,
    ) {
        #[cfg(not(target_os = "linux"))]
        let _ = socket2::SockRef::from(&stream).set_tcp_nodelay(true);
        // Accepted non-blocking: registered once, used as it is by the whole session.
        let Ok(client) = Socket::new_nonblocking(stream) else {
            return;
        };
        let mut received = None;
        if let Some(accept) = self.accept_proxy {
            let Some(header) = self.proxy_header(&client, accept, deadline).await else {
                return;
            };
            let source = header.source.unwrap_or(remote);
            if !self.claim_client(slot, source.ip()) {
                client.reset_on_close();
                return;
            }
            received = Some(header);
        }
        let remote = received.and_then(|h| h.source).unwrap_or(remote);
        let routed = match self.route(&client, remote, deadline).await {
            Ok(routed) => routed,
            Err(Unrouted::Idle) => {
                self.counters.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(Unrouted::Refused) => {
                // Connections still being routed when the listener closes are not the
                // route's fault.
                if !self.abort.is_fired() {
                    self.counters.route_failures.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
        };
        self.counters.sessions_total.fetch_add(1, Ordering::Relaxed);
        // The route's choice, else the listener's.
        let send_proxy = match routed.send_proxy {
            Some(1) => Some(ProxyVersion::V1),
            Some(2) => Some(ProxyVersion::V2),
            _ => self.send_proxy,
        }
        .map(|version| self.proxy_header_out(version, &client, remote, received));
        // Named only while the owner asks for session ends.
        let route = self
            .reports
            .wanted()
            .then(|| self.pool.target_name(&routed.dest));
        let request = SessionRequest {
            client: Client::Socket(client),
            dest: routed.dest,
            head: Vec::new(),
            reply: routed.reply,
            fail_reply: routed.fail_reply,
            send_proxy,
            fail_reply_ask: None,
            reuse: self.reuse,
            idle_timeout: self.idle_timeout,
            setup_deadline: deadline,
        };
        let counts = Counts::default();
        let outcome = session::run(&self.pool, request, &counts, &self.abort).await;
        let c = &self.counters;
        c.session_duration
            .0
            .record_us(outcome.duration.as_micros() as u64);
        c.bytes_in.fetch_add(outcome.bytes_in, Ordering::Relaxed);
        c.bytes_out.fetch_add(outcome.bytes_out, Ordering::Relaxed);
        if outcome.upstream_reused {
            c.upstream_reused.fetch_add(1, Ordering::Relaxed);
        }
        match outcome.end {
            SessionEnd::ConnectFailed => {
                c.connect_failures.fetch_add(1, Ordering::Relaxed);
            }
            SessionEnd::Relay(End::IdleTimeout) => {
                c.idle_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if let Some(route) = route {
            self.reports.send(&self.pool, remote, route, outcome);
        }
    }

    /// Reads the PROXY protocol header of a new connection by the listener's deadline for it;
    /// `None` (counted unless the listener is closing) when there is none to be had.
    async fn proxy_header(
        &self,
        client: &Socket,
        accept: Accept,
        deadline: Option<Instant>,
    ) -> Option<Received> {
        // A balancer sends its header with the connection: `peek_timeout` bounds the wait (a
        // client that sends nothing must not hold a place until the idle timeout), unless it
        // is 0, which only says "route with what arrived" and is no bound for a header.
        let own = (!self.peek_timeout.is_zero())
            .then(|| Instant::now().checked_add(self.peek_timeout))
            .flatten();
        let until = match (own, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let read = tokio::select! {
            read = read_header(client, accept) => read,
            _ = self.abort.fired() => return None,
            _ = expired(until) => Err(Missing::Closed),
        };
        match read {
            Ok(header) => Some(header),
            Err(Missing::Invalid | Missing::Closed) => {
                self.counters
                    .proxy_protocol_errors
                    .fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The header to send upstream for a session: the client's addresses as received in its
    /// own PROXY header, else the accepted connection's (peer and local address).
    fn proxy_header_out(
        &self,
        version: ProxyVersion,
        client: &Socket,
        remote: SocketAddr,
        received: Option<Received>,
    ) -> Vec<u8> {
        if let Some(Received {
            source: Some(source),
            destination: Some(destination),
        }) = received
        {
            return proxy_protocol::encode(version, Some((source, destination)));
        }
        let local = client.sock().local_addr().ok().and_then(|a| a.as_socket());
        proxy_protocol::encode(version, local.map(|local| (remote, local)))
    }

    /// Peeks, asks the router, and interns its answer, all by `deadline`. The answer comes
    /// pinned (not forgotten while the session holds the pin); a fixed route is pinned by the
    /// listener itself.
    async fn route(
        &self,
        stream: &Socket,
        remote: SocketAddr,
        deadline: Option<Instant>,
    ) -> Result<Routed, Unrouted> {
        if let Some(target) = &self.fixed {
            return Ok(Routed {
                dest: target.upstream(),
                reply: Vec::new(),
                fail_reply: Vec::new(),
                send_proxy: None,
                _target: None,
            });
        }
        let mut head = Vec::new();
        if self.peek > 0 {
            head.resize(self.peek, 0);
            // Bytes peeked so far: what the route gets if `peek_timeout` ends a later peek.
            let mut got = 0;
            let peeked = tokio::select! {
                peeked = tokio::time::timeout(self.peek_timeout, peek_head(stream, &mut head, &mut got)) => peeked,
                _ = self.abort.fired() => return Err(Unrouted::Refused),
                _ = expired(deadline) => return Err(Unrouted::Idle),
            };
            let n = match peeked {
                Ok(Ok(n)) => n,
                Ok(Err(_)) => return Err(Unrouted::Refused),
                Err(_timed_out) => got,
            };
            head.truncate(n);
        }
        // Only peeked bytes are parsed: nothing without `peek`, or when none came in time.
        let sniffed = sniff::sniff(&head);
        let (sni, alpn) = sniffed.tls.map_or((None, Vec::new()), |h| (h.sni, h.alpn));
        let (host, method, path) = sniffed.http.map_or((None, None, None), |h| {
            (h.host, Some(h.method), Some(h.path))
        });
        let inbound = Inbound {
            remote,
            local_port: self.local.port(),
            head,
            sni,
            alpn,
            host,
            method,
            path,
        };
        // What a remembered route is keyed by, kept past the router's taking `inbound`.
        let keys = MemoKeys::of(&inbound);
        if let Some(found) = self.memo.find(&keys) {
            return Ok(Routed {
                dest: found.upstream(),
                reply: found.reply.clone(),
                fail_reply: found.fail_reply.clone(),
                send_proxy: found.send_proxy,
                _target: None,
            });
        }
        let router = lock(&self.router).clone().ok_or(Unrouted::Refused)?;
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(token, tx);
        if !router.ask(token, inbound) {
            lock(&self.pending).remove(&token);
            return Err(Unrouted::Refused);
        }
        drop(router);
        // A route that never answers must not hold the client's place: the deadline ends it
        // (its late answer then finds no token and is ignored).
        let answer = tokio::select! {
            answer = rx => Ok(answer.ok().flatten()),
            _ = self.abort.fired() => Ok(None),
            _ = expired(deadline) => Err(Unrouted::Idle),
        };
        lock(&self.pending).remove(&token);
        let answer = answer?.ok_or(Unrouted::Refused)?;
        let target = self
            .pool
            .route_target(&answer.dest)
            .map_err(|_| Unrouted::Refused)?;
        let dest = target.upstream();
        // A remembered route keeps its destination pinned itself; otherwise the session does.
        let pin = match answer.memo {
            Some(memo) => {
                let remembered = Remembered {
                    target,
                    reply: answer.reply.clone(),
                    fail_reply: answer.fail_reply.clone(),
                    send_proxy: answer.send_proxy,
                };
                self.memo.remember(memo, &keys, Arc::new(remembered));
                None
            }
            None => Some(target),
        };
        Ok(Routed {
            dest,
            reply: answer.reply,
            fail_reply: answer.fail_reply,
            send_proxy: answer.send_proxy,
            _target: pin,
        })
    }
}

/// Why a connection got no destination.
enum Unrouted {
    /// Refused by the route (or the listener closed meanwhile): counted as a route failure.
    Refused,
    /// Not routed by the deadline: counted as an idle timeout.
    Idle,
}

/// A session's place on the listener: held from accept to the session's end, given back on
/// drop (also if the session's task unwinds).
struct Slot {
    listener: Arc<Listener>,
    /// The client address counted for it (`None` while a PROXY header is awaited).
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.listener.leave(self.ip);
    }
}

/// Peeks the first bytes into `head`; while they are a ClientHello or an HTTP/1 head whose
/// routing information is still on its way (`sniff::incomplete`), peeks again as more arrive,
/// until `head` is full. `got` follows the count, for a caller whose timeout ends this.
async fn peek_head(stream: &Socket, head: &mut [u8], got: &mut usize) -> io::Result<usize> {
    let mut n = stream.peek(head).await?;
    *got = n;
    // The rest of a message split over segments comes within a round trip or so: look again
    // after 1, 2, 4 .. 16 ms. (Waiting on readiness instead would mean forgetting it, and the
    // relay would then not learn of the bytes already there.)
    let mut pause = Duration::from_millis(1);
    while n > 0 && n < head.len() && sniff::incomplete(&head[..n]) {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(16));
        n = n.max(stream.peek_now(head)?);
        *got = n;
    }
    Ok(n)
}

/// Completes at `deadline`; never without one.
async fn expired(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The listening socket, registered with the reactor: on Unix a `Socket` whose readiness
/// drives `accept4` (one syscall per connection, flags included); on Windows tokio's own
/// listener.
#[cfg(unix)]
type Listening = Socket;
#[cfg(windows)]
type Listening = tokio::net::TcpListener;

#[cfg(unix)]
fn listening(socket: socket2::Socket) -> io::Result<Listening> {
    Socket::new_nonblocking(OwnedSock::from(socket))
}

#[cfg(windows)]
fn listening(socket: socket2::Socket) -> io::Result<Listening> {
    tokio::net::TcpListener::from_std(socket.into())
}

/// Accepts one connection, non-blocking from the start.
#[cfg(windows)]
async fn accept(listener: &Listening) -> io::Result<(OwnedSock, SocketAddr)> {
    let (stream, remote) = listener.accept().await?;
    // Deregistered here, registered again as the session's `Socket` (non-blocking still).
    Ok((OwnedSock::from(stream.into_std()?), remote))
}

/// Accepts one connection, non-blocking and close-on-exec from the start.
#[cfg(unix)]
async fn accept(listener: &Listening) -> io::Result<(OwnedSock, SocketAddr)> {
    use std::os::fd::FromRawFd;
    let mut remote = None;
    let fd = listener
        .with_readable(|fd| {
            let (fd, addr) = accept_raw(fd)?;
            remote = addr;
            Ok(fd as usize)
        })
        .await?;
    // SAFETY: accept_raw just created this descriptor; nobody else owns it.
    let owned = unsafe { OwnedSock::from_raw_fd(fd as i32) };
    let remote = remote.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    Ok((owned, remote))
}

/// One accept on the listening descriptor `fd`: accept4 sets both flags in the same call.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn accept_raw(
    fd: crate::net::sys::RawSock,
) -> io::Result<(crate::net::sys::RawSock, Option<SocketAddr>)> {
    // SAFETY: try_init hands accept4 valid storage and length pointers for the peer's address
    // and reads back only the `len` bytes accept4 reports.
    let (fd, addr) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let fd = libc::accept4(
                fd,
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            );
            if fd < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(fd)
            }
        })
    }?;
    Ok((fd, addr.as_socket()))
}

/// One accept on the listening descriptor `fd`, where there is no accept4 (macOS): socket2
/// sets close-on-exec (and SO_NOSIGPIPE), then the socket is made non-blocking.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn accept_raw(
    fd: crate::net::sys::RawSock,
) -> io::Result<(crate::net::sys::RawSock, Option<SocketAddr>)> {
    use std::os::fd::{BorrowedFd, IntoRawFd};
    // SAFETY: `fd` is the listener's descriptor, open for as long as `listener` is borrowed.
    let listening = unsafe { BorrowedFd::borrow_raw(fd) };
    let (socket, addr) = socket2::SockRef::from(&listening).accept()?;
    socket.set_nonblocking(true)?;
    Ok((socket.into_raw_fd(), addr.as_socket()))
}
