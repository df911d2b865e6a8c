// Leak detection (`leakDetectionThreshold`, issue 18): a lease or borrow held past the threshold
// emits `leak` once, with the stack of the caller's acquire; its release or destroy then emits
// `leakResolved`. Off by default, and then nothing is watched: no timer, no stack capture.
// Real sockets (an echo server in a child process); no timing thresholds: each test waits for
// the event itself, and "no event" is asserted only where the order of events makes it certain
// (a release before the threshold, a close before it).
import test from 'ava';
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import genericPool from 'berth-pool/generic-pool';
import { HttpAgent, pooled } from 'berth-pool';
import { startServer, roundTrip } from './helpers/server.mjs';
import { createPool } from './helpers/pool.mjs';
import { createResourcePool, makeFactory, ResourcePool } from './helpers/resources.mjs';
import { runNode, fixturePath, lastJsonLine } from './helpers/child.mjs';
import { sleep } from './helpers/net.mjs';
import { NODE_DIAL } from './helpers/node-dial.mjs';

const THRESHOLD = 20;
const THIS_FILE = path.basename(fileURLToPath(import.meta.url)); // leak.test.mjs
const DIST = `${path.sep}dist${path.sep}`;

/** ResourcePool options of a fresh makeFactory() (its create and destroy). */
function factoryOptions(extra = {}) {
  const { create, destroy } = makeFactory();
  return { create, destroy, ...extra };
}

/** Collects every `leak` / `leakResolved` of `emitter`, in order. */
function record(emitter) {
  const events = [];
  emitter.on('leak', (e) => events.push({ name: 'leak', ...e }));
  emitter.on('leakResolved', (e) => events.push({ name: 'leakResolved', ...e }));
  return events;
}

/** The stack names the caller's code first (this file), and none of berth's frames before it. */
function assertCallerStack(t, stack) {
  t.is(typeof stack, 'string');
  const first = stack.split('\n')[0];
  t.true(first.trimStart().startsWith('at '), `a frame line: ${first}`);
  t.true(first.includes(THIS_FILE), `the first frame is the caller's (${THIS_FILE}):\n${stack}`);
  t.false(stack.includes(DIST), `no frame of berth's own dist/:\n${stack}`);
}

// Named, so that the stack can be checked to name the function that forgot its lease.
async function handlerThatForgets(pool, dest) {
  const lease = await pool.acquire(dest);
  return lease;
}

// ---- Pool ---------------------------------------------------------------------------------

test('Pool: a lease held past the threshold emits leak (destination, age, the caller\'s stack); its release emits leakResolved', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { leakDetectionThreshold: THRESHOLD });
  const events = record(pool);
  const leak = once(pool, 'leak');
  const lease = await handlerThatForgets(pool, server.dest);
  const [event] = await leak;
  t.is(event.destination, server.dest);
  t.true(Number.isInteger(event.ageMs) && event.ageMs >= THRESHOLD, `ageMs ${event.ageMs}`);
  assertCallerStack(t, event.stack);
  t.true(event.stack.split('\n')[0].includes('handlerThatForgets'), event.stack);
  // The lease still works: detection only reports.
  t.is(String(await roundTrip(lease.socket, 'still mine')), 'still mine');
  lease.release();
  t.deepEqual(
    events.map((e) => e.name),
    ['leak', 'leakResolved'],
    'one leak, then leakResolved synchronously on release',
  );
  const resolved = events[1];
  t.is(resolved.destination, server.dest);
  t.true(resolved.ageMs >= event.ageMs);
  t.is(pool.stats().idle, 1, 'the connection went back to the pool');
});

test('Pool: destroying a leaked lease emits leakResolved', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { leakDetectionThreshold: THRESHOLD });
  const events = record(pool);
  const leak = once(pool, 'leak');
  const lease = await pool.acquire(server.dest);
  await leak;
  lease.destroy();
  t.deepEqual(events.map((e) => [e.name, e.destination]), [
    ['leak', server.dest],
    ['leakResolved', server.dest],
  ]);
});

