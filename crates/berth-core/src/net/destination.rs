//! Destinations: parsed once, then referred to by a small integer id.

use crate::redact::redact;
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::PathBuf;

/// Where a pooled connection goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// `host:port` or `[v6]:port`. `host` is an IP literal or a name resolved at dial time.
    Tcp { host: Host, port: u16 },
    /// `unix:/absolute/path`.
    Unix(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    /// An IPv6 address with a zone (`[fe80::1%eth0]`): the zone as written, and the scope id
    /// (interface index) it named when the destination was parsed.
    Scoped {
        ip: Ipv6Addr,
        zone: String,
        scope_id: u32,
    },
    /// A host name, lower-cased. A trailing dot (an absolute name) is kept: `localhost.` is
    /// resolved as written, without the resolver's search domains, so it is not `localhost`.
    Name(String),
}

/// Why a destination string was rejected. The message quotes the input, with any
/// `user:pass@` part masked and at most `SHOWN_MAX` characters of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidDestination {
    shown: String,
    why: Cow<'static, str>,
}

/// Characters of a rejected input quoted in its message.
const SHOWN_MAX: usize = 100;

impl InvalidDestination {
    /// The same rejection worded for a probe target, which takes no Unix socket path.
    pub fn as_probe_target(&self) -> String {
        redact(&format!(
            "invalid target {:?}: {} (expected \"host:port\" or \"[v6addr]:port\")",
            self.shown, self.why
        ))
    }
}

impl fmt::Display for InvalidDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!(
            "invalid destination {:?}: {} (expected \"host:port\", \"[v6addr]:port\" or \"unix:/absolute/path\")",
            self.shown, self.why
        );
        f.write_str(&redact(&text))
    }
}

impl std::error::Error for InvalidDestination {}

fn invalid(input: &str, why: impl Into<Cow<'static, str>>) -> InvalidDestination {
    InvalidDestination {
        shown: shown(input),
        why: why.into(),
    }
}

/// `input` as an error message may quote it: whatever precedes the last `@` (after a
/// `scheme://`) masked as `***`, whatever the quoting, and cut to `SHOWN_MAX` characters.
fn shown(input: &str) -> String {
    let masked = match input.rfind('@') {
        Some(at) => {
            // Keep a `scheme://` that comes before the user info; anything else goes.
            let start = match input.find("://") {
                Some(i) if i + 3 <= at => i + 3,
                _ => 0,
            };
            format!("{}***{}", &input[..start], &input[at..])
        }
        None => input.to_owned(),
    };
    if masked.chars().count() <= SHOWN_MAX {
        return masked;
    }
    let mut cut: String = masked.chars().take(SHOWN_MAX).collect();
    cut.push('…');
    cut
}

impl Destination {
    pub fn parse(input: &str) -> Result<Self, InvalidDestination> {
        if input.is_empty() {
            return Err(invalid(input, "the destination is empty"));
        }
        if let Some(path) = input.strip_prefix("unix:") {
            if !path.starts_with('/') {
                return Err(invalid(input, "a unix socket path must be absolute"));
            }
            if path.len() > 107 {
                return Err(invalid(input, "a unix socket path is at most 107 bytes"));
            }
            if path.contains(|c: char| c.is_control()) {
                return Err(invalid(
                    input,
                    "the path contains a control character (NUL, CR, LF, ...)",
                ));
            }
            return Ok(Destination::Unix(PathBuf::from(path)));
        }
        if input.contains(|c: char| c.is_control()) {
            return Err(invalid(
                input,
                "it contains a control character (CR, LF, tab, ...)",
            ));
        }
        if input.contains(char::is_whitespace) {
            return Err(invalid(input, "it contains whitespace"));
        }
        if input.contains("://") {
            return Err(invalid(input, "a URL, expected host:port"));
        }
        if input.contains('@') {
            return Err(invalid(
                input,
                "credentials (user:password) are not part of a destination",
            ));
        }
        let (host, port) = if let Some(rest) = input.strip_prefix('[') {
            let (addr, after) = rest
                .split_once(']')
                .ok_or_else(|| invalid(input, "missing ']' after an IPv6 address"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| invalid(input, "missing \":port\" after the IPv6 address"))?;
            let (addr, zone) = match addr.split_once('%') {
                Some((addr, zone)) => (addr, Some(zone)),
                None => (addr, None),
            };
            let ip: Ipv6Addr = addr
                .parse()
                .map_err(|_| invalid(input, "not an IPv6 address inside brackets"))?;
            let host = match zone {
                None => Host::Ip(IpAddr::V6(ip)),
                Some(zone) => Host::Scoped {
                    ip,
                    zone: zone.to_owned(),
                    scope_id: scope_id(zone).map_err(|why| invalid(input, why))?,
                },
            };
            (host, port)
        } else {
            let (host, port) = input
                .rsplit_once(':')
                .ok_or_else(|| invalid(input, "missing \":port\""))?;
            if host.contains(':') {
                let v6 = |s: &str| {
                    s.split('%')
                        .next()
                        .is_some_and(|a| a.parse::<Ipv6Addr>().is_ok())
                };
                return Err(if v6(host) || v6(input) {
                    invalid(input, "an IPv6 address must be written in brackets")
                } else {
                    invalid(input, "the host may not contain ':'")
                });
            }
            (parse_host(input, host)?, port)
        };
        Ok(Destination::Tcp {
            host,
            port: parse_port(port).map_err(|why| invalid(input, why))?,
        })
    }
}

fn parse_host(input: &str, host: &str) -> Result<Host, InvalidDestination> {
    if host.is_empty() {
        return Err(invalid(input, "the host is empty"));
    }
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    // One trailing dot: an absolute name (`localhost.`).
    let name = host.strip_suffix('.').unwrap_or(host);
    let valid_name = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid_name {
        return Err(invalid(
            input,
            "the host is not a valid name or IPv4 address",
        ));
    }
    Ok(Host::Name(host.to_ascii_lowercase()))
}

/// A port: digits only, 1 to 65535, without leading zeros (`080` is refused rather than read
/// as 80 or as octal), the same rule for destinations and probe targets.
fn parse_port(port: &str) -> Result<u16, &'static str> {
    const RANGE: &str = "the port must be a number from 1 to 65535";
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RANGE);
    }
    if port.len() > 1 && port.starts_with('0') {
        return Err("the port may not have leading zeros");
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(RANGE),
    }
}

