//! The route memo: a route result may say how long it holds for a key of the connection
//! (`cacheFor` with `key`: the TLS SNI, the HTTP Host, the client's address, the listener's
//! port), and later connections with the same key are routed here, in the engine, without a
//! call into JS. Bounded: at most `MAX_ENTRIES` keys; expired entries go first when it fills.

use super::listener::Inbound;
use crate::pool::{RouteTarget, UpstreamTarget};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Remembered routes at most per listener.
pub const MAX_ENTRIES: usize = 4096;

/// What a remembered route is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoKey {
    Sni,
    Host,
    ClientIp,
    LocalPort,
}

impl MemoKey {
    pub fn parse(s: &str) -> Option<MemoKey> {
        match s {
            "sni" => Some(MemoKey::Sni),
            "host" => Some(MemoKey::Host),
            "clientIp" => Some(MemoKey::ClientIp),
            "localPort" => Some(MemoKey::LocalPort),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// This connection's value of the key, if it has one (no SNI in a plaintext connection).
    fn value(self, keys: &MemoKeys) -> Option<String> {
        match self {
            MemoKey::Sni => keys.sni.clone(),
            MemoKey::Host => keys.host.clone(),
            MemoKey::ClientIp => Some(keys.remote.ip().to_canonical().to_string()),
            MemoKey::LocalPort => Some(keys.local_port.to_string()),
        }
    }
}

/// What of a connection a remembered route may be keyed by, taken from its `Inbound` before
/// the router takes that.
pub struct MemoKeys {
    remote: SocketAddr,
    local_port: u16,
    sni: Option<String>,
    host: Option<String>,
}

impl MemoKeys {
    pub fn of(inbound: &Inbound) -> MemoKeys {
        MemoKeys {
            remote: inbound.remote,
            local_port: inbound.local_port,
            sni: inbound.sni.clone(),
            host: inbound.host.clone(),
        }
    }
}

/// How long a route result holds, and for which key.
#[derive(Clone, Copy, Debug)]
pub struct Memo {
    pub key: MemoKey,
    pub hold: Duration,
}

/// A route decided once, reused for every connection with the same key until it expires.
pub struct Remembered {
    pub target: RouteTarget,
    pub reply: Vec<u8>,
    pub fail_reply: Vec<u8>,
    pub send_proxy: Option<u8>,
}

impl Remembered {
    pub fn upstream(&self) -> UpstreamTarget {
        self.target.upstream()
    }
}

/// Remembered routes by key and value, with when each expires.
type Entries = HashMap<(MemoKey, String), (Instant, Arc<Remembered>)>;

#[derive(Default)]
pub struct RouteMemo {
    entries: Mutex<Entries>,
    /// Which keys have entries: a listener whose routes never memoize looks at nothing.
    kinds: AtomicU8,
}

impl RouteMemo {
    /// The remembered route of this connection, if one holds.
    pub fn find(&self, keys: &MemoKeys) -> Option<Arc<Remembered>> {
        let kinds = self.kinds.load(Ordering::Relaxed);
        if kinds == 0 {
            return None;
        }
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for key in [
            MemoKey::Sni,
            MemoKey::Host,
            MemoKey::ClientIp,
            MemoKey::LocalPort,
        ] {
            if kinds & key.bit() == 0 {
                continue;
            }
            let Some(value) = key.value(keys) else {
                continue;
            };
            if let Some((until, found)) = entries.get(&(key, value)) {
                if *until > now {
                    return Some(Arc::clone(found));
                }
            }
        }
        None
    }

    /// Remembers `route` for this connection's value of `memo.key`, if it has one.
    pub fn remember(&self, memo: Memo, keys: &MemoKeys, route: Arc<Remembered>) {
        let Some(value) = memo.key.value(keys) else {
            return;
        };
        let now = Instant::now();
        let Some(until) = now.checked_add(memo.hold) else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&(memo.key, value.clone())) {
            entries.retain(|_, (until, _)| *until > now);
            if entries.len() >= MAX_ENTRIES {
                // Full of live entries: this one is not remembered (JS is asked next time).
                return;
            }
        }
        entries.insert((memo.key, value), (until, route));
        self.kinds.fetch_or(memo.key.bit(), Ordering::Relaxed);
    }

    /// Forgets everything (the listener closed: the pins go with the entries).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.kinds.store(0, Ordering::Relaxed);
    }
}
