// The generic-pool v3 API, proven against the original package and against berth/generic-pool.
// Most cases are ports of the upstream suite (coopernurse/node-pool test/generic-pool-test.js,
// test/generic-pool-acquiretimeout-test.js, test/generic-pool-destroytimeout-test.js,
// test/GH-159-test.js) from tap to ava, with the long sleeps shortened.
import { both, ResourceFactory, stopPool, makePool, deferred, ticks } from './helpers/generic-pool.mjs';
import { waitFor, promiseState, track, sleep } from './helpers/net.mjs';

both('min and max limit defaults', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory());
  t.is(pool.max, 1);
  t.is(pool.min, 0);
  await stopPool(pool);
});

both('malformed min and max limits are ignored', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { min: 'asf', max: [] });
  t.is(pool.max, 1);
  t.is(pool.min, 0);
  await stopPool(pool);
});

both('min greater than max sets to max', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { min: 5, max: 3 });
  t.is(pool.max, 3);
  t.is(pool.min, 3);
  await stopPool(pool);
});

both('supports priority on borrow', async (t, gp) => {
  let borrowTimeLow = 0;
  let borrowTimeHigh = 0;
  let borrowCount = 0;
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1, priorityRange: 2 });
  const operations = [];
  for (let i = 0; i < 10; i++) {
    operations.push(pool.acquire(1).then((obj) => {
      borrowTimeLow = Math.max(borrowTimeLow, Date.now());
      borrowCount++;
      pool.release(obj);
    }));
  }
  for (let i = 0; i < 10; i++) {
    operations.push(pool.acquire(0).then((obj) => {
      borrowTimeHigh = Math.max(borrowTimeHigh, Date.now());
      borrowCount++;
      pool.release(obj);
    }));
  }
  await Promise.all(operations);
  t.is(borrowCount, 20);
  t.true(borrowTimeLow >= borrowTimeHigh);
  await stopPool(pool);
});

both('evictor removes instances on idletimeout', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 2, idleTimeoutMillis: 50, evictionRunIntervalMillis: 10 });
  await waitFor(() => factory.destroyed >= 2 && pool.available === 2, { message: 'both idle resources evicted and min refilled' });
  const res = await pool.acquire();
  t.true(res.id > 1, 'the resource handed out was created after the eviction');
  await pool.release(res);
  await stopPool(pool);
});

both('tests drain', async (t, gp) => {
  const count = 5;
  let acquired = 0;
  const pool = makePool(t, gp, new ResourceFactory(), { max: 2, idletimeoutMillis: 300000 });
  const operations = [];
  for (let i = 0; i < count; i++) {
    operations.push(pool.acquire().then((client) => {
      acquired += 1;
      t.is(typeof client.id, 'number');
      setTimeout(() => pool.release(client), 20);
    }));
  }
  t.not(acquired, count);
  await Promise.all(operations);
  await pool.drain();
  t.is(acquired, count);
  await pool.clear();
  const err = await t.throwsAsync(pool.acquire());
  t.true(err instanceof Error);
});

both('clear promise resolves with no value', async (t, gp) => {
  const resources = [];
  const factory = {
    create() {
      return new Promise(function tryCreate(resolve, reject) {
        const resource = resources.shift();
        if (resource) resolve(resource);
        else setTimeout(() => tryCreate(resolve, reject), 0);
      });
    },
    destroy() {
      return Promise.resolve();
    },
  };
  const pool = makePool(t, gp, factory, { max: 3, min: 3 });
  track(Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]).then((all) => {
    for (const resource of all) setTimeout(() => pool.release(resource), 0);
  }));
  t.is(pool.pending, 3, 'all acquisitions pending');
  setTimeout(() => resources.push('a', 'b', 'c'), 0);
  await pool.drain();
  t.is(await pool.clear(), undefined, 'clear promise resolves with no value');
});

both('getPoolSize', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 2 });
  const borrowed = [];
  t.is(pool.size, 0);
  borrowed.push(await pool.acquire());
  t.is(pool.size, 1);
  borrowed.push(await pool.acquire());
  t.is(pool.size, 2);
  pool.release(borrowed.shift());
  pool.release(borrowed.shift());
  const obj = await pool.acquire();
  t.is(pool.size, 2, 'should still be 2');
  pool.release(obj);
  await stopPool(pool);
});

both('availableObjectsCount', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 2 });
  const borrowed = [];
  t.is(pool.available, 0);
  borrowed.push(await pool.acquire());
  t.is(pool.available, 0);
  borrowed.push(await pool.acquire());
  t.is(pool.available, 0);
  pool.release(borrowed.shift());
  t.is(pool.available, 1, 'release() counts the resource available at once');
  pool.release(borrowed.shift());
  t.is(pool.available, 2);
  const obj = await pool.acquire();
  t.is(pool.available, 1);
  pool.release(obj);
  t.is(pool.available, 2);
  await stopPool(pool);
});

