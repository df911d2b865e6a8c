//! Engines by small integer handle, per JS thread, so that the hot functions find their pool
//! from a number instead of unwrapping a JS object. One table per kind of engine: the socket
//! pool's hot functions and the resource pool's each find their own kind.
//!
//! Thread-local: an engine is only ever called from the JS thread (main or worker) that made
//! it, so each thread's table needs no lock.

use berth_core::pool::Pool;
use berth_core::resource::ResourcePool;
use std::cell::RefCell;
use std::sync::Arc;
use std::thread::LocalKey;

/// Engines of one kind; a freed handle is reused by the next registration.
pub struct Table<T>(RefCell<Vec<Option<Arc<T>>>>);

impl<T> Table<T> {
    const fn new() -> Self {
        Table(RefCell::new(Vec::new()))
    }
}

thread_local! {
    static POOLS: Table<Pool> = const { Table::new() };
    static RESOURCES: Table<ResourcePool> = const { Table::new() };
}

/// One kind's table in this thread.
pub struct Registry<T: 'static>(&'static LocalKey<Table<T>>);

/// Socket pools (`Engine`).
pub const SOCKET_POOLS: Registry<Pool> = Registry(&POOLS);
/// Resource pools (`ResourceEngine`).
pub const RESOURCE_POOLS: Registry<ResourcePool> = Registry(&RESOURCES);

impl<T: 'static> Registry<T> {
    pub fn register(&self, engine: Arc<T>) -> u32 {
        self.0.with(|table| {
            let mut engines = table.0.borrow_mut();
            let slot = match engines.iter().position(Option::is_none) {
                Some(free) => free,
                None => {
                    engines.push(None);
                    engines.len() - 1
                }
            };
            engines[slot] = Some(engine);
            slot as u32
        })
    }

    pub fn unregister(&self, handle: u32) {
        self.0.with(|table| {
            if let Some(slot) = table.0.borrow_mut().get_mut(handle as usize) {
                *slot = None;
            }
        });
    }

    pub fn with<R>(&self, handle: u32, f: impl FnOnce(&Arc<T>) -> R) -> Option<R> {
        self.0.with(|table| {
            let engines = table.0.borrow();
            engines.get(handle as usize)?.as_ref().map(f)
        })
    }
}
