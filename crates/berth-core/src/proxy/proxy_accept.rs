//! Reading the PROXY protocol header a load balancer sends first on an accepted connection:
//! exactly the header's bytes are consumed, so what follows (the client's own bytes, which the
//! route may peek at) stays in the socket.
//!
//! The bytes are peeked; while they are only part of a header (`Parsed::Incomplete`: every one
//! of them belongs to the header) they are consumed, so that the next peek waits for new bytes
//! instead of seeing the same ones again; once the header is whole, only its remaining bytes
//! are consumed.

use crate::net::socket::Socket;
use crate::proxy::proxy_protocol::{parse, Accept, Parsed, MAX_HEADER};
use std::net::SocketAddr;

/// What a valid header said: the original client's address and the one it connected to, or
/// `None` (a v2 LOCAL, a v1 UNKNOWN, a non-IP family) when the direct peer's stand.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub source: Option<SocketAddr>,
    pub destination: Option<SocketAddr>,
}

/// Why there is no header.
#[derive(Debug)]
pub enum Missing {
    /// The bytes are not a header this listener accepts.
    Invalid,
    /// The connection ended (or failed) before a whole header arrived.
    Closed,
}

/// Reads and consumes one header from `socket`. Unbounded in time: the caller races it
/// against its deadline.
pub async fn read_header(socket: &Socket, accept: Accept) -> Result<Received, Missing> {
    // Bytes already consumed (only when a header came in pieces: usually it is one peek).
    let mut seen: Vec<u8> = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let room = (MAX_HEADER - seen.len()).min(buf.len());
        let n = match socket.peek(&mut buf[..room]).await {
            Ok(0) | Err(_) => return Err(Missing::Closed),
            Ok(n) => n,
        };
        let parsed = if seen.is_empty() {
            parse(&buf[..n], accept)
        } else {
            let mut all = seen.clone();
            all.extend_from_slice(&buf[..n]);
            parse(&all, accept)
        };
        match parsed {
            Parsed::Invalid(_) => return Err(Missing::Invalid),
            Parsed::Incomplete => {
                consume(socket, &mut buf[..n]).await?;
                seen.extend_from_slice(&buf[..n]);
                if seen.len() >= MAX_HEADER {
                    // Cannot happen (parse caps headers below it), but never loop on it.
                    return Err(Missing::Invalid);
                }
            }
            Parsed::Header {
                len,
                source,
                destination,
            } => {
                // The header's rest is among the peeked bytes: `len - seen.len() <= n`.
                let rest = len.saturating_sub(seen.len()).min(n);
                consume(socket, &mut buf[..rest]).await?;
                return Ok(Received {
                    source,
                    destination,
                });
            }
        }
    }
}

/// Reads exactly `buf.len()` bytes, which were peeked and so are in the socket already.
async fn consume(socket: &Socket, buf: &mut [u8]) -> Result<(), Missing> {
    let mut done = 0;
    while done < buf.len() {
        match socket.read(&mut buf[done..]).await {
            Ok(0) | Err(_) => return Err(Missing::Closed),
            Ok(n) => done += n,
        }
    }
    Ok(())
}
