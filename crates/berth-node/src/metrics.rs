//! `metrics()`'s gather as plain JS objects (mapped from `berth_core::pool::PoolMetrics`;
//! the facade names, folds and renders them).

use crate::stats::PoolStats;
use berth_core::buckets::BucketsSnapshot;
use berth_core::pool::{DestGauges, MemberGauge, PoolMetrics};
use napi_derive::napi;

/// A Prometheus histogram: upper bounds in seconds, cumulative counts (one more than
/// `bounds`: the last is `+Inf`, the total), the sum in seconds.
#[napi(object)]
pub struct EngineBuckets {
    pub bounds: Vec<f64>,
    pub cumulative: Vec<f64>,
    pub sum: f64,
}

impl From<BucketsSnapshot> for EngineBuckets {
    fn from(b: BucketsSnapshot) -> Self {
        EngineBuckets {
            bounds: b.bounds,
            cumulative: b.cumulative.into_iter().map(|n| n as f64).collect(),
            sum: b.sum,
        }
    }
}

#[napi(object)]
pub struct EngineDestGauges {
    pub destination: String,
    pub group: String,
    pub open: u32,
    pub idle: u32,
    pub in_use: u32,
    pub dialing: u32,
    pub waiting: u32,
}

#[napi(object)]
pub struct EngineMemberGauge {
    pub group: String,
    pub member: String,
    pub state: String,
    pub ejections: f64,
}

#[napi(object)]
pub struct EngineCodeCount {
    pub code: String,
    pub count: f64,
}

#[napi(object)]
pub struct EnginePoolMetrics {
    pub stats: PoolStats,
    pub acquires: f64,
    pub dial_failures: Vec<EngineCodeCount>,
    pub forward_sessions: f64,
    pub forward_bytes_in: f64,
    pub forward_bytes_out: f64,
    pub acquire_wait: EngineBuckets,
    pub connect: EngineBuckets,
    pub destinations: Vec<EngineDestGauges>,
    pub members: Vec<EngineMemberGauge>,
}

impl From<PoolMetrics> for EnginePoolMetrics {
    fn from(m: PoolMetrics) -> Self {
        EnginePoolMetrics {
            stats: m.stats.into(),
            acquires: m.acquires as f64,
            dial_failures: m
                .dial_failures
                .into_iter()
                .map(|(code, n)| EngineCodeCount {
                    code: code.to_owned(),
                    count: n as f64,
                })
                .collect(),
            forward_sessions: m.forward_sessions as f64,
            forward_bytes_in: m.forward_bytes_in as f64,
            forward_bytes_out: m.forward_bytes_out as f64,
            acquire_wait: m.acquire_wait.into(),
            connect: m.connect.into(),
            destinations: m
                .destinations
                .into_iter()
                .map(|d: DestGauges| EngineDestGauges {
                    destination: d.destination,
                    group: d.group,
                    open: d.open,
                    idle: d.idle,
                    in_use: d.in_use,
                    dialing: d.dialing,
                    waiting: d.waiting,
                })
                .collect(),
            members: m
                .members
                .into_iter()
                .map(|g: MemberGauge| EngineMemberGauge {
                    group: g.group,
                    member: g.member,
                    state: g.state.to_owned(),
                    ejections: g.ejections as f64,
                })
                .collect(),
        }
    }
}
