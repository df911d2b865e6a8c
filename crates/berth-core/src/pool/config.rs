//! Pool limits and timings. The JS facade validates user input; the core trusts these values.

use crate::contract::IdleOrder;
use crate::net::policy::AddressPolicy;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub max_per_destination: u32,
    pub max_idle_per_destination: u32,
    pub max_total: u32,
    pub max_total_idle: u32,
    pub max_waiters: u32,
    pub max_concurrent_dials: u32,
    /// `None`: idle connections never time out.
    pub idle_timeout: Option<Duration>,
    /// `None`: connections live forever.
    pub max_lifetime: Option<Duration>,
    pub connect_timeout: Duration,
    /// How long an acquire waits when the caller names no timeout; `None`: forever.
    pub acquire_timeout: Option<Duration>,
    pub order: IdleOrder,
    /// Leases after which a connection is closed instead of reused; `None`: no limit.
    pub max_uses: Option<u64>,
    /// Which resolved addresses (and whether Unix sockets) dials may connect to; checked on
    /// every address right before connect. Default: everything.
    pub address_policy: Arc<AddressPolicy>,
    /// The owner connects (the Node-dialled path, see `Pool::node_dialed`): a dial resolves
    /// and applies the address policy, then hands the owner the permitted addresses in an
    /// `Event::DialOrder` instead of connecting. Everything else is the same.
    pub node_dial: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_per_destination: 32,
            max_idle_per_destination: 32,
            max_total: 1024,
            max_total_idle: 256,
            max_waiters: 1024,
            max_concurrent_dials: 4,
            idle_timeout: Some(Duration::from_secs(30)),
            max_lifetime: Some(Duration::from_secs(600)),
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: Some(Duration::from_secs(30)),
            order: IdleOrder::Lifo,
            max_uses: None,
            address_policy: Arc::default(),
            node_dial: false,
        }
    }
}

impl PoolConfig {
    /// How often the sweeper looks for idle connections past their idle timeout or lifetime:
    /// often enough that an eviction lands within an eighth of the shortest limit.
    pub fn sweep_interval(&self) -> Duration {
        let shortest = [self.idle_timeout, self.max_lifetime]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(Duration::from_secs(1));
        (shortest / 8).clamp(Duration::from_millis(5), Duration::from_secs(1))
    }
}
