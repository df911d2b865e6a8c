//! One proxied session: lease an upstream from the pool's native lane, relay, give the
//! upstream back (or close it), and report once. Used by `pool.forward` and by the listener.

use crate::error::{DialError, DialErrorCode};
use crate::net::socket::Socket;
use crate::net::sys::OwnedSock;
use crate::pool::Upstream;
use crate::pool::{DestId, Pool, UpstreamTarget};
use crate::proxy::fail_reply;
use crate::proxy::relay::{relay, Counts, End, RelayOutcome, Rules};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

/// The inbound connection of a session, owned by the engine from now on.
pub enum Client {
    /// A descriptor taken over from JS, not yet registered with the reactor.
    Fd(OwnedSock),
    /// A socket the engine accepted itself.
    Socket(Socket),
}

/// What a session is asked to do.
pub struct SessionRequest {
    pub client: Client,
    pub dest: UpstreamTarget,
    /// Sent upstream before anything the client sends.
    pub head: Vec<u8>,
    /// Sent to the client once the upstream is connected, before anything the upstream sends.
    pub reply: Vec<u8>,
    /// Sent to the client before closing it when no upstream can be had (`connect-failed`):
    /// a CONNECT proxy's `502`, a SOCKS5 refusal (at most `fail_reply::MAX_FAIL_REPLY`).
    pub fail_reply: Vec<u8>,
    /// Or asked for once the error is known (JS's function form); wins over `fail_reply`.
    pub fail_reply_ask: Option<fail_reply::Ask>,
    /// Give the upstream back to the pool when the session ends cleanly.
    pub reuse: bool,
    /// End the session once no byte moved either way for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// The session must be relaying by then, or it ends as idle: a wait for an upstream (or,
    /// in the listener, for the route) holds the client's place with nothing moving. `None`:
    /// `idle_timeout` from the start of `run`.
    pub setup_deadline: Option<tokio::time::Instant>,
    /// A PROXY protocol header (`proxy_protocol::encode`) written to the upstream before
    /// anything else (not counted in `bytes_in`). The upstream is then a fresh connection and
    /// is never given back to the pool: a later session's client would inherit this header.
    pub send_proxy: Option<ProxyHeader>,
}

/// The bytes of a PROXY protocol header, as `proxy_protocol::encode` makes them.
pub type ProxyHeader = Vec<u8>;

/// An upstream as `acquire` gives it, but never one an earlier session used when `fresh`
/// (reused ones are closed on the way: a PROXY header must be a connection's first bytes).
async fn acquire_for(
    pool: &Arc<Pool>,
    target: &UpstreamTarget,
    fresh: bool,
) -> Result<(Upstream, Option<DestId>), DialError> {
    loop {
        let (lease, member) = acquire(pool, target).await?;
        if !(fresh && lease.reused) {
            return Ok((lease, member));
        }
        lease.release(false);
    }
}

/// An upstream from the session's target: its destination, or a member its group picks
/// (failing over to another member when a connect fails). With the member's destination, for
/// a group, so that an upstream error can count against it.
async fn acquire(
    pool: &Arc<Pool>,
    target: &UpstreamTarget,
) -> Result<(Upstream, Option<DestId>), DialError> {
    match target {
        UpstreamTarget::Dest(dest) => pool.acquire_upstream(*dest, None).await.map(|u| (u, None)),
        UpstreamTarget::Group(group) => pool
            .acquire_upstream_group(group, None)
            .await
            .map(|(upstream, member)| (upstream, Some(member.dest))),
    }
}

/// How a session ended, beyond the relay's own ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    Relay(End),
    /// No upstream: the dial failed or no connection came free in time.
    ConnectFailed,
    /// The pool closed under the session.
    PoolClosed,
}

impl SessionEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::Relay(end) => end.as_str(),
            SessionEnd::ConnectFailed => "connect-failed",
            SessionEnd::PoolClosed => "pool-closed",
        }
    }
}

