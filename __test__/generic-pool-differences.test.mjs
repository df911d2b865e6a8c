// Where berth/generic-pool deliberately behaves better than generic-pool v3.9: each difference
// as a pair of tests, one proving what the original does, one what berth does instead.
import { both, originalOnly, berthOnly, ResourceFactory, stopPool, makePool, deferred, ticks } from './helpers/generic-pool.mjs';
import { waitFor, promiseState, track, sleep } from './helpers/net.mjs';
import { runNode, fixturePath, lastJsonLine } from './helpers/child.mjs';

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

// ---- 1. a failing create: the acquire waits while creation is retried, with backoff ---------
// (generic-pool's contract, which its own suite tests; berth bounds the retries by a backoff
// instead of retrying at once, generic-pool #175, and lets drain() end them.)

both('create failures: the acquire waits while create is retried, then gets a resource (upstream test)', async (t, gp) => {
  const factory = flakyFactory(5);
  const pool = makePool(t, gp, factory, { max: 1 });
  const emitted = [];
  pool.on('factoryCreateError', (err) => emitted.push(err));
  const client = await pool.acquire();
  t.is(client.id, 6);
  t.deepEqual(emitted, factory.errors, 'factoryCreateError for each failure');
  t.is(pool.pending, 0);
  pool.release(client);
  await stopPool(pool);
});

both('create failures: several waiting acquires all get resources once create works', async (t, gp) => {
  let n = 0;
  const pool = makePool(t, gp, {
    create: () => (++n <= 2 ? Promise.reject(new Error(`create ${n} fails`)) : Promise.resolve({ n })),
    destroy() {},
  }, { max: 3 });
  pool.on('factoryCreateError', () => {});
  const resources = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  t.is(new Set(resources).size, 3);
  for (const r of resources) pool.release(r);
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

both('create always failing: the acquire waits until acquireTimeoutMillis (TimeoutError) while create is retried', async (t, gp) => {
  const factory = brokenFactory();
  // 1 s: room for a retry (berth's first comes after 10 ms) even when timers fire late on a
  // loaded machine (with 100 ms one run saw a single create).
  const pool = makePool(t, gp, factory, { max: 1, acquireTimeoutMillis: 1000 });
  const errors = [];
  pool.on('factoryCreateError', (e) => errors.push(e));
  const err = await t.throwsAsync(pool.acquire());
  t.is(err.name, 'TimeoutError', 'the factory error never reaches the caller');
  t.true(factory.creates > 1, `create retried (${factory.creates} calls)`);
  t.true(errors.length >= 1 && errors.every((e) => e.message === 'database is down'));
  await stopPool(pool);
});

originalOnly('create always failing: generic-pool retries at once, in a loop', async (t, gp) => {
  const factory = brokenFactory();
  const pool = makePool(t, gp, factory, { max: 1, acquireTimeoutMillis: 200 });
  await t.throwsAsync(pool.acquire(), { name: 'TimeoutError' });
  // One create per event-loop turn for 200 ms: far more than any backoff allows.
  t.true(factory.creates > 20, `${factory.creates} calls`);
  await stopPool(pool);
});

berthOnly('create always failing: retries back off (10 ms doubling), and stop once nobody waits', async (t, gp) => {
  const factory = brokenFactory();
  const pool = makePool(t, gp, factory, { max: 1, acquireTimeoutMillis: 200 });
  pool.on('factoryCreateError', () => {});
  await t.throwsAsync(pool.acquire(), { name: 'TimeoutError' });
  // Retries 10, 30, 70, 150, 310, 630, ... ms after the first create: about 5 by the timeout.
  // However late the timers fire, a doubling backoff allows no more than this.
  t.true(factory.creates >= 2 && factory.creates <= 12, `${factory.creates} calls`);
  t.is(pool.pending, 0);
  const creates = factory.creates;
  await sleep(300);
  t.true(factory.creates <= creates + 1, 'no retries once the acquire timed out (one already planned at most)');
  // A success resets the backoff: the next acquire is served by the next create.
  factory.broken = false;
  const client = await pool.acquire();
  pool.release(client);
  await stopPool(pool);
});

berthOnly('create always failing, no acquireTimeoutMillis: drain() ends the retries, rejecting the waiting acquires with the factory error', async (t, gp) => {
  const factory = brokenFactory();
  const pool = makePool(t, gp, factory, { max: 2 });
  const errors = [];
  pool.on('factoryCreateError', (e) => errors.push(e));
  const acquires = [track(pool.acquire()), track(pool.acquire())];
  await waitFor(() => errors.length >= 4, { message: 'creates failed and were retried' });
  t.is(await promiseState(acquires[0]), 'pending', 'still waiting while create is retried');
  t.is(pool.pending, 2);
  await stopPool(pool);
  for (const acquire of acquires) await t.throwsAsync(acquire, { message: 'database is down' });
  const creates = factory.creates;
  await sleep(100);
  t.is(factory.creates, creates, 'nothing created after drain() and clear()');
});

berthOnly('create always failing, no acquireTimeoutMillis: drain() and clear() settle and the process exits by itself', async (t) => {
  const run = await runNode(t, fixturePath('generic-pool-failing-exit.mjs'));
  t.false(run.hung, `the child did not exit on its own\nstderr:\n${run.stderr}`);
  t.is(run.code, 0, `exit code (13 = a top-level await never settled)\nstderr:\n${run.stderr}`);
  const out = lastJsonLine(run.stdout);
  t.is(out?.pendingBeforeDrain, 2);
  t.deepEqual(out?.outcomes, ['database is down', 'database is down']);
});

originalOnly('a create that throws synchronously: generic-pool throws it from acquire()', async (t, gp) => {
  const boom = new Error('sync throw');
  let n = 0;
  const pool = makePool(t, gp, { create() { if (++n === 1) throw boom; return Promise.resolve({ n }); }, destroy() {} });
  t.is(t.throws(() => pool.acquire()), boom);
});

berthOnly('a create that throws synchronously is a failed create: emitted, and the acquire waits for the retry', async (t, gp) => {
  const boom = new Error('sync throw');
  let n = 0;
  const pool = makePool(t, gp, { create() { if (++n === 1) throw boom; return Promise.resolve({ n }); }, destroy() {} });
  const errors = [];
  pool.on('factoryCreateError', (e) => errors.push(e));
  const client = await pool.acquire();
  t.is(client.n, 2);
  t.deepEqual(errors, [boom]);
  pool.release(client);
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

originalOnly('a create that resolves undefined: generic-pool hands undefined out as a resource', async (t, gp) => {
  const pool = makePool(t, gp, { create: () => Promise.resolve(undefined), destroy() {} }, { max: 1 });
  t.is(await pool.acquire(), undefined);
  t.is(pool.borrowed, 1);
});

berthOnly('a create that resolves undefined or null rejects its acquire with a TypeError (not retried)', async (t, gp) => {
  for (const nothing of [undefined, null]) {
    let creates = 0;
    const pool = makePool(t, gp, { create: () => { creates++; return Promise.resolve(nothing); }, destroy() {} }, { max: 1 });
    await t.throwsAsync(pool.acquire(), { instanceOf: TypeError, message: new RegExp(`create resolved ${nothing}`) });
    t.is(creates, 1);
    t.is(pool.size, 0);
    await stopPool(pool);
  }
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
