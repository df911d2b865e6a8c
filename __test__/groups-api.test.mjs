// Upstream groups (issue 16): the API surface. pool.group() lookup and creation, remove(),
// stats() shape, group destinations in use/warm/acquireMany, and bad input: a TypeError that
// names the key (or quotes the value) at pool.group(), and for an unknown group at acquire().
import test from 'ava';
import { BerthError, createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';
import { memberStats, pick, runBounded, settled, startMembers } from './helpers/groups.mjs';

// A syntactically valid member nothing needs to reach for the validation tests.
const M = '127.0.0.1:9';

/** [description, () => pool.group(...) arguments, RegExp the message must match] */
const BAD_GROUPS = [
  ['unknown balance', () => ['g', [M], { balance: 'random' }], /balance/],
  ['weight 0', () => ['g', [{ dest: M, weight: 0 }]], /weight/],
  ['weight 1.5', () => ['g', [{ dest: M, weight: 1.5 }]], /weight/],
  ['weight 1001', () => ['g', [{ dest: M, weight: 1001 }]], /weight/],
  ['weight as a string', () => ['g', [{ dest: M, weight: '2' }]], /weight/],
  ['empty member list', () => ['g', []], /member/i],
  ['members not an array', () => ['g', M], /member/i],
  // One argument is the lookup of an existing group: there is none.
  ['members missing', () => ['g'], /"g"|'g'|member/i],
  ['a member that is not a destination', () => ['g', ['nope']], /"nope"/],
  ['a member object without dest', () => ['g', [{ weight: 2 }]], /dest/],
  ['an unknown member key', () => ['g', [{ dest: M, weigth: 2 }]], /weigth/],
  ['a bad name (space)', () => ['a b', [M]], /name|"a b"/],
  ['a bad name (empty)', () => ['', [M]], /name/],
  ['a bad name (colon)', () => ['a:b', [M]], /name|"a:b"/],
  ['a bad name (65 characters)', () => ['x'.repeat(65), [M]], /name/],
  ['a name that is not a string', () => [42, [M]], /name/],
  ['an unknown option key', () => ['g', [M], { balanse: 'p2c' }], /balanse/],
  ['options not an object', () => ['g', [M], 'p2c'], /option/i],
  ['an unknown healthCheck key', () => ['g', [M], { healthCheck: { intervall: 100 } }], /intervall/],
  ['healthCheck.interval 0', () => ['g', [M], { healthCheck: { interval: 0 } }], /interval/],
  ['healthCheck.timeout -1', () => ['g', [M], { healthCheck: { timeout: -1 } }], /timeout/],
  ['healthCheck.check not a function', () => ['g', [M], { healthCheck: { check: true } }], /check/],
  ['an unknown outlier key', () => ['g', [M], { outlier: { failures: 3 } }], /failures/],
  // (0 is valid: it turns ejection off, as group-options.ts documents.)
  ['outlier.consecutiveFailures -1', () => ['g', [M], { outlier: { consecutiveFailures: -1 } }], /consecutiveFailures/],
  ['outlier.consecutiveFailures 1.5', () => ['g', [M], { outlier: { consecutiveFailures: 1.5 } }], /consecutiveFailures/],
  ['outlier.baseEjectionTime -5', () => ['g', [M], { outlier: { baseEjectionTime: -5 } }], /baseEjectionTime/],
  ['outlier.maxEjectionPercent 101', () => ['g', [M], { outlier: { maxEjectionPercent: 101 } }], /maxEjectionPercent/],
  ['an unknown retry key', () => ['g', [M], { retry: { tries: 2 } }], /tries/],
  ['retry.attempts 0', () => ['g', [M], { retry: { attempts: 0 } }], /attempts/],
  ['retry.backoff -1', () => ['g', [M], { retry: { backoff: -1 } }], /backoff/],
  ['retry.budget 2', () => ['g', [M], { retry: { budget: 2 } }], /budget/],
  ['lookup not a function', () => ['g', [M], { lookup: 'dns' }], /lookup/],
  ['dnsRefresh -1', () => ['g', [M], { dnsRefresh: -1 }], /dnsRefresh/],
];

for (const [what, args, message] of BAD_GROUPS) {
  test(`pool.group(): ${what} is a TypeError naming it`, (t) => {
    const pool = createPool(t);
    const err = t.throws(() => pool.group(...args()), { instanceOf: TypeError });
    if (err) {
      t.false(err instanceof BerthError, 'a TypeError, not a BerthError');
      t.regex(err.message, message);
    }
    // Nothing was made: the name is still free.
    t.notThrows(() => pool.group('g', [M]), 'a valid group of that name can be made afterwards');
  });
}

// A member with a host part is checked as a destination (not taken for a host name to resolve
// later), as acquire() checks it.
for (const bad of ['http://x:1', 'a b:80', 'x/y:80']) {
  test(`pool.group(): ${JSON.stringify(bad)} as a member is a TypeError quoting it (as acquire(${JSON.stringify(bad)}) is)`, async (t) => {
    const pool = createPool(t);
    await t.throwsAsync(pool.acquire(bad), { instanceOf: TypeError }, 'the destination contract');
    const err = t.throws(() => pool.group('g', [bad]), { instanceOf: TypeError });
    t.true(err?.message.includes(bad), `message quotes ${bad}: ${err?.message}`);
  });
}

test('pool.group(): a name already in use is a TypeError naming it', (t) => {
  const pool = createPool(t);
  const first = pool.group('dup', [M]);
  t.throws(() => pool.group('dup', ['127.0.0.1:10']), { instanceOf: TypeError, message: /dup/ });
  t.is(pool.group('dup'), first, 'the first group stays');
});

test('pool.group(): every valid name form is accepted', (t) => {
  const pool = createPool(t);
  for (const name of ['a', 'A-b_c.d', '0a', 'x'.repeat(64), 'api.internal']) {
    t.notThrows(() => pool.group(name, [M]), name);
  }
});

test('"group:80" is the host "group", port 80, not a group: group names are never digits alone', async (t) => {
  const pool = createPool(t, { connectTimeout: 2000 });
  for (const name of ['0', '80', '443']) {
    t.throws(() => pool.group(name, [M]), { instanceOf: TypeError, message: /digits alone/ }, name);
  }
  // An ordinary destination: resolved (and failing) as the name "group", not a TypeError.
  const err = await t.throwsAsync(pool.acquire('group:80'));
  t.false(err instanceof TypeError, `not taken for a group: ${err?.message}`);
  t.true(err instanceof BerthError, `a dial error: ${err?.message}`);
  t.true(['DNS_FAILED', 'CONNECT_REFUSED', 'CONNECT_FAILED', 'CONNECT_TIMEOUT'].includes(err?.code), `${err?.code}`);
});

test('acquire(\'group:nope\') rejects with a TypeError naming the group', async (t) => {
  const pool = createPool(t);
  let promise;
  t.notThrows(() => { promise = pool.acquire('group:nope'); }, 'acquire() does not throw synchronously');
  const err = await t.throwsAsync(promise, { instanceOf: TypeError });
  t.regex(err?.message ?? '', /nope/);
  await t.throwsAsync(pool.use('group:nope', () => {}), { instanceOf: TypeError, message: /nope/ });
  t.throws(() => pool.group('nope'), { instanceOf: TypeError, message: /nope/ }, 'pool.group(name) of no group');
  t.like(pool.stats(), { open: 0, dialing: 0, dialFailures: 0 });
});

test('acquire(group, { hashKey }) takes a string only', async (t) => {
  const [a] = await startMembers(t, 1);
  const pool = createPool(t);
  pool.group('hk', [a.dest], { balance: 'hash' });
  await t.throwsAsync(pool.acquire('group:hk', { hashKey: 42 }), { instanceOf: TypeError, message: /hashKey/ });
  t.is(await pick(pool, 'group:hk', { hashKey: 'user-1' }), a.dest);
});

test('pool.group(name) returns the same group; a group destination works in use, warm and acquireMany', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('api', [a.dest, b.dest], { balance: 'round-robin' });
  t.is(pool.group('api'), group, 'the same object');
  t.is(pool.group('api'), pool.group('api'));

  const reply = await pool.use('group:api', (socket) => roundTrip(socket, 'use'));
  t.is(reply.toString(), 'use');

  await pool.warm('group:api', 2);
  t.true(group.stats().members.reduce((n, m) => n + m.idle, 0) >= 2, 'warm opened idle connections on the members');

  const leases = [];
  for await (const lease of pool.acquireMany(['group:api', 'group:api'])) leases.push(lease);
  t.deepEqual(leases.map((l) => l.destination).sort(), [a.dest, b.dest].sort(), 'acquireMany: one lease per member');
  t.true(leases.every((l) => l.group === 'api'));
  for (const lease of leases) lease.release();

  const plain = await pool.acquire(a.dest);
  t.is(plain.group, undefined, 'a lease of a plain destination has no group');
  plain.release();
});

