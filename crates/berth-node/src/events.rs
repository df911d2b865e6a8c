//! Engine events delivered to JS through a weak (unref'd) threadsafe function.

use berth_core::contract::events;
use berth_core::group::MemberChange;
use berth_core::net::DialOrder;
use berth_core::pool::{Event, EventSink};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use std::sync::Arc;

/// `kind` (berth_core::contract::events): `DIALED` (`id` = connection, `dest`), `DIAL_FAILED`
/// (`id` = connection, `dest`, `code`, `message`), `EVICT` (`id` = connection, `reason`),
/// `WAITER_TIMED_OUT` (`id` = waiter), `DIAL_ORDER` (`id` = connection, `dest`, `addresses`), `MEMBER_UP` / `MEMBER_DOWN` / `MEMBER_CHECK` (`id` =
/// group, `dest` = member), `MEMBER_EJECTED` (the same, `reason` = ms ejected for).
#[napi(object)]
pub struct EngineEvent {
    pub kind: u32,
    pub id: f64,
    pub dest: f64,
    pub reason: u32,
    pub code: Option<String>,
    pub message: Option<String>,
    /// `DIALED` / `DIAL_FAILED`: how long the connect took (ms); `DIAL_ORDER`: how long
    /// resolving took; 0 otherwise.
    pub ms: f64,
    /// `DIAL_ORDER`: where to connect, in order: `ip:port` / `[v6%scope]:port`, or
    /// `unix:/path` (one entry).
    pub addresses: Option<Vec<String>>,
}

/// Weak: the function does not keep the event loop alive unless the facade refs it.
pub type EventCallback = ThreadsafeFunction<EngineEvent, (), EngineEvent, Status, false, true>;

pub struct JsSink(pub Arc<EventCallback>);

impl EventSink for JsSink {
    fn emit(&self, event: Event) -> bool {
        let event = match event {
            Event::Dialed { conn, dest, us } => EngineEvent {
                kind: events::DIALED,
                id: f64::from(conn),
                dest: dest as f64,
                reason: 0,
                code: None,
                message: None,
                ms: us as f64 / 1000.0,
                addresses: None,
            },
            Event::DialFailed {
                conn,
                dest,
                error,
                us,
            } => EngineEvent {
                kind: events::DIAL_FAILED,
                id: f64::from(conn),
                dest: dest as f64,
                reason: 0,
                code: Some(error.code.as_str().to_owned()),
                message: Some(error.message),
                ms: us as f64 / 1000.0,
                addresses: None,
            },
            Event::DialOrder {
                conn,
                dest,
                order,
                us,
            } => EngineEvent {
                kind: events::DIAL_ORDER,
                id: f64::from(conn),
                dest: dest as f64,
                reason: 0,
                code: None,
                message: None,
                ms: us as f64 / 1000.0,
                addresses: Some(match order {
                    DialOrder::Tcp(addrs) => addrs.iter().map(ToString::to_string).collect(),
                    DialOrder::Unix(path) => vec![format!("unix:{}", path.display())],
                }),
            },
            Event::Evict { conn, reason } => EngineEvent {
                kind: events::EVICT,
                id: f64::from(conn),
                dest: 0.0,
                reason: reason.code(),
                code: None,
                message: None,
                ms: 0.0,
                addresses: None,
            },
            Event::Member {
                group,
                dest,
                change,
            } => {
                let (kind, ms) = match change {
                    MemberChange::Up => (events::MEMBER_UP, 0),
                    MemberChange::Down => (events::MEMBER_DOWN, 0),
                    MemberChange::Ejected(ms) => (events::MEMBER_EJECTED, ms),
                    MemberChange::Check => (events::MEMBER_CHECK, 0),
                };
                EngineEvent {
                    kind,
                    id: f64::from(group),
                    dest: dest as f64,
                    reason: u32::try_from(ms).unwrap_or(u32::MAX),
                    code: None,
                    message: None,
                    ms: 0.0,
                    addresses: None,
                }
            }
            Event::WaiterTimedOut { waiter } => EngineEvent {
                kind: events::WAITER_TIMED_OUT,
                id: waiter as f64,
                dest: 0.0,
                reason: 0,
                code: None,
                message: None,
                ms: 0.0,
                addresses: None,
            },
        };
        self.0.call(event, ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok
    }
}

/// Refs (`keep`) or unrefs a threadsafe function: whether it keeps the event loop alive. A
/// no-op once the function is aborted (its env is going away).
pub(crate) fn set_ref(
    env: &napi::Env,
    raw: napi::sys::napi_threadsafe_function,
    aborted: bool,
    keep: bool,
) -> napi::Result<()> {
    if aborted {
        return Ok(());
    }
    // SAFETY: called on the JS thread that created the function, with its env; the caller
    // passes the raw handle of a function that is not aborted and outlives the call.
    napi::check_status!(unsafe {
        if keep {
            napi::sys::napi_ref_threadsafe_function(env.raw(), raw)
        } else {
            napi::sys::napi_unref_threadsafe_function(env.raw(), raw)
        }
    })
}
