// Where berth/generic-pool deliberately behaves better than generic-pool v3.9: each difference
// as a pair of tests, one proving what the original does, one what berth does instead.
import { both, originalOnly, berthOnly, ResourceFactory, stopPool, makePool, deferred, ticks } from './helpers/generic-pool.mjs';
import { waitFor, promiseState, track, sleep } from './helpers/net.mjs';

/** The upstream 'handle creation errors for delayed creates' factory: 5 failures, then resources. */
function flakyFactory(failures) {
  const factory = {
    attempts: 0,
    errors: [],
    create() {
      factory.attempts++;
      if (factory.attempts <= failures) {
        const err = new Error(`Error occurred. (${factory.attempts})`);
        factory.errors.push(err);
        return Promise.reject(err);
      }
      return Promise.resolve({ id: factory.attempts });
    },
    destroy: () => Promise.resolve(),
  };
  return factory;
}

// ---- 1. a failing create rejects the acquire it was for (generic-pool #175) ---------------

originalOnly('create failures: the acquire waits while generic-pool retries create at once (upstream test)', async (t, gp) => {
  const factory = flakyFactory(5);
  const pool = makePool(t, gp, factory, { max: 1 });
  const emitted = [];
  pool.on('factoryCreateError', (err) => emitted.push(err));
  const client = await pool.acquire();
  t.is(typeof client.id, 'number');
  pool.release(client);
  t.is(emitted.length, 5);
  t.is(pool.pending, 0);
  await stopPool(pool);
});

berthOnly('create failures: each failed create rejects the acquire it was for, with the factory error', async (t, gp) => {
  const factory = flakyFactory(5);
  const pool = makePool(t, gp, factory, { max: 1 });
  const emitted = [];
  pool.on('factoryCreateError', (err) => emitted.push(err));
  const rejections = [];
  let client;
  while (client === undefined) {
    try {
      client = await pool.acquire();
    } catch (err) {
      rejections.push(err);
    }
  }
  t.is(rejections.length, 5);
  t.deepEqual(rejections, factory.errors, 'each acquire rejects with the error its create failed with');
  t.deepEqual(emitted, factory.errors, 'factoryCreateError is still emitted for each');
  t.is(client.id, 6);
  t.is(pool.pending, 0);
  t.is(pool.size, 1);
  pool.release(client);
  await stopPool(pool);
});

/** A create that always fails, asynchronously (so generic-pool's retry loop lets timers run). */
function brokenFactory() {
  const factory = {
    creates: 0,
    broken: true,
    create: () => {
      factory.creates++;
      if (!factory.broken) return Promise.resolve({ n: factory.creates });
      return new Promise((_, reject) => setImmediate(() => reject(new Error('database is down'))));
    },
    destroy: () => Promise.resolve(),
  };
  return factory;
}

originalOnly('create always failing: the acquire hangs until acquireTimeoutMillis while create is retried', async (t, gp) => {
  const factory = brokenFactory();
  const pool = makePool(t, gp, factory, { max: 1, acquireTimeoutMillis: 50 });
  const err = await t.throwsAsync(pool.acquire());
  t.is(err.name, 'TimeoutError', 'the factory error never reaches the caller');
  t.true(factory.creates > 1, `create retried in a loop (${factory.creates} calls)`);
  await stopPool(pool);
});

berthOnly('create always failing: the acquire rejects at once with the factory error, one create per acquire', async (t, gp) => {
  const factory = brokenFactory();
  const pool = makePool(t, gp, factory, { max: 1 });
  const errors = [];
  pool.on('factoryCreateError', (e) => errors.push(e));
  const err = await t.throwsAsync(pool.acquire(), { message: 'database is down' });
  t.is(factory.creates, 1);
  t.deepEqual(errors, [err]);
  t.is(pool.pending, 0);
  t.is(pool.size, 0);
  await stopPool(pool);
});

berthOnly('create failures: only the acquire whose create failed is rejected; the others still get resources', async (t, gp) => {
  let n = 0;
  const pool = makePool(t, gp, {
    create: () => (++n === 1 ? Promise.reject(new Error('first create fails')) : Promise.resolve({ n })),
    destroy() {},
  }, { max: 3 });
  const results = await Promise.allSettled([pool.acquire(), pool.acquire(), pool.acquire()]);
  t.is(results.filter((r) => r.status === 'rejected').length, 1);
  t.is(results.find((r) => r.status === 'rejected').reason.message, 'first create fails');
  const resources = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  t.is(resources.length, 2);
  for (const r of resources) pool.release(r);
  await stopPool(pool);
});