test('Pool: a lease released before the threshold emits nothing, nor does its reuse', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { leakDetectionThreshold: THRESHOLD });
  const events = record(pool);
  for (let i = 0; i < 3; i++) (await pool.acquire(server.dest)).release();
  await sleep(THRESHOLD * 5);
  t.deepEqual(events, []);
  t.is(pool.stats().reused, 2);
});

test('Pool: use() is watched too; the stack starts at the caller of use(), not in berth', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { leakDetectionThreshold: THRESHOLD });
  const events = record(pool);
  const reply = await pool.use(server.dest, async (socket) => {
    const [event] = await once(pool, 'leak');
    assertCallerStack(t, event.stack);
    return roundTrip(socket, 'slow use');
  });
  t.is(String(reply), 'slow use');
  t.deepEqual(events.map((e) => e.name), ['leak', 'leakResolved'], 'use() released it: resolved');
});

test('Pool: a group acquire reports the member it leased', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { leakDetectionThreshold: THRESHOLD });
  pool.group('leaky', [server.dest]);
  const leak = once(pool, 'leak');
  const lease = await pool.acquire('group:leaky');
  const [event] = await leak;
  t.is(event.destination, server.dest);
  assertCallerStack(t, event.stack);
  lease.release();
});

test('Pool: a lease of a closed pool is no longer watched (no leak, no leakResolved after close)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { leakDetectionThreshold: THRESHOLD });
  const events = record(pool);
  const leaked = once(pool, 'leak');
  const first = await pool.acquire(server.dest);
  await leaked;
  const second = await pool.acquire(server.dest);
  await pool.close();
  // Both came back after the close: the first had leaked, but the pool watches nothing now.
  first.release();
  second.destroy();
  await sleep(THRESHOLD * 5); // past the second lease's threshold: its timer was cleared by close()
  t.deepEqual(events.map((e) => e.name), ['leak']);
});

test('Pool: the HTTP agent\'s own pool takes leakDetectionThreshold (and validates it)', async (t) => {
  const agent = new HttpAgent({ leakDetectionThreshold: 1000 });
  t.teardown(() => agent.destroy());
  t.throws(() => new HttpAgent({ leakDetectionThreshold: -1 }), { instanceOf: TypeError, message: /leakDetectionThreshold/ });
});

// ---- option off -----------------------------------------------------------------------------

/**
 * Runs `fn` and counts what berth's own code did meanwhile: Timeout resources created from a
 * frame in dist/ (async_hooks sees unref'd timers, which process.getActiveResourcesInfo() does
 * not list), and reads of Error.stackTraceLimit (made by nothing but a stack capture of
 * leak detection on the acquire path: V8 itself reads it without calling the getter).
 */
async function watchBerth(fn) {
  const seen = { timeouts: 0, stackLimitReads: 0 };
  const descriptor = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit');
  let limit = Error.stackTraceLimit;
  const accessor = {
    configurable: true,
    enumerable: descriptor.enumerable,
    get() {
      if (fromBerth()) seen.stackLimitReads++;
      return limit;
    },
    set(value) {
      limit = value;
    },
  };
  // V8 captures no frame while the limit is an accessor: a data property for the look itself.
  const fromBerth = () => {
    Object.defineProperty(Error, 'stackTraceLimit', { ...descriptor, value: 50 });
    const stack = new Error().stack ?? '';
    Object.defineProperty(Error, 'stackTraceLimit', accessor);
    return stack.includes(DIST);
  };
  const hook = createHook({
    init(_id, type) {
      if (type === 'Timeout' && fromBerth()) seen.timeouts++;
    },
  });
  Object.defineProperty(Error, 'stackTraceLimit', accessor);
  hook.enable();
  try {
    await fn();
  } finally {
    hook.disable();
    Object.defineProperty(Error, 'stackTraceLimit', { ...descriptor, value: limit });
  }
  return seen;
}

