//! Native proxying: sessions that forward an inbound connection to a pooled upstream
//! (`session`), the byte relay between them (`relay`, with `splice` for bulk transfers on
//! Linux), and the native listener that accepts inbound connections itself (`listener`).

pub mod drain;
pub mod fail_reply;
pub mod listener;
mod progress;
pub mod relay;
pub mod route_memo;
pub mod session;
#[cfg(target_os = "linux")]
mod splice;
