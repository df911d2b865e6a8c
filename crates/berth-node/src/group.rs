//! Upstream groups' binding: `Engine` methods that map JS values to `berth_core::group` and
//! the pool's group calls, and the stats objects they return.

use crate::config::millis;
use crate::engine::Engine;
use crate::hot_io::as_id;
use berth_core::group::{hash_key, Balance, GroupConfig, HealthConfig, MemberSpec};
use berth_core::pool::{DestId, GroupError};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A group's options as the facade resolved them (defaults applied, already validated).
#[napi(object)]
pub struct GroupOptions {
    pub balance: String,
    pub consecutive_failures: u32,
    /// Milliseconds.
    pub base_ejection_time: f64,
    pub max_ejection_percent: u32,
    pub attempts: u32,
    /// Milliseconds.
    pub backoff: f64,
    pub budget: f64,
    /// Milliseconds; absent: no active checks.
    pub health_interval: Option<f64>,
    /// Milliseconds.
    pub health_timeout: f64,
    /// JS runs the user's check (asked with `EVENT_MEMBER_CHECK`) instead of a connect.
    pub user_check: bool,
}

#[napi(object)]
pub struct GroupMember {
    pub dest: String,
    pub host: Option<String>,
    pub weight: u32,
}

/// Connect time of a member, in milliseconds.
#[napi(object)]
pub struct MemberLatency {
    pub p50: f64,
    pub p99: f64,
}

#[napi(object)]
pub struct EngineMemberStats {
    pub dest: String,
    pub host: Option<String>,
    pub weight: u32,
    pub state: String,
    pub in_use: u32,
    pub idle: u32,
    pub dialing: u32,
    pub picked: f64,
    pub failures: f64,
    pub consecutive_failures: u32,
    pub ejections: u32,
    pub latency: Option<MemberLatency>,
}

#[napi(object)]
pub struct EngineGroupStats {
    pub name: String,
    pub balance: String,
    pub acquires: f64,
    pub retries: f64,
    pub retries_refused: f64,
    pub no_healthy_member: f64,
    pub members: Vec<EngineMemberStats>,
}

fn ids(tried: &[f64]) -> Vec<DestId> {
    tried.iter().filter_map(|&d| as_id(d)).collect()
}

#[napi]
impl Engine {
    /// Makes a group; its id. `profile`: the members' connect profile ("" for plain TCP).
    #[napi(catch_unwind)]
    pub fn group_create(
        &self,
        name: String,
        profile: String,
        options: GroupOptions,
    ) -> Result<u32> {
        let balance = Balance::parse(&options.balance).ok_or_else(|| {
            Error::new(
                Status::InvalidArg,
                format!("unknown balance {:?}", options.balance),
            )
        })?;
        let timeout = millis(options.health_timeout).map_or(u64::MAX, |d| d.as_millis() as u64);
        let config = GroupConfig {
            balance,
            consecutive_failures: options.consecutive_failures,
            base_ejection_ms: millis(options.base_ejection_time)
                .map_or(u64::MAX, |d| d.as_millis() as u64),
            max_ejection_percent: options.max_ejection_percent,
            attempts: options.attempts.max(1),
            backoff_ms: millis(options.backoff).map_or(0, |d| d.as_millis() as u64),
            budget: options.budget,
            health: options
                .health_interval
                .and_then(millis)
                .map(|interval| HealthConfig {
                    interval_ms: interval.as_millis() as u64,
                    timeout_ms: timeout,
                    user_check: options.user_check,
                }),
            check_timeout_ms: timeout,
        };
        match self.pool.create_group(&name, &profile, config) {
            Ok(group) => Ok(group.id),
            Err(GroupError::NameInUse) => Err(Error::new(
                Status::InvalidArg,
                format!("a group named {name:?} already exists"),
            )),
            Err(GroupError::BadName) => Err(Error::new(
                Status::InvalidArg,
                format!("group name {name:?} must not be empty or digits alone"),
            )),
            Err(GroupError::TooMany) => Err(Error::new(
                Status::InvalidArg,
                format!("too many groups (at most {})", berth_core::pool::MAX_GROUPS),
            )),
        }
    }