test.serial('option off (the default): no timer and no stack capture per acquire, and no leak', async (t) => {
  const server = await startServer(t);
  const off = createPool(t);
  t.is(off.options.leakDetectionThreshold, 0);
  const events = record(off);
  (await off.acquire(server.dest)).release(); // the connection exists: the next acquires reuse it
  // On the Node-dialled path a dial has its connect timer (Node connects): both connections
  // the acquires below hold exist first, so that only the acquires are watched.
  if (NODE_DIAL) await off.warm(server.dest, 2);
  let held;
  const activeBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const seenOff = await watchBerth(async () => {
    held = await off.acquire(server.dest);
    await off.use(server.dest, () => {});
  });
  t.is(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, activeBefore);
  t.deepEqual(seenOff, { timeouts: 0, stackLimitReads: 0 }, 'nothing watched');
  await sleep(THRESHOLD * 5);
  held.release();
  t.deepEqual(events, []);

  // The same observation with the option on sees the timer and the capture: the check above can fail.
  const on = createPool(t, { leakDetectionThreshold: 60_000 });
  (await on.acquire(server.dest)).release();
  const seenOn = await watchBerth(async () => (await on.acquire(server.dest)).release());
  t.true(seenOn.timeouts >= 1 && seenOn.stackLimitReads >= 1, JSON.stringify(seenOn));
});

test.serial('ResourcePool option off: no timer and no stack capture per acquire', async (t) => {
  const pool = createResourcePool(t, factoryOptions());
  (await pool.lease()).release();
  const seenOff = await watchBerth(async () => {
    pool.release(await pool.acquire());
    await pool.use(() => {});
  });
  t.deepEqual(seenOff, { timeouts: 0, stackLimitReads: 0 });
  const on = createResourcePool(t, factoryOptions({ leakDetectionThreshold: 60_000 }));
  const seenOn = await watchBerth(async () => on.release(await on.acquire()));
  t.true(seenOn.timeouts >= 1 && seenOn.stackLimitReads >= 1, JSON.stringify(seenOn));
});

// ---- validation -------------------------------------------------------------------------------

test('an invalid leakDetectionThreshold is a TypeError naming it (Pool, ResourcePool, generic-pool)', (t) => {
  for (const bad of [-1, Infinity, NaN, '100', null, true, {}, 2 ** 31]) {
    t.throws(() => createPool(t, { leakDetectionThreshold: bad }), { instanceOf: TypeError, message: /^leakDetectionThreshold must be/ }, `Pool ${String(bad)}`);
    t.throws(() => new ResourcePool(factoryOptions({ leakDetectionThreshold: bad })), { instanceOf: TypeError, message: /^leakDetectionThreshold must be/ }, `ResourcePool ${String(bad)}`);
    t.throws(
      () => genericPool.createPool({ create: () => ({}), destroy: () => {} }, { leakDetectionThreshold: bad, autostart: false }),
      { instanceOf: TypeError, message: /^leakDetectionThreshold must be/ },
      `generic-pool ${String(bad)}`,
    );
  }
  // 0 is off, fractions are milliseconds like the other times.
  t.is(createPool(t, { leakDetectionThreshold: 0 }).options.leakDetectionThreshold, 0);
  t.is(createPool(t, { leakDetectionThreshold: 12.5 }).options.leakDetectionThreshold, 12.5);
});

// ---- ResourcePool ------------------------------------------------------------------------------

test('ResourcePool: a borrow held past the threshold emits leak (resource, age, stack); release emits leakResolved', async (t) => {
  const pool = createResourcePool(t, factoryOptions({ leakDetectionThreshold: THRESHOLD }));
  const events = record(pool);
  const leak = once(pool, 'leak');
  const resource = await pool.acquire();
  const [event] = await leak;
  t.is(event.resource, resource);
  t.true(Number.isInteger(event.ageMs) && event.ageMs >= THRESHOLD, `ageMs ${event.ageMs}`);
  assertCallerStack(t, event.stack);
  pool.release(resource);
  t.deepEqual(events.map((e) => [e.name, e.resource]), [
    ['leak', resource],
    ['leakResolved', resource],
  ]);
  t.true(events[1].ageMs >= event.ageMs);
});

test('ResourcePool: destroying a leaked borrow emits leakResolved; one released in time emits nothing', async (t) => {
  const pool = createResourcePool(t, factoryOptions({ leakDetectionThreshold: THRESHOLD }));
  const events = record(pool);
  pool.release(await pool.acquire());
  await sleep(THRESHOLD * 5);
  t.deepEqual(events, [], 'released before the threshold');
  const leak = once(pool, 'leak');
  const resource = await pool.acquire();
  await leak;
  await pool.destroy(resource);
  t.deepEqual(events.map((e) => e.name), ['leak', 'leakResolved']);
  t.true(resource.destroyed);
});

