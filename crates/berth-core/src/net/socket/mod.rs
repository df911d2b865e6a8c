//! A stream socket the engine owns, registered with tokio's reactor, with the few
//! non-blocking operations the relay, the listener and the probes need. Unix (TCP or Unix
//! sockets): the raw descriptor under tokio's `AsyncFd`. Windows: tokio's `TcpStream` (IOCP);
//! the same methods.

use crate::net::sys::{self, OwnedSock, RawSock};
use std::io;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::Socket;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::Socket;

/// What both platforms' sockets do the same way, over their own `raw()` and `with_writable`.
impl Socket {
    /// Copies what is there now without consuming it and without waiting (0 if nothing is).
    /// It leaves the reactor's readiness alone: the relay that reads later still learns the
    /// bytes are there.
    pub fn peek_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        match sys::peek_now(self.raw(), buf) {
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
        self.with_writable(|raw| sys::send(raw, buf)).await
    }
}

/// Takes a descriptor JS still holds: a duplicate the engine owns from now on, checked to be
/// a stream socket. JS then closes its own copy; the connection stays open on ours. Windows:
/// an `Unsupported` error (Node's sockets cannot be handed over there).
pub fn dup_stream_socket(fd: RawSock) -> io::Result<OwnedSock> {
    let owned = sys::duplicate(fd)?;
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
