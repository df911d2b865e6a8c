// pool.close(): reject waiters, destroy everything; afterwards acquires are refused.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { startBlackhole } from './helpers/blackhole.mjs';
import { createPool, rejectsWithCode, useEcho } from './helpers/pool.mjs';
import { waitFor, track, range } from './helpers/net.mjs';

test('acquire after close() rejects with POOL_CLOSED and opens nothing', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  await useEcho(t, pool, server.dest, 'x');
  await pool.close();
  await rejectsWithCode(t, pool.acquire(server.dest), 'POOL_CLOSED', server.dest);
  t.is((await server.stats()).accepted, 1);
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the idle connection closed' });
});

test('waiters pending at close() reject with POOL_CLOSED; leased sockets are destroyed', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const holder = await pool.acquire(server.dest);
  const waiters = range(3).map(() => track(pool.acquire(server.dest)));
  await waitFor(() => pool.stats().waiting === 3, { message: 'three waiters queued' });

  await pool.close();
  for (const w of waiters) await rejectsWithCode(t, w, 'POOL_CLOSED');
  t.true(holder.socket.destroyed, 'the leased socket was destroyed');
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the leased connection closed' });
  t.like(pool.stats(), { open: 0, inUse: 0, waiting: 0, idle: 0 });
});

test('an acquire whose dial is in flight at close() rejects with POOL_CLOSED', async (t) => {
  const hole = await startBlackhole(t);
  const pool = createPool(t, { connectTimeout: 20_000 });
  const acquiring = track(pool.acquire(hole.dest));
  await waitFor(() => pool.stats().dialing === 1, { message: 'dial in flight' });
  await pool.close();
  await rejectsWithCode(t, acquiring, 'POOL_CLOSED');
  t.like(pool.stats(), { dialing: 0, open: 0 });
});

test('close() on a pool that never connected resolves', async (t) => {
  const pool = createPool(t);
  await pool.close();
  t.like(pool.stats(), { open: 0 });
});
