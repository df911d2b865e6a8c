//! A resource pool's limits and timings. The JS facade validates user input; the engine
//! trusts these values.

use crate::contract::IdleOrder;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ResourceConfig {
    /// Kept alive in the background once the pool is started.
    pub min: u32,
    /// Every slot that exists counts: idle, in use, being created, being destroyed.
    pub max: u32,
    /// `u32::MAX`: unbounded.
    pub max_waiters: u32,
    pub order: IdleOrder,
    /// The default for acquires that name no timeout; `None`: wait forever.
    pub acquire_timeout: Option<Duration>,
    /// Idle longer: evicted, even below `min` (which is then refilled).
    pub idle_timeout: Option<Duration>,
    /// Idle longer while more than `min` resources exist: evicted.
    pub soft_idle_timeout: Option<Duration>,
    /// Older (less up to 2.5% jitter): destroyed when next released or found idle.
    pub max_lifetime: Option<Duration>,
    /// How often idle slots are examined for the three limits above.
    pub eviction_interval: Duration,
    /// Idle slots examined per sweep, least recently released first; `u32::MAX`: all.
    pub tests_per_eviction: u32,
    /// The first wait before `min` is refilled after a failed create; doubles with every
    /// failure in a row up to 10 s, and starts over after a create succeeds.
    pub create_backoff: Duration,
    /// What a failed create means for the waiters. `false` (berth's `ResourcePool`): the
    /// owner may reject the next waiter with the cause, and a create for the remaining
    /// waiters starts at once. `true` (generic-pool's contract, for `berth/generic-pool`):
    /// waiters stay queued, bounded by their deadlines, and creates for them are retried on
    /// the same backoff as `min` refills (no create for waiters starts while it runs), so
    /// a dead backend is not hammered.
    pub retry_for_waiters: bool,
}

impl Default for ResourceConfig {
    fn default() -> Self {
        ResourceConfig {
            min: 0,
            max: 10,
            max_waiters: 1024,
            order: IdleOrder::Lifo,
            acquire_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(30)),
            soft_idle_timeout: None,
            max_lifetime: None,
            eviction_interval: Duration::from_secs(1),
            tests_per_eviction: u32::MAX,
            create_backoff: Duration::from_millis(100),
            retry_for_waiters: false,
        }
    }
}

/// The longest wait between refill attempts.
pub(crate) const MAX_BACKOFF_MS: u64 = 10_000;