test('remove(): idle connections close, later acquires are TypeErrors, the name is free again', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('gone', [a.dest, b.dest], { balance: 'round-robin' });
  await runBounded(10, 1, () => pick(pool, 'group:gone'));
  t.is(await settled(a.current, 1), 1, 'A holds an idle connection');
  t.is(await settled(b.current, 1), 1, 'B holds an idle connection');

  await group.remove();
  await waitFor(async () => (await a.current()) === 0 && (await b.current()) === 0, { message: 'the members see their connections closed' });
  await t.throwsAsync(pool.acquire('group:gone'), { instanceOf: TypeError, message: /gone/ });
  t.throws(() => pool.group('gone'), { instanceOf: TypeError });

  const again = pool.group('gone', [b.dest]);
  t.not(again, group, 'a new group under the same name');
  t.is(await pick(pool, 'group:gone'), b.dest);
});

test('remove() with a lease out: releasing it afterwards is harmless', async (t) => {
  const [a] = await startMembers(t, 1);
  const pool = createPool(t);
  const group = pool.group('held', [a.dest]);
  const lease = await pool.acquire('group:held');
  await group.remove();
  t.is((await roundTrip(lease.socket, 'still works')).toString(), 'still works', 'a lease out keeps working');
  t.notThrows(() => lease.release());
  t.is(await settled(a.current, 0), 0, 'the released connection of a removed group closes');
});

