// ResourcePool.drain({ timeout }) and the closed / draining getters, with the socket Pool's
// semantics: drain() ends by closing the pool; DRAIN_TIMEOUT leaves the pool draining; a bad
// timeout is a TypeError.
import test from 'ava';
import { BerthError, createResourcePool, makeFactory, over, until } from './helpers/resources.mjs';

test('closed and draining: false when open; draining while drain() waits; closed once it has finished, as for Pool', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f));
  t.false(pool.closed);
  t.false(pool.draining);
  const r = await pool.acquire();
  const draining = pool.drain();
  t.true(pool.draining, 'draining as soon as drain() is called');
  t.false(pool.closed);
  pool.release(r);
  await draining;
  t.false(pool.draining, 'drain() has finished');
  t.true(pool.closed, 'drain() ends by closing the pool');
  t.deepEqual(f.log.destroyed, [r], 'the resource that came back was destroyed');
  await t.throwsAsync(pool.acquire(), { code: 'POOL_CLOSED' });
  await pool.close();
  t.true(pool.closed);
});

test('closed from the moment close() is called', async (t) => {
  const pool = createResourcePool(t, over(makeFactory()));
  const closing = pool.close();
  t.true(pool.closed, 'closed as soon as close() is called');
  t.false(pool.draining);
  await closing;
  t.true(pool.closed);
});

test('closed is true at once, before close() has finished destroying', async (t) => {
  let finish;
  const pool = createResourcePool(t, { create: () => ({}), destroy: () => new Promise((r) => { finish = r; }) });
  pool.release(await pool.acquire());
  const closing = pool.close();
  t.true(pool.closed);
  await until(() => finish !== undefined, { message: 'destroy called' });
  t.true(pool.closed, 'while the destroy runs');
  finish();
  await closing;
});

test('drain({ timeout }) rejects with DRAIN_TIMEOUT while a resource is still borrowed; the pool stays draining and drains later', async (t) => {
  const f = makeFactory();
  const pool = createResourcePool(t, over(f));
  const r = await pool.acquire();
  const error = await t.throwsAsync(pool.drain({ timeout: 20 }), { instanceOf: BerthError, code: 'DRAIN_TIMEOUT' });
  t.regex(error.message, /1 resources still borrowed/);
  t.true(pool.draining);
  await t.throwsAsync(pool.acquire(), { code: 'POOL_DRAINING' });
  const again = pool.drain({ timeout: 10_000 });
  pool.release(r);
  await again;
  t.true(pool.closed, 'the second drain() finished, and closed the pool');
  t.deepEqual(f.log.destroyed, [r]);
});

test('drain({ timeout }) resolves when everything is back in time; timeout 0 and Infinity are accepted', async (t) => {
  const pool = createResourcePool(t, over(makeFactory()));
  pool.release(await pool.acquire());
  await pool.drain({ timeout: 0 });
  await pool.drain({ timeout: Infinity });
  await pool.drain({});
  t.true(pool.closed);
});

test('drain() with a bad timeout rejects with a TypeError and changes nothing', async (t) => {
  const pool = createResourcePool(t, over(makeFactory()));
  for (const bad of [-1, NaN, '10', 2 ** 31]) {
    await t.throwsAsync(pool.drain({ timeout: bad }), { instanceOf: TypeError, message: /drain timeout/ }, String(bad));
  }
  t.false(pool.draining, 'still open');
  pool.release(await pool.acquire());
});

test('drain() of a closed pool resolves with close()', async (t) => {
  const pool = createResourcePool(t, over(makeFactory()));
  await pool.close();
  await pool.drain({ timeout: 10 });
  t.true(pool.closed);
});

test('drain() resolves when the create a queued acquire waits for fails (the acquire rejects with CREATE_FAILED)', async (t) => {
  let failCreate;
  const pool = createResourcePool(t, {
    create: () => new Promise((_, reject) => { failCreate = () => reject(new Error('backend down')); }),
    destroy: () => {},
  });
  pool.on('createError', () => {});
  const acquiring = pool.acquire();
  const drained = pool.drain({ timeout: 10_000 });
  failCreate();
  await t.throwsAsync(acquiring, { code: 'CREATE_FAILED' });
  await drained;
  t.is(pool.pending, 0);
});
