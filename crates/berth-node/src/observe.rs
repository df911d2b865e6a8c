//! What the facade asks only while someone observes a pool (diagnostics_channel subscribers,
//! event listeners): why the engine closed a connection, which cap made an acquire wait, and
//! a listener's session ends.

use crate::engine::Engine;
use crate::listener::NativeListener;
use berth_core::pool::WaitCap;
use berth_core::proxy::session_report::{SessionReport, SessionSink, MAX_WAITING_REPORTS};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

#[napi]
impl Engine {
    /// Why the engine closed connection `conn` (an `EvictReason` code: found dead at
    /// acquire, or a release placed to close), or -1: none recorded.
    #[napi(catch_unwind)]
    pub fn close_reason(&self, conn: u32) -> i32 {
        self.pool
            .close_reason(conn)
            .map_or(-1, |reason| reason.code() as i32)
    }

    /// Right after an acquire of `dest` queued: 1 when `maxPerDestination` keeps it waiting,
    /// 2 when `maxTotal` does, 0 when neither (a dial in flight serves it).
    #[napi(catch_unwind)]
    pub fn wait_cap(&self, dest: f64) -> u32 {
        crate::hot_io::as_id(dest).map_or(0, |d| match self.pool.wait_cap(d) {
            WaitCap::None => 0,
            WaitCap::PerDestination => 1,
            WaitCap::Total => 2,
        })
    }
}

/// The client of an ended session.
#[napi(object)]
pub struct SessionClient {
    pub address: String,
    pub family: String,
    pub port: u32,
}

/// One ended listener session.
#[napi(object)]
pub struct SessionEnded {
    pub client: SessionClient,
    pub route: String,
    pub member: Option<String>,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub duration_ms: f64,
    pub end: String,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Called with the number of session ends waiting; JS takes them with `takeSessionEnds()`.
/// Weak: it never keeps the process alive (the listener does that).
pub type SessionEndsCallback = ThreadsafeFunction<u32, (), u32, Status, false, true>;

/// Session ends not yet taken by JS: the first of a batch wakes JS, later ones join it (as
/// the route queue does).
struct JsSessionSink {
    waiting: Mutex<(Vec<SessionReport>, bool)>,
    wake: SessionEndsCallback,
}

impl SessionSink for JsSessionSink {
    fn report(&self, report: SessionReport) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if waiting.0.len() >= MAX_WAITING_REPORTS {
            return;
        }
        waiting.0.push(report);
        if waiting.1 {
            return;
        }
        waiting.1 = true;
        let n = waiting.0.len() as u32;
        drop(waiting);
        self.wake.call(n, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

impl JsSessionSink {
    fn take(&self) -> Vec<SessionEnded> {
        let reports = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            waiting.1 = false;
            std::mem::take(&mut waiting.0)
        };
        reports.into_iter().map(to_js).collect()
    }
}

fn to_js(r: SessionReport) -> SessionEnded {
    let ip = r.client.ip().to_canonical();
    let (code, message) = match r.outcome.error {
        Some((code, message)) => (Some(code.to_owned()), Some(message)),
        None => (None, None),
    };
    SessionEnded {
        client: SessionClient {
            address: ip.to_string(),
            family: if ip.is_ipv4() { "IPv4" } else { "IPv6" }.to_owned(),
            port: u32::from(r.client.port()),
        },
        route: r.route,
        member: r.member,
        bytes_in: r.outcome.bytes_in as f64,
        bytes_out: r.outcome.bytes_out as f64,
        duration_ms: r.outcome.duration.as_secs_f64() * 1000.0,
        end: r.outcome.end.as_str().to_owned(),
        code,
        message,
    }
}

/// The sink a listener reports to while JS asks (kept beside the listener).
#[derive(Default)]
pub struct SessionEndsSlot(Mutex<Option<Arc<JsSessionSink>>>);

#[napi]
impl NativeListener {
    /// Reports session ends through `wake` from now on, or stops with `null` (the ends not
    /// yet taken are dropped).
    #[napi(catch_unwind)]
    pub fn report_session_ends(
        &self,
        #[napi(ts_arg_type = "((waiting: number) => void) | null")] wake: Option<
            SessionEndsCallback,
        >,
    ) {
        let sink = wake.map(|wake| {
            Arc::new(JsSessionSink {
                waiting: Mutex::new((Vec::new(), false)),
                wake,
            })
        });
        *self
            .session_ends
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = sink.clone();
        self.inner
            .reports
            .set(sink.map(|s| s as Arc<dyn SessionSink>));
    }

    /// The session ends waiting (JS was woken with their number), oldest first.
    #[napi(catch_unwind)]
    pub fn take_session_ends(&self) -> Vec<SessionEnded> {
        let sink = self
            .session_ends
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        sink.map_or_else(Vec::new, |s| s.take())
    }

    /// Session ends the engine reported to JS, ever (none while nobody asked).
    #[napi(getter, catch_unwind)]
    pub fn session_ends_reported(&self) -> f64 {
        self.inner.reports.reported.load(Ordering::Relaxed) as f64
    }
}
