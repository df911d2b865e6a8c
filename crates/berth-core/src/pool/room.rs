//! Room under `maxTotal`: destinations starved by the cap, and closing the least recently
//! used idle connection elsewhere to make room for them.

use super::events::Event;
use super::shard::{ConnId, DestId};
use super::Pool;
use crate::contract::EvictReason;
use crate::sync::lock;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Pool {
    pub(crate) fn mark_starved(&self, dest: DestId) {
        let mut starved = lock(&self.starved);
        if !starved.contains(&dest) {
            starved.push_back(dest);
        }
        self.has_starved.store(true, Ordering::Relaxed);
    }

    /// `dest` needs room under maxTotal: close the least recently used idle connection of
    /// another destination (as HTTP clients and HAProxy do), JS's or the engine's own. JS
    /// closes its own; a native one is closed here, at once.
    pub(crate) fn make_room(self: &Arc<Self>, dest: DestId) {
        // Found in one pass over the shards, taken under its shard's lock in a second; a
        // connection leased or evicted in between is skipped and the search runs again.
        for _ in 0..4 {
            let Some((shard_index, id, native)) = self.least_recently_used_idle(dest) else {
                return;
            };
            let mut shard = lock(&self.shards[shard_index]);
            let Some((conn, ds)) = shard.conn_and_dest(id) else {
                continue;
            };
            let list = if native {
                &mut ds.native_idle
            } else {
                &mut ds.idle
            };
            let Some(pos) = list.iter().position(|&c| c == id) else {
                continue;
            };
            list.remove(pos);
            self.total_idle.fetch_sub(1, Ordering::Relaxed);
            self.counters.evicted(EvictReason::Idle);
            if native {
                self.remove_native(&mut shard, id);
                drop(shard);
                self.feed_starved();
                self.wake_native();
            } else {
                self.start_closing(conn);
                drop(shard);
                self.sink.emit(Event::Evict {
                    conn: id,
                    reason: EvictReason::Idle,
                });
            }
            return;
        }
    }

    /// The idle connection released longest ago in a destination other than `dest`: its
    /// shard, id, and whether the engine owns it. Each idle list is ordered by release, so
    /// only the front of each is compared.
    pub(super) fn least_recently_used_idle(&self, dest: DestId) -> Option<(usize, ConnId, bool)> {
        let mut best: Option<(u64, usize, ConnId, bool)> = None;
        for (index, shard) in self.shards.iter().enumerate() {
            let shard = lock(shard);
            for (d, ds) in shard.dests() {
                if d == dest {
                    continue;
                }
                let fronts = [(ds.idle.front(), false), (ds.native_idle.front(), true)];
                for (front, native) in fronts {
                    let Some(&id) = front else { continue };
                    let Some(conn) = shard.conn(id) else { continue };
                    if best.map_or(true, |(at, ..)| conn.released_ms < at) {
                        best = Some((conn.released_ms, index, id, native));
                    }
                }
            }
        }
        best.map(|(_, index, id, native)| (index, id, native))
    }

    /// Room appeared under maxTotal: let starved destinations dial, oldest first.
    pub(super) fn feed_starved(self: &Arc<Self>) {
        if !self.has_starved.load(Ordering::Relaxed) {
            return;
        }
        let dests: Vec<DestId> = {
            let mut starved = lock(&self.starved);
            self.has_starved.store(false, Ordering::Relaxed);
            starved.drain(..).collect()
        };
        for dest in dests {
            let mut shard = self.shard(dest);
            // pump re-marks the destination if it is still blocked.
            self.pump(&mut shard, dest);
        }
    }
}
