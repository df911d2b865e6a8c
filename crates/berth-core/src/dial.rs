//! Opening a connection: resolve, connect with a deadline, set socket options, and hand back
//! the descriptor for whoever owns it next.

use crate::destination::{Destination, Host};
use crate::dns;
use crate::error::{DialError, DialErrorCode};
use socket2::{SockRef, TcpKeepalive};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;
use tokio::net::{TcpStream, UnixStream};

/// TCP keep-alive probes start after this long without traffic, so a vanished peer is noticed
/// even on a connection that sits idle.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// Dials `dest`, giving up after `timeout` (resolution included).
pub async fn dial(dest: &Destination, timeout: Duration) -> Result<OwnedFd, DialError> {
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

async fn dial_inner(dest: &Destination, label: &str) -> Result<OwnedFd, DialError> {
    match dest {
        Destination::Unix(path) => {
            let stream = UnixStream::connect(path)
                .await
                .map_err(|e| DialError::from_connect(label, &e))?;
            let std = stream
                .into_std()
                .map_err(|e| DialError::from_connect(label, &e))?;
            Ok(OwnedFd::from(std))
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
            let stream = connect_any(&addrs, label).await?;
            let std = stream
                .into_std()
                .map_err(|e| DialError::from_connect(label, &e))?;
            configure_tcp(&std);
            Ok(OwnedFd::from(std))
        }
    }
}

/// Tries each resolved address in turn; the last error wins.
async fn connect_any(addrs: &[SocketAddr], label: &str) -> Result<TcpStream, DialError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
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

/// Latency over batching for request/response traffic, and keep-alive probes on idle
/// connections. Failures here leave a working socket, so they are not errors.
fn configure_tcp(stream: &std::net::TcpStream) {
    let sock = SockRef::from(stream);
    let _ = sock.set_tcp_nodelay(true);
    let _ = sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(KEEPALIVE_IDLE));
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
