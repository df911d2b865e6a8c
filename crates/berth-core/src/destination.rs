//! Destinations: parsed once, then referred to by a small integer id.

use std::fmt;
use std::net::IpAddr;
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
    Name(String),
}

/// Why a destination string was rejected. The message quotes the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidDestination {
    input: String,
    why: &'static str,
}

impl InvalidDestination {
    /// The same rejection worded for a probe target, which takes no Unix socket path.
    pub fn as_probe_target(&self) -> String {
        format!(
            "invalid target {:?}: {} (expected \"host:port\" or \"[v6addr]:port\")",
            self.input, self.why
        )
    }
}

impl fmt::Display for InvalidDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid destination {:?}: {} (expected \"host:port\", \"[v6addr]:port\" or \"unix:/absolute/path\")",
            self.input, self.why
        )
    }
}

impl std::error::Error for InvalidDestination {}

fn invalid(input: &str, why: &'static str) -> InvalidDestination {
    InvalidDestination {
        input: input.to_owned(),
        why,
    }
}

impl Destination {
    pub fn parse(input: &str) -> Result<Self, InvalidDestination> {
        if let Some(path) = input.strip_prefix("unix:") {
            if !path.starts_with('/') {
                return Err(invalid(input, "a unix socket path must be absolute"));
            }
            if path.len() > 107 {
                return Err(invalid(input, "a unix socket path is at most 107 bytes"));
            }
            if path.contains('\0') {
                return Err(invalid(input, "the path contains a NUL byte"));
            }
            return Ok(Destination::Unix(PathBuf::from(path)));
        }
        let (host, port) = if let Some(rest) = input.strip_prefix('[') {
            let (addr, after) = rest
                .split_once(']')
                .ok_or_else(|| invalid(input, "missing ']' after an IPv6 address"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| invalid(input, "missing \":port\" after the IPv6 address"))?;
            let ip: std::net::Ipv6Addr = addr
                .parse()
                .map_err(|_| invalid(input, "not an IPv6 address inside brackets"))?;
            (Host::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = input
                .rsplit_once(':')
                .ok_or_else(|| invalid(input, "missing \":port\""))?;
            if host.contains(':') {
                return Err(invalid(
                    input,
                    "an IPv6 address must be written in brackets",
                ));
            }
            (parse_host(input, host)?, port)
        };
        Ok(Destination::Tcp {
            host,
            port: parse_port(input, port)?,
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
    let valid_name = host.len() <= 253
        && host.split('.').all(|label| {
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

fn parse_port(input: &str, port: &str) -> Result<u16, InvalidDestination> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
        return Err(invalid(input, "the port must be a number from 1 to 65535"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(invalid(input, "the port must be a number from 1 to 65535")),
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
}
