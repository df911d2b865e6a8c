//! The pool's native lane: upstream connections that the engine itself uses for forwarding.
//!
//! They share the destination's limits (`maxPerDestination`, `maxTotal`, idle caps), timers
//! and counters with the connections JS leases, but their descriptors never go to JS: the
//! core owns them while idle (`NativeIdle`) and the session that leased one owns it while it
//! forwards (`NativeInUse`). So a proxy's hot path never crosses into JS for an upstream.
//!
//! Waiting: a native acquire that finds no idle connection and no room waits on the pool's
//! `upstream_room`, woken whenever a place is freed; while any wait, JS releases close their
//! connection instead of idling it, so JS-held places come free.

use super::stats::Counters;
use super::{reserve, Pool};
use crate::clock::now_ms;
use crate::contract::EvictReason;
use crate::contract::IdleOrder;
use crate::error::{DialError, DialErrorCode};
use crate::net::dial::dial_socket;
use crate::net::liveness::{self, Liveness};
use crate::net::socket::Socket;
use crate::pool::events::Event;
use crate::pool::shard::{Conn, ConnId, ConnState, DestId, Shard};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An upstream connection leased to a native session. Dropping it closes the connection;
/// `release` may return it to the pool instead.
pub struct Upstream {
    pool: Arc<Pool>,
    id: ConnId,
    socket: Option<Socket>,
    /// An earlier session used this connection.
    pub reused: bool,
}

impl Upstream {
    /// The socket, for the session's I/O. None only once released.
    pub fn socket(&self) -> Option<&Socket> {
        self.socket.as_ref()
    }

    /// Returns the connection: to the idle list when `reusable` and it passes its checks,
    /// otherwise closed.
    pub fn release(mut self, reusable: bool) {
        let id = std::mem::replace(&mut self.id, RELEASED);
        let socket = self.socket.take();
        self.pool.release_upstream(id, socket, reusable);
    }
}

/// The id of an `Upstream` already released: its drop has nothing left to do.
const RELEASED: ConnId = ConnId::MAX;

impl Drop for Upstream {
    fn drop(&mut self) {
        if self.id != RELEASED {
            // Never released (the session was dropped): close it and settle the books.
            let socket = self.socket.take();
            self.pool.release_upstream(self.id, socket, false);
        }
    }
}

/// What one look at a destination found for a native acquire.
enum Take {
    Hit(ConnId, Socket),
    Dial(ConnId),
    Wait,
}

/// Removes a native dial's record if the dialing future is dropped before it finishes (the
/// session was aborted), so that its place is not held forever.
struct DialGuard<'a> {
    pool: &'a Arc<Pool>,
    id: ConnId,
    armed: bool,
}

impl Drop for DialGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.pool.native_dial_ended(self.id, false);
        }
    }
}

