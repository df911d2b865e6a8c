//! Unit tests of the balancers: deterministic (fixed seeds, fixed keys), no timing.

use super::*;

fn view(weight: u32, in_flight: u32, latency_us: u64, eligible: bool) -> MemberView {
    MemberView {
        weight,
        in_flight,
        latency_us,
        eligible,
    }
}

/// Idle, eligible members with these weights and no latency sample.
fn idle(weights: &[u32]) -> Vec<MemberView> {
    weights.iter().map(|&w| view(w, 0, 0, true)).collect()
}

fn addrs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.0.0.{}:8080", i + 1)).collect()
}

fn balancer(kind: Balance, keys: &[String], weights: &[u32]) -> Balancer {
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    Balancer::new(kind, &keys, weights)
}

/// How often each member is picked in `picks` picks over fixed views.
fn shares(b: &mut Balancer, members: &[MemberView], picks: usize) -> Vec<usize> {
    let mut counts = vec![0; members.len()];
    for _ in 0..picks {
        counts[b.pick(members, None).expect("an eligible member")] += 1;
    }
    counts
}

fn user_keys(n: usize) -> Vec<u64> {
    (0..n).map(|i| hash_key(&format!("user-{i}"))).collect()
}

/// The member each key maps to.
fn assign(b: &mut Balancer, members: &[MemberView], keys: &[u64]) -> Vec<usize> {
    keys.iter()
        .map(|&k| b.pick(members, Some(k)).expect("an eligible member"))
        .collect()
}

fn counts(assigned: &[usize], n: usize) -> Vec<usize> {
    let mut c = vec![0; n];
    for &m in assigned {
        c[m] += 1;
    }
    c
}

fn assert_within(actual: usize, expected: f64, tolerance: f64, what: &str) {
    let a = actual as f64;
    assert!(
        (a - expected).abs() <= tolerance,
        "{what}: {actual}, expected {expected} ± {tolerance}"
    );
}

