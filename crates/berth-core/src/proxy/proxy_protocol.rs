//! The PROXY protocol (HAProxy's `proxy-protocol.txt`, versions 1 and 2): a header a load
//! balancer sends first on a connection to tell the server who the original client was.
//!
//! Parsing works on a byte buffer that may hold only part of the header (the listener feeds
//! it what it has peeked so far): `Incomplete` asks for more bytes, and is only ever answered
//! for a true prefix of a header that could still be valid, so a reader can consume every
//! byte it has seen on `Incomplete` (none of them belongs to the stream after the header).
//! Nothing here panics on any input; a header larger than `MAX_HEADER` is invalid.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Which versions a listener accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    V1,
    V2,
    Both,
}

/// Which version a sender writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyVersion {
    V1,
    V2,
}

/// What a buffer holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A prefix of a header that may still be valid: every byte of it belongs to the header.
    Incomplete,
    /// Not a header this listener accepts (the reason, for logs and tests).
    Invalid(&'static str),
    /// A whole header of `len` bytes. `source`/`destination` are `None` for a v1 `UNKNOWN`,
    /// a v2 `LOCAL` (a health check of the balancer itself) and v2 families without an IP
    /// address (UNSPEC, UNIX): the direct peer's address stands then.
    Header {
        len: usize,
        source: Option<SocketAddr>,
        destination: Option<SocketAddr>,
    },
}

/// The longest header accepted. v1 lines are 107 bytes at most; v2 headers can declare up to
/// 16 + 65535 bytes, but with their TLVs real ones stay well below this (HAProxy's own limit
/// for what it receives is its buffer size).
pub const MAX_HEADER: usize = 4096;

/// v1's longest line, "\r\n" included (the spec's worst case: TCP6 with two full addresses).
pub const V1_MAX: usize = 107;

const V1_PREFIX: &[u8] = b"PROXY ";

/// v2's twelve-byte signature.
pub const V2_SIGNATURE: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// Parses a PROXY protocol header at the start of `buf` (see `Parsed`).
pub fn parse(buf: &[u8], accept: Accept) -> Parsed {
    let Some(&first) = buf.first() else {
        return Parsed::Incomplete;
    };
    match (first, accept) {
        (b'P', Accept::V1 | Accept::Both) => parse_v1(buf),
        (0x0D, Accept::V2 | Accept::Both) => parse_v2(buf),
        (b'P', Accept::V2) => Parsed::Invalid("a v1 header where only v2 is accepted"),
        (0x0D, Accept::V1) => Parsed::Invalid("a v2 header where only v1 is accepted"),
        _ => Parsed::Invalid("no PROXY protocol header"),
    }
}

/// Whether `buf` is a prefix of `whole` or starts with it.
fn matches_prefix(buf: &[u8], whole: &[u8]) -> bool {
    let n = buf.len().min(whole.len());
    buf[..n] == whole[..n]
}

fn parse_v1(buf: &[u8]) -> Parsed {
    if !matches_prefix(buf, V1_PREFIX) {
        return Parsed::Invalid("v1: no \"PROXY \" prefix");
    }
    let window = &buf[..buf.len().min(V1_MAX)];
    // The line ends at the first CR, which must be followed by LF.
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        return if buf.len() >= V1_MAX {
            Parsed::Invalid("v1: no CRLF within 107 bytes")
        } else if window.iter().all(|&b| b.is_ascii_graphic() || b == b' ') {
            Parsed::Incomplete
        } else {
            Parsed::Invalid("v1: a byte that is not printable ASCII")
        };
    };
    match window.get(cr + 1) {
        None if buf.len() < V1_MAX => {
            return if window[..cr]
                .iter()
                .all(|&b| b.is_ascii_graphic() || b == b' ')
            {
                Parsed::Incomplete
            } else {
                Parsed::Invalid("v1: a byte that is not printable ASCII")
            };
        }
        Some(b'\n') => {}
        _ => return Parsed::Invalid("v1: CR not followed by LF"),
    }
    let len = cr + 2;
    let Ok(line) = std::str::from_utf8(&window[V1_PREFIX.len()..cr]) else {
        return Parsed::Invalid("v1: not ASCII");
    };
    // UNKNOWN: the rest of the line is ignored (the spec allows the addresses or nothing).
    if line == "UNKNOWN" || line.starts_with("UNKNOWN ") {
        return Parsed::Header {
            len,
            source: None,
            destination: None,
        };
    }
    let mut fields = line.split(' ');
    let (Some(proto), Some(src), Some(dst), Some(sport), Some(dport), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Parsed::Invalid("v1: not \"PROXY <proto> <src> <dst> <sport> <dport>\"");
    };
    let (src, dst): (IpAddr, IpAddr) = match proto {
        "TCP4" => match (src.parse::<Ipv4Addr>(), dst.parse::<Ipv4Addr>()) {
            (Ok(s), Ok(d)) => (s.into(), d.into()),
            _ => return Parsed::Invalid("v1: TCP4 with an address that is not IPv4"),
        },
        "TCP6" => match (src.parse::<Ipv6Addr>(), dst.parse::<Ipv6Addr>()) {
            (Ok(s), Ok(d)) => (s.into(), d.into()),
            _ => return Parsed::Invalid("v1: TCP6 with an address that is not IPv6"),
        },
        _ => return Parsed::Invalid("v1: protocol is not TCP4, TCP6 or UNKNOWN"),
    };
    let (Some(sport), Some(dport)) = (port(sport), port(dport)) else {
        return Parsed::Invalid("v1: a port that is not a number from 0 to 65535");
    };
    Parsed::Header {
        len,
        source: Some(SocketAddr::new(src, sport)),
        destination: Some(SocketAddr::new(dst, dport)),
    }
}

