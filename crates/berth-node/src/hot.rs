//! The reuse path (`acquire`, `acquireWith`, `release`, `releaseChecked`) as raw Node-API
//! functions.
//!
//! napi-rs's generated wrappers guard every call (argument validation, receiver borrow
//! tracking, panic catching): measured here at 300 ns for a free function and 850 ns for a
//! method — more than the rest of an acquire/release cycle together. These two functions take
//! plain numbers (a pool handle and an id), so they need none of that: four Node-API calls
//! each, about 50 ns.

use crate::registry;
use berth_core::{Acquire, Placement};
use napi::sys;
use std::ptr;

/// The first `N` arguments of the running call; None when fewer were passed.
///
/// # Safety
/// `env` and `info` must be the values Node passed to the running callback.
unsafe fn args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Option<[sys::napi_value; N]> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    // SAFETY: argv has room for argc values; this/data are not requested.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    (status == sys::Status::napi_ok && argc >= N).then_some(argv)
}

/// # Safety
/// `env` must be the running callback's env and `value` one of its arguments.
unsafe fn as_i32(env: sys::napi_env, value: sys::napi_value) -> Option<i32> {
    let mut out = 0i32;
    // SAFETY: per the caller; a non-number yields an error status, not UB.
    (unsafe { sys::napi_get_value_int32(env, value, &mut out) } == sys::Status::napi_ok)
        .then_some(out)
}

/// # Safety
/// As `as_i32`.
unsafe fn as_f64(env: sys::napi_env, value: sys::napi_value) -> Option<f64> {
    let mut out = 0f64;
    // SAFETY: as in `as_i32`.
    (unsafe { sys::napi_get_value_double(env, value, &mut out) } == sys::Status::napi_ok)
        .then_some(out)
}

/// Splits a key: `engine handle * 2^32 + id`, one number instead of two arguments (each
/// argument costs a Node-API call to read).
fn split_key(key: f64) -> Option<(u32, u32)> {
    // The cast saturates (NaN to 0); the round trip rejects fractions, negatives and NaN
    // without calling libm.
    let int = key as u64;
    if int as f64 != key || int >= 1 << 53 {
        return None;
    }
    Some(((int >> 32) as u32, int as u32))
}

/// Reads the key the release functions take.
///
/// # Safety
/// `env` and `info` must be the values Node passed to the running callback.
unsafe fn one_key(env: sys::napi_env, info: sys::napi_callback_info) -> Option<(u32, u32)> {
    // SAFETY: forwarded from the caller.
    unsafe {
        let [key] = args::<1>(env, info)?;
        split_key(as_f64(env, key)?)
    }
}

/// # Safety
/// `env` must be the running callback's env.
unsafe fn number(env: sys::napi_env, value: f64) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: creating a number cannot fail with a valid env; on failure `out` stays null,
    // which Node reads as `undefined`.
    unsafe { sys::napi_create_double(env, value, &mut out) };
    out
}

/// `release(engine * 2^32 + conn)`: a waiter (>= 0) the connection was handed to, -1 when it
/// went idle, -2 when the caller must close it.
pub unsafe extern "C" fn release(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: env/info come straight from Node for this call.
    unsafe { release_with(env, info, false) }
}

/// `releaseChecked(engine * 2^32 + conn)`: as `release`, after a peek for bytes the lease left
/// unread.
pub unsafe extern "C" fn release_checked(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: env/info come straight from Node for this call.
    unsafe { release_with(env, info, true) }
}

/// # Safety
/// `env` and `info` must be the values Node passed to the running callback.
unsafe fn release_with(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    check: bool,
) -> sys::napi_value {
    // SAFETY: forwarded from the caller.
    let key = unsafe { one_key(env, info) };
    let placement = key.and_then(|(pool, conn)| registry::with(pool, |p| p.release(conn, check)));
    // SAFETY: as above.
    unsafe { number(env, crate::placement(placement.unwrap_or(Placement::Close))) }
}

/// Waiter ids are returned offset by this, above every connection id.
const WAITER_BASE: f64 = 4_294_967_296.0;

/// `acquire(engine * 2^32 + dest, waiter)`: a connection id (>= 0, < 2^32) on a hit;
/// `2^32 + waiter` when queued under the caller's `waiter` token (priority 0, the pool's
/// acquire timeout); -1 when the queue is full; `-2 - id` for a dead idle connection the caller
/// must close before calling again; -1 also on bad arguments (the facade validates first).
pub unsafe extern "C" fn acquire(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: env/info come straight from Node for this call.
    let parsed = unsafe {
        args::<2>(env, info).and_then(|[key, waiter]| {
            let (pool, dest) = split_key(as_f64(env, key)?)?;
            Some((pool, dest, as_f64(env, waiter)?))
        })
    };
    let acquired = parsed.and_then(|(pool, dest, waiter)| {
        registry::with(pool, |p| {
            p.acquire(dest, waiter as u64, 0, p.config().acquire_timeout)
        })
    });
    // SAFETY: as above.
    unsafe { number(env, acquired_code(acquired)) }
}

/// `acquireWith(engine * 2^32 + dest, waiter, priority, timeoutMs)`: as `acquire`, with the
/// caller's priority and timeout (`Infinity`: wait forever).
pub unsafe extern "C" fn acquire_with(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: env/info come straight from Node for this call.
    let parsed = unsafe {
        args::<4>(env, info).and_then(|[key, waiter, priority, timeout]| {
            let (pool, dest) = split_key(as_f64(env, key)?)?;
            Some((
                pool,
                dest,
                as_f64(env, waiter)?,
                as_i32(env, priority)?,
                as_f64(env, timeout)?,
            ))
        })
    };
    let acquired = parsed.and_then(|(pool, dest, waiter, priority, timeout_ms)| {
        let timeout = crate::config::millis(timeout_ms);
        registry::with(pool, |p| p.acquire(dest, waiter as u64, priority, timeout))
    });
    // SAFETY: as above.
    unsafe { number(env, acquired_code(acquired)) }
}

fn acquired_code(acquired: Option<Acquire>) -> f64 {
    match acquired {
        Some(Acquire::Hit(id)) => f64::from(id),
        Some(Acquire::Dead(id)) => -2.0 - f64::from(id),
        Some(Acquire::Queued(waiter)) => WAITER_BASE + waiter as f64,
        Some(Acquire::QueueFull | Acquire::UnknownDestination) | None => -1.0,
    }
}

/// Defines the hot functions on the module's exports.
pub fn register(env: sys::napi_env, exports: sys::napi_value) -> napi::Result<()> {
    let functions: [(&str, sys::napi_callback); 4] = [
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
