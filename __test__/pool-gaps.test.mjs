// Smaller contracts next to the peers: which idle connection makes room under maxTotal,
// maxUses, and the closed / draining getters.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, assertStatsConsistent, useEcho } from './helpers/pool.mjs';
import { roundTrip, waitFor, sleep } from './helpers/net.mjs';

test('at maxTotal, the idle connection closed to make room is the least recently used one', async (t) => {
  const servers = [await startServer(t), await startServer(t), await startServer(t), await startServer(t)];
  const [a, b, c, d] = servers.map((s) => s.dest);
  const pool = createPool(t, { maxTotal: 3 });
  // One idle connection each to a, b and c, released c first and a last: c is the least
  // recently used, a the most (interned a first, so a naive scan in id order finds a first).
  const leases = [await pool.acquire(a), await pool.acquire(b), await pool.acquire(c)];
  for (const i of [2, 1, 0]) {
    leases[i].release();
    await sleep(5); // released in distinct milliseconds
  }
  t.is(pool.stats().idle, 3);
  await useEcho(t, pool, d, 'needs room');
  const idleByDest = Object.fromEntries(pool.snapshot().destinations.map((x) => [x.destination, x.idle]));
  t.is(idleByDest[c] ?? 0, 0, 'the least recently used (c) was closed');
  t.is(idleByDest[a], 1, 'the most recently used (a) is kept');
  t.is(idleByDest[b], 1, 'b is kept');
  t.is(pool.stats().evicted.idle, 1);
});

test('maxUses retires a connection after that many leases', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxUses: 3 });
  const ports = [];
  for (let i = 0; i < 7; i++) {
    const lease = await pool.acquire(server.dest);
    ports.push(lease.socket.localPort);
    t.is(String(await roundTrip(lease.socket, `use ${i}`)), `use ${i}`);
    lease.release();
  }
  // Uses 1-3 on the first connection, 4-6 on the second, 7 on the third.
  t.is(new Set(ports.slice(0, 3)).size, 1);
  t.is(new Set(ports.slice(3, 6)).size, 1);
  t.not(ports[0], ports[3]);
  t.not(ports[3], ports[6]);
  await waitFor(() => pool.stats().closed === 2, { message: 'two connections retired' });
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.is(stats.evicted.maxUses, 2);
  t.is(stats.created, 3);
  t.is((await server.stats()).accepted, 3);
});

test('maxUses is validated', (t) => {
  for (const bad of [0, -1, 1.5, NaN, '3', null]) {
    t.throws(() => createPool(t, { maxUses: bad }), { instanceOf: TypeError, message: /maxUses/ });
  }
  t.is(createPool(t, { maxUses: Infinity }).options.maxUses, Infinity);
  t.is(createPool(t).options.maxUses, Infinity);
});

test('closed and draining say where the pool is in its life', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  t.false(pool.closed);
  t.false(pool.draining);
  const lease = await pool.acquire(server.dest);
  const drained = pool.drain();
  t.true(pool.draining);
  t.false(pool.closed);
  lease.release();
  await drained;
  t.false(pool.draining);
  t.true(pool.closed);
  const other = createPool(t);
  const closing = other.close();
  t.true(other.closed);
  await closing;
  t.true(other.closed);
});
