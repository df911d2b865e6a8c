// generic-pool v3 options, defaults, validation, module shape and events, proven against the
// original package and against berth/generic-pool (see helpers/generic-pool.mjs).
import { EventEmitter } from 'node:events';
import { both, IMPLS, ResourceFactory, stopPool, makePool, deferred, ticks } from './helpers/generic-pool.mjs';
import { waitFor, promiseState, track, sleep } from './helpers/net.mjs';

// ---- module shape ------------------------------------------------------------------------

both('the module exports createPool, Pool, Deque, PriorityQueue and DefaultEvictor', async (t, gp) => {
  for (const key of ['createPool', 'Pool', 'Deque', 'PriorityQueue', 'DefaultEvictor']) {
    t.is(typeof gp[key], 'function', key);
  }
  const pool = makePool(t, gp, new ResourceFactory());
  t.true(pool instanceof gp.Pool);
  t.true(pool instanceof EventEmitter);
  await stopPool(pool);
});

both('ESM: named and default imports', async (t, gp, impl) => {
  const esm = await import(impl.specifier);
  t.is(typeof esm.createPool, 'function');
  t.is(typeof esm.Pool, 'function');
  t.is(typeof esm.default.createPool, 'function');
  t.is(esm.createPool, gp.createPool, 'import and require share one module instance');
  const pool = esm.createPool(new ResourceFactory());
  t.true(pool instanceof gp.Pool);
  await stopPool(pool);
});

both('new Pool(Evictor, Deque, PriorityQueue, factory, options) works like createPool', async (t, gp) => {
  const pool = new gp.Pool(gp.DefaultEvictor, gp.Deque, gp.PriorityQueue, new ResourceFactory(), { max: 2 });
  t.teardown(() => stopPool(pool));
  t.is(pool.max, 2);
  const r = await pool.acquire();
  t.is(r.id, 0);
  await pool.release(r);
});

both('DefaultEvictor.evict applies idleTimeoutMillis and softIdleTimeoutMillis', (t, gp) => {
  const evictor = new gp.DefaultEvictor();
  const idleFor = (ms) => ({ lastIdleTime: Date.now() - ms });
  t.true(evictor.evict({ softIdleTimeoutMillis: -1, idleTimeoutMillis: 10, min: 0 }, idleFor(100), 1));
  t.false(evictor.evict({ softIdleTimeoutMillis: -1, idleTimeoutMillis: 1000, min: 0 }, idleFor(100), 1));
  t.true(evictor.evict({ softIdleTimeoutMillis: 10, idleTimeoutMillis: 1000, min: 1 }, idleFor(100), 2));
  t.false(evictor.evict({ softIdleTimeoutMillis: 10, idleTimeoutMillis: 1000, min: 2 }, idleFor(100), 2));
});

both('Deque and PriorityQueue', (t, gp) => {
  const d = new gp.Deque();
  d.push(2);
  d.push(3);
  d.unshift(1);
  t.is(d.length, 3);
  t.is(d.head, 1);
  t.is(d.tail, 3);
  t.deepEqual([...d], [1, 2, 3]);
  t.is(d.shift(), 1);
  t.is(d.pop(), 3);
  t.is(d.length, 1);
  t.is(new gp.Deque().shift(), undefined);

  // The queue holds ResourceRequest-like objects (it watches their promise).
  const item = (name) => ({ name, promise: new Promise(() => {}) });
  const q = new gp.PriorityQueue(3);
  q.enqueue(item('low'), 2);
  q.enqueue(item('high'), 0);
  q.enqueue(item('mid'), 1);
  q.enqueue(item('out of range'), 9);
  q.enqueue(item('default'));
  t.is(q.length, 5);
  t.is(q.head.name, 'high');
  t.is(q.tail.name, 'out of range');
  t.deepEqual([1, 2, 3, 4, 5].map(() => q.dequeue().name), ['high', 'default', 'mid', 'low', 'out of range']);
  t.is(q.dequeue(), undefined);
});

// ---- factory validation ------------------------------------------------------------------

