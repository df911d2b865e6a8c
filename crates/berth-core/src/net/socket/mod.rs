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

/// Whether a TCP connect to `addr` connected to itself. A connect to a local port nobody
/// listens on can pick that very port as its own source and complete by simultaneous open:
/// the "connection" then echoes every byte back to its sender. Nothing listens there, so
/// callers treat it as refused (Go's `net` package checks the same way).
pub fn connected_to_itself(sock: socket2::SockRef<'_>, addr: std::net::SocketAddr) -> bool {
    sock.local_addr().ok().and_then(|a| a.as_socket()) == Some(addr)
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::connected_to_itself;
    use socket2::{Domain, SockAddr, SockRef, Socket, Type};
    use std::net::{SocketAddr, TcpListener};

    /// A socket bound to a port and connected to that same port completes by simultaneous
    /// open on Linux: what a connect to a closed local port does when it picks that port.
    #[test]
    fn a_connect_to_its_own_port_is_seen() {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.bind(&SockAddr::from(
            "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        ))
        .unwrap();
        let own = sock.local_addr().unwrap().as_socket().unwrap();
        sock.connect(&SockAddr::from(own)).unwrap();
        assert!(connected_to_itself(SockRef::from(&sock), own));

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = listener.local_addr().unwrap();
        let other = std::net::TcpStream::connect(to).unwrap();
        assert!(!connected_to_itself(SockRef::from(&other), to));
    }
}
