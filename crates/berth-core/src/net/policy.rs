//! The address policy: which resolved addresses (and whether Unix sockets) a pool or a probe
//! run may connect to. It is checked on the address itself, right before connect, so that DNS
//! answers, numeric aliases (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`, which the
//! resolver turns into 127.0.0.1) and IPv4-mapped IPv6 cannot slip past it.
//!
//! Entries are CIDRs (`10.0.0.0/8`, `::1/128`; a bare address is a /32 or /128) or named
//! classes (`loopback`, `private`, `linkLocal`, `uniqueLocal`, `multicast`, `unspecified`,
//! `unix`). An address is refused when it matches a `deny` entry, or when `allow` is given and
//! it matches none of its entries. An IPv4-mapped or IPv4-compatible IPv6 address is checked
//! as the IPv4 address it carries; 6to4 (`2002::/16`) and NAT64 (`64:ff9b::/96`) addresses are
//! not translated (list those prefixes to cover them).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A named class of addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918) and 100.64.0.0/10 (RFC 6598,
    /// carrier-grade NAT).
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 0.0.0.0/8 (a connect to 0.0.0.0 reaches this host), ::.
    Unspecified,
    /// `unix:` destinations.
    Unix,
}

const CLASSES: [(&str, Class); 7] = [
    ("loopback", Class::Loopback),
    ("private", Class::Private),
    ("linkLocal", Class::LinkLocal),
    ("uniqueLocal", Class::UniqueLocal),
    ("multicast", Class::Multicast),
    ("unspecified", Class::Unspecified),
    ("unix", Class::Unix),
];

/// One policy entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Class(Class),
    V4 { net: u32, bits: u8 },
    V6 { net: u128, bits: u8 },
}

/// Where a connection would go, as the policy sees it.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    Ip(IpAddr),
    Unix,
}

/// Allow and deny lists. The default allows everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// `None`: no allow list (everything not denied is allowed).
    allow: Option<Vec<Entry>>,
    deny: Vec<Entry>,
}

/// A policy entry that is neither a CIDR nor a class name. The message names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPolicyEntry(String);

impl fmt::Display for InvalidPolicyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidPolicyEntry {}

impl AddressPolicy {
    /// Parses both lists; an invalid entry's message names it (`addressPolicy.deny[2] "x"`).
    pub fn parse<S: AsRef<str>>(
        allow: Option<&[S]>,
        deny: &[S],
    ) -> Result<Self, InvalidPolicyEntry> {
        let parse_all = |list: &str, entries: &[S]| -> Result<Vec<Entry>, InvalidPolicyEntry> {
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    parse_entry(e.as_ref()).map_err(|why| invalid(list, i, e.as_ref(), why))
                })
                .collect()
        };
        Ok(AddressPolicy {
            allow: allow.map(|a| parse_all("allow", a)).transpose()?,
            deny: parse_all("deny", deny)?,
        })
    }

    /// True when the policy allows everything (nothing to check).
    pub fn is_open(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }

    pub fn permits(&self, target: Target) -> bool {
        let target = match target {
            Target::Ip(ip) => Target::Ip(effective(ip)),
            unix => unix,
        };
        if self.deny.iter().any(|e| matches(e, target)) {
            return false;
        }
        match &self.allow {
            None => true,
            Some(allow) => allow.iter().any(|e| matches(e, target)),
        }
    }

    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        self.permits(Target::Ip(ip))
    }
}

fn invalid(list: &str, index: usize, entry: &str, why: String) -> InvalidPolicyEntry {
    let shown: String = entry.chars().take(64).collect();
    InvalidPolicyEntry(crate::redact::redact(&format!(
        "addressPolicy.{list}[{index}] {shown:?} {why}"
    )))
}

