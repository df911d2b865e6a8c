//! The resource pool's reuse path (`resAcquire`, `resRelease`) as raw Node-API functions
//! over the same argument block as the socket pool's (see hot_io.rs): a hit or a release is
//! one call that makes no Node-API call, one registry lookup and one lock.

use crate::hot_io::{block, define, get, raw_fn, set, set_result, split_key};
use crate::registry::RESOURCE_POOLS;
use berth_core::contract::codes;
use berth_core::resource::{Placement as ResourcePlacement, Take};
use napi::sys;
use std::ptr;

/// `resAcquire()`: slot 0 = engine handle, slot 1 = the caller's waiter token (a
/// non-negative integer), slot 2 = priority (an i32), slot 3 = timeout in ms (`NaN`: the
/// pool's default, `Infinity`: none). Slot 0 becomes a slot id (>= 0) on a hit; `QUEUED`,
/// with slot 1 the slot to create now or -1; `QUEUE_FULL`; `BAD_ARGUMENT` (the facade
/// validates first); `CLOSED`; `EXPIRED_BASE - id` for an idle slot past its
/// lifetime, to destroy before calling again.
unsafe fn res_acquire_body(_env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    let Some(block) = block() else {
        return ptr::null_mut();
    };
    // SAFETY: `block` is this thread's and no JS runs during the call.
    let args = unsafe { [get(block, 0), get(block, 1), get(block, 2), get(block, 3)] };
    let (code, create) = acquire(args);
    // SAFETY: as above.
    unsafe {
        set_result(block, code);
        set(block, 1, create);
    }
    ptr::null_mut()
}
raw_fn!(res_acquire => res_acquire_body);

fn code(c: i32) -> f64 {
    f64::from(c)
}

fn acquire([handle, waiter, priority, timeout_ms]: [f64; 4]) -> (f64, f64) {
    // Casts saturate (NaN to 0); the round trips reject fractions, negatives, NaN and
    // out-of-range values without calling libm.
    let valid = handle as u32 as f64 == handle
        && waiter as u64 as f64 == waiter
        && priority as i32 as f64 == priority;
    let take = valid
        .then(|| {
            RESOURCE_POOLS.with(handle as u32, |p| {
                if timeout_ms.is_nan() {
                    p.acquire_default(waiter as u64, priority as i32)
                } else {
                    p.acquire(
                        waiter as u64,
                        priority as i32,
                        crate::config::millis(timeout_ms),
                    )
                }
            })
        })
        .flatten();
    match take {
        Some(Take::Hit(slot)) => (f64::from(slot), -1.0),
        Some(Take::Queued { create }) => (code(codes::QUEUED), create.map_or(-1.0, f64::from)),
        Some(Take::Expired(slot)) => (code(codes::EXPIRED_BASE) - f64::from(slot), -1.0),
        Some(Take::Closed) => (code(codes::CLOSED), -1.0),
        Some(Take::QueueFull) => (code(codes::QUEUE_FULL), -1.0),
        None => (code(codes::BAD_ARGUMENT), -1.0),
    }
}

/// `resRelease()` with slot 0 = `engine handle * 2^32 + slot`: slot 0 becomes the waiter
/// (>= 0) the resource was handed to, -1 when it went idle, -2 when the caller must destroy
/// it (then report `destroyed`), `NOT_BORROWED` when the slot is not borrowed.
unsafe fn res_release_body(_env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    let Some(block) = block() else {
        return ptr::null_mut();
    };
    // SAFETY: `block` is this thread's and no JS runs during the call.
    let key = unsafe { get(block, 0) };
    let placement = split_key(key)
        .and_then(|(pool, slot)| RESOURCE_POOLS.with(pool, |p| p.release(slot)))
        .flatten();
    // SAFETY: as above.
    unsafe {
        set_result(
            block,
            placement.map_or(code(codes::NOT_BORROWED), placement_code),
        )
    };
    ptr::null_mut()
}
raw_fn!(res_release => res_release_body);

/// `resGauges()` with slot 0 = engine handle: slots 0..4 become size, idle, in use and
/// waiting (all -1 for an unknown handle). The gauges' getters call it: `stats()` builds an
/// object of seventeen numbers through Node-API, a hundred times the cost.
unsafe fn res_gauges_body(_env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    let Some(block) = block() else {
        return ptr::null_mut();
    };
    // SAFETY: `block` is this thread's and no JS runs during the call.
    let handle = unsafe { get(block, 0) };
    let gauges = (handle >= 0.0 && handle.fract() == 0.0 && handle <= f64::from(u32::MAX))
        .then(|| RESOURCE_POOLS.with(handle as u32, |p| p.gauges()))
        .flatten();
    let values = gauges.map_or([-1.0; 4], |(size, idle, in_use, waiting)| {
        [size, idle, in_use, waiting].map(f64::from)
    });
    for (i, value) in values.into_iter().enumerate() {
        // SAFETY: as above; i < 4, the block's size.
        unsafe { set(block, i, value) };
    }
    ptr::null_mut()
}
raw_fn!(res_gauges => res_gauges_body);

/// Placement codes, as the socket pool's: a waiter id (>= 0), -1 idle, -2 destroy.
pub(crate) fn placement_code(p: ResourcePlacement) -> f64 {
    match p {
        ResourcePlacement::Handoff(waiter) => waiter as f64,
        ResourcePlacement::Idle => code(codes::PLACED_IDLE),
        ResourcePlacement::Destroy => code(codes::PLACED_CLOSE),
    }
}

/// Defines `resAcquire` and `resRelease` on the module's exports.
pub fn register(env: sys::napi_env, exports: sys::napi_value) -> napi::Result<()> {
    define(
        env,
        exports,
        &[
            ("resAcquire", Some(res_acquire)),
            ("resRelease", Some(res_release)),
            ("resGauges", Some(res_gauges)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_are_bad_argument() {
        for args in [
            [f64::NAN, 1.0, 0.0, f64::NAN],
            [1.5, 1.0, 0.0, f64::NAN],
            [0.0, -1.0, 0.0, f64::NAN],
            [0.0, 1.5, 0.0, f64::NAN],
            [0.0, 1.0, 0.5, f64::NAN],
            [0.0, 1.0, 3e9, f64::NAN],
            // No engine registered under this handle on this thread.
            [7.0, 1.0, 0.0, f64::NAN],
        ] {
            assert_eq!(acquire(args), (code(codes::BAD_ARGUMENT), -1.0), "{args:?}");
        }
    }

    #[test]
    fn placements_are_the_socket_pools_codes() {
        assert_eq!(placement_code(ResourcePlacement::Handoff(9)), 9.0);
        assert_eq!(placement_code(ResourcePlacement::Idle), -1.0);
        assert_eq!(placement_code(ResourcePlacement::Destroy), -2.0);
    }
}
