// Upstream groups (issue 16): a member dies under load (outlier ejection, rejoining), every
// member dead (NO_HEALTHY_MEMBER), and connect failures retried on another member. Real echo
// servers on 127.0.0.1 in child processes; a dead member is one whose listener and connections
// were closed (connects to it are refused), a refusing member a port nothing listens on.
import test from 'ava';
import { BerthError, createPool } from './helpers/pool.mjs';
import { range, roundTrip, track, waitFor } from './helpers/net.mjs';
import { startBlackhole } from './helpers/blackhole.mjs';
import {
  countBy, echoVia, memberStats, pick, recordEvents, refusingDest, runBounded, startMembers,
} from './helpers/groups.mjs';

/** Resolves with 'fulfilled' | 'rejected' once `promise` settles; a hang guard of `guardMs`. */
function settled(promise, guardMs = 20_000) {
  let timer;
  const guard = new Promise((resolve) => { timer = setTimeout(() => resolve('pending'), guardMs); });
  return Promise.race([promise.then(() => 'fulfilled', () => 'rejected'), guard]).finally(() => clearTimeout(timer));
}

test('a member killed mid-load: only its sessions fail, it is ejected, then it rejoins', async (t) => {
  const [a, b, c] = await startMembers(t, 3);
  const pool = createPool(t, { acquireTimeout: 10_000 });
  const consecutiveFailures = 3;
  const group = pool.group('kill', [a.dest, b.dest, c.dest], {
    balance: 'round-robin',
    outlier: { consecutiveFailures, baseEjectionTime: 200, maxEjectionPercent: 50 },
    retry: { attempts: 3, budget: 1 },
  });
  const events = recordEvents(group);
  let atEjection = null;
  group.on('memberEjected', () => { atEjection ??= group.stats(); });

  // Load before the kill: every session succeeds, on every member.
  const before = await runBounded(60, 3, (i) => echoVia(pool, 'group:kill', `before ${i}`));
  t.deepEqual(before.filter((o) => o.status === 'rejected').map((o) => String(o.reason)), [], 'no failure before the kill');
  t.deepEqual(Object.keys(countBy(before.map((o) => o.value))).sort(), [a.dest, b.dest, c.dest].sort());

  // Sessions in progress on every member, then A dies (listener and connections closed).
  const held = [];
  for (const _ of range(6)) held.push(await pool.acquire('group:kill'));
  t.deepEqual(countBy(held.map((l) => l.destination)), { [a.dest]: 2, [b.dest]: 2, [c.dest]: 2 });
  const idleOnA = memberStats(group, a.dest).idle;
  await a.stop();

  // The sessions that were on A fail; the others carry on.
  const inFlight = await Promise.allSettled(held.map(async (lease, i) => {
    try {
      await roundTrip(lease.socket, `held ${i}`, { timeout: 5_000 });
    } catch (err) {
      lease.destroy(err);
      throw err;
    }
    lease.release();
  }));
  held.forEach((lease, i) => {
    t.is(inFlight[i].status, lease.destination === a.dest ? 'rejected' : 'fulfilled', `held session on ${lease.destination}`);
  });

  // Load during and after the ejection: whatever fails was on A.
  const LOAD = 3;
  const during = await runBounded(90, LOAD, (i) => echoVia(pool, 'group:kill', `during ${i}`));
  const failedOn = during.filter((o) => o.status === 'rejected').map((o) => o.reason.member ?? `no lease: ${o.reason}`);
  t.deepEqual(failedOn.filter((m) => m !== a.dest), [], 'only sessions on the dead member fail');

  const ejected = await events.next('memberEjected', a.dest);
  t.is(ejected.group, 'kill');
  t.is(typeof ejected.reason, 'string');
  t.true(Number.isFinite(ejected.ejectedFor) && ejected.ejectedFor > 0, `ejectedFor is a duration (${ejected.ejectedFor})`);
  t.deepEqual([...new Set(events.log.filter((e) => e.name === 'memberEjected').map((e) => e.member))], [a.dest], 'only A is ejected');
  const failuresAtEjection = atEjection.members.find((m) => m.dest === a.dest).failures;
  // The 2 held sessions, the idle connections it had, and at most one failure per load worker in
  // flight when the count was reached may count beyond the configured number.
  const bound = consecutiveFailures + 2 + idleOnA + LOAD;
  t.true(failuresAtEjection >= consecutiveFailures && failuresAtEjection <= bound,
    `A was ejected after ${failuresAtEjection} failures (configured ${consecutiveFailures}, at most ${bound} with what was in flight)`);

  // While A is ejected (and still dead), every acquire succeeds on B or C.
  const ejectedPhase = await runBounded(60, LOAD, (i) => echoVia(pool, 'group:kill', `ejected ${i}`));
  t.deepEqual(ejectedPhase.filter((o) => o.status === 'rejected').map((o) => String(o.reason)), [], 'every acquire succeeds once A is ejected');
  t.false(ejectedPhase.some((o) => o.value === a.dest), 'no acquire goes to A');
  t.is(memberStats(group, a.dest).state, 'ejected');
  t.true(memberStats(group, a.dest).ejections >= 1);

  // A comes back on the same port: after its ejection time and a passing check it is up again.
  const mark = events.log.length;
  await a.restart();
  const up = await events.next('memberUp', a.dest, { from: mark });
  t.is(up.group, 'kill');
  t.is(memberStats(group, a.dest).state, 'up');
  const acceptedBefore = await a.accepted();
  const after = await runBounded(60, 1, (i) => echoVia(pool, 'group:kill', `after ${i}`));
  t.deepEqual(after.filter((o) => o.status === 'rejected').map((o) => String(o.reason)), [], 'every acquire succeeds after A is back');
  const counts = countBy(after.map((o) => o.value));
  t.true((counts[a.dest] ?? 0) >= 10, `A receives acquires again (${JSON.stringify(counts)})`);
  t.true(await a.accepted() > acceptedBefore, 'the restarted server accepted connections');
});

