//! The pool's side of upstream groups (`crate::group`): the table of groups, their member
//! destinations (interned under the group's profile and pinned while members), what dials
//! and leases tell a member's health, and the native lane's failover.

use super::events::Event;
use super::shard::DestId;
use super::upstream::Upstream;
use super::{DestPin, Pool};
use crate::contract::EvictReason;
use crate::error::{DialError, DialErrorCode};
use crate::group::{Group, GroupConfig, Member, MemberChange, MemberSpec};
use crate::net::destination::InvalidDestination;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Groups per pool at most: a table keyed by input stays bounded.
pub const MAX_GROUPS: usize = 1024;

#[derive(Default)]
pub(crate) struct GroupTable {
    by_name: HashMap<Arc<str>, Arc<Group>>,
    by_id: HashMap<u32, Arc<Group>>,
    /// Member destinations and the member each one is.
    members: HashMap<DestId, (Arc<Group>, Arc<Member>)>,
    next_id: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub enum GroupError {
    NameInUse,
    TooMany,
    /// Empty, or digits alone (`group:80` must stay the host "group", port 80).
    BadName,
}

fn read(table: &RwLock<GroupTable>) -> std::sync::RwLockReadGuard<'_, GroupTable> {
    table.read().unwrap_or_else(|p| p.into_inner())
}

fn write(table: &RwLock<GroupTable>) -> std::sync::RwLockWriteGuard<'_, GroupTable> {
    table.write().unwrap_or_else(|p| p.into_inner())
}