#[test]
fn balance_parse_round_trips_and_rejects_unknown() {
    for kind in [
        Balance::RoundRobin,
        Balance::LeastConnections,
        Balance::P2c,
        Balance::Hash,
    ] {
        assert_eq!(Balance::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(Balance::RoundRobin.as_str(), "round-robin");
    assert_eq!(Balance::LeastConnections.as_str(), "least-connections");
    assert_eq!(Balance::P2c.as_str(), "p2c");
    assert_eq!(Balance::Hash.as_str(), "hash");
    for bad in [
        "",
        "roundrobin",
        "Round-Robin",
        "least_connections",
        "P2C",
        " p2c",
        "hash ",
        "random",
    ] {
        assert_eq!(Balance::parse(bad), None, "{bad:?}");
    }
    let b = balancer(Balance::Hash, &addrs(2), &[1, 1]);
    assert_eq!(b.kind(), Balance::Hash);
}

#[test]
fn round_robin_equal_weights_exact_shares_and_never_twice_in_a_row() {
    let members = idle(&[1, 1, 1]);
    let mut b = balancer(Balance::RoundRobin, &addrs(3), &[1, 1, 1]);
    let mut counts = [0usize; 3];
    let mut last = None;
    for _ in 0..3000 {
        let m = b.pick(&members, None).unwrap();
        assert_ne!(Some(m), last, "member {m} picked twice in a row");
        last = Some(m);
        counts[m] += 1;
    }
    for c in counts {
        assert_within(c, 1000.0, 1.0, "share of 3000");
    }
}

#[test]
fn round_robin_weighted_exact_shares_interleaved() {
    // 1,2,1 over 3000 picks: 750/1500/750, and a weight-1 member never twice in a row.
    let members = idle(&[1, 2, 1]);
    let mut b = balancer(Balance::RoundRobin, &addrs(3), &[1, 2, 1]);
    let mut counts = [0usize; 3];
    let mut last = None;
    for _ in 0..3000 {
        let m = b.pick(&members, None).unwrap();
        if m != 1 {
            assert_ne!(Some(m), last, "weight-1 member {m} picked twice in a row");
        }
        last = Some(m);
        counts[m] += 1;
    }
    assert_within(counts[0], 750.0, 1.0, "weight 1");
    assert_within(counts[1], 1500.0, 1.0, "weight 2");
    assert_within(counts[2], 750.0, 1.0, "weight 1");

    // 1,1,2 over 4000 picks: exactly 1000/1000/2000.
    let members = idle(&[1, 1, 2]);
    let mut b = balancer(Balance::RoundRobin, &addrs(3), &[1, 1, 2]);
    assert_eq!(shares(&mut b, &members, 4000), vec![1000, 1000, 2000]);
}

#[test]
fn round_robin_skips_ineligible_members_and_none_when_all_are() {
    let mut members = idle(&[1, 3, 1, 1]);
    members[1].eligible = false;
    let mut b = balancer(Balance::RoundRobin, &addrs(4), &[1, 3, 1, 1]);
    let counts = shares(&mut b, &members, 3000);
    assert_eq!(counts, vec![1000, 0, 1000, 1000]);

    // It comes back into the rotation when eligible again.
    members[1].eligible = true;
    let counts = shares(&mut b, &members, 6000);
    assert_within(counts[1], 3000.0, 3.0, "returned weight-3 member");

    for m in &mut members {
        m.eligible = false;
    }
    assert_eq!(b.pick(&members, None), None);
    assert_eq!(b.pick(&[], None), None);
}

#[test]
fn least_connections_picks_fewest_in_flight_per_weight() {
    let mut b = balancer(Balance::LeastConnections, &addrs(3), &[1, 1, 1]);
    let members = vec![
        view(1, 5, 0, true),
        view(1, 2, 0, true),
        view(1, 3, 0, true),
    ];
    for _ in 0..10 {
        assert_eq!(b.pick(&members, None), Some(1));
    }
    // Weighted: 4/2 = 2 beats 3/1 = 3 and 5/2 = 2.5.
    let members = vec![
        view(1, 3, 0, true),
        view(2, 4, 0, true),
        view(2, 5, 0, true),
    ];
    assert_eq!(b.pick(&members, None), Some(1));
    // The least loaded but ineligible member is passed over.
    let members = vec![
        view(1, 3, 0, true),
        view(1, 0, 0, false),
        view(1, 4, 0, true),
    ];
    assert_eq!(b.pick(&members, None), Some(0));
    let members = vec![view(1, 0, 0, false); 3];
    assert_eq!(b.pick(&members, None), None);

    // Connections that are never released pile up in proportion to weight.
    let mut b = balancer(Balance::LeastConnections, &addrs(3), &[1, 2, 1]);
    let mut members = idle(&[1, 2, 1]);
    for _ in 0..4000 {
        let m = b.pick(&members, None).unwrap();
        members[m].in_flight += 1;
    }
    let in_flight: Vec<u32> = members.iter().map(|m| m.in_flight).collect();
    assert_eq!(in_flight, vec![1000, 2000, 1000]);
}

#[test]
fn least_connections_equal_load_spreads_evenly() {
    let members = idle(&[1, 1, 1, 1]);
    let mut b = balancer(Balance::LeastConnections, &addrs(4), &[1, 1, 1, 1]);
    let mut last = None;
    let mut counts = [0usize; 4];
    for _ in 0..4000 {
        let m = b.pick(&members, None).unwrap();
        assert_ne!(Some(m), last, "a tie went to member {m} twice in a row");
        last = Some(m);
        counts[m] += 1;
    }
    assert_eq!(counts, [1000; 4]);
    // Ties among the least loaded only: members 1 and 3.
    let members = vec![
        view(1, 2, 0, true),
        view(1, 1, 0, true),
        view(1, 2, 0, true),
        view(1, 1, 0, true),
    ];
    assert_eq!(shares(&mut b, &members, 1000), vec![0, 500, 0, 500]);
}

#[test]
fn p2c_never_picks_an_ineligible_member() {
    let mut b = balancer(Balance::P2c, &addrs(5), &[1, 1, 1, 1, 1]);
    let mut members = idle(&[3, 1, 5, 1, 2]);
    members[0].eligible = false;
    members[2].eligible = false;
    let counts = shares(&mut b, &members, 10_000);
    assert_eq!((counts[0], counts[2]), (0, 0));
    assert!(
        counts[1] > 0 && counts[3] > 0 && counts[4] > 0,
        "{counts:?}"
    );

    // One eligible member: always it; none: None.
    let mut one = vec![view(1, 0, 0, false); 4];
    one[2] = view(1, 99, 0, true);
    assert_eq!(shares(&mut b, &one, 100), vec![0, 0, 100, 0]);
    assert_eq!(b.pick(&[view(1, 0, 0, false); 4], None), None);
    assert_eq!(b.pick(&[], None), None);
}

#[test]
fn p2c_sends_fewer_picks_to_a_busy_member() {
    let mut b = balancer(Balance::P2c, &addrs(4), &[1, 1, 1, 1]);
    let mut members = idle(&[1, 1, 1, 1]);
    members[2].in_flight = 50;
    let counts = shares(&mut b, &members, 10_000);
    assert!(counts[2] < 500, "busy member got {counts:?}");
    for i in [0, 1, 3] {
        assert_within(counts[i], 3333.0, 500.0, "idle member");
    }

    // Latency: a member 10x slower to connect (same in-flight) loses its duels.
    let mut members = vec![view(1, 2, 1_000, true); 4];
    members[0].latency_us = 10_000;
    let counts = shares(&mut b, &members, 10_000);
    assert!(counts[0] < 500, "slow member got {counts:?}");

    // A member without a sample yet is costed like the other of its duel: with equal
    // in-flight it wins about half its duels instead of all (latency 0 taken as free) or none.
    let mut members = vec![view(1, 0, 5_000, true); 4];
    members[3].latency_us = 0;
    let counts = shares(&mut b, &members, 12_000);
    assert_within(counts[3], 3000.0, 600.0, "member without latency sample");

    // Extreme values neither overflow nor panic, in any balancer.
    let extreme = vec![
        view(u32::MAX, u32::MAX, u64::MAX, true),
        view(1000, u32::MAX - 1, u64::MAX, true),
        view(0, 0, 0, true),
    ];
    for kind in [
        Balance::RoundRobin,
        Balance::LeastConnections,
        Balance::P2c,
        Balance::Hash,
    ] {
        let mut b = balancer(kind, &addrs(3), &[u32::MAX, 1000, 0]);
        for i in 0..1000u64 {
            assert!(b.pick(&extreme, Some(i)).is_some());
        }
    }
}

#[test]
fn p2c_respects_weights_when_idle() {
    let weights = [1, 2, 3, 4];
    let mut b = balancer(Balance::P2c, &addrs(4), &weights);
    let members: Vec<MemberView> = weights.iter().map(|&w| view(w, 0, 700, true)).collect();
    let counts = shares(&mut b, &members, 30_000);
    for (i, &w) in weights.iter().enumerate() {
        let expected = 30_000.0 * f64::from(w) / 10.0;
        assert_within(counts[i], expected, expected * 0.05, "weighted share");
    }
}

#[test]
fn hash_same_key_same_member_across_instances() {
    let keys = addrs(5);
    let mut a = balancer(Balance::Hash, &keys, &[1; 5]);
    let mut b = balancer(Balance::Hash, &keys, &[1; 5]);
    let members = idle(&[1; 5]);
    let users = user_keys(2000);
    let first = assign(&mut a, &members, &users);
    assert_eq!(first, assign(&mut b, &members, &users));
    // And the same instance, asked again (the table is not consumed by picks).
    assert_eq!(first, assign(&mut a, &members, &users));
    assert_eq!(a.table, b.table);
    // Pinned: the table for these members must not change across builds or releases.
    let digest = a
        .table
        .iter()
        .fold(0u64, |h, &s| maglev::mix64(h ^ u64::from(s)));
    assert_eq!(digest, PINNED_TABLE_DIGEST);
}

const PINNED_TABLE_DIGEST: u64 = 4_566_084_121_122_416_009;

#[test]
fn hash_spreads_keys_evenly_and_by_weight() {
    let users = user_keys(10_000);
    let mut b = balancer(Balance::Hash, &addrs(3), &[1, 1, 1]);
    let c = counts(&assign(&mut b, &idle(&[1, 1, 1]), &users), 3);
    for n in c {
        assert_within(n, 3333.0, 500.0, "share of 10000 keys");
    }

    let mut b = balancer(Balance::Hash, &addrs(3), &[1, 1, 2]);
    let c = counts(&assign(&mut b, &idle(&[1, 1, 2]), &users), 3);
    assert_within(c[0], 2500.0, 300.0, "weight 1");
    assert_within(c[1], 2500.0, 300.0, "weight 1");
    assert_within(c[2], 5000.0, 300.0, "weight 2");
    // The table itself: within 1% of the exact shares.
    let t = counts(&b.table.iter().map(|&s| s as usize).collect::<Vec<_>>(), 3);
    let m = maglev::TABLE_SIZE as f64;
    assert_within(t[2], m / 2.0, m / 100.0, "weight-2 table entries");
}

#[test]
fn hash_adding_a_member_moves_about_a_quarter_of_keys_to_it() {
    let users = user_keys(10_000);
    let keys = addrs(4);
    let mut three = balancer(Balance::Hash, &keys[..3], &[1; 3]);
    let mut four = balancer(Balance::Hash, &keys, &[1; 4]);
    let before = assign(&mut three, &idle(&[1; 3]), &users);
    let after = assign(&mut four, &idle(&[1; 4]), &users);
    let moved: Vec<usize> = (0..users.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    assert!(
        (2000..=3000).contains(&moved.len()),
        "{} keys moved",
        moved.len()
    );
    // Maglev's disruption is near-minimal, not exactly minimal: a new member's claims can
    // shift a few entries between the members that stayed (6 of 10000 keys here).
    let elsewhere = moved.iter().filter(|&&i| after[i] != 3).count();
    assert!(
        elsewhere <= users.len() / 100,
        "{elsewhere} keys moved between old members"
    );
}

#[test]
fn hash_removing_a_member_moves_only_about_its_keys() {
    let users = user_keys(10_000);
    let keys = addrs(4);
    // Remove the second member: the lead rebuilds from the remaining list, so indices shift.
    let kept: Vec<String> = vec![keys[0].clone(), keys[2].clone(), keys[3].clone()];
    let mut four = balancer(Balance::Hash, &keys, &[1; 4]);
    let mut three = balancer(Balance::Hash, &kept, &[1; 3]);
    let before = assign(&mut four, &idle(&[1; 4]), &users);
    let after = assign(&mut three, &idle(&[1; 3]), &users);
    let address = |list: &[String], i: usize| list[i].clone();
    let mut stayed_wrongly_moved = 0;
    for i in 0..users.len() {
        let was = address(&keys, before[i]);
        let now = address(&kept, after[i]);
        if was == keys[1] {
            assert_ne!(now, keys[1]);
        } else if was != now {
            stayed_wrongly_moved += 1;
        }
    }
    let on_removed = before.iter().filter(|&&m| m == 1).count();
    assert!((2000..=3000).contains(&on_removed), "{on_removed}");
    assert!(
        stayed_wrongly_moved <= users.len() / 100,
        "{stayed_wrongly_moved} keys of kept members moved"
    );
}

#[test]
fn hash_ineligible_members_keys_go_elsewhere_and_come_back() {
    let users = user_keys(10_000);
    let mut b = balancer(Balance::Hash, &addrs(4), &[1; 4]);
    let mut members = idle(&[1; 4]);
    let before = assign(&mut b, &members, &users);
    members[2].eligible = false;
    let during = assign(&mut b, &members, &users);
    for i in 0..users.len() {
        if before[i] == 2 {
            assert_ne!(during[i], 2);
        } else {
            // Keys of eligible members stay exactly where they were.
            assert_eq!(during[i], before[i]);
        }
    }
    // The displaced keys spread over the other three members, not onto one.
    let displaced: Vec<usize> = (0..users.len())
        .filter(|&i| before[i] == 2)
        .map(|i| during[i])
        .collect();
    let c = counts(&displaced, 4);
    for m in [0, 1, 3] {
        assert!(c[m] * 6 > displaced.len(), "displaced keys {c:?}");
    }
    members[2].eligible = true;
    assert_eq!(assign(&mut b, &members, &users), before);

    // Only one eligible member: every key goes to it; none: None.
    let mut only = vec![view(1, 0, 0, false); 4];
    only[1].eligible = true;
    assert!(assign(&mut b, &only, &users).iter().all(|&m| m == 1));
    assert_eq!(b.pick(&[view(1, 0, 0, false); 4], Some(users[0])), None);
}

#[test]
fn hash_without_a_key_balances_like_p2c() {
    let mut b = balancer(Balance::Hash, &addrs(3), &[1; 3]);
    let mut members = idle(&[1; 3]);
    members[0].in_flight = 50;
    members[1].eligible = false;
    let counts = shares(&mut b, &members, 1000);
    assert_eq!(counts, vec![0, 0, 1000]);
}

#[test]
fn hash_handles_members_beyond_the_table_keys() {
    // An empty member list builds an empty table and picks nothing.
    let mut empty = balancer(Balance::Hash, &[], &[]);
    assert_eq!(empty.pick(&[], Some(7)), None);
    // Views longer than the keys (a caller bug): the extra member is never out of bounds and
    // is still used when it is the only eligible one.
    let mut b = balancer(Balance::Hash, &addrs(2), &[1, 1]);
    let members = vec![
        view(1, 0, 0, false),
        view(1, 0, 0, false),
        view(1, 0, 0, true),
    ];
    assert_eq!(b.pick(&members, Some(12345)), Some(2));
    // Views shorter than the keys: entries of missing members count as ineligible.
    assert_eq!(b.pick(&[view(1, 0, 0, true)], Some(12345)), Some(0));
}

#[test]
fn hash_key_is_stable_and_well_mixed() {
    // Pinned values: the hash must not change across processes, builds or releases, or
    // every key would move when berth is upgraded.
    assert_eq!(hash_key(""), hash_key(""));
    assert_ne!(hash_key(""), hash_key("\0"));
    assert_ne!(hash_key("a"), hash_key("a\0"));
    assert_eq!(hash_key("user-42"), PINNED_USER_42);
    // Avalanche: flipping one input bit flips about half of the output bits.
    let mut total = 0u32;
    let mut samples = 0u32;
    for i in 0..200u32 {
        let base = format!("key-{i:05}-abcdefgh");
        let h = hash_key(&base);
        for byte in 0..base.len() {
            for bit in 0..8 {
                let mut bytes = base.clone().into_bytes();
                bytes[byte] ^= 1 << bit;
                let flipped = maglev::hash_bytes(&bytes, maglev::SEED_KEY);
                total += (h ^ flipped).count_ones();
                samples += 1;
            }
        }
    }
    let mean = f64::from(total) / f64::from(samples);
    assert!((31.0..=33.0).contains(&mean), "mean bits flipped {mean}");
}

const PINNED_USER_42: u64 = 2_015_107_830_574_395_122;

/// Timings, not assertions (the machine is shared): run with
/// `cargo test -p berth-core --release balance_timings -- --ignored --nocapture`.
#[test]
#[ignore]
fn balance_timings() {
    use std::time::Instant;
    for n in [3usize, 8, 16] {
        let keys = addrs(n);
        let weights: Vec<u32> = (0..n as u32).map(|i| 1 + i % 3).collect();
        let mut members: Vec<MemberView> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| view(w, (i % 5) as u32, 800 + i as u64 * 37, true))
            .collect();
        members[n / 2].eligible = false;
        let users = user_keys(1024);
        for kind in [
            Balance::RoundRobin,
            Balance::LeastConnections,
            Balance::P2c,
            Balance::Hash,
        ] {
            let mut b = balancer(kind, &keys, &weights);
            let picks = 1_000_000usize;
            let start = Instant::now();
            let mut sink = 0usize;
            for i in 0..picks {
                let key = Some(users[i & 1023]);
                sink = sink.wrapping_add(b.pick(std::hint::black_box(&members), key).unwrap());
            }
            let ns = start.elapsed().as_nanos() as f64 / picks as f64;
            println!("{:>17} n={n:>2}: {ns:6.1} ns/pick ({sink})", kind.as_str());
        }
    }
    let keys = addrs(16);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    for weights in [vec![1u32; 16], (1..=16).collect::<Vec<u32>>()] {
        let start = Instant::now();
        let rounds = 20;
        for _ in 0..rounds {
            std::hint::black_box(Balancer::new(Balance::Hash, &keys, &weights));
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds);
        println!("maglev build, 16 members, weights {weights:?}: {ms:.2} ms");
    }
}
