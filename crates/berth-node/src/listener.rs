//! The native listener's JS face: routing requests go to the JS route function through a
//! threadsafe function (ref'd while the listener is open, as a net.Server's handle would be),
//! and its answers come back through `answer`.

use crate::config::millis;
use berth_core::pool::Pool;
use berth_core::proxy::listener::{
    Inbound, ListenOptions, Listener, ListenerCounters, Route, RouteAnswer, Router,
};
use berth_core::proxy::proxy_protocol::{Accept, ProxyVersion};
use berth_core::proxy::route_memo::{Memo, MemoKey};
use napi::bindgen_prelude::Buffer;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi::{Error, Result};
use napi_derive::napi;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

#[napi(object)]
pub struct ListenConfig {
    pub host: String,
    pub port: u32,
    pub peek: u32,
    /// Milliseconds.
    pub peek_timeout: f64,
    pub reuse_upstream: bool,
    pub backlog: u32,
    /// Milliseconds; Infinity: none.
    pub idle_timeout: f64,
    pub max_connections: u32,
    pub max_connections_per_client: u32,
    /// PROXY protocol versions read from clients: 1, 2, or 3 (both); none when absent.
    pub accept_proxy_protocol: Option<u32>,
    /// PROXY protocol version sent to every upstream: 1 or 2; none when absent.
    pub send_proxy_protocol: Option<u32>,
}

/// `1`/`2` as a PROXY protocol version to send (anything else: none; JS checked it).
pub(crate) fn proxy_version(version: Option<u32>) -> Option<ProxyVersion> {
    match version {
        Some(1) => Some(ProxyVersion::V1),
        Some(2) => Some(ProxyVersion::V2),
        _ => None,
    }
}

fn proxy_accept(versions: Option<u32>) -> Option<Accept> {
    match versions {
        Some(1) => Some(Accept::V1),
        Some(2) => Some(Accept::V2),
        Some(3) => Some(Accept::Both),
        _ => None,
    }
}

#[napi(object)]
pub struct RouteRequest {
    pub token: f64,
    pub remote_address: String,
    pub remote_family: String,
    pub remote_port: u32,
    pub local_port: u32,
    pub head: Buffer,
    /// The TLS ClientHello's server name, when the peeked bytes hold one.
    pub sni: Option<String>,
    /// The ClientHello's ALPN protocols, when it has any.
    pub alpn: Option<Vec<String>>,
    /// The HTTP/1 request's Host header, when the peeked bytes hold it.
    pub host: Option<String>,
    /// The HTTP/1 request line's method and target, when the peeked bytes hold the line.
    pub method: Option<String>,
    pub path: Option<String>,
}

/// Called with the number of routing requests waiting; JS takes them with `takeRoutes()`.
pub type RouteCallback = ThreadsafeFunction<u32, (), u32, Status, false>;
/// How a listener's sessions in flight ended once it began to close.
#[napi(object)]
pub struct ListenerClosed {
    /// Ended by themselves during the drain.
    pub finished: f64,
    /// Still running at the drain's end (at once, without one): closed.
    pub cut: f64,
}

pub type ClosedCallback = ThreadsafeFunction<ListenerClosed, (), ListenerClosed, Status, false>;

/// Routing requests not yet taken by JS, and whether JS was already woken for them.
#[derive(Default)]
pub struct RouteQueue {
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    inbound: Vec<Inbound>,
    tokens: Vec<u64>,
    /// JS was woken for these and has not taken them yet.
    woken: bool,
}

/// Asks JS where connections go, in batches: the first request of a batch wakes JS's thread
/// (a threadsafe-function call), the ones that arrive before JS runs join it, and JS takes
/// them all in one call. Under load a wake-up (the costly part of a routing round trip) is
/// shared by every connection accepted meanwhile.
pub struct JsRouter {
    pub queue: Arc<RouteQueue>,
    pub wake: RouteCallback,
}