both('returns only valid object to the pool', async (t, gp) => {
  const pool = makePool(t, gp, {
    create: () => Promise.resolve({ id: 'validId' }),
    destroy() {},
  }, { max: 1 });
  const obj = await pool.acquire();
  t.is(pool.available, 0);
  t.is(pool.borrowed, 1);
  // Invalid release: a rejected promise, not a throw.
  const released = pool.release({});
  t.true(released instanceof Promise);
  const err = await t.throwsAsync(released);
  t.regex(err.message, /Resource not currently part of this pool/);
  t.is(pool.available, 0);
  t.is(pool.borrowed, 1);
  // Valid release.
  t.is(await pool.release(obj), undefined);
  t.is(pool.available, 1);
  t.is(pool.borrowed, 0);
  await stopPool(pool);
});

both('validate acquires object from the pool', async (t, gp) => {
  const pool = makePool(t, gp, {
    create: () => Promise.resolve({ id: 'validId' }),
    validate: () => Promise.resolve(true),
    destroy() {},
  }, { max: 1, testOnBorrow: true });
  const obj = await pool.acquire();
  t.is(pool.available, 0);
  t.is(pool.borrowed, 1);
  pool.release(obj);
  const again = await pool.acquire();
  t.is(again, obj, 'a valid resource is handed out again');
  pool.release(again);
  await stopPool(pool);
});

both('release to pool should work', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1 });
  const obj1 = await pool.acquire();
  t.is(pool.available, 0);
  t.is(pool.borrowed, 1);
  t.is(pool.pending, 0);
  const obj2Promise = pool.acquire();
  t.is(pool.pending, 1, 'the acquire is counted pending at once');
  await pool.release(obj1);
  const obj2 = await obj2Promise;
  t.is(obj2, obj1);
  t.is(pool.available, 0);
  t.is(pool.borrowed, 1);
  t.is(pool.pending, 0);
  await pool.release(obj2);
  await stopPool(pool);
});

both('isBorrowedResource should return true for borrowed resource', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1 });
  const obj = await pool.acquire();
  t.true(pool.isBorrowedResource(obj));
  t.false(pool.isBorrowedResource({}));
  await pool.release(obj);
  await stopPool(pool);
});

both('isBorrowedResource should return false for released resource', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1 });
  const obj = await pool.acquire();
  await pool.release(obj);
  t.false(pool.isBorrowedResource(obj));
  await stopPool(pool);
});

both('destroy should redispense', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { max: 1 });
  const obj1 = await pool.acquire();
  t.is(pool.available, 0);
  t.is(pool.borrowed, 1);
  const obj2Promise = pool.acquire();
  t.is(pool.pending, 1);
  t.is(await pool.destroy(obj1), undefined);
  const obj2 = await obj2Promise;
  t.not(obj2, obj1, 'a destroyed resource is never handed out again');
  t.is(obj2.id, 1);
  t.is(pool.available, 0);
  t.is(pool.borrowed, 1);
  t.is(pool.pending, 0);
  t.deepEqual(factory.bin, [obj1], 'factory.destroy got the destroyed resource');
  t.false(pool.isBorrowedResource(obj1));
  await pool.release(obj2);
  await stopPool(pool);
});

both('destroy() of a resource not borrowed returns a rejected promise', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { max: 1 });
  const obj = await pool.acquire();
  await pool.release(obj);
  const destroyed = pool.destroy(obj);
  t.true(destroyed instanceof Promise);
  const err = await t.throwsAsync(destroyed);
  t.regex(err.message, /Resource not currently part of this pool/);
  t.is(factory.destroyed, 0);
  t.is(pool.available, 1);
  await stopPool(pool);
});

both('use method', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory());
  await pool.use((resource) => {
    t.is(resource.id, 0);
    return Promise.resolve();
  });
  t.is(pool.borrowed, 0);
  t.is(pool.available, 1, 'use() released the resource');
  await stopPool(pool);
});

both('use method should resolve after fn promise is resolved', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory());
  let doneWithResource = false;
  const result = await pool.use(() => new Promise((resolve) => {
    setTimeout(() => {
      doneWithResource = true;
      resolve('value');
    }, 0);
  }));
  t.true(doneWithResource);
  t.is(result, 'value');
  await stopPool(pool);
});

both('use() destroys the resource when fn rejects, and rejects with the same error', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory);
  const boom = new Error('boom');
  let used;
  const err = await t.throwsAsync(pool.use((resource) => {
    used = resource;
    return Promise.reject(boom);
  }));
  t.is(err, boom);
  await waitFor(() => factory.destroyed === 1, { message: 'factory.destroy called' });
  t.deepEqual(factory.bin, [used]);
  t.is(pool.borrowed, 0);
  t.is(pool.size, 0);
  await stopPool(pool);
});

