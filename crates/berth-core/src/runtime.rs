//! The one tokio runtime of the process, shared by every pool and every worker_thread.
//!
//! Its size: half the machine's cores (at least one, at most four), so that the JS thread
//! keeps a core of its own; `BERTH_WORKER_THREADS` overrides it. Measured on 2 cores with
//! short proxied sessions: one worker costs 43 µs of CPU per session where two cost 57 µs,
//! the difference being the wake-ups between workers that work stealing brings.
//!
//! It is created on first use and never dropped: tearing a runtime down while another
//! worker_thread's pool still uses it is what crashed other addons on unload.

use std::sync::OnceLock;
use tokio::runtime::{Handle, Runtime};

pub fn handle() -> Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(worker_threads())
                .thread_name("berth-io")
                .enable_all()
                .build()
                // Without a runtime no pool can dial; there is nothing sensible to fall back to.
                .expect("berth: cannot start the tokio runtime")
        })
        .handle()
        .clone()
}

fn worker_threads() -> usize {
    if let Some(n) = std::env::var("BERTH_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n.min(64);
    }
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 4))
}
