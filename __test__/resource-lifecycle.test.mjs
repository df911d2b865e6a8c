// ResourcePool lifecycle and input checks: drain, clear, close, option and argument errors,
// and a process that forgets close() still exits.
import test from 'ava';
import { BerthError, ResourcePool, createResourcePool, makeFactory, over, until } from './helpers/resources.mjs';
import { runNode, fixturePath, lastJsonLine } from './helpers/child.mjs';

test('drain() refuses new acquires, serves the queued ones, and closes the pool once everything is back', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { max: 1 }));
  const held = await pool.acquire();
  const queued = pool.acquire();
  let drained = false;
  const draining = pool.drain().then(() => { drained = true; });
  await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'POOL_DRAINING' });
  pool.release(held);
  const served = await queued;
  t.is(served, held, 'the queued acquire was served');
  await new Promise((r) => setTimeout(r, 10));
  t.false(drained, 'not drained while a resource is out');
  pool.release(served);
  await draining;
  t.true(held.destroyed, 'drain() ends by closing the pool, as Pool.drain() does: the idle resource is destroyed');
  t.is(pool.available, 0);
  t.true(pool.closed);
});

test('clear() destroys the idle resources and resolves after their destroys', async (t) => {
  const f = makeFactory({ destroyDelay: 5 });
  const pool = createResourcePool(t, over(f, { max: 3 }));
  const rs = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  pool.release(rs[0]);
  pool.release(rs[1]);
  await pool.clear();
  t.true(rs[0].destroyed && rs[1].destroyed);
  t.false(rs[2].destroyed, 'a borrowed resource is not touched');
  pool.release(rs[2]);
  t.is(pool.available, 1);
});

test('close() rejects queued acquires, destroys idle ones now and borrowed ones when they come back, then resolves', async (t) => {
  const f = makeFactory({ destroyDelay: 2 });
  const pool = new ResourcePool(over(f, { max: 2 }));
  const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
  const queued = pool.acquire();
  pool.release(a);
  // a went to the queued acquire; take it back and hold on to b.
  const c = await queued;
  t.is(c, a);
  const another = pool.acquire();
  let closed = false;
  const closing = pool.close().then(() => { closed = true; });
  await t.throwsAsync(another, { instanceOf: BerthError, code: 'POOL_CLOSED' });
  await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'POOL_CLOSED' });
  pool.release(c);
  await until(() => a.destroyed, { message: 'a destroyed on release after close' });
  t.false(closed, 'close waits for the borrowed resource');
  pool.release(b);
  await closing;
  t.true(b.destroyed);
  t.is(f.log.destroyed.length, f.log.created.length, 'everything created was destroyed');
  t.is(pool.close(), pool.close(), 'close() is idempotent');
  await pool[Symbol.asyncDispose]();
});

test('close() aborts creates in flight and destroys what they deliver late', async (t) => {
  const delivered = [];
  const destroyed = [];
  let release;
  const pool = new ResourcePool({
    create: (signal) =>
      new Promise((resolve) => {
        release = () => {
          const r = { aborted: signal.aborted };
          delivered.push(r);
          resolve(r);
        };
      }),
    destroy: (r) => { destroyed.push(r); },
  });
  const waiting = pool.acquire();
  const closing = pool.close();
  await t.throwsAsync(waiting, { code: 'POOL_CLOSED' });
  release();
  await closing;
  await until(() => destroyed.length === delivered.length, { message: 'late resource destroyed' });
  t.true(delivered[0].aborted, 'its signal was aborted by close()');
});

test('invalid options are TypeErrors that name the option', (t) => {
  const create = () => ({});
  const destroy = () => {};
  const cases = [
    [undefined, /options must be an object/],
    [{ destroy }, /create must be a function/],
    [{ create }, /destroy must be a function/],
    [{ create, destroy, max: 0 }, /max must be an integer/],
    [{ create, destroy, min: 3, max: 2 }, /min \(3\) must not exceed max \(2\)/],
    [{ create, destroy, min: -1 }, /min must be/],
    [{ create, destroy, acquireTimeout: -5 }, /acquireTimeout must be/],
    [{ create, destroy, idleTimeout: 'soon' }, /idleTimeout must be/],
    [{ create, destroy, order: 'random' }, /order must be 'lifo' or 'fifo'/],
    [{ create, destroy, testOnAcquire: true }, /testOnAcquire needs a validate function/],
    [{ create, destroy, createRetry: { attempts: 0 } }, /createRetry.attempts must be/],
    [{ create, destroy, createRetry: { tries: 2 } }, /unknown createRetry option "tries"/],
    [{ create, destroy, maxSize: 3 }, /unknown ResourcePool option "maxSize"/],
  ];
  for (const [options, message] of cases) {
    t.throws(() => new ResourcePool(options), { instanceOf: TypeError, message }, JSON.stringify(options));
  }
});

test('invalid acquire options reject with a TypeError and queue nothing', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f));
  await t.throwsAsync(pool.acquire({ priority: 1.5 }), { instanceOf: TypeError, message: /priority/ });
  await t.throwsAsync(pool.acquire({ timeout: -1 }), { instanceOf: TypeError, message: /timeout/ });
  await t.throwsAsync(pool.acquire({ signal: 'x' }), { instanceOf: TypeError, message: /signal/ });
  await t.throwsAsync(pool.acquire({ wait: true }), { instanceOf: TypeError, message: /unknown acquire option "wait"/ });
  t.is(pool.pending, 0);
  t.is(f.log.createCalls, 0);
});

test('a process that leaves a ResourcePool open (idle resources, min refill, timers) still exits', async (t) => {
  const run = await runNode(t, fixturePath('resource-exit.mjs'));
  t.false(run.hung, `the child did not exit on its own\nstderr:\n${run.stderr}`);
  t.is(run.code, 0, run.stderr);
  const out = lastJsonLine(run.stdout);
  t.is(out?.used, 10);
  t.true(out.available >= 2, 'min resources were idle when it finished');
});

test('a draining pool no longer keeps min: a destroyed resource is not re-created', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { min: 1 }));
  await pool.ready();
  const r = await pool.acquire();
  const drained = pool.drain();
  await pool.destroy(r);
  await drained;
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.is(pool.size, 0);
  t.is(f.log.createCalls, 1);
});
