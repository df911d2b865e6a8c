//! berth-core: the engine of the berth connection pool, free of any Node types.
//!
//! The binding (`berth-node`) maps JS values to these calls; the facade in `src/` owns the
//! sockets. See `docs/design.md` for who owns which descriptor when.
//!
//! Modules by concept:
//! - `pool`: the socket pool (`Pool`): shards, waiters, placement rules, dials, timers,
//!   destination ids, and the native lane of upstreams that `proxy` leases;
//! - `group`: upstream groups: members, balancers, health, outlier ejection, retry budget;
//! - `proxy`: native forwarding: sessions, the byte relay, the native listener;
//! - `resource`: the pool of arbitrary JS resources (`ResourcePool`);
//! - `probe`: connect probes run in the engine;
//! - `net`: destinations, DNS, dialing, the address policy, sockets, the liveness peek;
//! - shared by all of them: `contract` (values the JS side reads), `error`, `clock`,
//!   `deadlines`, `histogram`, `waiters`, `redact`, `runtime`, `sync`.

pub mod buckets;
mod clock;
pub mod contract;
mod deadlines;
pub mod error;
pub mod group;
mod histogram;
pub mod net;
pub mod pool;
pub mod probe;
pub mod proxy;
pub mod redact;
pub mod resource;
pub mod runtime;
mod sync;
mod waiters;
