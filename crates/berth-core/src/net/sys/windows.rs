//! Windows: Winsock handles, and the same calls through socket2 (which wraps Winsock). Every
//! socket the engine calls these on is non-blocking (it creates them so, and tokio's reactor
//! keeps them so): Winsock has no per-call MSG_DONTWAIT, so the mode is what keeps a peek
//! from waiting.

use socket2::SockRef;
use std::io;
use std::mem::MaybeUninit;
pub use std::os::windows::io::{
    AsRawSocket as AsRawSock, AsSocket as AsSock, BorrowedSocket as BorrowedSock,
    OwnedSocket as OwnedSock, RawSocket as RawSock,
};
use std::os::windows::io::{FromRawSocket, IntoRawSocket};

/// No socket (`INVALID_SOCKET`): what a connection holds before (or without) a handle of its
/// own. Winsock fails every call on it with WSAENOTSOCK.
pub const NO_SOCK: RawSock = !0;

/// The bare handle of `sock`.
pub fn raw(sock: &impl AsRawSock) -> RawSock {
    sock.as_raw_socket()
}

/// Gives up ownership: the caller closes the handle from now on.
pub fn into_raw(sock: OwnedSock) -> RawSock {
    sock.into_raw_socket()
}

/// Takes ownership of `raw`.
///
/// # Safety
/// `raw` must be an open socket handle that nothing else owns (or closes) from now on.
pub unsafe fn from_raw(raw: RawSock) -> OwnedSock {
    // SAFETY: the caller's promise above.
    unsafe { OwnedSock::from_raw_socket(raw) }
}

/// Runs `op` on a socket2 view of `raw`, or fails as Winsock does on a handle that is none.
fn with_ref<T>(raw: RawSock, op: impl FnOnce(SockRef<'_>) -> io::Result<T>) -> io::Result<T> {
    if raw == NO_SOCK {
        return Err(io::Error::from_raw_os_error(WSAENOTSOCK));
    }
    // SAFETY: the callers pass a handle that is open for the length of the call (a socket
    // they hold); the borrow does not outlive `op`.
    let borrowed = unsafe { BorrowedSock::borrow_raw(raw) };
    op(SockRef::from(&borrowed))
}

/// `&mut [u8]` as socket2's receive buffer; socket2 only writes into it.
fn uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and every byte of `buf` is already
    // initialised, so no uninitialised byte can be read back through `buf`.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// Reads into `buf` (0 at end of stream); WouldBlock when nothing is there.
pub fn recv(raw: RawSock, buf: &mut [u8]) -> io::Result<usize> {
    with_ref(raw, |s| s.recv(uninit(buf)))
}

/// Copies into `buf` without consuming; WouldBlock when nothing is there.
pub fn peek(raw: RawSock, buf: &mut [u8]) -> io::Result<usize> {
    with_ref(raw, |s| s.peek(uninit(buf)))
}

/// As `peek`: the socket is non-blocking (see the module's note).
pub fn peek_now(raw: RawSock, buf: &mut [u8]) -> io::Result<usize> {
    peek(raw, buf)
}

/// Writes what the socket takes of `buf`; WouldBlock when it takes nothing now.
pub fn send(raw: RawSock, buf: &[u8]) -> io::Result<usize> {
    with_ref(raw, |s| s.send(buf))
}

/// Sends FIN. A failure (the peer already gone) changes nothing the callers rely on.
pub fn shutdown_write(raw: RawSock) {
    let _ = with_ref(raw, |s| s.shutdown(std::net::Shutdown::Write));
}

pub fn set_nonblocking(raw: RawSock) -> io::Result<()> {
    with_ref(raw, |s| s.set_nonblocking(true))
}

/// Duplicating a handle another runtime (Node's libuv) owns is not something berth does on
/// Windows: Node cannot hand its sockets over there (see docs/platforms.md).
pub fn duplicate(_raw: RawSock) -> io::Result<OwnedSock> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "taking over a Node socket by descriptor is not supported on Windows",
    ))
}

/// A non-blocking connect that has not finished yet (WSAEWOULDBLOCK, or WSAEINPROGRESS).
pub fn connect_in_progress(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock || err.raw_os_error() == Some(WSAEINPROGRESS)
}

/// Would-block or interrupted: "nothing now", as opposed to a failure.
pub fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

const WSAEINPROGRESS: i32 = 10036;
const WSAENOTSOCK: i32 = 10038;

/// Node cannot wrap a Winsock handle (`net.Socket({ fd })` takes libuv's descriptors only), so
/// a handle handed over for JS is closed here and JS is told there is none (-1). On Windows
/// JS dials its connections itself (the node-dial path): only a caller that did not reaches
/// this.
pub fn to_js_fd(sock: RawSock) -> i32 {
    if sock != NO_SOCK {
        // SAFETY: the caller hands over a handle it owns (`Pool::adopt`'s result), and
        // nothing else closes it: it is closed exactly once, here.
        drop(unsafe { from_raw(sock) });
    }
    -1
}

/// A descriptor number from JS names no Winsock handle: `NO_SOCK`, on which every call
/// fails (and `duplicate` says why).
pub fn from_js_fd(_fd: i32) -> RawSock {
    NO_SOCK
}