both('factory validation: TypeErrors as generic-pool throws them', (t, gp) => {
  const ok = { create: () => Promise.resolve({}), destroy: () => Promise.resolve() };
  t.throws(() => gp.createPool({ destroy: ok.destroy }), { instanceOf: TypeError, message: 'factory.create must be a function' });
  t.throws(() => gp.createPool({ create: ok.create }), { instanceOf: TypeError, message: 'factory.destroy must be a function' });
  t.throws(() => gp.createPool({ ...ok, validate: true }), { instanceOf: TypeError, message: 'factory.validate must be a function' });
  t.throws(() => gp.createPool(), { instanceOf: TypeError });
});

both('the factory is called as a method (this is the factory) and create gets no arguments', async (t, gp) => {
  const calls = [];
  const factory = {
    create(...args) {
      calls.push(['create', this, args]);
      return Promise.resolve({});
    },
    validate(r) {
      calls.push(['validate', this, [r]]);
      return Promise.resolve(true);
    },
    destroy(r) {
      calls.push(['destroy', this, [r]]);
      return Promise.resolve();
    },
  };
  const pool = makePool(t, gp, factory, { testOnBorrow: true });
  const r = await pool.acquire();
  pool.release(r);
  const again = await pool.acquire();
  await pool.destroy(again);
  await waitFor(() => calls.some(([name]) => name === 'destroy'), { message: 'destroy called' });
  for (const [, self] of calls) t.is(self, factory);
  t.deepEqual(calls.find(([name]) => name === 'create')[2], []);
  t.true(calls.some(([name]) => name === 'validate'));
  await stopPool(pool);
});

both('create, destroy and validate may return plain values instead of promises', async (t, gp) => {
  let destroyed = 0;
  const pool = makePool(t, gp, {
    create: () => ({ plain: true }),
    validate: () => true,
    destroy: () => { destroyed++; },
  }, { testOnBorrow: true });
  const r = await pool.acquire();
  t.deepEqual(r, { plain: true });
  pool.release(r);
  t.is(await pool.acquire(), r);
  await pool.destroy(r);
  await waitFor(() => destroyed === 1, { message: 'destroy called' });
  await stopPool(pool);
});

// ---- min / max ---------------------------------------------------------------------------

both('max and min are parsed with parseInt and clamped like generic-pool', async (t, gp) => {
  const cases = [
    [{ max: '5' }, 5, 0],
    [{ max: 2.9 }, 2, 0],
    [{ max: 0 }, 1, 0],
    [{ max: -3 }, 1, 0],
    [{ max: 4, min: '2' }, 4, 2],
    [{ max: 4, min: 2.5 }, 4, 2],
    [{ max: 4, min: null }, 4, 0],
  ];
  for (const [options, max, min] of cases) {
    const pool = makePool(t, gp, new ResourceFactory(), options);
    t.is(pool.max, max, JSON.stringify(options));
    t.is(pool.min, min, JSON.stringify(options));
    await stopPool(pool);
  }
});

both('the pool never holds more than max resources; extra acquires wait', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { max: 2 });
  const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
  const third = track(pool.acquire());
  await ticks();
  t.is(await promiseState(third), 'pending');
  t.is(pool.size, 2);
  t.is(pool.pending, 1);
  t.is(pool.spareResourceCapacity, 0);
  t.is(factory.created, 2);
  pool.release(a);
  t.is(await third, a);
  pool.release(a);
  pool.release(b);
  await stopPool(pool);
});

both('spareResourceCapacity, size, available, borrowed, pending', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 3 });
  t.like(pool, { spareResourceCapacity: 3, size: 0, available: 0, borrowed: 0, pending: 0, max: 3, min: 0 });
  const a = await pool.acquire();
  t.like(pool, { spareResourceCapacity: 2, size: 1, available: 0, borrowed: 1, pending: 0 });
  pool.release(a);
  t.like(pool, { spareResourceCapacity: 2, size: 1, available: 1, borrowed: 0, pending: 0 });
  await stopPool(pool);
});

both('autostart (default true) creates min resources at construction', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 4 });
  t.is(pool.size, 2, 'the creates are counted at once');
  await waitFor(() => pool.available === 2, { message: 'min created' });
  t.is(factory.created, 2);
  await stopPool(pool);
});

both('autostart false: nothing is created until start(); ready() waits for it', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 4, autostart: false });
  const ready = track(pool.ready());
  await sleep(20);
  t.is(factory.created, 0);
  t.is(pool.size, 0);
  t.is(await promiseState(ready), 'pending');
  pool.start();
  pool.start(); // a second start() is a no-op
  await ready;
  t.is(factory.created, 2);
  t.true(pool.available >= 2);
  await stopPool(pool);
});

