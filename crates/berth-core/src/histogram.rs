//! A lock-free latency histogram: log-linear buckets over microseconds, read without stopping
//! writers. Four sub-buckets per power of two keep quantiles within about 20% of the truth.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB_BITS: u32 = 2;
const SUB: usize = 1 << SUB_BITS;
/// Powers of two up to 2^40 µs (about 12 days) cover any wait worth measuring.
const BUCKETS: usize = 41 * SUB;

pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn bucket_of(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let msb = 63 - us.leading_zeros();
    let sub = ((us >> (msb - SUB_BITS)) as usize) & (SUB - 1);
    (((msb - SUB_BITS + 1) as usize) * SUB + sub).min(BUCKETS - 1)
}

/// The upper bound (µs) of a bucket: what a quantile landing in it reports.
fn upper_bound_of(bucket: usize) -> u64 {
    if bucket < SUB {
        return bucket as u64;
    }
    let group = (bucket / SUB) as u32 - 1 + SUB_BITS;
    let sub = (bucket % SUB) as u64;
    ((SUB as u64 + sub + 1) << (group - SUB_BITS)) - 1
}

impl Histogram {
    pub fn record_us(&self, us: u64) {
        self.record_weighted_us(us, 1);
    }

    /// Records a sample standing for `weight` samples (the others were not timed).
    pub fn record_weighted_us(&self, us: u64, weight: u64) {
        self.counts[bucket_of(us)].fetch_add(weight, Ordering::Relaxed);
    }

    /// Quantiles in milliseconds, e.g. `&[0.5, 0.99]`; zeros when nothing was recorded.
    pub fn quantiles_ms(&self, qs: &[f64]) -> Vec<f64> {
        self.quantiles_ms_with_zeros(0, qs)
    }

    /// Quantiles counting `zeros` more samples of 0 µs, kept elsewhere by callers that cannot
    /// afford an atomic per sample.
    pub fn quantiles_ms_with_zeros(&self, zeros: u64, qs: &[f64]) -> Vec<f64> {
        let mut counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        counts[0] += zeros;
        let total: u64 = counts.iter().sum();
        qs.iter()
            .map(|q| {
                if total == 0 {
                    return 0.0;
                }
                let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
                let mut seen = 0;
                for (bucket, count) in counts.iter().enumerate() {
                    seen += count;
                    if seen >= rank {
                        return upper_bound_of(bucket) as f64 / 1000.0;
                    }
                }
                upper_bound_of(BUCKETS - 1) as f64 / 1000.0
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounds_contain_values() {
        let mut last = 0;
        for us in [
            0u64,
            1,
            3,
            4,
            5,
            7,
            8,
            100,
            1000,
            12345,
            10_000_000,
            u64::MAX / 2,
        ] {
            let b = bucket_of(us);
            assert!(b >= last);
            last = b;
            if b < BUCKETS - 1 {
                assert!(upper_bound_of(b) >= us, "{us} in bucket {b}");
            }
        }
    }

    #[test]
    fn quantiles_are_close() {
        let h = Histogram::default();
        for us in 1..=1000 {
            h.record_us(us * 1000);
        }
        let q = h.quantiles_ms(&[0.5, 0.99]);
        assert!((q[0] - 500.0).abs() / 500.0 < 0.25, "{q:?}");
        assert!((q[1] - 990.0).abs() / 990.0 < 0.25, "{q:?}");
        assert_eq!(Histogram::default().quantiles_ms(&[0.5]), vec![0.0]);
        // 3000 extra zero samples pull the median to 0 and leave p99 in the recorded range.
        let q = h.quantiles_ms_with_zeros(3000, &[0.5, 0.99]);
        assert_eq!(q[0], 0.0);
        assert!(q[1] > 800.0, "{q:?}");
    }
}