/// The scope id an IPv6 zone names: a number as is (`%2`), or the index of the network
/// interface of that name (`%eth0`).
pub fn scope_id(zone: &str) -> Result<u32, String> {
    if zone.is_empty() {
        return Err("the zone after '%' is empty".to_owned());
    }
    if zone.bytes().all(|b| b.is_ascii_digit()) {
        return zone
            .parse::<u32>()
            .map_err(|_| format!("the zone index {zone} is out of range"));
    }
    interface_index(zone)
}

/// The index of the interface a zone names.
#[cfg(unix)]
fn interface_index(zone: &str) -> Result<u32, String> {
    // IFNAMSIZ is 16 on Linux and macOS, the NUL included.
    let plausible = zone.len() < 16
        && zone
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'%' | b'[' | b']'));
    let index = match std::ffi::CString::new(zone) {
        Ok(name) if plausible => crate::net::sys::if_nametoindex(&name),
        _ => 0,
    };
    if index == 0 {
        return Err(format!("unknown network interface {zone:?} in the zone"));
    }
    Ok(index)
}

/// Windows: a zone is the interface's number there (`ipconfig` shows it as `%12`); names are
/// not looked up.
#[cfg(windows)]
fn interface_index(zone: &str) -> Result<u32, String> {
    Err(format!(
        "the zone {zone:?} names a network interface; on Windows give the interface's number \
         (e.g. fe80::1%12)"
    ))
}

