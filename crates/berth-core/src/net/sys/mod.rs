//! The platform layer: the names the engine uses for a socket handle, and the few socket calls
//! it makes on a bare handle. Unix (descriptors, libc: the syscalls the engine always made) and
//! Windows (Winsock handles, through socket2) each implement the same names; the rest of the
//! engine uses only these.
//!
//! `RawSock` is a bare handle (`RawFd` / `RawSocket`), `OwnedSock` an owned one (closed on
//! drop), `BorrowedSock` a borrowed one, and `NO_SOCK` a value no open socket has.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
