//! Opening a connection: resolve, check each address against the address policy, connect
//! with a deadline, set socket options, and hand back the descriptor for whoever owns it next.
//! Every dial of the engine (JS leases, native sessions, listener routes) comes through here,
//! so the policy sees every address right before its connect, and every dial to a name of
//! several addresses rotates over them and races them (see `happy_eyeballs`).

use crate::error::{DialError, DialErrorCode};
use crate::net::destination::{Destination, Host};
use crate::net::dns;
use crate::net::happy_eyeballs::{self, ATTEMPT_DELAY};
use crate::net::policy::{AddressPolicy, Target};
use crate::net::socket::Socket;
use crate::net::sys;
use crate::net::sys::OwnedSock;
use crate::redact::redact;
use socket2::{Domain, Protocol, SockAddr, TcpKeepalive, Type};
use std::io;
use std::net::{SocketAddr, SocketAddrV6};
use std::time::Duration;

/// TCP keep-alive probes start after this long without traffic, so a vanished peer is noticed
/// even on a connection that sits idle.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// Dials `dest`, giving up after `timeout` (resolution included), and hands back the bare
/// descriptor (for JS, which wraps it in a net.Socket). Addresses `policy` refuses are not
/// tried; when it refuses them all, the dial fails with `DestinationDenied`.
pub async fn dial(
    dest: &Destination,
    timeout: Duration,
    policy: &AddressPolicy,
) -> Result<OwnedSock, DialError> {
    let socket = dial_socket(dest, timeout, policy).await?;
    keep_alive(&socket);
    socket
        .into_fd()
        .map_err(|e| DialError::from_connect(&redact(&dest.to_string()), &e))
}

/// Dials `dest` and keeps the socket registered with the reactor, for the engine's own use.
/// TCP keep-alive is not set: only a connection that goes idle needs it (see `keep_alive`).
pub async fn dial_socket(
    dest: &Destination,
    timeout: Duration,
    policy: &AddressPolicy,
) -> Result<Socket, DialError> {
    let label = redact(&dest.to_string());
    match tokio::time::timeout(timeout, dial_inner(dest, &label, policy)).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(&label, timeout)),
    }
}

/// The error of a dial to `label` that did not finish within `timeout`.
pub(crate) fn timed_out(label: &str, timeout: Duration) -> DialError {
    DialError::new(
        DialErrorCode::ConnectTimeout,
        format!(
            "connect to {label} timed out after {} ms",
            timeout.as_millis()
        ),
    )
}

/// Where a dial may connect, once resolved and checked against the address policy: what
/// `dial` connects to, for an owner that connects by itself (the Node-dialled path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialOrder {
    /// The permitted addresses, in the order this dial tries them (Happy Eyeballs order,
    /// rotated by the dial's turn, as `connect_addrs` tries them).
    Tcp(Vec<SocketAddr>),
    /// A Unix socket the policy permits.
    Unix(std::path::PathBuf),
}

/// Resolves `dest` and applies `policy` as `dial` does (within `timeout`), without
/// connecting: the addresses, in order, for an owner that connects by itself.
pub async fn dial_order(
    dest: &Destination,
    timeout: Duration,
    policy: &AddressPolicy,
) -> Result<DialOrder, DialError> {
    let label = redact(&dest.to_string());
    let plan = tokio::time::timeout(timeout, plan(dest, &label, policy)).await;
    match plan {
        Ok(Ok(Plan::Unix(path))) => unix_order(path, &label),
        Ok(Ok(Plan::Tcp(addrs, turn))) => match addrs.len() {
            // As `connect_addrs` fails it.
            0 => Err(DialError::new(
                DialErrorCode::DnsFailed,
                format!("{label} resolved to no address"),
            )),
            1 => Ok(DialOrder::Tcp(addrs)),
            _ => Ok(DialOrder::Tcp(happy_eyeballs::order(&addrs, turn))),
        },
        Ok(Err(e)) => Err(e),
        Err(_) => Err(timed_out(&label, timeout)),
    }
}

/// What a dial connects to: a Unix socket, or permitted addresses and the dial's turn.
enum Plan<'a> {
    Unix(&'a std::path::Path),
    Tcp(Vec<SocketAddr>, usize),
}

