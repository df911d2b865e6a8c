// Connection reuse: sequential uses share one connection; pool.use() releases or destroys.
import test from 'ava';
import net from 'node:net';
import { startServer } from './helpers/server.mjs';
import { createPool, useEcho, assertStatsConsistent, settledStats } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';

test('100 sequential acquire/roundTrip/release uses go over one server connection', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const localPorts = new Set();

  for (let i = 0; i < 100; i++) {
    const lease = await pool.acquire(server.dest);
    t.is(lease.reused, i > 0, `lease #${i}.reused`);
    t.is(lease.destination, server.dest);
    t.true(lease.socket instanceof net.Socket, 'lease.socket is a net.Socket');
    const payload = `request ${i}`;
    t.is((await roundTrip(lease.socket, payload)).toString(), payload);
    localPorts.add(lease.socket.localPort);
    lease.release();
  }

  const s = await server.stats();
  t.is(s.accepted, 1, 'the server accepted exactly one connection');
  t.is(s.maxConcurrent, 1);
  t.is(s.current, 1, 'the connection is still open (idle in the pool)');
  t.is(localPorts.size, 1, 'every lease used the same local port');

  const expected = { open: 1, idle: 1, inUse: 0, created: 1, reused: 99, closed: 0 };
  const stats = await settledStats(pool, expected);
  assertStatsConsistent(t, stats);
  t.like(stats, expected);
});

test('pool.use() returns the callback value and releases the connection for reuse', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);

  const value = await pool.use(server.dest, async (socket) => {
    t.true(socket instanceof net.Socket);
    const reply = await roundTrip(socket, 'hello');
    return { echoed: reply.toString() };
  });
  t.deepEqual(value, { echoed: 'hello' });
  t.like(pool.stats(), { inUse: 0, idle: 1, open: 1 });

  // Released, not destroyed: the next lease reuses the same server connection.
  const lease = await pool.acquire(server.dest);
  t.true(lease.reused);
  t.is((await roundTrip(lease.socket, 'again')).toString(), 'again');
  lease.release();
  t.is((await server.stats()).accepted, 1);
});

test('pool.use() destroys the connection when the callback throws, and rethrows', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  await useEcho(t, pool, server.dest, 'warm up'); // one idle connection, reused by the next use
  const boom = new Error('boom');

  let usedSocket;
  await t.throwsAsync(pool.use(server.dest, async (socket) => {
    usedSocket = socket;
    await roundTrip(socket, 'before the failure');
    throw boom;
  }), { is: boom });

  t.true(usedSocket.destroyed, 'the socket handed to the callback is destroyed');
  // The server sees the connection go away.
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the close' });
  const expected = { open: 0, idle: 0, inUse: 0, closed: 1 };
  const stats = await settledStats(pool, expected);
  assertStatsConsistent(t, stats);
  t.like(stats, expected);

  // The pool still works, with a fresh connection.
  const lease = await pool.acquire(server.dest);
  t.false(lease.reused);
  t.is((await roundTrip(lease.socket, 'fresh')).toString(), 'fresh');
  lease.release();
  t.is((await server.stats()).accepted, 2);
});

test('pool.use() with a callback that rejects asynchronously also destroys and rethrows', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const boom = new Error('late boom');
  await t.throwsAsync(pool.use(server.dest, () => new Promise((_, reject) => setTimeout(() => reject(boom), 10))), { is: boom });
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the close' });
  t.like(pool.stats(), { open: 0, inUse: 0 });
});

test('lease[Symbol.asyncDispose]() releases the lease back to the pool', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  t.is(typeof lease[Symbol.asyncDispose], 'function');
  await roundTrip(lease.socket, 'x');
  await lease[Symbol.asyncDispose]();
  t.like(pool.stats(), { idle: 1, inUse: 0 });

  const next = await pool.acquire(server.dest);
  t.true(next.reused);
  next.release();
  t.is((await server.stats()).accepted, 1);
});

// Hold three connections, release them in the order a, b, c, and see which one comes back.
async function idleOrder(t, order) {
  const server = await startServer(t);
  const pool = createPool(t, { order });
  const leases = await Promise.all([0, 1, 2].map(() => pool.acquire(server.dest)));
  const ports = leases.map((l) => l.socket.localPort);
  t.is(new Set(ports).size, 3, 'three distinct connections');
  for (const lease of leases) {
    await roundTrip(lease.socket, 'x');
    lease.release();
  }
  const first = await pool.acquire(server.dest);
  const second = await pool.acquire(server.dest);
  const got = [first.socket.localPort, second.socket.localPort];
  first.release();
  second.release();
  t.is((await server.stats()).accepted, 3, 'no new connection was needed');
  return { ports, got };
}

test("order 'lifo' (the default) reuses the most recently released connection first", async (t) => {
  const { ports, got } = await idleOrder(t, 'lifo');
  t.deepEqual(got, [ports[2], ports[1]]);
});

test("order 'fifo' reuses the least recently released connection first", async (t) => {
  const { ports, got } = await idleOrder(t, 'fifo');
  t.deepEqual(got, [ports[0], ports[1]]);
});

test('the default order is lifo', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const [a, b] = await Promise.all([pool.acquire(server.dest), pool.acquire(server.dest)]);
  const portB = b.socket.localPort;
  a.release();
  b.release();
  const next = await pool.acquire(server.dest);
  t.is(next.socket.localPort, portB);
  next.release();
});
