//! Member selection for upstream groups: which member an acquire goes to.
//!
//! The group engine owns the members' state (up/down/ejected, counts, latency) and hands a
//! `MemberView` per member to `Balancer::pick`; the balancer keeps only what its algorithm
//! remembers between picks (round-robin credits, a cursor, an RNG, the Maglev table). It does
//! no I/O, takes no locks and never allocates in `pick`.
//!
//! - `RoundRobin`: nginx's smooth weighted round robin, so weight-2 members are interleaved
//!   with the others instead of picked twice in a row.
//! - `LeastConnections`: fewest in-flight per unit of weight; ties go round robin.
//! - `P2c`: the power of two choices (Mitzenmacher; Envoy's least-request balancer): two
//!   random members weighted by weight, the less loaded by (in_flight + 1) x connect latency
//!   wins.
//! - `Hash`: Maglev consistent hashing (see `maglev`) of the acquire's key.

mod maglev;

pub use maglev::hash_key;

/// The balancing algorithm of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    LeastConnections,
    P2c,
    Hash,
}

impl Balance {
    /// Parses the JS option value; `None` for anything else.
    pub fn parse(s: &str) -> Option<Balance> {
        match s {
            "round-robin" => Some(Balance::RoundRobin),
            "least-connections" => Some(Balance::LeastConnections),
            "p2c" => Some(Balance::P2c),
            "hash" => Some(Balance::Hash),
            _ => None,
        }
    }

    /// The JS option value (what `parse` accepts).
    pub fn as_str(self) -> &'static str {
        match self {
            Balance::RoundRobin => "round-robin",
            Balance::LeastConnections => "least-connections",
            Balance::P2c => "p2c",
            Balance::Hash => "hash",
        }
    }
}

/// What the balancer is told about each member at pick time (index = member index).
#[derive(Clone, Copy, Debug)]
pub struct MemberView {
    /// 1..=1000 (0 counts as 1).
    pub weight: u32,
    /// Leased + dialing connections now.
    pub in_flight: u32,
    /// Connect-time EWMA in microseconds; 0 = no sample yet.
    pub latency_us: u64,
    /// Up (not down/ejected) and not excluded for this acquire.
    pub eligible: bool,
}

impl MemberView {
    #[inline]
    fn weight(&self) -> u64 {
        u64::from(self.weight.max(1))
    }
}

/// Picks members for one group. Rebuilt by the group engine whenever the member list
/// changes (the Maglev table and the round-robin credits are per member list).
#[derive(Debug)]
pub struct Balancer {
    kind: Balance,
    /// Smooth weighted round robin: each member's current credit.
    credit: Vec<i64>,
    /// Least connections: where the tie-breaking scan starts.
    cursor: usize,
    /// P2c (and keyless hash): splitmix64 state.
    rng: u64,
    /// Hash: member index per Maglev table entry (empty for the other kinds).
    table: Vec<maglev::Slot>,
}

impl Balancer {
    /// `keys` are the members' stable identities (their address strings), used by 'hash'
    /// (Maglev permutations) and to seed p2c's RNG; `weights` as in `MemberView` (a missing or
    /// zero weight counts as 1).
    pub fn new(kind: Balance, keys: &[&str], weights: &[u32]) -> Balancer {
        let table = if kind == Balance::Hash {
            maglev::build(keys, weights)
        } else {
            Vec::new()
        };
        // A seed from the member list: deterministic, yet two groups do not draw in lockstep.
        let rng = keys.iter().fold(0x853c_49e6_748f_ea9b, |h, k| {
            maglev::mix64(h ^ maglev::hash_bytes(k.as_bytes(), h))
        });
        Balancer {
            kind,
            credit: vec![0; keys.len()],
            cursor: 0,
            rng,
            table,
        }
    }

    pub fn kind(&self) -> Balance {
        self.kind
    }

    /// The member to use, or `None` when no member is eligible. `key` is the acquire's hash key
    /// hashed with `hash_key` (only 'hash' uses it; 'hash' without a key behaves like p2c).
    /// `members.len()` should equal the number of keys given to `new`; a member beyond that
    /// is still picked by the other kinds but owns no hash table entries.
    pub fn pick(&mut self, members: &[MemberView], key: Option<u64>) -> Option<usize> {
        match self.kind {
            Balance::RoundRobin => self.round_robin(members),
            Balance::LeastConnections => self.least_connections(members),
            Balance::P2c => self.p2c(members),
            Balance::Hash => match key {
                Some(key) => self.hash(members, key),
                None => self.p2c(members),
            },
        }
    }

