// ResourcePool never hangs on a misbehaving factory: a create that gives no resource, a
// validate that never answers, a close() during a create backoff. "Settles" is checked with a
// generous bound (10 s against hangs that are forever, or 60 s backoffs): not a speed test.
import test from 'ava';
import { RESOURCE_DEFAULTS } from 'berth-pool';
import { BerthError, ResourcePool, createResourcePool, makeFactory, over, until } from './helpers/resources.mjs';

const HANG = Symbol('hang');

/** `promise`'s value, or HANG when it has not settled within `ms`. */
async function within(promise, ms = 10_000) {
  let timer;
  const guard = new Promise((resolve) => {
    timer = setTimeout(() => resolve(HANG), ms);
  });
  try {
    return await Promise.race([promise.then((v) => v, (e) => e), guard]);
  } finally {
    clearTimeout(timer);
  }
}

for (const nothing of [undefined, null]) {
  test(`a create that resolves ${nothing} fails that create (CREATE_FAILED, TypeError cause), and close() settles`, async (t) => {
    let creates = 0;
    const errors = [];
    const pool = createResourcePool(t, { create: async () => { creates++; return nothing; }, destroy: () => {} });
    pool.on('createError', (e) => errors.push(e));
    const error = await within(pool.acquire());
    t.true(error instanceof BerthError, `acquire rejected (${String(error)})`);
    t.is(error.code, 'CREATE_FAILED');
    t.true(error.cause instanceof TypeError);
    t.regex(error.cause.message, new RegExp(`create resolved ${nothing}`));
    t.deepEqual(errors, [error.cause]);
    t.like(pool.stats(), { size: 0, pending: 0, borrowed: 0 });
    t.is(creates, 1);
    t.not(await within(pool.close()), HANG, 'close() settles');
  });
}

test('a validate slower than validateTimeout counts as failed: validateError (VALIDATE_TIMEOUT), destroyed, another handed out; the late answer is ignored', async (t) => {
  const f = makeFactory();
  let answerLate;
  let hang = true;
  const pool = createResourcePool(t, over(f, {
    testOnAcquire: true,
    validateTimeout: 50,
    validate: (r) => (hang ? new Promise((resolve) => { answerLate = () => resolve(true); }) : true),
  }));
  const events = [];
  pool.on('validateError', (error, resource) => events.push([error, resource]));
  const first = await pool.acquire();
  pool.release(first);
  const second = await within(pool.acquire());
  t.not(second, HANG, 'the acquire did not wait for the validate forever');
  t.not(second, first, 'the resource whose validate timed out is not handed out');
  t.is(events.length, 1);
  t.true(events[0][0] instanceof BerthError);
  t.is(events[0][0].code, 'VALIDATE_TIMEOUT');
  t.is(events[0][1], first);
  await until(() => first.destroyed, { message: 'the resource destroyed' });
  hang = false;
  answerLate();
  await new Promise((r) => setTimeout(r, 20));
  t.like(pool.stats(), { size: 1, borrowed: 1, available: 0, validationFailures: 1 });
  t.false(pool.isBorrowed(first));
  pool.release(second);
  t.is(await within(pool.use((r) => r)), second, 'the pool works on');
});

test('use() with a validate that never settles is bounded by validateTimeout (finite by default)', async (t) => {
  t.true(Number.isFinite(RESOURCE_DEFAULTS.validateTimeout));
  const f = makeFactory();
  const pool = createResourcePool(t, over(f, { testOnAcquire: true, validateTimeout: 30, validate: () => new Promise(() => {}) }));
  pool.on('validateError', () => {});
  const r = await pool.acquire();
  pool.release(r);
  const result = await within(pool.use((resource) => resource.id));
  t.is(result, 1, 'served by a new resource');
});

test('close() settles with a validate in flight that never settles, even with validateTimeout: Infinity', async (t) => {
  const f = makeFactory();
  let validations = 0;
  const pool = createResourcePool(t, over(f, {
    testOnRelease: true,
    validateTimeout: Infinity,
    validate: () => { validations++; return new Promise(() => {}); },
  }));
  const a = await pool.acquire();
  const b = await pool.acquire();
  pool.release(a);
  pool.release(b); // both validating on release, forever
  await until(() => validations === 2, { message: 'both being validated' });
  t.like(pool.stats(), { available: 0, borrowed: 0 });
  t.not(await within(pool.close()), HANG, 'close() settles');
  t.deepEqual(f.log.destroyed.map((r) => r.id).sort(), [0, 1], 'every resource destroyed');
});

