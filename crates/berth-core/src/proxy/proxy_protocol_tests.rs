//! The PROXY protocol parser and encoder: the spec's examples, and generated cases (a small
//! deterministic generator, bounded in count) for "never panics", "encode then parse gives the
//! addresses back" and "every prefix of a valid header is Incomplete".

use super::*;

fn sa(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn header(source: &str, destination: &str, len: usize) -> Parsed {
    Parsed::Header {
        len,
        source: Some(sa(source)),
        destination: Some(sa(destination)),
    }
}

#[test]
fn v1_spec_examples() {
    let line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
    assert_eq!(
        parse(line, Accept::V1),
        header("192.168.0.1:56324", "192.168.0.11:443", 47)
    );
    assert_eq!(
        parse(line, Accept::Both),
        header("192.168.0.1:56324", "192.168.0.11:443", 47)
    );
    let six = b"PROXY TCP6 ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    assert!(matches!(parse(six, Accept::V1), Parsed::Invalid(_)));
    let six = b"PROXY TCP6 2001:db8::1 ::1 65535 1\r\n";
    assert_eq!(
        parse(six, Accept::V1),
        header("[2001:db8::1]:65535", "[::1]:1", six.len())
    );
    // The spec's worst case, 107 bytes.
    let worst = format!(
        "PROXY UNKNOWN {0} {0} 65535 65535\r\n",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    assert_eq!(worst.len(), 107);
    assert_eq!(
        parse(worst.as_bytes(), Accept::V1),
        Parsed::Header {
            len: 107,
            source: None,
            destination: None
        }
    );
    assert_eq!(
        parse(b"PROXY UNKNOWN\r\n", Accept::V1),
        Parsed::Header {
            len: 15,
            source: None,
            destination: None
        }
    );
}

#[test]
fn v1_invalid() {
    for bad in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
        b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
        b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
        b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x00\r\n",
        b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXYTCP4",
    ] {
        assert!(
            matches!(parse(bad, Accept::Both), Parsed::Invalid(_)),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // No CRLF within 107 bytes.
    let long = [b"PROXY UNKNOWN ".as_slice(), &[b'a'; 200]].concat();
    assert!(matches!(parse(&long, Accept::V1), Parsed::Invalid(_)));
    assert_eq!(parse(&long[..106], Accept::V1), Parsed::Incomplete);
    // The wrong version for the listener.
    assert!(matches!(
        parse(b"PROXY UNKNOWN\r\n", Accept::V2),
        Parsed::Invalid(_)
    ));
    assert!(matches!(
        parse(&V2_SIGNATURE, Accept::V1),
        Parsed::Invalid(_)
    ));
}

#[test]
fn v2_spec_layout() {
    // PROXY, TCP over IPv4, 127.0.0.1:1234 -> 127.0.0.2:80, with one TLV (type 0x04, NOOP).
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0x00, 12 + 5]);
    h.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 2, 0x04, 0xD2, 0x00, 0x50]);
    h.extend_from_slice(&[0x04, 0x00, 0x02, 0xAA, 0xBB]);
    let whole = h.len();
    h.extend_from_slice(b"payload");
    assert_eq!(
        parse(&h, Accept::V2),
        header("127.0.0.1:1234", "127.0.0.2:80", whole)
    );
    // LOCAL: no address, whatever the block says.
    h[12] = 0x20;
    assert_eq!(
        parse(&h, Accept::Both),
        Parsed::Header {
            len: whole,
            source: None,
            destination: None
        }
    );
    // UNIX family (216 bytes of paths): the direct peer stands.
    let mut u = V2_SIGNATURE.to_vec();
    u.extend_from_slice(&[0x21, 0x31, 0x00, 216]);
    u.resize(16 + 216, 0);
    assert_eq!(
        parse(&u, Accept::V2),
        Parsed::Header {
            len: 232,
            source: None,
            destination: None
        }
    );
}

#[test]
fn v2_invalid() {
    let base = |ver_cmd: u8, fam: u8, len: u16| {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(ver_cmd);
        h.push(fam);
        h.extend_from_slice(&len.to_be_bytes());
        h.resize(16 + usize::from(len), 0);
        h
    };
    for bad in [
        base(0x11, 0x11, 12),  // version 1 in a v2 header
        base(0x22, 0x11, 12),  // command 2
        base(0x21, 0x41, 12),  // family 4
        base(0x21, 0x13, 12),  // protocol 3
        base(0x21, 0x11, 11),  // too short for IPv4
        base(0x21, 0x21, 35),  // too short for IPv6
        base(0x21, 0x31, 215), // too short for UNIX
        base(0x21, 0x11, 5000),
    ] {
        assert!(
            matches!(parse(&bad, Accept::V2), Parsed::Invalid(_)),
            "{bad:?}"
        );
    }
    // Too long is known from the first 16 bytes.
    assert!(matches!(
        parse(&base(0x21, 0x11, 5000)[..16], Accept::V2),
        Parsed::Invalid(_)
    ));
    let mut sig = V2_SIGNATURE;
    sig[6] = 0;
    assert!(matches!(parse(&sig, Accept::V2), Parsed::Invalid(_)));
}

