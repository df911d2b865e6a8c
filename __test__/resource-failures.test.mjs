// ResourcePool when things go wrong: failing or slow creates, unhealthy resources, timeouts,
// aborts, full queues. Every failure is a BerthError with a stable code, and nothing hangs.
import test from 'ava';
import { BerthError, createResourcePool, makeFactory, over, until } from './helpers/resources.mjs';

test('a failing create rejects the acquire it was for with CREATE_FAILED and the cause, and emits createError', async (t) => {
  const f = makeFactory({ failCreates: 1 });
  const pool = createResourcePool(t, over(f));
  const events = [];
  pool.on('createError', (error) => events.push(error));
  const error = await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'CREATE_FAILED' });
  t.is(error.cause?.message, 'create #1 failed on purpose');
  t.is(events.length, 1);
  t.is(events[0], error.cause);
  t.like(pool.stats(), { size: 0, pending: 0, createFailures: 1 });
  const r = await pool.acquire();
  t.is(r.id, 0, 'the next acquire gets a working resource');
  pool.release(r);
});

test('a create that keeps failing rejects every waiter instead of leaving it pending', async (t) => {
  const f = makeFactory({ failCreates: Infinity });
  const pool = createResourcePool(t, over(f, { max: 2 }));
  pool.on('createError', () => {});
  const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => pool.acquire()));
  t.true(outcomes.every((o) => o.status === 'rejected' && o.reason.code === 'CREATE_FAILED'));
  t.like(pool.stats(), { size: 0, pending: 0 });
});

test('createRetry tries again with backoff before failing', async (t) => {
  const f = makeFactory({ failCreates: 2 });
  const pool = createResourcePool(t, over(f, { createRetry: { attempts: 3, backoff: 5 } }));
  const errors = [];
  pool.on('createError', (e) => errors.push(e.message));
  const r = await pool.acquire();
  t.is(f.log.createCalls, 3);
  t.deepEqual(errors, ['create #1 failed on purpose', 'create #2 failed on purpose']);
  pool.release(r);

  const g = makeFactory({ failCreates: 5 });
  const failing = createResourcePool(t, over(g, { createRetry: { attempts: 2, backoff: 1 } }));
  failing.on('createError', () => {});
  await t.throwsAsync(failing.acquire(), { code: 'CREATE_FAILED' });
  t.is(g.log.createCalls, 2, 'exactly attempts tries');
});

test('a create slower than createTimeout fails with CREATE_TIMEOUT, aborts its signal, and a late resource is destroyed', async (t) => {
  let finish;
  const late = { id: 'late', destroyed: false };
  const signals = [];
  const destroyed = [];
  const pool = createResourcePool(t, {
    create: (signal) => {
      signals.push(signal);
      return new Promise((resolve) => { finish = () => resolve(late); });
    },
    destroy: (r) => { destroyed.push(r); },
    createTimeout: 30,
  });
  pool.on('createError', () => {});
  await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'CREATE_TIMEOUT' });
  t.true(signals[0].aborted);
  t.is(signals[0].reason.code, 'CREATE_TIMEOUT');
  finish();
  await until(() => destroyed.length === 1, { message: 'the late resource destroyed' });
  t.is(destroyed[0], late);
  t.is(pool.size, 0);
});

test('min resources are kept: created at start, re-created after a destroy', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { min: 2, max: 4 }));
  await pool.ready();
  t.is(pool.size, 2);
  t.is(pool.available, 2);
  const r = await pool.acquire();
  await pool.destroy(r);
  await until(() => pool.size === 2 && pool.available === 2, { message: 'min refilled' });
  t.is(f.log.created.length, 3);
});

test('min is re-created in the background after failed creates, with backoff, without unhandled rejections', async (t) => {
  const f = makeFactory({ failCreates: 3 });
  const pool = createResourcePool(t, over(f, { min: 1 }));
  let errors = 0;
  pool.on('createError', () => errors++);
  await until(() => pool.available === 1, { message: 'min reached after the failures' });
  t.is(errors, 3);
  t.is(f.log.createCalls, 4);
});

test('autostart: false creates nothing until start() or the first acquire', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { min: 2, autostart: false }));
  await new Promise((r) => setTimeout(r, 30));
  t.is(f.log.createCalls, 0);
  const r = await pool.acquire();
  await until(() => pool.size === 2, { message: 'min created after the first acquire' });
  pool.release(r);
});

