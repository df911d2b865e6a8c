//! One TCP connect probe: a non-blocking connect on a fresh socket, its outcome read from
//! the socket's pending error. A completed handshake is reset at once (SO_LINGER 0), so that
//! a big scan leaves no TIME_WAIT behind on the prober.

use super::{Finding, ProbeState};
use crate::net::socket::Socket;
use crate::net::sys::{self, OwnedSock};
use socket2::{Domain, Protocol, SockAddr, SockRef, Type};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Connects to `addr`; the caller bounds the wait (no answer: filtered).
pub(super) async fn probe(addr: SocketAddr) -> Finding {
    let raw = match new_socket(addr) {
        Ok(raw) => raw,
        Err(e) => return Finding::os_error("socket for", &addr.to_string(), &e),
    };
    match raw.connect(&SockAddr::from(addr)) {
        Ok(()) => return opened(SockRef::from(&raw), addr),
        Err(e) if sys::connect_in_progress(&e) => {}
        Err(e) => return Finding::from_error("connect to", addr, &e),
    }
    let socket = match Socket::new_nonblocking(OwnedSock::from(raw)) {
        Ok(socket) => socket,
        Err(e) => return Finding::os_error("watching the connect to", &addr.to_string(), &e),
    };
    // Writable once the handshake is done or failed (the error is then pending).
    if let Err(e) = socket.wait_writable().await {
        return Finding::from_error("connect to", addr, &e);
    }
    match socket.sock().take_error() {
        Ok(None) => opened(socket.sock(), addr),
        Ok(Some(e)) | Err(e) => Finding::from_error("connect to", addr, &e),
    }
}

fn new_socket(addr: SocketAddr) -> io::Result<socket2::Socket> {
    crate::net::socket::new_nonblocking(
        Domain::for_address(addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )
}

/// The handshake completed. The socket closes as it drops, with a reset instead of FIN.
fn opened(sock: SockRef<'_>, addr: SocketAddr) -> Finding {
    let _ = sock.set_linger(Some(Duration::ZERO));
    if crate::net::socket::connected_to_itself(sock, addr) {
        return Finding::Found(ProbeState::Closed);
    }
    Finding::Found(ProbeState::Open)
}
