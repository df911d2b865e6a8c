//! `metrics()`: every figure the pool's Prometheus families need, gathered in one call
//! (one lock per shard, like `stats()`), so that a scrape crosses into the engine once.
//! Naming, folding and rendering are the facade's (src/shared/metrics/).

use super::introspect::add_gauges;
use super::stats::{StatsSnapshot, DIAL_FAILURE_KINDS};
use super::Pool;
use crate::buckets::BucketsSnapshot;
use crate::error::DialErrorCode;
use crate::redact::redact;
use crate::sync::lock;
use std::sync::atomic::{AtomicU64, Ordering};

/// One destination's gauges (a group member's: with its group's name).
#[derive(Clone, Debug, PartialEq)]
pub struct DestGauges {
    /// As the engine writes it, any `user:pass@` masked.
    pub destination: String,
    /// The group the destination is a member of, or "".
    pub group: String,
    pub open: u32,
    pub idle: u32,
    pub in_use: u32,
    pub dialing: u32,
    pub waiting: u32,
}

/// One group member's state and ejections.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberGauge {
    pub group: String,
    pub member: String,
    /// "up", "down" or "ejected".
    pub state: &'static str,
    pub ejections: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolMetrics {
    /// `stats()`'s figures (its gauges and counters; its quantiles are left at 0).
    pub stats: StatsSnapshot,
    /// Connections handed out: leases to JS, and upstreams taken by native sessions.
    pub acquires: u64,
    /// Dial failures by code (every code, zeros included: `rate()` needs the series from 0).
    pub dial_failures: Vec<(&'static str, u64)>,
    pub forward_sessions: u64,
    pub forward_bytes_in: u64,
    pub forward_bytes_out: u64,
    /// Acquire waits (reuse hits as 0 s) and connect times, in seconds.
    pub acquire_wait: BucketsSnapshot,
    pub connect: BucketsSnapshot,
    pub destinations: Vec<DestGauges>,
    pub members: Vec<MemberGauge>,
}

/// The `code` label of each slot of `Counters::dial_failure_codes`.
pub fn dial_failure_code(at: usize) -> &'static str {
    DialErrorCode::ALL
        .get(at)
        .map_or("HANDSHAKE_FAILED", |c| c.as_str())
}

impl Pool {
    pub fn metrics(&self) -> PoolMetrics {
        let groups = self.member_groups();
        let mut m = PoolMetrics::default();
        let (mut hits, mut handoffs, mut fresh) = (0, 0, 0);
        let mut dests = Vec::new();
        for shard in self.shards().iter() {
            let shard = lock(shard);
            hits += shard.hits;
            for (id, ds) in shard.dests() {
                handoffs += ds.handoff_reuses;
                fresh += ds.handoff_fresh;
                let (idle, dialing) = add_gauges(&mut m.stats, ds);
                dests.push((
                    id,
                    DestGauges {
                        destination: redact(&ds.target.to_string()),
                        group: groups.get(&id).map_or_else(String::new, |g| g.to_string()),
                        open: idle + ds.in_use + dialing,
                        idle,
                        in_use: ds.in_use,
                        dialing,
                        waiting: ds.waiters.len() as u32 + ds.native_waiting,
                    },
                ));
            }
        }
        // Oldest first (ids are handed out in order): the facade keeps the first
        // `metricsMaxDestinations` labels, so which ones must not depend on shard order.
        dests.sort_unstable_by_key(|(id, _)| *id);
        m.destinations = dests.into_iter().map(|(_, d)| d).collect();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        m.stats.waiting += u64::from(get_u32(&self.native_waiting));
        handoffs += get(&self.forgotten_handoffs);
        fresh += get(&self.forgotten_fresh);
        let c = self.counters();
        c.fill_counts(&mut m.stats, hits, handoffs);
        m.acquires = hits + handoffs + fresh + get(&c.native_first_uses);
        m.dial_failures = (0..DIAL_FAILURE_KINDS)
            .map(|at| (dial_failure_code(at), get(&c.dial_failure_codes[at])))
            .collect();
        m.forward_sessions = get(&c.forward_sessions);
        m.forward_bytes_in = get(&c.forward_bytes_in);
        m.forward_bytes_out = get(&c.forward_bytes_out);
        m.acquire_wait = c.acquire_wait_buckets.snapshot_with_zeros(hits);
        m.connect = c.connect_buckets.snapshot();
        m.members = self.member_gauges();
        m
    }
}

fn get_u32(c: &std::sync::atomic::AtomicU32) -> u32 {
    c.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dial_failure_slot_has_a_code() {
        let codes: Vec<_> = (0..DIAL_FAILURE_KINDS).map(dial_failure_code).collect();
        assert_eq!(codes.last(), Some(&"HANDSHAKE_FAILED"));
        assert_eq!(codes[1], "CONNECT_REFUSED");
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
    }
}