/// A listen address: an IP address, IPv6 with an optional zone (`fe80::1%eth0`, no brackets).
/// The error says what is wrong with `host`.
pub fn listen_addr(host: &str, port: u16) -> Result<SocketAddr, String> {
    let (addr, zone) = match host.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (host, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("must be an IP address, got {:?}", shown(host)))?;
    match (ip, zone) {
        (ip, None) => Ok(SocketAddr::new(ip, port)),
        (IpAddr::V6(v6), Some(zone)) => {
            let scope = scope_id(zone).map_err(|why| format!("{:?}: {why}", shown(host)))?;
            Ok(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)))
        }
        (IpAddr::V4(_), Some(_)) => Err(format!(
            "{:?}: only an IPv6 address takes a zone",
            shown(host)
        )),
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Tcp {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            } => write!(f, "[{ip}]:{port}"),
            Destination::Tcp {
                host: Host::Ip(IpAddr::V4(ip)),
                port,
            } => write!(f, "{ip}:{port}"),
            Destination::Tcp {
                host: Host::Scoped { ip, zone, .. },
                port,
            } => write!(f, "[{ip}%{zone}]:{port}"),
            Destination::Tcp {
                host: Host::Name(name),
                port,
            } => write!(f, "{name}:{port}"),
            Destination::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            Destination::parse("127.0.0.1:80").unwrap().to_string(),
            "127.0.0.1:80"
        );
        assert_eq!(
            Destination::parse("[::1]:6379").unwrap().to_string(),
            "[::1]:6379"
        );
        assert_eq!(
            Destination::parse("Example.COM:443").unwrap().to_string(),
            "example.com:443"
        );
        assert_eq!(
            Destination::parse("unix:/tmp/x.sock").unwrap(),
            Destination::Unix(PathBuf::from("/tmp/x.sock"))
        );
    }

    #[test]
    fn rejects_bad_input_quoting_it() {
        for bad in [
            "",
            "localhost",
            "host:",
            "host:0",
            "host:70000",
            "host:12a",
            "[::1]",
            "[::1]80",
            "[zz]:80",
            "::1:80",
            "unix:relative/path",
            "http://x:1",
            ":80",
            "a..b:80",
        ] {
            let err = Destination::parse(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    fn why(input: &str) -> String {
        Destination::parse(input).expect_err(input).to_string()
    }

    #[test]
    fn says_what_is_wrong_without_quoting_credentials() {
        let msg = why("postgres:s3cr3tPW@db.internal:5432");
        assert!(
            !msg.contains("s3cr3tPW") && !msg.contains("postgres"),
            "{msg}"
        );
        assert!(msg.contains("\"***@db.internal:5432\""), "{msg}");
        assert!(
            msg.contains("credentials (user:password) are not part"),
            "{msg}"
        );
        assert!(!msg.contains("brackets"), "{msg}");
        // A password with quotes, colons and slashes in it is masked whole.
        let msg = why("u:s3cr3t@host://x");
        assert!(!msg.contains("s3cr3t"), "{msg}");
        let msg = why("u:pA\"SS/wo:RD@h:1");
        assert!(
            !msg.contains("pA") && !msg.contains("SS") && !msg.contains("RD"),
            "{msg}"
        );
        for url in [
            "http://x:1",
            "https://u:hunter2@h:443/p",
            "redis://cache:6379",
        ] {
            let msg = why(url);
            assert!(msg.contains("a URL, expected host:port"), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        assert!(why("host:80\r\nX: y").contains("control character"));
        assert!(why("host:80\n").contains("control character"));
        assert!(why("host :80").contains("whitespace"));
        assert!(why("unix:/tmp/a\nb").contains("control character"));
        assert!(why("::1:80").contains("must be written in brackets"));
        assert!(why("fe80::1%eth0:80").contains("must be written in brackets"));
        assert!(why("a:b:80").contains("may not contain ':'"));
        assert!(why("").contains("is empty"));
        let long = format!("{}:80x", "a".repeat(500));
        assert!(why(&long).len() < 300);
    }

    #[test]
    fn ports_have_one_spelling() {
        assert!(why("host:080").contains("leading zeros"));
        assert!(why("host:00080").contains("leading zeros"));
        assert!(why("[::1]:0443").contains("leading zeros"));
        assert!(why("host:0").contains("from 1 to 65535"));
        assert!(why("host:65536").contains("from 1 to 65535"));
        assert!(why("host:+80").contains("from 1 to 65535"));
        assert_eq!(
            Destination::parse("host:65535").unwrap().to_string(),
            "host:65535"
        );
    }

    #[test]
    fn trailing_dot_names_are_absolute_and_kept() {
        let d = Destination::parse("LocalHost.:80").unwrap();
        assert_eq!(d.to_string(), "localhost.:80");
        assert_ne!(d, Destination::parse("localhost:80").unwrap());
        assert!(Destination::parse("db.internal.:5432").is_ok());
        for bad in [".:80", "a..:80", "a.b..:80"] {
            assert!(why(bad).contains("not a valid name"), "{bad}");
        }
    }

    #[test]
    #[cfg(windows)]
    fn zones_name_no_interface_on_windows() {
        assert!(why("[fe80::1%lo]:80").contains("on Windows give the interface's number"));
        assert!(matches!(
            Destination::parse("[fe80::1%7]:80").unwrap(),
            Destination::Tcp {
                host: Host::Scoped { scope_id: 7, .. },
                ..
            }
        ));
    }

    #[test]
    #[cfg(unix)]
    fn zones_name_an_interface() {
        let d = Destination::parse("[fe80::1%lo]:80").unwrap();
        assert_eq!(d.to_string(), "[fe80::1%lo]:80");
        let Destination::Tcp {
            host: Host::Scoped { scope_id, .. },
            ..
        } = d
        else {
            panic!("{d:?}")
        };
        assert!(scope_id > 0);
        let d = Destination::parse("[fe80::1%7]:80").unwrap();
        assert!(matches!(
            d,
            Destination::Tcp {
                host: Host::Scoped { scope_id: 7, .. },
                ..
            }
        ));
        assert!(why("[fe80::1%nosuchif0]:80").contains("unknown network interface \"nosuchif0\""));
        assert!(why("[fe80::1%]:80").contains("zone after '%' is empty"));
        assert!(why("[fe80::1%a/b]:80").contains("unknown network interface"));
        assert!(listen_addr("fe80::1%lo", 80).is_ok());
        assert!(listen_addr("::1", 80).is_ok());
        assert!(listen_addr("fe80::1%nosuchif0", 80)
            .unwrap_err()
            .contains("unknown network interface"));
        assert!(listen_addr("127.0.0.1%lo", 80)
            .unwrap_err()
            .contains("only an IPv6 address"));
        assert!(listen_addr("localhost", 80).is_err());
    }
}
