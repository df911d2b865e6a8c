//! One UDP probe: a connected datagram socket sends the payload and waits. A datagram back
//! is open; ICMP port unreachable, which a connected socket reports as ECONNREFUSED, is
//! closed; silence (the caller's timeout) or host / network unreachable is filtered.

use super::{Finding, ProbeState};
use socket2::{Domain, Protocol, SockAddr, Type};
use std::io;
use std::net::{SocketAddr, UdpSocket};
#[cfg(unix)]
use tokio::io::unix::AsyncFd;
#[cfg(unix)]
use tokio::io::Interest;

/// Probes `addr` with `payload`; the caller bounds the wait.
#[cfg(unix)]
pub(super) async fn probe(addr: SocketAddr, payload: &[u8]) -> Finding {
    let socket = match connected(addr) {
        Ok(socket) => socket,
        Err(e) => return Finding::from_error("probe of", addr, &e),
    };
    // SAFETY: the UdpSocket owns an open descriptor, and the AsyncFd owns the UdpSocket (so
    // the descriptor stays open and the same) until it drops at the end of this probe.
    let registered =
        unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::WRITABLE) };
    let io = match registered.map_err(|e| e.into_parts().1) {
        Ok(io) => io,
        Err(e) => return Finding::os_error("watching the socket for", &addr.to_string(), &e),
    };
    if let Err(e) = send(&io, payload).await {
        return Finding::from_error("probe of", addr, &e);
    }
    match receive(&io).await {
        Ok(()) => Finding::Found(ProbeState::Open),
        Err(e) => Finding::from_error("probe of", addr, &e),
    }
}

/// Windows: tokio's UdpSocket. Winsock reports the ICMP port unreachable as WSAECONNRESET on
/// the next receive of a connected socket, where Unix says ECONNREFUSED: both are closed.
#[cfg(windows)]
pub(super) async fn probe(addr: SocketAddr, payload: &[u8]) -> Finding {
    let socket = match connected(addr).and_then(tokio::net::UdpSocket::from_std) {
        Ok(socket) => socket,
        Err(e) => return Finding::from_error("probe of", addr, &e),
    };
    if let Err(e) = socket.send(payload).await {
        return Finding::from_error("probe of", addr, &refused(e));
    }
    match receive(&socket).await {
        Ok(()) => Finding::Found(ProbeState::Open),
        Err(e) => Finding::from_error("probe of", addr, &refused(e)),
    }
}

/// Waits for a datagram (Ok) or the ICMP error (Err). Windows reports the error as
/// readability, and the receive then fails; Wine neither wakes the reader nor fails the
/// receive, it leaves the error in SO_ERROR: so the socket's error (and a receive) is also
/// checked now and then (after 10, 20, 40 .. 160 ms, then every 160 ms). The caller's timeout
/// bounds the wait.
#[cfg(windows)]
async fn receive(socket: &tokio::net::UdpSocket) -> io::Result<()> {
    // Only whether something came back matters; a longer datagram is cut to this.
    let mut buf = [0u8; 64];
    let mut pause = std::time::Duration::from_millis(10);
    loop {
        tokio::select! {
            got = socket.recv(&mut buf) => return got.map(|_| ()),
            _ = tokio::time::sleep(pause) => {
                if let Some(e) = socket.take_error()? {
                    return Err(e);
                }
                match socket.try_recv(&mut buf) {
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        }
        pause = (pause * 2).min(std::time::Duration::from_millis(160));
    }
}

/// WSAECONNRESET on a datagram socket is an ICMP port unreachable: a refusal.
#[cfg(windows)]
fn refused(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::ConnectionReset {
        io::Error::from(io::ErrorKind::ConnectionRefused)
    } else {
        e
    }
}

fn connected(addr: SocketAddr) -> io::Result<UdpSocket> {
    let raw = crate::net::socket::new_nonblocking(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    // Connected: only the target's datagrams and ICMP errors reach this socket.
    raw.connect(&SockAddr::from(addr))?;
    Ok(raw.into())
}

#[cfg(unix)]
async fn send(io: &AsyncFd<UdpSocket>, payload: &[u8]) -> io::Result<()> {
    loop {
        let mut ready = io.writable().await?;
        match ready.try_io(|s| s.get_ref().send(payload)) {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

/// Waits for a datagram (Ok) or a pending ICMP error (Err). An ICMP error alone makes the
/// socket report an error event, not readability: both are waited for.
#[cfg(unix)]
async fn receive(io: &AsyncFd<UdpSocket>) -> io::Result<()> {
    // Only whether something came back matters; a longer datagram is cut to this.
    let mut buf = [0u8; 64];
    loop {
        let mut ready = io.ready(Interest::READABLE | Interest::ERROR).await?;
        match ready.try_io(|s| s.get_ref().recv(&mut buf)) {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}
