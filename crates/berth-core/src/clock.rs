//! A cheap monotonic clock in milliseconds.
//!
//! Idle times, lifetimes and the liveness-skip window need millisecond precision at most, and
//! the release path reads the clock on every call: `CLOCK_MONOTONIC_COARSE` costs a few
//! nanoseconds where `Instant::now()` costs about twenty.

use std::sync::OnceLock;
use std::time::Instant;

/// Milliseconds since the first call in this process (coarse: a few ms of resolution).
pub fn now_ms() -> u64 {
    coarse_ms().saturating_sub(*epoch())
}

fn epoch() -> &'static u64 {
    static EPOCH: OnceLock<u64> = OnceLock::new();
    EPOCH.get_or_init(coarse_ms)
}

#[cfg(target_os = "linux")]
fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on every Linux
    // since 2.6.32 and clock_gettime only writes into `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc != 0 {
        return fallback_ms();
    }
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
}

#[cfg(not(target_os = "linux"))]
fn coarse_ms() -> u64 {
    fallback_ms()
}

fn fallback_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}
