//! Reading the pool without stopping it: `stats()` and `snapshot()`.

use super::shard::{ConnId, ConnState, DestId, DestState};
use super::stats::StatsSnapshot;
use super::Pool;
use crate::clock::now_ms;
use crate::redact::redact;
use crate::sync::lock;
use std::sync::atomic::Ordering;

/// One destination's view for `snapshot()`.
#[derive(Clone, Debug)]
pub struct DestSnapshot {
    pub destination: String,
    /// JS's connection profile of the destination ("" for plain connections).
    pub profile: String,
    pub open: u32,
    pub idle: u32,
    pub in_use: u32,
    pub dialing: u32,
    pub waiting: u32,
    pub connections: Vec<ConnSnapshot>,
}

#[derive(Clone, Debug)]
pub struct ConnSnapshot {
    pub id: ConnId,
    pub state: &'static str,
    pub age_ms: u64,
    pub idle_ms: u64,
    pub uses: u64,
}

/// Adds one destination's gauges (open, closing, idle, in use, dialing, waiting) to `s`, and
/// returns its (idle, dialing): `stats()` and `metrics()` count a destination the same way.
pub(super) fn add_gauges(s: &mut StatsSnapshot, ds: &DestState) -> (u32, u32) {
    let idle = (ds.idle.len() + ds.native_idle.len()) as u32;
    let dialing = ds.dialing + ds.native_dialing;
    s.open += u64::from(idle + ds.in_use + dialing);
    s.closing += u64::from(ds.open - idle - ds.in_use - dialing);
    s.idle += u64::from(idle);
    s.in_use += u64::from(ds.in_use);
    s.dialing += u64::from(dialing);
    s.waiting += ds.waiters.len() as u64;
    (idle, dialing)
}

impl Pool {
    pub fn stats(&self) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        let mut hits = 0;
        let mut handoffs = 0;
        for shard in self.shards.iter() {
            let shard = lock(shard);
            hits += shard.hits;
            for (_, ds) in shard.dests() {
                handoffs += ds.handoff_reuses;
                add_gauges(&mut s, ds);
            }
        }
        // Native sessions waiting for a place are acquires queued too.
        s.waiting += u64::from(self.native_waiting.load(Ordering::Relaxed));
        handoffs += self.forgotten_handoffs.load(Ordering::Relaxed);
        self.counters.fill(&mut s, hits, handoffs);
        s
    }

    /// Every destination the pool holds something for, oldest first (a destination that
    /// holds nothing is forgotten at the next sweep and is not listed from then on).
    pub fn snapshot(&self) -> Vec<DestSnapshot> {
        let now = now_ms();
        let mut out: Vec<(DestId, DestSnapshot)> = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            let first = out.len();
            for (id, ds) in shard.dests() {
                out.push((
                    id,
                    DestSnapshot {
                        destination: redact(&ds.target.to_string()),
                        profile: ds.profile.to_string(),
                        open: ds.open,
                        idle: (ds.idle.len() + ds.native_idle.len()) as u32,
                        in_use: ds.in_use,
                        dialing: ds.dialing + ds.native_dialing,
                        waiting: ds.waiters.len() as u32,
                        connections: Vec::new(),
                    },
                ));
            }
            let mine = &mut out[first..];
            mine.sort_unstable_by_key(|(id, _)| *id);
            for (id, conn) in shard.conns() {
                let Ok(at) = mine.binary_search_by_key(&conn.dest, |(d, _)| *d) else {
                    continue;
                };
                let dest = &mut mine[at].1;
                let state = match conn.state {
                    ConnState::Dialing
                    | ConnState::Delivered(_)
                    | ConnState::Adopted
                    | ConnState::NativeDialing => "dialing",
                    ConnState::Idle | ConnState::NativeIdle(_) => "idle",
                    ConnState::InUse => "inUse",
                    ConnState::NativeInUse => "forwarding",
                    ConnState::Closing => "closing",
                };
                dest.connections.push(ConnSnapshot {
                    id,
                    state,
                    age_ms: now.saturating_sub(conn.created_ms),
                    idle_ms: if state == "idle" {
                        now.saturating_sub(conn.released_ms)
                    } else {
                        0
                    },
                    uses: conn.uses,
                });
            }
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        out.into_iter().map(|(_, d)| d).collect()
    }

    /// Connections holding a place (idle, in use, dialing, closing): what `close()` waits to
    /// see reach 0. A lock per shard and no histogram, unlike `stats()`.
    /// How long a connection just taken from the idle list sat there, in ms (for a reuse
    /// check's context); None for an unknown connection.
    pub fn idle_ms(&self, id: ConnId) -> Option<u64> {
        let mut shard = self.shard(id);
        let conn = shard.conn_mut(id)?;
        Some(now_ms().saturating_sub(conn.released_ms))
    }

    pub fn open_count(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| {
                lock(shard)
                    .dests()
                    .map(|(_, ds)| u64::from(ds.open))
                    .sum::<u64>()
            })
            .sum()
    }
}
