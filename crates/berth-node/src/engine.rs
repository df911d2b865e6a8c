//! `Engine`: one socket pool's binding, owned by one JS `Pool`.

use crate::config::{self, millis, EngineConfig};
use crate::events::{EventCallback, JsSink};
use crate::forward::{self, FailureCallback, ForwardCallback};
use crate::hot::placement;
use crate::hot_io::as_id;
use crate::listener::{listen, JsRouter, ListenConfig, NativeListener, RouteCallback, RouteQueue};
use crate::registry::SOCKET_POOLS;
use crate::stats::{EngineDestSnapshot, PoolStats};
use berth_core::contract::{codes, EvictReason};
use berth_core::net::sys;
use berth_core::pool::Pool;
use berth_core::proxy::listener::Route;
use berth_core::proxy::session::{Client, Forwarder, SessionRequest};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

/// `admit`'s answer: the descriptor now owned by the caller (-1: none) and where the
/// connection went.
#[napi(object)]
pub struct Admitted {
    pub fd: i32,
    pub placement: f64,
}

/// `nodeDialFailed`'s answer: the waiter to reject (-1: none) with the error `code` and
/// `message`, as a native dial's failure would give them.
#[napi(object)]
pub struct NodeDialFailure {
    pub waiter: f64,
    pub code: String,
    pub message: String,
}

/// One pool's engine, owned by one JS `Pool`.
#[napi]
pub struct Engine {
    pub(crate) pool: Arc<Pool>,
    events: Arc<EventCallback>,
    handle: u32,
    forwarder: Arc<Forwarder>,
}

#[napi]
impl Engine {
    #[napi(constructor, catch_unwind)]
    pub fn new(
        config: EngineConfig,
        #[napi(ts_arg_type = "(event: EngineEvent) => void")] on_event: EventCallback,
    ) -> Result<Self> {
        let pool_config = config::pool_config(config)?;
        let events = Arc::new(on_event);
        let sink = Arc::new(JsSink(Arc::clone(&events)));
        let pool = Pool::new(pool_config, sink, berth_core::runtime::handle());
        let handle = SOCKET_POOLS.register(Arc::clone(&pool));
        Ok(Engine {
            pool,
            events,
            handle,
            forwarder: Arc::default(),
        })
    }

    /// The number the hot functions (`acquire`, `release`, ...) take to find this engine.
    #[napi(getter, catch_unwind)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// The id of a destination string (an integer below 2^53, never reused); throws with a
    /// message quoting bad input.
    #[napi(catch_unwind)]
    pub fn intern(&self, destination: String) -> Result<f64> {
        self.pool
            .intern(&destination)
            .map(|id| id as f64)
            .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
    }

    /// As `intern`, under a connection profile (a non-empty name of what JS runs on each new
    /// connection before pooling it): another destination than the same address under
    /// another profile.
    #[napi(catch_unwind)]
    pub fn intern_profiled(&self, destination: String, profile: String) -> Result<f64> {
        self.pool
            .intern_profiled(&destination, &profile)
            .map(|id| id as f64)
            .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
    }

    /// Whether the destination id is still known (a destination that held nothing through
    /// a sweep is forgotten).
    #[napi(catch_unwind)]
    pub fn knows(&self, dest: f64) -> bool {
        as_id(dest).is_some_and(|d| self.pool.knows(d))
    }

    #[napi(catch_unwind)]
    pub fn cancel(&self, dest: f64, waiter: f64) -> bool {
        as_id(dest).is_some_and(|d| self.pool.cancel(d, waiter as u64))
    }

    /// Takes over a dialed connection's descriptor and places the connection (a waiter id,
    /// `PLACED_IDLE` or `PLACED_CLOSE`); `fd` -1 when there is none to take.
    #[napi(catch_unwind)]
    pub fn admit(&self, conn: u32) -> Admitted {
        match self.pool.admit(conn) {
            Some((fd, placed)) => Admitted {
                fd: sys::to_js_fd(fd),
                placement: placement(placed),
            },
            None => Admitted {
                fd: -1,
                placement: f64::from(codes::PLACED_CLOSE),
            },
        }
    }

    /// Takes over a dialed connection's descriptor without placing it (JS runs its handshake
    /// first, then calls `offer`); -1 when there is none to take.
    #[napi(catch_unwind)]
    pub fn adopt(&self, conn: u32) -> i32 {
        self.pool.adopt(conn).map_or(-1, sys::to_js_fd)
    }

