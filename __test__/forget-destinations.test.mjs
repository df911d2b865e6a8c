// Destinations are forgotten once they hold nothing (no idle, leased or dialing connection, no
// waiter, no listener or session using them): a proxy that dials client-chosen targets keeps
// memory bounded by what it holds, not by every destination it was ever asked for.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, assertStatsConsistent, useEcho, BerthError } from './helpers/pool.mjs';
import { roundTrip, waitFor, range, sleep } from './helpers/net.mjs';
import { startUpstream, connect } from './helpers/forward.mjs';
import net from 'node:net';

/**
 * Destination strings nobody listens on: distinct loopback addresses (last octet 1..254, so no
 * two i give the same string: two acquires of one destination may share or split dials, which
 * would make the count of dial failures depend on timing), a closed port.
 */
const refused = (i) => `127.${Math.floor(i / (254 * 256)) % 256}.${Math.floor(i / 254) % 256}.${(i % 254) + 1}:9`;

test('thousands of refused destinations are all forgotten; one still held is kept', async (t) => {
  // A short idle timeout makes the sweep run every few milliseconds.
  const pool = createPool(t, { idleTimeout: 40, maxWaiters: 16 });
  const server = await startServer(t);
  const held = await pool.acquire(server.dest);
  const N = 3000;
  const BATCH = 100;
  let refusedCount = 0;
  for (let from = 0; from < N; from += BATCH) {
    const outcomes = await Promise.allSettled(range(BATCH).map((k) => pool.acquire(refused(from + k + 1))));
    for (const o of outcomes) {
      if (o.status === 'rejected' && o.reason instanceof BerthError && o.reason.code === 'CONNECT_REFUSED') refusedCount++;
    }
  }
  t.is(refusedCount, N, 'every acquire was refused');
  await waitFor(() => pool.snapshot().destinations.length === 1, {
    message: () => `only the held destination is left (snapshot lists ${pool.snapshot().destinations.length})`,
  });
  t.is(pool.snapshot().destinations[0].destination, server.dest);
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.is(stats.dialFailures, N, 'counters survive the forgetting');
  t.is(stats.inUse, 1);
  // The held lease still works, and so does its destination after it is released.
  t.is(String(await roundTrip(held.socket, 'still here')), 'still here');
  held.release();
  await useEcho(t, pool, server.dest, 'after');
});

test('a destination forgotten under the fast path (same string as the last acquire) is acquired again', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { idleTimeout: 30 });
  for (let round = 0; round < 3; round++) {
    await useEcho(t, pool, server.dest, `round ${round}`);
    // The idle connection times out, then the destination holds nothing and is forgotten.
    await waitFor(() => pool.snapshot().destinations.length === 0, { message: `round ${round}: forgotten` });
    // The same destination string, no options: the facade's cached id is stale now.
    const lease = await pool.acquire(server.dest);
    t.is(String(await roundTrip(lease.socket, `again ${round}`)), `again ${round}`);
    lease.release();
    // And with options (the general path).
    await pool.use(server.dest, (s) => roundTrip(s, 'opts'), { priority: 1 });
  }
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.is(stats.dialFailures, 0);
});

test('a listener with a fixed destination and forward() keep working across sweeps that forget everything else', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t, { idleTimeout: 30 });
  const proxy = await pool.listen({}, upstream.dest);
  t.teardown(() => proxy.close());
  // Sweeps run every few ms; the fixed destination is pinned by the listener.
  await sleep(200);
  t.is(pool.snapshot().destinations.length, 1, 'the listener keeps its destination');
  for (let i = 0; i < 3; i++) {
    const client = await connect(t, proxy.address().port);
    t.is(String(await roundTrip(client, `via listener ${i}`)), `via listener ${i}`);
    client.destroy();
    await sleep(100);
  }

  // forward(): interned when called, forgotten in between, pinned for the session.
  const front = net.createServer((inbound) => {
    void pool.forward(inbound, upstream.dest);
  });
  await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.teardown(() => front.close());
  for (let i = 0; i < 3; i++) {
    const client = await connect(t, front.address().port);
    t.is(String(await roundTrip(client, `via forward ${i}`)), `via forward ${i}`);
    client.destroy();
    await sleep(100);
  }
  t.is(proxy.stats().connectFailures, 0);
});