test('stats(): the documented shape', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('shape', [a.dest, { dest: b.dest, weight: 2 }], { balance: 'least-connections' });

  const fresh = group.stats();
  t.like(fresh, { name: 'shape', balance: 'least-connections', acquires: 0, retries: 0, retriesRefused: 0, noHealthyMember: 0 });
  t.is(fresh.members.length, 2);
  for (const m of fresh.members) {
    t.like(m, { state: 'up', inUse: 0, idle: 0, dialing: 0, picked: 0, failures: 0, consecutiveFailures: 0, ejections: 0 });
    t.is(m.latency ?? null, null, 'no latency before a connect (strictly null: the test below)');
    t.true(m.host === undefined || m.host === null, 'no host for a plain address');
  }
  t.is(memberStats(group, a.dest).weight, 1);
  t.is(memberStats(group, b.dest).weight, 2);

  const lease = await pool.acquire('group:shape');
  await pick(pool, 'group:shape');
  const s = group.stats();
  t.is(s.acquires, 2);
  t.is(s.members.reduce((n, m) => n + m.picked, 0), 2);
  t.is(s.members.reduce((n, m) => n + m.inUse, 0), 1);
  t.is(memberStats(group, lease.destination).inUse, 1);
  for (const m of s.members) {
    for (const key of ['weight', 'inUse', 'idle', 'dialing', 'picked', 'failures', 'consecutiveFailures', 'ejections']) {
      t.true(Number.isInteger(m[key]) && m[key] >= 0, `${m.dest}.${key} is a non-negative integer (${m[key]})`);
    }
    t.true(['up', 'down', 'ejected'].includes(m.state));
    if (m.picked > 0) {
      t.true(Number.isFinite(m.latency?.p50) && m.latency.p50 >= 0, `${m.dest}.latency.p50 after a connect`);
      t.true(Number.isFinite(m.latency?.p99) && m.latency.p99 >= m.latency.p50, `${m.dest}.latency.p99 >= p50`);
    }
  }
  lease.release();
  // A plain snapshot: JSON-able, no cycles.
  t.notThrows(() => JSON.stringify(group.stats()));
});

// `{ p50, p99 } | null`: null, not undefined, before the member's first connect.
test('stats(): a member\'s latency is null before its first connect', (t) => {
  const pool = createPool(t);
  const group = pool.group('nolat', [M]);
  t.is(group.stats().members[0].latency, null);
});
