// Pool and ResourcePool events: capReached (each cap, rate-limited), evicted, dialFailed.
import test from 'ava';
import { performance } from 'node:perf_hooks';
import { createPool, BerthError } from './helpers/pool.mjs';
import { startServer } from './helpers/server.mjs';
import { createResourcePool, makeFactory, over, until } from './helpers/resources.mjs';

/** Runs `burst` twice back to back; says whether both ran within one rate-limit interval (1 s). */
async function twoBursts(burst) {
  const began = performance.now();
  await burst(0);
  await burst(1);
  return performance.now() - began < 1000;
}

/**
 * The rate limit lets one event through per cap and destination per second: two bursts that
 * ran within one second give one event. (On a machine stalled for a second between them the
 * second burst may give a second event; the count is then checked against that.)
 */
function expectedCount(withinOneSecond) {
  return withinOneSecond ? 1 : 2;
}

test('capReached maxPerDestination: once for two bursts of waiting acquires', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const held = await pool.acquire(server.dest);
  const events = [];
  pool.on('capReached', (event) => events.push(event));
  const waiting = [];
  const within = await twoBursts(async () => {
    for (let i = 0; i < 3; i++) waiting.push(pool.acquire(server.dest));
  });
  t.is(events.length, expectedCount(within));
  t.deepEqual(events[0], { destination: server.dest, cap: 'maxPerDestination' });
  held.release();
  for (const p of waiting) (await p).release();
});

test('capReached maxTotal: names the destination that waits', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxTotal: 1 });
  const held = await pool.acquire(server.dest);
  const events = [];
  pool.on('capReached', (event) => events.push(event));
  const other = `localhost:${server.port}`;
  const waiting = [];
  const within = await twoBursts(async () => {
    for (let i = 0; i < 2; i++) waiting.push(pool.acquire(other));
  });
  t.is(events.length, expectedCount(within));
  t.deepEqual(events[0], { destination: other, cap: 'maxTotal' });
  held.release();
  for (const p of waiting) (await p).release();
});

test('capReached maxWaiters: the QUEUE_FULL refusal, rate-limited too', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1, maxWaiters: 1 });
  const held = await pool.acquire(server.dest);
  const queued = pool.acquire(server.dest);
  const events = [];
  pool.on('capReached', (event) => events.push(event));
  const within = await twoBursts(async () => {
    for (let i = 0; i < 2; i++) await t.throwsAsync(pool.acquire(server.dest), { instanceOf: BerthError, message: /already wait/ });
  });
  t.is(events.length, expectedCount(within));
  t.deepEqual(events[0], { destination: server.dest, cap: 'maxWaiters' });
  held.release();
  (await queued).release();
});

test('no capReached when a waiter only waits for its own dial', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const events = [];
  pool.on('capReached', (event) => events.push(event));
  const leases = await Promise.all([pool.acquire(server.dest), pool.acquire(server.dest)]);
  for (const lease of leases) lease.release();
  t.deepEqual(events, []);
});

test('ResourcePool capReached: max and maxWaiters, each once for two bursts', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1, maxWaiters: 2 }));
  const held = await pool.acquire();
  const events = [];
  pool.on('capReached', (event) => events.push(event));
  const count = (cap) => events.filter((e) => e.cap === cap).length;
  // Each burst queues one acquire: it waits because the one resource `max` allows is out.
  const waiting = [];
  const queuedWithin = await twoBursts(async () => {
    waiting.push(pool.acquire());
  });
  t.is(count('max'), expectedCount(queuedWithin));
  t.deepEqual(events[0], { cap: 'max' });
  // The queue is full now: each burst is refused.
  const refusedWithin = await twoBursts(async () => {
    await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, message: /already wait/ });
  });
  t.is(count('maxWaiters'), expectedCount(refusedWithin));
  pool.release(held);
  for (const p of waiting) pool.release(await p);
});

test('ResourcePool evicted: idle timeout and a failed validation', async (t) => {
  const valid = { ok: true };
  const f = makeFactory({ valid: () => valid.ok });
  const pool = createResourcePool(t, over(f, { max: 2, idleTimeout: 100, evictionInterval: 50, testOnAcquire: true }));
  const events = [];
  pool.on('evicted', (event) => events.push(event));
  pool.release(await pool.acquire());
  await until(() => events.length === 1, { message: 'the idle resource evicted' });
  t.deepEqual(events, [{ reason: 'idle' }]);

  const r = await pool.acquire();
  pool.release(r);
  valid.ok = false;
  const next = await pool.acquire();
  t.not(next, r, 'the invalid one was destroyed, a new one made');
  t.deepEqual(events.slice(1), [{ reason: 'unhealthy' }]);
  pool.release(next);
});

test('ResourcePool evicted: max lifetime', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1, maxLifetime: 100 }));
  const events = [];
  pool.on('evicted', (event) => events.push(event));
  const r = await pool.acquire();
  await new Promise((resolve) => setTimeout(resolve, 150));
  pool.release(r);
  await until(() => events.length >= 1, { message: 'the old resource evicted' });
  t.deepEqual(events[0], { reason: 'lifetime' });
});
