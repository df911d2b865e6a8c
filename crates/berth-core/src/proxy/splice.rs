//! Zero-copy relaying on Linux: `splice(2)` moves a bulk transfer's bytes from one socket to
//! the other through a pipe, in the kernel, without copying them through user space.
//! A direction switches to it only once a read fills the large buffer (a bulk transfer):
//! short request/response sessions stay on the copy loop and never pay for the pipe's two
//! descriptors.

use crate::net::socket::Socket;
use crate::proxy::progress::Progress;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use tokio::sync::Notify;

/// Bytes moved per splice call, and the pipe's capacity.
const PIPE_SIZE: usize = 1024 * 1024;

/// A pipe used as the kernel-side buffer of one direction.
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    pub fn new() -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created by pipe2 and are owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // A larger pipe moves more per call; the default (64 KiB) still works if refused.
        // SAFETY: fcntl on a descriptor we own; no memory is passed.
        unsafe {
            libc::fcntl(
                write.as_raw_fd(),
                libc::F_SETPIPE_SZ,
                PIPE_SIZE as libc::c_int,
            )
        };
        Ok(Pipe { read, write })
    }
}

/// What a spliced direction ended with, as the copy loop reports it.
pub enum Spliced {
    Eof,
    Stopped,
    ReadError(io::Error),
    WriteError(io::Error),
}

fn splice(from: i32, to: i32, len: usize) -> io::Result<usize> {
    // SAFETY: plain syscall on open descriptors with null offsets (sockets and pipes have none).
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Moves `src` to `dst` through `pipe` until end of stream, an error, or `stop` (honoured
/// only while waiting for the source, with the pipe empty).
pub async fn relay(
    src: &Socket,
    dst: &Socket,
    pipe: &Pipe,
    progress: &Progress<'_>,
    stop: Option<&Notify>,
) -> Spliced {
    loop {
        let filled = match stop {
            Some(stop) => tokio::select! {
                biased;
                _ = stop.notified() => return Spliced::Stopped,
                filled = src.with_readable(|fd| splice(fd, pipe.write.as_raw_fd(), PIPE_SIZE)) => filled,
            },
            None => {
                src.with_readable(|fd| splice(fd, pipe.write.as_raw_fd(), PIPE_SIZE))
                    .await
            }
        };
        let mut pending = match filled {
            Ok(0) => return Spliced::Eof,
            Ok(n) => n,
            Err(e) => return Spliced::ReadError(e),
        };
        progress.read();
        while pending > 0 {
            match dst
                .with_writable(|fd| splice(pipe.read.as_raw_fd(), fd, pending))
                .await
            {
                Ok(n) => {
                    pending -= n;
                    progress.wrote(n);
                }
                Err(e) => return Spliced::WriteError(e),
            }
        }
    }
}
