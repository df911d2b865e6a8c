//! Native proxying: sessions that forward an inbound connection to a pooled upstream
//! (`session`), the byte relay between them (`relay`, with `splice` for bulk transfers on
//! Linux), the native listener that accepts inbound connections itself (`listener`), and the
//! PROXY protocol it may read from clients and write to upstreams (`proxy_protocol`,
//! `proxy_accept`).

pub mod drain;
pub mod fail_reply;
pub mod listener;
mod progress;
mod proxy_accept;
pub mod proxy_protocol;
pub mod relay;
pub mod route_memo;
pub mod session;
#[cfg(target_os = "linux")]
mod splice;