    /// Sets a group's members; their destination ids, in order. Throws on a bad address.
    #[napi(catch_unwind)]
    pub fn group_set_members(&self, id: u32, members: Vec<GroupMember>) -> Result<Vec<f64>> {
        let group = self
            .pool
            .group(id)
            .ok_or_else(|| Error::new(Status::InvalidArg, "unknown group"))?;
        let specs: Vec<MemberSpec> = members
            .into_iter()
            .map(|m| MemberSpec {
                addr: m.dest,
                host: m.host,
                weight: m.weight,
            })
            .collect();
        self.pool
            .set_group_members(&group, &specs)
            .map(|ids| ids.into_iter().map(|d| d as f64).collect())
            .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
    }

    /// The member destination an acquire should use: -1 when no member is eligible, -2 for
    /// an unknown group. `first`: this is the acquire's first try (counted as an acquire).
    #[napi(catch_unwind)]
    pub fn group_pick(&self, id: u32, key: Option<String>, tried: Vec<f64>, first: bool) -> f64 {
        let Some(group) = self.pool.group(id) else {
            return -2.0;
        };
        let key = key.as_deref().map(hash_key);
        group
            .pick(key, &ids(&tried), first, |d| self.pool.dest_load(d))
            .map_or(-1.0, |m| m.dest as f64)
    }

    /// Members an acquire that tried `tried` could still use.
    #[napi(catch_unwind)]
    pub fn group_eligible(&self, id: u32, tried: Vec<f64>) -> u32 {
        self.pool
            .group(id)
            .map_or(0, |g| g.eligible(&ids(&tried)) as u32)
    }

    /// Takes a retry from the group's budget: false when it has none left.
    #[napi(catch_unwind)]
    pub fn group_retry(&self, id: u32) -> bool {
        self.pool.group(id).is_some_and(|g| g.try_retry())
    }

    /// The pause (ms) before try number `attempt` of an acquire.
    #[napi(catch_unwind)]
    pub fn group_backoff(&self, id: u32, attempt: u32, seed: f64) -> f64 {
        self.pool
            .group(id)
            .map_or(0.0, |g| g.backoff_ms(attempt, seed as u64) as f64)
    }

    /// A lease of a member destination was destroyed with an error: counts against it.
    #[napi(catch_unwind)]
    pub fn member_failed(&self, dest: f64) {
        if let Some(d) = as_id(dest) {
            self.pool.note_lease_failed(d);
        }
    }

    /// A lease of a member destination whose streak includes a failed lease was given back in
    /// order: the streak ends.
    #[napi(catch_unwind)]
    pub fn member_released(&self, dest: f64) {
        if let Some(d) = as_id(dest) {
            self.pool.note_lease_ok(d);
        }
    }

    /// The result of the user's check asked for with `EVENT_MEMBER_CHECK`.
    #[napi(catch_unwind)]
    pub fn group_check_result(&self, id: u32, dest: f64, passed: bool) {
        if let Some(d) = as_id(dest) {
            self.pool.group_check_result(id, d, passed);
        }
    }

    #[napi(catch_unwind)]
    pub fn group_stats(&self, id: u32) -> Option<EngineGroupStats> {
        let s = self.pool.group_stats(id)?;
        Some(EngineGroupStats {
            name: s.name,
            balance: s.balance.to_owned(),
            acquires: s.acquires as f64,
            retries: s.retries as f64,
            retries_refused: s.retries_refused as f64,
            no_healthy_member: s.no_healthy_member as f64,
            members: s
                .members
                .into_iter()
                .map(|m| EngineMemberStats {
                    dest: m.dest,
                    host: m.host,
                    weight: m.weight,
                    state: m.state.to_owned(),
                    in_use: m.in_use,
                    idle: m.idle,
                    dialing: m.dialing,
                    picked: m.picked as f64,
                    failures: m.failures as f64,
                    consecutive_failures: m.consecutive_failures,
                    ejections: m.ejections,
                    latency: m.latency.map(|(p50, p99)| MemberLatency { p50, p99 }),
                })
                .collect(),
        })
    }

    /// Removes a group (its members' idle connections close); false if unknown.
    #[napi(catch_unwind)]
    pub fn group_remove(&self, id: u32) -> bool {
        self.pool.remove_group(id)
    }
}
