//! Connect probes: many `host:port` targets checked concurrently (TCP connect or a UDP
//! datagram), results reported in completion order and in batches, input pulled only as
//! slots free up. `run.rs` drives a run; `tcp.rs` and `udp.rs` probe one target each.

mod run;
mod tcp;
mod udp;

pub use run::ProbeRun;

use crate::net::destination::{Destination, Host};
use crate::net::dns;
use crate::net::policy::AddressPolicy;
use std::io;
use std::net::{SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Results per sink call when the config does not say.
pub const DEFAULT_BATCH: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeProtocol {
    Tcp,
    Udp,
}

#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// Probes in flight at most (0 is taken as 1).
    pub concurrency: u32,
    /// Per probe, from its start (name resolution included) to its outcome.
    pub timeout: Duration,
    pub protocol: ProbeProtocol,
    /// The UDP datagram sent to each target (may be empty); unused for TCP.
    pub payload: Vec<u8>,
    /// Results per sink call at most (0 is taken as 1).
    pub batch: usize,
    /// Addresses a probe may go to, as for a pool's dials: a target whose every address is
    /// refused is an error `DESTINATION_DENIED`, probed nowhere. Default: everything.
    pub address_policy: Arc<AddressPolicy>,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            concurrency: 256,
            timeout: Duration::from_secs(1),
            protocol: ProbeProtocol::Tcp,
            payload: Vec::new(),
            batch: DEFAULT_BATCH,
            address_policy: Arc::default(),
        }
    }
}

/// What a probe found. The numbers are what crosses to JS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ProbeState {
    /// TCP: the handshake completed. UDP: a datagram came back.
    Open = 0,
    /// TCP: refused (RST). UDP: ICMP port unreachable.
    Closed = 1,
    /// No answer before the timeout, or host / network unreachable.
    Filtered = 2,
    /// The probe could not be made: invalid target, name not resolved, local failure.
    Error = 3,
}

impl ProbeState {
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// The index the target was pushed with.
    pub index: u64,
    pub state: ProbeState,
    /// From the probe's start to its outcome, in microseconds (0 for an invalid target).
    pub rtt_us: u64,
    /// Set for `ProbeState::Error` only: a stable code (`INVALID_TARGET`, `DNS_FAILED`, or
    /// the OS error's name such as `EACCES`) and a message naming the target.
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Where a run's results go. Calls come one at a time, from the engine's runtime.
pub trait ProbeSink: Send + Sync {
    /// `batch`: results in completion order. `want`: how many more targets the engine takes
    /// now, on top of what it asked for before (a credit, not a total). `done`: the last
    /// call of the run, made exactly once, after every pushed target completed (input
    /// ended) or the run was cancelled; every socket of the run is closed by then.
    ///
    /// Returns false when nobody listens any more: the engine then cancels the run.
    fn results(&self, batch: Vec<ProbeOutcome>, want: u32, done: bool) -> bool;
}

/// One probe's finding, before it gets its index and time.
pub(crate) enum Finding {
    Found(ProbeState),
    Failed { code: String, message: String },
}

impl Finding {
    pub(crate) fn failed(code: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::Failed {
            code: code.into(),
            message: message.into(),
        }
    }

    /// A socket call that failed for a local reason (descriptors, ports, permissions).
    pub(crate) fn os_error(what: &str, target: &str, err: &io::Error) -> Self {
        Finding::failed(errno_name(err), format!("{what} {target} failed: {err}"))
    }

    /// What an OS error says of the target, for TCP and UDP alike: refused (a RST, or ICMP
    /// port unreachable) is closed, unreachable is filtered, anything else an error of the
    /// probe (`what` names it in the message: "connect to", "probe of").
    pub(crate) fn from_error(what: &str, addr: std::net::SocketAddr, err: &io::Error) -> Self {
        if err.kind() == io::ErrorKind::ConnectionRefused {
            Finding::Found(ProbeState::Closed)
        } else if is_unreachable(err) {
            Finding::Found(ProbeState::Filtered)
        } else {
            Finding::os_error(what, &addr.to_string(), err)
        }
    }
}

/// Where a parsed target's probe goes: an IP literal as is, a name through the engine's
/// resolver, both by `deadline`, and only to an address `policy` allows. A name is probed at
/// one address, as a scanner does: its first IPv4 address (nmap's default), else its first
/// address.
pub(crate) async fn address(
    dest: &Destination,
    deadline: Instant,
    policy: &AddressPolicy,
) -> Result<SocketAddr, Finding> {
    let addrs = resolve(dest, deadline).await?;
    let addrs =
        crate::net::dial::permitted(policy, addrs, &crate::redact::redact(&dest.to_string()))
            .map_err(|e| Finding::failed(e.code.as_str(), e.message))?;
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| Finding::failed("DNS_FAILED", format!("{dest} resolved to no address")))
}

