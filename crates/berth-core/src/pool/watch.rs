//! The engine's watch over the descriptors of JS's pooled connections: one epoll set per pool,
//! edge-triggered, so that "did anything arrive on any of them since we last looked?" is one
//! `epoll_wait(0)` (about a bare syscall's cost when nothing did) instead of one peek per
//! connection handed out.
//!
//! Why it is exact: a peer's FIN, RST or data reaching a watched socket runs the socket's
//! wake-up callbacks in the same kernel path that processes the segment, and that puts the
//! socket on the set's ready list. So an `epoll_wait` that returns nothing proves that nothing
//! reached any watched socket since the previous wait; one that returns events marks those
//! connections suspect, and a suspect connection is peeked (the last word) before it is handed
//! out. A connection whose bytes the engine cannot read (TLS) is marked only when the wait
//! reports its peer's close: the wait gives each socket's events as they stand at that moment.
//! A connection whose registration failed, or any connection off Linux, is always suspect.
//!
//! Descriptors are never removed by hand: each is JS's only copy, and closing it removes it
//! from the set. Removing by number after JS closed it could hit another socket that reuses
//! the number.

use crate::net::sys::RawSock;
use crate::pool::shard::ConnId;

/// Events taken per `epoll_wait`: a drain loops while a wait fills the buffer.
#[cfg(target_os = "linux")]
const BATCH: usize = 64;

pub(crate) struct Watch {
    /// The epoll descriptor, -1 when there is none (never made, or closed). Drains and
    /// `close` run on the pool's JS thread, so no drain can race the close.
    #[cfg(target_os = "linux")]
    epoll: std::sync::atomic::AtomicI32,
}

impl Watch {
    pub(crate) fn new() -> Self {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new
            // descriptor this struct owns until `close` (or drop). Out of descriptors (-1):
            // every connection is then suspect (always peeked).
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            Watch {
                epoll: std::sync::atomic::AtomicI32::new(fd.max(-1)),
            }
        }
        #[cfg(not(target_os = "linux"))]
        Watch {}
    }

    /// Watches `fd` for anything arriving (data, FIN, RST) from now on; events carry `token`.
    /// False when it cannot be watched: the caller must then peek it at every hand-out.
    pub(crate) fn watch(&self, fd: RawSock, token: u64) -> bool {
        #[cfg(target_os = "linux")]
        {
            let epoll = self.fd();
            if epoll < 0 {
                return false;
            }
            let mut event = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                u64: token,
            };
            // SAFETY: `event` is a valid epoll_event for the call; `fd` is an open socket the
            // pool's caller just adopted (a bad one fails with EBADF, reported as unwatched).
            unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event) == 0 }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (fd, token);
            false
        }
    }

    /// Calls `suspect` with the token of every watched connection something reached since the
    /// last drain, and whether the peer has closed it (`closed`: its FIN, a reset or an error,
    /// as the socket stands at this drain). Never blocks. False when the set cannot be read (it
    /// then proves nothing).
    pub(crate) fn drain(&self, mut suspect: impl FnMut(u64, bool)) -> bool {
        #[cfg(target_os = "linux")]
        {
            let epoll = self.fd();
            if epoll < 0 {
                return false;
            }
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
            loop {
                // SAFETY: `events` holds BATCH entries; timeout 0 never blocks.
                let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), BATCH as i32, 0) };
                if n < 0 {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                        // Interrupted before taking anything off the ready list: ask again.
                        continue;
                    }
                    return false;
                }
                for event in &events[..n as usize] {
                    let token = event.u64;
                    // The kernel reports each ready socket's events as they stand when this
                    // wait takes it off the ready list (it polls the socket then), so a FIN
                    // that arrived before now shows here as EPOLLRDHUP, and one that arrives
                    // later wakes the set again (edge-triggered: every arrival re-queues it).
                    let closed = event.events
                        & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32
                        != 0;
                    suspect(token, closed);
                }
                if (n as usize) < BATCH {
                    return true;
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = &mut suspect;
            false
        }
    }
}

#[cfg(target_os = "linux")]
impl Watch {
    fn fd(&self) -> RawSock {
        self.epoll.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes the epoll descriptor (the pool is closing: it must leave no descriptor open);
    /// every drain after it reports failure, so connections are peeked.
    pub(crate) fn close(&self) {
        let fd = self.epoll.swap(-1, std::sync::atomic::Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: `fd` was this struct's own epoll descriptor, taken out above so that
            // nothing uses or closes it again.
            unsafe { libc::close(fd) };
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Watch {
    pub(crate) fn close(&self) {}
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.close();
    }
}

/// A connection's watch token: its id and serial (ids are reused, serials tell them apart).
pub(crate) fn watch_token(id: ConnId, serial: u32) -> u64 {
    (u64::from(serial) << 32) | u64::from(id)
}

pub(crate) fn split_watch_token(token: u64) -> (ConnId, u32) {
    (token as u32, (token >> 32) as u32)
}
