// Acquire deadlines (ACQUIRE_TIMEOUT) and cancellation with AbortSignal. In every case the pool
// must stay usable and must not leak a connection to the cancelled acquire.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, rejectsWithCode, assertStatsConsistent, useEcho, BerthError } from './helpers/pool.mjs';
import { roundTrip, waitFor, track, range, sleep } from './helpers/net.mjs';

/** A pool whose only connection is leased out, so the next acquire has to wait. */
async function busyPool(t, config = {}) {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1, ...config });
  // An explicit timeout: a short configured acquireTimeout must not fail the holder's own dial.
  const holder = await pool.acquire(server.dest, { timeout: 10_000 });
  return { server, pool, holder };
}

/** After releasing the holder: the pool serves the next acquire with the same connection. */
async function assertStillUsable(t, { server, pool, holder }) {
  holder.release();
  const lease = await pool.acquire(server.dest, { timeout: 5_000 });
  t.true(lease.reused, 'the one connection is handed out again');
  t.is((await roundTrip(lease.socket, 'still works')).toString(), 'still works');
  lease.release();
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.like(stats, { inUse: 0, waiting: 0, open: 1 });
  t.is((await server.stats()).accepted, 1, 'no connection was opened for the cancelled acquire');
}

test('acquire({ timeout }) rejects with ACQUIRE_TIMEOUT when nothing frees up', async (t) => {
  const ctx = await busyPool(t);
  const err = await rejectsWithCode(t, ctx.pool.acquire(ctx.server.dest, { timeout: 200 }), 'ACQUIRE_TIMEOUT', ctx.server.dest);
  t.true(err instanceof Error);
  t.is(ctx.pool.stats().acquireTimeouts, 1);
  t.is(ctx.pool.stats().waiting, 0, 'the timed-out waiter left the queue');
  await assertStillUsable(t, ctx);
});

test('config acquireTimeout applies when acquire() has no timeout', async (t) => {
  const ctx = await busyPool(t, { acquireTimeout: 200 });
  await rejectsWithCode(t, ctx.pool.acquire(ctx.server.dest), 'ACQUIRE_TIMEOUT', ctx.server.dest);
  t.is(ctx.pool.stats().acquireTimeouts, 1);
  await assertStillUsable(t, ctx);
});

test('acquire({ timeout }) overrides config acquireTimeout', async (t) => {
  const ctx = await busyPool(t, { acquireTimeout: 50 });
  const waiting = track(ctx.pool.acquire(ctx.server.dest, { timeout: 10_000 }));
  // Well past the configured 50 ms, the per-call 10 s deadline still holds the waiter.
  await sleep(500);
  t.is(ctx.pool.stats().waiting, 1);
  ctx.holder.release();
  const lease = await waiting;
  t.true(lease.reused);
  lease.release();
  t.is(ctx.pool.stats().acquireTimeouts, 0);
});

test('acquireTimeout: Infinity never times out', async (t) => {
  const ctx = await busyPool(t, { acquireTimeout: Infinity });
  const waiting = track(ctx.pool.acquire(ctx.server.dest));
  await sleep(300);
  t.is(ctx.pool.stats().waiting, 1);
  ctx.holder.release();
  (await waiting).release();
  t.is(ctx.pool.stats().acquireTimeouts, 0);
});

test('a signal aborted before acquire() rejects with signal.reason', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const reason = new Error('caller gave up');
  await t.throwsAsync(pool.acquire(server.dest, { signal: AbortSignal.abort(reason) }), { is: reason });
  t.like(pool.stats(), { inUse: 0, waiting: 0 });
  await useEcho(t, pool, server.dest, 'usable after abort');
  t.like(pool.stats(), { inUse: 0 });
});

test('a signal aborted before acquire() rejects even when an idle connection is available', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  await useEcho(t, pool, server.dest, 'leave one idle');
  const reason = new Error('too late');
  await t.throwsAsync(pool.acquire(server.dest, { signal: AbortSignal.abort(reason) }), { is: reason });
  t.like(pool.stats(), { inUse: 0, idle: 1, waiting: 0 });
  const lease = await pool.acquire(server.dest);
  t.true(lease.reused, 'the idle connection was not lost');
  lease.release();
});