impl Router for JsRouter {
    fn ask(&self, token: u64, inbound: Inbound) -> bool {
        let mut waiting = self.queue.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.inbound.push(inbound);
        waiting.tokens.push(token);
        if waiting.woken {
            return true;
        }
        waiting.woken = true;
        let n = waiting.inbound.len() as u32;
        drop(waiting);
        if self.wake.call(n, ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok {
            return true;
        }
        // JS is gone: nothing will take the batch.
        let mut waiting = self.queue.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.woken = false;
        if let Some(at) = waiting.tokens.iter().position(|&t| t == token) {
            waiting.inbound.remove(at);
            waiting.tokens.remove(at);
        }
        false
    }
}

impl RouteQueue {
    /// Everything waiting, as JS objects; the next request wakes JS again.
    fn take(&self) -> Vec<RouteRequest> {
        let (inbound, tokens) = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            waiting.woken = false;
            (
                std::mem::take(&mut waiting.inbound),
                std::mem::take(&mut waiting.tokens),
            )
        };
        inbound
            .into_iter()
            .zip(tokens)
            .map(|(inbound, token)| {
                let ip = inbound.remote.ip().to_canonical();
                let alpn = Some(inbound.alpn).filter(|alpn| !alpn.is_empty());
                RouteRequest {
                    token: token as f64,
                    remote_address: ip.to_string(),
                    remote_family: if ip.is_ipv4() { "IPv4" } else { "IPv6" }.to_owned(),
                    remote_port: u32::from(inbound.remote.port()),
                    local_port: u32::from(inbound.local_port),
                    head: inbound.head.into(),
                    sni: inbound.sni,
                    alpn,
                    host: inbound.host,
                    method: inbound.method,
                    path: inbound.path,
                }
            })
            .collect()
    }
}

/// A route function's answer when it is more than a destination string.
#[napi(object)]
pub struct RouteAnswerObject {
    pub dest: String,
    pub reply: Option<Buffer>,
    pub fail_reply: Option<Buffer>,
    /// 1 or 2.
    pub send_proxy_protocol: Option<u32>,
    /// Milliseconds.
    pub cache_for: Option<f64>,
    /// `'sni'`, `'host'`, `'clientIp'` or `'localPort'`.
    pub cache_key: Option<String>,
}

#[napi(object)]
pub struct ListenerStats {
    pub sessions_total: f64,
    pub sessions_active: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub route_failures: f64,
    pub connect_failures: f64,
    pub upstream_reused: f64,
    pub idle_timeouts: f64,
    pub rejected_per_client: f64,
    pub accept_pauses: f64,
    pub clients: f64,
    pub proxy_protocol_errors: f64,
}

impl From<&ListenerCounters> for ListenerStats {
    fn from(c: &ListenerCounters) -> Self {
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        ListenerStats {
            sessions_total: get(&c.sessions_total),
            sessions_active: get(&c.sessions_active),
            bytes_in: get(&c.bytes_in),
            bytes_out: get(&c.bytes_out),
            route_failures: get(&c.route_failures),
            connect_failures: get(&c.connect_failures),
            upstream_reused: get(&c.upstream_reused),
            idle_timeouts: get(&c.idle_timeouts),
            rejected_per_client: get(&c.rejected_per_client),
            accept_pauses: get(&c.accept_pauses),
            clients: get(&c.clients),
            proxy_protocol_errors: get(&c.proxy_protocol_errors),
        }
    }
}

#[napi]
pub struct NativeListener {
    pub(crate) inner: Arc<Listener>,
    /// Routing requests for JS (none for a listener with a fixed route).
    pub(crate) routes: Option<Arc<RouteQueue>>,
    /// Where session ends go while JS asks for them (observe.rs).
    pub(crate) session_ends: crate::observe::SessionEndsSlot,
}

#[napi]
impl NativeListener {
    /// The routing requests waiting (JS was woken with their number), oldest first.
    #[napi(catch_unwind)]
    pub fn take_routes(&self) -> Vec<RouteRequest> {
        self.routes.as_ref().map_or_else(Vec::new, |q| q.take())
    }

    /// The route function's answer for `token`: a destination string, or null to refuse.
    #[napi(catch_unwind)]
    pub fn answer(&self, token: f64, destination: Option<String>) {
        self.inner
            .answer(token as u64, destination.map(RouteAnswer::from))
    }