/// Resolves `dest` and keeps what `policy` permits: the one place both dials decide it.
async fn plan<'a>(
    dest: &'a Destination,
    label: &str,
    policy: &AddressPolicy,
) -> Result<Plan<'a>, DialError> {
    match dest {
        Destination::Unix(path) => {
            if !policy.permits(Target::Unix) {
                return Err(DialError::new(
                    DialErrorCode::DestinationDenied,
                    format!("connect to {label} refused: the address policy denies unix sockets"),
                ));
            }
            Ok(Plan::Unix(path))
        }
        Destination::Tcp { host, port } => {
            let (addrs, turn) = match host {
                Host::Ip(ip) => (vec![SocketAddr::new(*ip, *port)], 0),
                Host::Scoped { ip, scope_id, .. } => (
                    vec![SocketAddr::V6(SocketAddrV6::new(*ip, *port, 0, *scope_id))],
                    0,
                ),
                Host::Name(name) => dns::resolve_for_dial(name, *port).await.map_err(|e| {
                    DialError::new(
                        DialErrorCode::DnsFailed,
                        format!("cannot resolve {name}: {e}"),
                    )
                })?,
            };
            Ok(Plan::Tcp(permitted(policy, addrs, label)?, turn))
        }
    }
}

async fn dial_inner(
    dest: &Destination,
    label: &str,
    policy: &AddressPolicy,
) -> Result<Socket, DialError> {
    match plan(dest, label, policy).await? {
        Plan::Unix(path) => connect_unix(path, label).await,
        Plan::Tcp(addrs, turn) => {
            let socket = connect_addrs(&addrs, turn, label).await?;
            // Latency over batching for request/response traffic. A failure leaves a
            // working socket, so it is not an error.
            let _ = socket.sock().set_tcp_nodelay(true);
            Ok(socket)
        }
    }
}

/// Connects to the Unix socket at `path`.
#[cfg(unix)]
async fn connect_unix(path: &std::path::Path, label: &str) -> Result<Socket, DialError> {
    let addr = SockAddr::unix(path).map_err(|e| DialError::from_connect(label, &e))?;
    connect(Domain::UNIX, None, &addr)
        .await
        .map_err(|e| DialError::from_connect(label, &e))
}

/// Windows: the engine's sockets are TCP streams (tokio's `TcpStream`); a Unix socket there
/// is a clear failure, not a hang or a crash.
#[cfg(windows)]
async fn connect_unix(_path: &std::path::Path, label: &str) -> Result<Socket, DialError> {
    Err(no_unix(label))
}

/// A Unix socket dial on Windows: what it fails with, natively or Node-dialled alike.
#[cfg(windows)]
fn no_unix(label: &str) -> DialError {
    DialError::new(
        DialErrorCode::ConnectFailed,
        format!("connect to {label} failed: unix sockets are not supported on Windows"),
    )
}

/// The order of a Unix socket dial for an owner that connects by itself.
#[cfg(unix)]
fn unix_order(path: &std::path::Path, _label: &str) -> Result<DialOrder, DialError> {
    Ok(DialOrder::Unix(path.to_path_buf()))
}

/// Windows: as the native dial (Node would connect the path as a named pipe instead).
#[cfg(windows)]
fn unix_order(_path: &std::path::Path, label: &str) -> Result<DialOrder, DialError> {
    Err(no_unix(label))
}

/// The addresses `policy` allows, in the resolver's order; an error naming the destination
/// and a denied address when there is none.
pub(crate) fn permitted(
    policy: &AddressPolicy,
    mut addrs: Vec<SocketAddr>,
    label: &str,
) -> Result<Vec<SocketAddr>, DialError> {
    if policy.is_open() {
        return Ok(addrs);
    }
    let first = addrs.first().map(SocketAddr::ip);
    let total = addrs.len();
    addrs.retain(|a| policy.permits_ip(a.ip()));
    match (addrs.is_empty(), first) {
        (true, Some(ip)) => {
            let more = match total - 1 {
                0 => String::new(),
                1 => " (and the other address it resolved to)".to_owned(),
                n => format!(" (and the {n} other addresses it resolved to)"),
            };
            Err(DialError::new(
                DialErrorCode::DestinationDenied,
                format!("connect to {label} refused: the address policy denies {ip}{more}"),
            ))
        }
        _ => Ok(addrs),
    }
}

