//! The napi-rs binding of berth-core. It maps JS values to engine calls and back; every
//! decision lives in the engine or in the TypeScript facade.
//!
//! One file per engine binding: `engine` (the socket pool's `Engine`), `resource`
//! (`ResourceEngine`), `listener` (`NativeListener`), `forward` (a forward's outcome),
//! `probe` (`ProbeEngine`), `stats`, `metrics`, `config`, `events`, and `contract` (the core's codes,
//! event kinds, error codes and defaults, named for JS). Hot calls take and return plain
//! numbers through raw Node-API functions that find the engine by handle: `hot` (socket
//! pool: `acquire`, `release`), `resource_hot` (`resAcquire`, `resRelease`), over the shared
//! block of `hot_io`; `registry` maps handles to engines.

pub mod config;
pub mod contract;
pub mod engine;
pub mod events;
pub mod failpoint;
pub mod forward;
pub mod group;
pub mod hot;
pub mod hot_io;
pub mod listener;
pub mod metrics;
pub mod observe;
pub mod probe;
pub mod registry;
pub mod resource;
pub mod resource_hot;
pub mod stats;