#[test]
fn encodes_as_the_spec_says() {
    assert_eq!(
        encode_v1(sa("192.168.0.1:56324"), sa("192.168.0.11:443")),
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    );
    assert_eq!(
        encode_v1(sa("[2001:db8::1]:1"), sa("[::1]:2")),
        b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n"
    );
    // Mixed families: the IPv4 one is mapped.
    assert_eq!(
        encode_v1(sa("10.0.0.1:1"), sa("[::1]:2")),
        b"PROXY TCP6 ::ffff:10.0.0.1 ::1 1 2\r\n"
    );
    // v4-mapped on both sides (a dual-stack socket): plain IPv4.
    assert_eq!(
        encode_v1(sa("[::ffff:10.0.0.1]:1"), sa("[::ffff:10.0.0.2]:2")),
        b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n"
    );
    let v2 = encode_v2(sa("127.0.0.1:1234"), sa("127.0.0.2:80"));
    let mut want = V2_SIGNATURE.to_vec();
    want.extend_from_slice(&[0x21, 0x11, 0x00, 0x0C]);
    want.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 2, 0x04, 0xD2, 0x00, 0x50]);
    assert_eq!(v2, want);
    assert_eq!(encode_v2(sa("[::1]:1"), sa("1.2.3.4:2")).len(), 16 + 36);
    assert_eq!(encode_unknown(ProxyVersion::V1), b"PROXY UNKNOWN\r\n");
    assert_eq!(
        parse(&encode_unknown(ProxyVersion::V2), Accept::V2),
        Parsed::Header {
            len: 16,
            source: None,
            destination: None
        }
    );
}

/// xorshift64*: a fixed sequence, so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn addr(&mut self) -> SocketAddr {
        let port = self.next() as u16;
        match self.below(3) {
            0 => SocketAddr::new(Ipv4Addr::from(self.next() as u32).into(), port),
            1 => SocketAddr::new(
                Ipv6Addr::from(u128::from(self.next()) << 64 | u128::from(self.next())).into(),
                port,
            ),
            // Edge values: zeros, all ones, loopback, mapped.
            _ => {
                let ip: IpAddr = match self.below(5) {
                    0 => Ipv4Addr::UNSPECIFIED.into(),
                    1 => Ipv4Addr::BROADCAST.into(),
                    2 => Ipv6Addr::UNSPECIFIED.into(),
                    3 => Ipv6Addr::from(u128::MAX).into(),
                    _ => Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(),
                };
                SocketAddr::new(ip, [0, 1, 65535][self.below(3) as usize])
            }
        }
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

#[test]
fn round_trips_and_every_prefix_is_incomplete() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let (src, dst) = (rng.addr(), rng.addr());
        for version in [ProxyVersion::V1, ProxyVersion::V2] {
            let bytes = encode(version, Some((src, dst)));
            let accept = if rng.below(2) == 0 {
                Accept::Both
            } else if version == ProxyVersion::V1 {
                Accept::V1
            } else {
                Accept::V2
            };
            // With what follows the header in the stream.
            let mut stream = bytes.clone();
            stream.extend_from_slice(b"\r\nPROXY \x0D\x0A");
            let Parsed::Header {
                len,
                source: Some(s),
                destination: Some(d),
            } = parse(&stream, accept)
            else {
                panic!("{version:?} {src} {dst}: {:?}", parse(&stream, accept));
            };
            assert_eq!(len, bytes.len());
            // Same family both sides: exact; mixed: the IPv4 side comes back mapped.
            assert_eq!(canonical(s), canonical(src), "{version:?} {src} {dst}");
            assert_eq!(canonical(d), canonical(dst), "{version:?} {src} {dst}");
            for cut in 0..bytes.len() {
                assert_eq!(
                    parse(&bytes[..cut], accept),
                    Parsed::Incomplete,
                    "{version:?} {src} {dst} cut at {cut}"
                );
            }
        }
    }
}

#[test]
fn never_panics_on_arbitrary_or_mutated_input() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let seeds = [
        encode_v1(sa("1.2.3.4:5"), sa("6.7.8.9:10")),
        encode_v1(sa("[::1]:5"), sa("[::2]:10")),
        encode_v2(sa("1.2.3.4:5"), sa("6.7.8.9:10")),
        encode_v2(sa("[::1]:5"), sa("[::2]:10")),
        encode_unknown(ProxyVersion::V1),
        encode_unknown(ProxyVersion::V2),
    ];
    for i in 0..20_000 {
        let buf: Vec<u8> = if i % 2 == 0 {
            let len = rng.below(300) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            // A valid header with a few bytes changed, inserted or removed.
            let mut b = seeds[rng.below(seeds.len() as u64) as usize].clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(b.len() as u64 + 1) as usize;
                match rng.below(3) {
                    0 if at < b.len() => b[at] = rng.next() as u8,
                    1 => b.insert(at, rng.next() as u8),
                    _ if at < b.len() => {
                        b.remove(at);
                    }
                    _ => {}
                }
            }
            b
        };
        for accept in [Accept::V1, Accept::V2, Accept::Both] {
            match parse(&buf, accept) {
                Parsed::Header { len, .. } => assert!(len <= buf.len() && len <= MAX_HEADER),
                // Incomplete only below the caps: a reader never waits past them.
                Parsed::Incomplete => assert!(buf.len() < MAX_HEADER),
                Parsed::Invalid(_) => {}
            }
        }
    }
}