    /// The route function's answer for `token` as an object (already checked by the facade).
    #[napi(catch_unwind)]
    pub fn answer_with(&self, token: f64, answer: RouteAnswerObject) {
        let memo = match (
            answer.cache_for,
            answer.cache_key.as_deref().and_then(MemoKey::parse),
        ) {
            (Some(ms), Some(key)) if ms > 0.0 => millis(ms).map(|hold| Memo { key, hold }),
            _ => None,
        };
        self.inner.answer(
            token as u64,
            Some(RouteAnswer {
                dest: answer.dest,
                reply: answer.reply.map(|b| b.to_vec()).unwrap_or_default(),
                fail_reply: answer.fail_reply.map(|b| b.to_vec()).unwrap_or_default(),
                send_proxy: answer
                    .send_proxy_protocol
                    .and_then(|v| u8::try_from(v).ok()),
                memo,
            }),
        )
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> ListenerStats {
        (&self.inner.counters).into()
    }

    /// Session durations in Prometheus buckets (seconds), for `pool.metrics()`.
    #[napi(catch_unwind)]
    pub fn session_durations(&self) -> crate::metrics::EngineBuckets {
        self.inner.counters.session_duration.0.snapshot().into()
    }

    #[napi(getter, catch_unwind)]
    pub fn address(&self) -> String {
        self.inner.local_addr().ip().to_string()
    }

    #[napi(getter, catch_unwind)]
    pub fn family(&self) -> String {
        if self.inner.local_addr().is_ipv4() {
            "IPv4"
        } else {
            "IPv6"
        }
        .to_owned()
    }

    #[napi(getter, catch_unwind)]
    pub fn port(&self) -> u32 {
        u32::from(self.inner.local_addr().port())
    }

    /// Stops accepting; lets the sessions in flight finish for up to `drain` ms (undefined:
    /// not at all; Infinity: until they end), then ends the rest. `done` is called once every
    /// descriptor of the listener is closed.
    #[napi(catch_unwind)]
    pub fn close(
        &self,
        #[napi(ts_arg_type = "(closed: ListenerClosed) => void")] done: ClosedCallback,
        drain: Option<f64>,
    ) {
        let inner = Arc::clone(&self.inner);
        let drain = drain.map(|ms| millis(ms).unwrap_or(Duration::MAX));
        berth_core::runtime::handle().spawn(async move {
            let report = inner.close(drain).await;
            let closed = ListenerClosed {
                finished: report.finished as f64,
                cut: report.cut as f64,
            };
            done.call(closed, ThreadsafeFunctionCallMode::NonBlocking);
        });
    }
}

/// Throws (InvalidArg) when `host` is not a listen address (an IP, IPv6 with an optional
/// zone); the message says what is wrong.
#[napi(catch_unwind)]
pub fn check_listen_host(host: String) -> Result<()> {
    berth_core::net::destination::listen_addr(&host, 0)
        .map(drop)
        .map_err(|why| Error::new(Status::InvalidArg, why))
}

pub(crate) fn listen(
    pool: &Arc<Pool>,
    config: ListenConfig,
    route: Route,
    routes: Option<Arc<RouteQueue>>,
) -> Result<NativeListener> {
    let addr = berth_core::net::destination::listen_addr(&config.host, config.port as u16)
        .map_err(|why| Error::new(Status::InvalidArg, format!("listen host {why}")))?;
    let options = ListenOptions {
        addr,
        peek: config.peek as usize,
        peek_timeout: millis(config.peek_timeout).unwrap_or(Duration::MAX),
        reuse_upstream: config.reuse_upstream,
        backlog: config.backlog.min(i32::MAX as u32) as i32,
        idle_timeout: millis(config.idle_timeout),
        max_connections: config.max_connections,
        max_connections_per_client: config.max_connections_per_client,
        accept_proxy: proxy_accept(config.accept_proxy_protocol),
        send_proxy: proxy_version(config.send_proxy_protocol),
    };
    let inner = berth_core::proxy::listener::listen(pool, options, route).map_err(|e| {
        Error::new(
            Status::GenericFailure,
            format!("listen on {}:{} failed: {e}", config.host, config.port),
        )
    })?;
    Ok(NativeListener {
        inner,
        routes,
        session_ends: Default::default(),
    })
}
