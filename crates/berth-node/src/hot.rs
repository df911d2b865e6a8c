//! The reuse-hit path (`tryAcquire`, `release`) as raw Node-API functions.
//!
//! napi-rs's generated wrappers guard every call (argument validation, receiver borrow
//! tracking, panic catching): measured here at 300 ns for a free function and 850 ns for a
//! method — more than the rest of an acquire/release cycle together. These two functions take
//! plain numbers (a pool handle and an id), so they need none of that: four Node-API calls
//! each, about 50 ns.

use crate::registry;
use berth_core::{Checkout, Placement};
use napi::sys;
use std::ptr;

/// Reads the two u32 arguments every hot function takes; None when they are not numbers.
///
/// # Safety
/// `env` and `info` must be the values Node passed to the running callback.
unsafe fn two_u32(env: sys::napi_env, info: sys::napi_callback_info) -> Option<(u32, u32)> {
    let mut argc = 2usize;
    let mut argv = [ptr::null_mut(); 2];
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
    if status != sys::Status::napi_ok || argc < 2 {
        return None;
    }
    let (mut a, mut b) = (0u32, 0u32);
    // SAFETY: argv[0..2] were filled by napi_get_cb_info; the outputs are valid u32s.
    let ok = unsafe {
        sys::napi_get_value_uint32(env, argv[0], &mut a) == sys::Status::napi_ok
            && sys::napi_get_value_uint32(env, argv[1], &mut b) == sys::Status::napi_ok
    };
    ok.then_some((a, b))
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

/// `tryAcquire(pool, dest)`: a connection id (>= 0) on a hit, -1 on a miss, or `-2 - id`
/// for a dead idle connection the caller must close before trying again.
pub unsafe extern "C" fn try_acquire(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: env/info come straight from Node for this call.
    let args = unsafe { two_u32(env, info) };
    let checkout = args.and_then(|(pool, dest)| registry::with(pool, |p| p.try_acquire(dest)));
    let code = match checkout {
        Some(Checkout::Hit(id)) => f64::from(id),
        Some(Checkout::Dead(id)) => -2.0 - f64::from(id),
        Some(Checkout::Miss) | None => -1.0,
    };
    // SAFETY: as above.
    unsafe { number(env, code) }
}

/// `release(pool, conn)`: a waiter id (>= 0) the connection was handed to, -1 when it went
/// idle, -2 when the caller must close it.
pub unsafe extern "C" fn release(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: env/info come straight from Node for this call.
    unsafe { release_with(env, info, false) }
}

/// `releaseChecked(pool, conn)`: as `release`, after a peek for bytes the lease left unread.
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
    let args = unsafe { two_u32(env, info) };
    let placement = args.and_then(|(pool, conn)| registry::with(pool, |p| p.release(conn, check)));
    // SAFETY: as above.
    unsafe { number(env, crate::placement(placement.unwrap_or(Placement::Close))) }
}

/// Defines the hot functions on the module's exports.
pub fn register(env: sys::napi_env, exports: sys::napi_value) -> napi::Result<()> {
    let functions: [(&str, sys::napi_callback); 3] = [
        ("tryAcquire", Some(try_acquire)),
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
