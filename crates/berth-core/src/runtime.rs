//! The one tokio runtime of the process, shared by every pool and every worker_thread.
//!
//! Its size: half the machine's cores (at least one, at most four), so that the JS thread
//! keeps a core of its own; `BERTH_WORKER_THREADS` overrides it. Measured on 2 cores with
//! short proxied sessions: one worker costs 43 µs of CPU per session where two cost 57 µs,
//! the difference being the wake-ups between workers that work stealing brings.
//!
//! It is created on first use and never dropped: tearing a runtime down while another
//! worker_thread's pool still uses it is what crashed other addons on unload.
//!
//! Bulk fan-out (connect probes) runs on a second runtime, `fan_out()`, made only when a probe
//! first runs, with a worker per core: a sweep of thousands of connects is CPU-bound kernel
//! work that wants every core (20,000 loopback probes: 71k/s on one worker, 95k/s on two),
//! while the pool's own reactor is kept small for the latency of proxied sessions above.

use std::sync::OnceLock;
use tokio::runtime::{Handle, Runtime};

pub fn handle() -> Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| build("berth-io", worker_threads("BERTH_WORKER_THREADS", 2, 4)))
        .handle()
        .clone()
}

/// The runtime of bulk fan-out work (probes): a worker per core (at most 8), made on first
/// use; `BERTH_FANOUT_THREADS` overrides its size.
pub fn fan_out() -> Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| build("berth-fanout", worker_threads("BERTH_FANOUT_THREADS", 1, 8)))
        .handle()
        .clone()
}

fn build(name: &str, workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        // Without a runtime nothing can dial; there is nothing sensible to fall back to.
        .expect("berth: cannot start the tokio runtime")
}

/// `env` if set (1 to 64), else the cores divided by `per` (at least 1, at most `max`).
fn worker_threads(env: &str, per: usize, max: usize) -> usize {
    if let Some(n) = std::env::var(env)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n.min(64);
    }
    std::thread::available_parallelism().map_or(1, |n| (n.get() / per).clamp(1, max))
}
