//! The reuse path (`acquire`, `acquireWith`, `release`, `releaseChecked`) as raw Node-API
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

use crate::registry;
use berth_core::{Acquire, Placement};
use napi::sys;
use std::cell::Cell;
use std::ptr;
use std::time::Duration;

/// Slots in the argument block: enough for `acquireWith`'s four arguments.
const SLOTS: usize = 4;

thread_local! {
    /// This thread's argument block: memory the addon allocates once per JS thread and never
    /// frees (32 bytes), exposed to JS as an external ArrayBuffer. Owning it here rather than
    /// borrowing V8's memory means nothing JS does to the buffer (detaching it by a transfer,
    /// say) can leave the hot functions with a dangling pointer. Null until `hotIo` runs.
    /// Thread-local because every JS thread (main, workers) has its own env and its own
    /// buffer, and calls come only from that thread.
    static BLOCK: Cell<*mut f64> = const { Cell::new(ptr::null_mut()) };
    /// The reference that keeps this thread's buffer alive, to hand the same buffer to every
    /// load of the module in this thread.
    static BUFFER: Cell<sys::napi_ref> = const { Cell::new(ptr::null_mut()) };
}

/// The argument block, or None before `hotIo` ran.
fn block() -> Option<*mut f64> {
    let p = BLOCK.with(Cell::get);
    (!p.is_null()).then_some(p)
}

/// Reads slot `i` (< SLOTS).
///
/// # Safety
/// `block` must come from `block()` on this thread, and no JS may run during the call (true
/// of every hot function: none calls back into JS).
unsafe fn get(block: *mut f64, i: usize) -> f64 {
    debug_assert!(i < SLOTS);
    // SAFETY: the block holds SLOTS f64s, is aligned for f64 and is never freed; JS, the only
    // other user, is not running.
    unsafe { block.add(i).read() }
}

/// Writes the result into slot 0.
///
/// # Safety
/// As `get`.
unsafe fn set_result(block: *mut f64, value: f64) {
    // SAFETY: as in `get`.
    unsafe { block.write(value) }
}

/// Splits a key: `engine handle * 2^32 + id`, one number instead of two slots.
fn split_key(key: f64) -> Option<(u32, u32)> {
    // The cast saturates (NaN to 0); the round trip rejects fractions, negatives and NaN
    // without calling libm.
    let int = key as u64;
    if int as f64 != key || int >= 1 << 53 {
        return None;
    }
    Some(((int >> 32) as u32, int as u32))
}

/// `hotIo()`: the ArrayBuffer (4 doubles) the hot functions read their arguments from and
/// write their result to. The same buffer for every call in this thread.
pub unsafe extern "C" fn hot_io(
    env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    let mut buffer = ptr::null_mut();
    let existing = BUFFER.with(Cell::get);
    if !existing.is_null() {
        // SAFETY: `existing` is a live reference created below in this env's thread.
        unsafe { sys::napi_get_reference_value(env, existing, &mut buffer) };
        return buffer;
    }
    // Leaked on purpose: the block must outlive every buffer over it, and a JS thread loads
    // the addon once.
    let block: *mut f64 = Box::leak(Box::new([0f64; SLOTS])).as_mut_ptr();
    let mut reference = ptr::null_mut();
    // SAFETY: env is the running callback's; `block` is valid for SLOTS * 8 bytes forever, so
    // no finalizer is needed; out-pointers are valid. On failure JS gets `undefined` and
    // refuses to load (see src/native.ts).
    unsafe {
        if sys::napi_create_external_arraybuffer(
            env,
            block.cast(),
            SLOTS * 8,
            None,
            ptr::null_mut(),
            &mut buffer,
        ) != sys::Status::napi_ok
            || sys::napi_create_reference(env, buffer, 1, &mut reference) != sys::Status::napi_ok
        {
            return ptr::null_mut();
        }
    }
    BUFFER.with(|b| b.set(reference));
    BLOCK.with(|b| b.set(block));
    buffer
}

/// `release()` with slot 0 = `engine * 2^32 + conn`: slot 0 becomes the waiter (>= 0) the
/// connection was handed to, -1 when it went idle, -2 when the caller must close it.
pub unsafe extern "C" fn release(
    _env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    release_with(false);
    ptr::null_mut()
}

/// `releaseChecked()`: as `release`, after a peek for bytes the lease left unread.
pub unsafe extern "C" fn release_checked(
    _env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    release_with(true);
    ptr::null_mut()
}

