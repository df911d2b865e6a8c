//! One shard of the pool: the connection records and per-destination state of the
//! destinations hashed to it, behind the shard's own lock.

use crate::net::destination::Destination;
use crate::net::liveness::{self, Liveness};
use crate::net::socket::Socket;
use crate::net::sys::{OwnedSock, RawSock};
use crate::waiters::{WaitSampler, Waiters};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// The `fd` of a connection whose socket Node owns (the Node-dialled path): there is no
/// descriptor for the engine to peek at.
pub use crate::net::sys::NO_SOCK;

/// Number of shards: a power of two, so a destination's shard is `id & (SHARDS - 1)`.
pub const SHARDS: usize = 16;

/// A destination's id: never reused within a pool (a forgotten destination interned again
/// gets a new one), so an id a caller kept can name nothing but its own destination. Below
/// 2^53, so that JS holds it as an exact number.
pub type DestId = u64;
pub type ConnId = u32;

/// The shard of a destination or connection id (a connection lives in its destination's).
pub fn shard_of(id: impl Into<u64>) -> usize {
    (id.into() & (SHARDS as u64 - 1)) as usize
}

fn slot_of(id: ConnId) -> usize {
    id as usize / SHARDS
}

/// Destination ids are spread evenly already: a multiply mixes them enough for a HashMap,
/// at a fraction of SipHash's cost on the hot path.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<DestId, V, BuildHasherDefault<IdHasher>>;

/// Where a connection is in its life, and so who owns its descriptor.
#[derive(Debug)]
pub enum ConnState {
    /// A dial is in flight; no descriptor yet.
    Dialing,
    /// Dialed; the core holds the descriptor until JS adopts it.
    Delivered(OwnedSock),
    /// Adopted by JS (which now owns the descriptor), not yet offered to a waiter or the idle list.
    Adopted,
    /// In the idle list; JS's socket is watched for the peer's close.
    Idle,
    /// Leased to a caller.
    InUse,
    /// Being destroyed by JS; counts as open until JS reports the descriptor closed.
    Closing,
    /// A dial for the engine's own use (native forwarding) is in flight.
    NativeDialing,
    /// Forwarding natively: the session that leased it owns the descriptor.
    NativeInUse,
    /// Idle in the engine's own list; the core owns the socket (still registered with the
    /// reactor, so that the next session uses it as it is).
    NativeIdle(Socket),
}

#[derive(Debug)]
pub struct Conn {
    pub dest: DestId,
    pub state: ConnState,
    /// The descriptor JS's socket wraps, for the liveness peek; -1 before adoption.
    pub fd: RawSock,
    pub created_ms: u64,
    /// `u64::MAX` when connections live forever.
    pub expires_ms: u64,
    pub released_ms: u64,
    pub uses: u64,
    /// Something may have reached the socket since a peek last proved it clean (the engine's
    /// watch saw an event, or it is not watched): peek before handing it out.
    pub suspect: bool,
    /// Tells this connection's watch events from those of an earlier one with the same id.
    pub serial: u32,
    /// JS layered a protocol over it after its handshake (TLS): the bytes on the wire are
    /// framed by a layer the engine cannot read, so its liveness check looks for the peer's
    /// close only (`liveness::check_opaque`).
    pub opaque: bool,
    /// For a JS dial: how many waiters its destination had queued when it started (see
    /// `DestState::queued`). A failed dial rejects only a waiter queued before it started.
    pub dialed_after: u64,
    /// Why the engine decided to close it (a dead idle connection at acquire, a release
    /// placed to close), kept until the record goes: the owner asks only when it reports
    /// evictions (see observe.rs).
    pub evicted: Option<crate::contract::EvictReason>,
}

impl Conn {
    /// The liveness check that fits this connection (see `opaque`).
    pub fn liveness(&self) -> Liveness {
        if self.fd == NO_SOCK {
            // Node owns the socket (Node-dialled path): its own events evict it while idle,
            // and the facade looks at its state at every hand-out.
            Liveness::Alive
        } else if self.opaque {
            liveness::check_opaque(self.fd)
        } else {
            liveness::check(self.fd)
        }
    }

    pub fn is_dialing(&self) -> bool {
        matches!(
            self.state,
            ConnState::Dialing | ConnState::Delivered(_) | ConnState::Adopted
        )
    }
}

/// Per-destination counts, idle list and waiters.
pub struct DestState {
    /// Where its connections go: dials read it here, under the shard lock they hold anyway.
    pub target: Arc<Destination>,
    /// JS's connection profile ("" for plain connections; see `interner`).
    pub profile: Arc<str>,
    /// Listeners and sessions that will use this destination: it is not forgotten while any do.
    pub pins: u32,
    /// Idle connection ids, least recently released at the front.
    pub idle: VecDeque<ConnId>,
    /// Every connection of this destination that holds (or will hold) a descriptor.
    pub open: u32,
    /// Leased connections, to JS and to native sessions alike.
    pub in_use: u32,
    /// Dials for JS waiters in flight.
    pub dialing: u32,
    pub waiters: Waiters,
    /// Its connections are closed on release instead of kept idle: a group member that left
    /// its group, or is ejected or down (nothing would reuse them).
    pub no_idle: bool,
    /// Waiters ever queued here: each waiter's `ticket` and each dial's `dialed_after` come
    /// from it, so a dial's failure can tell the waiters it was started for from later ones.
    pub queued: u64,
    /// Idle connections the engine owns (native forwarding), least recently released first.
    /// Kept apart from `idle`: JS owns the descriptors there, the core owns these.
    pub native_idle: VecDeque<ConnId>,
    /// Dials for native sessions in flight (kept apart from `dialing`, which paces JS dials).
    pub native_dialing: u32,
    /// Native sessions waiting for a place here: JS releases close instead of idling.
    pub native_waiting: u32,
    /// Reuses handed straight to a waiter on release: counted under the shard's lock, like
    /// the shard's `hits`, rather than in a shared atomic on every contended release.
    pub handoff_reuses: u64,
    /// New connections handed to a waiter (their first lease), counted the same way.
    pub handoff_fresh: u64,
}