/// Connects to one of `addrs` (the permitted addresses of one destination, in the
/// resolver's order). One address is a plain connect: no timer, no allocation. Several are
/// tried in `happy_eyeballs::order` for this dial's `turn` (successive turns spread new
/// connections over them) and raced Happy Eyeballs style; the first to connect wins, and
/// when all fail the last failure is the error, naming `label`.
pub(crate) async fn connect_addrs(
    addrs: &[SocketAddr],
    turn: usize,
    label: &str,
) -> Result<Socket, DialError> {
    let result = match addrs {
        [] => {
            return Err(DialError::new(
                DialErrorCode::DnsFailed,
                format!("{label} resolved to no address"),
            ))
        }
        [one] => connect_tcp(*one).await,
        _ => {
            let order = happy_eyeballs::order(addrs, turn);
            happy_eyeballs::race(&order, ATTEMPT_DELAY, connect_tcp).await
        }
    };
    result.map_err(|e| DialError::from_connect(label, &e))
}

async fn connect_tcp(addr: SocketAddr) -> io::Result<Socket> {
    let domain = Domain::for_address(addr);
    let socket = connect(domain, Some(Protocol::TCP), &SockAddr::from(addr)).await?;
    if crate::net::socket::connected_to_itself(socket.sock(), addr) {
        // Closed with a reset, so that the port is not held in TIME_WAIT.
        let _ = socket.sock().set_linger(Some(Duration::ZERO));
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "connection refused (the connect reached its own source port: nothing listens there)",
        ));
    }
    Ok(socket)
}

