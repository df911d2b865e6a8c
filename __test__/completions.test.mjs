// completions(tasks, { concurrency, signal }): outcomes in completion order, bounded
// concurrency, lazy pulling, failures reported as 'rejected' entries, break and abort stop the
// rest, TypeErrors for bad arguments. No sockets: tasks are controlled promises.
import test from 'ava';
import { setImmediate as tick } from 'node:timers/promises';
import { completions } from 'berth-pool';
import { sleep } from './helpers/net.mjs';

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Let pending promise jobs and immediates run (no timing involved: just event-loop turns). */
async function settle(turns = 5) {
  for (let i = 0; i < turns; i++) await tick();
}

/**
 * n tasks that each wait for their own deferred; records which started and how many ran at
 * once. `gen()` is a generator over them that counts what was pulled.
 */
function controlled(n) {
  const gates = Array.from({ length: n }, () => deferred());
  const state = { pulled: 0, started: [], running: 0, maxRunning: 0, signals: [], finallyRan: false };
  const task = (i) => async ({ index, signal }) => {
    state.started.push(i);
    state.signals[i] = signal;
    state.running++;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    try {
      return await gates[i].promise;
    } finally {
      state.running--;
    }
  };
  function* gen() {
    try {
      for (let i = 0; i < n; i++) {
        state.pulled++;
        yield task(i);
      }
    } finally {
      state.finallyRan = true;
    }
  }
  return { gates, state, gen, task };
}

async function collect(iterable) {
  const out = [];
  for await (const r of iterable) out.push(r);
  return out;
}

test('outcomes come in completion order, each with its input index', async (t) => {
  // Timers armed in the same turn fire in order of expiry: the order is deterministic.
  const delays = [40, 0, 30, 10, 20];
  const tasks = delays.map((ms, i) => () => sleep(ms).then(() => `task ${i}`));
  const results = await collect(completions(tasks, { concurrency: delays.length }));
  t.deepEqual(results.map((r) => r.index), [1, 3, 4, 2, 0]);
  for (const r of results) t.deepEqual(r, { index: r.index, status: 'fulfilled', value: `task ${r.index}` });
});

test('completion order follows the order tasks settle, not the input order', async (t) => {
  const { gates, gen } = controlled(6);
  const it = completions(gen(), { concurrency: 6 });
  const seen = [];
  const order = [3, 0, 5, 1, 4, 2];
  for (const i of order) {
    const next = it.next();
    gates[i].resolve(i * 10);
    const r = await next;
    seen.push(r.value);
  }
  t.deepEqual(seen.map((r) => r.index), order);
  t.deepEqual(seen.map((r) => r.value), order.map((i) => i * 10));
  t.deepEqual(await it.next(), { done: true, value: undefined });
});

