//! Routing information from a connection's first bytes, without terminating anything: the
//! server name and ALPN protocols of a TLS ClientHello, or the request line and `Host` header
//! of a plaintext HTTP/1 request. The bytes are peeked (still in the stream), so the parsers
//! only read; they come from strangers, so every length is checked and no input panics.
//! Partial or malformed data gives `None` (or a field left out), never an error: a route
//! function then sees `undefined` and decides by what else it knows.

/// What a TLS ClientHello says about where the client wants to go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// The `server_name` extension's host name (RFC 6066), lowercased; `None` when absent,
    /// not a valid DNS name, or not within the bytes at hand.
    pub sni: Option<String>,
    /// The `application_layer_protocol_negotiation` protocols (RFC 7301), in the client's
    /// order; empty when absent or not within the bytes at hand. Names that are not printable
    /// ASCII are left out.
    pub alpn: Vec<String>,
}

/// The head of a plaintext HTTP/1 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpHead {
    pub method: String,
    /// The request-target as sent (`/a/b?c`, or `host:port` for CONNECT, or an absolute URI).
    pub path: String,
    /// The first `Host` header, trimmed; `None` when the headers at hand do not contain one.
    pub host: Option<String>,
}

/// TLS record content type and handshake message type of a ClientHello.
const HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const HOST_NAME: u8 = 0;

/// Parses the ClientHello at the start of `buf` (as peeked from a new connection). The
/// handshake message may span several TLS records (they are read in sequence, not copied).
/// `None` when `buf` does not start with a TLS handshake record holding a ClientHello, or ends
/// before the extensions; when it ends within them, the extensions complete by then are
/// reported (so a prefix of a hello gives `None` or a subset of its fields, never others).
pub fn client_hello(buf: &[u8]) -> Option<ClientHello> {
    let mut r = Records::new(buf)?;
    if r.u8()? != CLIENT_HELLO {
        return None;
    }
    let len = r.u24()?;
    let end = r.pos + len;
    // legacy_version: 3.x (SSL 3.0 .. TLS 1.2 encoding; TLS 1.3 also says 3.3 here).
    if r.u8()? != 3 {
        return None;
    }
    r.skip(1)?;
    r.skip(32)?; // random
    let session_id = usize::from(r.u8()?);
    if session_id > 32 {
        return None;
    }
    r.skip(session_id)?;
    let suites = usize::from(r.u16()?);
    if suites < 2 || suites % 2 != 0 {
        return None;
    }
    r.skip(suites)?;
    let compression = usize::from(r.u8()?);
    if compression < 1 {
        return None;
    }
    r.skip(compression)?;
    if r.pos > end {
        return None;
    }
    let mut hello = ClientHello::default();
    if r.pos == end {
        // No extensions at all (an old client): a hello, with nothing to tell.
        return Some(hello);
    }
    let ext_len = usize::from(r.u16()?);
    let ext_end = r.pos + ext_len;
    if ext_end != end {
        return None;
    }
    let (mut seen_sni, mut seen_alpn) = (false, false);
    // From here, running out of bytes ends the parse with what was complete by then.
    while r.pos < ext_end {
        let Some((kind, len)) = r.u16().zip(r.u16()) else {
            break;
        };
        let len = usize::from(len);
        let body_end = r.pos + len;
        if body_end > ext_end {
            return None;
        }
        if !r.has(len) {
            break;
        }
        match kind {
            EXT_SERVER_NAME if !seen_sni => {
                seen_sni = true;
                hello.sni = server_name(&mut r, body_end);
            }
            EXT_ALPN if !seen_alpn => {
                seen_alpn = true;
                hello.alpn = alpn(&mut r, body_end);
            }
            _ => {}
        }
        // Whatever the extension's own parse left unread, skip to its end (all in `buf`).
        r.skip(body_end.saturating_sub(r.pos))?;
    }
    Some(hello)
}

/// The host_name of a server_name extension whose body ends at `end` (all of it at hand).
fn server_name(r: &mut Records<'_>, end: usize) -> Option<String> {
    let list = usize::from(r.u16()?);
    if r.pos + list != end {
        return None;
    }
    while r.pos < end {
        let kind = r.u8()?;
        let len = usize::from(r.u16()?);
        if r.pos + len > end {
            return None;
        }
        if kind != HOST_NAME {
            r.skip(len)?;
            continue;
        }
        if len == 0 || len > 253 {
            return None;
        }
        let mut name = String::with_capacity(len);
        for _ in 0..len {
            name.push(char::from(r.u8()?.to_ascii_lowercase()));
        }
        return dns_name(&name).then_some(name);
    }
    None
}

