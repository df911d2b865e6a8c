// probe(targets, options) over TCP on 127.0.0.1: states (open, closed, filtered, error),
// completion order, input kinds and bounded pulling, break / cancel / abort, summary(),
// invalid targets and options. Descriptor counts are in probe-fds.test.mjs, UDP in
// probe-udp.test.mjs.
import test from 'ava';
import { probe } from 'berth-pool';
import {
  openPort, closedTarget, filteredTarget, collect, nearestRank, assertResultShape, countingInput, stopLater,
} from './helpers/probe.mjs';
import { runNode } from './helpers/child.mjs';
import { waitFor, sleep } from './helpers/net.mjs';
import { setImmediate as tick } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const byIndex = (results) => Object.fromEntries(results.map((r) => [r.index, r]));

test('open, closed and filtered targets, each reported once with its index and target as given', async (t) => {
  const open = await openPort(t);
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  const targets = [open.target, closed, filtered, open.target, closed];
  const results = await collect(probe(targets, { timeout: 300 }));
  t.is(results.length, targets.length);
  for (const r of results) assertResultShape(t, r);
  t.deepEqual(results.map((r) => r.index).sort(), [0, 1, 2, 3, 4]);
  const r = byIndex(results);
  t.deepEqual([0, 1, 2, 3, 4].map((i) => r[i].target), targets);
  t.deepEqual([0, 1, 2, 3, 4].map((i) => r[i].state), ['open', 'closed', 'filtered', 'open', 'closed']);
});

test('results come in completion order: fast (closed, open) before slow (filtered)', async (t) => {
  const open = await openPort(t);
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  // The slow ones first in the input; the timeout is long enough that no fast one waits for it.
  const targets = [filtered, filtered, filtered, closed, open.target, closed, open.target, filtered, closed];
  const slow = targets.flatMap((x, i) => (x === filtered ? [i] : []));
  const results = await collect(probe(targets, { timeout: 1500 }));
  const order = results.map((r) => r.index);
  t.deepEqual(order.slice(-slow.length).sort(), slow, `the filtered ones come last (order ${order})`);
  t.true(results.slice(0, targets.length - slow.length).every((r) => r.state !== 'filtered'));
  t.true(results.slice(-slow.length).every((r) => r.state === 'filtered'));
  t.notDeepEqual(order, targets.map((_, i) => i), 'not input order');
});

test('a fast result is handed out while slow probes are still in flight', async (t) => {
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  const run = stopLater(t, probe([filtered, filtered, closed], { timeout: 5000 }));
  const first = await run.next();
  t.like(first, { done: false, value: { index: 2, state: 'closed' } });
  t.like(run.summary(), { total: 1, byState: { closed: 1, filtered: 0 } });
  await run.return();
});

