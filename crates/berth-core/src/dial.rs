//! Opening a connection: resolve, connect with a deadline, set socket options, and hand back
//! the descriptor for whoever owns it next.

use crate::destination::{Destination, Host};
use crate::dns;
use crate::error::{DialError, DialErrorCode};
use crate::socket::Socket;
use socket2::{Domain, Protocol, SockAddr, SockRef, TcpKeepalive, Type};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// TCP keep-alive probes start after this long without traffic, so a vanished peer is noticed
/// even on a connection that sits idle.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// Dials `dest`, giving up after `timeout` (resolution included), and hands back the bare
/// descriptor (for JS, which wraps it in a net.Socket).
pub async fn dial(dest: &Destination, timeout: Duration) -> Result<OwnedFd, DialError> {
    let socket = dial_socket(dest, timeout).await?;
    keep_alive(&socket);
    Ok(socket.into_fd())
}

/// Dials `dest` and keeps the socket registered with the reactor, for the engine's own use.
/// TCP keep-alive is not set: only a connection that goes idle needs it (see `keep_alive`).
pub async fn dial_socket(dest: &Destination, timeout: Duration) -> Result<Socket, DialError> {
    let label = dest.to_string();
    match tokio::time::timeout(timeout, dial_inner(dest, &label)).await {
        Ok(result) => result,
        Err(_) => Err(DialError::new(
            DialErrorCode::ConnectTimeout,
            format!(
                "connect to {label} timed out after {} ms",
                timeout.as_millis()
            ),
        )),
    }
}

async fn dial_inner(dest: &Destination, label: &str) -> Result<Socket, DialError> {
    match dest {
        Destination::Unix(path) => {
            let addr = SockAddr::unix(path).map_err(|e| DialError::from_connect(label, &e))?;
            connect(Domain::UNIX, None, &addr)
                .await
                .map_err(|e| DialError::from_connect(label, &e))
        }
        Destination::Tcp { host, port } => {
            let addrs = match host {
                Host::Ip(ip) => vec![SocketAddr::new(*ip, *port)],
                Host::Name(name) => dns::resolve(name, *port).await.map_err(|e| {
                    DialError::new(
                        DialErrorCode::DnsFailed,
                        format!("cannot resolve {name}: {e}"),
                    )
                })?,
            };
            let socket = connect_any(&addrs, label).await?;
            // Latency over batching for request/response traffic. A failure leaves a
            // working socket, so it is not an error.
            let _ = SockRef::from(socket.fd()).set_tcp_nodelay(true);
            Ok(socket)
        }
    }
}

/// Tries each resolved address in turn; the last error wins.
async fn connect_any(addrs: &[SocketAddr], label: &str) -> Result<Socket, DialError> {
    let mut last = None;
    for addr in addrs {
        let domain = Domain::for_address(*addr);
        match connect(domain, Some(Protocol::TCP), &SockAddr::from(*addr)).await {
            Ok(socket) => return Ok(socket),
            Err(e) => last = Some(DialError::from_connect(label, &e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        DialError::new(
            DialErrorCode::DnsFailed,
            format!("{label} resolved to no address"),
        )
    }))
}

/// A non-blocking connect, registered with the reactor once: the same registration then
/// serves the session that uses the socket (the engine's own), or is dropped for JS.
async fn connect(
    domain: Domain,
    protocol: Option<Protocol>,
    addr: &SockAddr,
) -> io::Result<Socket> {
    let raw = crate::socket::new_nonblocking(domain, Type::STREAM, protocol)?;
    match raw.connect(addr) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        // A Unix socket whose backlog is full: wait for room, as for a TCP handshake.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    let socket = Socket::new_nonblocking(OwnedFd::from(raw))?;
    // Writable once the handshake is done, or failed (the error is then pending on the socket).
    socket.wait_writable().await?;
    if let Some(e) = SockRef::from(socket.fd()).take_error()? {
        return Err(e);
    }
    Ok(socket)
}

/// Keep-alive probes, so that a vanished peer is noticed even on a connection that sits idle.
/// A no-op on Unix sockets; failures leave a working socket, so they are not errors.
pub fn keep_alive(socket: &Socket) {
    let sock = SockRef::from(socket.fd());
    // The local address tells TCP from Unix on every platform (SO_DOMAIN is Linux-only).
    if matches!(sock.local_addr(), Ok(a) if a.is_ipv4() || a.is_ipv6()) {
        let _ = sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(KEEPALIVE_IDLE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[tokio::test]
    async fn dials_tcp_and_reports_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dest = Destination::parse(&format!("127.0.0.1:{port}")).unwrap();
        let fd = dial(&dest, Duration::from_secs(5)).await.unwrap();
        assert!(fd.as_raw_fd() >= 0);
        drop(listener);
        let err = dial(&dest, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.code, DialErrorCode::ConnectRefused);
        assert!(err.message.contains(&format!("127.0.0.1:{port}")));
    }

    #[tokio::test]
    async fn missing_unix_socket_is_refused() {
        let dest = Destination::parse("unix:/nonexistent/berth-test.sock").unwrap();
        let err = dial(&dest, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.code, DialErrorCode::ConnectRefused);
    }
}