fn release_with(check: bool) {
    let Some(block) = block() else { return };
    // SAFETY: `block` is this thread's and no JS runs during the call.
    let key = unsafe { get(block, 0) };
    let placement = split_key(key)
        .and_then(|(pool, conn)| registry::with(pool, |p| p.release(conn, check)))
        .unwrap_or(Placement::Close);
    // SAFETY: as above.
    unsafe { set_result(block, crate::placement(placement)) };
}

/// `acquire` results other than a connection id (the caller knows the waiter token it passed).
const QUEUED: f64 = -1.0;
const QUEUE_FULL: f64 = -2.0;
/// A dead idle connection `id` comes back as `DEAD_BASE - id`.
const DEAD_BASE: f64 = -3.0;

/// `acquire()` with slot 0 = `engine * 2^32 + dest`, slot 1 = the caller's waiter token.
/// Slot 0 becomes a connection id (>= 0) on a hit; `QUEUED` when queued under the token
/// (priority 0, the pool's acquire timeout); `QUEUE_FULL`; `DEAD_BASE - id` for a dead idle
/// connection the caller must close before calling again; `QUEUE_FULL` also on bad arguments
/// (the facade validates first).
pub unsafe extern "C" fn acquire(
    _env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    if let Some(block) = block() {
        acquire_in(block, None);
    }
    ptr::null_mut()
}

/// `acquireWith()`: as `acquire`, with slot 2 = priority (an i32) and slot 3 = timeout in ms
/// (`Infinity`: wait forever).
pub unsafe extern "C" fn acquire_with(
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
        unsafe { set_result(block, QUEUE_FULL) };
    }
    ptr::null_mut()
}

/// The acquire both functions share: the key from slot 0, the waiter token from slot 1, the
/// given priority and timeout or the pool's defaults. Writes the result code into slot 0.
fn acquire_in(block: *mut f64, options: Option<(i32, Option<Duration>)>) {
    // SAFETY: `block` comes from `block()` on this thread and no JS runs during the call.
    let (key, waiter) = unsafe { (get(block, 0), get(block, 1)) };
    let acquired = split_key(key).and_then(|(pool, dest)| {
        registry::with(pool, |p| {
            let (priority, timeout) = options.unwrap_or((0, p.config().acquire_timeout));
            p.acquire(dest, waiter as u64, priority, timeout)
        })
    });
    // SAFETY: as above.
    unsafe { set_result(block, acquired_code(acquired)) };
}

fn acquired_code(acquired: Option<Acquire>) -> f64 {
    match acquired {
        Some(Acquire::Hit(id)) => f64::from(id),
        Some(Acquire::Dead(id)) => DEAD_BASE - f64::from(id),
        Some(Acquire::Queued(_)) => QUEUED,
        Some(Acquire::QueueFull | Acquire::UnknownDestination) | None => QUEUE_FULL,
    }
}

/// Defines the hot functions on the module's exports.
pub fn register(env: sys::napi_env, exports: sys::napi_value) -> napi::Result<()> {
    let functions: [(&str, sys::napi_callback); 5] = [
        ("hotIo", Some(hot_io)),
        ("acquire", Some(acquire)),
        ("acquireWith", Some(acquire_with)),
        ("release", Some(release)),
        ("releaseChecked", Some(release_checked)),
    ];
    for (name, callback) in functions {
        let mut function = ptr::null_mut();
        // SAFETY: env/exports are the module's, passed by napi-rs's module registration on
        // the JS thread; the name is valid UTF-8 of the given length.
        napi::check_status!(unsafe {
            sys::napi_create_function(
                env,
                name.as_ptr().cast(),
                name.len() as isize,
                callback,
                ptr::null_mut(),
                &mut function,
            )
        })?;
        // SAFETY: as above; `function` was just created.
        napi::check_status!(unsafe {
            sys::napi_set_named_property(
                env,
                exports,
                format!("{name}\0").as_ptr().cast(),
                function,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_key;

    #[test]
    fn keys_split_into_engine_and_id() {
        assert_eq!(split_key(3.0 * 4_294_967_296.0 + 17.0), Some((3, 17)));
        assert_eq!(split_key(0.0), Some((0, 0)));
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 9_007_199_254_740_992.0] {
            assert_eq!(split_key(bad), None, "{bad}");
        }
    }
}