impl Pool {
    /// Makes a group (no members yet: `set_group_members`) and starts its health task.
    /// `profile` is the connect profile of its members (JS's TLS profile, or "").
    pub fn create_group(
        self: &Arc<Self>,
        name: &str,
        profile: &str,
        config: GroupConfig,
    ) -> Result<Arc<Group>, GroupError> {
        let mut table = write(&self.groups);
        if table.by_name.contains_key(name) {
            return Err(GroupError::NameInUse);
        }
        if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GroupError::BadName);
        }
        if table.by_name.len() >= MAX_GROUPS {
            return Err(GroupError::TooMany);
        }
        table.next_id += 1;
        let id = table.next_id;
        // Members are other destinations than the same addresses outside the group: their
        // connections, limits and counts are the member's own.
        let tls = !profile.is_empty();
        let profile = match tls {
            false => format!("group {name}"),
            true => format!("group {name} {profile}"),
        };
        let group = Arc::new(Group::new(id, name, profile, tls, config));
        table
            .by_name
            .insert(Arc::clone(&group.name), Arc::clone(&group));
        table.by_id.insert(id, Arc::clone(&group));
        drop(table);
        crate::group::spawn_health(self, &group);
        Ok(group)
    }

    pub fn group(&self, id: u32) -> Option<Arc<Group>> {
        read(&self.groups).by_id.get(&id).cloned()
    }

    pub fn group_named(&self, name: &str) -> Option<Arc<Group>> {
        read(&self.groups).by_name.get(name).cloned()
    }

    /// Sets a group's members; returns their destination ids, in order. Members that left
    /// have their idle connections closed.
    pub fn set_group_members(
        self: &Arc<Self>,
        group: &Arc<Group>,
        specs: &[MemberSpec],
    ) -> Result<Vec<DestId>, InvalidDestination> {
        let (list, gone) = group.set_members(specs, |addr| {
            self.intern_pinned_profiled(addr, &group.profile)
        })?;
        let mut table = write(&self.groups);
        for m in &gone {
            table.members.remove(&m.dest);
        }
        for m in &list {
            table
                .members
                .insert(m.dest, (Arc::clone(group), Arc::clone(m)));
        }
        drop(table);
        for m in &list {
            self.keep_idle(m.dest, m.state() == crate::group::MemberState::Up);
        }
        for m in &gone {
            self.keep_idle(m.dest, false);
            self.evict_idle_of(m.dest);
        }
        Ok(list.iter().map(|m| m.dest).collect())
    }

    /// Removes a group: acquires can no longer name it, its members' idle connections close
    /// (leased ones close when they come back: their destinations are no longer pinned).
    pub fn remove_group(self: &Arc<Self>, id: u32) -> bool {
        let mut table = write(&self.groups);
        let Some(group) = table.by_id.remove(&id) else {
            return false;
        };
        table.by_name.remove(&group.name);
        table.members.retain(|_, (g, _)| g.id != id);
        drop(table);
        group.mark_removed();
        for m in group.members() {
            self.keep_idle(m.dest, false);
            self.evict_idle_of(m.dest);
        }
        true
    }

    pub(crate) fn member_of(&self, dest: DestId) -> Option<(Arc<Group>, Arc<Member>)> {
        let table = read(&self.groups);
        if table.members.is_empty() {
            return None;
        }
        table.members.get(&dest).cloned()
    }

    pub(crate) fn emit_member(&self, group: &Group, member: &Member, change: MemberChange) {
        self.sink.emit(Event::Member {
            group: group.id,
            dest: member.dest,
            change,
        });
        match change {
            MemberChange::Ejected(_) | MemberChange::Down => {
                self.keep_idle(member.dest, false);
                self.evict_idle_of(member.dest);
            }
            MemberChange::Up => self.keep_idle(member.dest, true),
            MemberChange::Check => {}
        }
    }

    /// A dial to `dest` connected in `us` (TCP; a handshake may still follow).
    pub(crate) fn note_connected(&self, dest: DestId, us: u64) {
        if let Some((_, member)) = self.member_of(dest) {
            crate::group::member_connected(&member, us);
        }
    }

    /// A connection to `dest` became usable (dialed, and its handshake done if any).
    pub(crate) fn note_usable(&self, dest: DestId) {
        if let Some((_, member)) = self.member_of(dest) {
            crate::group::member_connected_usable(&member);
        }
    }

    /// A dial to `dest` (or its handshake) failed: counts against the member, which may be
    /// ejected.
    pub fn note_failed(&self, dest: DestId) {
        self.note_failure(dest, false);
    }

    /// A lease of `dest` failed (destroyed with an error, or a native session's upstream
    /// broke): counts against the member, and a new connection coming up does not clear it.
    pub fn note_lease_failed(&self, dest: DestId) {
        self.note_failure(dest, true);
    }

    /// A lease of `dest` was given back in order: the member's failure streak ends.
    pub fn note_lease_ok(&self, dest: DestId) {
        if let Some((_, member)) = self.member_of(dest) {
            crate::group::member_lease_succeeded(&member);
        }
    }

    fn note_failure(&self, dest: DestId, lease: bool) {
        if let Some((group, member)) = self.member_of(dest) {
            if let Some(change) = group.failed(&member, lease) {
                self.emit_member(&group, &member, change);
            }
        }
    }

    /// The owner's answer to `MemberChange::Check` for the member at `dest` of group `id`.
    pub fn group_check_result(&self, id: u32, dest: DestId, passed: bool) {
        let Some((group, member)) = self.member_of(dest) else {
            return;
        };
        if group.id != id {
            return;
        }
        if let Some(change) = group.check_result(&member, passed) {
            self.emit_member(&group, &member, change);
        }
    }

    /// A destination's connections in flight: leased and being dialed (JS and native).
    pub fn dest_load(&self, dest: DestId) -> u32 {
        self.shard(dest)
            .dest(dest)
            .map_or(0, |ds| ds.in_use + ds.dialing + ds.native_dialing)
    }

    /// Whether `dest`'s released connections may idle (see `DestState::no_idle`).
    fn keep_idle(&self, dest: DestId, keep: bool) {
        if let Some(ds) = self.shard(dest).dest(dest) {
            ds.no_idle = !keep;
        }
    }

    /// Closes `dest`'s idle connections (a member ejected, down or gone).
    fn evict_idle_of(&self, dest: DestId) {
        let mut evicted = Vec::new();
        {
            let mut shard = self.shard(dest);
            let idle: Vec<_> = match shard.dest(dest) {
                Some(ds) => ds.idle.drain(..).collect(),
                None => Vec::new(),
            };
            for id in idle {
                if let Some(conn) = shard.conn_mut(id) {
                    self.total_idle.fetch_sub(1, Ordering::Relaxed);
                    self.start_closing(conn);
                    self.counters.evicted(EvictReason::Unhealthy);
                    evicted.push(id);
                }
            }
            let native: Vec<_> = match shard.dest(dest) {
                Some(ds) => ds.native_idle.drain(..).collect(),
                None => Vec::new(),
            };
            for id in native {
                self.total_idle.fetch_sub(1, Ordering::Relaxed);
                self.counters.evicted(EvictReason::Unhealthy);
                self.remove_native(&mut shard, id);
            }
        }
        for conn in evicted {
            self.sink.emit(Event::Evict {
                conn,
                reason: EvictReason::Unhealthy,
            });
        }
    }

    /// Leases an upstream from `group` for a native session: a member picked by the group,
    /// another one when a connect fails (within the attempts, the retry budget and
    /// `timeout`). Fails with `NoHealthyMember` when no member is left to try.
    pub async fn acquire_upstream_group(
        self: &Arc<Self>,
        group: &Arc<Group>,
        timeout: Option<Duration>,
    ) -> Result<(Upstream, Arc<Member>), DialError> {
        // A route remembered (or a forward started) before the group was removed.
        if group.is_removed() {
            return Err(DialError::new(
                DialErrorCode::ConnectFailed,
                format!("group {} was removed", group.name),
            ));
        }
        let wait = timeout.or(self.config.acquire_timeout);
        let deadline = wait.map(|t| tokio::time::Instant::now() + t);
        let mut tried: Vec<DestId> = Vec::new();
        let mut last: Option<DialError> = None;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // A pick that finds no member up counts in `no_healthy` itself.
            let Some(member) = group.pick(None, &tried, attempt == 1, |d| self.dest_load(d)) else {
                return Err(no_healthy_member(group, last));
            };
            let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
            match self.acquire_upstream(member.dest, left).await {
                Ok(upstream) => return Ok((upstream, member)),
                Err(e) if !e.code.is_connect_failure() => return Err(e),
                Err(e) => {
                    tried.push(member.dest);
                    if group.eligible(&tried) == 0 {
                        group.no_healthy.fetch_add(1, Ordering::Relaxed);
                        return Err(no_healthy_member(group, Some(e)));
                    }
                    if attempt >= group.config.attempts || !group.try_retry() {
                        return Err(e);
                    }
                    last = Some(e);
                    let pause = group.backoff_ms(attempt + 1, member.dest ^ u64::from(attempt));
                    let until = tokio::time::Instant::now() + Duration::from_millis(pause);
                    if deadline.is_some_and(|d| d <= until) {
                        return Err(DialError::new(
                            DialErrorCode::AcquireTimeout,
                            format!("no member of group {} connected in time", group.name),
                        ));
                    }
                    tokio::time::sleep_until(until).await;
                }
            }
        }
    }
}

