//! A resource pool's figures, copied under its lock.

/// Gauges (what exists now) and counters (since the pool was made).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceStats {
    /// Idle + in use + being created (generic-pool's `size`).
    pub size: u64,
    pub idle: u64,
    pub in_use: u64,
    pub creating: u64,
    /// Being destroyed: still counted against `max` until reported gone.
    pub destroying: u64,
    pub waiting: u64,
    pub created: u64,
    pub destroyed: u64,
    /// Acquires served: idle hits and hand-offs to waiters.
    pub acquired: u64,
    /// Acquires served a resource that had been used before.
    pub reused: u64,
    pub create_failures: u64,
    pub timeouts: u64,
    pub evicted_idle: u64,
    pub evicted_lifetime: u64,
    /// Acquire waits in microseconds; a hit counts as a wait of 0.
    pub acquire_wait_p50_us: f64,
    pub acquire_wait_p99_us: f64,
    pub acquire_wait_max_us: f64,
}

impl ResourceStats {
    /// The acquire waits in milliseconds, as the owner reports them: p50, p99 and max. The
    /// quantiles come from histogram buckets and the maximum is exact, so no quantile is
    /// reported above it.
    pub fn acquire_wait_ms(&self) -> [f64; 3] {
        let max = self.acquire_wait_max_us;
        [
            self.acquire_wait_p50_us.min(max) / 1000.0,
            self.acquire_wait_p99_us.min(max) / 1000.0,
            max / 1000.0,
        ]
    }
}
