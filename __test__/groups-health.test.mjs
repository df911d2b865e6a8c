// Upstream groups (issue 16): active health checks. A user check's verdict (or, by default, a
// connect) marks members down and up; acquires avoid members that are down. Real echo servers
// on 127.0.0.1 in child processes; intervals are short (100 ms) and every wait is a polling
// bound, not a timing assertion.
import test from 'ava';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';
import { countBy, memberStats, pick, recordEvents, runBounded, startMembers } from './helpers/groups.mjs';

const picks = async (pool, dest, n) => countBy((await runBounded(n, 1, () => pick(pool, dest))).map((o) => {
  if (o.status === 'rejected') throw o.reason;
  return o.value;
}));

test('a check returning false marks the member down, acquires avoid it, true brings it back', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const verdict = { [a.dest]: true, [b.dest]: true };
  const checked = [];
  const group = pool.group('hc', [a.dest, b.dest], {
    balance: 'round-robin',
    healthCheck: {
      interval: 100,
      check: async (socket, { member }) => {
        checked.push(member);
        // The socket is connected to the member: an echo round trip proves it.
        const reply = await roundTrip(socket, `check ${member}`);
        return reply.toString() === `check ${member}` && verdict[member];
      },
    },
  });
  const events = recordEvents(group);
  await waitFor(() => checked.includes(a.dest) && checked.includes(b.dest), { timeout: 15_000, message: 'both members checked' });
  t.deepEqual(countBy(group.stats().members.map((m) => m.state)), { up: 2 }, 'both up while their checks pass');
  t.deepEqual(events.log, [], 'no event while checks pass');

  verdict[a.dest] = false;
  const down = await events.next('memberDown', a.dest);
  t.like(down, { group: 'hc', member: a.dest });
  t.is(typeof down.reason, 'string');
  t.is(memberStats(group, a.dest).state, 'down');
  t.deepEqual(await picks(pool, 'group:hc', 20), { [b.dest]: 20 }, 'every acquire goes to B while A is down');

  const mark = events.log.length;
  verdict[a.dest] = true;
  const up = await events.next('memberUp', a.dest, { from: mark });
  t.like(up, { group: 'hc', member: a.dest });
  t.is(memberStats(group, a.dest).state, 'up');
  t.deepEqual(await picks(pool, 'group:hc', 20), { [a.dest]: 10, [b.dest]: 10 }, 'A receives acquires again');
  t.false(events.log.some((e) => e.member === b.dest), 'B never changed state');
});

test('a check that throws, or never answers within its timeout, marks the member down', async (t) => {
  const [a, b, c] = await startMembers(t, 3);
  const pool = createPool(t);
  const mode = { [a.dest]: 'ok', [b.dest]: 'ok', [c.dest]: 'ok' };
  const signals = [];
  const group = pool.group('hc-fail', [a.dest, b.dest, c.dest], {
    balance: 'round-robin',
    healthCheck: {
      interval: 100,
      timeout: 300,
      check: (socket, { member, signal }) => {
        if (mode[member] === 'throw') throw new Error('check failed');
        if (mode[member] === 'hang') {
          signals.push(signal);
          return new Promise(() => {}); // never settles: the timeout applies
        }
        return true;
      },
    },
  });
  const events = recordEvents(group);
  mode[a.dest] = 'throw';
  mode[b.dest] = 'hang';
  await events.next('memberDown', a.dest);
  await events.next('memberDown', b.dest);
  t.true(signals.length >= 1 && signals[0] instanceof AbortSignal, 'the check is given an AbortSignal');
  t.true(signals[0].aborted, 'aborted once the check timed out');
  t.deepEqual(await picks(pool, 'group:hc-fail', 10), { [c.dest]: 10 }, 'acquires go to the member whose check passes');
  mode[a.dest] = 'ok';
  mode[b.dest] = 'ok';
  await events.next('memberUp', a.dest);
  await events.next('memberUp', b.dest);
  t.deepEqual(countBy(group.stats().members.map((m) => m.state)), { up: 3 });
});

test('without a check function a connect is the check: a stopped member goes down, a restarted one up', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const group = pool.group('hc-connect', [a.dest, b.dest], { balance: 'round-robin', healthCheck: { interval: 100 } });
  const events = recordEvents(group);
  await waitFor(async () => (await a.accepted()) >= 1 && (await b.accepted()) >= 1, { timeout: 15_000, message: 'checks connected to both' });

  await a.stop();
  const down = await events.next('memberDown', a.dest);
  t.is(down.member, a.dest);
  t.deepEqual(await picks(pool, 'group:hc-connect', 10), { [b.dest]: 10 }, 'no acquire goes to the stopped member');

  const mark = events.log.length;
  await a.restart();
  await events.next('memberUp', a.dest, { from: mark });
  t.deepEqual(await picks(pool, 'group:hc-connect', 10), { [a.dest]: 5, [b.dest]: 5 });
  // The checks' connections are closed after each check: the servers do not collect them.
  await waitFor(async () => (await b.current()) <= 1, { timeout: 15_000, message: 'B holds at most the pooled connection' });
  t.pass();
});

test('health checks stop when the group is removed and when the pool closes', async (t) => {
  const [a] = await startMembers(t, 1);
  const pool = createPool(t);
  let checks = 0;
  const group = pool.group('hc-stop', [a.dest], { healthCheck: { interval: 100, check: () => { checks++; return true; } } });
  await waitFor(() => checks >= 2, { timeout: 15_000, message: 'two checks ran' });
  group.remove();
  // Let any check in flight finish, then no more: 5 intervals without a check.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = checks;
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.is(checks, after, 'no check after remove()');

  const other = createPool(t);
  let otherChecks = 0;
  other.group('hc-close', [a.dest], { healthCheck: { interval: 100, check: () => { otherChecks++; return true; } } });
  await waitFor(() => otherChecks >= 2, { timeout: 15_000, message: 'two checks ran on the second pool' });
  await other.close();
  const atClose = otherChecks;
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.is(otherChecks, atClose, 'no check after pool.close()');
});

test('a member whose every place is leased is not checked (the check would wait and time out) and stays up', async (t) => {
  const [a] = await startMembers(t, 1);
  const pool = createPool(t, { maxPerDestination: 1 });
  let checks = 0;
  const group = pool.group('busy', [a.dest], {
    healthCheck: { interval: 50, timeout: 200, check: async () => { checks++; return true; } },
  });
  const events = recordEvents(group);
  await waitFor(() => checks >= 1, { timeout: 15_000, message: 'the member was checked while idle' });
  const lease = await pool.acquire('group:busy');
  const before = checks;
  // Several intervals and check timeouts go by with the only place leased.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.is(memberStats(group, a.dest).state, 'up', 'busy, not down');
  t.true(checks - before <= 1, `no check ran on a busy member (${checks - before} ran)`);
  t.deepEqual(events.log, [], 'no member event');
  lease.release();
  await waitFor(() => checks > before + 1, { timeout: 15_000, message: 'checks resume once a place is free' });
});
