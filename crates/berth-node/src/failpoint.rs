//! Deliberate panics, for the tests that prove a panic in the binding becomes a thrown JS
//! Error instead of aborting Node: one through napi-rs's `catch_unwind` (every `#[napi]`
//! function and method carries it) and one through the raw functions' `guard`. Not part of
//! the public API (the facade never calls them).

use crate::hot_io::raw_fn;
use napi::sys;
use napi_derive::napi;

/// Panics inside a `#[napi(catch_unwind)]` function. (Unused in cargo test builds, where
/// napi-rs registers nothing.)
#[cfg_attr(test, allow(dead_code))]
#[napi(catch_unwind, js_name = "__panicForTest")]
pub fn panic_for_test() {
    panic!("deliberate panic (test of the binding's panic guard)");
}

/// Panics inside a raw Node-API function, as the hot path's are built.
unsafe fn panic_raw_body(_env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    panic!("deliberate panic (test of the raw functions' panic guard)");
}
raw_fn!(panic_raw => panic_raw_body);