fn parse_entry(entry: &str) -> Result<Entry, String> {
    if let Some(&(_, class)) = CLASSES.iter().find(|(name, _)| *name == entry) {
        return Ok(Entry::Class(class));
    }
    let usage = || {
        format!(
            "is not a CIDR (\"10.0.0.0/8\", \"fd00::/8\", an address) or a class ({})",
            CLASSES.map(|(n, _)| n).join(", ")
        )
    };
    let (addr, bits) = match entry.split_once('/') {
        Some((addr, bits)) => {
            if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || bits.len() > 3 {
                return Err(usage());
            }
            (addr, Some(bits.parse::<u8>().map_err(|_| usage())?))
        }
        None => (entry, None),
    };
    match addr.parse::<IpAddr>().map_err(|_| usage())? {
        IpAddr::V4(ip) => v4_entry(ip, bits.unwrap_or(32)),
        IpAddr::V6(ip) => {
            let bits = bits.unwrap_or(128);
            // `::ffff:10.0.0.0/104` is the IPv4 block 10.0.0.0/8: addresses are compared so.
            match ip.to_ipv4_mapped() {
                Some(v4) if bits >= 96 => v4_entry(v4, bits - 96),
                _ => {
                    if bits > 128 {
                        return Err("has a prefix length above 128".to_owned());
                    }
                    let net = u128::from(ip);
                    if net & !mask128(bits) != 0 {
                        let fixed = Ipv6Addr::from(net & mask128(bits));
                        return Err(format!(
                            "has bits set after the prefix (did you mean \"{fixed}/{bits}\"?)"
                        ));
                    }
                    Ok(Entry::V6 { net, bits })
                }
            }
        }
    }
}

fn v4_entry(ip: Ipv4Addr, bits: u8) -> Result<Entry, String> {
    if bits > 32 {
        return Err("has a prefix length above 32".to_owned());
    }
    let net = u32::from(ip);
    if net & !mask32(bits) != 0 {
        let fixed = Ipv4Addr::from(net & mask32(bits));
        return Err(format!(
            "has bits set after the prefix (did you mean \"{fixed}/{bits}\"?)"
        ));
    }
    Ok(Entry::V4 { net, bits })
}

fn mask32(bits: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0)
}

fn mask128(bits: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0)
}

/// The address as the policy compares it: IPv4 carried in IPv6 (mapped `::ffff:a.b.c.d`, or
/// the deprecated compatible `::a.b.c.d`) is that IPv4 address. `::` and `::1` stay IPv6.
fn effective(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = u128::from(v6);
            if bits >> 32 == 0 && bits > 1 {
                return IpAddr::V4(Ipv4Addr::from(bits as u32));
            }
            ip
        }
        v4 => v4,
    }
}

fn matches(entry: &Entry, target: Target) -> bool {
    let ip = match target {
        Target::Unix => return *entry == Entry::Class(Class::Unix),
        Target::Ip(ip) => ip,
    };
    match (entry, ip) {
        (Entry::Class(class), ip) => in_class(*class, ip),
        (Entry::V4 { net, bits }, IpAddr::V4(v4)) => u32::from(v4) & mask32(*bits) == *net,
        (Entry::V6 { net, bits }, IpAddr::V6(v6)) => u128::from(v6) & mask128(*bits) == *net,
        _ => false,
    }
}