test('at most `concurrency` tasks run at once, and every one runs', async (t) => {
  const n = 40;
  const concurrency = 7;
  let running = 0;
  let max = 0;
  // Uneven settle times (a few turns each, from a fixed pattern): slots free in mixed order.
  const tasks = Array.from({ length: n }, (_, i) => async () => {
    running++;
    max = Math.max(max, running);
    t.true(running <= concurrency, `task ${i} started with ${running} running`);
    await settle(1 + ((i * 7) % 5));
    running--;
    return i;
  });
  const results = await collect(completions(tasks, { concurrency }));
  t.is(max, concurrency);
  t.deepEqual(results.map((r) => r.value).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  t.true(results.every((r) => r.status === 'fulfilled' && r.index === r.value));
});

test('concurrency defaults to 16', async (t) => {
  const { state, gates, gen } = controlled(40);
  const it = completions(gen());
  const first = it.next();
  await settle();
  t.is(state.running, 16);
  t.is(state.pulled, 16);
  for (const g of gates) g.resolve('x');
  t.is((await first).value.status, 'fulfilled');
  let count = 1;
  for await (const r of it) { t.is(r.status, 'fulfilled'); count++; }
  t.is(count, 40);
  t.is(state.maxRunning, 16);
});

test('input is pulled lazily: nothing before the first next(), never more than `concurrency` ahead of the consumer', async (t) => {
  const { state, gates, gen } = controlled(10);
  const it = completions(gen(), { concurrency: 3 });
  await settle();
  t.is(state.pulled, 0, 'nothing pulled before the first next()');
  t.deepEqual(state.started, []);

  const p0 = it.next();
  await settle();
  t.is(state.pulled, 3);
  t.deepEqual(state.started, [0, 1, 2]);

  // Settle two tasks while the consumer is not asking: one goes to the waiting next(), the
  // other waits in the queue and keeps its slot, so only one more task is pulled.
  gates[1].resolve('one');
  gates[0].resolve('zero');
  t.deepEqual((await p0).value, { index: 1, status: 'fulfilled', value: 'one' });
  await settle();
  t.is(state.pulled, 4, 'pulled minus yielded stays at concurrency');
  t.deepEqual(state.started, [0, 1, 2, 3]);

  // Yielding the queued result frees its slot: one more is pulled.
  t.deepEqual((await it.next()).value, { index: 0, status: 'fulfilled', value: 'zero' });
  await settle();
  t.is(state.pulled, 5);
  t.deepEqual(state.started, [0, 1, 2, 3, 4]);

  for (const g of gates) g.resolve('rest');
  const rest = await collect(it);
  t.is(rest.length, 8);
  t.is(state.pulled, 10);
  t.true(state.finallyRan);
});

test('an async generator is pulled one item at a time, lazily, and its values are run', async (t) => {
  let pulled = 0;
  let yielded = 0;
  let maxAhead = 0;
  async function* tasks() {
    for (let i = 0; i < 50; i++) {
      await tick();
      pulled++;
      maxAhead = Math.max(maxAhead, pulled - yielded);
      yield async () => { await settle(1 + (i % 3)); return i * 2; };
    }
  }
  const values = [];
  for await (const r of completions(tasks(), { concurrency: 4 })) {
    yielded++;
    t.is(r.status, 'fulfilled');
    t.is(r.value, r.index * 2);
    values.push(r.value);
  }
  t.is(values.length, 50);
  t.is(pulled, 50);
  t.true(maxAhead <= 4, `pulled ahead of the consumer: at most ${maxAhead}`);
});

test('rejections, synchronous throws and non-functions are reported as rejected entries; the rest still run', async (t) => {
  const boom = new Error('boom');
  const sync = new RangeError('sync');
  const tasks = [
    async () => 'a',
    async () => { throw boom; },
    () => { throw sync; },
    'not a function',
    () => 42, // a plain value
    () => ({ then: (resolve) => resolve('thenable') }),
    () => Promise.reject(undefined),
  ];
  const results = await collect(completions(tasks, { concurrency: 2 }));
  const byIndex = Object.fromEntries(results.map((r) => [r.index, r]));
  t.is(results.length, tasks.length);
  t.deepEqual(byIndex[0], { index: 0, status: 'fulfilled', value: 'a' });
  t.deepEqual(byIndex[1], { index: 1, status: 'rejected', reason: boom });
  t.is(byIndex[1].reason, boom);
  t.is(byIndex[2].reason, sync);
  t.is(byIndex[3].status, 'rejected');
  t.true(byIndex[3].reason instanceof TypeError);
  t.regex(byIndex[3].reason.message, /task 3 is not a function/);
  t.deepEqual(byIndex[4], { index: 4, status: 'fulfilled', value: 42 });
  t.deepEqual(byIndex[5], { index: 5, status: 'fulfilled', value: 'thenable' });
  t.deepEqual(byIndex[6], { index: 6, status: 'rejected', reason: undefined });
});

test('each task gets its index and a signal that is not aborted while the run goes on', async (t) => {
  const seen = [];
  const tasks = [0, 1, 2].map(() => (ctx) => { seen.push([ctx.index, ctx.signal.aborted]); return ctx.index; });
  const results = await collect(completions(tasks, { concurrency: 1 }));
  t.deepEqual(seen, [[0, false], [1, false], [2, false]]);
  t.deepEqual(results.map((r) => r.value), [0, 1, 2]);
});

test('breaking out of the loop stops pulling and starting tasks, closes the input, aborts the running tasks', async (t) => {
  const { state, gates, gen } = controlled(1000);
  const it = completions(gen(), { concurrency: 4 });
  gates[2].resolve('two');
  const seen = [];
  for await (const r of it) {
    seen.push(r.index);
    gates[0].resolve('zero');
    if (seen.length === 2) break;
  }
  t.deepEqual(seen, [2, 0]);
  t.true(state.finallyRan, "the generator's finally ran");
  const pulledAtBreak = state.pulled;
  const startedAtBreak = state.started.length;
  t.true(pulledAtBreak <= 4 + 2);
  // The still-running tasks see their signal abort with an AbortError.
  for (const i of state.started.filter((i) => i !== 0 && i !== 2)) {
    t.true(state.signals[i].aborted, `task ${i}'s signal aborted`);
    t.is(state.signals[i].reason.name, 'AbortError');
  }
  // Settling them afterwards starts nothing and yields nothing.
  for (const g of gates) g.resolve('late');
  await settle();
  t.is(state.pulled, pulledAtBreak);
  t.is(state.started.length, startedAtBreak);
  t.deepEqual(await it.next(), { done: true, value: undefined });
});

test('return() closes an async input, and works before the first next()', async (t) => {
  let closed = false;
  async function* tasks() {
    try {
      for (;;) yield () => 1;
    } finally {
      await tick();
      closed = true;
    }
  }
  const gen = tasks();
  const it = completions(gen, { concurrency: 2 });
  t.is((await it.next()).value.status, 'fulfilled');
  t.deepEqual(await it.return(), { done: true, value: undefined });
  // A pull was in progress: return() was passed on without waiting behind it.
  for (let i = 0; i < 20 && !closed; i++) await tick();
  t.true(closed, "the generator's finally ran");

  let started = 0;
  const idle = completions([() => { started++; }]);
  t.deepEqual(await idle.return(), { done: true, value: undefined });
  t.deepEqual(await idle.next(), { done: true, value: undefined });
  t.is(started, 0);
});

test('aborting the signal makes the iterator throw its reason and stops everything', async (t) => {
  const { state, gates, gen } = controlled(1000);
  const controller = new AbortController();
  const reason = new Error('stop now');
  const it = completions(gen(), { concurrency: 5, signal: controller.signal });
  gates[1].resolve('one');
  const seen = [];
  const err = await t.throwsAsync(async () => {
    for await (const r of it) {
      seen.push(r.index);
      controller.abort(reason);
      // A task settling now is not yielded: the abort wins.
      gates[0].resolve('zero');
    }
  });
  t.is(err, reason);
  t.deepEqual(seen, [1]);
  t.true(state.finallyRan);
  const pulled = state.pulled;
  for (const i of state.started.filter((i) => i !== 1)) t.is(state.signals[i].reason, reason);
  for (const g of gates) g.resolve('late');
  await settle();
  t.is(state.pulled, pulled);
  t.deepEqual(await it.next(), { done: true, value: undefined });
});

test('an abort while next() waits rejects that next() with the reason', async (t) => {
  const controller = new AbortController();
  const it = completions([() => new Promise(() => {})], { signal: controller.signal });
  const pending = it.next();
  await settle();
  controller.abort();
  const err = await pending.then(() => null, (e) => e);
  t.is(err, controller.signal.reason);
  t.is(err.name, 'AbortError');
});

test('an already aborted signal: the first next() throws its reason and no task starts', async (t) => {
  let started = 0;
  let pulled = 0;
  function* tasks() { pulled++; yield () => { started++; }; }
  const reason = new Error('too late');
  const it = completions(tasks(), { signal: AbortSignal.abort(reason) });
  await t.throwsAsync(it.next(), { is: reason });
  t.deepEqual(await it.next(), { done: true, value: undefined });
  t.is(started, 0);
  t.is(pulled, 0);
});

test('an input that throws: the tasks already started run on and are yielded, then its error is thrown', async (t) => {
  const failure = new Error('input broke');
  const slow = deferred();
  const signals = [];
  function* tasks() {
    yield () => 'fast';
    yield ({ signal }) => { signals.push(signal); return slow.promise; };
    throw failure;
  }
  const seen = [];
  const err = await t.throwsAsync(async () => {
    for await (const r of completions(tasks(), { concurrency: 4 })) {
      seen.push(r.value);
      slow.resolve('slow');
    }
  });
  t.is(err, failure);
  t.deepEqual(seen, ['fast', 'slow']);
  t.false(signals[0].aborted, 'a started task is not aborted by the input failing');
});

test('an async input that rejects ends the run with its error', async (t) => {
  const failure = new Error('async input broke');
  async function* tasks() {
    yield () => 1;
    await tick();
    throw failure;
  }
  const seen = [];
  await t.throwsAsync(async () => {
    for await (const r of completions(tasks())) seen.push(r.value);
  }, { is: failure });
  t.deepEqual(seen, [1]);
});

test('an empty input is done at once; next() may be called ahead of results', async (t) => {
  t.deepEqual(await collect(completions([])), []);
  const it = completions([() => 'a', () => 'b', () => 'c'], { concurrency: 1 });
  const nexts = await Promise.all([it.next(), it.next(), it.next(), it.next()]);
  t.deepEqual(nexts.map((r) => r.done), [false, false, false, true]);
  t.deepEqual(nexts.slice(0, 3).map((r) => r.value.value), ['a', 'b', 'c']);
});

test('invalid arguments throw a TypeError at once', (t) => {
  for (const concurrency of [0, -1, 1.5, NaN, Infinity, '4', null]) {
    t.throws(() => completions([], { concurrency }), { instanceOf: TypeError, message: /concurrency must be an integer >= 1/ }, String(concurrency));
  }
  t.throws(() => completions([], { signal: {} }), { instanceOf: TypeError, message: /signal must be an AbortSignal/ });
  t.throws(() => completions([], { concurency: 2 }), { instanceOf: TypeError, message: /unknown completions option "concurency"/ });
  t.throws(() => completions([], null), { instanceOf: TypeError, message: /options must be an object/ });
  t.throws(() => completions([], 4), { instanceOf: TypeError, message: /options must be an object/ });
  for (const tasks of [undefined, null, 42, {}, () => {}]) {
    t.throws(() => completions(tasks), { instanceOf: TypeError, message: /must be an array, an iterable or an async iterable/ });
  }
  t.throws(() => completions('abc'), { instanceOf: TypeError, message: /not a string/ });
});