test('invalid targets are error results with INVALID_TARGET; the run goes on', async (t) => {
  const open = await openPort(t);
  const targets = [
    'nonsense', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:http', '', 'unix:/tmp/x.sock', '[::1', '[zz]:80',
    42, null, undefined, true, ['127.0.0.1', open.port], { host: '127.0.0.1' }, { host: '', port: 80 },
    { host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 70000 }, { host: '127.0.0.1', port: '80' },
    { get host() { throw new Error('getter fails'); }, port: 80 },
    open.target,
  ];
  const results = await collect(probe(targets, { timeout: 500 }));
  t.is(results.length, targets.length);
  const r = byIndex(results);
  for (let i = 0; i < targets.length - 1; i++) {
    assertResultShape(t, r[i]);
    t.is(r[i].state, 'error', `target ${i} (${String(targets[i])})`);
    t.is(r[i].error.code, 'INVALID_TARGET', `target ${i}`);
    t.is(r[i].rttMs, 0);
    t.true(r[i].error.message.length > 0);
  }
  t.is(r[0].target, 'nonsense');
  t.regex(r[0].error.message, /nonsense/);
  // A probe target cannot be a Unix socket path: the message does not offer that form.
  for (const i of [0, 2, 3, 7]) t.regex(r[i].error.message, /^invalid target .*\(expected "host:port" or "\[v6addr\]:port"\)$/, `target ${i}`);
  t.regex(r[6].error.message, /unix/);
  t.is(r[9].target, '42');
  t.is(r[10].target, 'null');
  t.regex(r[14].error.message, /port/);
  t.regex(r[19].error.message, /getter fails/);
  t.is(r[targets.length - 1].state, 'open');
});

test('{ host, port } objects are probed, reported as host:port ([v6]:port for IPv6)', async (t) => {
  const open = await openPort(t);
  const closed = await closedTarget();
  const closedPort = Number(closed.split(':')[1]);
  const results = await collect(probe([
    { host: '127.0.0.1', port: open.port },
    { host: '127.0.0.1', port: closedPort },
    { host: '::1', port: closedPort },
    { host: '[::1]', port: closedPort },
  ], { timeout: 500 }));
  const r = byIndex(results);
  t.like(r[0], { target: open.target, state: 'open' });
  t.like(r[1], { target: closed, state: 'closed' });
  t.is(r[2].target, `[::1]:${closedPort}`);
  t.is(r[3].target, `[::1]:${closedPort}`);
  // Without IPv6 on this machine ::1 is an error result (EADDRNOTAVAIL...), still a result.
  t.true(['closed', 'open', 'error', 'filtered'].includes(r[2].state));
});

test('a host name is resolved by the engine', async (t) => {
  const open = await openPort(t);
  const results = await collect(probe([`localhost:${open.port}`], { timeout: 2000 }));
  t.is(results.length, 1);
  // localhost may resolve to ::1 first, where nothing listens: either way a result.
  t.true(['open', 'closed', 'error', 'filtered'].includes(results[0].state), results[0].state);
  t.is(results[0].target, `localhost:${open.port}`);
});

test('arrays, Sets, generators, async generators and empty inputs', async (t) => {
  const open = await openPort(t);
  const closed = await closedTarget();
  const list = [open.target, closed, open.target];
  function* gen() { yield* list; }
  async function* agen() { for (const x of list) { await tick(); yield x; } }
  for (const [name, input] of [['array', list], ['Set', new Set(list)], ['generator', gen()], ['async generator', agen()]]) {
    const results = await collect(probe(input, { timeout: 500 }));
    const expected = name === 'Set' ? 2 : 3;
    t.is(results.length, expected, name);
    t.is(results.filter((r) => r.state === 'open').length, name === 'Set' ? 1 : 2, name);
  }
  const empty = probe([]);
  t.deepEqual(await collect(empty), []);
  t.like(empty.summary(), { total: 0, byState: { open: 0, closed: 0, filtered: 0, error: 0 }, rttMs: { p50: 0, p95: 0, p99: 0, max: 0 } });
  async function* none() {}
  t.deepEqual(await collect(probe(none())), []);
});

test('nothing starts before the first next(); concurrency bounds the targets pulled', async (t) => {
  const filtered = await filteredTarget(t);
  const { state, input, seen } = countingInput(100, () => filtered);
  const run = stopLater(t, probe(input, { concurrency: 5, timeout: 10_000 }));
  await tick();
  t.is(state.pulled, 0, 'nothing pulled before next()');
  const pending = run.next();
  // Every probe hangs (filtered): the engine takes `concurrency` targets, then no more.
  await waitFor(() => state.pulled >= 5, { message: 'the first targets pulled' });
  await sleep(50); // a chance for too many to be pulled (none should be)
  t.is(state.pulled, 5, 'exactly concurrency targets pulled while all of them are in flight');
  seen();
  await run.return();
  t.deepEqual(await pending, { done: true, value: undefined });
  t.true(state.finallyRan);
});

test('100,000 targets from an async generator run in bounded memory (pulled minus seen stays under concurrency + a batch)', async (t) => {
  const open = await openPort(t);
  const closed = [await closedTarget(), await closedTarget(), await closedTarget()];
  const n = 100_000;
  const concurrency = 1000;
  // Mostly closed ports (no connection, no TIME_WAIT), one in 1000 open.
  const { state, input, seen } = countingInput(n, (i) => (i % 1000 === 999 ? open.target : closed[i % 3]));
  const run = stopLater(t, probe(input, { concurrency, timeout: 5000 }));
  const got = new Uint8Array(n);
  let count = 0;
  let repeats = 0;
  for await (const r of run) {
    seen();
    if (got[r.index] !== 0) repeats++;
    got[r.index] = 1;
    count++;
  }
  t.is(count, n);
  t.is(repeats, 0, 'no target reported twice');
  t.is(state.pulled, n);
  // One batch is 256 results; +1: the result being handed to the loop body when the next
  // target is pulled.
  t.true(state.maxAhead <= concurrency + 256 + 1, `at most ${state.maxAhead} targets pulled ahead of the loop`);
  const s = run.summary();
  t.is(s.total, n);
  t.is(s.byState.open + s.byState.closed + s.byState.filtered + s.byState.error, n);
  t.true(s.byState.open >= 1, 'the open targets were seen open');
});

test('a sync generator is pulled as lazily as an async one', async (t) => {
  const closed = await closedTarget();
  let pulled = 0;
  let seenCount = 0;
  let maxAhead = 0;
  function* gen() { for (let i = 0; i < 5000; i++) { pulled++; maxAhead = Math.max(maxAhead, pulled - seenCount); yield closed; } }
  for await (const r of probe(gen(), { concurrency: 20 })) {
    seenCount++;
    t.is(r.state, 'closed');
  }
  t.is(seenCount, 5000);
  t.true(maxAhead <= 20 + 20 + 1, `pulled ahead: ${maxAhead}`);
});

test('summary() matches the results seen, during and after the run', async (t) => {
  const open = await openPort(t);
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  const targets = [];
  for (let i = 0; i < 300; i++) targets.push(i % 3 === 0 ? open.target : closed);
  targets.push(filtered, filtered, 'bad target', 7);
  // The timeout only has to tell the black-holed target from the others: long enough that a
  // refused or accepted loopback connect is never mistaken for it on a loaded machine (under CI,
  // 42 of 200 refusals once took longer than 400 ms to arrive).
  const run = stopLater(t, probe(targets, { concurrency: 64, timeout: 3000 }));
  const results = [];
  for await (const r of run) {
    results.push(r);
    if (results.length === 100) t.is(run.summary().total, 100, 'during the run: what was seen so far');
  }
  const s = run.summary();
  const count = (state) => results.filter((r) => r.state === state).length;
  t.is(s.total, targets.length);
  t.deepEqual(s.byState, { open: count('open'), closed: count('closed'), filtered: count('filtered'), error: count('error') });
  t.deepEqual(s.byState, { open: 100, closed: 200, filtered: 2, error: 2 });
  const rtts = results.filter((r) => r.state === 'open' || r.state === 'closed').map((r) => r.rttMs);
  t.is(s.rttMs.max, Math.max(...rtts));
  for (const [key, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]]) {
    const exact = nearestRank(rtts, q);
    t.true(Math.abs(s.rttMs[key] - exact) <= exact * 0.01 + 0.001, `${key}: ${s.rttMs[key]} vs exact ${exact}`);
  }
  t.true(s.rttMs.p50 <= s.rttMs.p95 && s.rttMs.p95 <= s.rttMs.p99 && s.rttMs.p99 <= s.rttMs.max);
  t.true(Number.isFinite(s.durationMs) && s.durationMs > 0);
  t.is(run.summary().durationMs, s.durationMs, 'the duration stops at the end of the run');
});

