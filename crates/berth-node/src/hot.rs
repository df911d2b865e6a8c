//! The reuse path (`acquire`, `acquireWith`, `release`, `releaseWrote`) as raw Node-API
//! functions that take their arguments and leave their result in a small block of memory
//! shared with JS.
//!
//! napi-rs's generated wrappers guard every call (argument validation, receiver borrow
//! tracking, panic catching): measured here at 300 ns for a free function and 850 ns for a
//! method, more than the rest of an acquire/release cycle together. Even a bare Node-API
//! function pays about 10 ns per Node-API call it makes to read an argument or create its
//! result (and a heap number for results beyond 31 bits). So these functions take no
//! arguments: JS writes them into a `Float64Array` over the block, calls, and reads the
//! result from slot 0. The call itself makes no Node-API call at all.

use crate::hot_io::{as_id, block, define, get, hot_io, raw_fn, set_result, split_key};
use crate::registry::SOCKET_POOLS;
use berth_core::contract::codes;
use berth_core::pool::{Acquire, Placement};
use napi::bindgen_prelude::{Env, JsValue, Object};
use napi::sys;
use napi_derive::napi;
use std::ptr;
use std::time::Duration;

/// `release()` with slot 0 = `engine * 2^32 + conn`: slot 0 becomes the waiter (>= 0) the
/// connection was handed to, -1 when it went idle, -2 when the caller must close it.
unsafe fn release_body(_env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    release_with(false);
    ptr::null_mut()
}
raw_fn!(release => release_body);

/// `releaseWrote()`: as `release`, after a lease that wrote (see `Pool::release`).
unsafe fn release_wrote_body(
    _env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    release_with(true);
    ptr::null_mut()
}
raw_fn!(release_wrote => release_wrote_body);

fn release_with(wrote: bool) {
    let Some(block) = block() else { return };
    // SAFETY: `block` is this thread's and no JS runs during the call.
    let key = unsafe { get(block, 0) };
    let placed = split_key(key)
        .and_then(|(pool, conn)| SOCKET_POOLS.with(pool, |p| p.release(conn, wrote)))
        .unwrap_or(Placement::Close);
    // SAFETY: as above.
    unsafe { set_result(block, placement(placed)) };
}

/// `acquire()` with slot 0 = destination id, slot 1 = the caller's waiter token, slot 4 =
/// engine handle. Slot 0 becomes a connection id (>= 0) on a hit; `QUEUED` when queued under
/// the token (priority 0, the pool's acquire timeout); `QUEUE_FULL`; `UNKNOWN_DESTINATION`
/// (forgotten: intern again); `BAD_ARGUMENT` for an engine or id that is no number this
/// binding gave out; `DEAD_BASE - id` for a dead idle connection the caller must close before
/// calling again (codes: berth_core::contract::codes).
unsafe fn acquire_body(_env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    if let Some(block) = block() {
        acquire_in(block, None);
    }
    ptr::null_mut()
}
raw_fn!(acquire => acquire_body);

/// `acquireWith()`: as `acquire`, with slot 2 = priority (an i32) and slot 3 = timeout in ms
/// (`Infinity`: wait forever); `BAD_ARGUMENT` for a priority that is no i32 (the facade checks
/// it first).
unsafe fn acquire_with_body(
    _env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    let Some(block) = block() else {
        return ptr::null_mut();
    };
    // SAFETY: `block` is this thread's and no JS runs during the call.
    let (priority, timeout_ms) = unsafe { (get(block, 2), get(block, 3)) };
    if priority.fract() == 0.0 && (i32::MIN as f64..=i32::MAX as f64).contains(&priority) {
        acquire_in(
            block,
            Some((priority as i32, crate::config::millis(timeout_ms))),
        );
    } else {
        // SAFETY: as above.
        unsafe { set_result(block, f64::from(codes::BAD_ARGUMENT)) };
    }
    ptr::null_mut()
}
raw_fn!(acquire_with => acquire_with_body);

/// The acquire both functions share: the destination from slot 0, the waiter token from
/// slot 1, the engine from slot 4, the given priority and timeout or the pool's defaults.
/// Writes the result code into slot 0.
fn acquire_in(block: *mut f64, options: Option<(i32, Option<Duration>)>) {
    // SAFETY: `block` comes from `block()` on this thread and no JS runs during the call.
    let (dest, waiter, engine) = unsafe { (get(block, 0), get(block, 1), get(block, 4)) };
    let acquired = as_id(dest)
        .zip(as_id(engine).and_then(|e| u32::try_from(e).ok()))
        .and_then(|(dest, engine)| {
            SOCKET_POOLS.with(engine, |p| match options {
                Some((priority, timeout)) => p.acquire(dest, waiter as u64, priority, timeout),
                None => p.acquire_default(dest, waiter as u64),
            })
        });
    // SAFETY: as above.
    unsafe { set_result(block, acquired_code(acquired)) };
}

fn acquired_code(acquired: Option<Acquire>) -> f64 {
    match acquired {
        Some(Acquire::Hit(id)) => f64::from(id),
        Some(Acquire::Dead(id)) => f64::from(codes::DEAD_BASE) - f64::from(id),
        Some(Acquire::Queued(_)) => f64::from(codes::QUEUED),
        Some(Acquire::QueueFull) => f64::from(codes::QUEUE_FULL),
        Some(Acquire::UnknownDestination) => f64::from(codes::UNKNOWN_DESTINATION),
        None => f64::from(codes::BAD_ARGUMENT),
    }
}

/// Defines the hot functions on the module's exports.
pub fn register(env: sys::napi_env, exports: sys::napi_value) -> napi::Result<()> {
    define(
        env,
        exports,
        &[
            ("hotIo", Some(hot_io)),
            ("acquire", Some(acquire)),
            ("acquireWith", Some(acquire_with)),
            ("release", Some(release)),
            ("releaseWrote", Some(release_wrote)),
            ("__panicRawForTest", Some(crate::failpoint::panic_raw)),
        ],
    )
}

/// `release` / `offer` results: a waiter id (>= 0), `PLACED_IDLE` or `PLACED_CLOSE`.
pub(crate) fn placement(p: Placement) -> f64 {
    match p {
        Placement::Idle => f64::from(codes::PLACED_IDLE),
        Placement::Close => f64::from(codes::PLACED_CLOSE),
        Placement::Handoff(waiter) => waiter as f64,
    }
}

/// Adds the raw hot functions next to the generated exports.
#[napi(module_exports)]
pub fn init(exports: Object, env: Env) -> napi::Result<()> {
    register(env.raw(), exports.raw())?;
    crate::resource_hot::register(env.raw(), exports.raw())
}
