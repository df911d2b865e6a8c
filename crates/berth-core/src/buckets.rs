//! Prometheus histograms: counts per fixed upper bound, kept beside the log-linear
//! `Histogram` (which answers quantiles) because a Prometheus histogram's buckets must be the
//! same in every scrape and every process to be summed and compared.
//!
//! A sample costs two relaxed atomic adds (its bucket and the sum). Callers that cannot afford
//! even that per sample (reuse hits) keep a plain count and pass it as `zeros` when reading.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (µs) for waits and connects: 100 µs to 10 s, about 2.5x apart.
pub const LATENCY_BOUNDS_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// Upper bounds (µs) for proxied sessions: 1 ms to 1 hour.
pub const SESSION_BOUNDS_US: &[u64] = &[
    1_000,
    10_000,
    100_000,
    1_000_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    300_000_000,
    600_000_000,
    1_800_000_000,
    3_600_000_000,
];

pub struct FixedHistogram {
    bounds: &'static [u64],
    /// One per bound, plus the last for samples above every bound (`+Inf`); not cumulative.
    counts: Box<[AtomicU64]>,
    sum_us: AtomicU64,
}

/// A histogram read at one moment, in Prometheus's terms (seconds, cumulative counts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketsSnapshot {
    /// Upper bounds in seconds, ascending (`+Inf` is implied after the last).
    pub bounds: Vec<f64>,
    /// Samples at or below each bound, then the total (the `+Inf` bucket, `_count`).
    pub cumulative: Vec<u64>,
    /// Sum of the samples, in seconds.
    pub sum: f64,
}

impl FixedHistogram {
    pub fn new(bounds: &'static [u64]) -> Self {
        FixedHistogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn record_us(&self, us: u64) {
        self.record_weighted_us(us, 1);
    }

    /// Records a sample standing for `weight` samples (the others were not timed).
    pub fn record_weighted_us(&self, us: u64, weight: u64) {
        // `le` semantics: a sample equal to a bound belongs to that bound's bucket.
        let at = self.bounds.partition_point(|&b| b < us);
        self.counts[at].fetch_add(weight, Ordering::Relaxed);
        self.sum_us
            .fetch_add(us.saturating_mul(weight), Ordering::Relaxed);
    }

    /// Reads the histogram, counting `zeros` more samples of 0 µs (the lowest bucket).
    pub fn snapshot_with_zeros(&self, zeros: u64) -> BucketsSnapshot {
        let mut seen = zeros;
        let cumulative = self
            .counts
            .iter()
            .map(|c| {
                seen += c.load(Ordering::Relaxed);
                seen
            })
            .collect();
        BucketsSnapshot {
            bounds: self.bounds.iter().map(|&b| b as f64 / 1e6).collect(),
            cumulative,
            sum: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    pub fn snapshot(&self) -> BucketsSnapshot {
        self.snapshot_with_zeros(0)
    }
}

impl Default for FixedHistogram {
    fn default() -> Self {
        FixedHistogram::new(LATENCY_BOUNDS_US)
    }
}

/// Session durations (`SESSION_BOUNDS_US`), for structs that derive `Default`.
pub struct SessionHistogram(pub FixedHistogram);

impl Default for SessionHistogram {
    fn default() -> Self {
        SessionHistogram(FixedHistogram::new(SESSION_BOUNDS_US))
    }
}

impl std::fmt::Debug for FixedHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedHistogram")
            .field("buckets", &self.snapshot())
            .finish()
    }
}

impl std::fmt::Debug for SessionHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_with_le_semantics() {
        let h = FixedHistogram::new(&[10, 100]);
        h.record_us(10); // on the bound: first bucket
        h.record_us(11);
        h.record_weighted_us(1000, 3); // above every bound
        let s = h.snapshot_with_zeros(2);
        assert_eq!(s.bounds, vec![0.00001, 0.0001]);
        assert_eq!(s.cumulative, vec![3, 4, 7]);
        assert!((s.sum - 3021e-6).abs() < 1e-12, "{}", s.sum);
    }

    #[test]
    fn bounds_ascend() {
        for bounds in [LATENCY_BOUNDS_US, SESSION_BOUNDS_US] {
            assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