test('break stops the run: the input is closed and nothing more is pulled', async (t) => {
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  const { state, input, seen } = countingInput(10_000, (i) => (i % 2 ? closed : filtered));
  const run = stopLater(t, probe(input, { concurrency: 50, timeout: 30_000 }));
  let n = 0;
  for await (const r of run) {
    seen();
    t.is(r.state, 'closed');
    if (++n === 10) break;
  }
  t.true(state.finallyRan, "the generator's finally ran");
  const pulled = state.pulled;
  for (let i = 0; i < 20; i++) await tick();
  t.is(state.pulled, pulled);
  t.deepEqual(await run.next(), { done: true, value: undefined });
  t.is(run.summary().total, 10);
});

test('cancel() ends the iteration without an error', async (t) => {
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  const run = stopLater(t, probe([filtered, filtered, closed, filtered], { timeout: 30_000 }));
  const seen = [];
  for await (const r of run) {
    seen.push(r.state);
    run.cancel();
    run.cancel(); // idempotent
  }
  t.deepEqual(seen, ['closed']);
  t.is(run.summary().total, 1);
  // Before the first next(): nothing ever starts.
  let pulled = 0;
  function* gen() { pulled++; yield closed; }
  const idle = probe(gen());
  idle.cancel();
  t.deepEqual(await idle.next(), { done: true, value: undefined });
  t.is(pulled, 0);
});