    /// Places an adopted connection whose handshake succeeded (as `admit` does); `opaque`:
    /// JS layered a protocol the engine cannot read over it (TLS).
    #[napi(catch_unwind)]
    pub fn offer(&self, conn: u32, opaque: bool) -> f64 {
        placement(self.pool.offer_layered(conn, opaque))
    }

    /// How long a connection just taken from the idle list sat there (ms), or -1.
    #[napi(catch_unwind)]
    pub fn idle_ms(&self, conn: u32) -> f64 {
        self.pool.idle_ms(conn).map_or(-1.0, |ms| ms as f64)
    }

    /// An adopted connection's handshake failed: the waiter to reject with its error, or -1.
    #[napi(catch_unwind)]
    pub fn handshake_failed(&self, conn: u32) -> f64 {
        self.pool.handshake_failed(conn).map_or(-1.0, |w| w as f64)
    }

    /// The waiter to reject with the dial's error, or -1.
    #[napi(catch_unwind)]
    pub fn dial_failed(&self, conn: u32) -> f64 {
        self.pool.dial_failed(conn).map_or(-1.0, |w| w as f64)
    }

    /// Node-dialled path: JS connected the dial `conn`; false when its record is gone (JS
    /// then destroys the socket). JS runs its handshake, if any, then calls `offer`.
    #[napi(catch_unwind)]
    pub fn node_dialed(&self, conn: u32) -> bool {
        self.pool.node_dialed(conn)
    }

    /// Node-dialled path: JS's connect for `conn` failed with Node's error `code` (errno
    /// name, or `CONNECT_TIMEOUT` / `POOL_CLOSED`) and message; the error to reject with and
    /// the waiter to reject (-1: none).
    #[napi(catch_unwind)]
    pub fn node_dial_failed(&self, conn: u32, code: String, detail: String) -> NodeDialFailure {
        let (error, waiter) = self.pool.node_dial_failed(conn, &code, &detail);
        NodeDialFailure {
            waiter: waiter.map_or(-1.0, |w| w as f64),
            code: error.code.as_str().to_owned(),
            message: error.message,
        }
    }

    /// A `forward()` session that JS relayed (the Node-dialled path) ended: counted as the
    /// engine counts its own sessions.
    #[napi(catch_unwind)]
    pub fn forwarded(&self, bytes_in: f64, bytes_out: f64) {
        self.pool
            .counters()
            .forwarded(bytes_in.max(0.0) as u64, bytes_out.max(0.0) as u64);
    }

    #[napi(catch_unwind)]
    pub fn abandon(&self, conn: u32) {
        self.pool.abandon(conn)
    }

    #[napi(catch_unwind)]
    pub fn evict_idle(&self, conn: u32, reason: u32) -> bool {
        EvictReason::from_code(reason).is_some_and(|r| self.pool.evict_idle(conn, r))
    }

    /// `reason` < 0: the user destroyed it; otherwise an eviction reason code.
    #[napi(catch_unwind)]
    pub fn discard(&self, conn: u32, reason: i32) {
        let reason = u32::try_from(reason).ok().and_then(EvictReason::from_code);
        self.pool.discard(conn, reason)
    }

    /// The connection's descriptor is closed: counted as evicted if it was still leased
    /// (unhealthy) or idle (peer closed), and its place freed.
    #[napi(catch_unwind)]
    pub fn closed(&self, conn: u32) {
        self.pool.closed(conn)
    }

    /// Connections holding a place (idle, in use, dialing, closing), cheaper than `stats()`.
    #[napi(catch_unwind)]
    pub fn open_count(&self) -> f64 {
        self.pool.open_count() as f64
    }

