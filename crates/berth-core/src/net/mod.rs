//! Network pieces every product uses: destinations and their parsing, DNS, dialing with
//! socket options (Happy Eyeballs and rotation over a name's addresses), the address policy
//! checked before every connect, non-blocking sockets, and the liveness peek.

pub mod destination;
pub(crate) mod dial;
pub(crate) mod dns;
pub(crate) mod happy_eyeballs;
pub mod liveness;
pub mod policy;
pub mod socket;
#[cfg(test)]
mod spread_tests;