test('aborting the signal makes the loop throw its reason', async (t) => {
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  const controller = new AbortController();
  const reason = new Error('enough');
  const { state, input, seen } = countingInput(1000, (i) => (i % 2 ? closed : filtered));
  const run = stopLater(t, probe(input, { concurrency: 20, timeout: 30_000, signal: controller.signal }));
  let n = 0;
  const err = await t.throwsAsync(async () => {
    for await (const r of run) {
      seen();
      n++;
      if (n === 3) controller.abort(reason);
      t.is(r.state, 'closed');
    }
  });
  t.is(err, reason);
  t.is(n, 3);
  t.true(state.finallyRan);
  t.deepEqual(await run.next(), { done: true, value: undefined });
});

test('an abort while next() waits rejects it with the reason', async (t) => {
  const filtered = await filteredTarget(t);
  const controller = new AbortController();
  const run = stopLater(t, probe([filtered], { timeout: 30_000, signal: controller.signal }));
  const pending = run.next();
  await tick();
  controller.abort();
  const err = await pending.then(() => null, (e) => e);
  t.is(err, controller.signal.reason);
  t.is(err.name, 'AbortError');
});

test('an already aborted signal: the first next() throws, nothing is pulled', async (t) => {
  const reason = new Error('no');
  let pulled = 0;
  function* gen() { pulled++; yield '127.0.0.1:1'; }
  const run = stopLater(t, probe(gen(), { signal: AbortSignal.abort(reason) }));
  await t.throwsAsync(run.next(), { is: reason });
  t.deepEqual(await run.next(), { done: true, value: undefined });
  t.is(pulled, 0);
  t.is(run.summary().total, 0);
});

test('an input that throws: the targets pulled before are probed and yielded, then its error is thrown', async (t) => {
  const closed = await closedTarget();
  const failure = new Error('input broke');
  async function* gen() {
    yield closed;
    yield closed;
    await tick();
    throw failure;
  }
  const run = stopLater(t, probe(gen()));
  const seen = [];
  await t.throwsAsync(async () => {
    for await (const r of run) seen.push(r.state);
  }, { is: failure });
  t.deepEqual(seen, ['closed', 'closed']);
});

test('invalid options and targets throw a TypeError naming the option', (t) => {
  const bad = [
    [{ concurrency: 0 }, /concurrency/], [{ concurrency: 65536 }, /concurrency/], [{ concurrency: 1.5 }, /concurrency/],
    [{ concurrency: '10' }, /concurrency/], [{ concurrency: null }, /concurrency/],
    [{ timeout: 0 }, /timeout/], [{ timeout: -1 }, /timeout/], [{ timeout: NaN }, /timeout/],
    [{ timeout: Infinity }, /timeout/], [{ timeout: '100' }, /timeout/], [{ timeout: 2 ** 31 }, /timeout/],
    [{ protocol: 'icmp' }, /protocol/], [{ protocol: 'TCP' }, /protocol/],
    [{ payload: 'x' }, /payload.*udp/], [{ protocol: 'udp', payload: 42 }, /payload/],
    [{ protocol: 'udp', payload: Buffer.alloc(65508) }, /payload.*65507/],
    [{ signal: {} }, /signal/], [{ timeot: 5 }, /unknown probe option "timeot"/],
  ];
  for (const [options, message] of bad) {
    t.throws(() => probe([], options), { instanceOf: TypeError, message }, JSON.stringify(options));
  }
  t.throws(() => probe([], null), { instanceOf: TypeError, message: /options must be an object/ });
  t.throws(() => probe([], 'fast'), { instanceOf: TypeError, message: /options must be an object/ });
  for (const targets of [undefined, null, 42, {}, () => {}]) {
    t.throws(() => probe(targets), { instanceOf: TypeError, message: /targets must be an array, an iterable or an async iterable/ });
  }
  t.throws(() => probe('127.0.0.1:80'), { instanceOf: TypeError, message: /not a string/ });
  // Valid edge values do not throw.
  for (const options of [{ concurrency: 1 }, { concurrency: 65535 }, { timeout: 1 }, { timeout: 0.5 + 1 }, { protocol: 'udp', payload: Buffer.alloc(65507) }, { protocol: 'udp', payload: '' }, {}, undefined]) {
    t.notThrows(() => probe([], options), JSON.stringify(options));
  }
});

test('a process exits by itself after a finished, a broken, a cancelled and a never-started run', async (t) => {
  const script = fileURLToPath(new URL('./helpers/probe-child.mjs', import.meta.url));
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  const run = await runNode(t, script, [closed, filtered]);
  t.false(run.hung, `the child did not exit on its own\nstderr:\n${run.stderr}`);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /finished 2\b.*broken 1\b.*cancelled 1\b.*idle/s);
});
