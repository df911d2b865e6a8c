//! Name resolution in the engine (tokio's blocking pool, not libuv's shared threadpool), with
//! a small TTL cache so that a burst of dials to one name resolves it once. Each cached name
//! also keeps a turn counter: successive dials to a name that resolves to several addresses
//! start at the next one, so new connections spread over them (see `dial::connect_addrs`).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// getaddrinfo gives no TTL; a few seconds bounds how stale an answer can get.
const TTL: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 1024;

type Key = (String, u16);

struct Entry {
    at: Instant,
    addrs: Vec<SocketAddr>,
    /// The turn the next dial takes; it survives re-resolution, so the rotation does not
    /// restart at the first address every TTL.
    turn: usize,
}

/// Answers by (name, port), each fresh for `ttl`, at most `MAX_ENTRIES` of them.
pub(crate) struct Cache {
    ttl: Duration,
    map: Mutex<HashMap<Key, Entry>>,
}

impl Cache {
    pub(crate) fn new(ttl: Duration) -> Cache {
        Cache {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh answer for `key`, and the turn of this dial (the entry's counter, advanced)
    /// when `take_turn`.
    pub(crate) fn get(&self, key: &Key, take_turn: bool) -> Option<(Vec<SocketAddr>, usize)> {
        let mut map = self.map.lock().ok()?;
        let entry = map.get_mut(key)?;
        if entry.at.elapsed() >= self.ttl {
            return None;
        }
        let turn = entry.turn;
        // A single address has nothing to rotate over: its counter stays as it is.
        if take_turn && entry.addrs.len() > 1 {
            entry.turn = turn.wrapping_add(1);
        }
        Some((entry.addrs.clone(), turn))
    }

    /// Stores a new answer for `key` (keeping an older entry's counter) and returns the
    /// turn of the dial that resolved it (advancing the counter when `take_turn`). With
    /// the cache full of fresh answers nothing is stored, and the turn comes from a
    /// counter shared by all such names.
    pub(crate) fn put(&self, key: Key, addrs: &[SocketAddr], take_turn: bool) -> usize {
        let step = usize::from(take_turn && addrs.len() > 1);
        let Ok(mut map) = self.map.lock() else {
            return overflow_turn(step);
        };
        if !map.contains_key(&key) && map.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            map.retain(|_, e| e.at.elapsed() < ttl);
            if map.len() >= MAX_ENTRIES {
                return overflow_turn(step);
            }
        }
        let entry = map.entry(key).or_insert_with(|| Entry {
            at: Instant::now(),
            addrs: Vec::new(),
            turn: 0,
        });
        entry.at = Instant::now();
        entry.addrs = addrs.to_vec();
        let turn = entry.turn;
        entry.turn = turn.wrapping_add(step);
        turn
    }
}

/// The turn for names the cache could not hold.
fn overflow_turn(step: usize) -> usize {
    static TURN: AtomicUsize = AtomicUsize::new(0);
    TURN.fetch_add(step, Ordering::Relaxed)
}

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Cache::new(TTL))
}

/// The addresses of `host:port`, in the resolver's order.
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    lookup(host, port, false).await.map(|(addrs, _)| addrs)
}

/// The addresses of `host:port`, in the resolver's order, and this dial's turn: a number
/// that goes up by one with every dial to a name of several addresses.
pub async fn resolve_for_dial(host: &str, port: u16) -> io::Result<(Vec<SocketAddr>, usize)> {
    lookup(host, port, true).await
}

async fn lookup(host: &str, port: u16, take_turn: bool) -> io::Result<(Vec<SocketAddr>, usize)> {
    let key = (host.to_owned(), port);
    if let Some(hit) = cache().get(&key, take_turn) {
        return Ok(hit);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name resolved to no address",
        ));
    }
    let turn = cache().put(key, &addrs, take_turn);
    Ok((addrs, turn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn turns_advance_per_name_and_survive_refresh() {
        let cache = Cache::new(Duration::from_secs(3600));
        let two = addrs(&["127.0.0.1:80", "127.0.0.2:80"]);
        let key = ("two.test".to_owned(), 80);
        assert_eq!(cache.put(key.clone(), &two, true), 0);
        assert_eq!(cache.get(&key, true), Some((two.clone(), 1)));
        assert_eq!(cache.get(&key, false), Some((two.clone(), 2)));
        assert_eq!(cache.get(&key, true), Some((two.clone(), 2)));
        // Another name has its own counter; one address takes no turns.
        let one = addrs(&["127.0.0.1:81"]);
        let other = ("one.test".to_owned(), 81);
        assert_eq!(cache.put(other.clone(), &one, true), 0);
        assert_eq!(cache.get(&other, true), Some((one.clone(), 0)));
        // A new answer for a name keeps its counter.
        assert_eq!(cache.put(key.clone(), &two, true), 3);
        assert_eq!(cache.get(&key, true), Some((two, 4)));
    }

    #[test]
    fn stale_answers_are_not_served() {
        let cache = Cache::new(Duration::ZERO);
        let key = ("stale.test".to_owned(), 80);
        cache.put(key.clone(), &addrs(&["127.0.0.1:80"]), true);
        assert_eq!(cache.get(&key, true), None);
    }
}
