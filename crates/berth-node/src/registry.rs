//! Engines by small integer handle, per JS thread, so that the hot functions find their pool
//! from a number instead of unwrapping a JS object.
//!
//! Thread-local: an engine is only ever called from the JS thread (main or worker) that made
//! it, so each thread's table needs no lock.

use berth_core::Pool;
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    static POOLS: RefCell<Vec<Option<Arc<Pool>>>> = const { RefCell::new(Vec::new()) };
}

pub fn register(pool: Arc<Pool>) -> u32 {
    POOLS.with(|pools| {
        let mut pools = pools.borrow_mut();
        let slot = match pools.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                pools.push(None);
                pools.len() - 1
            }
        };
        pools[slot] = Some(pool);
        slot as u32
    })
}

pub fn unregister(handle: u32) {
    POOLS.with(|pools| {
        if let Some(slot) = pools.borrow_mut().get_mut(handle as usize) {
            *slot = None;
        }
    });
}

pub fn with<R>(handle: u32, f: impl FnOnce(&Arc<Pool>) -> R) -> Option<R> {
    POOLS.with(|pools| {
        let pools = pools.borrow();
        pools.get(handle as usize)?.as_ref().map(f)
    })
}

/// Resource engines (`ResourceEngine`) by handle: a second table, so the socket pool's hot
/// functions and the resource pool's each find their own kind of engine.
pub mod resources {
    use berth_core::ResourcePool;
    use std::cell::RefCell;
    use std::sync::Arc;

    thread_local! {
        static POOLS: RefCell<Vec<Option<Arc<ResourcePool>>>> = const { RefCell::new(Vec::new()) };
    }

    pub fn register(pool: Arc<ResourcePool>) -> u32 {
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            let slot = match pools.iter().position(Option::is_none) {
                Some(free) => free,
                None => {
                    pools.push(None);
                    pools.len() - 1
                }
            };
            pools[slot] = Some(pool);
            slot as u32
        })
    }

    pub fn unregister(handle: u32) {
        POOLS.with(|pools| {
            if let Some(slot) = pools.borrow_mut().get_mut(handle as usize) {
                *slot = None;
            }
        });
    }

    pub fn with<R>(handle: u32, f: impl FnOnce(&ResourcePool) -> R) -> Option<R> {
        POOLS.with(|pools| {
            let pools = pools.borrow();
            pools.get(handle as usize)?.as_deref().map(f)
        })
    }
}
