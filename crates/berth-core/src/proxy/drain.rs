//! A listener's graceful close (`close` with a drain): accepting stops at once, the sessions
//! in flight may finish by themselves until the drain's end, and those still running then are
//! cut. The report says how many of each.

use crate::proxy::session::Abort;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How a listener's sessions in flight ended once it began to close.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// Sessions that ended by themselves after the close began (within the drain).
    pub finished: u64,
    /// Sessions still in flight when the drain ended (or at once, without one): closed.
    pub cut: u64,
}

/// The close's bookkeeping.
#[derive(Default)]
pub(crate) struct Drain {
    /// Fired when the close begins: the accept loop stops, sessions go on.
    pub(crate) closing: Abort,
    /// Sessions that ended since the close began, cut ones included.
    ended: AtomicU64,
    /// Sessions in flight when they were cut; `None` until then.
    cut: Mutex<Option<u64>>,
}

impl Drain {
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.is_fired()
    }

    /// A session ended (counted only once the close began).
    pub(crate) fn session_ended(&self) {
        if self.closing.is_fired() {
            self.ended.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Records that the `active` sessions in flight now are being cut; true the first time
    /// only (the caller then ends them).
    pub(crate) fn cutting(&self, active: u64) -> bool {
        let mut cut = self.cut.lock().unwrap_or_else(|p| p.into_inner());
        if cut.is_some() {
            return false;
        }
        *cut = Some(active);
        true
    }

    /// Once every session has ended: how many finished and how many were cut.
    pub(crate) fn report(&self) -> CloseReport {
        let cut = self
            .cut
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(0);
        let ended = self.ended.load(Ordering::Acquire);
        CloseReport {
            finished: ended.saturating_sub(cut),
            cut,
        }
    }
}
