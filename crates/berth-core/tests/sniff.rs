//! The routing-information parsers (`proxy::sniff`): real ClientHellos captured from openssl,
//! Node and curl, curl's request line, and properties over generated and arbitrary input
//! (never a panic; a prefix gives nothing or a subset of the fields; a generated hello gives
//! back its SNI and ALPN however it is split into records).

use berth_core::proxy::sniff::{client_hello, http_head, incomplete, ClientHello, HttpHead};
use proptest::prelude::*;

/// `openssl s_client -servername x.test -alpn h2,http/1.1` (OpenSSL 3.0.19): TLS 1.3 hello.
const OPENSSL_TLS13: &str = "\
    1603010145010001410303915a8ea5a5bea7a33ca7257cc19413f72d3ba79331dd3483bc84105eab649caf20\
    c276d036241b1613cfca47647655d066b3c225f05a9065459c63bc6371f3323c003e130213031301c02cc030\
    009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d\
    003c0035002f00ff010000ba0000000b0009000006782e74657374000b000403000102000a00160014001d00\
    17001e0019001801000101010201030104002300000010000e000c02683208687474702f312e310016000000\
    170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204\
    0205020602002b0009080304030303020301002d00020101003300260024001d00202b748c3b18135169b9c2\
    dd356bf830e91e3ad4fb41887c32a505398a8ad34671";

/// `openssl s_client -tls1_2 -servername api.example.com` (OpenSSL 3.0.19): no ALPN.
const OPENSSL_TLS12: &str = "\
    16030100cf010000cb0303aaf45dbcb4fb9691987235d6f5a2871d2e783f8ec5c3fab8a1d19c427bf5816f00\
    0038c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033\
    009d009c003d003c0035002f00ff0100006a00000014001200000f6170692e6578616d706c652e636f6d000b\
    000403000102000a000c000a001d0017001e00190018002300000016000000170000000d002a002804030503\
    0603080708080809080a080b080408050806040105010601030303010302040205020602";

/// Node 20 `tls.connect({ servername: 'api.test', ALPNProtocols: ['h2', 'http/1.1'] })`.
const NODE_20: &str = "\
    160301017b01000177030397fc908ba5147b6800983dcad289b526bdeb1e68eb6bafb0c8daedead0fe37f020\
    10ce0b6bfee3dc5acef3008301a849138872a2464a3833902131082dedd512c10076130213031301c02fc02b\
    c030c02c009ec0270067c028006b00a3009fcca9cca8ccaac0afc0adc0a3c09fc05dc061c057c05300a2c0ae\
    c0acc0a2c09ec05cc060c056c052c024006ac0230040c00ac01400390038c009c01300330032009dc0a1c09d\
    c051009cc0a0c09cc050003d003c0035002f00ff010000b80000000d000b0000086170692e74657374000b00\
    0403000102000a00160014001d0017001e0019001801000101010201030104002300000010000e000c026832\
    08687474702f312e310016000000170000000d002a0028040305030603080708080809080a080b0804080508\
    06040105010601030303010302040205020602002b00050403040303002d00020101003300260024001d0020\
    0850c3a1d86ba00cfa9cf8e3050b917d4969cd84949cb49e28cde79400f6263d";

/// curl 7.88.1 `--resolve x.test:PORT:127.0.0.1 https://x.test:PORT/` (OpenSSL backend, 512-byte padded hello).
const CURL_7_88: &str = "\
    1603010200010001fc0303651bca2759952bf4524588a69a148eb12baf8ad42ef7f1f0efd72ac03af0bd2420\
    e7b1d0ab9b6efb5aa428e79c492d8f38a2012bf1663324e6dbb00cc2e5d57ab1003e130213031301c02cc030\
    009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d\
    003c0035002f00ff010001750000000b0009000006782e74657374000b000403000102000a00160014001d00\
    17001e00190018010001010102010301040010000e000c02683208687474702f312e31001600000017000000\
    310000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301030204\
    0205020602002b0009080304030303020301002d00020101003300260024001d0020e44b1358ea8fbf168bf8\
    39d387137931731b462f09300bf40f40ab0ea8e1ba46001500b7000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
    000000000000000000000000000000000000000000000000000000000000000000";

