// pool.acquireMany(): leases to many destinations in completion order, bounded, cancellable;
// pool.warm(): pre-dialed idle connections within the pool's limits.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, BerthError } from './helpers/pool.mjs';
import { roundTrip, refusedPort, waitFor } from './helpers/net.mjs';

test('acquireMany hands out a working lease per destination, across destinations', async (t) => {
  const [a, b] = await Promise.all([startServer(t), startServer(t)]);
  const pool = createPool(t);
  const dests = [a.dest, b.dest, a.dest, b.dest, a.dest];
  const seen = [];
  for await (const lease of pool.acquireMany(dests, { concurrency: 5 })) {
    const reply = await roundTrip(lease.socket, `to ${lease.destination}`);
    t.is(reply.toString(), `to ${lease.destination}`);
    seen.push(lease.destination);
    lease.release();
  }
  t.deepEqual([...seen].sort(), [...dests].sort());
  t.like(pool.stats(), { inUse: 0, waiting: 0 });
});

test('acquireMany yields in completion order: a ready destination is not held up by a slow one', async (t) => {
  const fast = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const held = await pool.acquire(fast.dest);
  // The first destination must wait for `held`; the second is another destination, ready at once.
  const other = await startServer(t);
  const order = [];
  const iteration = (async () => {
    for await (const lease of pool.acquireMany([fast.dest, other.dest], { concurrency: 2 })) {
      order.push(lease.destination);
      if (lease.destination === other.dest) held.release();
      lease.release();
    }
  })();
  await iteration;
  t.deepEqual(order, [other.dest, fast.dest]);
});

test('acquireMany respects maxPerDestination and pulls its input only as acquires finish', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 3 });
  let pulled = 0;
  let yielded = 0;
  let maxAhead = 0;
  function* dests() {
    for (let i = 0; i < 60; i++) {
      pulled++;
      maxAhead = Math.max(maxAhead, pulled - yielded);
      yield server.dest;
    }
  }
  for await (const lease of pool.acquireMany(dests(), { concurrency: 4 })) {
    yielded++;
    t.true(pool.stats().open <= 3);
    lease.release();
  }
  t.is(yielded, 60);
  t.true(maxAhead <= 5, `pulled ahead of what was handed out: ${maxAhead}`);
  t.true((await server.stats()).accepted <= 3, 'never more than maxPerDestination connections');
});

test('breaking out releases the leases not handed out yet and cancels queued acquires', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 4 });
  const kept = [];
  for await (const lease of pool.acquireMany(Array(20).fill(server.dest), { concurrency: 8 })) {
    kept.push(lease);
    if (kept.length === 2) break;
  }
  await waitFor(() => pool.stats().waiting === 0 && pool.stats().inUse === 2, { message: 'only the two kept leases out' });
  for (const lease of kept) lease.release();
  t.like(pool.stats(), { inUse: 0, waiting: 0 });
});

test('an abort ends the iteration with the signal reason and leaves nothing leased', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const held = await pool.acquire(server.dest);
  const controller = new AbortController();
  const reason = new Error('enough');
  const iteration = (async () => {
    for await (const lease of pool.acquireMany(Array(5).fill(server.dest), { signal: controller.signal })) lease.release();
  })();
  await waitFor(() => pool.stats().waiting > 0, { message: 'acquires queued' });
  controller.abort(reason);
  await t.throwsAsync(iteration, { is: reason });
  t.is(pool.stats().waiting, 0);
  held.release();
  t.is(pool.stats().inUse, 0);
});

test('a failed acquire ends the iteration with its error; the other leases are released', async (t) => {
  const server = await startServer(t);
  const refused = `127.0.0.1:${await refusedPort()}`;
  const pool = createPool(t);
  const got = [];
  const err = await t.throwsAsync(
    (async () => {
      for await (const lease of pool.acquireMany([server.dest, refused, server.dest], { concurrency: 3 })) {
        got.push(lease);
      }
    })(),
    { instanceOf: BerthError, code: 'CONNECT_REFUSED' },
  );
  t.is(err.destination, refused);
  for (const lease of got) lease.release();
  await waitFor(() => pool.stats().inUse === 0, { message: 'nothing left leased' });
});

test('acquireMany checks its arguments', (t) => {
  const pool = createPool(t);
  t.throws(() => pool.acquireMany(42), { instanceOf: TypeError, message: /iterable/ });
  t.throws(() => pool.acquireMany([], { concurrency: 0 }), { instanceOf: TypeError, message: /concurrency/ });
  t.throws(() => pool.acquireMany([], { priority: 0.5 }), { instanceOf: TypeError, message: /priority/ });
});

test('warm opens idle connections up to the count, and no more than the limits allow', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 6, maxIdlePerDestination: 4 });
  t.is(await pool.warm(server.dest, 3), 3);
  // The server counts a connection when its accept callback runs, a moment after the handshake.
  await waitFor(async () => (await server.stats()).accepted === 3, { message: 'three connections accepted' });
  t.like(pool.stats(), { idle: 3, inUse: 0 });
  t.is(await pool.warm(server.dest, 2), 3, 'already warm: nothing opened');
  t.is((await server.stats()).accepted, 3);
  t.is(await pool.warm(server.dest, 100), 4, 'capped by maxIdlePerDestination');
  await waitFor(async () => (await server.stats()).accepted === 4, { message: 'a fourth connection accepted' });
  t.is(pool.stats().created, 4);
  const lease = await pool.acquire(server.dest);
  t.true(lease.reused, 'a warmed connection serves the next acquire');
  lease.release();
});

test('warm leaves room for the connections leased out', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 3 });
  const held = [await pool.acquire(server.dest), await pool.acquire(server.dest)];
  t.is(await pool.warm(server.dest, 5), 1);
  t.like(pool.stats(), { open: 3, idle: 1, inUse: 2, waiting: 0 });
  for (const lease of held) lease.release();
});

test('warm rejects with the dial error when nothing could be opened, and checks its arguments', async (t) => {
  const pool = createPool(t);
  const refused = `127.0.0.1:${await refusedPort()}`;
  await t.throwsAsync(pool.warm(refused, 2), { instanceOf: BerthError, code: 'CONNECT_REFUSED' });
  await t.throwsAsync(pool.warm(refused, -1), { instanceOf: TypeError, message: /warm count/ });
  await t.throwsAsync(pool.warm('no port', 1), { instanceOf: TypeError });
});