/// The protocol names of an ALPN extension whose body ends at `end` (all of it at hand).
fn alpn(r: &mut Records<'_>, end: usize) -> Vec<String> {
    let mut protocols = Vec::new();
    let Some(list) = r.u16() else {
        return protocols;
    };
    if r.pos + usize::from(list) != end {
        return protocols;
    }
    while r.pos < end {
        let Some(len) = r.u8().map(usize::from) else {
            break;
        };
        if len == 0 || r.pos + len > end {
            return Vec::new();
        }
        let mut name = String::with_capacity(len);
        let mut printable = true;
        for _ in 0..len {
            let Some(b) = r.u8() else {
                return Vec::new();
            };
            printable &= b.is_ascii_graphic();
            name.push(char::from(b));
        }
        if printable {
            protocols.push(name);
        }
    }
    protocols
}

/// A DNS host name: dot-separated labels of letters, digits, `-` and `_` (seen in practice),
/// 1..=63 bytes each, no label starting or ending with `-`, 253 bytes at most.
fn dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The handshake bytes of consecutive TLS handshake records in `buf`, read in order: record
/// headers are stepped over as they come, so a message split over records reads as one.
/// `pos` counts handshake bytes read so far (the offsets lengths are checked against).
struct Records<'a> {
    buf: &'a [u8],
    /// Index in `buf` of the next handshake byte.
    at: usize,
    /// Handshake bytes left in the current record from `at`.
    left: usize,
    pos: usize,
}

impl<'a> Records<'a> {
    /// Starts at a TLS handshake record header; `None` if `buf` does not begin with one.
    fn new(buf: &'a [u8]) -> Option<Self> {
        let mut r = Records {
            buf,
            at: 0,
            left: 0,
            pos: 0,
        };
        r.next_record()?;
        Some(r)
    }

    /// Steps over the next record header (a handshake record, TLS 3.x, non-empty).
    fn next_record(&mut self) -> Option<()> {
        let header = self.buf.get(self.at..self.at.checked_add(5)?)?;
        if header[0] != HANDSHAKE || header[1] != 3 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 {
            return None;
        }
        self.at += 5;
        self.left = len;
        Some(())
    }