    /// nginx's smooth weighted round robin (ngx_http_upstream_get_peer): every eligible
    /// member gains its weight, the richest is picked and pays the total. Over any window of
    /// total-weight picks each member is picked exactly weight times, spread out.
    fn round_robin(&mut self, members: &[MemberView]) -> Option<usize> {
        if self.credit.len() != members.len() {
            self.credit.resize(members.len(), 0);
        }
        let mut best: Option<usize> = None;
        let mut total: i64 = 0;
        for (i, m) in members.iter().enumerate() {
            if !m.eligible {
                continue;
            }
            let w = m.weight() as i64;
            self.credit[i] += w;
            total += w;
            match best {
                Some(b) if self.credit[b] >= self.credit[i] => {}
                _ => best = Some(i),
            }
        }
        let b = best?;
        self.credit[b] -= total;
        Some(b)
    }

    /// Fewest in-flight per unit of weight (cross-multiplied, no floats); the scan starts
    /// after the last pick and keeps the first of equals, so equal members take turns.
    fn least_connections(&mut self, members: &[MemberView]) -> Option<usize> {
        let n = members.len();
        let mut best: Option<usize> = None;
        for j in 0..n {
            let i = (self.cursor + j) % n;
            let m = &members[i];
            if !m.eligible {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    let o = &members[b];
                    u64::from(m.in_flight) * o.weight() < u64::from(o.in_flight) * m.weight()
                }
            };
            if better {
                best = Some(i);
            }
        }
        let b = best?;
        self.cursor = (b + 1) % n;
        Some(b)
    }

    /// splitmix64: one add and a finalizer per draw.
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        maglev::mix64(self.rng)
    }

    /// A uniform draw in 0..bound (Lemire's multiply-shift; bias below 2^-40 for any weight
    /// total a group can have).
    #[inline]
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// An eligible member other than `skip`, drawn in proportion to weight; `total` is the
    /// weight of the candidates.
    fn draw(&mut self, members: &[MemberView], skip: Option<usize>, total: u64) -> usize {
        let mut r = self.below(total);
        let mut last = 0;
        for (i, m) in members.iter().enumerate() {
            if !m.eligible || Some(i) == skip {
                continue;
            }
            let w = m.weight();
            if r < w {
                return i;
            }
            r -= w;
            last = i;
        }
        last
    }

    /// Power of two choices: two distinct weighted-random members, the one with the lower
    /// (in_flight + 1) x latency wins (the first drawn on a tie, which keeps the no-load
    /// shares proportional to weight). A member without a latency sample is costed like the
    /// other so that a new member is neither shunned nor flooded.
    fn p2c(&mut self, members: &[MemberView]) -> Option<usize> {
        let mut total = 0u64;
        let mut count = 0usize;
        let mut only = 0usize;
        for (i, m) in members.iter().enumerate() {
            if m.eligible {
                total += m.weight();
                count += 1;
                only = i;
            }
        }
        match count {
            0 => return None,
            1 => return Some(only),
            _ => {}
        }
        let a = self.draw(members, None, total);
        let b = self.draw(members, Some(a), total - members[a].weight());
        let (ma, mb) = (&members[a], &members[b]);
        let (la, lb) = match (ma.latency_us, mb.latency_us) {
            (0, 0) => (1, 1),
            (0, l) | (l, 0) => (l, l),
            (x, y) => (x, y),
        };
        // u128: (u32::MAX + 1) x u64::MAX cannot overflow.
        let cost_a = (u128::from(ma.in_flight) + 1) * u128::from(la);
        let cost_b = (u128::from(mb.in_flight) + 1) * u128::from(lb);
        Some(if cost_b < cost_a { b } else { a })
    }

    /// The Maglev entry for the key; when its member is ineligible, the next entry (walking
    /// forward) whose member is eligible, so an unavailable member's keys spread over the
    /// others and come back to it when it is eligible again.
    fn hash(&mut self, members: &[MemberView], key: u64) -> Option<usize> {
        let eligible = |i: usize| members.get(i).is_some_and(|m| m.eligible);
        if !members.iter().any(|m| m.eligible) {
            return None;
        }
        let size = self.table.len();
        if size > 0 {
            let start = (key % size as u64) as usize;
            // Bounded by the table: an eligible member owning no entry ends the walk below.
            for step in 0..size {
                let i = self.table[(start + step) % size] as usize;
                if eligible(i) {
                    return Some(i);
                }
            }
        }
        // Only eligible members without table entries (not in `keys`, or more members than
        // entries): a stable choice among them.
        let count = members.iter().filter(|m| m.eligible).count() as u64;
        let nth = (key % count) as usize;
        members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.eligible)
            .nth(nth)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests;