/// curl 7.88.1 `-H 'Host: x.test' 'http://127.0.0.1:PORT/a/b?c'`.
const CURL_HTTP: &str =
    "GET /a/b?c HTTP/1.1\r\nHost: x.test\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test vector is hex"))
        .collect()
}

fn hello(sni: Option<&str>, alpn: &[&str]) -> ClientHello {
    ClientHello {
        sni: sni.map(str::to_owned),
        alpn: alpn.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// `part` is what a prefix of a hello may say about `full`: nothing, or some of its fields.
fn subset_of(part: &Option<ClientHello>, full: &ClientHello) -> bool {
    match part {
        None => true,
        Some(part) => {
            (part.sni.is_none() || part.sni == full.sni)
                && (part.alpn.is_empty() || part.alpn == full.alpn)
        }
    }
}

/// The same handshake bytes re-cut into TLS records of `size` bytes each (a record split).
fn resplit(record: &[u8], size: usize) -> Vec<u8> {
    let body = &record[5..];
    let mut out = Vec::new();
    for chunk in body.chunks(size.max(1)) {
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

#[test]
fn real_client_hellos() {
    let cases = [
        (OPENSSL_TLS13, hello(Some("x.test"), &["h2", "http/1.1"])),
        (OPENSSL_TLS12, hello(Some("api.example.com"), &[])),
        (NODE_20, hello(Some("api.test"), &["h2", "http/1.1"])),
        (CURL_7_88, hello(Some("x.test"), &["h2", "http/1.1"])),
    ];
    for (vector, want) in cases {
        let bytes = hex(vector);
        assert_eq!(client_hello(&bytes).as_ref(), Some(&want));
        // What follows the hello in the stream changes nothing.
        let mut more = bytes.clone();
        more.extend_from_slice(b"\x14\x03\x03\x00\x01\x01garbage");
        assert_eq!(client_hello(&more).as_ref(), Some(&want));
        // Split over several records, the hello reads the same.
        for size in [1, 2, 7, 64, 100, 200] {
            assert_eq!(
                client_hello(&resplit(&bytes, size)).as_ref(),
                Some(&want),
                "size {size}"
            );
        }
        // Any prefix (a small peek): nothing, or some of the fields and never others.
        let mut some = 0;
        for n in 0..bytes.len() {
            let part = client_hello(&bytes[..n]);
            assert!(subset_of(&part, &want), "prefix {n}: {part:?}");
            some += usize::from(part.is_some_and(|p| p.sni.is_some()));
        }
        assert!(some > 0, "some prefix already gives the server name");
    }
}

#[test]
fn not_a_client_hello() {
    let bytes = hex(NODE_20);
    assert_eq!(client_hello(b""), None);
    assert_eq!(client_hello(CURL_HTTP.as_bytes()), None);
    assert_eq!(client_hello(b"\x16\x03\x01\x00\x00"), None);
    // Another record type (application data), another handshake message (ServerHello).
    let mut other = bytes.clone();
    other[0] = 23;
    assert_eq!(client_hello(&other), None);
    let mut other = bytes.clone();
    other[5] = 2;
    assert_eq!(client_hello(&other), None);
    // SSL 2 compatible hello: not TLS 3.x.
    let mut other = bytes.clone();
    other[1] = 2;
    assert_eq!(client_hello(&other), None);
    // A handshake length past the extensions: malformed.
    let mut other = bytes.clone();
    other[8] = other[8].wrapping_add(1);
    assert_eq!(client_hello(&other), None);
}

#[test]
fn incomplete_heads_want_more() {
    // Every proper prefix of a hello wants more (so the listener peeks again); the whole does not.
    for vector in [OPENSSL_TLS13, OPENSSL_TLS12, NODE_20, CURL_7_88] {
        let bytes = hex(vector);
        for n in 1..bytes.len() {
            assert!(incomplete(&bytes[..n]), "prefix {n}");
        }
        assert!(!incomplete(&bytes));
        let split = resplit(&bytes, 100);
        assert!(incomplete(&split[..split.len() - 1]));
        assert!(!incomplete(&split));
    }
    // An HTTP head: until its Host line (or the end of the headers) is in.
    let bytes = CURL_HTTP.as_bytes();
    let host_end = CURL_HTTP.find("User-Agent").unwrap();
    for n in 1..bytes.len() {
        assert_eq!(incomplete(&bytes[..n]), n < host_end, "prefix {n}");
    }
    assert!(
        !incomplete(b"GET / HTTP/1.0\r\nAccept: */*\r\n\r\n"),
        "ended without Host"
    );
    // Anything else is routed with what came first.
    for other in [
        &b""[..],
        b"\x00\x01",
        b"\x17\x03\x03\x00\x10",
        b"\x16\x02",
        b"\x16\x03\x01\x00\x10\x02",
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"PING\r\n",
        b"GET / HTTP/2.0\r\n",
        b"*1\r\n$4\r\nPING\r\n",
    ] {
        assert!(!incomplete(other), "{other:?}");
    }
}

/// Builds a ClientHello record around `extensions` (each a type and its body).
fn build_hello(extensions: &[(u16, Vec<u8>)], session_id: usize) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x5a; 32]);
    body.push(session_id as u8);
    body.extend(std::iter::repeat(7).take(session_id));
    body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
    let mut ext = Vec::new();
    for (kind, data) in extensions {
        ext.extend_from_slice(&kind.to_be_bytes());
        ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
        ext.extend_from_slice(data);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut record = vec![22, 3, 1];
    record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    record.extend_from_slice(&hs);
    record
}

fn sni_ext(name: &[u8]) -> Vec<u8> {
    let mut entry = vec![0];
    entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
    entry.extend_from_slice(name);
    let mut data = (entry.len() as u16).to_be_bytes().to_vec();
    data.extend_from_slice(&entry);
    data
}

fn alpn_ext(protocols: &[String]) -> Vec<u8> {
    let mut list = Vec::new();
    for p in protocols {
        list.push(p.len() as u8);
        list.extend_from_slice(p.as_bytes());
    }
    let mut data = (list.len() as u16).to_be_bytes().to_vec();
    data.extend_from_slice(&list);
    data
}

#[test]
fn server_names_that_are_not_dns_names() {
    for bad in [
        &b""[..],
        b"a..b",
        b".a",
        b"a.",
        b"-a.test",
        b"a-.test",
        b"a b.test",
        b"a\x00.test",
        b"a\n.test",
        b"caf\xc3\xa9.test",
        &[b'a'; 64],
    ] {
        let got = client_hello(&build_hello(&[(0, sni_ext(bad))], 0));
        assert_eq!(got, Some(hello(None, &[])), "{bad:?}");
    }
    let long = [
        &[b'a'; 63][..],
        b".",
        &[b'b'; 63],
        b".",
        &[b'c'; 63],
        b".",
        &[b'd'; 61],
    ]
    .concat();
    let got = client_hello(&build_hello(&[(0, sni_ext(&long))], 0)).and_then(|h| h.sni);
    assert_eq!(got.map(|s| s.len()), Some(253));
    let got = client_hello(&build_hello(&[(0, sni_ext(b"API.Test"))], 0));
    assert_eq!(got, Some(hello(Some("api.test"), &[])), "lowercased");
    // A hello without extensions at all: a hello, with nothing to tell.
    let mut bare = build_hello(&[], 0);
    bare.truncate(bare.len() - 2);
    let len = bare.len() - 5;
    bare[3..5].copy_from_slice(&(len as u16).to_be_bytes());
    bare[6..9].copy_from_slice(&((len - 4) as u32).to_be_bytes()[1..]);
    assert_eq!(client_hello(&bare), Some(hello(None, &[])));
}

#[test]
fn curl_request_line() {
    let want = HttpHead {
        method: "GET".into(),
        path: "/a/b?c".into(),
        host: Some("x.test".into()),
    };
    assert_eq!(http_head(CURL_HTTP.as_bytes()), Some(want.clone()));
    // Cut anywhere: no request line until it is complete; then no host until its line is.
    let bytes = CURL_HTTP.as_bytes();
    let line = CURL_HTTP.find('\n').unwrap() + 1;
    let host = CURL_HTTP.find("User-Agent").unwrap();
    for n in 0..bytes.len() {
        let got = http_head(&bytes[..n]);
        if n < line {
            assert_eq!(got, None, "prefix {n}");
        } else if n < host {
            assert_eq!(
                got,
                Some(HttpHead {
                    host: None,
                    ..want.clone()
                }),
                "prefix {n}"
            );
        } else {
            assert_eq!(got.as_ref(), Some(&want), "prefix {n}");
        }
    }
}

#[test]
fn request_heads() {
    let head = |s: &str| http_head(s.as_bytes());
    let got = head("POST /x HTTP/1.0\nhOsT:  Example.COM:8080 \t\nHost: second\n\n").unwrap();
    assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/x"));
    assert_eq!(
        got.host.as_deref(),
        Some("Example.COM:8080"),
        "first Host, trimmed"
    );
    let got = head("CONNECT db.internal:5432 HTTP/1.1\r\nX: y\r\nHost: db.internal:5432\r\n\r\n");
    assert_eq!(got.unwrap().path, "db.internal:5432");
    // Host after the end of the header block, or an empty/odd one: none.
    assert_eq!(
        head("GET / HTTP/1.1\r\n\r\nHost: x\r\n").unwrap().host,
        None
    );
    assert_eq!(head("GET / HTTP/1.1\r\nHost: \r\n\r\n").unwrap().host, None);
    assert_eq!(
        head("GET / HTTP/1.1\r\nHost: a b\r\n\r\n").unwrap().host,
        None
    );
    assert_eq!(
        head("GET / HTTP/1.1\r\nHost: u@x\r\n\r\n").unwrap().host,
        None
    );
    assert_eq!(
        head("GET / HTTP/1.1\r\nHost: x.te").unwrap().host,
        None,
        "cut"
    );
    for bad in [
        "GET / HTTP/2.0\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "GET /  HTTP/1.1\r\n",
        "GET  / HTTP/1.1\r\n",
        "GET / HTTP/1.1 \r\n",
        "GET / HTTP/1.x\r\n",
        "G(T / HTTP/1.1\r\n",
        "GET /\x7f HTTP/1.1\r\n",
        "GET / HTTP/1.1",
        " GET / HTTP/1.1\r\n",
        "\r\nGET / HTTP/1.1\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n",
    ] {
        assert_eq!(head(bad), None, "{bad:?}");
    }
    let long_method = format!("{} / HTTP/1.1\r\n", "A".repeat(33));
    assert_eq!(head(&long_method), None);
    let long_target = format!("GET /{} HTTP/1.1\r\n", "a".repeat(8192));
    assert_eq!(head(&long_target), None);
    assert_eq!(http_head(b"GET /\xff HTTP/1.1\r\n"), None);
    assert_eq!(http_head(&hex(NODE_20)), None);
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9_]([a-z0-9_-]{0,20}[a-z0-9_])?"
}

fn dns() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..5).prop_map(|labels| labels.join("."))
}

