//! Answers on failure: when a session gets no upstream, the client is told so before it is
//! closed (a CONNECT proxy's `502`, a SOCKS5 refusal code). The engine writes the answer
//! itself, on the client socket it owns: the bytes come with the session (`fail_reply`), or
//! are asked for once the error is known (`Ask`, JS's function form: JS computes bytes from
//! the error and hands them back; the socket never leaves the engine).
//!
//! The answer must reach the client whole: after writing it the engine half-closes (FIN) and
//! reads what the client still sends until its end of stream (bounded), because closing a
//! socket with unread input sends a reset, which may discard the answer at the client.

use crate::net::socket::Socket;
use crate::proxy::progress::Progress;
use crate::proxy::relay::Counts;
use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;

/// Fail replies are copied per session: a few KiB covers a status line or a SOCKS reply.
pub const MAX_FAIL_REPLY: usize = 64 * 1024;
/// How long, at most, the client's remaining input is read (and discarded) after the answer,
/// waiting for its end of stream.
const LINGER: Duration = Duration::from_secs(2);
/// How many bytes of the client's remaining input are read at most before closing anyway.
const LINGER_BYTES: usize = 256 * 1024;

/// The function form: told the error (its code and message), it starts computing the answer
/// and returns where the bytes will come (empty, or the sender dropped: no answer).
pub type Ask = Box<dyn FnOnce(&'static str, &str) -> oneshot::Receiver<Vec<u8>> + Send>;

/// Answers `client` for the error `code`/`message`: `bytes`, or what `ask` returns, written
/// whole, then the client's end of stream awaited (bounded). Gives up at `deadline` (the
/// session's idle timeout from now; `None`: none) or when `stop` completes. Returns the bytes
/// written.
pub async fn answer(
    client: &Socket,
    bytes: Vec<u8>,
    ask: Option<Ask>,
    (code, message): (&'static str, &str),
    deadline: Option<Duration>,
    counts: &Counts,
    stop: impl Future<Output = ()>,
) -> u64 {
    if bytes.is_empty() && ask.is_none() {
        return 0;
    }
    let progress = Progress {
        bytes: &counts.bytes_out,
        active: &counts.active_ms,
    };
    let mut written = 0u64;
    let work = async {
        let bytes = match ask {
            Some(ask) => ask(code, message).await.unwrap_or_default(),
            None => bytes,
        };
        let bytes = &bytes[..bytes.len().min(MAX_FAIL_REPLY)];
        if bytes.is_empty() {
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            match client.write(rest).await {
                Ok(n) => {
                    progress.wrote(n);
                    written += n as u64;
                    rest = &rest[n..];
                }
                Err(_) => return,
            }
        }
        // FIN after the answer, then wait for the client's: closing with its input unread
        // would reset the connection and could discard the answer on the client's side.
        client.shutdown_write();
        let mut sink = vec![0u8; 16 * 1024];
        let mut drained = 0;
        let linger = async {
            while drained < LINGER_BYTES {
                match client.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => drained += n,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER.min(deadline.unwrap_or(LINGER)), linger).await;
    };
    let limit = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = work => {}
        _ = limit => {}
        _ = stop => {}
    }
    written
}
