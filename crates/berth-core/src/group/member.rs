//! One member of a group: its destination, weight, health state and counters.
//!
//! States: `Up` (eligible), `Down` (its active health checks fail), `Ejected` (passive outlier
//! detection took it out until `until`; it comes back only after that *and* a passing check).

use crate::histogram::Histogram;
use crate::pool::{DestId, DestPin};
use crate::sync::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    Up,
    Down,
    Ejected,
}

impl MemberState {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Up => "up",
            MemberState::Down => "down",
            MemberState::Ejected => "ejected",
        }
    }
}

/// A change the owner hears about (`memberUp`, `memberDown`, `memberEjected`), or a request
/// to run the user's check on the member (`Check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    Up,
    Down,
    /// Ejected for this many milliseconds.
    Ejected(u64),
    /// Run the user's health check on this member and answer with `Group::check_result`.
    Check,
}

/// The mutable health of a member, under its own lock (changes are rare).
#[derive(Debug)]
pub(super) struct Health {
    pub state: MemberState,
    pub consecutive: u32,
    pub ejections: u32,
    /// Clock ms when an ejection ends (only meaningful while `Ejected`).
    pub until: u64,
    /// A check of this member is in flight: no second one is started.
    pub checking: bool,
    /// The streak includes a lease that failed: a new connection that comes up does not end
    /// it (a server that accepts and then answers garbage must still be ejected); only a lease
    /// given back in order does.
    pub lease_failed: bool,
    /// Clock ms when the next active check is due.
    pub next_check: u64,
}

pub struct Member {
    pub dest: DestId,
    /// Keeps the member's destination known to the pool while it is a member.
    _pin: DestPin,
    /// Its address, as given or as resolved from `host`.
    pub addr: String,
    /// The host name it was resolved from, if any.
    pub host: Option<String>,
    pub weight: u32,
    pub(super) health: Mutex<Health>,
    pub picked: AtomicU64,
    pub failures: AtomicU64,
    /// Connect time EWMA, µs (0: no sample yet): p2c's latency.
    ewma_us: AtomicU64,
    pub latency: Histogram,
}

impl Member {
    pub(super) fn new(pin: DestPin, addr: String, host: Option<String>, weight: u32) -> Member {
        Member {
            dest: pin.id(),
            _pin: pin,
            addr,
            host,
            weight,
            health: Mutex::new(Health {
                state: MemberState::Up,
                consecutive: 0,
                ejections: 0,
                until: 0,
                checking: false,
                lease_failed: false,
                next_check: 0,
            }),
            picked: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            ewma_us: AtomicU64::new(0),
            latency: Histogram::default(),
        }
    }

    /// Takes over the health and counters of the member it replaces (same address, new
    /// weight or host).
    pub(super) fn inherit(&self, previous: &Member) {
        let old = lock(&previous.health);
        let mut health = lock(&self.health);
        health.state = old.state;
        health.consecutive = old.consecutive;
        health.ejections = old.ejections;
        health.until = old.until;
        drop(health);
        drop(old);
        let copy = |to: &AtomicU64, from: &AtomicU64| {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed)
        };
        copy(&self.picked, &previous.picked);
        copy(&self.failures, &previous.failures);
        copy(&self.ewma_us, &previous.ewma_us);
    }

    pub fn state(&self) -> MemberState {
        lock(&self.health).state
    }

    pub fn consecutive_failures(&self) -> u32 {
        lock(&self.health).consecutive
    }

    pub fn ejections(&self) -> u32 {
        lock(&self.health).ejections
    }

    pub fn latency_us(&self) -> u64 {
        self.ewma_us.load(Ordering::Relaxed)
    }

    /// A connection to it was made in `us`: the failure streak ends, the latency is noted.
    pub(super) fn connected(&self, us: u64) {
        self.latency.record_us(us);
        let old = self.ewma_us.load(Ordering::Relaxed);
        // Weight 1/4 to the new sample: recent enough to follow a slowdown, smooth enough
        // not to swing on one slow connect.
        let new = if old == 0 {
            us.max(1)
        } else {
            (old * 3 + us) / 4
        };
        self.ewma_us.store(new.max(1), Ordering::Relaxed);
    }

    /// The connection made was usable (a dial, and its handshake if any): a streak of
    /// connect failures ends (one that includes a failed lease does not).
    pub(super) fn connected_usable(&self) {
        let mut health = lock(&self.health);
        if !health.lease_failed {
            health.consecutive = 0;
        }
    }

    /// A lease of it was given back in order: any streak ends.
    pub(super) fn lease_succeeded(&self) {
        let mut health = lock(&self.health);
        health.consecutive = 0;
        health.lease_failed = false;
    }
}