fn protocol() -> impl Strategy<Value = String> {
    "[!-~]{1,20}"
}

/// Extensions that are neither server_name nor ALPN, to be mixed in around them.
fn other_ext() -> impl Strategy<Value = (u16, Vec<u8>)> {
    (
        prop::num::u16::ANY.prop_filter("not sni/alpn", |k| *k != 0 && *k != 16),
        prop::collection::vec(any::<u8>(), 0..300),
    )
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(2000)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = client_hello(&bytes);
        let _ = http_head(&bytes);
        let _ = incomplete(&bytes);
    }

    #[test]
    fn handshake_shaped_bytes_never_panic(
        len in 0u16..600,
        tail in prop::collection::vec(any::<u8>(), 0..700),
    ) {
        // A plausible record header, so that the parse goes past the first check.
        let mut bytes = vec![22, 3, 1];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.push(1);
        bytes.extend_from_slice(&tail);
        let _ = client_hello(&bytes);
    }

    #[test]
    fn mutated_real_hello_never_panics(
        at in 0usize..517,
        byte in any::<u8>(),
        cut in 0usize..600,
    ) {
        let mut bytes = hex(CURL_7_88);
        let at = at % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut);
        let _ = client_hello(&bytes);
        let _ = incomplete(&bytes);
    }

    #[test]
    fn generated_hello_round_trips(
        sni in prop::option::of(dns()),
        alpn in prop::collection::vec(protocol(), 0..5),
        before in prop::collection::vec(other_ext(), 0..4),
        after in prop::collection::vec(other_ext(), 0..4),
        session_id in 0usize..33,
        split in 1usize..400,
        cut in 0usize..4000,
    ) {
        let mut extensions = before;
        if let Some(name) = &sni {
            extensions.push((0, sni_ext(name.as_bytes())));
        }
        if !alpn.is_empty() {
            extensions.push((16, alpn_ext(&alpn)));
        }
        extensions.extend(after);
        let record = build_hello(&extensions, session_id);
        let want = ClientHello { sni, alpn };
        prop_assert_eq!(client_hello(&record), Some(want.clone()));
        let split = resplit(&record, split);
        prop_assert_eq!(client_hello(&split), Some(want.clone()));
        // A prefix (a small peek) gives nothing or some of the same fields.
        for bytes in [&record, &split] {
            let part = client_hello(&bytes[..cut.min(bytes.len())]);
            prop_assert!(subset_of(&part, &want), "{:?} of {:?}", part, want);
        }
    }

    #[test]
    fn generated_request_round_trips(
        method in "[A-Z]{1,10}",
        path in "/[!-~]{0,100}",
        host in prop::option::of("[a-z0-9.-]{1,40}(:[0-9]{1,5})?"),
        before in prop::collection::vec("[A-Za-z-]{1,10}: [ -~]{0,30}", 0..4),
        cut in 0usize..400,
    ) {
        let mut text = format!("{method} {path} HTTP/1.1\r\n");
        let line = text.len();
        for header in &before {
            if !header.to_ascii_lowercase().starts_with("host:") {
                text.push_str(header);
                text.push_str("\r\n");
            }
        }
        let host_end = host.as_ref().map(|h| {
            text.push_str(&format!("Host: {h}\r\n"));
            text.len()
        });
        text.push_str("Accept: */*\r\n\r\n");
        let want = HttpHead { method, path, host };
        prop_assert_eq!(http_head(text.as_bytes()), Some(want.clone()));
        let cut = cut.min(text.len());
        let got = http_head(&text.as_bytes()[..cut]);
        if cut < line {
            prop_assert_eq!(got, None);
        } else if host_end.is_some_and(|end| cut >= end) {
            prop_assert_eq!(got.as_ref(), Some(&want));
        } else {
            prop_assert_eq!(got, Some(HttpHead { host: None, ..want }));
        }
    }
}