fn in_class(class: Class, ip: IpAddr) -> bool {
    let v4_in = |v4: Ipv4Addr, net: [u8; 4], bits: u8| {
        u32::from(v4) & mask32(bits) == u32::from(Ipv4Addr::from(net))
    };
    let v6_in = |v6: Ipv6Addr, net: u128, bits: u8| u128::from(v6) & mask128(bits) == net;
    match (class, ip) {
        (Class::Unix, _) => false,
        (Class::Loopback, IpAddr::V4(a)) => v4_in(a, [127, 0, 0, 0], 8),
        (Class::Loopback, IpAddr::V6(a)) => a == Ipv6Addr::LOCALHOST,
        (Class::Private, IpAddr::V4(a)) => {
            v4_in(a, [10, 0, 0, 0], 8)
                || v4_in(a, [172, 16, 0, 0], 12)
                || v4_in(a, [192, 168, 0, 0], 16)
                || v4_in(a, [100, 64, 0, 0], 10)
        }
        (Class::Private, IpAddr::V6(_)) => false,
        (Class::LinkLocal, IpAddr::V4(a)) => v4_in(a, [169, 254, 0, 0], 16),
        (Class::LinkLocal, IpAddr::V6(a)) => v6_in(a, 0xfe80 << 112, 10),
        (Class::UniqueLocal, IpAddr::V4(_)) => false,
        (Class::UniqueLocal, IpAddr::V6(a)) => v6_in(a, 0xfc00 << 112, 7),
        (Class::Multicast, IpAddr::V4(a)) => v4_in(a, [224, 0, 0, 0], 4),
        (Class::Multicast, IpAddr::V6(a)) => v6_in(a, 0xff00 << 112, 8),
        (Class::Unspecified, IpAddr::V4(a)) => v4_in(a, [0, 0, 0, 0], 8),
        (Class::Unspecified, IpAddr::V6(a)) => a == Ipv6Addr::UNSPECIFIED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: Option<&[&str]>, deny: &[&str]) -> AddressPolicy {
        AddressPolicy::parse(allow, deny).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn deny_classes_cover_aliases_and_mapped_addresses() {
        let p = policy(None, &["loopback", "private", "linkLocal", "unix"]);
        for denied in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "fe80::1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!p.permits_ip(ip(denied)), "{denied}");
        }
        for allowed in [
            "93.184.216.34",
            "172.32.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(p.permits_ip(ip(allowed)), "{allowed}");
        }
        assert!(!p.permits(Target::Unix));
        assert!(policy(None, &["loopback"]).permits(Target::Unix));
    }

    #[test]
    fn remaining_classes() {
        let p = policy(None, &["uniqueLocal", "multicast", "unspecified"]);
        for denied in [
            "fd00::1",
            "fc12::1",
            "224.0.0.1",
            "239.1.1.1",
            "ff02::1",
            "0.0.0.0",
            "0.1.2.3",
            "::",
        ] {
            assert!(!p.permits_ip(ip(denied)), "{denied}");
        }
        for allowed in ["127.0.0.1", "::1", "fe80::1", "223.255.255.255"] {
            assert!(p.permits_ip(ip(allowed)), "{allowed}");
        }
    }

    #[test]
    fn allow_lists_and_deny_wins() {
        let p = policy(
            Some(&["10.0.0.0/8", "2001:db8::/32", "unix"]),
            &["10.0.0.5"],
        );
        assert!(p.permits_ip(ip("10.9.9.9")));
        assert!(p.permits_ip(ip("::ffff:10.9.9.9")));
        assert!(!p.permits_ip(ip("10.0.0.5")));
        assert!(!p.permits_ip(ip("11.0.0.1")));
        assert!(p.permits_ip(ip("2001:db8::7")));
        assert!(!p.permits_ip(ip("2001:db9::7")));
        assert!(p.permits(Target::Unix));
        // An allow list without `unix` refuses Unix sockets.
        assert!(!policy(Some(&["0.0.0.0/0"]), &[]).permits(Target::Unix));
        // An empty allow list allows nothing.
        assert!(!policy(Some(&[]), &[]).permits_ip(ip("8.8.8.8")));
        assert!(AddressPolicy::default().is_open());
        assert!(AddressPolicy::default().permits(Target::Unix));
        // A mapped-IPv6 CIDR is the IPv4 block it carries.
        let mapped = policy(None, &["::ffff:127.0.0.0/104"]);
        assert!(!mapped.permits_ip(ip("127.0.0.9")));
        assert!(mapped.permits_ip(ip("128.0.0.1")));
        assert!(policy(None, &["0.0.0.0/0"]).permits_ip(ip("2001:db8::1")));
        assert!(!policy(None, &["::/0"]).permits_ip(ip("2001:db8::1")));
    }

    #[test]
    fn invalid_entries_are_named() {
        for (bad, why) in [
            ("localhost", "is not a CIDR"),
            ("10.0.0.0/33", "above 32"),
            ("::/129", "above 128"),
            ("10.0.0.1/8", "did you mean \"10.0.0.0/8\""),
            ("10.0.0.0/", "is not a CIDR"),
            ("10.0.0.0/+8", "is not a CIDR"),
            ("Loopback", "is not a CIDR"),
            ("", "is not a CIDR"),
            ("127.1", "is not a CIDR"),
        ] {
            let err = AddressPolicy::parse(None, &["loopback", bad]).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("addressPolicy.deny[1] {bad:?}")),
                "{msg}"
            );
            assert!(msg.contains(why), "{msg}");
        }
        let err = AddressPolicy::parse(Some(&["x"]), &[]).unwrap_err();
        assert!(err.to_string().starts_with("addressPolicy.allow[0] \"x\""));
    }
}
