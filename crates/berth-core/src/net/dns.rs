//! Name resolution in the engine (tokio's blocking pool, not libuv's shared threadpool), with
//! a small TTL cache so that a burst of dials to one name resolves it once.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// getaddrinfo gives no TTL; a few seconds bounds how stale an answer can get.
const TTL: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 1024;

type Cache = Mutex<HashMap<(String, u16), (Instant, Vec<SocketAddr>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let key = (host.to_owned(), port);
    if let Ok(cache) = cache().lock() {
        if let Some((at, addrs)) = cache.get(&key) {
            if at.elapsed() < TTL {
                return Ok(addrs.clone());
            }
        }
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name resolved to no address",
        ));
    }
    if let Ok(mut cache) = cache().lock() {
        if cache.len() >= MAX_ENTRIES {
            cache.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        if cache.len() < MAX_ENTRIES {
            cache.insert(key, (Instant::now(), addrs.clone()));
        }
    }
    Ok(addrs)
}
