//! Dialing for JS's waiters: how many dials the limits allow, each dial's task, its failure
//! or abandonment, and the lifetime (with jitter) a new connection gets.

use super::events::Event;
use super::shard::{Conn, ConnId, ConnState, DestId, DestState, Shard, NO_SOCK};
use super::stats::Counters;
use super::{reserve, Pool};
use crate::clock::now_ms;
use crate::contract::EvictReason;
use crate::error::{DialError, DialErrorCode};
use crate::net::destination::Destination;
use crate::net::dial::{dial, dial_order, timed_out};
use crate::redact::redact;
use crate::sync::lock;
use crate::waiters::WaiterId;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

impl Pool {
    /// Starts as many dials for `dest` as its waiters need and the limits allow.
    /// Returns true when `maxTotal` blocked a dial that waiters need.
    pub(crate) fn pump(self: &Arc<Self>, shard: &mut Shard, dest: DestId) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let mut starts = 0;
        let mut blocked = false;
        let mut target = None;
        let mut queued = 0;
        self.yield_native_idle(shard, dest);
        if let Some(ds) = shard.dest(dest) {
            target = Some(Arc::clone(&ds.target));
            queued = ds.queued;
            while (ds.waiters.len() as u32) > ds.dialing
                && ds.dialing < self.config.max_concurrent_dials
                && ds.open < self.config.max_per_destination
            {
                if !reserve(&self.total_open, self.config.max_total) {
                    blocked = true;
                    break;
                }
                ds.open += 1;
                ds.dialing += 1;
                starts += 1;
            }
        }
        if let (true, Some(target)) = (starts > 0, target) {
            // Read only when dialing: pump runs on every queued acquire.
            let now = now_ms();
            for _ in 0..starts {
                let id = shard.insert_conn(Conn {
                    dest,
                    state: ConnState::Dialing,
                    fd: crate::net::sys::NO_SOCK,
                    created_ms: now,
                    expires_ms: self.expiry(now),
                    released_ms: now,
                    uses: 0,
                    suspect: true,
                    serial: 0,
                    opaque: false,
                    dialed_after: queued,
                    evicted: None,
                });
                self.spawn_dial(dest, &target, id);
            }
        }
        if blocked {
            self.mark_starved(dest);
        }
        blocked
    }

    /// JS waiters need places that idle native connections hold: close those (the core owns
    /// their descriptors, so at once) rather than let the waiters wait for an idle timeout.
    pub(super) fn yield_native_idle(&self, shard: &mut Shard, dest: DestId) {
        loop {
            let Some(ds) = shard.dest(dest) else { return };
            let wanted = (ds.waiters.len() as u32).saturating_sub(ds.dialing);
            if wanted == 0
                || ds.native_idle.is_empty()
                || ds.open < self.config.max_per_destination
                || ds.dialing >= self.config.max_concurrent_dials
            {
                return;
            }
            let Some(id) = ds.native_idle.pop_front() else {
                return;
            };
            self.total_idle.fetch_sub(1, Ordering::Relaxed);
            self.counters.evicted(EvictReason::Idle);
            self.remove_native(shard, id);
        }
    }

    /// When a connection made now must retire: maxLifetime less up to 2.5% jitter, so that
    /// connections made together do not all expire together.
    pub(crate) fn expiry(&self, now: u64) -> u64 {
        match self.config.max_lifetime {
            None => u64::MAX,
            Some(lifetime) => {
                let ms = lifetime.as_millis() as u64;
                let jitter = (ms / 40).max(1);
                let seed = self.dials_started.fetch_add(1, Ordering::Relaxed) ^ now.rotate_left(17);
                now.saturating_add(ms - (splitmix(seed) % jitter).min(ms))
            }
        }
    }

    pub(super) fn spawn_dial(
        self: &Arc<Self>,
        dest: DestId,
        target: &Arc<Destination>,
        id: ConnId,
    ) {
        let target = Arc::clone(target);
        let pool = Arc::clone(self);
        let mut stop = self.shutdown.subscribe();
        let timeout = self.config.connect_timeout;
        let policy = Arc::clone(&self.config.address_policy);
        if self.config.node_dial {
            self.runtime.spawn(async move {
                pool.order_dial(&target, timeout, &policy, &mut stop, dest, id)
                    .await;
            });
            return;
        }
        self.runtime.spawn(async move {
            let started = Instant::now();
            let result = tokio::select! {
                result = dial(&target, timeout, &policy) => result,
                _ = stop.wait_for(|closed| *closed) => Err(DialError::new(
                    DialErrorCode::PoolClosed,
                    format!("the pool was closed while connecting to {target}"),
                )),
            };
            let event = match result {
                Ok(fd) => {
                    let us = started.elapsed().as_micros() as u64;
                    pool.counters.connected(us);
                    pool.note_connected(dest, us);
                    let mut shard = pool.shard(id);
                    match shard.conn_mut(id) {
                        Some(conn) => conn.state = ConnState::Delivered(fd),
                        None => return,
                    }
                    Event::Dialed { conn: id, dest, us }
                }
                Err(error) => {
                    pool.count_dial_failure(dest, error.code);
                    Event::DialFailed {
                        conn: id,
                        dest,
                        error,
                        us: started.elapsed().as_micros() as u64,
                    }
                }
            };
            pool.sink.emit(event);
        });
    }

    /// The Node-dialled path's dial task: resolve and apply the address policy (as a native
    /// dial does), then hand JS the addresses to connect to; a failure (or the pool's close)
    /// is reported as a native dial's.
    async fn order_dial(
        self: &Arc<Self>,
        target: &Destination,
        timeout: std::time::Duration,
        policy: &crate::net::policy::AddressPolicy,
        stop: &mut tokio::sync::watch::Receiver<bool>,
        dest: DestId,
        id: ConnId,
    ) {
        let started = Instant::now();
        let result = tokio::select! {
            result = dial_order(target, timeout, policy) => result,
            _ = stop.wait_for(|closed| *closed) => Err(DialError::new(
                DialErrorCode::PoolClosed,
                format!("the pool was closed while connecting to {target}"),
            )),
        };
        let us = started.elapsed().as_micros() as u64;
        let event = match result {
            Ok(order) => {
                lock(&self.node_dials).insert(id, started);
                Event::DialOrder {
                    conn: id,
                    dest,
                    order,
                    us,
                }
            }
            Err(error) => {
                self.count_dial_failure(dest, error.code);
                Event::DialFailed {
                    conn: id,
                    dest,
                    error,
                    us,
                }
            }
        };
        self.sink.emit(event);
    }

    /// Counts a dial's failure by code, and against its destination (a group member) when it
    /// is a failure to connect.
    fn count_dial_failure(&self, dest: DestId, code: DialErrorCode) {
        self.counters.dial_failed_with(Some(code));
        if code.is_connect_failure() {
            self.note_failed(dest);
        }
    }

    /// Node-dialled path: JS connected the dial `id` (to an address of its `DialOrder`). The
    /// connection is now what `adopt` makes of a native dial, with no descriptor for the
    /// engine (`NO_SOCK`: JS's socket owns the connection, and its liveness is JS's to see);
    /// JS runs its handshake, if any, then calls `offer`. False when the dial's record is
    /// gone or not dialing (JS then destroys its socket).
    pub fn node_dialed(self: &Arc<Self>, id: ConnId) -> bool {
        let started = lock(&self.node_dials).remove(&id);
        let us = started.map_or(0, |s| s.elapsed().as_micros() as u64);
        let dest = {
            let mut shard = self.shard(id);
            let Some(conn) = shard.conn_mut(id) else {
                return false;
            };
            if !matches!(conn.state, ConnState::Dialing) {
                return false;
            }
            conn.state = ConnState::Adopted;
            conn.fd = NO_SOCK;
            conn.serial = self.serials.fetch_add(1, Ordering::Relaxed);
            // Not watched and never peeked: nothing the engine could see makes it suspect.
            conn.suspect = false;
            conn.dest
        };
        Counters::bump(&self.counters.created);
        self.counters.connected(us);
        self.note_connected(dest, us);
        true
    }

    /// Node-dialled path: JS's connect for the dial `id` failed with Node's error `code` (an
    /// errno name, or an engine code such as `CONNECT_TIMEOUT` for the connect timeout or
    /// `POOL_CLOSED`) and `detail` (Node's message). Counted as a native dial's failure; the
    /// error (as a native dial would give it) and the waiter to reject with it.
    pub fn node_dial_failed(
        self: &Arc<Self>,
        id: ConnId,
        code: &str,
        detail: &str,
    ) -> (DialError, Option<WaiterId>) {
        lock(&self.node_dials).remove(&id);
        let (dest, target) = {
            let mut shard = self.shard(id);
            let Some((conn, ds)) = shard.conn_and_dest(id) else {
                return (
                    DialError::new(DialErrorCode::ConnectFailed, redact(detail)),
                    None,
                );
            };
            (conn.dest, Arc::clone(&ds.target))
        };
        let label = redact(&target.to_string());
        let error = if code == DialErrorCode::ConnectTimeout.as_str() {
            timed_out(&label, self.config.connect_timeout)
        } else if code == DialErrorCode::PoolClosed.as_str() {
            DialError::new(
                DialErrorCode::PoolClosed,
                format!("the pool was closed while connecting to {label}"),
            )
        } else {
            DialError::from_node_connect(&label, code, &redact(detail))
        };
        self.count_dial_failure(dest, error.code);
        let waiter = self.dial_failed(id);
        (error, waiter)
    }

    /// Records a failed dial; returns the waiter that must be rejected with its error.
    pub fn dial_failed(self: &Arc<Self>, id: ConnId) -> Option<WaiterId> {
        let mut shard = self.shard(id);
        let conn = shard.remove_conn(id)?;
        let ds = shard.dest(conn.dest)?;
        ds.dialing -= 1;
        ds.open -= 1;
        self.total_open.fetch_sub(1, Ordering::Relaxed);
        Counters::bump(&self.counters.dial_failures);
        let waiter = take_waiter_of(ds, conn.dialed_after);
        self.place_freed(shard, conn.dest);
        waiter
    }

    /// JS's handshake on an adopted connection failed (or timed out): the connection counts
    /// as closing (JS destroys its socket and reports it with `closed`), its dial as failed,
    /// and the oldest waiter of its destination is the one to reject, as for a failed dial.
    pub fn handshake_failed(self: &Arc<Self>, id: ConnId) -> Option<WaiterId> {
        let mut shard = self.shard(id);
        let (conn, ds) = shard.conn_and_dest(id)?;
        if !matches!(conn.state, ConnState::Adopted) {
            return None;
        }
        self.start_closing(conn);
        ds.dialing -= 1;
        Counters::bump(&self.counters.dial_failures);
        self.counters.dial_failed_with(None);
        let waiter = take_waiter_of(ds, conn.dialed_after);
        let dest = conn.dest;
        self.place_freed(shard, dest);
        self.note_failed(dest);
        waiter
    }

    /// Closes a dialed connection the owner will not use (the pool closed while it was in
    /// flight): the core still owns the descriptor and closes it here.
    pub fn abandon(self: &Arc<Self>, id: ConnId) {
        let conn = self.shard(id).remove_conn(id);
        if let Some(conn) = conn {
            self.detach(&conn);
            // Dropping the record closes a descriptor still in `Delivered`.
            drop(conn);
            self.feed_starved();
        }
    }
}

/// The waiter a failed dial rejects: the oldest, if it was queued before the dial started.
/// A waiter queued later did not cause the dial (it was started for an acquire that a release
/// served meanwhile): it is left queued, and `place_freed` dials for it, so no acquire fails
/// on a dial it did not ask for (say one whose connection the server reset while idle).
fn take_waiter_of(ds: &mut DestState, dialed_after: u64) -> Option<WaiterId> {
    if ds.waiters.peek()?.ticket < dialed_after {
        ds.waiters.pop().map(|w| w.id)
    } else {
        None
    }
}

/// A small, good-enough mixer for lifetime jitter (no RNG dependency needed).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