#[derive(Debug)]
pub struct SessionOutcome {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub upstream_reused: bool,
    /// The upstream went back to the pool's idle list.
    pub upstream_returned: bool,
    pub duration: Duration,
    pub end: SessionEnd,
    /// A stable code and a message, when an error ended the session.
    pub error: Option<(&'static str, String)>,
    /// The group member that served it (a group route that got an upstream).
    pub member: Option<crate::pool::DestId>,
}

/// Stops a session from outside (JS's abort signal, a listener closing).
#[derive(Default)]
pub struct Abort {
    fired: std::sync::atomic::AtomicBool,
    notify: Notify,
}

impl Abort {
    pub fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub fn is_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    pub async fn fired(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.fired.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// Runs one session to its end. `counts` can be read while it runs.
pub async fn run(
    pool: &Arc<Pool>,
    request: SessionRequest,
    counts: &Counts,
    abort: &Abort,
) -> SessionOutcome {
    let started = Instant::now();
    let mut stop = pool.shutdown_signal();
    let pool_closed = async move {
        let _ = stop.wait_for(|closed| *closed).await;
    };
    tokio::pin!(pool_closed);
    let outcome = |end, reused, returned, error| SessionOutcome {
        bytes_in: counts.bytes_in.load(Ordering::Relaxed),
        bytes_out: counts.bytes_out.load(Ordering::Relaxed),
        upstream_reused: reused,
        upstream_returned: returned,
        duration: started.elapsed(),
        end,
        error,
        member: None,
    };
    let setup_deadline = request.setup_deadline.or_else(|| {
        let idle = request.idle_timeout?;
        tokio::time::Instant::now().checked_add(idle)
    });
    let setup_expired = async {
        match setup_deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let client = match request.client {
        Client::Socket(client) => Ok(client),
        Client::Fd(fd) => Socket::new(fd),
    };
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            let error = Some(("FORWARD_ERROR", format!("client: {e}")));
            return outcome(SessionEnd::Relay(End::ClientError), false, false, error);
        }
    };
    // The acquire itself ends with PoolClosed when the pool closes.
    let acquired = tokio::select! {
        acquired = acquire_for(pool, &request.dest, request.send_proxy.is_some()) => acquired,
        _ = abort.fired() => return outcome(SessionEnd::Relay(End::Aborted), false, false, None),
        // Dropping the acquire gives back a dial in progress (its guard frees the place).
        _ = setup_expired => return outcome(SessionEnd::Relay(End::IdleTimeout), false, false, None),
    };
    let (lease, member) = match acquired {
        Ok(acquired) => acquired,
        Err(DialError {
            code: DialErrorCode::PoolClosed,
            ..
        }) => return outcome(SessionEnd::PoolClosed, false, false, None),
        Err(e) => {
            // Answer the client (if asked to) before it is closed, the pool's closing or an
            // abort cutting the answer short.
            let stopped = async {
                tokio::select! {
                    _ = abort.fired() => {}
                    _ = &mut pool_closed => {}
                }
            };
            let code = e.code.as_str();
            fail_reply::answer(
                &client,
                request.fail_reply,
                request.fail_reply_ask,
                (code, &e.message),
                request.idle_timeout,
                counts,
                stopped,
            )
            .await;
            let error = Some((code, e.message));
            return outcome(SessionEnd::ConnectFailed, false, false, error);
        }
    };
    let reused = lease.reused;
    let Some(upstream) = lease.socket() else {
        let error = Some(("FORWARD_ERROR", "upstream: no socket".to_owned()));
        return outcome(SessionEnd::Relay(End::UpstreamError), reused, false, error);
    };
    if let Some(header) = &request.send_proxy {
        // A few dozen bytes on a fresh connection: the send buffer is empty, this never waits.
        if let Err(e) = upstream.write_all(header).await {
            client.reset_on_close();
            drop(client);
            lease.release(false);
            let error = Some(("FORWARD_ERROR", format!("upstream: {e}")));
            return outcome(SessionEnd::Relay(End::UpstreamError), reused, false, error);
        }
    }
    let stopped = async {
        tokio::select! {
            _ = abort.fired() => {}
            _ = &mut pool_closed => {}
        }
    };
    let RelayOutcome {
        end,
        error,
        upstream_reusable,
    } = relay(
        &client,
        upstream,
        &request.head,
        &request.reply,
        Rules {
            reuse: request.reuse && request.send_proxy.is_none(),
            idle_timeout: request.idle_timeout,
        },
        counts,
        stopped,
    )
    .await;
    let closed = pool.is_closed();
    // A peer that broke the stream: tell the other one with a reset, not a clean end.
    match end {
        End::UpstreamError => {
            client.reset_on_close();
            // A group member that broke a session counts toward its ejection, as a JS lease
            // destroyed with an error does.
            if let Some(dest) = member {
                pool.note_lease_failed(dest);
            }
        }
        End::ClientError => upstream.reset_on_close(),
        End::ClientClosed | End::UpstreamClosed => {
            if let Some(dest) = member {
                pool.note_lease_ok(dest);
            }
        }
        End::Aborted | End::IdleTimeout => {}
    }
    drop(client);
    lease.release(upstream_reusable);
    let end = if end == End::Aborted && closed {
        SessionEnd::PoolClosed
    } else {
        SessionEnd::Relay(end)
    };
    let error = error.map(|e| {
        let side = if end == SessionEnd::Relay(End::ClientError) {
            "client"
        } else {
            "upstream"
        };
        ("FORWARD_ERROR", format!("{side}: {e}"))
    });
    SessionOutcome {
        member,
        ..outcome(end, reused, upstream_reusable, error)
    }
}

/// Sessions started from JS (`pool.forward`), by id, so that an abort signal can stop one
/// (and a fail reply asked of JS can come back to it).
#[derive(Default)]
pub struct Forwarder {
    next: AtomicU64,
    running: Mutex<HashMap<u64, Arc<Abort>>>,
    /// Sessions waiting for JS to compute their fail reply (`Forwarder::fail_reply`).
    replies: Mutex<HashMap<u64, oneshot::Sender<Vec<u8>>>>,
}

/// Tells JS a session's error (its code and message) so that JS computes the fail reply and
/// hands it back through `Forwarder::fail_reply` with the session's id.
pub type TellFailure = Box<dyn FnOnce(&'static str, &str) + Send>;

impl Forwarder {
    /// Starts a session on the pool's runtime; `done` gets its outcome, once.
    pub fn start(
        self: &Arc<Self>,
        pool: &Arc<Pool>,
        request: SessionRequest,
        done: impl FnOnce(SessionOutcome) + Send + 'static,
    ) -> u64 {
        self.start_asking(pool, request, None, done)
    }

    /// As `start`; with `tell`, a session that gets no upstream asks JS for its fail reply.
    pub fn start_asking(
        self: &Arc<Self>,
        pool: &Arc<Pool>,
        mut request: SessionRequest,
        tell: Option<TellFailure>,
        done: impl FnOnce(SessionOutcome) + Send + 'static,
    ) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(tell) = tell {
            let me = Arc::clone(self);
            request.fail_reply_ask = Some(Box::new(move |code, message| {
                let (tx, rx) = oneshot::channel();
                lock(&me.replies).insert(id, tx);
                tell(code, message);
                rx
            }));
        }
        let abort = Arc::new(Abort::default());
        self.lock().insert(id, Arc::clone(&abort));
        let runtime = pool.runtime().clone();
        let pool = Arc::clone(pool);
        let me = Arc::clone(self);
        runtime.spawn(async move {
            let counts = Counts::default();
            let outcome = run(&pool, request, &counts, &abort).await;
            pool.counters()
                .forwarded(outcome.bytes_in, outcome.bytes_out);
            me.lock().remove(&id);
            lock(&me.replies).remove(&id);
            done(outcome);
        });
        id
    }

    /// Stops a running session; false when it already ended.
    pub fn abort(&self, id: u64) -> bool {
        let abort = self.lock().get(&id).cloned();
        abort.map(|a| a.fire()).is_some()
    }

    /// JS's fail reply for session `id` (empty: none); false when it no longer waits.
    pub fn fail_reply(&self, id: u64, bytes: Vec<u8>) -> bool {
        let tx = lock(&self.replies).remove(&id);
        tx.is_some_and(|tx| tx.send(bytes).is_ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Abort>>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