    /// Closes the engine; returns the waiters to reject.
    #[napi(catch_unwind)]
    pub fn close(&self) -> Vec<f64> {
        self.pool.close().into_iter().map(|w| w as f64).collect()
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> PoolStats {
        self.pool.stats().into()
    }

    /// Everything `pool.metrics()` renders, in one crossing.
    #[napi(catch_unwind)]
    pub fn metrics(&self) -> crate::metrics::EnginePoolMetrics {
        self.pool.metrics().into()
    }

    #[napi(catch_unwind)]
    pub fn snapshot(&self) -> Vec<EngineDestSnapshot> {
        self.pool.snapshot().into_iter().map(Into::into).collect()
    }

    /// Takes over the inbound socket `fd` (the engine keeps a duplicate; JS then closes its
    /// own) and forwards it to `dest` natively; `done` gets the outcome once. Returns the
    /// session's id for `abortForward`.
    // Positional, as the JS call passes them (one crossing, no intermediate object).
    #[allow(clippy::too_many_arguments)]
    #[napi(catch_unwind)]
    pub fn forward(
        &self,
        fd: i32,
        destination: String,
        head: Option<Buffer>,
        reply: Option<Buffer>,
        rules: forward::ForwardRules,
        #[napi(ts_arg_type = "(done: ForwardDone) => void")] done: ForwardCallback,
        #[napi(ts_arg_type = "((failure: ForwardFailure) => void) | undefined | null")]
        on_failure: Option<FailureCallback>,
    ) -> Result<f64> {
        let client =
            berth_core::net::socket::dup_stream_socket(sys::from_js_fd(fd)).map_err(|e| {
                Error::new(
                    Status::InvalidArg,
                    format!("cannot take over the socket: {e}"),
                )
            })?;
        // Pinned for the session's life: a forgotten id would strand it.
        let target = self
            .pool
            .route_target(&destination)
            .map_err(|e| Error::new(Status::InvalidArg, e))?;
        // The client's addresses, read from its descriptor now (a Unix socket has none).
        let send_proxy = crate::listener::proxy_version(rules.send_proxy_protocol)
            .map(|version| berth_core::proxy::proxy_protocol::encode_for_socket(version, &client));
        let request = SessionRequest {
            client: Client::Fd(client),
            dest: target.upstream(),
            head: head.map(|b| b.to_vec()).unwrap_or_default(),
            reply: reply.map(|b| b.to_vec()).unwrap_or_default(),
            fail_reply: rules.fail_reply.map(|b| b.to_vec()).unwrap_or_default(),
            fail_reply_ask: None,
            reuse: rules.reuse_upstream,
            idle_timeout: millis(rules.idle_timeout),
            setup_deadline: None,
            send_proxy,
        };
        let tell = on_failure.map(forward::tell_failure);
        let id = self
            .forwarder
            .start_asking(&self.pool, request, tell, move |outcome| {
                drop(target);
                forward::deliver(done, outcome)
            });
        Ok(id as f64)
    }

    /// The fail reply JS computed for `session` (told through `on_failure`); null: none.
    /// False when the session no longer waits for it.
    #[napi(catch_unwind)]
    pub fn fail_reply(&self, session: f64, bytes: Option<Buffer>) -> bool {
        let bytes = bytes.map(|b| b.to_vec()).unwrap_or_default();
        self.forwarder.fail_reply(session as u64, bytes)
    }

    /// Stops a forward in progress; false when it already ended.
    #[napi(catch_unwind)]
    pub fn abort_forward(&self, session: f64) -> bool {
        self.forwarder.abort(session as u64)
    }

    /// Binds a native listener; `on_route` is called when routing requests wait (with their
    /// number), and JS takes them with `takeRoutes()`.
    #[napi(catch_unwind)]
    pub fn listen(
        &self,
        config: ListenConfig,
        #[napi(ts_arg_type = "(waiting: number) => void")] on_route: RouteCallback,
    ) -> Result<NativeListener> {
        let queue = Arc::new(RouteQueue::default());
        let router = JsRouter {
            queue: Arc::clone(&queue),
            wake: on_route,
        };
        listen(
            &self.pool,
            config,
            Route::Ask(Arc::new(router)),
            Some(queue),
        )
    }

    /// Binds a native listener whose connections all go to `destination`, without asking JS.
    #[napi(catch_unwind)]
    pub fn listen_to(&self, config: ListenConfig, destination: String) -> Result<NativeListener> {
        let target = self
            .pool
            .route_target(&destination)
            .map_err(|e| Error::new(Status::InvalidArg, e))?;
        listen(&self.pool, config, Route::Fixed(target), None)
    }

    /// Keeps the event loop alive while JS awaits engine events (pending acquires, close).
    #[napi(js_name = "ref", catch_unwind)]
    pub fn keep_alive(&self, env: Env) -> Result<()> {
        crate::events::set_ref(&env, self.events.raw(), self.events.aborted(), true)
    }

    #[napi(js_name = "unref", catch_unwind)]
    pub fn let_exit(&self, env: Env) -> Result<()> {
        crate::events::set_ref(&env, self.events.raw(), self.events.aborted(), false)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        SOCKET_POOLS.unregister(self.handle);
        // The JS object is gone (GC or env teardown): stop timers and dials, close what the
        // engine still owns.
        self.pool.shutdown();
    }
}
