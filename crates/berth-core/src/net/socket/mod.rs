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
