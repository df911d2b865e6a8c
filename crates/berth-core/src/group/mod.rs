//! Upstream groups: a named set of members (destinations) that every berth API can use in
//! place of one destination. The group picks a member per acquire (`balance`), keeps each
//! member's health (passive outlier ejection, active checks: `health`), and allows failing
//! over to another member within a retry budget (`retry`). The pool's side (member
//! destinations, dial outcomes, the native lane's failover) is in `pool/groups.rs`.

pub mod balance;
mod health;
mod member;
mod retry;

pub use balance::{hash_key, Balance};
pub use member::{Member, MemberChange, MemberState};

use crate::clock::now_ms;
use crate::pool::{DestId, DestPin, Pool};
use crate::sync::lock;
use balance::{Balancer, MemberView};
use retry::RetryBudget;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The longest one ejection lasts, however often a member was ejected (Envoy's default).
const MAX_EJECTION_MS: u64 = 300_000;

#[derive(Clone, Debug)]
pub struct HealthConfig {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// The owner runs the user's check (asked with `MemberChange::Check`) instead of a connect.
    pub user_check: bool,
}

#[derive(Clone, Debug)]
pub struct GroupConfig {
    pub balance: Balance,
    /// Failures in a row that eject a member; 0 turns outlier ejection off.
    pub consecutive_failures: u32,
    pub base_ejection_ms: u64,
    /// At most this share of the members is ejected at once (at least one may always be).
    pub max_ejection_percent: u32,
    /// Tries per acquire, the first included.
    pub attempts: u32,
    pub backoff_ms: u64,
    /// Retries allowed as a fraction of recent acquires.
    pub budget: f64,
    /// Active checks; `None`: only ejected members are checked (before they return).
    pub health: Option<HealthConfig>,
    /// How long a check of a returning ejected member may take without active checks.
    pub check_timeout_ms: u64,
}

/// What a member of a new member list is: its address (already resolved), the host name it
/// came from, its weight.
pub struct MemberSpec {
    pub addr: String,
    pub host: Option<String>,
    pub weight: u32,
}

/// A new member list and the members that left it.
pub(crate) type MemberChanges = (Vec<Arc<Member>>, Vec<Arc<Member>>);

struct Members {
    list: Vec<Arc<Member>>,
    balancer: Balancer,
}

pub struct Group {
    pub id: u32,
    pub name: Arc<str>,
    pub config: GroupConfig,
    /// Connect profile its members are interned under (`group:<name>` plus JS's TLS profile).
    pub profile: String,
    /// Its members connect with a handshake JS runs (TLS): not for the native lane.
    pub tls: bool,
    members: Mutex<Members>,
    budget: Mutex<RetryBudget>,
    /// Held while an ejection is decided, so that two members failing at once cannot both
    /// pass the `maxEjectionPercent` cap.
    ejecting: Mutex<()>,
    pub acquires: AtomicU64,
    pub retries: AtomicU64,
    pub retries_refused: AtomicU64,
    pub no_healthy: AtomicU64,
    /// Pokes the health task: a member was ejected, or the group removed.
    wake: Notify,
    removed: AtomicBool,
}

impl Group {
    pub(crate) fn new(
        id: u32,
        name: &str,
        profile: String,
        tls: bool,
        config: GroupConfig,
    ) -> Group {
        Group {
            id,
            tls,
            name: Arc::from(name),
            members: Mutex::new(Members {
                list: Vec::new(),
                balancer: Balancer::new(config.balance, &[], &[]),
            }),
            config,
            profile,
            budget: Mutex::new(RetryBudget::default()),
            ejecting: Mutex::new(()),
            acquires: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            retries_refused: AtomicU64::new(0),
            no_healthy: AtomicU64::new(0),
            wake: Notify::new(),
            removed: AtomicBool::new(false),
        }
    }

    /// The members now.
    pub fn members(&self) -> Vec<Arc<Member>> {
        lock(&self.members).list.clone()
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_removed(&self) {
        self.removed.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Replaces the member list: members whose address is in both keep their state and
    /// counters; `pin` interns a new member's destination. Returns the new list and the
    /// members that left.
    pub(crate) fn set_members<E>(
        &self,
        specs: &[MemberSpec],
        mut pin: impl FnMut(&str) -> Result<DestPin, E>,
    ) -> Result<MemberChanges, E> {
        let old = self.members();
        let mut list = Vec::with_capacity(specs.len());
        for spec in specs {
            let kept = old
                .iter()
                .find(|m| m.addr == spec.addr && m.weight == spec.weight && m.host == spec.host);
            match kept {
                Some(m) => list.push(Arc::clone(m)),
                None => {
                    // A member that only changed its weight or host keeps its destination
                    // (and so its connections): the pin is taken again.
                    let pin = pin(&spec.addr)?;
                    let member =
                        Member::new(pin, spec.addr.clone(), spec.host.clone(), spec.weight);
                    if let Some(previous) = old.iter().find(|m| m.addr == spec.addr) {
                        member.inherit(previous);
                    }
                    list.push(Arc::new(member));
                }
            }
        }
        let gone = old
            .into_iter()
            .filter(|m| !list.iter().any(|n| n.dest == m.dest))
            .collect();
        let keys: Vec<&str> = list.iter().map(|m| m.addr.as_str()).collect();
        let weights: Vec<u32> = list.iter().map(|m| m.weight).collect();
        let balancer = Balancer::new(self.config.balance, &keys, &weights);
        let mut members = lock(&self.members);
        *members = Members {
            list: list.clone(),
            balancer,
        };
        drop(members);
        self.wake.notify_one();
        Ok((list, gone))
    }

    /// Picks a member for an acquire, leaving out those in `tried` and any not up; `first`
    /// counts the acquire (its retries call again with `first` false). `load` gives a
    /// member's connections in flight (leased and dialing).
    pub fn pick(
        &self,
        key: Option<u64>,
        tried: &[DestId],
        first: bool,
        load: impl Fn(DestId) -> u32,
    ) -> Option<Arc<Member>> {
        if first {
            self.acquires.fetch_add(1, Ordering::Relaxed);
            lock(&self.budget).acquired(now_ms());
        }
        let list = self.members();
        let needs_load = matches!(
            self.config.balance,
            Balance::LeastConnections | Balance::P2c | Balance::Hash
        );
        let views: Vec<MemberView> = list
            .iter()
            .map(|m| MemberView {
                weight: m.weight,
                in_flight: if needs_load { load(m.dest) } else { 0 },
                latency_us: m.latency_us(),
                eligible: m.state() == MemberState::Up && !tried.contains(&m.dest),
            })
            .collect();
        let mut members = lock(&self.members);
        // The list changed meanwhile (an update): the views no longer match; ask again.
        if members.list.len() != list.len()
            || members
                .list
                .iter()
                .zip(&list)
                .any(|(a, b)| !Arc::ptr_eq(a, b))
        {
            drop(members);
            return self.pick(key, tried, false, load);
        }
        let picked = members
            .balancer
            .pick(&views, key)
            .map(|i| Arc::clone(&list[i]));
        drop(members);
        match &picked {
            Some(m) => {
                m.picked.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.no_healthy.fetch_add(1, Ordering::Relaxed);
            }
        }
        picked
    }

    /// Members an acquire that tried `tried` could still use.
    pub fn eligible(&self, tried: &[DestId]) -> usize {
        self.members()
            .iter()
            .filter(|m| m.state() == MemberState::Up && !tried.contains(&m.dest))
            .count()
    }

    /// Takes a retry from the budget (counted either way).
    pub fn try_retry(&self) -> bool {
        let granted = lock(&self.budget).try_retry(now_ms(), self.config.budget);
        let counter = if granted {
            &self.retries
        } else {
            &self.retries_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        granted
    }

    /// The wait before try number `attempt` (2 = the first retry): `backoff` doubling per
    /// retry, with full jitter (AWS's "full jitter": uniform in [0, cap]) so that acquires
    /// failing together do not retry together.
    pub fn backoff_ms(&self, attempt: u32, seed: u64) -> u64 {
        if self.config.backoff_ms == 0 || attempt < 2 {
            return 0;
        }
        let cap = self
            .config
            .backoff_ms
            .saturating_mul(1 << (attempt - 2).min(16));
        splitmix(seed) % (cap + 1)
    }

    /// A connect to `member` failed, or (`lease`) a lease of it failed (destroyed with an
    /// error, or a native session's upstream broke): returns the ejection this causes, if any.
    pub fn failed(&self, member: &Member, lease: bool) -> Option<MemberChange> {
        member.failures.fetch_add(1, Ordering::Relaxed);
        let threshold = self.config.consecutive_failures;
        let _deciding = lock(&self.ejecting);
        let members = self.members();
        let ejected_now = members
            .iter()
            .filter(|m| m.state() == MemberState::Ejected)
            .count();
        let total = members.len();
        let mut health = lock(&member.health);
        health.consecutive += 1;
        health.lease_failed |= lease;
        if threshold == 0 || health.consecutive < threshold || health.state != MemberState::Up {
            return None;
        }
        let allowed = (total * self.config.max_ejection_percent as usize / 100).max(1);
        if ejected_now >= allowed {
            return None;
        }
        let ms = self.eject(&mut health, now_ms());
        drop(health);
        self.wake.notify_one();
        Some(MemberChange::Ejected(ms))
    }

    /// Ejects: the n-th ejection lasts n x the base time (capped). Returns its length.
    fn eject(&self, health: &mut member::Health, now: u64) -> u64 {
        health.ejections += 1;
        let ms = self
            .config
            .base_ejection_ms
            .saturating_mul(u64::from(health.ejections))
            .min(MAX_EJECTION_MS.max(self.config.base_ejection_ms));
        health.state = MemberState::Ejected;
        health.until = now.saturating_add(ms);
        ms
    }

    /// The outcome of a check of `member` (an active check, or the one that must pass before
    /// an ejected member returns): the state change it makes, if any.
    pub fn check_result(&self, member: &Member, passed: bool) -> Option<MemberChange> {
        let now = now_ms();
        let mut health = lock(&member.health);
        health.checking = false;
        let change = match (health.state, passed) {
            (MemberState::Ejected, _) if now < health.until => None,
            (MemberState::Ejected, true) | (MemberState::Down, true) => {
                health.state = MemberState::Up;
                health.consecutive = 0;
                Some(MemberChange::Up)
            }
            (MemberState::Ejected, false) => {
                Some(MemberChange::Ejected(self.eject(&mut health, now)))
            }
            (MemberState::Up, false) => {
                health.state = MemberState::Down;
                Some(MemberChange::Down)
            }
            _ => None,
        };
        drop(health);
        self.wake.notify_one();
        change
    }
}

/// The pool side of a member, for the hooks of dials and releases.
pub(crate) fn member_connected(member: &Member, us: u64) {
    member.connected(us);
}

pub(crate) fn member_connected_usable(member: &Member) {
    member.connected_usable();
}

pub(crate) fn member_lease_succeeded(member: &Member) {
    member.lease_succeeded();
}

/// The health task of a group: runs checks as they fall due and ends when the group is
/// removed or the pool closes.
pub(crate) fn spawn_health(pool: &Arc<Pool>, group: &Arc<Group>) {
    health::spawn(pool, group);
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
