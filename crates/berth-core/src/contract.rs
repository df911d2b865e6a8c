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

impl IdleOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            IdleOrder::Lifo => "lifo",
            IdleOrder::Fifo => "fifo",
        }
    }

    /// `"lifo"` or `"fifo"`; anything else is refused with a message naming `order`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "lifo" => Ok(IdleOrder::Lifo),
            "fifo" => Ok(IdleOrder::Fifo),
            other => Err(format!(
                "order must be 'lifo' or 'fifo', got {:?}",
                crate::redact::redact(other)
            )),
        }
    }
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

/// The numbers the hot calls answer with. A non-negative answer is an id (a connection, a
/// slot, or the waiter a connection was handed to); these are the others. Each set's codes
/// lie above its `*_BASE`, below which an id is folded in (`BASE - id`), so that one number
/// carries both.
pub mod codes {
    /// Hot keys pack an engine handle and an id: `handle * KEY_BASE + id`.
    pub const KEY_BASE: f64 = 4_294_967_296.0;

    /// Where a free connection or resource went (`release`, `offer`, `resRelease`,
    /// `created`), when not to a waiter: into the idle list.
    pub const PLACED_IDLE: i32 = -1;
    /// Nowhere: the caller closes (destroys) it.
    pub const PLACED_CLOSE: i32 = -2;
    /// `resRelease` / `created`: the slot is not borrowed (not being created).
    pub const NOT_BORROWED: i32 = -5;

    /// `acquire` (either pool): the waiter is queued.
    pub const QUEUED: i32 = -1;
    /// `maxWaiters` are already queued.
    pub const QUEUE_FULL: i32 = -2;
    /// Socket pool: the destination id was forgotten (it held nothing through a sweep):
    /// intern it again.
    pub const UNKNOWN_DESTINATION: i32 = -3;
    /// Resource pool: the pool is closed.
    pub const CLOSED: i32 = -3;
    /// An argument the facade should have refused: not an integer id, a priority outside
    /// int32, or a handle that names no engine.
    pub const BAD_ARGUMENT: i32 = -4;
    /// Socket pool: a dead idle connection `id` comes back as `DEAD_BASE - id`: close it
    /// and call again.
    pub const DEAD_BASE: i32 = -5;
    /// Resource pool: an idle slot past its lifetime comes back as `EXPIRED_BASE - slot`:
    /// destroy it, report it destroyed, and call again.
    pub const EXPIRED_BASE: i32 = -5;

    /// `discard`'s reason for a connection its user destroyed (otherwise an `EvictReason`).
    pub const DISCARD_BY_USER: i32 = -1;

    /// The resource pool's gauges, as `resGauges` leaves them in the argument block.
    pub const GAUGE_SIZE: u32 = 0;
    pub const GAUGE_IDLE: u32 = 1;
    pub const GAUGE_IN_USE: u32 = 2;
    pub const GAUGE_WAITING: u32 = 3;

    // Every code stays above every folded id.
    const _: () = assert!(DEAD_BASE < BAD_ARGUMENT && BAD_ARGUMENT < UNKNOWN_DESTINATION);
    const _: () = assert!(EXPIRED_BASE < BAD_ARGUMENT && BAD_ARGUMENT < CLOSED);
    const _: () = assert!(CLOSED < QUEUE_FULL && QUEUE_FULL < QUEUED && QUEUED < 0);
}

/// The kinds of events each engine reports to its owner, as numbers.
pub mod events {
    /// Socket pool: a dial succeeded (adopt and offer it).
    pub const DIALED: u32 = 0;
    /// Socket pool: a dial failed (report it; the engine names the waiter to reject).
    pub const DIAL_FAILED: u32 = 1;
    /// Socket pool: an idle connection must be closed.
    pub const EVICT: u32 = 2;
    /// Socket pool: a waiter's acquire deadline passed.
    pub const WAITER_TIMED_OUT: u32 = 3;
    /// Socket pool: a group member is up again (`id` = group, `dest` = member).
    pub const MEMBER_UP: u32 = 4;
    /// Socket pool: a group member's health check failed.
    pub const MEMBER_DOWN: u32 = 5;
    /// Socket pool: a group member was ejected (`reason` = for how many ms).
    pub const MEMBER_EJECTED: u32 = 6;
    /// Socket pool: run the user's health check on a group member and report the result.
    pub const MEMBER_CHECK: u32 = 7;
    /// Socket pool, Node-dialled path: connect to these addresses (`id` = connection, `dest`,
    /// `addresses`), then report `nodeDialed` or `nodeDialFailed`.
    pub const DIAL_ORDER: u32 = 8;

    /// Resource pool: create a resource for this slot.
    pub const RES_CREATE: u32 = 0;
    /// Resource pool: destroy this idle slot's resource.
    pub const RES_EVICT: u32 = 1;
    /// Resource pool: a waiter's acquire deadline passed.
    pub const RES_WAITER_TIMED_OUT: u32 = 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_parses_lifo_and_fifo_and_names_the_key_otherwise() {
        assert_eq!(IdleOrder::parse("lifo"), Ok(IdleOrder::Lifo));
        assert_eq!(IdleOrder::parse("fifo"), Ok(IdleOrder::Fifo));
        for order in [IdleOrder::Lifo, IdleOrder::Fifo] {
            assert_eq!(IdleOrder::parse(order.as_str()), Ok(order));
        }
        let why = IdleOrder::parse("FIFO").unwrap_err();
        assert!(why.starts_with("order must be"), "{why}");
    }

    #[test]
    fn eviction_codes_round_trip() {
        for code in 0..6 {
            let reason = EvictReason::from_code(code).expect("a reason for every code below 6");
            assert_eq!(reason.code(), code);
        }
        assert_eq!(EvictReason::from_code(6), None);
    }

    #[test]
    fn event_kinds_are_distinct_within_each_engine() {
        let pool = [
            events::DIALED,
            events::DIAL_FAILED,
            events::EVICT,
            events::WAITER_TIMED_OUT,
            events::MEMBER_UP,
            events::MEMBER_DOWN,
            events::MEMBER_EJECTED,
            events::MEMBER_CHECK,
            events::DIAL_ORDER,
        ];
        let resource = [
            events::RES_CREATE,
            events::RES_EVICT,
            events::RES_WAITER_TIMED_OUT,
        ];
        for kinds in [&pool[..], &resource[..]] {
            let mut sorted = kinds.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), kinds.len(), "{kinds:?}");
        }
    }
}
