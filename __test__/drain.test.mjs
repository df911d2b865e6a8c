// pool.drain(): refuse new acquires, wait for leases to come back, then close everything.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, rejectsWithCode, useEcho, BerthError } from './helpers/pool.mjs';
import { roundTrip, waitFor, track, promiseState, sleep, range } from './helpers/net.mjs';

test('drain() waits for an outstanding lease, then closes every connection', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  await Promise.all(range(3).map((i) => useEcho(t, pool, server.dest, `idle ${i}`)));
  const lease = await pool.acquire(server.dest);

  const draining = track(pool.drain());
  await sleep(200);
  t.is(await promiseState(draining), 'pending', 'drain() waits while a lease is out');
  // The lease is still fully usable while the pool drains.
  t.is((await roundTrip(lease.socket, 'during drain')).toString(), 'during drain');

  lease.release();
  await draining;
  t.like(pool.stats(), { open: 0, idle: 0, inUse: 0 }, 'every connection is closed when drain() resolves');
  // The server processes the FINs in its own time.
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees every connection closed' });
});

test('acquire during drain rejects with POOL_DRAINING', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  const draining = track(pool.drain());
  await rejectsWithCode(t, pool.acquire(server.dest), 'POOL_DRAINING', server.dest);
  await t.throwsAsync(pool.use(server.dest, () => t.fail('use() callback must not run while draining')),
    { instanceOf: BerthError, code: 'POOL_DRAINING' });
  lease.release();
  await draining;
});

test('acquire after drain() has finished is refused', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  await useEcho(t, pool, server.dest, 'x');
  await pool.drain();
  // The contract: drain refuses with POOL_DRAINING and then closes the pool; either code
  // is a refusal, what matters is that no connection is opened.
  const err = await t.throwsAsync(pool.acquire(server.dest), { instanceOf: BerthError });
  t.true(['POOL_CLOSED', 'POOL_DRAINING'].includes(err.code), `code ${err.code}`);
  t.is((await server.stats()).accepted, 1);
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees every connection closed' });
});

test('drain() with nothing leased resolves and closes the idle connections', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  await Promise.all(range(2).map((i) => useEcho(t, pool, server.dest, `idle ${i}`)));
  await pool.drain();
  t.like(pool.stats(), { open: 0 });
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees every connection closed' });
});

test('drain({ timeout }) with a lease held past the timeout rejects with DRAIN_TIMEOUT', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  await rejectsWithCode(t, pool.drain({ timeout: 200 }), 'DRAIN_TIMEOUT');
  // New acquires are still refused after the timed-out drain.
  const err = await t.throwsAsync(pool.acquire(server.dest), { instanceOf: BerthError });
  t.true(['POOL_CLOSED', 'POOL_DRAINING'].includes(err.code), `code ${err.code}`);
  // close() finishes the job: every connection, leased or not, goes.
  await pool.close();
  t.true(lease.socket.destroyed, 'the held lease was destroyed by close()');
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees every connection closed' });
  t.like(pool.stats(), { open: 0, inUse: 0 });
});

test('drain({ timeout }) resolves when the lease comes back in time', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  const draining = track(pool.drain({ timeout: 10_000 }));
  setTimeout(() => lease.release(), 100);
  await draining;
  t.like(pool.stats(), { open: 0 });
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees every connection closed' });
});

test('drain() with queued waiters settles every waiter and resolves', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const holder = await pool.acquire(server.dest);
  const waiters = range(3).map(() => track(pool.acquire(server.dest).then((lease) => {
    // If drain hands the connection to queued waiters, they give it back at once.
    lease.release();
    return 'served';
  })));
  await waitFor(() => pool.stats().waiting === 3, { message: 'three waiters queued' });
  const draining = track(pool.drain());
  holder.release();
  await draining;
  await waitFor(async () => (await Promise.all(waiters.map(promiseState))).every((s) => s !== 'pending'),
    { message: 'every queued waiter settles' });
  const settled = await Promise.allSettled(waiters);
  for (const r of settled) {
    if (r.status === 'rejected') t.true(r.reason instanceof BerthError, `waiter rejected with ${r.reason}`);
  }
  t.like(pool.stats(), { waiting: 0, open: 0 });
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees every connection closed' });
});