berthOnly('a create that throws synchronously rejects the acquire instead of throwing from acquire()', async (t, gp) => {
  const boom = new Error('sync throw');
  const pool = makePool(t, gp, { create() { throw boom; }, destroy() {} });
  const errors = [];
  pool.on('factoryCreateError', (e) => errors.push(e));
  const acquiring = pool.acquire();
  t.is(await t.throwsAsync(acquiring), boom);
  t.deepEqual(errors, [boom]);
  await stopPool(pool);
});

// ---- 2. clear() really removes what it destroyed -----------------------------------------

originalOnly('clear(): generic-pool keeps destroyed resources in available and hands them out again', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { max: 2 });
  const a = await pool.acquire();
  pool.release(a);
  await pool.clear();
  t.deepEqual(factory.bin, [a]);
  t.is(pool.available, 1, 'still counted available');
  const again = await pool.acquire();
  t.is(again, a, 'a destroyed resource is handed out');
  pool.release(again);
  await stopPool(pool);
});

berthOnly('clear(): destroyed resources are gone; the next acquire gets a new one', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { max: 2 });
  const a = await pool.acquire();
  pool.release(a);
  await pool.clear();
  t.deepEqual(factory.bin, [a]);
  t.is(pool.available, 0);
  t.is(pool.size, 0);
  const next = await pool.acquire();
  t.not(next, a);
  t.is(next.id, 1);
  pool.release(next);
  await stopPool(pool);
});

// ---- 3. testOnReturn ---------------------------------------------------------------------

function returnFactory() {
  const factory = new ResourceFactory();
  factory.validated = 0;
  factory.validate = (r) => {
    factory.validated++;
    return Promise.resolve(!r.bad);
  };
  return factory;
}

originalOnly('testOnReturn: generic-pool 3.9 ignores it (validate is never called on release)', async (t, gp) => {
  const factory = returnFactory();
  const pool = makePool(t, gp, factory, { max: 1, testOnReturn: true });
  const r = await pool.acquire();
  r.bad = true;
  pool.release(r);
  await ticks();
  t.is(factory.validated, 0);
  t.is(await pool.acquire(), r, 'the bad resource is handed out again');
  pool.release(r);
  await stopPool(pool);
});

berthOnly('testOnReturn: a released resource is validated; an invalid one is destroyed', async (t, gp) => {
  const factory = returnFactory();
  const pool = makePool(t, gp, factory, { max: 1, testOnReturn: true });
  const good = await pool.acquire();
  pool.release(good);
  await waitFor(() => pool.available === 1, { message: 'valid resource back idle' });
  t.is(factory.validated, 1);
  const same = await pool.acquire();
  t.is(same, good);
  same.bad = true;
  pool.release(same);
  await waitFor(() => factory.destroyed === 1, { message: 'invalid resource destroyed' });
  t.deepEqual(factory.bin, [good]);
  const next = await pool.acquire();
  t.is(next.id, 1);
  pool.release(next);
  await stopPool(pool);
});

// ---- 4. validate that throws; freshly created resources ----------------------------------

berthOnly('testOnBorrow: a validate that throws or rejects counts as invalid', async (t, gp) => {
  for (const failing of [() => { throw new Error('validate threw'); }, () => Promise.reject(new Error('validate rejected'))]) {
    const factory = new ResourceFactory();
    factory.validate = (r) => (r.bad ? failing() : Promise.resolve(true));
    const pool = makePool(t, gp, factory, { max: 1, testOnBorrow: true });
    const first = await pool.acquire();
    first.bad = true;
    pool.release(first);
    const second = await pool.acquire();
    t.not(second, first);
    await waitFor(() => factory.destroyed === 1, { message: 'invalid resource destroyed' });
    pool.release(second);
    await stopPool(pool);
  }
});

originalOnly('testOnBorrow: generic-pool validates a freshly created resource too', async (t, gp) => {
  const factory = returnFactory();
  const pool = makePool(t, gp, factory, { max: 1, testOnBorrow: true });
  const r = await pool.acquire();
  t.is(factory.validated, 1);
  pool.release(r);
  await stopPool(pool);
});