/// A decimal port, digits only (no sign, no spaces), 0 to 65535.
fn port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_v2(buf: &[u8]) -> Parsed {
    if !matches_prefix(buf, &V2_SIGNATURE) {
        return Parsed::Invalid("v2: bad signature");
    }
    if let Some(&ver_cmd) = buf.get(12) {
        if ver_cmd >> 4 != 2 {
            return Parsed::Invalid("v2: version is not 2");
        }
        if ver_cmd & 0x0F > 1 {
            return Parsed::Invalid("v2: command is not LOCAL or PROXY");
        }
    }
    if let Some(&fam) = buf.get(13) {
        if fam >> 4 > 3 || fam & 0x0F > 2 {
            return Parsed::Invalid("v2: unknown address family or protocol");
        }
    }
    let (Some(&ver_cmd), Some(&fam), Some(&hi), Some(&lo)) =
        (buf.get(12), buf.get(13), buf.get(14), buf.get(15))
    else {
        return Parsed::Incomplete;
    };
    let body = usize::from(u16::from_be_bytes([hi, lo]));
    let len = 16 + body;
    if len > MAX_HEADER {
        return Parsed::Invalid("v2: header longer than 4096 bytes");
    }
    // Too short for its family: known before the body arrives.
    let needed = match fam >> 4 {
        1 => 12,
        2 => 36,
        3 => 216,
        _ => 0,
    };
    if ver_cmd & 0x0F == 1 && body < needed {
        return Parsed::Invalid("v2: address block shorter than its family needs");
    }
    let Some(addresses) = buf.get(16..len) else {
        return Parsed::Incomplete;
    };
    let local = ver_cmd & 0x0F == 0;
    // Only a stream over IPv4/IPv6 names a client the listener can use; LOCAL, UNSPEC and
    // UNIX leave the direct peer's address in place (TLVs, after the addresses, are skipped).
    let stream = fam & 0x0F == 1;
    let (source, destination) = match fam >> 4 {
        1 if !local && stream => {
            let ip = |at: usize| {
                Ipv4Addr::new(
                    addresses[at],
                    addresses[at + 1],
                    addresses[at + 2],
                    addresses[at + 3],
                )
            };
            let port = |at: usize| u16::from_be_bytes([addresses[at], addresses[at + 1]]);
            (
                Some(SocketAddr::new(ip(0).into(), port(8))),
                Some(SocketAddr::new(ip(4).into(), port(10))),
            )
        }
        2 if !local && stream => {
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&addresses[at..at + 16]);
                Ipv6Addr::from(octets)
            };
            let port = |at: usize| u16::from_be_bytes([addresses[at], addresses[at + 1]]);
            (
                Some(SocketAddr::new(ip(0).into(), port(32))),
                Some(SocketAddr::new(ip(16).into(), port(34))),
            )
        }
        _ => (None, None),
    };
    Parsed::Header {
        len,
        source,
        destination,
    }
}

/// Both addresses in one family: IPv4 when both are (v4-mapped IPv6 counts as IPv4),
/// otherwise both IPv6 (an IPv4 one mapped).
fn same_family(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let canon = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let (src, dst) = (canon(src), canon(dst));
    if src.is_ipv4() == dst.is_ipv4() {
        return (src, dst);
    }
    let v6 = |a: SocketAddr| match a.ip() {
        IpAddr::V4(ip) => SocketAddr::new(ip.to_ipv6_mapped().into(), a.port()),
        IpAddr::V6(_) => a,
    };
    (v6(src), v6(dst))
}

/// The v1 line for a connection from `src` to `dst` (`TCP4`, or `TCP6` when either is IPv6).
pub fn encode_v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(src, dst);
    let proto = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {proto} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

/// The v2 header (PROXY command, STREAM) for a connection from `src` to `dst`, without TLVs.
pub fn encode_v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(src, dst);
    let mut out = Vec::with_capacity(52);
    out.extend_from_slice(&V2_SIGNATURE);
    out.push(0x21);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V6(ip) => ip,
                IpAddr::V4(ip) => ip.to_ipv6_mapped(),
            };
            out.push(0x21);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
        }
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out
}

/// The header that says "no client address" (the client is not an IP connection, e.g. a Unix
/// socket handed to `forward`): v1 `UNKNOWN`, v2 `LOCAL` with family UNSPEC.
pub fn encode_unknown(version: ProxyVersion) -> Vec<u8> {
    match version {
        ProxyVersion::V1 => b"PROXY UNKNOWN\r\n".to_vec(),
        ProxyVersion::V2 => {
            let mut out = V2_SIGNATURE.to_vec();
            out.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
            out
        }
    }
}

/// The header of `version` for a client connection from `src` to `dst` (either unknown:
/// `encode_unknown`).
pub fn encode(version: ProxyVersion, addresses: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    match (version, addresses) {
        (ProxyVersion::V1, Some((s, d))) => encode_v1(s, d),
        (ProxyVersion::V2, Some((s, d))) => encode_v2(s, d),
        (version, None) => encode_unknown(version),
    }
}

/// The header of `version` for the connection `fd` (its peer is the client, its local
/// address the one the client reached); `UNKNOWN`/`LOCAL` when it has no IP addresses.
pub fn encode_for_socket(version: ProxyVersion, fd: &impl crate::net::sys::AsSock) -> Vec<u8> {
    let socket = socket2::SockRef::from(fd);
    let addr = |a: std::io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
    let addresses = addr(socket.peer_addr()).zip(addr(socket.local_addr()));
    encode(version, addresses)
}

#[cfg(test)]
#[path = "proxy_protocol_tests.rs"]
mod tests;