test('ResourcePool: use(), lease() and pooled() are watched, the stack starting at their caller', async (t) => {
  const pool = createResourcePool(t, factoryOptions({ leakDetectionThreshold: THRESHOLD }));
  const events = record(pool);
  const stacks = [];
  const waitLeak = async () => stacks.push((await once(pool, 'leak'))[0].stack);

  await pool.use(() => waitLeak());
  const lease = await pool.lease();
  await waitLeak();
  lease.release();
  const slowQuery = pooled(pool, () => waitLeak());
  await slowQuery();

  t.is(stacks.length, 3);
  for (const stack of stacks) assertCallerStack(t, stack);
  t.deepEqual(events.map((e) => e.name), ['leak', 'leakResolved', 'leak', 'leakResolved', 'leak', 'leakResolved']);
});

test('ResourcePool: a borrow of a closed pool is no longer watched', async (t) => {
  const pool = new ResourcePool(factoryOptions({ leakDetectionThreshold: THRESHOLD }));
  const events = record(pool);
  const resource = await pool.acquire();
  const closed = pool.close(); // waits for the borrowed resource
  await sleep(THRESHOLD * 5); // past the threshold: close() cleared the timer
  pool.release(resource);
  await closed;
  t.deepEqual(events, []);
  t.true(resource.destroyed);
});

// ---- berth-pool/generic-pool --------------------------------------------------------------------

test('generic-pool drop-in: leakDetectionThreshold passes through; acquire and use() emit leak and leakResolved', async (t) => {
  const factory = makeFactory();
  const pool = genericPool.createPool({ create: () => factory.create(), destroy: (r) => factory.destroy(r) }, { max: 2, leakDetectionThreshold: THRESHOLD });
  t.teardown(async () => {
    await pool.drain();
    await pool.clear();
  });
  const events = record(pool);
  const leak = once(pool, 'leak');
  const resource = await pool.acquire();
  const [event] = await leak;
  t.is(event.resource, resource);
  assertCallerStack(t, event.stack);
  await pool.release(resource);
  await pool.use(async () => {
    const [again] = await once(pool, 'leak');
    assertCallerStack(t, again.stack);
  });
  t.deepEqual(events.map((e) => e.name), ['leak', 'leakResolved', 'leak', 'leakResolved']);
  // Without the option the drop-in emits none (and generic-pool's options stay as they were).
  const plain = genericPool.createPool({ create: () => factory.create(), destroy: (r) => factory.destroy(r) });
  const plainEvents = record(plain);
  const held = await plain.acquire();
  await sleep(THRESHOLD * 5);
  await plain.release(held);
  await plain.drain();
  await plain.clear();
  t.deepEqual(plainEvents, []);
});

// ---- processes -------------------------------------------------------------------------------

test('a pool closed with a lease out reports no leak afterwards, and a process with leaked leases still exits', async (t) => {
  const server = await startServer(t);
  const run = await runNode(t, fixturePath('leak-exit.mjs'), [server.dest, String(THRESHOLD)]);
  t.false(run.hung, `the child did not exit on its own\nstderr:\n${run.stderr}`);
  t.is(run.code, 0, `exit code (13 = top-level await never settled)\nstderr:\n${run.stderr}`);
  const out = lastJsonLine(run.stdout);
  t.truthy(out, `the child printed its results\nstdout:\n${run.stdout}`);
  t.deepEqual(out.events, [], 'no leak event after close()');
  t.is(out.held, 3, 'the leases were never released');
});

test('a pool dropped with a leaked lease out (watch timer pending) is garbage collected', async (t) => {
  const server = await startServer(t);
  const run = await runNode(t, fixturePath('leak-gc.mjs'), [server.dest], { guardMs: 30_000 });
  t.false(run.hung, `the child hung\nstderr:\n${run.stderr}`);
  t.is(run.code, 0, `stderr:\n${run.stderr}`);
  const out = lastJsonLine(run.stdout);
  t.truthy(out, `the child printed its results\nstdout:\n${run.stdout}`);
  t.deepEqual(out.left, [], 'every dropped pool was collected');
});
