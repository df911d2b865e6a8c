//! Native proxying: sessions that forward an inbound connection to a pooled upstream
//! (`session`), the byte relay between them (`relay`, with `splice` for bulk transfers on
//! Linux), the native listener that accepts inbound connections itself (`listener`), the
//! PROXY protocol it may read from clients and write to upstreams (`proxy_protocol`,
//! `proxy_accept`), and the parsers that read routing information from a connection's first
//! bytes (`sniff`).

pub mod drain;
pub mod fail_reply;
pub mod listener;
mod progress;
mod proxy_accept;
pub mod proxy_protocol;
pub mod relay;
pub mod route_memo;
pub mod session;
pub mod session_report;
pub mod sniff;
#[cfg(target_os = "linux")]
mod splice;
