//! `pool.forward`: the session's outcome as a plain JS object, delivered once through a
//! threadsafe function that keeps the event loop alive while the session runs.

use berth_core::proxy::session::{SessionOutcome, TellFailure};
use napi::bindgen_prelude::Buffer;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

/// How a forward may end, besides both sides closing.
#[napi(object)]
pub struct ForwardRules {
    pub reuse_upstream: bool,
    /// Milliseconds; Infinity: none.
    pub idle_timeout: f64,
    /// Written to the client before closing it when no upstream can be had.
    pub fail_reply: Option<Buffer>,
    /// PROXY protocol version to send upstream first (1 or 2); none when absent.
    pub send_proxy_protocol: Option<u32>,
}

/// A session got no upstream: JS computes its fail reply from this and answers with
/// `engine.failReply(session, bytes)`.
#[napi(object)]
pub struct ForwardFailure {
    pub code: String,
    pub message: String,
}

/// Held by the session (dropped with it), as its `done` is.
pub type FailureCallback = ThreadsafeFunction<ForwardFailure, (), ForwardFailure, Status, false>;

/// Tells JS a session's error through `callback`.
pub fn tell_failure(callback: FailureCallback) -> TellFailure {
    Box::new(move |code, message| {
        let failure = ForwardFailure {
            code: code.to_owned(),
            message: message.to_owned(),
        };
        callback.call(failure, ThreadsafeFunctionCallMode::NonBlocking);
    })
}

#[napi(object)]
pub struct ForwardDone {
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub upstream_reused: bool,
    pub upstream_returned: bool,
    pub duration_ms: f64,
    /// `client-closed`, `upstream-closed`, `client-error`, `upstream-error`, `connect-failed`,
    /// `aborted` or `pool-closed`.
    pub end: String,
    pub code: Option<String>,
    pub message: Option<String>,
    /// The group member (destination id) that served a group route.
    pub member: Option<f64>,
}

/// Strong (ref'd): a forward in progress keeps the process alive, as its sockets would.
pub type ForwardCallback = ThreadsafeFunction<ForwardDone, (), ForwardDone, Status, false>;

impl From<SessionOutcome> for ForwardDone {
    fn from(o: SessionOutcome) -> Self {
        let (code, message) = match o.error {
            Some((code, message)) => (Some(code.to_owned()), Some(message)),
            None => (None, None),
        };
        ForwardDone {
            bytes_in: o.bytes_in as f64,
            bytes_out: o.bytes_out as f64,
            upstream_reused: o.upstream_reused,
            upstream_returned: o.upstream_returned,
            duration_ms: o.duration.as_secs_f64() * 1000.0,
            end: o.end.as_str().to_owned(),
            code,
            message,
            member: o.member.map(|id| id as f64),
        }
    }
}

pub fn deliver(done: ForwardCallback, outcome: SessionOutcome) {
    done.call(outcome.into(), ThreadsafeFunctionCallMode::NonBlocking);
}

/// The PROXY protocol header (`version` 1 or 2) for a client at `source` that reached
/// `destination` (`ip:port` / `[v6]:port`); `UNKNOWN` / `LOCAL` when either is absent or not
/// an IP address. For `forward()`'s JS relay (the Node-dialled path), which sends what the
/// engine's relay would; null for an unknown version.
#[napi(catch_unwind)]
pub fn proxy_protocol_header(
    version: u32,
    source: Option<String>,
    destination: Option<String>,
) -> Option<Buffer> {
    let version = crate::listener::proxy_version(Some(version))?;
    let parse = |a: Option<String>| a.and_then(|a| a.parse::<std::net::SocketAddr>().ok());
    let addresses = parse(source).zip(parse(destination));
    Some(berth_core::proxy::proxy_protocol::encode(version, addresses).into())
}