both('autostart false: the first acquire starts the pool', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 4, autostart: false });
  t.is(factory.created, 0);
  const r = await pool.acquire();
  await waitFor(() => pool.size === 2 && factory.created === 2, { message: 'min created by the first acquire' });
  t.is(typeof r.id, 'number');
  pool.release(r);
  await stopPool(pool);
});

// ---- fifo --------------------------------------------------------------------------------

both('fifo (default true): the resource released first is handed out first', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 2 });
  const a = await pool.acquire();
  const b = await pool.acquire();
  pool.release(a);
  pool.release(b);
  const c = await pool.acquire();
  t.is(c, a);
  pool.release(c);
  await stopPool(pool);
});

both('fifo false: the resource released last is handed out first', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 2, fifo: false });
  const a = await pool.acquire();
  const b = await pool.acquire();
  pool.release(a);
  pool.release(b);
  const c = await pool.acquire();
  t.is(c, b);
  pool.release(c);
  await stopPool(pool);
});

// ---- priority ----------------------------------------------------------------------------

async function serviceOrder(t, gp, options, priorities) {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1, ...options });
  const held = await pool.acquire();
  const order = [];
  const served = priorities.map(([label, priority]) => pool.acquire(priority).then((r) => {
    order.push(label);
    pool.release(r);
  }));
  t.is(pool.pending, priorities.length);
  pool.release(held);
  await Promise.all(served);
  await stopPool(pool);
  return order;
}

both('priority: 0 is the highest, FIFO within a priority, the default is 0', async (t, gp) => {
  const order = await serviceOrder(t, gp, { priorityRange: 3 }, [
    ['low', 2], ['mid', 1], ['high', 0], ['default', undefined], ['mid 2', 1], ['high 2', 0],
  ]);
  t.deepEqual(order, ['high', 'default', 'high 2', 'mid', 'mid 2', 'low']);
});

both('priority outside priorityRange (or negative) goes to the lowest priority', async (t, gp) => {
  const order = await serviceOrder(t, gp, { priorityRange: 3 }, [
    ['too big', 3], ['low', 2], ['negative', -1], ['high', 0], ['string 1', '1'],
  ]);
  t.deepEqual(order, ['high', 'string 1', 'too big', 'low', 'negative']);
});

both('priorityRange 1 (default): every priority is served first come, first served', async (t, gp) => {
  const order = await serviceOrder(t, gp, {}, [['a', 5], ['b', 0], ['c', 2], ['d', undefined]]);
  t.deepEqual(order, ['a', 'b', 'c', 'd']);
});

// ---- maxWaitingClients -------------------------------------------------------------------

both('maxWaitingClients: acquires beyond it are rejected once the pool is full', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1, maxWaitingClients: 1 });
  const a = await pool.acquire();
  const queued = track(pool.acquire());
  const rejected = pool.acquire();
  t.true(rejected instanceof Promise, 'a rejected promise, not a throw');
  const err = await t.throwsAsync(rejected);
  t.true(err instanceof Error);
  t.is(err.message, 'max waitingClients count exceeded');
  t.is(pool.pending, 1);
  pool.release(a);
  t.is(await queued, a);
  pool.release(a);
  await stopPool(pool);
});

both('maxWaitingClients only applies when no resource can be created or handed out', async (t, gp) => {
  const gate = deferred();
  const pool = makePool(t, gp, { create: () => gate.promise.then(() => ({})), destroy() {} }, { max: 3, maxWaitingClients: 0 });
  // Three acquires wait for creates in flight: allowed, there is spare capacity for each.
  const acquires = [pool.acquire(), pool.acquire(), pool.acquire()].map(track);
  t.is(pool.pending, 3);
  const err = await t.throwsAsync(pool.acquire());
  t.is(err.message, 'max waitingClients count exceeded');
  gate.resolve();
  const resources = await Promise.all(acquires);
  t.is(new Set(resources).size, 3);
  for (const r of resources) pool.release(r);
  await stopPool(pool);
});

