//! The vocabulary the engine shares with its owner (the JS facade): values that cross the
//! binding as numbers or strings, declared here once.

/// Order in which idle connections are reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleOrder {
    /// Most recently released first: keeps a small hot set and lets the rest time out.
    Lifo,
    /// Least recently released first: spreads use over every idle connection.
    Fifo,
}

/// Why a connection was closed by the pool rather than by its user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictReason {
    /// Idle longer than `idleTimeout`, or closed to make room under `maxTotal`.
    Idle,
    /// Older than `maxLifetime`.
    Lifetime,
    /// The peer closed or reset it while it was idle.
    PeerClosed,
    /// Unexpected bytes or an error found it unfit for reuse.
    Unhealthy,
    /// Leased `maxUses` times.
    MaxUses,
    /// Leased, then given back unused because the server's `Keep-Alive: timeout` hint had
    /// passed (the HTTP agent): not a reuse.
    KeepAliveExpired,
}

impl EvictReason {
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => EvictReason::Idle,
            1 => EvictReason::Lifetime,
            2 => EvictReason::PeerClosed,
            3 => EvictReason::Unhealthy,
            4 => EvictReason::MaxUses,
            5 => EvictReason::KeepAliveExpired,
            _ => return None,
        })
    }

    pub fn code(self) -> u32 {
        self as u32
    }
}
