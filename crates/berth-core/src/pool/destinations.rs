//! Destination ids: interning strings, pinning the ids that listeners and sessions hold
//! across awaits, and forgetting destinations that hold nothing, so that memory is bounded
//! by what the pool holds rather than by every destination it was ever asked for.

use super::interner::Interned;
use super::shard::{shard_of, DestId};
use super::Pool;
use crate::net::destination::InvalidDestination;
use crate::sync::lock;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

impl Pool {
    /// Parses `input` once; later calls with the same string are a map lookup. The id stays
    /// valid while the destination holds something; one that held nothing through a sweep is
    /// forgotten, and acquiring with its id answers `UnknownDestination` (intern again).
    pub fn intern(&self, input: &str) -> Result<DestId, InvalidDestination> {
        self.intern_with(input, "", false)
    }

    /// As `intern`, under a connection profile (see `interner`): another destination than the
    /// same address under another profile. A non-empty profile means JS runs a handshake on new
    /// connections, so the engine cannot read their framing: see `net::liveness::check_opaque`.
    pub fn intern_profiled(
        &self,
        input: &str,
        profile: &str,
    ) -> Result<DestId, InvalidDestination> {
        self.intern_with(input, profile, false)
    }

    /// As `intern`, and the destination is not forgotten until the pin is dropped: for
    /// listeners and sessions, which hold an id across awaits.
    pub fn intern_pinned(self: &Arc<Self>, input: &str) -> Result<DestPin, InvalidDestination> {
        self.intern_pinned_profiled(input, "")
    }

    /// As `intern_pinned`, under a connection profile (a group's members).
    pub fn intern_pinned_profiled(
        self: &Arc<Self>,
        input: &str,
        profile: &str,
    ) -> Result<DestPin, InvalidDestination> {
        let id = self.intern_with(input, profile, true)?;
        Ok(DestPin {
            pool: Arc::downgrade(self),
            id,
        })
    }

    /// Interning holds the interner's lock while it makes sure the shard knows the
    /// destination: the sweep forgets under the write lock, so the two never interleave.
    fn intern_with(
        &self,
        input: &str,
        profile: &str,
        pin: bool,
    ) -> Result<DestId, InvalidDestination> {
        {
            let interner = self
                .interner
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(found) = interner.lookup(input, profile) {
                return Ok(self.hold(&found, pin));
            }
        }
        let mut interner = self
            .interner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (found, _) = interner.intern(input, profile)?;
        Ok(self.hold(&found, pin))
    }

    /// Makes sure the shard knows an interned destination (pinned if `pin`).
    fn hold(&self, found: &Interned, pin: bool) -> DestId {
        let mut shard = lock(&self.shards()[shard_of(found.id)]);
        let ds = shard.add_dest(found.id, &found.target, &found.profile);
        ds.pins += u32::from(pin);
        found.id
    }

    fn unpin(&self, id: DestId) {
        if let Some(ds) = self.shard(id).dest(id) {
            ds.pins = ds.pins.saturating_sub(1);
        }
    }

    /// Forgets every destination that holds nothing: no connection, waiter or pin. Memory
    /// is bounded by what the pool holds, not by every destination it was ever asked for.
    pub(crate) fn forget_unused(&self) {
        let mut interner = self
            .interner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for shard in self.shards().iter() {
            let removed = lock(shard).remove_unused_dests();
            for (id, ds) in removed {
                self.forgotten_handoffs
                    .fetch_add(ds.handoff_reuses, Ordering::Relaxed);
                self.forgotten_fresh
                    .fetch_add(ds.handoff_fresh, Ordering::Relaxed);
                interner.forget(id);
            }
        }
    }

    /// Destinations the pool knows now (held, or not yet swept).
    pub fn destination_count(&self) -> usize {
        self.shards().iter().map(|s| lock(s).dest_count()).sum()
    }

    /// Where `dest`'s connections go, if it is known.
    pub(crate) fn target_of(
        &self,
        dest: DestId,
    ) -> Option<Arc<crate::net::destination::Destination>> {
        self.interner.read().ok().and_then(|i| i.get(dest))
    }

    /// Whether `dest` is still known (not forgotten).
    pub fn knows(&self, dest: DestId) -> bool {
        self.shard(dest).has_dest(dest)
    }
}

/// A destination kept from being forgotten (see `Pool::intern_pinned`) until this is dropped.
pub struct DestPin {
    pool: Weak<Pool>,
    id: DestId,
}

impl DestPin {
    pub fn id(&self) -> DestId {
        self.id
    }
}

impl Drop for DestPin {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.unpin(self.id);
        }
    }
}

impl std::fmt::Debug for DestPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DestPin({})", self.id)
    }
}
