//! Windows: a TCP stream under tokio's `TcpStream` (IOCP readiness through mio), with the
//! same methods as the Unix socket. Reads and writes are Winsock calls on the handle, made
//! when tokio reports readiness (`async_io`, which forgets the readiness on WSAEWOULDBLOCK).

use crate::net::sys::{self, OwnedSock, RawSock};
use std::io;
use tokio::io::Interest;
use tokio::net::TcpStream;

pub struct Socket {
    io: TcpStream,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Socket({})", self.raw())
    }
}

impl Socket {
    /// Registers `sock` (made non-blocking) with the reactor of the current runtime.
    pub fn new(sock: OwnedSock) -> io::Result<Socket> {
        sys::set_nonblocking(sys::raw(&sock))?;
        Socket::new_nonblocking(sock)
    }

    /// As `new`, for a socket created non-blocking. A connect may still be in progress.
    pub fn new_nonblocking(sock: OwnedSock) -> io::Result<Socket> {
        let io = TcpStream::from_std(std::net::TcpStream::from(sock))?;
        Ok(Socket { io })
    }

    /// A stream tokio accepted or connected itself.
    pub fn from_tokio(io: TcpStream) -> Socket {
        Socket { io }
    }

    /// Deregisters the socket and hands the handle back (an error when deregistering fails:
    /// the socket is closed then).
    pub fn into_fd(self) -> io::Result<OwnedSock> {
        self.io.into_std().map(OwnedSock::from)
    }

    pub fn raw(&self) -> RawSock {
        sys::raw(&self.io)
    }

    /// socket2's view of the socket, for its options and addresses.
    pub fn sock(&self) -> socket2::SockRef<'_> {
        socket2::SockRef::from(&self.io)
    }

    /// Waits until the socket is writable (a connect in progress has finished).
    pub async fn wait_writable(&self) -> io::Result<()> {
        self.io.writable().await
    }

    /// Reads what is there (0 at end of stream), waiting until something is.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let raw = self.raw();
        self.io
            .async_io(Interest::READABLE, || sys::recv(raw, buf))
            .await
    }

    /// Copies up to `buf.len()` bytes without consuming them, waiting until at least one
    /// byte (or the end of the stream) is there.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.peek(buf).await
    }

    /// Runs `op` on the handle once it is readable, again after each WSAEWOULDBLOCK.
    pub async fn with_readable(
        &self,
        mut op: impl FnMut(RawSock) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let raw = self.raw();
        self.io.async_io(Interest::READABLE, || op(raw)).await
    }

    /// Runs `op` on the handle once it is writable, again after each WSAEWOULDBLOCK.
    pub async fn with_writable(
        &self,
        mut op: impl FnMut(RawSock) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let raw = self.raw();
        self.io.async_io(Interest::WRITABLE, || op(raw)).await
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
