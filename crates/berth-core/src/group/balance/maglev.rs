//! Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights, and the 64-bit string
//! hash it and `hash_key` use.
//!
//! The table maps `key % TABLE_SIZE` to a member. Each member walks its own permutation of the
//! table (offset and skip from two independent hashes of its address) and claims the first
//! free entry on each turn; a member of weight w takes w turns per round. Because a member's
//! permutation depends only on its own address, adding or removing one of n members moves
//! about 1/n of the entries. Everything is deterministic: no randomness, no per-process seed.

/// Table size: a prime, so every skip in 1..TABLE_SIZE walks the whole table, and large
/// enough (about 4000x a 16-member group) that the shares come out within a fraction of a
/// percent and disruption stays close to minimal.
pub const TABLE_SIZE: usize = 65537;

/// Member index stored in the table; `u32` keeps the table at 256 KiB.
pub type Slot = u32;

pub(super) const SEED_KEY: u64 = 0x6a09_e667_f3bc_c908;
const SEED_OFFSET: u64 = 0xbb67_ae85_84ca_a73b;
const SEED_SKIP: u64 = 0x3c6e_f372_fe94_f82b;

/// The splitmix64 finalizer: a bijection on u64 with full avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seeded 64-bit hash of bytes: 8-byte little-endian chunks absorbed through `mix64`, the
/// length folded in so that zero padding cannot make two inputs equal. Not for adversarial
/// collision resistance (the table is fixed-size, so a collision only shares a member).
pub fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut h = mix64(seed ^ (bytes.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = mix64(h ^ u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = mix64(h ^ u64::from_le_bytes(word) ^ 0xff);
    }
    mix64(h ^ seed.rotate_left(32))
}

/// The hash of an acquire's `hashKey`, as `Balancer::pick` expects it.
pub fn hash_key(key: &str) -> u64 {
    hash_bytes(key.as_bytes(), SEED_KEY)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Builds the lookup table for members `keys` with `weights` (a missing or zero weight counts
/// as 1). Empty when there are no members.
pub fn build(keys: &[&str], weights: &[u32]) -> Vec<Slot> {
    let n = keys.len();
    if n == 0 {
        return Vec::new();
    }
    let mut turns: Vec<u32> = (0..n)
        .map(|i| weights.get(i).copied().unwrap_or(1).max(1))
        .collect();
    // Only the ratios matter: weights 1000,1000 fill like 1,1 (shorter last round).
    let g = turns.iter().copied().fold(0, gcd).max(1);
    for t in &mut turns {
        *t /= g;
    }
    let m = TABLE_SIZE as u64;
    // Each member's position in its permutation and its step (never 0: M is prime).
    let mut pos: Vec<u32> = Vec::with_capacity(n);
    let mut skip: Vec<u32> = Vec::with_capacity(n);
    for key in keys {
        pos.push((hash_bytes(key.as_bytes(), SEED_OFFSET) % m) as u32);
        skip.push((hash_bytes(key.as_bytes(), SEED_SKIP) % (m - 1) + 1) as u32);
    }
    const EMPTY: Slot = Slot::MAX;
    let mut table = vec![EMPTY; TABLE_SIZE];
    let mut filled = 0usize;
    let size = TABLE_SIZE as u32;
    'fill: loop {
        for i in 0..n {
            for _ in 0..turns[i] {
                let mut c = pos[i];
                while table[c as usize] != EMPTY {
                    c += skip[i];
                    if c >= size {
                        c -= size;
                    }
                }
                table[c as usize] = i as Slot;
                c += skip[i];
                if c >= size {
                    c -= size;
                }
                pos[i] = c;
                filled += 1;
                if filled == TABLE_SIZE {
                    break 'fill;
                }
            }
        }
    }
    table
}