both('maxWaitingClients null or undefined: unlimited', async (t, gp) => {
  for (const maxWaitingClients of [null, undefined]) {
    const pool = makePool(t, gp, new ResourceFactory(), { max: 1, maxWaitingClients });
    const a = await pool.acquire();
    const waiting = Array.from({ length: 50 }, () => track(pool.acquire()));
    t.is(pool.pending, 50);
    pool.release(a);
    for (const p of waiting) pool.release(await p);
    await stopPool(pool);
  }
});

// ---- acquireTimeoutMillis ----------------------------------------------------------------

both('acquireTimeoutMillis: a queued acquire on a full pool times out; the pool stays usable', async (t, gp) => {
  // min 1 and ready(): the first acquire takes an idle resource, so it cannot itself time out
  // on a busy machine while the create runs (the timeout applies to every acquire).
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1, min: 1, acquireTimeoutMillis: 100 });
  await pool.ready();
  const a = await pool.acquire();
  const err = await t.throwsAsync(pool.acquire());
  t.is(err.name, 'TimeoutError');
  t.is(err.message, 'ResourceRequest timed out');
  t.is(pool.pending, 0);
  pool.release(a);
  t.is(pool.available, 1);
  const again = await pool.acquire();
  t.is(again, a);
  pool.release(again);
  await stopPool(pool);
});

both('acquireTimeoutMillis 0 or null: no timeout', async (t, gp) => {
  for (const acquireTimeoutMillis of [0, null]) {
    const pool = makePool(t, gp, new ResourceFactory(), { max: 1, acquireTimeoutMillis });
    const a = await pool.acquire();
    const waiting = track(pool.acquire());
    await sleep(20);
    t.is(await promiseState(waiting), 'pending');
    pool.release(a);
    pool.release(await waiting);
    await stopPool(pool);
  }
});

both('acquireTimeoutMillis that is not a positive integer: acquire() throws', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { acquireTimeoutMillis: -5 });
  t.throws(() => pool.acquire(), { message: 'delay must be a positive int' });
  await stopPool(pool);
});

// ---- eviction ----------------------------------------------------------------------------

both('no idle eviction unless evictionRunIntervalMillis > 0', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { max: 2, idleTimeoutMillis: 1 });
  const r = await pool.acquire();
  pool.release(r);
  await sleep(40);
  t.is(factory.destroyed, 0);
  t.is(pool.available, 1);
  await stopPool(pool);
});

both('idleTimeoutMillis 0 means the default 30000 (generic-pool reads it with ||)', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { max: 2, idleTimeoutMillis: 0, evictionRunIntervalMillis: 5 });
  const r = await pool.acquire();
  pool.release(r);
  await sleep(40);
  t.is(factory.destroyed, 0);
  await stopPool(pool);
});

both('idleTimeoutMillis evicts idle resources even below min, and min is refilled', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 1, max: 2, idleTimeoutMillis: 10, evictionRunIntervalMillis: 5 });
  await waitFor(() => factory.destroyed >= 1 && factory.created >= 2, { message: 'min resource evicted and re-created' });
  t.is(factory.bin[0].id, 0);
  await stopPool(pool);
});

both('softIdleTimeoutMillis evicts idle resources while more than min are idle', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, {
    min: 1, max: 3, softIdleTimeoutMillis: 10, evictionRunIntervalMillis: 5, numTestsPerEvictionRun: 3,
  });
  const resources = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  for (const r of resources) pool.release(r);
  await waitFor(() => factory.destroyed === 2, { message: 'two of three evicted' });
  await sleep(40);
  t.is(factory.destroyed, 2, 'the last one (min) stays');
  t.is(pool.size, 1);
  await stopPool(pool);
});

// ---- testOnBorrow ------------------------------------------------------------------------

both('testOnBorrow: a resource that fails validate is destroyed and another one handed out', async (t, gp) => {
  const factory = new ResourceFactory();
  factory.validate = (r) => Promise.resolve(!r.bad);
  const pool = makePool(t, gp, factory, { max: 1, testOnBorrow: true });
  const first = await pool.acquire();
  first.bad = true;
  pool.release(first);
  const second = await pool.acquire();
  t.not(second, first);
  t.is(second.id, 1);
  await waitFor(() => factory.destroyed === 1, { message: 'invalid resource destroyed' });
  t.deepEqual(factory.bin, [first]);
  pool.release(second);
  await stopPool(pool);
});

