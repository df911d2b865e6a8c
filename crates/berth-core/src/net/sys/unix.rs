//! Unix: descriptors, and the libc calls the engine has always made on them.

use std::io;
pub use std::os::fd::{
    AsFd as AsSock, AsRawFd as AsRawSock, BorrowedFd as BorrowedSock, OwnedFd as OwnedSock,
    RawFd as RawSock,
};
use std::os::fd::{FromRawFd, IntoRawFd};

/// No socket: what a connection holds before (or without) a descriptor of its own.
pub const NO_SOCK: RawSock = -1;

/// The bare handle of `sock`.
#[inline]
pub fn raw(sock: &impl AsRawSock) -> RawSock {
    sock.as_raw_fd()
}

/// Gives up ownership: the caller closes the handle from now on.
#[inline]
pub fn into_raw(sock: OwnedSock) -> RawSock {
    sock.into_raw_fd()
}

/// Takes ownership of `raw`.
///
/// # Safety
/// `raw` must be an open descriptor that nothing else owns (or closes) from now on.
#[inline]
pub unsafe fn from_raw(raw: RawSock) -> OwnedSock {
    // SAFETY: the caller's promise above.
    unsafe { OwnedSock::from_raw_fd(raw) }
}

/// `-1` from a syscall is the OS error; anything else a count.
#[inline]
pub fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Reads into `buf` (0 at end of stream); EAGAIN when nothing is there.
#[inline]
pub fn recv(fd: RawSock, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length; a bad `fd` fails with EBADF.
    cvt(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) })
}

/// Copies into `buf` without consuming; EAGAIN when nothing is there (on a non-blocking
/// socket; on a blocking one it waits).
#[inline]
pub fn peek(fd: RawSock, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: as in `recv`; MSG_PEEK leaves the bytes in the socket.
    cvt(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) })
}

/// As `peek`, never waiting, whatever the socket's mode (MSG_DONTWAIT).
#[inline]
pub fn peek_now(fd: RawSock, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: as in `peek`; MSG_DONTWAIT makes this one call non-blocking.
    cvt(unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    })
}

/// Writes what the socket takes of `buf`; EAGAIN when it takes nothing now.
#[inline]
pub fn send(fd: RawSock, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length. MSG_NOSIGNAL: a peer that went away is
    // an EPIPE error here, never a SIGPIPE for the process.
    cvt(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) })
}

/// Sends FIN. A failure (the peer already gone) changes nothing the callers rely on.
#[inline]
pub fn shutdown_write(fd: RawSock) {
    // SAFETY: plain syscall on a descriptor; no memory is passed.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}

/// Makes `fd` non-blocking (one fcntl when it is already).
#[inline]
pub fn set_nonblocking(fd: RawSock) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A duplicate of `fd` (close-on-exec) that the caller owns.
#[inline]
pub fn duplicate(fd: RawSock) -> io::Result<OwnedSock> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor or fails; nothing else is touched.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` was just created by fcntl and is owned by nobody else.
    Ok(unsafe { OwnedSock::from_raw_fd(dup) })
}

/// A non-blocking connect that has not finished yet (EINPROGRESS).
#[inline]
pub fn connect_in_progress(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::EINPROGRESS)
}

/// The index of the network interface called `name`, 0 when there is none.
#[inline]
pub fn if_nametoindex(name: &std::ffi::CStr) -> u32 {
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call, which only
    // reads it.
    unsafe { libc::if_nametoindex(name.as_ptr()) }
}

/// Would-block or interrupted: "nothing now", as opposed to a failure.
#[inline]
pub fn is_transient(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR))
        || err.kind() == io::ErrorKind::WouldBlock
}

/// The number JS's `net.Socket({ fd })` takes for a descriptor the engine hands over.
#[inline]
pub fn to_js_fd(fd: RawSock) -> i32 {
    fd
}

/// A descriptor number from JS.
#[inline]
pub fn from_js_fd(fd: i32) -> RawSock {
    fd
}