test('testOnAcquire: an unhealthy idle resource (false or a throw) is destroyed and another is handed out', async (t) => {
  let healthy = true;
  const f = makeFactory({
    valid: (r) => {
      if (r.id === 1) throw new Error('validate exploded');
      return healthy || r.id > 1;
    },
  });
  const pool = createResourcePool(t, over(f, { max: 2, testOnAcquire: true }));
  const validateErrors = [];
  pool.on('validateError', (e, r) => validateErrors.push([e.message, r.id]));
  const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
  t.deepEqual([a.id, b.id], [0, 1]);
  t.is(f.log.validated.length, 0, 'fresh resources are not validated');
  pool.release(b);
  pool.release(a);
  healthy = false;
  // LIFO: a (id 0) comes first and is unhealthy; b (id 1) throws; a fresh one (id 2) is healthy.
  const c = await pool.acquire();
  t.is(c.id, 2);
  t.true(a.destroyed);
  t.true(b.destroyed);
  t.deepEqual(validateErrors, [['validate exploded', 1]]);
  t.like(pool.stats(), { validationFailures: 2 });
  pool.release(c);
});

test('testOnRelease: a resource that fails validation when released is destroyed, not pooled', async (t) => {
  const f = makeFactory({ valid: (r) => r.uses < 2 });
  const pool = createResourcePool(t, over(f, { testOnRelease: true }));
  let r = await pool.acquire();
  r.uses = 5;
  pool.release(r);
  await until(() => r.destroyed, { message: 'destroyed on release' });
  const next = await pool.acquire();
  t.not(next, r);
  pool.release(next);
  await until(() => pool.available === 1, { message: 'healthy resource pooled' });
});

test('an acquire that waits longer than acquireTimeout (or its own timeout) rejects with ACQUIRE_TIMEOUT', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1, acquireTimeout: 40 }));
  const held = await pool.acquire();
  await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'ACQUIRE_TIMEOUT' });
  await t.throwsAsync(pool.acquire({ timeout: 10 }), { instanceOf: BerthError, code: 'ACQUIRE_TIMEOUT' });
  t.is(pool.pending, 0);
  t.like(pool.stats(), { timeouts: 2 });
  pool.release(held);
  // A deadline long enough for a loaded machine: this acquire must not time out.
  const again = await pool.acquire({ timeout: 10_000 });
  t.is(again, held);
  pool.release(again);
});

test('an aborted acquire rejects with the signal reason and leaves the queue', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1 }));
  const held = await pool.acquire();
  const controller = new AbortController();
  const waiting = pool.acquire({ signal: controller.signal });
  const reason = new Error('caller gave up');
  controller.abort(reason);
  await t.throwsAsync(waiting, { is: reason });
  t.is(pool.pending, 0);
  const pre = new AbortController();
  pre.abort(reason);
  await t.throwsAsync(pool.acquire({ signal: pre.signal }), { is: reason }, 'already aborted');
  pool.release(held);
  t.is(pool.available, 1, 'the released resource went idle, not to the aborted waiter');
});

test('maxWaiters bounds the queue: beyond it QUEUE_FULL', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1, maxWaiters: 2 }));
  const held = await pool.acquire();
  const w1 = pool.acquire();
  const w2 = pool.acquire();
  await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'QUEUE_FULL' });
  pool.release(held);
  pool.release(await w1);
  pool.release(await w2);
});

test('idle resources are destroyed after idleTimeout; softIdleTimeout keeps min', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 3, idleTimeout: 40, evictionInterval: 10 }));
  const rs = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  for (const r of rs) pool.release(r);
  await until(() => pool.size === 0 && rs.every((r) => r.destroyed), { message: 'idle resources evicted and destroyed' });
  t.like(pool.stats(), { evicted: { idle: 3, lifetime: 0, unhealthy: 0 } });

  const g = makeFactory();
  const soft = createResourcePool(t, over(g, { min: 1, max: 3, softIdleTimeout: 30, evictionInterval: 10 }));
  const ss = await Promise.all([soft.acquire(), soft.acquire(), soft.acquire()]);
  for (const r of ss) soft.release(r);
  await until(() => soft.size === 1, { message: 'soft eviction down to min' });
  await new Promise((r) => setTimeout(r, 60));
  t.is(soft.size, 1, 'min stays');
});

test('resources older than maxLifetime are retired', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { maxLifetime: 30, evictionInterval: 10 }));
  const first = await pool.acquire();
  pool.release(first);
  await until(() => first.destroyed, { message: 'retired' });
  const next = await pool.acquire();
  t.not(next, first);
  pool.release(next);
  t.true(pool.stats().evicted.lifetime >= 1);
});

test('a destroy slower than destroyTimeout is given up on: destroyError, and its place is freed', async (t) => {
  const stuck = [];
  let n = 0;
  const pool = createResourcePool(t, {
    create: () => ({ id: n++ }),
    destroy: (r) => { stuck.push(r); return new Promise(() => {}); },
    destroyTimeout: 20,
    max: 1,
  });
  const errors = [];
  pool.on('destroyError', (e, r) => errors.push([e.code, r.id]));
  const r = await pool.acquire();
  await pool.destroy(r);
  t.deepEqual(errors, [['DESTROY_TIMEOUT', 0]]);
  const next = await pool.acquire({ timeout: 1000 });
  t.is(next.id, 1, 'the place was freed for a new resource');
  pool.release(next);
});
