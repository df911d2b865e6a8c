//! The argument block the raw hot functions (hot.rs, resource_hot.rs) share with JS, and
//! the helpers to read it, write it and define those functions.
//!
//! JS writes a hot call's arguments into a `Float64Array` over this block, calls a raw
//! Node-API function that takes no arguments, and reads the result back from the block: the
//! call itself makes no Node-API call at all (see hot.rs for the measurements behind this).

use napi::sys;
use std::cell::Cell;
use std::ptr;

/// Runs a raw function's body. A panic in it (a bug: nothing input can reach should panic)
/// would otherwise abort Node, since it cannot unwind through the C frame: it becomes a
/// thrown JS Error instead, and the process goes on.
pub(crate) fn guard(env: sys::napi_env, body: impl FnOnce() -> sys::napi_value) -> sys::napi_value {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => {
            // SAFETY: env is the running callback's; the message is a NUL-terminated literal.
            unsafe {
                sys::napi_throw_error(
                    env,
                    ptr::null(),
                    c"berth: internal error in the native engine (a Rust panic, caught); please report it".as_ptr(),
                );
            }
            ptr::null_mut()
        }
    }
}

/// Defines `pub unsafe extern "C" fn $name`, the raw Node-API callback that runs `$body`
/// (an `unsafe fn(env, info) -> napi_value`) under `guard`.
macro_rules! raw_fn {
    ($name:ident => $body:ident) => {
        /// # Safety
        /// Called by Node-API only, on the JS thread, with the callback's own env and info.
        pub unsafe extern "C" fn $name(
            env: napi::sys::napi_env,
            info: napi::sys::napi_callback_info,
        ) -> napi::sys::napi_value {
            // SAFETY: forwarded as received from Node-API.
            $crate::hot_io::guard(env, || unsafe { $body(env, info) })
        }
    };
}
pub(crate) use raw_fn;

/// Slots in the argument block: enough for `acquireWith`'s five arguments.
pub(crate) const SLOTS: usize = 5;

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
pub(crate) fn block() -> Option<*mut f64> {
    let p = BLOCK.with(Cell::get);
    (!p.is_null()).then_some(p)
}

/// Reads slot `i` (< SLOTS).
///
/// # Safety
/// `block` must come from `block()` on this thread, and no JS may run during the call (true
/// of every hot function: none calls back into JS).
pub(crate) unsafe fn get(block: *mut f64, i: usize) -> f64 {
    debug_assert!(i < SLOTS);
    // SAFETY: the block holds SLOTS f64s, is aligned for f64 and is never freed; JS, the only
    // other user, is not running.
    unsafe { block.add(i).read() }
}

/// Writes the result into slot 0.
///
/// # Safety
/// As `get`.
pub(crate) unsafe fn set_result(block: *mut f64, value: f64) {
    // SAFETY: as in `get`.
    unsafe { block.write(value) }
}

/// Writes slot `i` (< SLOTS): a second result.
///
/// # Safety
/// As `get`.
pub(crate) unsafe fn set(block: *mut f64, i: usize, value: f64) {
    debug_assert!(i < SLOTS);
    // SAFETY: as in `get`.
    unsafe { block.add(i).write(value) }
}

/// Splits a key: `engine handle * 2^32 + id`, one number instead of two slots.
pub(crate) fn split_key(key: f64) -> Option<(u32, u32)> {
    // The cast saturates (NaN to 0); the round trip rejects fractions, negatives and NaN
    // without calling libm.
    let int = key as u64;
    if int as f64 != key || int >= 1 << 53 {
        return None;
    }
    Some(((int >> 32) as u32, int as u32))
}

/// An id JS holds as a number: an integer from 0 to 2^53 - 1, or None.
pub(crate) fn as_id(value: f64) -> Option<u64> {
    let int = value as u64;
    (int as f64 == value && int < 1 << 53).then_some(int)
}

/// `hotIo()`: the ArrayBuffer (SLOTS doubles) the hot functions read their arguments from and
/// write their result to. The same buffer for every call in this thread.
unsafe fn hot_io_body(env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
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
raw_fn!(hot_io => hot_io_body);

/// Defines raw functions on the module's exports.
pub(crate) fn define(
    env: sys::napi_env,
    exports: sys::napi_value,
    functions: &[(&str, sys::napi_callback)],
) -> napi::Result<()> {
    for &(name, callback) in functions {
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