/// Where a native session goes: one destination (pinned while the target lives) or a group.
pub enum RouteTarget {
    Dest(DestPin),
    Group(Arc<Group>),
}

impl RouteTarget {
    /// What a session leases its upstream from.
    pub fn upstream(&self) -> UpstreamTarget {
        match self {
            RouteTarget::Dest(pin) => UpstreamTarget::Dest(pin.id()),
            RouteTarget::Group(group) => UpstreamTarget::Group(Arc::clone(group)),
        }
    }
}

impl From<DestPin> for RouteTarget {
    fn from(pin: DestPin) -> Self {
        RouteTarget::Dest(pin)
    }
}

/// What a native session leases its upstream from.
#[derive(Clone)]
pub enum UpstreamTarget {
    Dest(DestId),
    Group(Arc<Group>),
}

/// The prefix that names a group where a destination is expected.
pub const GROUP_PREFIX: &str = "group:";

impl Pool {
    /// A route's answer (`host:port`, `unix:/path` or `group:<name>`) as a target for the
    /// native lane; the message names what is wrong otherwise.
    pub fn route_target(self: &Arc<Self>, answer: &str) -> Result<RouteTarget, String> {
        // `group:80` is the host "group", port 80: group names are never digits alone.
        let group_name = answer
            .strip_prefix(GROUP_PREFIX)
            .filter(|name| !name.bytes().all(|b| b.is_ascii_digit()));
        let Some(name) = group_name else {
            return self
                .intern_pinned(answer)
                .map(RouteTarget::Dest)
                .map_err(|e| e.to_string());
        };
        let group = self
            .group_named(name)
            .ok_or_else(|| format!("unknown group {name:?} (make it with pool.group() first)"))?;
        if group.tls {
            return Err(format!(
                "group {name:?} connects with TLS: the native lane forwards plain TCP only"
            ));
        }
        Ok(RouteTarget::Group(group))
    }
}