    #[inline]
    fn u8(&mut self) -> Option<u8> {
        if self.left == 0 {
            self.next_record()?;
        }
        let b = *self.buf.get(self.at)?;
        self.at += 1;
        self.left -= 1;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn u16(&mut self) -> Option<u16> {
        // Most lengths lie within one record: read them in one step.
        if self.left >= 2 {
            if let Some(&[a, b]) = self.buf.get(self.at..self.at + 2) {
                self.at += 2;
                self.left -= 2;
                self.pos += 2;
                return Some(u16::from_be_bytes([a, b]));
            }
        }
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn u24(&mut self) -> Option<usize> {
        let (a, b, c) = (self.u8()?, self.u8()?, self.u8()?);
        Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    #[inline]
    fn skip(&mut self, mut n: usize) -> Option<()> {
        while n > 0 {
            if self.left == 0 {
                self.next_record()?;
            }
            let step = n.min(self.left);
            if self.at + step > self.buf.len() {
                return None;
            }
            self.at += step;
            self.left -= step;
            self.pos += step;
            n -= step;
        }
        Some(())
    }

    /// Whether the next `n` handshake bytes are all in `buf` (without reading them).
    fn has(&self, n: usize) -> bool {
        let mut probe = Records {
            buf: self.buf,
            at: self.at,
            left: self.left,
            pos: self.pos,
        };
        probe.skip(n).is_some()
    }
}

/// Longest method, request-target and Host value taken (a DNS name of 253 bytes and a port).
const MAX_METHOD: usize = 32;
const MAX_TARGET: usize = 8192;
const MAX_HOST: usize = 262;

/// Parses the head of an HTTP/1.x request at the start of `buf`: the request line
/// (`METHOD SP request-target SP HTTP/1.x CRLF`, a bare LF accepted too) must be complete,
/// else `None`; the `Host` header is given if it is among the complete header lines at hand.
pub fn http_head(buf: &[u8]) -> Option<HttpHead> {
    // The method first, so that other protocols (a ClientHello, SSH) are told apart at once
    // instead of after a search for a line end through all the bytes.
    let sp = buf.iter().take(MAX_METHOD + 1).position(|&b| !tchar(b))?;
    if sp == 0 || buf[sp] != b' ' {
        return None;
    }
    let method = &buf[..sp];
    let rest = &buf[sp + 1..];
    let sp = rest
        .iter()
        .take(MAX_TARGET + 1)
        .position(|&b| !b.is_ascii_graphic())?;
    if sp == 0 || rest[sp] != b' ' {
        return None;
    }
    let target = &rest[..sp];
    let (version, mut rest) = split_line(&rest[sp + 1..])?;
    match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {}
        _ => return None,
    }
    let mut head = HttpHead {
        method: ascii(method),
        path: ascii(target),
        host: None,
    };
    // Header lines up to the blank line or the end of what was peeked, whichever is first.
    while let Some((line, next)) = split_line(rest) {
        rest = next;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            break;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if !name.eq_ignore_ascii_case(b"host") {
            continue;
        }
        let value = value.trim_ascii();
        if !value.is_empty() && value.len() <= MAX_HOST && value.iter().all(|&b| host_char(b)) {
            head.host = Some(ascii(value));
        }
        break;
    }
    Some(head)
}

/// What the first bytes of a connection say, for its route: a ClientHello's fields if they
/// are one, else a request head's if they are one (both `None` for anything else).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sniffed {
    pub tls: Option<ClientHello>,
    pub http: Option<HttpHead>,
}

/// Reads `head` as a ClientHello or as an HTTP/1 request head, whichever it starts like.
pub fn sniff(head: &[u8]) -> Sniffed {
    match head.first() {
        None => Sniffed::default(),
        Some(&HANDSHAKE) => Sniffed {
            tls: client_hello(head),
            http: None,
        },
        Some(_) => Sniffed {
            tls: None,
            http: http_head(head),
        },
    }
}

/// Whether `head` looks like the start of a ClientHello or of an HTTP/1 request head whose
/// routing information may still be on its way: a hello not whole yet (one larger than a TCP
/// segment, as browsers' hellos with post-quantum key shares are), a request line not ended,
/// or a header block without a Host header and not ended. The listener then peeks again,
/// within its `peek` size and `peek_timeout`. False for anything else: other protocols are
/// routed with what came first, as without sniffing.
pub fn incomplete(head: &[u8]) -> bool {
    match head.first() {
        None => false,
        Some(&HANDSHAKE) => hello_incomplete(head),
        Some(_) => match http_head(head) {
            Some(found) => found.host.is_none() && !headers_ended(head),
            None => !head.contains(&b'\n') && request_line_start(head),
        },
    }
}

/// A ClientHello, or the start of one, that the bytes at hand do not hold whole.
fn hello_incomplete(buf: &[u8]) -> bool {
    let Some(mut r) = Records::new(buf) else {
        // A record header cut short: the start of one (TLS 3.x) wants the rest.
        return buf.len() < 5 && matches!(buf.get(1), None | Some(3));
    };
    match r.u8() {
        None => true,
        Some(CLIENT_HELLO) => match r.u24() {
            None => true,
            Some(len) => !r.has(len),
        },
        Some(_) => false,
    }
}

/// The blank line that ends a header block is in `buf`.
fn headers_ended(buf: &[u8]) -> bool {
    buf.windows(2).any(|w| w == b"\n\n") || buf.windows(3).any(|w| w == b"\n\r\n")
}

/// `buf` (no line end in it) may be the start of a request line: a method, then a space and
/// what follows, or the method cut short.
fn request_line_start(buf: &[u8]) -> bool {
    match buf.iter().take(MAX_METHOD + 1).position(|&b| !tchar(b)) {
        None => buf.len() <= MAX_METHOD,
        Some(sp) => sp > 0 && buf[sp] == b' ',
    }
}

/// The line at the start of `buf` without its CRLF (or LF), and what follows it; `None` when
/// no line end is in `buf`.
fn split_line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let lf = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, &buf[lf + 1..]))
}

/// An RFC 9110 token character (methods are tokens).
fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A character of `uri-host [":" port]`: printable, no delimiters of other URI parts.
fn host_char(b: u8) -> bool {
    b.is_ascii_graphic() && !b"/\\@?#,\"<>{}|^`".contains(&b)
}

/// Bytes already checked to be ASCII, as a String (one copy; nothing is replaced).
fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
