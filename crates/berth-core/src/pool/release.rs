//! Connections coming back or leaving: release, eviction of an idle one, discard, and the
//! descriptor's close (`forget`), which frees its place for whoever waits.

use super::placement::Placement;
use super::shard::{Conn, ConnId, ConnState, DestId, Shard};
use super::stats::Counters;
use super::Pool;
use crate::contract::EvictReason;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

impl Pool {
    /// Returns a leased connection; says where it goes next. No peek here: a reply the lease
    /// left unread reached the socket through the watch, which makes the connection suspect
    /// once drained, and a suspect connection is peeked before its next hand-out (to a waiter
    /// in `place`, from the idle list in `checkout`, which drains first). `wrote`: the lease
    /// wrote, so such a reply may have arrived since the last drain; a hand-off, which has no
    /// drain of its own to come, drains first.
    pub fn release(&self, id: ConnId, wrote: bool) -> Placement {
        if self.handoff_needs_drain(id, wrote) {
            self.drain_watch();
        }
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return Placement::Close;
        };
        if !matches!(conn.state, ConnState::InUse) {
            return Placement::Close;
        }
        ds.in_use -= 1;
        let placement = self.place(conn, ds, id);
        if placement == Placement::Close {
            self.start_closing(conn);
        }
        placement
    }

    /// An idle connection's socket saw the peer close or unexpected data: take it out of the
    /// idle list. False when it was not idle (its lease or an earlier eviction handles it).
    pub fn evict_idle(&self, id: ConnId, reason: EvictReason) -> bool {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return false;
        };
        if !matches!(conn.state, ConnState::Idle) {
            return false;
        }
        if let Some(pos) = ds.idle.iter().position(|&c| c == id) {
            ds.idle.remove(pos);
            self.total_idle.fetch_sub(1, Ordering::Relaxed);
        }
        self.start_closing(conn);
        self.counters.evicted(reason);
        true
    }

    /// A leased connection is being destroyed instead of released.
    pub fn discard(&self, id: ConnId, reason: Option<EvictReason>) {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return;
        };
        if matches!(conn.state, ConnState::InUse) {
            ds.in_use -= 1;
            self.start_closing(conn);
            if let Some(reason) = reason {
                self.counters.evicted(reason);
            }
        }
    }

    /// The connection's descriptor is closed: free its place and serve whoever waits for one.
    pub fn forget(self: &Arc<Self>, id: ConnId) {
        let mut shard = self.shard(id);
        let Some(conn) = shard.remove_conn(id) else {
            return;
        };
        if let Some(ds) = shard.dest(conn.dest) {
            match conn.state {
                ConnState::Idle => {
                    if let Some(pos) = ds.idle.iter().position(|&c| c == id) {
                        ds.idle.remove(pos);
                        self.total_idle.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                ConnState::InUse => ds.in_use -= 1,
                ConnState::Dialing | ConnState::Delivered(_) | ConnState::Adopted => {
                    ds.dialing -= 1
                }
                ConnState::Closing => {}
                // Native connections are never reported by JS; keep the counts right anyway.
                ConnState::NativeDialing => ds.native_dialing -= 1,
                ConnState::NativeInUse => ds.in_use -= 1,
                ConnState::NativeIdle(_) => {
                    if let Some(pos) = ds.native_idle.iter().position(|&c| c == id) {
                        ds.native_idle.remove(pos);
                        self.total_idle.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
            ds.open -= 1;
        }
        self.total_open.fetch_sub(1, Ordering::Relaxed);
        if !matches!(conn.state, ConnState::Closing) {
            Counters::bump(&self.counters.closed);
        }
        self.place_freed(shard, conn.dest);
    }

    /// A place under the limits was freed in `dest` (shard locked): start the dials that JS
    /// waiters need, let starved destinations and waiting native sessions try again.
    pub(crate) fn place_freed(self: &Arc<Self>, mut shard: MutexGuard<'_, Shard>, dest: DestId) {
        let needs_room = self.pump(&mut shard, dest);
        drop(shard);
        if needs_room {
            self.make_room(dest);
        }
        self.feed_starved();
        self.wake_native();
    }

    /// Wakes native sessions waiting for a place, if there are any.
    pub(crate) fn wake_native(&self) {
        if self.native_waiting.load(Ordering::Relaxed) > 0 {
            self.upstream_room.notify_waiters();
        }
    }

    /// The owner is about to close this connection: from now on it counts as closed, though
    /// it holds its place under the limits until `forget` reports the descriptor gone.
    pub(crate) fn start_closing(&self, conn: &mut Conn) {
        if !matches!(conn.state, ConnState::Closing) {
            conn.state = ConnState::Closing;
            Counters::bump(&self.counters.closed);
        }
    }

    /// Takes a removed record's counts out of its destination and the totals.
    pub(super) fn detach(&self, conn: &Conn) {
        {
            let mut shard = self.shard(conn.dest);
            if let Some(ds) = shard.dest(conn.dest) {
                if conn.is_dialing() {
                    ds.dialing -= 1;
                }
                ds.open -= 1;
            }
        }
        self.total_open.fetch_sub(1, Ordering::Relaxed);
        Counters::bump(&self.counters.closed);
    }

    /// The owner closed the connection's descriptor, whatever its state: one still leased
    /// counts as evicted unhealthy (`discard` acts only on a leased one), one still idle as
    /// closed by its peer (`evict_idle` only on an idle one); then its place is freed.
    pub fn closed(self: &Arc<Self>, id: ConnId) {
        self.discard(id, Some(EvictReason::Unhealthy));
        self.evict_idle(id, EvictReason::PeerClosed);
        self.forget(id);
    }
}
