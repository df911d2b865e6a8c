//! Placeholder until helper "balance" lands: same interface, round robin only.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    LeastConnections,
    P2c,
    Hash,
}

impl Balance {
    pub fn parse(s: &str) -> Option<Balance> {
        match s {
            "round-robin" => Some(Balance::RoundRobin),
            "least-connections" => Some(Balance::LeastConnections),
            "p2c" => Some(Balance::P2c),
            "hash" => Some(Balance::Hash),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Balance::RoundRobin => "round-robin",
            Balance::LeastConnections => "least-connections",
            Balance::P2c => "p2c",
            Balance::Hash => "hash",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct MemberView {
    pub weight: u32,
    pub in_flight: u32,
    pub latency_us: u64,
    pub eligible: bool,
}

pub struct Balancer {
    kind: Balance,
    next: usize,
}

impl Balancer {
    pub fn new(kind: Balance, _keys: &[&str], _weights: &[u32]) -> Balancer {
        Balancer { kind, next: 0 }
    }
    pub fn kind(&self) -> Balance {
        self.kind
    }
    pub fn pick(&mut self, members: &[MemberView], _key: Option<u64>) -> Option<usize> {
        for i in 0..members.len() {
            let at = (self.next + i) % members.len();
            if members[at].eligible {
                self.next = at + 1;
                return Some(at);
            }
        }
        None
    }
}

pub fn hash_key(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
