// Limits: per destination, total, idle caps, waiter queue length.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, rejectsWithCode, assertStatsConsistent, useEcho } from './helpers/pool.mjs';
import { roundTrip, waitFor, range, track, promiseState } from './helpers/net.mjs';

test('1,000 concurrent acquirers with maxPerDestination 10 all succeed, never more than 10 connections', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 10 });
  let held = 0;
  let maxHeld = 0;
  let maxOpen = 0;

  const results = await Promise.all(range(1000).map(async (i) => {
    const lease = await pool.acquire(server.dest);
    held++;
    maxHeld = Math.max(maxHeld, held);
    maxOpen = Math.max(maxOpen, pool.stats().open);
    try {
      // A unique payload per acquirer: any cross-talk between leases shows up as a mismatch.
      const payload = `acquirer ${i}`;
      return (await roundTrip(lease.socket, payload)).toString() === payload;
    } finally {
      held--;
      lease.release();
    }
  }));

  t.is(results.filter(Boolean).length, 1000, 'every acquirer got its own bytes back');
  t.true(maxHeld <= 10, `at most 10 leases out at once (saw ${maxHeld})`);
  t.true(maxOpen <= 10, `pool.stats().open never above 10 (saw ${maxOpen})`);
  const s = await server.stats();
  t.true(s.maxConcurrent <= 10, `server saw at most 10 concurrent connections (saw ${s.maxConcurrent})`);
  t.true(s.maxConcurrent >= 1);
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.like(stats, { inUse: 0, waiting: 0, dialing: 0 });
  t.true(stats.open <= 10);
  t.is(stats.created + stats.reused, 1000, 'every acquire was served by a new or a reused connection');
});

test('maxTotal caps open connections across destinations', async (t) => {
  const a = await startServer(t);
  const b = await startServer(t);
  const pool = createPool(t, { maxTotal: 4, maxPerDestination: 4 });
  let held = 0;
  let maxHeld = 0;
  let maxOpen = 0;

  const results = await Promise.all(range(200).map(async (i) => {
    const dest = i % 2 ? a.dest : b.dest;
    const lease = await pool.acquire(dest);
    held++;
    maxHeld = Math.max(maxHeld, held);
    maxOpen = Math.max(maxOpen, pool.stats().open);
    try {
      const payload = `use ${i}`;
      return (await roundTrip(lease.socket, payload)).toString() === payload;
    } finally {
      held--;
      lease.release();
    }
  }));

  t.is(results.filter(Boolean).length, 200);
  t.true(maxHeld <= 4, `at most 4 leases out at once across both destinations (saw ${maxHeld})`);
  t.true(maxOpen <= 4, `pool.stats().open never above maxTotal (saw ${maxOpen})`);
  const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
  t.true(sa.maxConcurrent <= 4 && sb.maxConcurrent <= 4);
  t.true(sa.accepted >= 1 && sb.accepted >= 1, 'both destinations were served');
  assertStatsConsistent(t, pool.stats());
});

test('maxTotal: an acquire waits while the total is in use and gets a slot when another destination releases', async (t) => {
  const a = await startServer(t);
  const b = await startServer(t);
  const pool = createPool(t, { maxTotal: 4, maxPerDestination: 4 });
  const leasesA = await Promise.all(range(3).map(() => pool.acquire(a.dest)));
  const leaseB = await pool.acquire(b.dest);
  await waitFor(async () => (await a.stats()).current === 3 && (await b.stats()).current === 1,
    { message: 'servers see 3 + 1 connections' });

  // Total is 4 in use: a fifth connection (to either destination) must not be opened.
  await rejectsWithCode(t, pool.acquire(b.dest, { timeout: 300 }), 'ACQUIRE_TIMEOUT', b.dest);
  t.is((await b.stats()).accepted, 1, 'no extra connection was dialed to b');

  const waiting = track(pool.acquire(b.dest));
  await waitFor(() => pool.stats().waiting === 1, { message: 'one waiter queued' });
  // Releasing a connection to a leaves an idle connection to a at the cap: the pool must close
  // it to let the waiter for b dial, instead of leaving the waiter stuck.
  await roundTrip(leasesA[0].socket, 'x');
  leasesA[0].release();
  const lease = await waiting;
  t.is((await roundTrip(lease.socket, 'to b')).toString(), 'to b');
  t.is(lease.destination, b.dest);
  await waitFor(async () => (await a.stats()).current === 2, { message: 'server a sees the idle connection closed' });
  t.is((await b.stats()).current, 2);
  t.true(pool.stats().open <= 4);

  for (const l of [lease, leaseB, leasesA[1], leasesA[2]]) l.release();
  assertStatsConsistent(t, pool.stats());
});

