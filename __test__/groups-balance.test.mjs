// Upstream groups (issue 16): how acquires are spread over the members, per balancer. Real echo
// servers on 127.0.0.1 in child processes; counts are per acquire (lease.destination, the
// member) and per server (connections it accepted).
import test from 'ava';
import { createPool } from './helpers/pool.mjs';
import { range } from './helpers/net.mjs';
import { countBy, memberStats, pick, recordEvents, runBounded, settled, startMember, startMembers } from './helpers/groups.mjs';

test('round-robin spreads 3,000 acquires by weight (1, 2, 1) within 5%', async (t) => {
  const [a, b, c] = await startMembers(t, 3);
  const pool = createPool(t);
  const group = pool.group('rr', [a.dest, { dest: b.dest, weight: 2 }, c.dest], { balance: 'round-robin' });

  const outcomes = await runBounded(3000, 4, () => pick(pool, 'group:rr'));
  const failed = outcomes.filter((o) => o.status === 'rejected');
  t.is(failed.length, 0, `every acquire succeeds (first failure: ${failed[0]?.reason})`);
  const counts = countBy(outcomes.map((o) => o.value));
  const expected = { [a.dest]: 750, [b.dest]: 1500, [c.dest]: 750 };
  t.deepEqual(Object.keys(counts).sort(), Object.keys(expected).sort(), 'only the members are picked');
  for (const [dest, want] of Object.entries(expected)) {
    const got = counts[dest] ?? 0;
    t.true(Math.abs(got - want) <= want * 0.05, `${dest}: ${got} acquires, expected ${want} +/- 5%`);
    t.is(memberStats(group, dest)?.picked, got, `stats().members[${dest}].picked counts its acquires`);
  }
  t.is(group.stats().acquires, 3000, 'stats().acquires');
  for (const server of [a, b, c]) t.true(await settled(server.accepted, 1) >= 1, `${server.dest} accepted connections`);
});

test('a lease from a group names its member and its group', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  pool.group('named', [a.dest, b.dest]);
  const lease = await pool.acquire('group:named');
  t.true([a.dest, b.dest].includes(lease.destination), `lease.destination is a member (${lease.destination})`);
  t.is(lease.group, 'named');
  lease.release();
  // The default balancer is p2c; every acquire lands on a member.
  const picks = await runBounded(50, 2, () => pick(pool, 'group:named'));
  t.true(picks.every((o) => o.status === 'fulfilled' && [a.dest, b.dest].includes(o.value)));
  t.is(pool.group('named').stats().balance, 'p2c', 'default balance');
});

test('least-connections sends new work to the member with fewer leases', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('lc', [a.dest, b.dest], { balance: 'least-connections' });

  // Four leases held at once: least-connections alternates, two on each member.
  const leases = [];
  for (const _ of range(4)) leases.push(await pool.acquire('group:lc'));
  t.deepEqual(countBy(leases.map((l) => l.destination)), { [a.dest]: 2, [b.dest]: 2 }, 'two leases per member');

  // Release B's two: A has 2 leases in use, B has 0 in use and 2 idle connections.
  for (const lease of leases.filter((l) => l.destination === b.dest)) lease.release();
  const held = leases.filter((l) => l.destination === a.dest);
  t.like(memberStats(group, a.dest), { inUse: 2, idle: 0 }, 'A: two leases, nothing idle');
  t.like(memberStats(group, b.dest), { inUse: 0, idle: 2 }, 'B: no lease, two idle');

  // The next two acquires go to B (0 then 1 lease against A's 2), each reusing an idle connection.
  const next1 = await pool.acquire('group:lc');
  t.is(next1.destination, b.dest, 'A has 2 leases, B 0: B');
  t.true(next1.reused, 'it reuses one of B\'s idle connections');
  const next2 = await pool.acquire('group:lc');
  t.is(next2.destination, b.dest, 'A has 2 leases, B 1: B');
  t.like(memberStats(group, b.dest), { inUse: 2, idle: 0 });

  // 2 against 2: a tie, either member; releasing A's leases sends the next one to A.
  for (const lease of held) lease.release();
  const next3 = await pool.acquire('group:lc');
  t.is(next3.destination, a.dest, 'A has 0 leases, B 2: A');
  for (const lease of [next1, next2, next3]) lease.release();
});

