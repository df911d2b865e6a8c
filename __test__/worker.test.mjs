// berth in worker_threads: a Pool created and used inside a Worker, in a child process that
// must exit cleanly (code 0) on its own afterwards.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { runNode, fixturePath, lastJsonLine } from './helpers/child.mjs';

const SCRIPT = fixturePath('worker-main.mjs');

async function run(t, mode) {
  const server = await startServer(t);
  const result = await runNode(t, SCRIPT, [server.dest, mode]);
  t.false(result.hung, `the process did not exit on its own within the guard and was killed\nstderr:\n${result.stderr}`);
  t.is(result.signal, null, `killed by a signal\nstderr:\n${result.stderr}`);
  t.is(result.code, 0, `exit code\nstderr:\n${result.stderr}`);
  const out = lastJsonLine(result.stdout);
  t.truthy(out, `results printed\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  return { out: out ?? { workers: [], main: null }, server };
}

function assertWorkerDone(t, w, uses) {
  t.is(w.exitCode, 0, 'the worker ended normally');
  t.truthy(w.done, 'the worker posted its results');
  t.is(w.done?.ok, uses, 'every echo in the worker came back');
  t.is(w.done?.reused, uses - 1, 'sequential uses in the worker reused one connection');
}

test('a worker uses a Pool, closes it, ends; the process exits 0', async (t) => {
  const { out, server } = await run(t, 'close');
  t.is(out.workers.length, 1);
  assertWorkerDone(t, out.workers[0], 20);
  t.is((await server.stats()).accepted, 1);
});

test('a worker uses a Pool and does not close it; the worker ends and the process exits 0', async (t) => {
  const { out } = await run(t, 'no-close');
  t.is(out.workers.length, 1);
  assertWorkerDone(t, out.workers[0], 20);
});

test('two workers and the main thread use pools at the same time', async (t) => {
  const { out, server } = await run(t, 'parallel');
  t.is(out.workers.length, 2);
  for (const w of out.workers) assertWorkerDone(t, w, 50);
  t.is(out.main?.ok, 50);
  // Three pools, sequential uses each: three connections in all.
  t.is((await server.stats()).accepted, 3);
});

test('workers started one after another (addon loaded and unloaded repeatedly)', async (t) => {
  const { out } = await run(t, 'sequential');
  t.is(out.workers.length, 3);
  for (const w of out.workers) assertWorkerDone(t, w, 20);
  t.is(out.main?.ok, 5);
});

test('a worker terminated in the middle of using its pool does not break the process', async (t) => {
  const { out } = await run(t, 'terminate');
  t.is(out.workers.length, 1);
  t.is(out.workers[0].exitCode, 1, 'terminate() ends a worker with exit code 1');
  t.is(out.main?.ok, 10, 'the main thread can still use a pool afterwards');
});
