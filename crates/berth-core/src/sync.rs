//! Locking shared by the engines.

use std::sync::{Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves counts that are still internally consistent
    // (every mutation is a few plain assignments); keep serving rather than poison the pool.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
