//! berth-core: the engine of the berth connection pool, free of any Node types.
//!
//! The binding (`berth-node`) maps JS values to these calls; the facade in `src/` owns the
//! sockets. See DESIGN.md for who owns which descriptor when.

pub mod clock;
pub mod config;
mod deadlines;
pub mod destination;
mod destinations;
pub mod dial;
mod dns;
pub mod error;
pub mod events;
mod histogram;
mod interner;
pub mod listener;
pub mod liveness;
pub mod policy;
pub mod pool;
pub mod probe;
pub mod redact;
pub mod relay;
pub mod resource;
pub mod runtime;
pub mod session;
pub mod shard;
pub mod socket;
#[cfg(target_os = "linux")]
mod splice;
pub mod stats;
mod timers;
pub mod upstream;
mod waiters;
mod watch;

pub use config::{IdleOrder, PoolConfig};
pub use destination::{Destination, InvalidDestination};
pub use destinations::DestPin;
pub use error::{DialError, DialErrorCode};
pub use events::{Event, EventSink};
pub use policy::AddressPolicy;
pub use pool::{Acquire, ConnSnapshot, DestSnapshot, Placement, Pool};
pub use probe::{ProbeConfig, ProbeOutcome, ProbeProtocol, ProbeRun, ProbeSink, ProbeState};
pub use resource::{
    Placement as ResourcePlacement, ResourceConfig, ResourceEvent, ResourcePool, ResourceSink,
    ResourceStats, SlotId, Take,
};
pub use shard::{ConnId, DestId};
pub use stats::{EvictReason, StatsSnapshot};
pub use upstream::Upstream;
pub use waiters::WaiterId;
