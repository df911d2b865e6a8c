//! A group's health task: starts the checks that fall due (active checks on their interval,
//! and the check an ejected member must pass once its ejection time is over), and sleeps until
//! the next one. A connect check runs here; a user check is asked of the owner (JS), which
//! answers through `Pool::group_check_result`.

use super::member::MemberState;
use super::{Group, Member, MemberChange};
use crate::clock::now_ms;
use crate::net::dial::dial_socket;
use crate::pool::Pool;
use crate::sync::lock;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Sleep at most this long between looks, so that a clock step cannot stall checks.
const MAX_SLEEP_MS: u64 = 1_000;

pub(super) fn spawn(pool: &Arc<Pool>, group: &Arc<Group>) {
    let weak_pool = Arc::downgrade(pool);
    let weak_group = Arc::downgrade(group);
    let mut stop = pool.shutdown_signal();
    pool.runtime().spawn(async move {
        loop {
            let Some(sleep_ms) = tick(&weak_pool, &weak_group) else {
                return;
            };
            let Some(group) = weak_group.upgrade() else {
                return;
            };
            // Held while asleep: `mark_removed` (and any change) wakes it through `wake`.
            let woken = group.wake.notified();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
                _ = woken => {}
                _ = stop.wait_for(|closed| *closed) => return,
            }
        }
    });
}

/// Starts the checks due now; returns how long to sleep, or None when the task must end.
fn tick(pool: &Weak<Pool>, group: &Weak<Group>) -> Option<u64> {
    let pool = pool.upgrade()?;
    let group = group.upgrade()?;
    if group.is_removed() || pool.is_closed() {
        return None;
    }
    let now = now_ms();
    let mut next = now + MAX_SLEEP_MS;
    for member in group.members() {
        let mut health = lock(&member.health);
        if health.checking {
            continue;
        }
        let due = match health.state {
            MemberState::Ejected => health.until,
            _ => match &group.config.health {
                Some(_) => health.next_check,
                None => u64::MAX,
            },
        };
        if due > now {
            next = next.min(due);
            continue;
        }
        health.checking = true;
        if let Some(h) = &group.config.health {
            health.next_check = now + h.interval_ms;
            next = next.min(health.next_check);
        }
        drop(health);
        start_check(&pool, &group, &member);
    }
    Some(next.saturating_sub(now).max(1))
}

fn start_check(pool: &Arc<Pool>, group: &Arc<Group>, member: &Arc<Member>) {
    let health = group.config.health.as_ref();
    if health.is_some_and(|h| h.user_check) {
        pool.emit_member(group, member, MemberChange::Check);
        return;
    }
    let timeout =
        Duration::from_millis(health.map_or(group.config.check_timeout_ms, |h| h.timeout_ms));
    let Some(target) = pool.target_of(member.dest) else {
        group.check_result(member, false);
        return;
    };
    let policy = Arc::clone(&pool.config().address_policy);
    let (pool, group, member) = (Arc::downgrade(pool), Arc::clone(group), Arc::clone(member));
    tokio::spawn(async move {
        let passed = dial_socket(&target, timeout, &policy).await.is_ok();
        let change = group.check_result(&member, passed);
        if let (Some(change), Some(pool)) = (change, pool.upgrade()) {
            pool.emit_member(&group, &member, change);
        }
    });
}
