//! JS taking over a dialed connection's descriptor, the watch over the connections it
//! holds, and the offer of an adopted connection to a waiter or the idle list.

use super::placement::Placement;
use super::shard::{ConnId, ConnState};
use super::stats::Counters;
use super::watch::{split_watch_token, watch_token};
use super::Pool;
use crate::net::sys::{self, RawSock};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Pool {
    /// Takes the descriptor of a dialed connection: from now on the caller owns it.
    pub fn adopt(&self, id: ConnId) -> Option<RawSock> {
        let mut shard = self.shard(id);
        let conn = shard.conn_mut(id)?;
        if !matches!(conn.state, ConnState::Delivered(_)) {
            return None;
        }
        let ConnState::Delivered(fd) = std::mem::replace(&mut conn.state, ConnState::Adopted)
        else {
            return None;
        };
        conn.fd = sys::into_raw(fd);
        conn.serial = self.serials.fetch_add(1, Ordering::Relaxed);
        // Watched from now on; anything that reached it before is reported by the first drain.
        conn.suspect = !self.watch.watch(conn.fd, watch_token(id, conn.serial));
        Counters::bump(&self.counters.created);
        Some(conn.fd)
    }

    /// Marks suspect every connection the watch saw something reach since the last drain. An
    /// opaque connection (TLS) only when the peer closed it: bytes alone prove nothing there
    /// (`liveness::check_opaque` looks for the close only), and the drain already tells the
    /// close as the socket stands now, so checking it again at hand-out would learn nothing
    /// more (a close after this drain wakes the watch again, and the next drain sees it).
    pub(super) fn drain_watch(&self) {
        self.drains.fetch_add(1, Ordering::Relaxed);
        let complete = self.watch.drain(|token, closed| {
            let (id, serial) = split_watch_token(token);
            if let Some(conn) = self.shard(id).conn_mut(id) {
                if conn.serial == serial && (closed || !conn.opaque) {
                    conn.suspect = true;
                }
            }
        });
        if !complete {
            self.watch_broken.store(true, Ordering::Relaxed);
        }
    }

    /// As `offer`, for a connection JS layered a protocol over (TLS) after adopting it:
    /// `opaque` says the engine cannot read the bytes on its wire, so that its liveness check
    /// looks for the peer's close only (`liveness::check_opaque`).
    pub fn offer_layered(self: &Arc<Self>, id: ConnId, opaque: bool) -> Placement {
        if let Some(conn) = self.shard(id).conn_mut(id) {
            conn.opaque = opaque;
        }
        self.offer(id)
    }

    /// Places an adopted connection: to the oldest waiter, the idle list, or closing; then
    /// starts the next dial if waiters remain that no dial in flight will serve.
    pub fn offer(self: &Arc<Self>, id: ConnId) -> Placement {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return Placement::Close;
        };
        if !matches!(conn.state, ConnState::Adopted) {
            return Placement::Close;
        }
        ds.dialing -= 1;
        let placement = self.place(conn, ds, id);
        if placement == Placement::Close {
            self.start_closing(conn);
        }
        let dest = conn.dest;
        let needs_room = self.pump(&mut shard, dest);
        drop(shard);
        if needs_room {
            self.make_room(dest);
        }
        self.note_usable(dest);
        placement
    }

    /// A dialed connection taken over and placed in one call: `adopt`, then `offer`. None
    /// when there is no descriptor to take (the dial's record is gone or was taken).
    pub fn admit(self: &Arc<Self>, id: ConnId) -> Option<(RawSock, Placement)> {
        let fd = self.adopt(id)?;
        Some((fd, self.offer(id)))
    }
}
