// The pool's own evictions: idleTimeout and maxLifetime.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, useEcho, assertStatsConsistent, settledStats } from './helpers/pool.mjs';
import { roundTrip, waitFor, sleep, range } from './helpers/net.mjs';

test('idleTimeout closes a connection left idle (evicted.idle, the server sees the close)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { idleTimeout: 200 });
  await useEcho(t, pool, server.dest, 'then idle');
  t.is(pool.stats().idle, 1);

  await waitFor(() => pool.stats().evicted.idle === 1, { message: () => `evicted.idle reaches 1 (stats ${JSON.stringify(pool.stats())})` });
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the close' });
  const expected = { open: 0, idle: 0, closed: 1 };
  const stats = await settledStats(pool, expected);
  assertStatsConsistent(t, stats);
  t.like(stats, expected);

  const lease = await pool.acquire(server.dest);
  t.false(lease.reused, 'a new connection after the idle one was evicted');
  t.is((await roundTrip(lease.socket, 'new')).toString(), 'new');
  lease.release();
  t.is((await server.stats()).accepted, 2);
});

test('idleTimeout evicts each of several idle connections', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { idleTimeout: 150 });
  const leases = await Promise.all(range(4).map(() => pool.acquire(server.dest)));
  for (const lease of leases) lease.release();
  await waitFor(() => pool.stats().evicted.idle === 4, { message: () => `evicted.idle reaches 4 (stats ${JSON.stringify(pool.stats())})` });
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees all four closed' });
  t.like(await settledStats(pool, { open: 0, closed: 4 }), { open: 0, closed: 4 });
});

test('idleTimeout does not touch a leased connection', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { idleTimeout: 100 });
  const lease = await pool.acquire(server.dest);
  // Hold the lease for several idle timeouts: it is in use, not idle.
  await sleep(500);
  t.false(lease.socket.destroyed);
  t.is((await roundTrip(lease.socket, 'still mine')).toString(), 'still mine');
  t.is(pool.stats().evicted.idle, 0);
  t.is((await server.stats()).current, 1);
  lease.release();
});

test('using a connection restarts its idle clock', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { idleTimeout: 1_000 });
  // Fifteen uses 100 ms apart span 1.5 s on one connection, never idle anywhere near 1 s.
  for (let i = 0; i < 15; i++) {
    const lease = await pool.acquire(server.dest);
    t.is(lease.reused, i > 0, `use ${i} reused`);
    await roundTrip(lease.socket, `use ${i}`);
    lease.release();
    await sleep(100);
  }
  t.is(pool.stats().evicted.idle, 0);
  t.is((await server.stats()).accepted, 1);
});

test('maxLifetime retires an idle connection (evicted.lifetime, the server sees the close)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxLifetime: 300, idleTimeout: 60_000 });
  await useEcho(t, pool, server.dest, 'short-lived');
  await waitFor(() => pool.stats().evicted.lifetime === 1, { message: () => `evicted.lifetime reaches 1 (stats ${JSON.stringify(pool.stats())})` });
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the close' });
  const expected = { open: 0, closed: 1, evicted: { idle: 0, lifetime: 1, peerClosed: 0, unhealthy: 0 } };
  const stats = await settledStats(pool, expected);
  assertStatsConsistent(t, stats);
  t.like(stats, expected);
});

test('maxLifetime retires a busy connection: reused until it expires, then replaced', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxLifetime: 300, idleTimeout: 60_000 });
  const first = await pool.acquire(server.dest);
  const firstPort = first.socket.localPort;
  await roundTrip(first.socket, 'first');
  first.release();
  // Keep using the pool until the first connection has been retired (hang guard: 10 s).
  const deadline = Date.now() + 10_000;
  let reusedFirst = 0;
  while (pool.stats().evicted.lifetime === 0) {
    if (Date.now() > deadline) throw new Error(`no lifetime eviction (stats ${JSON.stringify(pool.stats())})`);
    const lease = await pool.acquire(server.dest);
    if (lease.socket.localPort === firstPort) reusedFirst++;
    await roundTrip(lease.socket, 'again');
    lease.release();
    await sleep(20);
  }
  t.true(reusedFirst > 0, 'the connection was reused while it was young');
  const lease = await pool.acquire(server.dest);
  t.not(lease.socket.localPort, firstPort, 'after its lifetime the first connection is not handed out');
  await roundTrip(lease.socket, 'new one');
  lease.release();
  await waitFor(async () => !(await server.stats()).connections.some((c) => c.remotePort === firstPort),
    { message: 'server sees the first connection closed' });
  await waitFor(async () => (await server.stats()).current === pool.stats().open, { message: 'server and pool agree' });
});

test('maxLifetime never yanks a leased connection; it is closed when released', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxLifetime: 200, idleTimeout: 60_000 });
  const lease = await pool.acquire(server.dest);
  await sleep(500); // well past its lifetime
  t.false(lease.socket.destroyed, 'the leased socket is left alone');
  t.is((await roundTrip(lease.socket, 'mid-lease')).toString(), 'mid-lease');
  lease.release();

  await waitFor(() => pool.stats().evicted.lifetime === 1, { message: 'evicted.lifetime after release' });
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the close' });
  const next = await pool.acquire(server.dest);
  t.false(next.reused);
  next.release();
});

test('maxLifetime: Infinity keeps connections', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxLifetime: Infinity, idleTimeout: 60_000 });
  await useEcho(t, pool, server.dest, 'x');
  await sleep(300);
  const lease = await pool.acquire(server.dest);
  t.true(lease.reused);
  lease.release();
  t.is(pool.stats().evicted.lifetime, 0);
});
