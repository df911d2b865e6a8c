//! The resource pool's one timer task: acquire deadlines, idle sweeps and `min` refills share
//! a single tokio sleep, woken early by a nearer deadline or a refill to plan.

use crate::clock::now_ms;
use crate::deadlines::Deadlines;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// What the timer task needs from its pool. The pool implements it, so that this loop never
/// names the pool it serves.
pub(super) trait Timed: Send + Sync + 'static {
    fn deadlines(&self) -> &Deadlines;
    /// Notified when a refill is to be planned (start, or a backoff that began).
    fn refill_wake(&self) -> &Notify;
    /// How often to sweep idle resources; `None`: no idle limit, so never.
    fn sweep_interval(&self) -> Option<Duration>;
    /// Rejects waiters whose deadline passed; returns the next deadline (ms), if any.
    fn expire_waiters(&self, now: u64) -> Option<u64>;
    /// Evicts idle resources past their limits.
    fn sweep(&self, now: u64);
    /// Starts the creates `min` (and waiters) need; returns when a held-back one may run.
    fn refill(&self, now: u64) -> Option<u64>;
}

pub(super) async fn run<P: Timed>(pool: Arc<P>, mut stop: watch::Receiver<bool>) {
    let interval = pool.sweep_interval();
    let sweep_ms = interval.map_or(1, |i| i.as_millis().max(1) as u64);
    let mut next_sweep = if interval.is_some() {
        now_ms() + sweep_ms
    } else {
        u64::MAX
    };
    loop {
        if *stop.borrow() {
            return;
        }
        let now = now_ms();
        let next_deadline = pool.expire_waiters(now);
        if now >= next_sweep {
            pool.sweep(now);
            next_sweep = now + sweep_ms;
        }
        let retry = pool.refill(now);
        let wake_at = [Some(next_sweep), next_deadline, retry]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(u64::MAX);
        pool.deadlines().plan_wake(wake_at);
        // A deadline added from now on notifies if it falls before the plan; one added while
        // the plan was being made is caught here.
        if pool.deadlines().earliest().is_some_and(|d| d < wake_at) {
            continue;
        }
        // At least 1 ms: the coarse clock may lag a deadline by a tick, and spinning helps no
        // one. With nothing planned, an hour: a notification comes first.
        let nap = Duration::from_millis(wake_at.saturating_sub(now_ms()).clamp(1, 3_600_000));
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = pool.deadlines().woken().notified() => {}
            _ = pool.refill_wake().notified() => {}
            _ = stop.wait_for(|closed| *closed) => return,
        }
    }
}