test('every member dead: the acquire rejects with NO_HEALTHY_MEMBER', async (t) => {
  const dests = [await refusingDest(), await refusingDest()];
  const pool = createPool(t, { acquireTimeout: 5_000 });
  pool.group('dead', dests, { outlier: { consecutiveFailures: 1, baseEjectionTime: 200 } });

  const first = track(pool.acquire('group:dead'));
  t.is(await settled(first), 'rejected', 'the acquire settles');
  const err = await t.throwsAsync(first, { instanceOf: BerthError, code: 'NO_HEALTHY_MEMBER' });
  t.is(err?.cause?.code, 'CONNECT_REFUSED', `its cause is the last connect error (${err?.cause?.code})`);
  t.is(err?.destination, 'group:dead');

  // Again, with a member now ejected: still NO_HEALTHY_MEMBER.
  const second = track(pool.acquire('group:dead'));
  t.is(await settled(second), 'rejected');
  await t.throwsAsync(second, { instanceOf: BerthError, code: 'NO_HEALTHY_MEMBER' });

  // Many at once: every one settles with the same code.
  const many = range(20).map(() => track(pool.acquire('group:dead')));
  const codes = await Promise.all(many.map((p) => p.then(() => 'resolved', (e) => e.code)));
  t.deepEqual(countBy(codes), { NO_HEALTHY_MEMBER: 20 });
});

test('every member ejected: NO_HEALTHY_MEMBER without a connect, and counted', async (t) => {
  const dests = [await refusingDest(), await refusingDest()];
  const pool = createPool(t, { acquireTimeout: 5_000 });
  const group = pool.group('ejected', dests, { outlier: { consecutiveFailures: 1, baseEjectionTime: 60_000, maxEjectionPercent: 100 } });
  const events = recordEvents(group);
  await t.throwsAsync(pool.acquire('group:ejected'), { instanceOf: BerthError, code: 'NO_HEALTHY_MEMBER' });
  for (const dest of dests) await events.next('memberEjected', dest);
  const failures = group.stats().members.map((m) => m.failures);
  await t.throwsAsync(pool.acquire('group:ejected'), { instanceOf: BerthError, code: 'NO_HEALTHY_MEMBER' });
  t.deepEqual(group.stats().members.map((m) => m.failures), failures, 'no member was dialed');
  t.true(group.stats().noHealthyMember >= 1, `stats().noHealthyMember (${group.stats().noHealthyMember})`);
});

// Every NO_HEALTHY_MEMBER is counted, an acquire that tried every member included.
test('stats().noHealthyMember counts every NO_HEALTHY_MEMBER rejection', async (t) => {
  const dests = [await refusingDest(), await refusingDest()];
  const pool = createPool(t, { acquireTimeout: 5_000 });
  const group = pool.group('count-nhm', dests, { outlier: { consecutiveFailures: 100 } });
  for (const _ of range(3)) await t.throwsAsync(pool.acquire('group:count-nhm'), { code: 'NO_HEALTHY_MEMBER' });
  t.is(group.stats().noHealthyMember, 3);
});

