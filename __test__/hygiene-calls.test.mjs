// Release skips the full socket check for a lease that changed nothing: these leases each make
// one state-changing call and add no listener, so that only the noting of that call stands
// between them and a wrongly pooled socket.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, settledStats } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';

/** Acquires, lets `act` touch the socket (no listeners), releases; returns the next lease. */
async function releaseAfter(t, act) {
  const server = await startServer(t);
  const pool = createPool(t);
  const warm = await pool.acquire(server.dest); // a lease that changes nothing: pooled
  warm.release();
  const lease = await pool.acquire(server.dest);
  t.true(lease.reused, 'a lease that did nothing to the socket left it pooled');
  const listeners = lease.socket.eventNames().map((name) => lease.socket.listenerCount(name));
  await act(lease.socket, server);
  t.deepEqual(
    lease.socket.eventNames().map((name) => lease.socket.listenerCount(name)),
    listeners,
    'the lease added or removed no listener',
  );
  lease.release();
  return { lease, next: await pool.acquire(server.dest), pool, server };
}

for (const [call, act] of [
  ['setEncoding()', (socket) => socket.setEncoding('utf8')],
  ['end()', (socket) => socket.end()],
  ['cork()', (socket) => socket.cork()],
]) {
  test(`a lease that only calls ${call} leaves a socket that is destroyed, not pooled`, async (t) => {
    const { lease, next, pool } = await releaseAfter(t, act);
    t.true(lease.socket.destroyed, 'destroyed on release');
    t.false(next.reused, 'the next lease gets a new connection');
    t.is((await roundTrip(next.socket, 'clean')).toString(), 'clean');
    next.release();
    const stats = await settledStats(pool, { open: 1, closed: 1 });
    t.like(stats, { open: 1, idle: 1, closed: 1 });
  });
}

for (const [call, act] of [
  ['pause()', (socket) => socket.pause()],
  ['resume()', (socket) => socket.resume()],
]) {
  test(`a lease that only calls ${call}: the next lease finds the socket in its initial reading state`, async (t) => {
    const { lease, next } = await releaseAfter(t, act);
    t.is(next.socket, lease.socket, 'the same connection is reused');
    t.is(next.socket.readableFlowing, null, 'neither paused nor flowing');
    t.is((await roundTrip(next.socket, 'after')).toString(), 'after');
    next.release();
  });
}

test('a lease that only calls setTimeout(): the next lease has no timeout', async (t) => {
  const { lease, next } = await releaseAfter(t, (socket) => socket.setTimeout(5000));
  t.is(next.socket, lease.socket, 'the same connection is reused');
  t.falsy(next.socket.timeout, 'the timeout was cleared');
  next.release();
});

test('a lease that writes and reads with read() (no listener) is reused', async (t) => {
  const { lease, next, server } = await releaseAfter(t, async (socket) => {
    socket.write('ping');
    const reply = await waitFor(() => socket.read(4), { message: 'the echo read with read()' });
    t.is(reply.toString(), 'ping');
  });
  t.is(next.socket, lease.socket, 'the same connection is reused');
  t.is((await roundTrip(next.socket, 'again')).toString(), 'again');
  t.is((await server.stats()).accepted, 1);
  next.release();
});

test.serial('a patch of net.Socket.prototype made after loading berth applies to pooled sockets', async (t) => {
  // Instrumentation patches socket methods at any time; the pool's wrappers must not bypass it.
  const net = await import('node:net');
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  const calls = [];
  const { write, setTimeout: setSocketTimeout } = net.Socket.prototype;
  net.Socket.prototype.write = function (...args) {
    calls.push('write');
    return write.apply(this, args);
  };
  net.Socket.prototype.setTimeout = function (...args) {
    calls.push('setTimeout');
    return setSocketTimeout.apply(this, args);
  };
  try {
    lease.socket.setTimeout(1000);
    t.is((await roundTrip(lease.socket, 'patched')).toString(), 'patched');
  } finally {
    net.Socket.prototype.write = write;
    net.Socket.prototype.setTimeout = setSocketTimeout;
  }
  t.deepEqual(calls, ['setTimeout', 'write']);
  lease.release();
});