/// A non-blocking connect, registered with the reactor once: the same registration then
/// serves the session that uses the socket (the engine's own), or is dropped for JS.
async fn connect(
    domain: Domain,
    protocol: Option<Protocol>,
    addr: &SockAddr,
) -> io::Result<Socket> {
    let raw = crate::net::socket::new_nonblocking(domain, Type::STREAM, protocol)?;
    match raw.connect(addr) {
        Ok(()) => {}
        Err(e) if sys::connect_in_progress(&e) => {}
        // A Unix socket whose backlog is full: wait for room, as for a TCP handshake.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    let socket = Socket::new_nonblocking(OwnedSock::from(raw))?;
    // Writable once the handshake is done, or failed (the error is then pending on the socket).
    socket.wait_writable().await?;
    if let Some(e) = socket.sock().take_error()? {
        return Err(e);
    }
    Ok(socket)
}

/// Keep-alive probes, so that a vanished peer is noticed even on a connection that sits idle.
/// A no-op on Unix sockets; failures leave a working socket, so they are not errors.
pub fn keep_alive(socket: &Socket) {
    let sock = socket.sock();
    // The local address tells TCP from Unix on every platform (SO_DOMAIN is Linux-only).
    if matches!(sock.local_addr(), Ok(a) if a.is_ipv4() || a.is_ipv6()) {
        let _ = sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(KEEPALIVE_IDLE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dials_tcp_and_reports_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dest = Destination::parse(&format!("127.0.0.1:{port}")).unwrap();
        let open = AddressPolicy::default();
        let fd = dial(&dest, Duration::from_secs(5), &open).await.unwrap();
        assert_ne!(sys::raw(&fd), sys::NO_SOCK);
        drop(listener);
        let err = dial(&dest, Duration::from_secs(5), &open)
            .await
            .unwrap_err();
        assert_eq!(err.code, DialErrorCode::ConnectRefused);
        assert!(err.message.contains(&format!("127.0.0.1:{port}")));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn missing_unix_socket_is_refused() {
        let dest = Destination::parse("unix:/nonexistent/berth-test.sock").unwrap();
        let err = dial(&dest, Duration::from_secs(5), &AddressPolicy::default())
            .await
            .unwrap_err();
        assert_eq!(err.code, DialErrorCode::ConnectRefused);
    }

    /// Every alias of 127.0.0.1 is refused under `deny: loopback`, and nothing connects.
    #[tokio::test]
    async fn the_policy_sees_resolved_addresses() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let deny = AddressPolicy::parse(None, &["loopback", "unix"]).unwrap();
        for host in [
            "127.0.0.1",
            "127.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "[::ffff:127.0.0.1]",
            "localhost",
        ] {
            let dest = Destination::parse(&format!("{host}:{port}")).unwrap();
            match dial(&dest, Duration::from_secs(5), &deny).await {
                Err(err) => {
                    // A resolver that does not know an alias fails it as a name instead.
                    if err.code != DialErrorCode::DnsFailed {
                        assert_eq!(err.code, DialErrorCode::DestinationDenied, "{host}: {err}");
                        assert!(err.message.contains("denies "), "{err}");
                        assert!(err.message.contains("127.0.0.1"), "{err}");
                        assert!(err.message.contains(&format!(":{port}")), "{err}");
                    }
                }
                Ok(_) => panic!("{host} connected"),
            }
        }
        assert_eq!(
            listener.accept().unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "nothing connected"
        );
        let unix = Destination::parse("unix:/var/run/docker.sock").unwrap();
        let err = dial(&unix, Duration::from_secs(5), &deny)
            .await
            .unwrap_err();
        assert_eq!(err.code, DialErrorCode::DestinationDenied);
        // Allowed addresses still connect.
        let allow = AddressPolicy::parse(Some(&["127.0.0.0/8"]), &[]).unwrap();
        let dest = Destination::parse(&format!("127.1:{port}")).unwrap();
        assert!(dial(&dest, Duration::from_secs(5), &allow).await.is_ok());
    }

    /// Not a test: 1000 sequential loopback dials to an IP literal, to `localhost` (one
    /// address) and to two addresses in turn, timed, for comparing builds. Run with
    /// `cargo test -p berth-core --release measure_sequential_dials -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore]
    async fn measure_sequential_dials() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                // Held until the next accept, so the server side never piles up.
                held.clear();
                held.push(s);
            }
        });
        let open = AddressPolicy::default();
        for host in ["127.0.0.1", "localhost"] {
            let dest = Destination::parse(&format!("{host}:{port}")).unwrap();
            for round in 0..3 {
                let started = std::time::Instant::now();
                for _ in 0..1000 {
                    drop(dial(&dest, Duration::from_secs(5), &open).await.unwrap());
                }
                println!(
                    "{host} round {round}: 1000 dials in {} us",
                    started.elapsed().as_micros()
                );
            }
        }
        accept.abort();
        // Two addresses: the rotating, racing path (two listeners, taking turns).
        let mut addrs = Vec::new();
        let mut accepts = Vec::new();
        for ip in ["127.0.0.1:0", "127.0.0.2:0"] {
            let listener = tokio::net::TcpListener::bind(ip).await.unwrap();
            addrs.push(listener.local_addr().unwrap());
            accepts.push(tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((s, _)) = listener.accept().await {
                    held.clear();
                    held.push(s);
                }
            }));
        }
        for round in 0..3 {
            let started = std::time::Instant::now();
            for turn in 0..1000 {
                drop(connect_addrs(&addrs, turn, "two").await.unwrap());
            }
            println!(
                "two addresses round {round}: 1000 dials in {} us",
                started.elapsed().as_micros()
            );
        }
        accepts.iter().for_each(|a| a.abort());
    }

    #[test]
    fn only_permitted_addresses_are_tried() {
        let deny = AddressPolicy::parse(None, &["private"]).unwrap();
        let addrs: Vec<SocketAddr> = vec![
            "10.0.0.1:80".parse().unwrap(),
            "8.8.8.8:80".parse().unwrap(),
        ];
        assert_eq!(
            permitted(&deny, addrs.clone(), "x:80").unwrap(),
            vec!["8.8.8.8:80".parse::<SocketAddr>().unwrap()]
        );
        let err = permitted(
            &deny,
            vec![addrs[0], "10.0.0.2:80".parse().unwrap()],
            "x:80",
        )
        .unwrap_err();
        assert_eq!(err.code, DialErrorCode::DestinationDenied);
        assert!(
            err.message
                .contains("denies 10.0.0.1 (and the other address"),
            "{}",
            err.message
        );
    }
}
