//! Native proxying: sessions that forward an inbound connection to a pooled upstream
//! (`session`), the byte relay between them (`relay`, with `splice` for bulk transfers on
//! Linux), and the native listener that accepts inbound connections itself (`listener`), and the parsers
//! that read routing information from a connection's first bytes (`sniff`).

pub mod listener;
mod progress;
pub mod relay;
pub mod route_memo;
pub mod session;
pub mod sniff;
#[cfg(target_os = "linux")]
mod splice;