both('use() takes a priority', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1, priorityRange: 2 });
  const held = await pool.acquire();
  const order = [];
  const low = pool.use(async () => order.push('low'), 1);
  const high = pool.use(async () => order.push('high'), 0);
  pool.release(held);
  await Promise.all([low, high]);
  t.deepEqual(order, ['high', 'low']);
  await stopPool(pool);
});

both('evictor should not run when softIdleTimeoutMillis is -1', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { evictionRunIntervalMillis: 10 });
  const res = await pool.acquire();
  await pool.release(res);
  await sleep(30);
  t.is(factory.destroyed, 0);
  await stopPool(pool);
});

both('should respect when maxWaitingClients is set to 0', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 2, maxWaitingClients: 0 });
  const borrowed = [];
  t.is(pool.size, 0);
  borrowed.push(await pool.acquire());
  t.is(pool.size, 1);
  borrowed.push(await pool.acquire());
  t.is(pool.size, 2);
  const err = await t.throwsAsync(pool.acquire());
  t.is(err.message, 'max waitingClients count exceeded');
  for (const r of borrowed) pool.release(r);
  await stopPool(pool);
});

both('should provide a way to wait until the pool is ready', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { min: 2, max: 4 });
  t.is(await pool.ready(), undefined);
  t.true(pool.available >= 2, 'expected available resources to be at least as the minimum');
  await stopPool(pool);
});

both('destroyTimeout handles timed out destroy calls', async (t, gp) => {
  let rogueTimeout;
  const pool = makePool(t, gp, {
    create: () => Promise.resolve({}),
    destroy: () => new Promise((resolve) => {
      rogueTimeout = setTimeout(resolve, 1000);
    }),
  }, { destroyTimeoutMillis: 20 });
  const resource = await pool.acquire();
  const failed = new Promise((resolve) => pool.once('factoryDestroyError', resolve));
  pool.destroy(resource);
  const err = await failed;
  t.true(err instanceof Error);
  t.regex(err.message, /destroy timed out/);
  clearTimeout(rogueTimeout);
  await stopPool(pool);
});

both('destroyTimeout handles non timed out destroy calls', async (t, gp) => {
  const pool = makePool(t, gp, {
    create: () => Promise.resolve({}),
    destroy: () => new Promise((resolve) => setTimeout(resolve, 10)),
  }, { destroyTimeoutMillis: 400 });
  const errors = [];
  pool.on('factoryDestroyError', (err) => errors.push(err));
  const resource = await pool.acquire();
  pool.destroy(resource);
  await sleep(30);
  t.deepEqual(errors, []);
  await stopPool(pool);
});

both('acquireTimeout handles timed out acquire calls', async (t, gp) => {
  const slow = deferred();
  const pool = makePool(t, gp, {
    create: () => slow.promise,
    destroy: () => Promise.resolve(),
  }, { acquireTimeoutMillis: 20, idleTimeoutMillis: 150 });
  const err = await t.throwsAsync(pool.acquire());
  t.true(err instanceof Error);
  t.is(err.name, 'TimeoutError');
  t.regex(err.message, /ResourceRequest timed out/);
  t.is(pool.pending, 0, 'a timed-out acquire no longer counts as pending');
  // The create it started still completes: the resource becomes available.
  slow.resolve({});
  await waitFor(() => pool.available === 1, { message: 'late resource available' });
  t.is(pool.size, 1);
  await stopPool(pool);
});

both('acquireTimeout handles non timed out acquire calls', async (t, gp) => {
  const myResource = {};
  const pool = makePool(t, gp, {
    create: () => new Promise((resolve) => setTimeout(() => resolve(myResource), 10)),
    destroy: () => Promise.resolve(),
  }, { acquireTimeoutMillis: 400 });
  const resource = await pool.acquire();
  t.is(resource, myResource);
  pool.release(resource);
  await pool.drain();
  await pool.clear();
});

both('tests drain clear with autostart and min > 0 (GH-159)', async (t, gp) => {
  let callCreate = 0;
  const factory = {
    created: 0,
    destroyed: 0,
    create() {
      return new Promise((resolve) => {
        if (callCreate++ % 2 === 0) setTimeout(() => resolve({ id: factory.created++ }), 10);
        else resolve({ id: factory.created++ });
      });
    },
    validate: () => Promise.resolve(true),
    destroy() {
      factory.destroyed++;
      return Promise.resolve();
    },
  };
  const pool = makePool(t, gp, factory, {
    max: 10,
    min: 1,
    evictionRunIntervalMillis: 500,
    idleTimeoutMillis: 30000,
    testOnBorrow: true,
    autostart: true,
  });
  await pool.drain();
  await pool.clear();
  t.is(factory.created, 1);
  t.is(factory.created, factory.destroyed);
});