test('close() settles while an acquire is being served by a validate that never settles, and rejects that acquire', async (t) => {
  const f = makeFactory();
  let validating = false;
  const pool = createResourcePool(t, over(f, {
    testOnAcquire: true,
    validateTimeout: Infinity,
    validate: () => { validating = true; return new Promise(() => {}); },
  }));
  pool.release(await pool.acquire());
  const acquiring = pool.acquire();
  await until(() => validating, { message: 'validate called' });
  t.not(await within(pool.close()), HANG, 'close() settles');
  const error = await within(acquiring);
  t.is(error?.code, 'POOL_CLOSED');
});

test('close() does not wait out a createRetry backoff, and makes no create after it', async (t) => {
  const f = makeFactory({ failCreates: 1 });
  const pool = createResourcePool(t, over(f, { createRetry: { attempts: 3, backoff: 60_000 } }));
  pool.on('createError', () => {});
  const acquiring = pool.acquire();
  await until(() => f.log.createCalls === 1, { message: 'first create failed' });
  t.not(await within(pool.close()), HANG, 'close() settles');
  t.is((await within(acquiring))?.code, 'POOL_CLOSED');
  await new Promise((r) => setTimeout(r, 20));
  t.is(f.log.createCalls, 1, 'no create after close()');
});

// Found by the Redis recipe of docs/resource-pool.md (1 run in ~25 under load): a create made
// for a waiter that a release served instead is still in flight when drain() closes the pool;
// close() aborts it and destroys the idle resource; the create then lands and its resource is
// destroyed too. When that late destroy finished last, nothing checked again whether the close
// was done, and drain()/close() never settled.
test('close() settles when a create lands after it and that resource\'s destroy finishes after the others\'', async (t) => {
  const creates = [];
  const destroys = new Map();
  const pool = createResourcePool(t, {
    create: () => new Promise((resolve) => { creates.push(resolve); }),
    destroy: (r) => new Promise((resolve) => { destroys.set(r, resolve); }),
    max: 2,
  });
  const first = pool.acquire();
  await until(() => creates.length === 1, { message: 'the first create' });
  creates[0]({ id: 1 });
  const r1 = await first;
  const second = pool.acquire(); // waits for a create of its own...
  await until(() => creates.length === 2, { message: 'the second create' });
  pool.release(r1); // ...but is served by the release, the create still in flight
  t.is(await within(second), r1);
  pool.release(r1);

  const closing = pool.close(); // aborts the create, destroys r1
  await until(() => destroys.has(r1), { message: 'r1 being destroyed' });
  const r2 = { id: 2 };
  creates[1](r2); // the create lands after close(): r2 is destroyed at once
  await until(() => destroys.has(r2), { message: 'the late resource being destroyed' });
  destroys.get(r1)(); // r1's destroy finishes first,
  await new Promise((r) => setImmediate(r));
  destroys.get(r2)(); // the late one's last
  t.not(await within(closing), HANG, 'close() settles');
  t.is(pool.size, 0);
});

test('validateTimeout must be a number of ms >= 1 or Infinity', (t) => {
  const base = { create: () => ({}), destroy: () => {} };
  for (const bad of [0, -1, NaN, '100', null, 2 ** 31]) {
    t.throws(() => new ResourcePoolFor(base, bad), { instanceOf: TypeError, message: /validateTimeout/ }, String(bad));
  }
  t.notThrows(() => new ResourcePoolFor(base, Infinity).close());
  t.notThrows(() => new ResourcePoolFor(base, 1).close());
});

test('a CREATE_FAILED quoting the factory error masks credentials; the cause stays as thrown', async (t) => {
  const thrown = new Error('connect to postgres://admin:hunter2@db:5432 failed');
  const pool = createResourcePool(t, { create: () => { throw thrown; }, destroy: () => {} });
  pool.on('createError', () => {});
  const error = await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'CREATE_FAILED' });
  t.false(error.message.includes('hunter2'), error.message);
  t.false(error.message.includes('admin'), error.message);
  t.true(error.message.includes('postgres://***@db:5432'), error.message);
  t.is(error.cause, thrown);
  t.true(error.cause.message.includes('hunter2'));
  t.false(String(error.stack).split('\n')[0].includes('hunter2'), 'the stack header masks it too');
  const bare = new Error('auth admin:hunter2@10.0.0.1 refused');
  const other = createResourcePool(t, { create: () => Promise.reject(bare), destroy: () => {} });
  other.on('createError', () => {});
  const second = await t.throwsAsync(other.acquire(), { code: 'CREATE_FAILED' });
  t.false(second.message.includes('hunter2'), second.message);
  t.is(second.cause, bare);
});

function ResourcePoolFor(base, validateTimeout) {
  return new ResourcePool({ ...base, validateTimeout, autostart: false });
}