/// The parse cost per connection: `cargo test -p berth-core --release --test sniff -- --ignored
/// --nocapture parse_cost`.
#[test]
#[ignore = "a measurement, not a check"]
fn parse_cost() {
    use std::hint::black_box;
    use std::time::Instant;
    let vectors = [
        ("openssl tls1.3", hex(OPENSSL_TLS13)),
        ("node 20", hex(NODE_20)),
        ("curl 7.88", hex(CURL_7_88)),
        ("curl http", CURL_HTTP.as_bytes().to_vec()),
    ];
    let rounds = 1_000_000u32;
    for (name, bytes) in &vectors {
        for _ in 0..10_000 {
            black_box(client_hello(black_box(bytes)));
        }
        let start = Instant::now();
        for _ in 0..rounds {
            black_box(client_hello(black_box(bytes)));
        }
        let hello_ns = start.elapsed().as_nanos() as f64 / f64::from(rounds);
        let start = Instant::now();
        for _ in 0..rounds {
            black_box(http_head(black_box(bytes)));
        }
        let http_ns = start.elapsed().as_nanos() as f64 / f64::from(rounds);
        println!(
            "{name:>15} ({} bytes): client_hello {hello_ns:.1} ns, http_head {http_ns:.1} ns",
            bytes.len()
        );
    }
}
