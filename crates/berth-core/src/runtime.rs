//! The one tokio runtime of the process, shared by every pool and every worker_thread.
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
                .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
                .thread_name("berth-io")
                .enable_all()
                .build()
                // Without a runtime no pool can dial; there is nothing sensible to fall back to.
                .expect("berth: cannot start the tokio runtime")
        })
        .handle()
        .clone()
}
