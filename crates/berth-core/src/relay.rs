//! Moving bytes both ways between an inbound client and an upstream, in the engine: each
//! direction reads only when its previous chunk is fully written (backpressure), and passes
//! end of stream on as a half-close (FIN), so protocols that half-close work through it.

use crate::liveness::{self, Liveness};
use crate::socket::Socket;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// A direction's first buffer; it grows when reads fill it (a bulk transfer).
const SMALL_BUFFER: usize = 16 * 1024;
const LARGE_BUFFER: usize = 256 * 1024;

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The client closed (FIN) first; the rest ended cleanly.
    ClientClosed,
    /// The upstream closed first; the rest ended cleanly.
    UpstreamClosed,
    /// Reading from or writing to the client failed (reset, broken pipe).
    ClientError,
    /// Reading from or writing to the upstream failed.
    UpstreamError,
    /// Stopped from outside: an abort, the listener or the pool closing.
    Aborted,
}

impl End {
    pub fn as_str(self) -> &'static str {
        match self {
            End::ClientClosed => "client-closed",
            End::UpstreamClosed => "upstream-closed",
            End::ClientError => "client-error",
            End::UpstreamError => "upstream-error",
            End::Aborted => "aborted",
        }
    }
}

#[derive(Debug)]
pub struct RelayOutcome {
    pub end: End,
    /// The OS error that ended it, if one did.
    pub error: Option<io::Error>,
    /// The upstream can serve another session: asked for, the client closed first, nothing
    /// was in flight either way, and the upstream has nothing unread.
    pub upstream_reusable: bool,
}

/// Byte counts of a running session, readable while it runs.
#[derive(Default, Debug)]
pub struct Counts {
    /// Client to upstream (the head included).
    pub bytes_in: AtomicU64,
    /// Upstream to client (the reply included).
    pub bytes_out: AtomicU64,
}

/// How one direction stopped.
enum DirEnd {
    /// Its source sent end of stream; everything before it was written.
    Eof,
    /// Asked to stop while waiting to read: nothing of it was in flight.
    Stopped,
    ReadError(io::Error),
    WriteError(io::Error),
}

/// Copies `src` to `dst` after writing `first`, until end of stream, an error, or `stop`
/// (honoured only between chunks, never with a chunk half written).
async fn direction(
    src: &Socket,
    dst: &Socket,
    first: &[u8],
    count: &AtomicU64,
    stop: Option<&Notify>,
) -> DirEnd {
    if !first.is_empty() {
        if let Err(e) = dst.write_all(first).await {
            return DirEnd::WriteError(e);
        }
        count.fetch_add(first.len() as u64, Ordering::Relaxed);
    }
    let mut buf = vec![0u8; SMALL_BUFFER];
    loop {
        let read = match stop {
            Some(stop) => tokio::select! {
                biased;
                _ = stop.notified() => return DirEnd::Stopped,
                read = src.read(&mut buf) => read,
            },
            None => src.read(&mut buf).await,
        };
        let n = match read {
            Ok(0) => return DirEnd::Eof,
            Ok(n) => n,
            Err(e) => return DirEnd::ReadError(e),
        };
        if let Err(e) = dst.write_all(&buf[..n]).await {
            return DirEnd::WriteError(e);
        }
        count.fetch_add(n as u64, Ordering::Relaxed);
        if n == buf.len() {
            if buf.len() < LARGE_BUFFER {
                buf.resize(LARGE_BUFFER, 0);
            } else if let Some(end) = bulk(src, dst, count, stop).await {
                return end;
            }
        }
    }
}

/// A bulk transfer: on Linux, the rest of the direction goes through `splice(2)`. `None`
/// when no pipe can be had (out of descriptors): the copy loop goes on.
#[cfg(target_os = "linux")]
async fn bulk(
    src: &Socket,
    dst: &Socket,
    count: &AtomicU64,
    stop: Option<&Notify>,
) -> Option<DirEnd> {
    use crate::splice::{self, Spliced};
    let pipe = splice::Pipe::new().ok()?;
    Some(match splice::relay(src, dst, &pipe, count, stop).await {
        Spliced::Eof => DirEnd::Eof,
        Spliced::Stopped => DirEnd::Stopped,
        Spliced::ReadError(e) => DirEnd::ReadError(e),
        Spliced::WriteError(e) => DirEnd::WriteError(e),
    })
}

#[cfg(not(target_os = "linux"))]
async fn bulk(_: &Socket, _: &Socket, _: &AtomicU64, _: Option<&Notify>) -> Option<DirEnd> {
    None
}

/// Relays between `client` and `upstream` until both directions end, one fails, or `abort`
/// completes. `head` goes upstream first, `reply` to the client first.
///
/// With `reuse`, the client's end of stream is not passed upstream: when the client closes
/// first and the upstream has nothing in flight, the session ends there and the upstream is
/// reported reusable. Otherwise the session goes on as without `reuse` (FIN upstream).
pub async fn relay(
    client: &Socket,
    upstream: &Socket,
    head: &[u8],
    reply: &[u8],
    reuse: bool,
    counts: &Counts,
    abort: impl Future<Output = ()>,
) -> RelayOutcome {
    let stop_out = Notify::new();
    let inbound = direction(client, upstream, head, &counts.bytes_in, None);
    let outbound = direction(
        upstream,
        client,
        reply,
        &counts.bytes_out,
        reuse.then_some(&stop_out),
    );
    tokio::pin!(inbound, outbound, abort);
    let mut in_done = false;
    let mut out_done = false;
    let mut first = None;
    let mut reusable = false;
    let failed = |end: End, error: io::Error| RelayOutcome {
        end,
        error: Some(error),
        upstream_reusable: false,
    };
    while !(in_done && out_done) {
        tokio::select! {
            end = &mut inbound, if !in_done => {
                in_done = true;
                match end {
                    DirEnd::Eof => {
                        first.get_or_insert(End::ClientClosed);
                        if reuse && !out_done {
                            stop_out.notify_one();
                        } else if !out_done {
                            // Half-close: the other direction goes on. (When it is done
                            // already, the close that follows sends the FIN.)
                            upstream.shutdown_write();
                        }
                    }
                    DirEnd::Stopped => {}
                    DirEnd::ReadError(e) => return failed(End::ClientError, e),
                    DirEnd::WriteError(e) => return failed(End::UpstreamError, e),
                }
            }
            end = &mut outbound, if !out_done => {
                out_done = true;
                match end {
                    DirEnd::Eof => {
                        first.get_or_insert(End::UpstreamClosed);
                        // Half-close unless the client's side is done already: then the
                        // close that follows sends the FINs (both sides were read to their
                        // end, so the close cannot turn into a reset).
                        if !in_done {
                            client.shutdown_write();
                        }
                    }
                    DirEnd::Stopped => {
                        reusable = liveness::check(upstream.raw()) == Liveness::Alive;
                        if !reusable {
                            // Bytes arrived after all, or it closed: finish as without
                            // reuse, passing the client's FIN on and the rest of the reply back.
                            upstream.shutdown_write();
                            out_done = false;
                            outbound.set(direction(upstream, client, &[], &counts.bytes_out, None));
                        }
                    }
                    DirEnd::ReadError(e) => return failed(End::UpstreamError, e),
                    DirEnd::WriteError(e) => return failed(End::ClientError, e),
                }
            }
            _ = &mut abort => {
                return RelayOutcome { end: End::Aborted, error: None, upstream_reusable: false };
            }
        }
    }
    RelayOutcome {
        end: first.unwrap_or(End::ClientClosed),
        error: None,
        upstream_reusable: reusable,
    }
}
