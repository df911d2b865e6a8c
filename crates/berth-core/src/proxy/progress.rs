//! One relay direction's progress: its byte count and the session's last activity, updated
//! as bytes move (by the copy loop and by splice alike).

use crate::clock::now_ms;
use std::sync::atomic::{AtomicU64, Ordering};

/// What one direction updates as bytes move: its byte count and the session's activity time.
pub(crate) struct Progress<'a> {
    pub(super) bytes: &'a AtomicU64,
    pub(super) active: &'a AtomicU64,
}

impl Progress<'_> {
    /// Bytes were read (not yet written): the session is not idle.
    pub(crate) fn read(&self) {
        self.active.store(now_ms(), Ordering::Relaxed);
    }

    /// `n` bytes were written to the destination.
    pub(crate) fn wrote(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.active.store(now_ms(), Ordering::Relaxed);
    }
}
