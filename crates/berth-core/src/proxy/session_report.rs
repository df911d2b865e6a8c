//! A listener's session ends, reported to its owner only while the owner asks for them
//! (someone traces `berth:listener:session`): otherwise a session's end stays in the engine
//! and wakes no one.

use crate::pool::{DestId, Pool, UpstreamTarget};
use crate::proxy::session::SessionOutcome;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One ended session, as the owner sees it.
#[derive(Debug)]
pub struct SessionReport {
    /// The client's address (the PROXY header's source, when one was read).
    pub client: SocketAddr,
    /// Where the route sent it: the destination, or `group:<name>`.
    pub route: String,
    /// The group member that served it, for a group route that got an upstream.
    pub member: Option<String>,
    pub outcome: SessionOutcome,
}

/// Reports a sink keeps waiting for its owner at most: a subscriber whose event loop stalls
/// while sessions keep ending must not grow memory without bound. Ends beyond it are dropped
/// (the listener's own counters still count every session).
pub const MAX_WAITING_REPORTS: usize = 65_536;

/// Takes reports on the engine's threads (it batches and wakes its owner as it sees fit).
pub trait SessionSink: Send + Sync {
    fn report(&self, report: SessionReport);
}

/// The switch and the sink of one listener's reports.
#[derive(Default)]
pub struct SessionReports {
    on: AtomicBool,
    sink: Mutex<Option<Arc<dyn SessionSink>>>,
    /// Reports handed to a sink, ever (for tests: none while off).
    pub reported: AtomicU64,
}

impl SessionReports {
    /// Starts (`Some`) or stops (`None`) reporting; sessions ending meanwhile are not reported.
    pub fn set(&self, sink: Option<Arc<dyn SessionSink>>) {
        let on = sink.is_some();
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = sink;
        self.on.store(on, Ordering::Release);
    }

    /// One relaxed load: the only cost a session's end pays while nobody asks.
    pub fn wanted(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Hands an ended session to the sink, if one is still set.
    pub(crate) fn send(
        &self,
        pool: &Pool,
        client: SocketAddr,
        route: String,
        outcome: SessionOutcome,
    ) {
        let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(sink) = sink else { return };
        let member = outcome.member.and_then(|id| pool.dest_name(id));
        self.reported.fetch_add(1, Ordering::Relaxed);
        sink.report(SessionReport {
            client,
            route,
            member,
            outcome,
        });
    }
}

impl Pool {
    /// A destination's name as the owner wrote it (credentials masked), if it is known.
    pub fn dest_name(&self, id: DestId) -> Option<String> {
        self.target_of(id)
            .map(|target| crate::redact::redact(&target.to_string()))
    }

    /// A route target's name: its destination, or `group:<name>`.
    pub fn target_name(&self, target: &UpstreamTarget) -> String {
        match target {
            UpstreamTarget::Dest(id) => self.dest_name(*id).unwrap_or_default(),
            UpstreamTarget::Group(group) => format!("{}{}", crate::pool::GROUP_PREFIX, group.name),
        }
    }
}