impl DestState {
    pub fn new(target: Arc<Destination>, profile: Arc<str>) -> Self {
        DestState {
            target,
            profile,
            pins: 0,
            idle: VecDeque::new(),
            open: 0,
            in_use: 0,
            dialing: 0,
            waiters: Waiters::default(),
            queued: 0,
            no_idle: false,
            native_idle: VecDeque::new(),
            native_dialing: 0,
            native_waiting: 0,
            handoff_reuses: 0,
            handoff_fresh: 0,
        }
    }

    /// Holds nothing (no connection, no waiter, no pin): it can be forgotten.
    pub fn is_unused(&self) -> bool {
        self.open == 0
            && self.pins == 0
            && self.waiters.is_empty()
            && self.native_waiting == 0
            && self.idle.is_empty()
            && self.native_idle.is_empty()
    }
}

#[derive(Default)]
pub struct Shard {
    /// Reuse hits served from this shard's idle lists: counted under the shard's lock rather
    /// than in a shared atomic, because the hit path is the hottest there is.
    pub hits: u64,
    /// Picks which of this shard's waits are timed.
    waits: WaitSampler,
    index: usize,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    dests: IdMap<DestState>,
}

impl Shard {
    pub fn new(index: usize) -> Self {
        Shard {
            index,
            ..Default::default()
        }
    }

    /// Whether to time the next wait, and how many waits its sample stands for.
    pub fn wait_sample(&mut self) -> Option<u64> {
        self.waits.sample()
    }

    /// The state of `dest`, made (empty) if this shard does not hold it.
    pub fn add_dest(
        &mut self,
        dest: DestId,
        target: &Arc<Destination>,
        profile: &Arc<str>,
    ) -> &mut DestState {
        self.dests
            .entry(dest)
            .or_insert_with(|| DestState::new(Arc::clone(target), Arc::clone(profile)))
    }

    pub fn dest(&mut self, dest: DestId) -> Option<&mut DestState> {
        self.dests.get_mut(&dest)
    }

    pub fn has_dest(&self, dest: DestId) -> bool {
        self.dests.contains_key(&dest)
    }

    /// Forgets the destinations that hold nothing; returns them with their state.
    pub fn remove_unused_dests(&mut self) -> Vec<(DestId, DestState)> {
        let unused: Vec<DestId> = self
            .dests
            .iter()
            .filter(|(_, ds)| ds.is_unused())
            .map(|(&id, _)| id)
            .collect();
        unused
            .into_iter()
            .filter_map(|id| self.dests.remove(&id).map(|ds| (id, ds)))
            .collect()
    }

    pub fn dest_count(&self) -> usize {
        self.dests.len()
    }

    pub fn dests(&self) -> impl Iterator<Item = (DestId, &DestState)> {
        self.dests.iter().map(|(&id, d)| (id, d))
    }

    pub fn dests_mut(&mut self) -> impl Iterator<Item = (DestId, &mut DestState)> {
        self.dests.iter_mut().map(|(&id, d)| (id, d))
    }

    pub fn insert_conn(&mut self, conn: Conn) -> ConnId {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.conns[slot] = Some(conn);
                slot
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        (slot * SHARDS + self.index) as ConnId
    }

    pub fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(slot_of(id))?.as_ref()
    }

    pub fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(slot_of(id))?.as_mut()
    }

    pub fn remove_conn(&mut self, id: ConnId) -> Option<Conn> {
        let slot = slot_of(id);
        let conn = self.conns.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(conn)
    }

    /// Splits the borrow: a connection and its destination's state at once.
    pub fn conn_and_dest(&mut self, id: ConnId) -> Option<(&mut Conn, &mut DestState)> {
        let conn = self.conns.get_mut(slot_of(id))?.as_mut()?;
        let dest = self.dests.get_mut(&conn.dest)?;
        Some((conn, dest))
    }

    pub fn conns(&self) -> impl Iterator<Item = (ConnId, &Conn)> {
        let index = self.index;
        self.conns
            .iter()
            .enumerate()
            .filter_map(move |(slot, c)| c.as_ref().map(|c| ((slot * SHARDS + index) as ConnId, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(dest: DestId) -> Conn {
        Conn {
            dest,
            state: ConnState::Dialing,
            fd: crate::net::sys::NO_SOCK,
            created_ms: 0,
            expires_ms: u64::MAX,
            released_ms: 0,
            uses: 0,
            suspect: true,
            serial: 0,
            opaque: false,
            dialed_after: 0,
            evicted: None,
        }
    }

    #[test]
    fn ids_encode_the_shard_and_slots_are_reused() {
        let mut shard = Shard::new(3);
        let target = Arc::new(Destination::parse("127.0.0.1:80").unwrap());
        shard.add_dest(3, &target, &Arc::from(""));
        let a = shard.insert_conn(conn(3));
        let b = shard.insert_conn(conn(3));
        assert_eq!(shard_of(a), 3);
        assert_eq!(shard_of(b), 3);
        assert_ne!(a, b);
        assert!(shard.remove_conn(a).is_some());
        assert!(shard.remove_conn(a).is_none());
        let c = shard.insert_conn(conn(3));
        assert_eq!(c, a);
        let (conn, dest) = shard.conn_and_dest(b).unwrap();
        assert_eq!(conn.dest, 3);
        assert_eq!(dest.open, 0);
    }
}