test('aborting while queued rejects with signal.reason and frees the queue slot', async (t) => {
  const ctx = await busyPool(t);
  const controller = new AbortController();
  const waiting = track(ctx.pool.acquire(ctx.server.dest, { signal: controller.signal }));
  await waitFor(() => ctx.pool.stats().waiting === 1, { message: 'waiter queued' });
  const reason = new Error('stop waiting');
  controller.abort(reason);
  await t.throwsAsync(waiting, { is: reason });
  t.is(ctx.pool.stats().waiting, 0);
  await assertStillUsable(t, ctx);
});

test('abort() without a reason rejects with the signal\'s default AbortError reason', async (t) => {
  const ctx = await busyPool(t);
  const controller = new AbortController();
  const waiting = track(ctx.pool.acquire(ctx.server.dest, { signal: controller.signal }));
  await waitFor(() => ctx.pool.stats().waiting === 1, { message: 'waiter queued' });
  controller.abort();
  const err = await t.throwsAsync(waiting, { any: true });
  t.is(err, controller.signal.reason);
  t.is(err.name, 'AbortError');
  await assertStillUsable(t, ctx);
});

test('a non-Error abort reason is passed through as is', async (t) => {
  const ctx = await busyPool(t);
  const controller = new AbortController();
  const waiting = track(ctx.pool.acquire(ctx.server.dest, { signal: controller.signal }));
  await waitFor(() => ctx.pool.stats().waiting === 1, { message: 'waiter queued' });
  const reason = { why: 'shutdown' };
  controller.abort(reason);
  await t.throwsAsync(waiting, { any: true, is: reason });
  await assertStillUsable(t, ctx);
});

test('aborting one waiter keeps the others in FIFO order', async (t) => {
  const ctx = await busyPool(t);
  const controllers = range(3).map(() => new AbortController());
  const served = [];
  const waiters = [];
  for (const i of range(3)) {
    waiters.push(track(ctx.pool.acquire(ctx.server.dest, { signal: controllers[i].signal }).then((lease) => {
      served.push(i);
      lease.release();
    })));
    await waitFor(() => ctx.pool.stats().waiting === i + 1, { message: `waiter ${i} queued` });
  }
  controllers[1].abort(new Error('middle one leaves'));
  await t.throwsAsync(waiters[1], { message: 'middle one leaves' });
  ctx.holder.release();
  await Promise.all([waiters[0], waiters[2]]);
  t.deepEqual(served, [0, 2]);
  t.like(ctx.pool.stats(), { inUse: 0, waiting: 0, open: 1 });
});

test('aborting after the lease was granted changes nothing', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const controller = new AbortController();
  const lease = await pool.acquire(server.dest, { signal: controller.signal });
  controller.abort(new Error('late'));
  t.false(lease.socket.destroyed);
  t.is((await roundTrip(lease.socket, 'held')).toString(), 'held');
  lease.release();
  t.like(pool.stats(), { inUse: 0, idle: 1 });
});

test('many acquires cancelled at random points leak nothing', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 2 });
  let aborted = 0;
  let timedOut = 0;
  let served = 0;
  // 200 acquirers: some abort at once, some after a tick, some after a few ms, some time out,
  // the rest do a round trip. Two connections serve all of them.
  await Promise.all(range(200).map(async (i) => {
    const controller = new AbortController();
    const kind = i % 5;
    if (kind === 1) queueMicrotask(() => controller.abort(new Error('micro')));
    if (kind === 2) setImmediate(() => controller.abort(new Error('immediate')));
    if (kind === 3) setTimeout(() => controller.abort(new Error('timer')), i % 7);
    const timeout = kind === 4 ? 1 + (i % 3) : 10_000;
    try {
      const lease = await pool.acquire(server.dest, { signal: controller.signal, timeout });
      try {
        const payload = `acquirer ${i}`;
        t.is((await roundTrip(lease.socket, payload)).toString(), payload);
        served++;
      } finally {
        lease.release();
      }
    } catch (err) {
      if (err instanceof BerthError && err.code === 'ACQUIRE_TIMEOUT') timedOut++;
      else if (err === controller.signal.reason) aborted++;
      else throw err;
    }
  }));
  t.is(aborted + timedOut + served, 200);
  t.log({ aborted, timedOut, served });
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.like(stats, { inUse: 0, waiting: 0, dialing: 0 });
  t.true(stats.open <= 2);
  // The server's open connections are exactly the pool's idle ones.
  await waitFor(async () => (await server.stats()).current === pool.stats().open,
    { message: 'server connections match pool.stats().open' });
  // And they are all usable.
  await Promise.all(range(2).map((i) => useEcho(t, pool, server.dest, `after ${i}`)));
});
