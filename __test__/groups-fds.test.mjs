// Upstream groups (issue 16): no descriptor leaks. A member killed and restarted under load
// (ejection, health checks, retries, a native listener to the group, a removed group), then
// pool.close(): the process has the descriptors it had before the pool. Serial, so nothing else
// in this process opens or closes descriptors while we count them.
import test from 'ava';
import { Pool, createPool } from './helpers/pool.mjs';
import { fdCount, range, roundTrip, waitFor } from './helpers/net.mjs';
import { connect, collect } from './helpers/forward.mjs';
import { echoVia, pick, recordEvents, refusingDest, runBounded, startMembers } from './helpers/groups.mjs';

test.serial('kill and restart a member under load, then close(): no descriptor is left', async (t) => {
  // Every server (child process, one IPC descriptor each) starts before the count.
  const [a, b, c, d] = await startMembers(t, 4);
  const refusing = await refusingDest();

  // Warm up the process-wide runtime with a throwaway pool and group (its threads and
  // descriptors, if any, are the process's, not the pool's).
  const warm = createPool(t);
  warm.group('warm', [a.dest], { healthCheck: { interval: 100 } });
  await echoVia(warm, 'group:warm', 'warm up');
  await warm.close();

  const before = fdCount();
  const pool = new Pool({ acquireTimeout: 10_000 });
  let closed = false;
  t.teardown(() => (closed ? undefined : pool.close()));
  const group = pool.group('api', [a.dest, b.dest, c.dest, refusing], {
    balance: 'round-robin',
    healthCheck: { interval: 100 },
    outlier: { consecutiveFailures: 2, baseEjectionTime: 200, maxEjectionPercent: 50 },
    retry: { attempts: 3, budget: 1 },
  });
  const other = pool.group('other', [d.dest]);
  const events = recordEvents(group);
  const proxy = await pool.listen({ port: 0 }, 'group:api');

  const load = async (n, label) => {
    const outcomes = await runBounded(n, 4, (i) => echoVia(pool, 'group:api', `${label} ${i}`));
    return outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason.member ?? String(o.reason));
  };
  const sessions = async (n) => {
    for (const i of range(n)) {
      const client = await connect(t, proxy.address().port);
      await roundTrip(client, `session ${i}`);
      const rest = collect(client);
      client.end();
      await rest;
    }
  };

  t.deepEqual(await load(60, 'before'), [], 'no failure before the kill');
  await sessions(5);
  await echoVia(pool, 'group:other', 'other');
  const held = await Promise.all(range(6).map(() => pool.acquire('group:api')));

  await a.stop();
  for (const lease of held) lease.destroy();
  const failedOn = await load(60, 'during');
  t.deepEqual(failedOn.filter((m) => m !== a.dest), [], 'only sessions on A fail');
  // Ejected by its failures, or marked down by its health check first: either takes it out.
  await waitFor(() => events.find('memberEjected', a.dest) ?? events.find('memberDown', a.dest), { timeout: 15_000, message: 'A taken out' });
  await sessions(5);

  const mark = events.log.length;
  await a.restart();
  await events.next('memberUp', a.dest, { from: mark });
  t.deepEqual(await load(60, 'after'), [], 'no failure after A is back');
  await sessions(5);
  await other.remove();
  const during = fdCount();
  t.true(during > before, `the pool holds descriptors (${before} before, ${during} during)`);

  await pool.close();
  closed = true;
  // Client sockets of this process close on the next loop turns: poll, then assert.
  await waitFor(() => fdCount() === before, { timeout: 5_000 }).catch(() => {});
  t.is(fdCount(), before, `descriptors: ${before} before the pool, ${during} in use, ${fdCount()} after close()`);
  for (const server of [a, b, c, d]) {
    await waitFor(async () => (await server.current()) === 0, { message: `${server.dest} sees every connection closed` });
  }
});

test.serial('a group removed while its members are dead and ejected leaves no descriptor', async (t) => {
  const [a] = await startMembers(t, 1);
  const dead = [await refusingDest(), await refusingDest()];
  const warm = createPool(t);
  await pick(warm, a.dest);
  await warm.close();

  const before = fdCount();
  const pool = new Pool({ acquireTimeout: 5_000 });
  let closed = false;
  t.teardown(() => (closed ? undefined : pool.close()));
  const group = pool.group('dead', [...dead, a.dest], {
    balance: 'round-robin',
    healthCheck: { interval: 100 },
    outlier: { consecutiveFailures: 1, baseEjectionTime: 200, maxEjectionPercent: 100 },
  });
  const outcomes = await runBounded(30, 3, () => pick(pool, 'group:dead'));
  t.true(outcomes.some((o) => o.status === 'fulfilled'), 'the live member served acquires');
  await group.remove();
  await pool.close();
  closed = true;
  await waitFor(() => fdCount() === before, { timeout: 5_000 }).catch(() => {});
  t.is(fdCount(), before);
});
