//! The pool's one timer task: acquire deadlines and the idle/lifetime sweep share a single
//! tokio sleep, woken early when a nearer deadline is queued.

use crate::clock::now_ms;
use crate::deadlines::Deadlines;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the timer task needs from its pool. The pool implements it (sweep.rs), so that this
/// loop never names the pool it serves.
pub(super) trait Timed: Send + Sync + 'static {
    fn deadlines(&self) -> &Deadlines;
    /// Rejects waiters whose deadline passed; returns the next deadline (ms), if any.
    fn expire_waiters(&self, now: u64) -> Option<u64>;
    /// Evicts idle connections past their idle timeout or lifetime.
    fn sweep(self: &Arc<Self>, now: u64);
}

pub(super) async fn run<P: Timed>(
    pool: Arc<P>,
    stop: &mut watch::Receiver<bool>,
    sweep_every: Duration,
) {
    let sweep_ms = sweep_every.as_millis().max(1) as u64;
    let mut next_sweep = now_ms() + sweep_ms;
    loop {
        let now = now_ms();
        let next_deadline = pool.expire_waiters(now);
        if now >= next_sweep {
            pool.sweep(now);
            next_sweep = now + sweep_ms;
        }
        let wake_at = next_deadline.map_or(next_sweep, |d| d.min(next_sweep));
        pool.deadlines().plan_wake(wake_at);
        // A deadline added from now on notifies if it falls before the plan; one added while
        // the plan was being made is caught here.
        if pool.deadlines().earliest().is_some_and(|d| d < wake_at) {
            continue;
        }
        // At least 1 ms: the coarse clock may lag a deadline by a tick, and spinning helps no one.
        let nap = Duration::from_millis(wake_at.saturating_sub(now_ms()).max(1));
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = pool.deadlines().woken().notified() => {}
            _ = stop.wait_for(|closed| *closed) => return,
        }
    }
}
