//! The engine's configuration as JS passes it (already validated by the facade).

use berth_core::contract::IdleOrder;
use berth_core::net::policy::AddressPolicy;
use berth_core::pool::PoolConfig;
use napi::{Error, Result, Status};
use napi_derive::napi;
use std::sync::Arc;
use std::time::Duration;

#[napi(object)]
pub struct EngineConfig {
    pub max_per_destination: u32,
    pub max_idle_per_destination: u32,
    pub max_total: u32,
    pub max_total_idle: u32,
    pub max_waiters: u32,
    pub max_concurrent_dials: u32,
    /// Milliseconds; `Infinity` disables.
    pub idle_timeout: f64,
    /// Milliseconds; `Infinity` disables.
    pub max_lifetime: f64,
    /// Milliseconds.
    pub connect_timeout: f64,
    /// Milliseconds; `Infinity` waits forever.
    pub acquire_timeout: f64,
    /// `"lifo"` or `"fifo"`.
    pub order: String,
    /// Leases per connection; `Infinity`: no limit.
    pub max_uses: f64,
    /// Checked by the engine on every address before connect; absent: everything allowed.
    pub address_policy: Option<AddressPolicyConfig>,
    /// Node connects (the Node-dialled path): the engine sends `DIAL_ORDER` events instead
    /// of dialing. Absent: false.
    pub node_dial: Option<bool>,
}

/// `{ allow?, deny? }`: CIDRs and class names, parsed by the engine.
#[napi(object)]
pub struct AddressPolicyConfig {
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
}

/// The engine's policy; an invalid entry is an InvalidArg error whose message names it.
pub(crate) fn address_policy(c: Option<&AddressPolicyConfig>) -> Result<Arc<AddressPolicy>> {
    let Some(c) = c else {
        return Ok(Arc::default());
    };
    AddressPolicy::parse(c.allow.as_deref(), c.deny.as_deref().unwrap_or_default())
        .map(Arc::new)
        .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
}

pub(crate) fn millis(ms: f64) -> Option<Duration> {
    ms.is_finite()
        .then(|| Duration::from_millis(ms.max(0.0) as u64))
}

/// The engine's config from JS's; throws (InvalidArg) on an `order` or `addressPolicy` the
/// core refuses (the facade checks both first), with the core's message naming the key.
pub(crate) fn pool_config(c: EngineConfig) -> Result<PoolConfig> {
    let address_policy = address_policy(c.address_policy.as_ref())?;
    let order = IdleOrder::parse(&c.order).map_err(|why| Error::new(Status::InvalidArg, why))?;
    Ok(PoolConfig {
        max_per_destination: c.max_per_destination,
        max_idle_per_destination: c.max_idle_per_destination,
        max_total: c.max_total,
        max_total_idle: c.max_total_idle,
        max_waiters: c.max_waiters,
        max_concurrent_dials: c.max_concurrent_dials,
        idle_timeout: millis(c.idle_timeout),
        max_lifetime: millis(c.max_lifetime),
        connect_timeout: millis(c.connect_timeout).unwrap_or(Duration::MAX),
        acquire_timeout: millis(c.acquire_timeout),
        order,
        max_uses: (c.max_uses.is_finite() && c.max_uses >= 1.0).then_some(c.max_uses as u64),
        address_policy,
        node_dial: c.node_dial.unwrap_or(false),
    })
}

/// Throws (InvalidArg) when `policy` has an entry that is neither a CIDR nor a class name;
/// the message names the entry.
#[napi(catch_unwind)]
pub fn check_address_policy(policy: AddressPolicyConfig) -> Result<()> {
    address_policy(Some(&policy)).map(drop)
}
