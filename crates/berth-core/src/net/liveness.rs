//! The check a reused connection passes before it is handed out: a non-blocking peek that
//! consumes nothing.

use crate::contract::EvictReason;
use crate::net::sys::RawSock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Nothing to read and no error: the connection looks usable.
    Alive,
    /// End of stream or an error (reset): the peer is gone.
    Closed,
    /// Bytes the client never asked for are waiting: the stream's framing is unknown.
    Dirty,
}

impl Liveness {
    /// Why a connection in this state must not be handed out, if it must not.
    pub fn eviction(self) -> Option<EvictReason> {
        match self {
            Liveness::Alive => None,
            Liveness::Closed => Some(EvictReason::PeerClosed),
            Liveness::Dirty => Some(EvictReason::Unhealthy),
        }
    }
}

/// Peeks one byte without blocking and without consuming it.
#[cfg(unix)]
pub fn check(fd: RawSock) -> Liveness {
    let mut byte = 0u8;
    // SAFETY: `byte` is a valid one-byte buffer; MSG_PEEK|MSG_DONTWAIT neither consumes data nor
    // blocks. `fd` is a socket the caller knows to be open (an idle connection whose owner has
    // not closed it); on a bad fd recv fails with EBADF, which reads as Closed.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        1.. => Liveness::Dirty,
        0 => Liveness::Closed,
        _ => match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Liveness::Alive,
            _ => Liveness::Closed,
        },
    }
}

/// Peeks one byte without consuming it: the socket is non-blocking (every socket the engine
/// checks on Windows is one it made), so the peek never waits. `NO_SOCK` (a connection Node
/// owns) fails with WSAENOTSOCK: Closed, as a bad descriptor is on Unix.
#[cfg(windows)]
pub fn check(sock: RawSock) -> Liveness {
    let mut byte = [0u8; 1];
    match crate::net::sys::peek_now(sock, &mut byte) {
        Ok(1..) => Liveness::Dirty,
        Ok(0) => Liveness::Closed,
        Err(e) if crate::net::sys::is_transient(&e) => Liveness::Alive,
        Err(_) => Liveness::Closed,
    }
}

/// The check for a connection whose bytes belong to a layer the engine cannot read (TLS, or
/// whatever a JS handshake set up): waiting bytes prove nothing there (a TLS 1.3 server sends
/// session tickets after the handshake, unasked), so only the peer's close counts: its FIN
/// (seen even behind unread bytes, which a peek cannot), a reset or an error. A TLS peer's
/// `close_notify` travels with its FIN in practice; alone, it is the next reader's to see.
pub fn check_opaque(fd: RawSock) -> Liveness {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd and the count says one; a zero timeout never
        // blocks. A bad `fd` is reported in `revents` (POLLNVAL), which reads as Closed.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        if n < 0 {
            return Liveness::Alive;
        }
        if pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            Liveness::Closed
        } else {
            Liveness::Alive
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // Without POLLRDHUP a FIN behind unread bytes cannot be seen without reading; a peek
        // still sees a FIN or a reset on an otherwise quiet socket.
        match check(fd) {
            Liveness::Dirty => Liveness::Alive,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::sys::raw;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    /// A client socket in the mode the engine's own are: non-blocking (on Windows the peek
    /// relies on it; on Unix MSG_DONTWAIT makes it irrelevant).
    fn connect(listener: &TcpListener) -> TcpStream {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_nonblocking(true).unwrap();
        client
    }

    #[test]
    fn tells_alive_dirty_and_closed_apart() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = connect(&listener);
        let (mut server, _) = listener.accept().unwrap();
        assert_eq!(check(raw(&client)), Liveness::Alive);
        server.write_all(b"x").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(check(raw(&client)), Liveness::Dirty);
        // Peeking consumed nothing.
        assert_eq!(check(raw(&client)), Liveness::Dirty);
        drop(server);
        let (mut server2, client2) = {
            let c = connect(&listener);
            (listener.accept().unwrap().0, c)
        };
        server2.flush().unwrap();
        drop(server2);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(check(raw(&client2)), Liveness::Closed);
    }

    #[test]
    fn opaque_check_ignores_bytes_but_sees_the_close_behind_them() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = connect(&listener);
        let (mut server, _) = listener.accept().unwrap();
        assert_eq!(check_opaque(raw(&client)), Liveness::Alive);
        server.write_all(b"ticket").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(check(raw(&client)), Liveness::Dirty);
        assert_eq!(check_opaque(raw(&client)), Liveness::Alive);
        drop(server);
        std::thread::sleep(std::time::Duration::from_millis(50));
        // Bytes still unread, and the FIN behind them: a peek sees the bytes only.
        assert_eq!(check(raw(&client)), Liveness::Dirty);
        // POLLRDHUP sees it (Linux); elsewhere it stays unseen until the bytes are read.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert_eq!(check_opaque(raw(&client)), Liveness::Closed);
    }
}
