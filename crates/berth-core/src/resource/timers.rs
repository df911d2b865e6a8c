//! The resource pool's one timer task: acquire deadlines, idle sweeps and `min` refills share
//! a single tokio sleep, woken early by a nearer deadline or a refill to plan.

use super::pool::ResourcePool;
use crate::clock::now_ms;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub(crate) async fn run(pool: Arc<ResourcePool>, mut stop: watch::Receiver<bool>) {
    let sweep_ms = pool.config().eviction_interval.as_millis().max(1) as u64;
    let sweeps = pool.sweeps();
    let mut next_sweep = if sweeps {
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