both('drain() waits for borrowed resources and for the acquires already queued', async (t, gp) => {
  const pool = makePool(t, gp, new ResourceFactory(), { max: 1 });
  const first = await pool.acquire();
  const queued = track(pool.acquire());
  const draining = track(pool.drain());
  const refused = await t.throwsAsync(pool.acquire());
  t.is(refused.message, 'pool is draining and cannot accept work');
  await ticks();
  t.is(await promiseState(draining), 'pending');
  pool.release(first);
  const second = await queued;
  t.is(second, first, 'the queued acquire is still served');
  await ticks();
  t.is(await promiseState(draining), 'pending', 'drain() waits for the resource lent during the drain');
  pool.release(second);
  t.is(await draining, undefined);
  await pool.clear();
  t.is(pool.size, 0);
});

both('clear() destroys the idle resources, not the borrowed ones', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { max: 2 });
  const a = await pool.acquire();
  const b = await pool.acquire();
  pool.release(b);
  t.is(await pool.clear(), undefined);
  t.deepEqual(factory.bin, [b]);
  t.true(pool.isBorrowedResource(a));
  t.is(pool.size, 1);
  pool.release(a);
  await stopPool(pool);
});

both('clear() waits for the destroys it started', async (t, gp) => {
  const gate = deferred();
  let finished = 0;
  const pool = makePool(t, gp, {
    create: () => Promise.resolve({}),
    destroy: () => gate.promise.then(() => { finished++; }),
  }, { max: 2 });
  const a = await pool.acquire();
  pool.release(a);
  const clearing = track(pool.clear());
  await ticks();
  t.is(await promiseState(clearing), 'pending');
  gate.resolve();
  await clearing;
  t.is(finished, 1);
  await stopPool(pool);
});

both('clear() without drain() refills min (as documented)', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 2 });
  await pool.ready();
  await pool.clear();
  t.is(factory.destroyed, 2);
  await waitFor(() => factory.created === 4, { message: 'min refilled' });
  t.is(pool.size, 2);
  await stopPool(pool);
});

both('drain() then clear() destroys everything that was created', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { min: 2, max: 4 });
  await pool.ready();
  const a = await pool.acquire();
  const b = await pool.acquire();
  const c = await pool.acquire();
  setTimeout(() => [a, b, c].forEach((r) => pool.release(r)), 5);
  await pool.drain();
  await pool.clear();
  t.is(factory.created, 3);
  t.is(factory.destroyed, 3);
  t.is(pool.size, 0);
});

// Port of the upstream validate-async-stress-test.js (v2 API) to v3: a slow validate on borrow
// must never hand out a resource that is already borrowed, nor create more than max.
both('validate on borrow under load: never lends a resource twice, never exceeds max', async (t, gp) => {
  let created = 0;
  const pool = makePool(t, gp, {
    create: () => new Promise((resolve) => setTimeout(() => resolve({ id: ++created }), 5)),
    validate: () => new Promise((resolve) => setTimeout(() => resolve(true), 10)),
    destroy() {},
  }, { max: 3, testOnBorrow: true, idleTimeoutMillis: 100 });
  const out = new Set();
  let maxOut = 0;
  const cycle = async (holdMs) => {
    const r = await pool.acquire();
    t.false(out.has(r), 'a resource already lent out was handed out again');
    out.add(r);
    maxOut = Math.max(maxOut, out.size);
    t.true(created <= 3);
    await sleep(holdMs);
    out.delete(r);
    pool.release(r);
  };
  const first = [cycle(10), cycle(10), cycle(10), cycle(10)];
  await sleep(15);
  const second = [5, 5, 5, 2, 2, 2, 5, 5].map((ms) => cycle(ms));
  await Promise.all([...first, ...second]);
  t.true(maxOut <= 3);
  t.true(created <= 3);
  await stopPool(pool);
  t.is(pool.size, 0);
});

// The upstream 'evictor start with acquire when autostart is false' checks a private field
// (_scheduledEviction); this is the same case, observed from outside: eviction runs once the
// first acquire has started the pool.
both('evictor starts with the first acquire when autostart is false', async (t, gp) => {
  const factory = new ResourceFactory();
  const pool = makePool(t, gp, factory, { evictionRunIntervalMillis: 5, idleTimeoutMillis: 5, autostart: false });
  const obj = await pool.acquire();
  await pool.release(obj);
  await waitFor(() => factory.destroyed === 1, { message: 'idle resource evicted' });
  t.is(pool.size, 0);
  await stopPool(pool);
});
