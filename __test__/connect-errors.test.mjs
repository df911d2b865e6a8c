// Dial failures: refused, timed out, DNS; limits on dials in flight; aborting a dial.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { startBlackhole } from './helpers/blackhole.mjs';
import { createPool, rejectsWithCode, assertStatsConsistent, useEcho } from './helpers/pool.mjs';
import { refusedPort, waitFor, track, range, sleep } from './helpers/net.mjs';

test('a refused connect rejects with CONNECT_REFUSED and the destination', async (t) => {
  const dest = `127.0.0.1:${await refusedPort()}`;
  const pool = createPool(t);
  await rejectsWithCode(t, pool.acquire(dest), 'CONNECT_REFUSED', dest);
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.like(stats, { open: 0, dialing: 0, inUse: 0, waiting: 0, dialFailures: 1 });
});

test('after a refused connect the pool still serves other destinations', async (t) => {
  const server = await startServer(t);
  const dest = `127.0.0.1:${await refusedPort()}`;
  const pool = createPool(t);
  await rejectsWithCode(t, pool.acquire(dest), 'CONNECT_REFUSED', dest);
  await useEcho(t, pool, server.dest, 'fine');
});

test('every queued acquire for a refusing destination is rejected, none hangs', async (t) => {
  const dest = `127.0.0.1:${await refusedPort()}`;
  const pool = createPool(t, { maxPerDestination: 2, acquireTimeout: 20_000 });
  const results = await Promise.allSettled(range(10).map(() => pool.acquire(dest)));
  for (const r of results) {
    t.is(r.status, 'rejected');
    t.is(r.reason?.code, 'CONNECT_REFUSED');
  }
  t.true(pool.stats().dialFailures >= 1);
  t.like(pool.stats(), { waiting: 0, dialing: 0, open: 0 });
});

test('each dial failure rejects the oldest waiter of the highest priority', async (t) => {
  const dest = `127.0.0.1:${await refusedPort()}`;
  // One dial at a time, so failures reach the waiters one by one.
  const pool = createPool(t, { maxConcurrentDials: 1 });
  const rejected = [];
  const acquires = [0, 5, 0, 5].map((priority, i) => track(pool.acquire(dest, { priority }).catch((err) => {
    rejected.push(i);
    throw err;
  })));
  const results = await Promise.allSettled(acquires);
  for (const r of results) t.is(r.reason?.code, 'CONNECT_REFUSED');
  t.deepEqual(rejected, [1, 3, 0, 2]);
});

test('a server that stops listening: the next dial is refused, idle connections still work', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  await useEcho(t, pool, server.dest, 'one idle connection');
  await server.control({ cmd: 'stopListening' });
  // The idle connection is still fine and is reused.
  const lease = await pool.acquire(server.dest);
  t.true(lease.reused);
  // A second connection needs a dial, which is refused.
  await rejectsWithCode(t, pool.acquire(server.dest), 'CONNECT_REFUSED', server.dest);
  lease.release();
});

test('a connect that hangs rejects with CONNECT_TIMEOUT after connectTimeout', async (t) => {
  const hole = await startBlackhole(t);
  const pool = createPool(t, { connectTimeout: 300 });
  await rejectsWithCode(t, pool.acquire(hole.dest), 'CONNECT_TIMEOUT', hole.dest);
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.like(stats, { open: 0, dialing: 0, inUse: 0, waiting: 0, dialFailures: 1 });
});

test('acquire timeout shorter than connect timeout: ACQUIRE_TIMEOUT, and the dial is cleaned up', async (t) => {
  const hole = await startBlackhole(t);
  const pool = createPool(t, { connectTimeout: 500 });
  await rejectsWithCode(t, pool.acquire(hole.dest, { timeout: 100 }), 'ACQUIRE_TIMEOUT', hole.dest);
  // The dial may run on to its own timeout; it must not leave anything behind.
  await waitFor(() => pool.stats().dialing === 0 && pool.stats().open === 0,
    { message: () => `dial cleaned up (stats ${JSON.stringify(pool.stats())})` });
  t.like(pool.stats(), { inUse: 0, waiting: 0 });
});

test('maxConcurrentDials bounds the dials in flight to a destination', async (t) => {
  const hole = await startBlackhole(t);
  const pool = createPool(t, { maxConcurrentDials: 2, maxPerDestination: 10, connectTimeout: 2_000 });
  const acquires = range(6).map(() => track(pool.acquire(hole.dest)));
  // All six are waiting on dials that cannot complete: exactly two dials may be in flight.
  await waitFor(() => pool.stats().dialing === 2, { message: () => `2 dials in flight (stats ${JSON.stringify(pool.stats())})` });
  for (let i = 0; i < 10; i++) {
    t.true(pool.stats().dialing <= 2, `dialing <= 2 (got ${pool.stats().dialing})`);
    await sleep(20);
  }
  const results = await Promise.allSettled(acquires);
  for (const r of results) t.is(r.reason?.code, 'CONNECT_TIMEOUT');
  t.like(pool.stats(), { dialing: 0, open: 0, waiting: 0 });
});

test('aborting an acquire whose dial is in flight rejects with signal.reason', async (t) => {
  const hole = await startBlackhole(t);
  const pool = createPool(t, { connectTimeout: 1_000 });
  const controller = new AbortController();
  const acquiring = track(pool.acquire(hole.dest, { signal: controller.signal }));
  await waitFor(() => pool.stats().dialing === 1, { message: 'dial in flight' });
  const reason = new Error('no longer needed');
  controller.abort(reason);
  await t.throwsAsync(acquiring, { is: reason });
  await waitFor(() => pool.stats().dialing === 0 && pool.stats().open === 0, { message: 'dial cleaned up' });
  t.like(pool.stats(), { inUse: 0, waiting: 0 });
});

test('an unresolvable host name rejects with DNS_FAILED', async (t) => {
  // .invalid is reserved (RFC 2606) and never resolves.
  const dest = 'berth-test.invalid:80';
  const pool = createPool(t, { connectTimeout: 10_000 });
  await rejectsWithCode(t, pool.acquire(dest, { timeout: 20_000 }), 'DNS_FAILED', dest);
  t.like(pool.stats(), { open: 0, dialing: 0, waiting: 0 });
});

test('a host name destination is resolved (localhost)', async (t) => {
  // The server listens on 127.0.0.1 only; localhost must reach it whatever order the resolver
  // returns ::1 and 127.0.0.1 in.
  const server = await startServer(t);
  const dest = `localhost:${server.port}`;
  const pool = createPool(t);
  await useEcho(t, pool, dest, 'by name');
  const lease = await pool.acquire(dest);
  t.true(lease.reused);
  t.is(lease.destination, dest);
  lease.release();
  t.is((await server.stats()).accepted, 1);
});
