//! Moving bytes both ways between an inbound client and an upstream, in the engine: each
//! direction reads only when its previous chunk is fully written (backpressure), and passes
//! end of stream on as a half-close (FIN), so protocols that half-close work through it.
//! An optional idle timeout ends a session through which no byte moved, either way, for that
//! long (a silent or trickling client must not hold its upstream forever).

use crate::clock::now_ms;
use crate::net::liveness::{self, Liveness};
use crate::net::socket::Socket;
use crate::proxy::progress::Progress;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// A direction's first buffer, enough for a request or a reply: zeroing the 16 KiB it used to
/// start with, twice per session, was 1.7% of a short session's proxy CPU (perf). It grows when
/// reads fill it: to `MEDIUM_BUFFER`, then to `LARGE_BUFFER`, then the direction splices.
const SMALL_BUFFER: usize = 2 * 1024;
const MEDIUM_BUFFER: usize = 16 * 1024;
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
    /// No byte moved either way for the idle timeout (or the session was not relaying by
    /// then): both sides closed.
    IdleTimeout,
}

impl End {
    pub fn as_str(self) -> &'static str {
        match self {
            End::ClientClosed => "client-closed",
            End::UpstreamClosed => "upstream-closed",
            End::ClientError => "client-error",
            End::UpstreamError => "upstream-error",
            End::Aborted => "aborted",
            End::IdleTimeout => "idle-timeout",
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

/// How a relay may end, besides both sides closing.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Stop at the client's end of stream when the upstream can serve again (see `relay`).
    pub reuse: bool,
    /// End once no byte moved either way for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
}

/// Byte counts of a running session, readable while it runs.
#[derive(Default, Debug)]
pub struct Counts {
    /// Client to upstream (the head included).
    pub bytes_in: AtomicU64,
    /// Upstream to client (the reply included).
    pub bytes_out: AtomicU64,
    /// `clock::now_ms()` when a byte was last read or written, either way: the idle
    /// timeout's reference. Set when the relay starts.
    pub active_ms: AtomicU64,
}

/// Writes all of `buf`, each partial write counted as it happens: a slow reader that takes a
/// large chunk bit by bit is making progress, not idle.
async fn write_counted(dst: &Socket, mut buf: &[u8], progress: &Progress<'_>) -> io::Result<()> {
    while !buf.is_empty() {
        let n = dst.write(buf).await?;
        progress.wrote(n);
        buf = &buf[n..];
    }
    Ok(())
}

/// Completes once nothing was read or written, either way, for `limit`; never with `None`.
async fn idle(counts: &Counts, limit: Option<Duration>) {
    let Some(limit) = limit else {
        return std::future::pending().await;
    };
    let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    loop {
        let quiet = now_ms().saturating_sub(counts.active_ms.load(Ordering::Relaxed));
        if quiet >= limit_ms {
            return;
        }
        // One timer per session, re-armed only when it fires: bytes moving cost no timer work.
        tokio::time::sleep(Duration::from_millis(limit_ms - quiet)).await;
    }
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
    progress: Progress<'_>,
    stop: Option<&Notify>,
) -> DirEnd {
    if let Err(e) = write_counted(dst, first, &progress).await {
        return DirEnd::WriteError(e);
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
        progress.read();
        if let Err(e) = write_counted(dst, &buf[..n], &progress).await {
            return DirEnd::WriteError(e);
        }
        if n == buf.len() {
            if buf.len() < MEDIUM_BUFFER {
                buf.resize(MEDIUM_BUFFER, 0);
            } else if buf.len() < LARGE_BUFFER {
                buf.resize(LARGE_BUFFER, 0);
            } else if let Some(end) = bulk(src, dst, &progress, stop).await {
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
    progress: &Progress<'_>,
    stop: Option<&Notify>,
) -> Option<DirEnd> {
    use crate::proxy::splice::{self, Spliced};
    let pipe = splice::Pipe::new().ok()?;
    Some(match splice::relay(src, dst, &pipe, progress, stop).await {
        Spliced::Eof => DirEnd::Eof,
        Spliced::Stopped => DirEnd::Stopped,
        Spliced::ReadError(e) => DirEnd::ReadError(e),
        Spliced::WriteError(e) => DirEnd::WriteError(e),
    })
}

#[cfg(not(target_os = "linux"))]
async fn bulk(_: &Socket, _: &Socket, _: &Progress<'_>, _: Option<&Notify>) -> Option<DirEnd> {
    None
}

/// Relays between `client` and `upstream` until both directions end, one fails, `abort`
/// completes, or nothing moves either way for `idle_timeout`. `head` goes upstream first,
/// `reply` to the client first.
///
/// With `reuse`, the client's end of stream is not passed upstream: when the client closes
/// first and the upstream has nothing in flight, the session ends there and the upstream is
/// reported reusable. Otherwise the session goes on as without `reuse` (FIN upstream).
pub async fn relay(
    client: &Socket,
    upstream: &Socket,
    head: &[u8],
    reply: &[u8],
    rules: Rules,
    counts: &Counts,
    abort: impl Future<Output = ()>,
) -> RelayOutcome {
    let Rules {
        reuse,
        idle_timeout,
    } = rules;
    counts.active_ms.store(now_ms(), Ordering::Relaxed);
    let progress_in = || Progress {
        bytes: &counts.bytes_in,
        active: &counts.active_ms,
    };
    let progress_out = || Progress {
        bytes: &counts.bytes_out,
        active: &counts.active_ms,
    };
    let stop_out = Notify::new();
    let inbound = direction(client, upstream, head, progress_in(), None);
    let outbound = direction(
        upstream,
        client,
        reply,
        progress_out(),
        reuse.then_some(&stop_out),
    );
    let idle = idle(counts, idle_timeout);
    tokio::pin!(inbound, outbound, abort, idle);
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
                            outbound.set(direction(upstream, client, &[], progress_out(), None));
                        }
                    }
                    DirEnd::ReadError(e) => return failed(End::UpstreamError, e),
                    DirEnd::WriteError(e) => return failed(End::ClientError, e),
                }
            }
            _ = &mut abort => {
                return RelayOutcome { end: End::Aborted, error: None, upstream_reusable: false };
            }
            _ = &mut idle => {
                // Whatever is in flight is abandoned: the upstream is not reusable.
                return RelayOutcome { end: End::IdleTimeout, error: None, upstream_reusable: false };
            }
        }
    }
    RelayOutcome {
        end: first.unwrap_or(End::ClientClosed),
        error: None,
        upstream_reusable: reusable,
    }
}