async fn resolve(dest: &Destination, deadline: Instant) -> Result<Vec<SocketAddr>, Finding> {
    match dest {
        Destination::Tcp {
            host: Host::Ip(ip),
            port,
        } => Ok(vec![SocketAddr::new(*ip, *port)]),
        Destination::Tcp {
            host: Host::Scoped { ip, scope_id, .. },
            port,
        } => Ok(vec![SocketAddr::V6(SocketAddrV6::new(
            *ip, *port, 0, *scope_id,
        ))]),
        Destination::Tcp {
            host: Host::Name(name),
            port,
        } => match tokio::time::timeout_at(deadline.into(), dns::resolve(name, *port)).await {
            Ok(Ok(addrs)) => Ok(addrs),
            Ok(Err(e)) => Err(Finding::failed(
                "DNS_FAILED",
                format!("cannot resolve {name}: {e}"),
            )),
            Err(_) => Err(Finding::failed(
                "DNS_FAILED",
                format!("cannot resolve {name}: no answer before the timeout"),
            )),
        },
        Destination::Unix(_) => Err(Finding::failed(
            "INVALID_TARGET",
            format!("{dest}: a unix socket cannot be probed"),
        )),
    }
}

/// Unreachable host or network: nothing answers there, which a scanner calls filtered.
#[cfg(unix)]
fn is_unreachable(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN | libc::ETIMEDOUT)
    )
}

/// Unreachable host or network (Winsock's codes).
#[cfg(windows)]
fn is_unreachable(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(WSAEHOSTUNREACH | WSAENETUNREACH | WSAEHOSTDOWN | WSAETIMEDOUT)
    )
}

#[cfg(windows)]
const WSAENETUNREACH: i32 = 10051;
#[cfg(windows)]
const WSAETIMEDOUT: i32 = 10060;
#[cfg(windows)]
const WSAEHOSTDOWN: i32 = 10064;
#[cfg(windows)]
const WSAEHOSTUNREACH: i32 = 10065;

/// Winsock's error codes by their Unix names, so that a result's code reads the same on
/// every platform (`ECONNREFUSED`, not `WSAECONNREFUSED`).
#[cfg(windows)]
const WSA_NAMES: [(i32, &str); 32] = [
    (10004, "EINTR"),
    (10009, "EBADF"),
    (10013, "EACCES"),
    (10014, "EFAULT"),
    (10022, "EINVAL"),
    (10024, "EMFILE"),
    (10035, "EAGAIN"),
    (10036, "EINPROGRESS"),
    (10037, "EALREADY"),
    (10038, "ENOTSOCK"),
    (10039, "EDESTADDRREQ"),
    (10040, "EMSGSIZE"),
    (10041, "EPROTOTYPE"),
    (10042, "ENOPROTOOPT"),
    (10043, "EPROTONOSUPPORT"),
    (10045, "EOPNOTSUPP"),
    (10047, "EAFNOSUPPORT"),
    (10048, "EADDRINUSE"),
    (10049, "EADDRNOTAVAIL"),
    (10050, "ENETDOWN"),
    (WSAENETUNREACH, "ENETUNREACH"),
    (10052, "ENETRESET"),
    (10053, "ECONNABORTED"),
    (10054, "ECONNRESET"),
    (10055, "ENOBUFS"),
    (10056, "EISCONN"),
    (10057, "ENOTCONN"),
    (WSAETIMEDOUT, "ETIMEDOUT"),
    (10061, "ECONNREFUSED"),
    (WSAEHOSTDOWN, "EHOSTDOWN"),
    (WSAEHOSTUNREACH, "EHOSTUNREACH"),
    (5, "EACCES"),
];

/// The symbolic name of an OS error (`EACCES`), `EIO` style, for the result's code.
#[cfg(windows)]
pub(crate) fn errno_name(err: &io::Error) -> String {
    let Some(n) = err.raw_os_error() else {
        return "EUNKNOWN".to_owned();
    };
    match WSA_NAMES.iter().find(|(code, _)| *code == n) {
        Some((_, name)) => (*name).to_owned(),
        None => format!("ERRNO_{n}"),
    }
}

/// The symbolic name of an OS error (`EACCES`), `EIO` style, for the result's code.
#[cfg(unix)]
pub(crate) fn errno_name(err: &io::Error) -> String {
    let Some(n) = err.raw_os_error() else {
        return "EUNKNOWN".to_owned();
    };
    let name = match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::EPIPE => "EPIPE",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENETRESET => "ENETRESET",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        #[cfg(any(target_os = "linux", target_os = "android"))]
        libc::EPROTO => "EPROTO",
        _ => return format!("ERRNO_{n}"),
    };
    name.to_owned()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn names_os_errors() {
        assert_eq!(
            errno_name(&io::Error::from_raw_os_error(libc::EACCES)),
            "EACCES"
        );
        assert_eq!(
            errno_name(&io::Error::from_raw_os_error(libc::EADDRNOTAVAIL)),
            "EADDRNOTAVAIL"
        );
        assert_eq!(errno_name(&io::Error::other("x")), "EUNKNOWN");
        assert!(is_unreachable(&io::Error::from_raw_os_error(
            libc::EHOSTUNREACH
        )));
        assert!(!is_unreachable(&io::Error::from_raw_os_error(
            libc::ECONNREFUSED
        )));
    }
}

#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    #[test]
    fn names_winsock_errors_as_unix_does() {
        assert_eq!(
            errno_name(&io::Error::from_raw_os_error(10061)),
            "ECONNREFUSED"
        );
        assert_eq!(errno_name(&io::Error::from_raw_os_error(10013)), "EACCES");
        assert_eq!(errno_name(&io::Error::from_raw_os_error(1)), "ERRNO_1");
        assert!(is_unreachable(&io::Error::from_raw_os_error(
            WSAEHOSTUNREACH
        )));
        assert!(!is_unreachable(&io::Error::from_raw_os_error(10061)));
    }
}