test('the retry budget: beyond it a connect failure is the acquire\'s error, counted in retriesRefused', async (t) => {
  const [live] = await startMembers(t, 1);
  const refusing = [await refusingDest(), await refusingDest()];
  const pool = createPool(t);
  // budget 0: only the floor (100 retries per 10 s, docs/groups.md); ejection off, so the
  // refusing members stay. Two of three acquires start on a refusing member and need a retry
  // or two: 300 acquires need more than the floor (bounded: they take well under 10 s).
  const group = pool.group('budget', [...refusing, live.dest], {
    balance: 'round-robin',
    retry: { attempts: 3, budget: 0, backoff: 0 },
    outlier: { consecutiveFailures: 0 },
  });
  const outcomes = await runBounded(300, 1, () => pick(pool, 'group:budget'));
  const rejected = outcomes.filter((o) => o.status === 'rejected');
  t.true(rejected.length >= 1, 'some acquires run out of budget');
  t.deepEqual([...new Set(rejected.map((o) => o.reason.code))], ['CONNECT_REFUSED'], 'the connect error, not NO_HEALTHY_MEMBER (a member was left untried)');
  t.true(outcomes.filter((o) => o.status === 'fulfilled').every((o) => o.value === live.dest));
  const s = group.stats();
  t.true(s.retries >= 100, `the floor of retries was granted (${s.retries})`);
  t.true(s.retries < 300, `but not one per failed connect (${s.retries})`);
  t.is(s.retriesRefused, rejected.length, 'each refused retry failed its acquire');
});

test('failover: acquires that meet a refusing member are retried on another one', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const refusing = await refusingDest();
  const pool = createPool(t);
  const group = pool.group('retry', [a.dest, refusing, b.dest], {
    balance: 'round-robin',
    retry: { attempts: 2 },
    // Ejected for 200 ms at a time only: the refusing member keeps being picked and retried.
    outlier: { consecutiveFailures: 2, baseEjectionTime: 200 },
  });

  const outcomes = await runBounded(100, 4, (i) => echoVia(pool, 'group:retry', `retry ${i}`));
  const failed = outcomes.filter((o) => o.status === 'rejected');
  t.deepEqual(failed.map((o) => `${o.reason?.code}: ${o.reason?.message}`), [], 'all 100 acquires succeed');
  const counts = countBy(outcomes.map((o) => o.value));
  t.deepEqual(Object.keys(counts).sort(), [a.dest, b.dest].sort(), `leases only on the live members (${JSON.stringify(counts)})`);
  const s = group.stats();
  t.true(s.retries > 0, `stats().retries (${s.retries})`);
  t.true(memberStats(group, refusing).failures >= 1, 'the refusing member counted its connect failures');
  t.is(memberStats(group, refusing).inUse, 0);
});

test('out of attempts while untried members remain: the last connect error, not NO_HEALTHY_MEMBER', async (t) => {
  const dests = [await refusingDest(), await refusingDest(), await refusingDest()];
  const pool = createPool(t, { acquireTimeout: 5_000 });
  pool.group('one-try', dests, { balance: 'round-robin', retry: { attempts: 1 }, outlier: { consecutiveFailures: 100 } });
  const err = await t.throwsAsync(pool.acquire('group:one-try'), { instanceOf: BerthError });
  t.is(err?.code, 'CONNECT_REFUSED', `code ${err?.code}`);
  t.is(pool.group('one-try').stats().retries, 0, 'no retry with attempts: 1');
});

test('a lease handed out is never retried: leases destroyed with an error eject the member', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('destroyed', [a.dest, b.dest], {
    balance: 'round-robin',
    outlier: { consecutiveFailures: 2, baseEjectionTime: 60_000 },
  });
  const events = recordEvents(group);
  // Two leases on A at once (both connected before either fails), destroyed with an error.
  const leases = [];
  for (const _ of range(4)) leases.push(await pool.acquire('group:destroyed'));
  for (const lease of leases) {
    if (lease.destination === a.dest) lease.destroy(new Error('bad reply'));
    else lease.release();
  }
  await events.next('memberEjected', a.dest);
  t.is(memberStats(group, a.dest).state, 'ejected');
  t.is(memberStats(group, a.dest).failures, 2);
  t.is(group.stats().retries, 0, 'nothing was retried');
  const picks = await runBounded(10, 1, () => pick(pool, 'group:destroyed'));
  t.true(picks.every((o) => o.value === b.dest), 'acquires go to B while A is ejected');
});

// A member that accepts connections but whose every lease fails (destroyed with an error, each
// on a fresh connection) is ejected: a new connection coming up does not end a streak that
// includes a failed lease; only a lease given back in order does.
test('leases destroyed with an error one after another (each on a new connection) eject the member', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('destroyed-seq', [a.dest, b.dest], {
    balance: 'round-robin',
    outlier: { consecutiveFailures: 2, baseEjectionTime: 60_000 },
  });
  for (const _ of range(6)) {
    const lease = await pool.acquire('group:destroyed-seq');
    if (lease.destination === a.dest) lease.destroy(new Error('bad reply'));
    else lease.release();
  }
  t.is(memberStats(group, a.dest).state, 'ejected', `A after 3 failed leases in a row: ${JSON.stringify(memberStats(group, a.dest))}`);
});