/// A native acquire counted as waiting (in its destination and the pool) until dropped.
struct WaitGuard<'a> {
    pool: &'a Arc<Pool>,
    dest: DestId,
    counted: bool,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if self.counted {
            if let Some(ds) = self.pool.shard(self.dest).dest(self.dest) {
                ds.native_waiting -= 1;
            }
            self.pool.native_waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Pool {
    /// Leases an upstream connection to `dest` for the engine's own use: an idle native one
    /// that passes its peek, or a new dial when the limits allow, or the first of those to come
    /// free within `timeout` (`None`: the pool's acquire timeout).
    pub async fn acquire_upstream(
        self: &Arc<Self>,
        dest: DestId,
        timeout: Option<Duration>,
    ) -> Result<Upstream, DialError> {
        let wait = timeout.or(self.config.acquire_timeout);
        let deadline = wait.map(|t| tokio::time::Instant::now() + t);
        let mut stop = self.shutdown_signal();
        // Uncounted on every way out, a dropped acquire included (an aborted session, a
        // listener's deadline): a waiter counted forever would make JS releases close for good.
        let mut waiting = WaitGuard {
            pool: self,
            dest,
            counted: false,
        };
        let result = loop {
            // Registered before looking, so that a place freed in between is not missed.
            let notified = self.upstream_room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() {
                break Err(closed_error());
            }
            match self.take_upstream(dest, &mut waiting.counted) {
                Ok(Take::Hit(id, socket)) => {
                    break Ok(Upstream {
                        pool: Arc::clone(self),
                        id,
                        socket: Some(socket),
                        reused: true,
                    })
                }
                Ok(Take::Dial(id)) => break self.dial_upstream(dest, id).await,
                Ok(Take::Wait) => {}
                Err(e) => break Err(e),
            }
            let expired = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = expired => {
                    Counters::bump(&self.counters.acquire_timeouts);
                    break Err(DialError::new(
                        DialErrorCode::AcquireTimeout,
                        format!(
                            "no connection to {} became available within {} ms",
                            self.dest_label(dest),
                            wait.map_or(0, |w| w.as_millis())
                        ),
                    ));
                }
                _ = stop.wait_for(|closed| *closed) => break Err(closed_error()),
            }
        };
        drop(waiting);
        result
    }

    fn dest_label(&self, dest: DestId) -> String {
        self.interner
            .read()
            .ok()
            .and_then(|i| i.get(dest))
            .map_or_else(|| format!("destination #{dest}"), |d| d.to_string())
    }

    /// One look under the shard lock: an idle native connection, a place to dial, or neither.
    /// On the first `Wait` the caller is counted as waiting (`waiting` set), under the same
    /// lock, so that no release in between misses it.
    fn take_upstream(
        self: &Arc<Self>,
        dest: DestId,
        waiting: &mut bool,
    ) -> Result<Take, DialError> {
        let mut shard = self.shard(dest);
        let mut needs_room = false;
        let mut evict = None;
        let take = 'look: {
            let max_per_dest = self.config.max_per_destination;
            while let Some(id) = pop_native_idle(&mut shard, dest, self.config.order) {
                self.total_idle.fetch_sub(1, Ordering::Relaxed);
                let now = now_ms();
                let Some((conn, ds)) = shard.conn_and_dest(id) else {
                    continue;
                };
                let ConnState::NativeIdle(socket) =
                    std::mem::replace(&mut conn.state, ConnState::NativeInUse)
                else {
                    continue;
                };
                let verdict = if now >= conn.expires_ms {
                    Some(EvictReason::Lifetime)
                } else {
                    // Always peeked: a native idle connection is not watched while idle.
                    liveness::check(socket.raw()).eviction()
                };
                if let Some(reason) = verdict {
                    self.counters.evicted(reason);
                    drop(socket);
                    self.remove_native(&mut shard, id);
                    continue;
                }
                conn.uses += 1;
                ds.in_use += 1;
                shard.hits += 1;
                break 'look Take::Hit(id, socket);
            }
            let Some(ds) = shard.dest(dest) else {
                return Err(DialError::new(
                    DialErrorCode::ConnectFailed,
                    format!("unknown destination #{dest}"),
                ));
            };
            if ds.open < max_per_dest {
                if reserve(&self.total_open, self.config.max_total) {
                    ds.open += 1;
                    ds.native_dialing += 1;
                    let now = now_ms();
                    let conn = Conn {
                        dest,
                        state: ConnState::NativeDialing,
                        fd: crate::net::sys::NO_SOCK,
                        created_ms: now,
                        expires_ms: self.expiry(now),
                        released_ms: now,
                        uses: 1,
                        // Native connections are not watched: peeked at every hand-out.
                        suspect: true,
                        serial: 0,
                        // Only plain destinations are forwarded natively.
                        opaque: false,
                        dialed_after: 0,
                        evicted: None,
                    };
                    break 'look Take::Dial(shard.insert_conn(conn));
                }
                needs_room = true;
            } else if let Some(id) = ds.idle.pop_front() {
                // JS's idle connections hold every place: close one to make room for us.
                self.total_idle.fetch_sub(1, Ordering::Relaxed);
                if let Some(conn) = shard.conn_mut(id) {
                    self.start_closing(conn);
                }
                self.counters.evicted(EvictReason::Idle);
                evict = Some(id);
            }
            if !*waiting {
                if let Some(ds) = shard.dest(dest) {
                    *waiting = true;
                    ds.native_waiting += 1;
                    self.native_waiting.fetch_add(1, Ordering::Relaxed);
                }
            }
            Take::Wait
        };
        drop(shard);
        if let Some(conn) = evict {
            self.sink_evict(conn);
        }
        if needs_room {
            // Blocked by maxTotal: releases anywhere close instead of idling until it dials.
            self.mark_starved(dest);
            self.make_room(dest);
        }
        Ok(take)
    }

    async fn dial_upstream(
        self: &Arc<Self>,
        dest: DestId,
        id: ConnId,
    ) -> Result<Upstream, DialError> {
        let mut guard = DialGuard {
            pool: self,
            id,
            armed: true,
        };
        let target = self.interner.read().ok().and_then(|i| i.get(dest));
        let Some(target) = target else {
            return Err(DialError::new(
                DialErrorCode::ConnectFailed,
                format!("unknown destination #{dest}"),
            ));
        };
        let mut stop = self.shutdown_signal();
        let started = Instant::now();
        let result = tokio::select! {
            result = dial_socket(&target, self.config.connect_timeout, &self.config.address_policy) => result,
            _ = stop.wait_for(|closed| *closed) => Err(closed_error()),
        };
        guard.armed = false;
        match result {
            Ok(socket) => {
                let us = started.elapsed().as_micros() as u64;
                self.counters.connected(us);
                self.note_connected(dest, us);
                self.note_usable(dest);
                if self.native_dial_ended(id, true) {
                    Counters::bump(&self.counters.created);
                    Counters::bump(&self.counters.native_first_uses);
                    Ok(Upstream {
                        pool: Arc::clone(self),
                        id,
                        socket: Some(socket),
                        reused: false,
                    })
                } else {
                    Err(closed_error())
                }
            }
            Err(error) => {
                if error.code != DialErrorCode::PoolClosed {
                    Counters::bump(&self.counters.dial_failures);
                    self.counters.dial_failed_with(Some(error.code));
                }
                if error.code.is_connect_failure() {
                    self.note_failed(dest);
                }
                self.native_dial_ended(id, false);
                Err(error)
            }
        }
    }

    /// A native dial finished: `connected` moves the record to in use (false if it is gone
    /// or the pool closed meanwhile); otherwise the record is removed and its place freed.
    fn native_dial_ended(self: &Arc<Self>, id: ConnId, connected: bool) -> bool {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return false;
        };
        if !matches!(conn.state, ConnState::NativeDialing) {
            return false;
        }
        ds.native_dialing -= 1;
        if connected && !self.is_closed() {
            conn.state = ConnState::NativeInUse;
            ds.in_use += 1;
            return true;
        }
        ds.open -= 1;
        let dest = conn.dest;
        shard.remove_conn(id);
        self.total_open.fetch_sub(1, Ordering::Relaxed);
        self.place_freed(shard, dest);
        false
    }

    /// Takes back a native lease: idle again if `reusable` and it passes its checks (open,
    /// nothing unread, not expired, room in the idle caps, nobody waiting for its place),
    /// otherwise closed.
    pub(crate) fn release_upstream(
        self: &Arc<Self>,
        id: ConnId,
        socket: Option<Socket>,
        reusable: bool,
    ) {
        let mut shard = self.shard(id);
        let Some((conn, ds)) = shard.conn_and_dest(id) else {
            return;
        };
        if !matches!(conn.state, ConnState::NativeInUse) {
            return;
        }
        ds.in_use -= 1;
        if let Some(socket) = socket {
            let keep = reusable
                && !self.is_closed()
                && (conn.expires_ms == u64::MAX || now_ms() < conn.expires_ms)
                && ds.waiters.is_empty()
                && ds.native_waiting == 0
                && !ds.no_idle
                && (ds.native_idle.len() as u32) < self.config.max_idle_per_destination
                && liveness::check(socket.raw()) == Liveness::Alive
                && reserve(&self.total_idle, self.config.max_total_idle);
            if keep {
                if conn.uses == 1 {
                    // Going idle for the first time: from now on it may sit unused.
                    crate::net::dial::keep_alive(&socket);
                }
                conn.state = ConnState::NativeIdle(socket);
                conn.released_ms = now_ms();
                ds.native_idle.push_back(id);
                return;
            }
            if reusable {
                self.counters.evicted(EvictReason::Unhealthy);
            }
        }
        let dest = conn.dest;
        // `socket`, if any, is dropped at the end of this scope: that closes the descriptor.
        self.remove_native(&mut shard, id);
        self.place_freed(shard, dest);
    }

    /// Evicts native idle connections past their idle timeout or lifetime (the sweep).
    /// Also peeks each one: an upstream that closed or reset while idle is evicted within a
    /// sweep interval rather than found at its next use (no task watches idle native sockets:
    /// one per idle period would cost every reuse a spawn and a wake-up).
    pub(crate) fn sweep_native(self: &Arc<Self>, now: u64, idle_limit: Option<u64>) {
        self.retire_native_idle(|conn| {
            if now >= conn.expires_ms {
                Some(EvictReason::Lifetime)
            } else if idle_limit.is_some_and(|l| now.saturating_sub(conn.released_ms) >= l) {
                Some(EvictReason::Idle)
            } else if let ConnState::NativeIdle(socket) = &conn.state {
                liveness::check(socket.raw()).eviction()
            } else {
                None
            }
        });
    }

    /// Closes every native idle connection (the pool is closing).
    pub(crate) fn close_native_idle(self: &Arc<Self>) {
        self.retire_native_idle(|_| Some(EvictReason::Idle));
    }

    fn retire_native_idle(self: &Arc<Self>, verdict: impl Fn(&Conn) -> Option<EvictReason>) {
        let closing = self.is_closed();
        let mut freed = Vec::new();
        for shard in self.shards().iter() {
            let mut shard = crate::sync::lock(shard);
            let mut gone = Vec::new();
            for (dest, ds) in shard.dests() {
                for &id in &ds.native_idle {
                    gone.push((dest, id));
                }
            }
            for (dest, id) in gone {
                let Some(conn) = shard.conn(id) else { continue };
                let Some(reason) = verdict(conn) else {
                    continue;
                };
                if let Some(ds) = shard.dest(dest) {
                    if let Some(pos) = ds.native_idle.iter().position(|&c| c == id) {
                        ds.native_idle.remove(pos);
                    }
                }
                self.total_idle.fetch_sub(1, Ordering::Relaxed);
                self.remove_native(&mut shard, id);
                if !closing {
                    self.counters.evicted(reason);
                }
                freed.push(dest);
            }
        }
        for dest in freed {
            let shard = self.shard(dest);
            self.place_freed(shard, dest);
        }
    }

    /// Removes a native connection's record (dropping a socket it holds closes it) and frees
    /// its place in its destination's and the pool's open counts; counted as closed. Whoever
    /// took it off an idle list settles `total_idle`.
    pub(crate) fn remove_native(&self, shard: &mut Shard, id: ConnId) {
        let Some(conn) = shard.remove_conn(id) else {
            return;
        };
        if let Some(ds) = shard.dest(conn.dest) {
            ds.open -= 1;
        }
        self.total_open.fetch_sub(1, Ordering::Relaxed);
        Counters::bump(&self.counters.closed);
    }

    fn sink_evict(&self, conn: ConnId) {
        self.sink().emit(Event::Evict {
            conn,
            reason: EvictReason::Idle,
        });
    }
}

fn pop_native_idle(shard: &mut Shard, dest: DestId, order: IdleOrder) -> Option<ConnId> {
    let ds = shard.dest(dest)?;
    match order {
        IdleOrder::Lifo => ds.native_idle.pop_back(),
        IdleOrder::Fifo => ds.native_idle.pop_front(),
    }
}

fn closed_error() -> DialError {
    DialError::new(DialErrorCode::PoolClosed, "the pool was closed")
}
