// Socket hygiene across leases: what a lease holder did to the socket must not leak into the
// next lease, and a socket left in a state that cannot be reused must be destroyed, not pooled.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, assertStatsConsistent, settledStats } from './helpers/pool.mjs';
import { roundTrip, waitFor, sleep } from './helpers/net.mjs';

test("a 'data' listener added during a lease is removed on release", async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const first = await pool.acquire(server.dest);
  const stray = [];
  first.socket.on('data', (chunk) => stray.push(chunk.toString()));
  t.is((await roundTrip(first.socket, 'first')).toString(), 'first');
  first.release();
  stray.length = 0;

  const second = await pool.acquire(server.dest);
  t.true(second.reused);
  t.is((await roundTrip(second.socket, 'second')).toString(), 'second');
  t.deepEqual(stray, [], "the first lease's listener saw none of the second lease's data");
  second.release();
});

test("'end', 'close', 'error' and 'timeout' listeners added during a lease are removed on release", async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  const fired = [];
  for (const event of ['end', 'close', 'error', 'timeout']) {
    lease.socket.on(event, () => fired.push(event));
  }
  await roundTrip(lease.socket, 'x');
  lease.release();
  // The server closes the now idle connection: the pool evicts it, and none of the old
  // lease's listeners may hear about it.
  await server.control({ cmd: 'closeAll' });
  await waitFor(() => pool.stats().evicted.peerClosed === 1, { message: 'the pool evicts the closed connection' });
  await sleep(50);
  t.deepEqual(fired, []);
});

test('listeners left behind by lease holders do not pile up across leases', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const counts = [];
  // 20 leases of the same connection, each adding listeners and never removing them: more
  // than 10 of them on one socket would also trigger a MaxListenersExceededWarning.
  for (let i = 0; i < 20; i++) {
    const lease = await pool.acquire(server.dest);
    counts.push(['data', 'end', 'close', 'error'].map((e) => lease.socket.listenerCount(e)).join('/'));
    lease.socket.on('data', () => {});
    lease.socket.on('close', () => {});
    lease.socket.on('error', () => {});
    await roundTrip(lease.socket, `round ${i}`);
    lease.release();
  }
  t.is(new Set(counts).size, 1, `listener counts at acquire stay the same (data/end/close/error: ${counts.join(', ')})`);
  t.is((await server.stats()).accepted, 1);
});

/** Acquire, do something to the socket that makes it unfit for reuse, release, check. */
async function assertDestroyedOnRelease(t, spoil, { kernelOnly = false } = {}) {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  const port = lease.socket.localPort;
  await spoil(lease.socket, server);
  lease.release();

  if (kernelOnly && !lease.socket.destroyed) {
    // Bytes still in the kernel (Node had not read them yet) are not looked for at release
    // (releases peek nothing, since issue 15): the engine's watch saw them arrive, so the next
    // acquire peeks, finds them and discards the connection instead of handing it out.
    const next = await pool.acquire(server.dest);
    t.false(next.reused, 'the dirty connection was not handed out');
    t.is((await roundTrip(next.socket, 'clean')).toString(), 'clean');
    next.release();
    t.true(lease.socket.destroyed, 'the dirty connection was closed');
    await waitFor(async () => !(await server.stats()).connections.some((c) => c.remotePort === port),
      { message: 'server sees the connection closed' });
    return;
  }
  t.true(lease.socket.destroyed, 'the socket was destroyed on release');
  await waitFor(async () => !(await server.stats()).connections.some((c) => c.remotePort === port),
    { message: 'server sees the connection closed' });
  const expected = { open: 0, idle: 0, inUse: 0, closed: 1 };
  const stats = await settledStats(pool, expected);
  assertStatsConsistent(t, stats);
  t.like(stats, expected);

  const next = await pool.acquire(server.dest);
  t.false(next.reused, 'the next lease is a new connection');
  t.is((await roundTrip(next.socket, 'clean')).toString(), 'clean');
  next.release();
}

test('a socket with unread data (not yet read from the kernel) is never handed out again', async (t) => {
  await assertDestroyedOnRelease(t, async (socket, server) => {
    // Write without reading: the echo sits unread.
    socket.write('unread reply');
    await waitFor(async () => (await server.stats()).connections.some((c) => c.bytesOut === 12),
      { message: 'the server has echoed the bytes' });
  }, { kernelOnly: true });
});

test('a socket with unread data in its JS buffer is destroyed, not pooled', async (t) => {
  await assertDestroyedOnRelease(t, async (socket) => {
    await roundTrip(socket, 'read this');
    socket.unshift(Buffer.from('left over')); // unread bytes in the readable buffer
    t.true(socket.readableLength > 0);
  });
});

test('a socket with a partial reply read is destroyed, not pooled', async (t) => {
  await assertDestroyedOnRelease(t, async (socket, server) => {
    socket.write('0123456789');
    await waitFor(async () => (await server.stats()).connections.some((c) => c.bytesOut === 10),
      { message: 'the server has echoed the bytes' });
    // Read only part of the reply.
    await waitFor(() => socket.read(4) !== null, { message: 'first 4 bytes of the reply read' });
    t.true(socket.readableLength > 0, 'the rest of the reply is still buffered');
  });
});

test('a socket after setEncoding() is destroyed, not pooled', async (t) => {
  await assertDestroyedOnRelease(t, async (socket) => {
    socket.setEncoding('utf8');
    t.is((await roundTrip(socket, 'text')).toString(), 'text');
  });
});

test('a socket the holder ended is destroyed, not pooled', async (t) => {
  await assertDestroyedOnRelease(t, async (socket) => {
    await roundTrip(socket, 'bye');
    socket.end();
  });
});

test('a socket the holder destroyed: release() does not pool it', async (t) => {
  await assertDestroyedOnRelease(t, async (socket) => {
    await roundTrip(socket, 'bye');
    socket.destroy();
  });
});

test('a socket that errored during the lease is destroyed, not pooled', async (t) => {
  await assertDestroyedOnRelease(t, async (socket) => {
    socket.on('error', () => {});
    socket.destroy(new Error('protocol error'));
  });
});