both('testOnBorrow false (default): validate is not called', async (t, gp) => {
  const factory = new ResourceFactory();
  let validated = 0;
  factory.validate = () => {
    validated++;
    return Promise.resolve(false);
  };
  const pool = makePool(t, gp, factory, { max: 1 });
  const r = await pool.acquire();
  pool.release(r);
  t.is(await pool.acquire(), r);
  pool.release(r);
  t.is(validated, 0);
  await stopPool(pool);
});

// ---- events ------------------------------------------------------------------------------

both('factoryCreateError: emitted with the error create rejected with', async (t, gp) => {
  const failure = new Error('cannot create');
  let creates = 0;
  const pool = makePool(t, gp, {
    create: () => {
      creates++;
      return Promise.reject(failure);
    },
    destroy() {},
  }, { min: 1, max: 1 });
  const errors = [];
  pool.on('factoryCreateError', (err) => errors.push(err));
  await waitFor(() => errors.length >= 1, { message: 'factoryCreateError emitted' });
  t.is(errors[0], failure);
  t.true(creates >= 1);
  await stopPool(pool);
});

both('factoryCreateError without a listener is silently discarded', async (t, gp) => {
  let creates = 0;
  const pool = makePool(t, gp, {
    create: () => {
      creates++;
      return Promise.reject(new Error('nobody listens'));
    },
    destroy() {},
  }, { min: 1, max: 1 });
  await waitFor(() => creates >= 1, { message: 'create called' });
  await ticks();
  t.pass();
  await stopPool(pool);
});

both('factoryDestroyError: emitted with the error destroy rejected with', async (t, gp) => {
  const failure = new Error('cannot destroy');
  const pool = makePool(t, gp, {
    create: () => Promise.resolve({}),
    destroy: () => Promise.reject(failure),
  });
  const r = await pool.acquire();
  const emitted = new Promise((resolve) => pool.once('factoryDestroyError', resolve));
  t.is(await pool.destroy(r), undefined, 'destroy() itself resolves');
  t.is(await emitted, failure);
  await stopPool(pool);
});

both('destroy() resolves without waiting for factory.destroy; the place is freed at once', async (t, gp) => {
  const gate = deferred();
  const factory = new ResourceFactory();
  factory.destroy = () => gate.promise;
  const pool = makePool(t, gp, factory, { max: 1 });
  const r = await pool.acquire();
  await pool.destroy(r);
  t.is(pool.size, 0);
  const next = await pool.acquire();
  t.is(next.id, 1, 'a new resource while the old one is still being destroyed');
  pool.release(next);
  gate.resolve();
  await stopPool(pool);
});

// ---- Promise option ----------------------------------------------------------------------

both('options.Promise: every promise the pool returns is of that implementation', async (t, gp) => {
  class MyPromise extends Promise {}
  const pool = makePool(t, gp, new ResourceFactory(), { Promise: MyPromise, max: 1 });
  const ready = pool.ready();
  t.true(ready instanceof MyPromise, 'ready');
  await ready;
  const acquiring = pool.acquire();
  t.true(acquiring instanceof MyPromise, 'acquire');
  const r = await acquiring;
  const released = pool.release(r);
  t.true(released instanceof MyPromise, 'release');
  await released;
  const badRelease = pool.release({});
  t.true(badRelease instanceof MyPromise, 'rejected release');
  await t.throwsAsync(badRelease);
  const r2 = await pool.acquire();
  const destroyed = pool.destroy(r2);
  t.true(destroyed instanceof MyPromise, 'destroy');
  await destroyed;
  const used = pool.use(() => Promise.resolve(1));
  t.true(used instanceof MyPromise, 'use');
  t.is(await used, 1);
  const draining = pool.drain();
  t.true(draining instanceof MyPromise, 'drain');
  await draining;
  const refused = pool.acquire();
  t.true(refused instanceof MyPromise, 'rejected acquire');
  await t.throwsAsync(refused);
  const clearing = pool.clear();
  t.true(clearing instanceof MyPromise, 'clear');
  await clearing;
});

both('start() after drain() does nothing', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 2, autostart: false });
  await pool.drain();
  pool.start();
  await sleep(20);
  t.is(factory.created, 0);
  await pool.clear();
});

// Both implementations must be present when the suite runs unfiltered.
both('implementation under test is loaded', (t, gp, impl) => {
  t.truthy(IMPLS.find((i) => i.name === impl.name));
  t.is(typeof gp.createPool, 'function');
});
