//! Network pieces every product uses: destinations and their parsing, DNS, dialing with
//! socket options (Happy Eyeballs and rotation over a name's addresses), the address policy
//! checked before every connect, non-blocking sockets, and the liveness peek.

pub mod destination;
pub(crate) mod dial;
pub use dial::DialOrder;
pub(crate) mod dns;
pub(crate) mod happy_eyeballs;
pub mod liveness;
pub mod policy;
pub mod socket;
pub mod sys;
// Linux only: they use 127.0.0.2 (not configured on macOS's lo0), /proc/net/tcp, and
// Linux's accept-queue behaviour (a full queue drops SYNs) for an address that never answers.
#[cfg(all(test, target_os = "linux"))]
mod spread_tests;
