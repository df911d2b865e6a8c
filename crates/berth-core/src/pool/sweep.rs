//! The pool's side of its timer task: acquire deadlines and the idle/lifetime sweep.

use super::events::Event;
use super::stats::Counters;
use super::timers::Timed;
use super::Pool;
use crate::contract::EvictReason;
use crate::deadlines::Deadlines;
use crate::sync::lock;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Timed for Pool {
    fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// Rejects waiters whose deadline passed; returns the next deadline (ms), if any.
    fn expire_waiters(&self, now: u64) -> Option<u64> {
        let earliest = self.deadlines.take()?;
        if earliest > now {
            self.deadlines.keep(earliest);
            return self.deadlines.earliest();
        }
        let mut expired = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for (_, ds) in shard.dests_mut() {
                if ds.waiters.is_empty() {
                    continue;
                }
                let (gone, next) = ds.waiters.expire(now);
                expired.extend(gone.into_iter().map(|w| w.id));
                if let Some(next) = next {
                    self.deadlines.keep(next);
                }
            }
        }
        for waiter in expired {
            Counters::bump(&self.counters.acquire_timeouts);
            self.sink.emit(Event::WaiterTimedOut { waiter });
        }
        self.deadlines.earliest()
    }

    /// Evicts idle connections past their idle timeout or lifetime.
    fn sweep(self: &Arc<Self>, now: u64) {
        let idle_limit = self.config.idle_timeout.map(|d| d.as_millis() as u64);
        let mut evicted = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let mut expired = Vec::new();
            for (_, ds) in shard.dests() {
                for &id in &ds.idle {
                    expired.push(id);
                }
            }
            for id in expired {
                let Some((conn, ds)) = shard.conn_and_dest(id) else {
                    continue;
                };
                let reason = if now >= conn.expires_ms {
                    EvictReason::Lifetime
                } else if idle_limit.is_some_and(|l| now.saturating_sub(conn.released_ms) >= l) {
                    EvictReason::Idle
                } else {
                    continue;
                };
                if let Some(pos) = ds.idle.iter().position(|&c| c == id) {
                    ds.idle.remove(pos);
                    self.total_idle.fetch_sub(1, Ordering::Relaxed);
                }
                self.start_closing(conn);
                self.counters.evicted(reason);
                evicted.push((id, reason));
            }
        }
        for (conn, reason) in evicted {
            self.sink.emit(Event::Evict { conn, reason });
        }
        self.sweep_native(now, idle_limit);
        let any_unused = self
            .shards
            .iter()
            .any(|s| lock(s).dests().any(|(_, ds)| ds.is_unused()));
        if any_unused {
            self.forget_unused();
        }
    }
}
