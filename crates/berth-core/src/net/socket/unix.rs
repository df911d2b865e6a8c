//! Unix: a stream socket (TCP or Unix) under tokio's `AsyncFd`, its operations the raw
//! syscalls on the descriptor.

use crate::net::sys;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub struct Socket {
    io: AsyncFd<OwnedFd>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Socket({})", self.raw())
    }
}

impl Socket {
    /// Registers `fd` (made non-blocking) with the reactor of the current runtime.
    pub fn new(fd: OwnedFd) -> io::Result<Socket> {
        sys::set_nonblocking(fd.as_raw_fd())?;
        Socket::new_nonblocking(fd)
    }

    /// As `new`, for a descriptor created non-blocking (no syscall to check).
    pub fn new_nonblocking(fd: OwnedFd) -> io::Result<Socket> {
        // SAFETY: an OwnedFd is a valid, open descriptor, and it stays open and the same for
        // the AsyncFd's whole life: the AsyncFd owns it until `into_inner` or drop.
        let io =
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE) }
                .map_err(|e| e.into_parts().1)?;
        Ok(Socket { io })
    }

    /// Deregisters the socket and hands the descriptor back (never fails on Unix; the
    /// Result is Windows's, where deregistering can).
    pub fn into_fd(self) -> io::Result<OwnedFd> {
        Ok(self.io.into_inner())
    }

    pub fn raw(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }

    pub fn fd(&self) -> &OwnedFd {
        self.io.get_ref()
    }

    /// socket2's view of the socket, for its options and addresses.
    pub fn sock(&self) -> socket2::SockRef<'_> {
        socket2::SockRef::from(self.io.get_ref())
    }

    /// Waits until the socket is writable (a connect in progress has finished).
    pub async fn wait_writable(&self) -> io::Result<()> {
        self.io.writable().await.map(|_| ())
    }

    /// Reads what is there (0 at end of stream), waiting until something is.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let recv = |fd| sys::recv(fd, buf);
        // A short read drained the socket: forget the readiness now rather than learn it from
        // one more recv that fails with EAGAIN (as tokio's own TcpStream does).
        self.when(Interest::READABLE, recv, |n| n > 0 && n < len)
            .await
    }

    /// Copies up to `buf.len()` bytes without consuming them, waiting until at least one
    /// byte (or the end of the stream) is there.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let peek = |fd| sys::peek(fd, buf);
        self.when(Interest::READABLE, peek, |_| false).await
    }

    /// Runs `op` on the descriptor once it is readable, again after each EAGAIN.
    pub async fn with_readable(
        &self,
        op: impl FnMut(RawFd) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.when(Interest::READABLE, op, |_| false).await
    }

    /// Runs `op` on the descriptor once it is writable, again after each EAGAIN.
    pub async fn with_writable(
        &self,
        op: impl FnMut(RawFd) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.when(Interest::WRITABLE, op, |_| false).await
    }

    /// Waits for `interest`, runs `op`, and again after each EAGAIN or EINTR. When `drained`
    /// says a result left nothing more to do, the readiness is forgotten at once; bytes that
    /// arrived meanwhile set it again (the guard clears only the readiness it saw).
    async fn when(
        &self,
        interest: Interest,
        mut op: impl FnMut(RawFd) -> io::Result<usize>,
        drained: impl Fn(usize) -> bool,
    ) -> io::Result<usize> {
        loop {
            let mut ready = self.io.ready(interest).await?;
            match ready.try_io(|fd| op(fd.as_raw_fd())) {
                Ok(Ok(n)) => {
                    if drained(n) {
                        ready.clear_ready();
                    }
                    return Ok(n);
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends FIN: the peer reads end of stream, and may still send.
    pub fn shutdown_write(&self) {
        sys::shutdown_write(self.raw());
    }

    /// Makes the close that follows a reset instead of FIN (SO_LINGER 0): for sessions that
    /// ended in error, so that the peer does not take a truncated stream for a complete one.
    pub fn reset_on_close(&self) {
        let _ = self.sock().set_linger(Some(std::time::Duration::ZERO));
    }
}