berthOnly('testOnBorrow: a freshly created resource is handed out without validate', async (t, gp) => {
  const factory = returnFactory();
  const pool = makePool(t, gp, factory, { max: 1, testOnBorrow: true });
  const r = await pool.acquire();
  t.is(factory.validated, 0);
  pool.release(r);
  t.is(await pool.acquire(), r);
  t.is(factory.validated, 1, 'validated when reused');
  pool.release(r);
  await stopPool(pool);
});

berthOnly('testOnBorrow without factory.validate: resources are handed out unvalidated', async (t, gp) => {
  const pool = makePool(t, gp, { create: () => Promise.resolve({}), destroy() {} }, { max: 1, testOnBorrow: true, testOnReturn: true });
  const r = await pool.acquire();
  pool.release(r);
  t.is(await pool.acquire(), r);
  pool.release(r);
  await stopPool(pool);
});

// ---- 5. use() with a plain function ------------------------------------------------------

originalOnly('use(fn) where fn returns a plain value: generic-pool rejects (fn(...).then is not a function)', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory());
  await t.throwsAsync(pool.use(() => 42), { instanceOf: TypeError });
  t.is(pool.borrowed, 1, 'and the resource stays borrowed');
});

berthOnly('use(fn) where fn returns a plain value or throws synchronously', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory);
  t.is(await pool.use(() => 42), 42);
  t.is(pool.borrowed, 0);
  t.is(pool.available, 1);
  const boom = new Error('sync');
  t.is(await t.throwsAsync(pool.use(() => { throw boom; })), boom);
  await waitFor(() => factory.destroyed === 1, { message: 'destroyed after the throw' });
  t.is(pool.borrowed, 0);
  await stopPool(pool);
});

// ---- 6. ready() and min when creates fail ------------------------------------------------

originalOnly('ready(): with min creates failing, generic-pool never resolves (and does not retry them)', async (t, gp) => {
  const factory = brokenFactory();
  const pool = makePool(t, gp, factory, { min: 1, max: 1 });
  const ready = track(pool.ready());
  await sleep(250);
  t.is(await promiseState(ready), 'pending');
  t.is(factory.creates, 1);
  // Only a resource made otherwise (here by an acquire) ends ready()'s polling.
  factory.broken = false;
  pool.release(await pool.acquire());
  await ready;
  await stopPool(pool);
});

berthOnly('ready(): resolves once the min creates settled, even when they failed; min is retried', async (t, gp) => {
  const factory = brokenFactory();
  const pool = makePool(t, gp, factory, { min: 1, max: 1 });
  const errors = [];
  pool.on('factoryCreateError', (e) => errors.push(e));
  await pool.ready();
  t.true(errors.length >= 1);
  await waitFor(() => factory.creates >= 2, { message: 'min create retried (with backoff)' });
  await stopPool(pool);
  const creates = factory.creates;
  await sleep(250);
  t.is(factory.creates, creates, 'no more creates after drain() and clear()');
});

// ---- 7. drain() then clear() stops min for good ------------------------------------------

both('after drain() and clear(), nothing is created any more', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 2, idleTimeoutMillis: 5, evictionRunIntervalMillis: 5 });
  await pool.ready();
  await pool.drain();
  await pool.clear();
  const created = factory.created;
  await sleep(40);
  t.is(factory.created, created);
  t.is(factory.created, factory.destroyed);
});

// ---- 8. each resource must be a distinct value -------------------------------------------

berthOnly('a create that returns a resource already in the pool rejects its acquire with a TypeError', async (t, gp) => {
  const singleton = { shared: true };
  const pool = makePool(t, gp, { create: () => Promise.resolve(singleton), destroy() {} }, { max: 2 });
  const first = await pool.acquire();
  t.is(first, singleton);
  await t.throwsAsync(pool.acquire(), { instanceOf: TypeError, message: /already in the pool/ });
  pool.release(first);
  await stopPool(pool);
});

// ---- 9. clear() during a drain -----------------------------------------------------------

berthOnly('clear() while drain() is pending: once drained, every resource is destroyed and none made again', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 2 });
  await pool.ready();
  const a = await pool.acquire();
  const draining = pool.drain();
  await pool.clear();
  t.true(factory.bin.length >= 1, 'the idle resource was destroyed');
  pool.release(a);
  await draining;
  await waitFor(() => factory.created === factory.destroyed, { message: 'everything destroyed after the drain' });
  t.true(factory.bin.includes(a));
  const created = factory.created;
  await sleep(30);
  t.is(factory.created, created);
  t.is(pool.size, 0);
});