test('hash keeps each key on its member and moves about 1/n of the keys when a member is added', async (t) => {
  const [a, b, c, d] = await startMembers(t, 4);
  const pool = createPool(t);
  const group = pool.group('h', [a.dest, b.dest, c.dest], { balance: 'hash' });
  const keys = range(400).map((i) => `user-${i}`);

  const mapKeys = async () => {
    const members = new Map();
    for (const key of keys) members.set(key, await pick(pool, 'group:h', { hashKey: key }));
    return members;
  };
  const first = await mapKeys();
  const spread = countBy(first.values());
  t.is(Object.keys(spread).length, 3, `the keys spread over the three members (${JSON.stringify(spread)})`);
  for (const [dest, n] of Object.entries(spread)) t.true(n >= 60, `${dest} owns ${n} of 400 keys (about 133)`);

  const again = await mapKeys();
  t.deepEqual([...again], [...first], 'every key goes to the same member again');

  await group.update([a.dest, b.dest, c.dest, d.dest]);
  const after = await mapKeys();
  const moved = keys.filter((k) => after.get(k) !== first.get(k));
  t.true(moved.length >= 60 && moved.length <= 140, `${moved.length} of 400 keys moved (expected about 100, 15%..35%)`);
  // Maglev's disruption is near-minimal, not minimal: filling the table again can shift a few
  // entries between members that stayed (the paper measures well under 1% of the keys at this
  // table size; a run here sees 0 or 1 of 400). Nearly every key that moved went to the new member.
  const wrong = moved.filter((k) => after.get(k) !== d.dest);
  t.true(wrong.length <= 8, `${wrong.length} of 400 keys moved between members that stayed (at most 2%): ${wrong}`);
  t.true(moved.length - wrong.length >= 60, `${moved.length - wrong.length} keys went to the new member`);

  // Back to the three members: the same member set gives the same table.
  await group.update([a.dest, b.dest, c.dest]);
  const back = await mapKeys();
  t.deepEqual([...back], [...first], 'removing the new member sends its keys back');
});

test('update() keeps the members it keeps, with their connections', async (t) => {
  const [a, b, c] = await startMembers(t, 3);
  const pool = createPool(t);
  const group = pool.group('upd', [a.dest, b.dest], { balance: 'round-robin' });
  // One at a time: one connection per member, idle between acquires.
  await runBounded(20, 1, () => pick(pool, 'group:upd'));
  const idleA = memberStats(group, a.dest).idle;
  t.is(idleA, 1, 'A has an idle connection');
  t.is(await settled(a.accepted, 1), 1);

  await group.update([a.dest, c.dest]);
  t.deepEqual(group.stats().members.map((m) => m.dest).sort(), [a.dest, c.dest].sort(), 'the new member list');
  t.is(memberStats(group, a.dest).idle, idleA, 'A kept its idle connections');
  const picks = countBy((await runBounded(20, 1, () => pick(pool, 'group:upd'))).map((o) => o.value));
  t.deepEqual(Object.keys(picks).sort(), [a.dest, c.dest].sort(), 'acquires go to A and C only');
  t.is(await settled(a.accepted, 2, { timeout: 300 }), 1, 'A served the new acquires on its kept connection (no new one)');
});