fn no_healthy_member(group: &Group, last: Option<DialError>) -> DialError {
    let why = match last {
        Some(e) => format!(" (last: {})", e.message),
        None => String::new(),
    };
    DialError::new(
        DialErrorCode::NoHealthyMember,
        format!(
            "group {} has no healthy member to connect to{why}",
            group.name
        ),
    )
}

/// One member in `Pool::group_stats`.
#[derive(Debug)]
pub struct MemberStats {
    pub dest: String,
    pub host: Option<String>,
    pub weight: u32,
    pub state: &'static str,
    pub in_use: u32,
    pub idle: u32,
    pub dialing: u32,
    pub picked: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    pub ejections: u32,
    /// Connect time quantiles (ms), p50 and p99; None before the first connect.
    pub latency: Option<(f64, f64)>,
}

#[derive(Debug)]
pub struct GroupStats {
    pub name: String,
    pub balance: &'static str,
    pub acquires: u64,
    pub retries: u64,
    pub retries_refused: u64,
    pub no_healthy_member: u64,
    pub members: Vec<MemberStats>,
}

impl Pool {
    /// A group's counters and its members' state and counts, read without stopping anything.
    pub fn group_stats(&self, id: u32) -> Option<GroupStats> {
        let group = self.group(id)?;
        let members = group
            .members()
            .iter()
            .map(|m| {
                let (in_use, idle, dialing) =
                    self.shard(m.dest).dest(m.dest).map_or((0, 0, 0), |ds| {
                        (
                            ds.in_use,
                            (ds.idle.len() + ds.native_idle.len()) as u32,
                            ds.dialing + ds.native_dialing,
                        )
                    });
                let latency = (m.latency_us() > 0).then(|| {
                    let q = m.latency.quantiles_ms(&[0.5, 0.99]);
                    (q[0], q[1])
                });
                MemberStats {
                    dest: m.addr.clone(),
                    host: m.host.clone(),
                    weight: m.weight,
                    state: m.state().as_str(),
                    in_use,
                    idle,
                    dialing,
                    picked: m.picked.load(Ordering::Relaxed),
                    failures: m.failures.load(Ordering::Relaxed),
                    consecutive_failures: m.consecutive_failures(),
                    ejections: m.ejections(),
                    latency,
                }
            })
            .collect();
        Some(GroupStats {
            name: group.name.to_string(),
            balance: group.config.balance.as_str(),
            acquires: group.acquires.load(Ordering::Relaxed),
            retries: group.retries.load(Ordering::Relaxed),
            retries_refused: group.retries_refused.load(Ordering::Relaxed),
            no_healthy_member: group.no_healthy.load(Ordering::Relaxed),
            members,
        })
    }
}

impl Pool {
    /// The group of each member destination, for `metrics()`'s `group` label.
    pub(super) fn member_groups(&self) -> HashMap<DestId, Arc<str>> {
        read(&self.groups)
            .members
            .iter()
            .map(|(&dest, (group, _))| (dest, Arc::clone(&group.name)))
            .collect()
    }

    /// Every member's state and ejections, groups by name, members in their order.
    pub(super) fn member_gauges(&self) -> Vec<super::MemberGauge> {
        let table = read(&self.groups);
        let mut groups: Vec<_> = table.by_name.values().collect();
        groups.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        groups
            .into_iter()
            .flat_map(|g| {
                g.members().into_iter().map(|m| super::MemberGauge {
                    group: g.name.to_string(),
                    member: crate::redact::redact(&m.addr),
                    state: m.state().as_str(),
                    ejections: u64::from(m.ejections()),
                })
            })
            .collect()
    }
}
