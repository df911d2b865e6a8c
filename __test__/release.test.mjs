// Releasing twice, or releasing and destroying the same lease, throws ALREADY_RELEASED and
// never corrupts the pool (e.g. by putting one connection on the idle list twice).
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, assertStatsConsistent, settledStats, BerthError } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';

const ALREADY_RELEASED = { instanceOf: BerthError, code: 'ALREADY_RELEASED' };

/** Two leases held at once must be two different connections, each echoing its own bytes. */
async function assertTwoDistinctLeases(t, pool, dest) {
  const [a, b] = await Promise.all([pool.acquire(dest), pool.acquire(dest)]);
  t.not(a.socket, b.socket, 'two leases do not share a socket');
  t.not(a.socket.localPort, b.socket.localPort, 'two leases do not share a connection');
  const [ra, rb] = await Promise.all([roundTrip(a.socket, 'lease a'), roundTrip(b.socket, 'lease b')]);
  t.is(ra.toString(), 'lease a');
  t.is(rb.toString(), 'lease b');
  a.release();
  b.release();
}

test('release() twice throws ALREADY_RELEASED; the connection is pooled once', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  await roundTrip(lease.socket, 'x');
  lease.release();
  t.throws(() => lease.release(), ALREADY_RELEASED);

  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.like(stats, { open: 1, idle: 1, inUse: 0 });
  await assertTwoDistinctLeases(t, pool, server.dest);
  t.is((await server.stats()).accepted, 2);
  t.like(pool.stats(), { open: 2, idle: 2, inUse: 0 });
});

test('release() after destroy() throws ALREADY_RELEASED; the connection stays gone', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  lease.destroy();
  t.throws(() => lease.release(), ALREADY_RELEASED);
  t.true(lease.socket.destroyed);

  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the destroyed connection closed' });
  await waitFor(() => pool.stats().open === 0, { message: () => `open back to 0 (stats ${JSON.stringify(pool.stats())})` });
  const expected = { open: 0, idle: 0, inUse: 0, closed: 1 };
  const stats = await settledStats(pool, expected);
  assertStatsConsistent(t, stats);
  t.like(stats, expected);
  const next = await pool.acquire(server.dest);
  t.false(next.reused, 'the destroyed connection was not pooled');
  t.is((await roundTrip(next.socket, 'new')).toString(), 'new');
  next.release();
});

test('destroy() after release() throws ALREADY_RELEASED and does not kill the pooled connection', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  await roundTrip(lease.socket, 'x');
  lease.release();
  t.throws(() => lease.destroy(), ALREADY_RELEASED);

  t.like(pool.stats(), { open: 1, idle: 1 });
  const next = await pool.acquire(server.dest);
  t.true(next.reused, 'the pooled connection survived the stray destroy()');
  t.is((await roundTrip(next.socket, 'alive')).toString(), 'alive');
  next.release();
  t.is((await server.stats()).accepted, 1);
});

test('destroy() twice throws ALREADY_RELEASED', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  lease.destroy(new Error('bad connection'));
  t.throws(() => lease.destroy(), ALREADY_RELEASED);
  t.is(pool.stats().inUse, 0);
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the close' });
  // Closed once, not twice.
  t.like(await settledStats(pool, { open: 0, closed: 1 }), { open: 0, closed: 1 });
});

test('a stale lease released after its connection was handed to someone else does not steal it', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const first = await pool.acquire(server.dest);
  first.release();
  const second = await pool.acquire(server.dest);
  t.true(second.reused);
  // The old lease object is dead: it must not release the connection now used by `second`.
  t.throws(() => first.release(), ALREADY_RELEASED);
  t.like(pool.stats(), { inUse: 1, idle: 0 });
  const third = pool.acquire(server.dest, { timeout: 300 });
  await t.throwsAsync(third, { instanceOf: BerthError, code: 'ACQUIRE_TIMEOUT' });
  t.is((await roundTrip(second.socket, 'still mine')).toString(), 'still mine');
  second.release();
});

test('the ALREADY_RELEASED error is a BerthError and an Error', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  lease.release();
  const err = t.throws(() => lease.release(), ALREADY_RELEASED);
  t.true(err instanceof Error);
  t.is(typeof err.message, 'string');
});

test('a lease is a plain value, not a thenable: awaiting it again yields the lease itself', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  t.not(typeof lease.then, 'function');
  t.false(Object.keys(lease).includes('then'));
  t.is(await lease, lease);
  t.is(await Promise.resolve(lease), lease);
  const [viaAll] = await Promise.all([lease]);
  t.is(viaAll, lease);
  lease.release();
});