test('weights spread new connections too (each server counts its own)', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  pool.group('wconn', [{ dest: a.dest, weight: 3 }, { dest: b.dest, weight: 1 }], { balance: 'round-robin' });
  // Destroying each lease forces a new connection per acquire, so the servers count the acquires.
  const outcomes = await runBounded(200, 1, async () => {
    const lease = await pool.acquire('group:wconn');
    const member = lease.destination;
    lease.destroy();
    return member;
  });
  t.true(outcomes.every((o) => o.status === 'fulfilled'));
  const counts = countBy(outcomes.map((o) => o.value));
  t.deepEqual(counts, { [a.dest]: 150, [b.dest]: 50 }, 'smooth weighted round robin is exact over whole cycles');
  t.is(await settled(a.accepted, 150), 150, 'server A accepted 150 connections');
  t.is(await settled(b.accepted, 50), 50, 'server B accepted 50 connections');
});

test('a member added by update() receives acquires', async (t) => {
  const [a] = await startMembers(t, 1);
  const late = await startMember(t);
  const pool = createPool(t);
  const group = pool.group('grow', [a.dest], { balance: 'round-robin' });
  t.is(await pick(pool, 'group:grow'), a.dest);
  await group.update([a.dest, late.dest]);
  const counts = countBy((await runBounded(10, 1, () => pick(pool, 'group:grow'))).map((o) => o.value));
  t.deepEqual(counts, { [a.dest]: 5, [late.dest]: 5 });
});

test('hash: a down member\'s keys go to the others and come back with it; the other keys stay', async (t) => {
  const [a, b, c] = await startMembers(t, 3);
  const pool = createPool(t);
  const verdict = { [a.dest]: true, [b.dest]: true, [c.dest]: true };
  const group = pool.group('h-down', [a.dest, b.dest, c.dest], {
    balance: 'hash',
    healthCheck: { interval: 100, check: (socket, { member }) => verdict[member] },
  });
  const events = recordEvents(group);
  const keys = range(200).map((i) => `session-${i}`);
  const mapKeys = async () => {
    const members = new Map();
    for (const key of keys) members.set(key, await pick(pool, 'group:h-down', { hashKey: key }));
    return members;
  };
  const first = await mapKeys();
  const onA = keys.filter((k) => first.get(k) === a.dest);
  t.true(onA.length >= 20, `A owns ${onA.length} of 200 keys`);

  verdict[a.dest] = false;
  await events.next('memberDown', a.dest);
  const down = await mapKeys();
  t.deepEqual(keys.filter((k) => down.get(k) === a.dest), [], 'no key goes to the down member');
  t.deepEqual(keys.filter((k) => first.get(k) !== a.dest && down.get(k) !== first.get(k)), [], 'keys of the other members stay');
  t.deepEqual(Object.keys(countBy(onA.map((k) => down.get(k)))).sort(), [b.dest, c.dest].sort(), 'A\'s keys spread over B and C');

  const mark = events.log.length;
  verdict[a.dest] = true;
  await events.next('memberUp', a.dest, { from: mark });
  t.deepEqual([...(await mapKeys())], [...first], 'every key is back on its member');
});

test('update(): a member that leaves has its idle connections closed', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('leave', [a.dest, b.dest], { balance: 'round-robin' });
  await runBounded(4, 1, () => pick(pool, 'group:leave'));
  t.is(await settled(b.current, 1), 1, 'B holds an idle connection');
  await group.update([a.dest]);
  t.deepEqual(group.stats().members.map((m) => m.dest), [a.dest]);
  t.is(await settled(b.current, 0), 0, 'B\'s idle connection was closed');
  t.is(await settled(a.current, 1), 1, 'A keeps its idle connection');

  // A lease out on a member that leaves: its connection closes once released.
  await group.update([a.dest, b.dest]);
  const onB = [await pool.acquire('group:leave'), await pool.acquire('group:leave')].filter((l) => {
    if (l.destination === b.dest) return true;
    l.release();
    return false;
  });
  t.is(onB.length, 1, 'one lease on B');
  await group.update([a.dest]);
  t.is(await settled(b.current, 1), 1, 'the leased connection stays open while leased');
  onB[0].release();
  t.is(await settled(b.current, 0), 0, 'and closes when released');
});