test('a success resets the consecutive failure count', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('reset', [a.dest, b.dest], {
    balance: 'round-robin',
    outlier: { consecutiveFailures: 2, baseEjectionTime: 60_000 },
  });
  const events = recordEvents(group);
  // On A: failure, success, failure, success: never two in a row, never ejected. (Each failed
  // lease is destroyed, so A's next lease is also a new connection, whose connect resets too.)
  let onA = 0;
  for (const _ of range(8)) {
    const lease = await pool.acquire('group:reset');
    if (lease.destination === a.dest && onA++ % 2 === 0) lease.destroy(new Error('bad reply'));
    else lease.release();
  }
  t.is(onA, 4);
  t.like(memberStats(group, a.dest), { state: 'up', failures: 2, consecutiveFailures: 0, ejections: 0 });
  t.deepEqual(events.log, [], 'no member event');
});

test('a member whose connects time out is failed over too (CONNECT_TIMEOUT is retried)', async (t) => {
  const [live] = await startMembers(t, 1);
  const hole = await startBlackhole(t);
  const pool = createPool(t, { connectTimeout: 300, acquireTimeout: 10_000 });
  const group = pool.group('slow', [hole.dest, live.dest], {
    balance: 'round-robin',
    retry: { attempts: 2, budget: 1 },
    outlier: { consecutiveFailures: 100 },
  });
  const outcomes = await runBounded(6, 1, () => pick(pool, 'group:slow'));
  t.deepEqual(outcomes.map((o) => o.status === 'fulfilled' ? o.value : `${o.reason.code}`), Array(6).fill(live.dest));
  t.true(group.stats().retries >= 1, `stats().retries (${group.stats().retries})`);
  t.true(memberStats(group, hole.dest).failures >= 1);
});

test('the acquire\'s deadline covers every attempt: a group of unreachable members settles by it', async (t) => {
  const holes = [await startBlackhole(t), await startBlackhole(t)];
  const pool = createPool(t, { connectTimeout: 30_000 });
  pool.group('holes', holes.map((h) => h.dest), { retry: { attempts: 3, budget: 1 } });
  const p = track(pool.acquire('group:holes', { timeout: 500 }));
  t.is(await settled(p), 'rejected', 'the acquire settles');
  const err = await t.throwsAsync(p, { instanceOf: BerthError });
  t.is(err?.code, 'ACQUIRE_TIMEOUT', `code ${err?.code}`);
});

test('each ejection of a member that stays dead lasts longer: n x baseEjectionTime', async (t) => {
  const [live] = await startMembers(t, 1);
  const dead = await refusingDest();
  const pool = createPool(t);
  const group = pool.group('longer', [dead, live.dest], {
    balance: 'round-robin',
    outlier: { consecutiveFailures: 1, baseEjectionTime: 100, maxEjectionPercent: 50 },
    retry: { attempts: 2, budget: 1 },
  });
  const events = recordEvents(group);
  // Round robin starts on the dead member: its refused connect ejects it, the retry succeeds.
  t.is(await pick(pool, 'group:longer'), live.dest);
  // Its return checks (a connect) fail: ejected again, each time for longer.
  await waitFor(() => events.log.filter((e) => e.name === 'memberEjected').length >= 3, { timeout: 15_000, message: 'three ejections' });
  const lengths = events.log.filter((e) => e.name === 'memberEjected').map((e) => e.ejectedFor);
  t.deepEqual(lengths.slice(0, 3), [100, 200, 300]);
  t.true(events.log.every((e) => e.member === dead), 'only the dead member changes state');
  t.true(memberStats(group, dead).ejections >= 3);
});

test('maxEjectionPercent: at most that share of the members is ejected at once', async (t) => {
  const [live] = await startMembers(t, 1);
  const dead = [await refusingDest(), await refusingDest(), await refusingDest()];
  const pool = createPool(t);
  const group = pool.group('cap', [live.dest, ...dead], {
    balance: 'round-robin',
    outlier: { consecutiveFailures: 1, baseEjectionTime: 60_000, maxEjectionPercent: 50 },
    retry: { attempts: 4, budget: 1 },
  });
  let most = 0;
  const outcomes = await runBounded(40, 1, async () => {
    const member = await pick(pool, 'group:cap');
    most = Math.max(most, group.stats().members.filter((m) => m.state === 'ejected').length);
    return member;
  });
  t.true(outcomes.every((o) => o.status === 'fulfilled' && o.value === live.dest), 'every acquire ends on the live member');
  t.is(most, 2, 'two of four ejected at most (50%)');
  t.is(group.stats().members.filter((m) => m.state === 'ejected').length, 2);
});