test('maxTotal: idle connections to one destination do not block an acquire for another', async (t) => {
  const a = await startServer(t);
  const b = await startServer(t);
  const pool = createPool(t, { maxTotal: 2, maxPerDestination: 2, acquireTimeout: 5_000 });
  const two = await Promise.all([pool.acquire(a.dest), pool.acquire(a.dest)]);
  for (const lease of two) lease.release();
  t.like(pool.stats(), { idle: 2, open: 2 });

  await useEcho(t, pool, b.dest, 'needs a slot');
  await waitFor(async () => (await a.stats()).current === 1, { message: 'an idle connection to a was closed to make room' });
  t.true(pool.stats().open <= 2);
});

test('maxIdlePerDestination: connections beyond the idle cap are closed on release', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 5, maxIdlePerDestination: 2, acquireTimeout: 10_000 });
  const leases = await Promise.all(range(5).map(() => pool.acquire(server.dest)));
  for (const lease of leases) lease.release();
  t.like(pool.stats(), { idle: 2, inUse: 0 });
  await waitFor(async () => (await server.stats()).current === 2, { message: 'server sees 3 connections closed' });
  await waitFor(() => pool.stats().open === 2 && pool.stats().closed === 3,
    { message: () => `pool open 2 / closed 3 (stats ${JSON.stringify(pool.stats())})` });
});

test('maxTotalIdle: idle connections across destinations are capped', async (t) => {
  const a = await startServer(t);
  const b = await startServer(t);
  const pool = createPool(t, { maxTotalIdle: 2 });
  const leases = await Promise.all([a.dest, a.dest, b.dest, b.dest].map((d) => pool.acquire(d)));
  for (const lease of leases) lease.release();
  t.is(pool.stats().idle, 2);
  await waitFor(async () => (await a.stats()).current + (await b.stats()).current === 2,
    { message: 'servers see two connections closed' });
  await waitFor(() => pool.stats().open === 2, { message: () => `pool open 2 (stats ${JSON.stringify(pool.stats())})` });
});

test('maxWaiters: one more queued acquire than allowed rejects with QUEUE_FULL', async (t) => {
  const server = await startServer(t);
  const other = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1, maxWaiters: 2 });
  const holder = await pool.acquire(server.dest);
  const w1 = track(pool.acquire(server.dest));
  const w2 = track(pool.acquire(server.dest));
  await waitFor(() => pool.stats().waiting === 2, { message: 'two waiters queued' });

  await rejectsWithCode(t, pool.acquire(server.dest), 'QUEUE_FULL', server.dest);
  t.is(pool.stats().waiting, 2, 'the rejected acquire did not take a queue slot');
  t.is(await promiseState(w1), 'pending');

  // The queue is per destination: another destination is unaffected.
  await useEcho(t, pool, other.dest, 'other destination');

  // The queued ones are still served, in turn, on the one connection.
  holder.release();
  const l1 = await w1;
  t.true(l1.reused);
  l1.release();
  const l2 = await w2;
  t.true(l2.reused);
  l2.release();
  t.is((await server.stats()).accepted, 1);
  t.like(pool.stats(), { waiting: 0, inUse: 0 });
});

test('maxConcurrentDials: no more dials in flight than allowed (against a real server)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 20, maxConcurrentDials: 2, acquireTimeout: 10_000 });
  const leases = [];
  let maxDialing = 0;
  let done = false;
  // Sample stats on every turn of the event loop while 20 acquires are being served.
  const sampler = (async () => {
    while (!done) {
      maxDialing = Math.max(maxDialing, pool.stats().dialing);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const all = range(20).map(() => pool.acquire(server.dest).then((l) => { leases.push(l); return l; }));
  maxDialing = Math.max(maxDialing, pool.stats().dialing);
  try {
    await Promise.all(all);
  } finally {
    done = true; // stop sampling even if an acquire failed
    await sampler;
  }
  t.true(maxDialing <= 2, `dialing never above 2 (saw ${maxDialing})`);
  await waitFor(async () => (await server.stats()).current === 20, { message: 'server sees twenty distinct connections' });
  for (const lease of leases) lease.release();
});

test('more leases held at once than maxConcurrentDials: each still gets its own connection (defaults)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { acquireTimeout: 10_000 }); // maxConcurrentDials 4, maxPerDestination 32
  const leases = await Promise.all(range(12).map(() => pool.acquire(server.dest)));
  t.is(new Set(leases.map((l) => l.socket.localPort)).size, 12, 'twelve distinct connections');
  const replies = await Promise.all(leases.map((l, i) => roundTrip(l.socket, `held ${i}`)));
  t.deepEqual(replies.map(String), range(12).map((i) => `held ${i}`));
  t.is((await server.stats()).current, 12);
  for (const lease of leases) lease.release();
  t.like(pool.stats(), { idle: 12, inUse: 0, created: 12 });
});
