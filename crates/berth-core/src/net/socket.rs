//! A stream socket (TCP or Unix) the engine owns, registered with tokio's reactor: the few
//! non-blocking operations the relay needs, on the raw descriptor.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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

/// `-1` from a syscall is the OS error; anything else a count.
fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl Socket {
    /// Registers `fd` (made non-blocking) with the reactor of the current runtime.
    pub fn new(fd: OwnedFd) -> io::Result<Socket> {
        set_nonblocking(fd.as_raw_fd())?;
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

    /// Deregisters the socket and hands the descriptor back.
    pub fn into_fd(self) -> OwnedFd {
        self.io.into_inner()
    }

    pub fn raw(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }

    pub fn fd(&self) -> &OwnedFd {
        self.io.get_ref()
    }

    /// Waits until the socket is writable (a connect in progress has finished).
    pub async fn wait_writable(&self) -> io::Result<()> {
        self.io.writable().await.map(|_| ())
    }

    /// Reads what is there (0 at end of stream), waiting until something is.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        // SAFETY: `buf` is valid for writes of `len` bytes; the descriptor is open for as long
        // as `self.io` owns it.
        let recv = |fd| cvt(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), len, 0) });
        // A short read drained the socket: forget the readiness now rather than learn it from
        // one more recv that fails with EAGAIN (as tokio's own TcpStream does).
        self.when(Interest::READABLE, recv, |n| n > 0 && n < len)
            .await
    }

    /// Copies up to `buf.len()` bytes without consuming them, waiting until at least one
    /// byte (or the end of the stream) is there.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        // SAFETY: as in `read`; MSG_PEEK leaves the bytes in the socket.
        let peek =
            |fd| cvt(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), len, libc::MSG_PEEK) });
        self.when(Interest::READABLE, peek, |_| false).await
    }

    /// Copies what is there now without consuming it and without waiting (0 if nothing is).
    /// It leaves the reactor's readiness alone: the relay that reads later still learns the
    /// bytes are there.
    pub fn peek_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: as in `peek`; MSG_DONTWAIT makes this one call non-blocking.
        let n = cvt(unsafe {
            libc::recv(
                self.raw(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        });
        match n {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            other => other,
        }
    }

    /// Writes all of `buf`, waiting for room as the peer reads (backpressure).
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Writes what the socket takes of `buf` (at least one byte), waiting for room first.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for reads of its length. MSG_NOSIGNAL: a peer that went
        // away is an EPIPE error here, never a SIGPIPE for the process.
        let send =
            |fd| cvt(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) });
        self.with_writable(send).await
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
        // SAFETY: plain syscall on an open descriptor; a failure (peer already gone) changes
        // nothing the relay relies on.
        unsafe { libc::shutdown(self.raw(), libc::SHUT_WR) };
    }

    /// Makes the close that follows a reset instead of FIN (SO_LINGER 0): for sessions that
    /// ended in error, so that the peer does not take a truncated stream for a complete one.
    pub fn reset_on_close(&self) {
        let _ =
            socket2::SockRef::from(self.io.get_ref()).set_linger(Some(std::time::Duration::ZERO));
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Takes a descriptor JS still holds: a duplicate the engine owns from now on, checked to be
/// a stream socket. JS then closes its own copy; the connection stays open on ours.
pub fn dup_stream_socket(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor or fails; nothing else is touched.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` was just created by fcntl and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(dup) };
    match socket2::SockRef::from(&owned).r#type() {
        Ok(t) if t == socket2::Type::STREAM => Ok(owned),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "descriptor is not a stream socket",
        )),
        Err(e) => Err(e),
    }
}

/// A new non-blocking, close-on-exec socket: in one call on Linux, two elsewhere.
pub fn new_nonblocking(
    domain: socket2::Domain,
    ty: socket2::Type,
    protocol: Option<socket2::Protocol>,
) -> io::Result<socket2::Socket> {
    #[cfg(target_os = "linux")]
    let raw = socket2::Socket::new(domain, ty.nonblocking(), protocol)?;
    #[cfg(not(target_os = "linux"))]
    let raw = {
        let raw = socket2::Socket::new(domain, ty, protocol)?;
        raw.set_nonblocking(true)?;
        raw
    };
    Ok(raw)
}
