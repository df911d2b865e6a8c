// A script that uses a Pool and forgets close() must still exit by itself.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { runNode, fixturePath, lastJsonLine } from './helpers/child.mjs';
import { refusedPort, waitFor } from './helpers/net.mjs';

const SCRIPT = fixturePath('exit-without-close.mjs');

function assertCleanExit(t, run) {
  t.false(run.hung, `the child did not exit on its own within the guard and was killed\nstderr:\n${run.stderr}`);
  t.is(run.signal, null);
  t.is(run.code, 0, `exit code (13 = top-level await never settled)\nstderr:\n${run.stderr}`);
}

test('a process that never calls close() exits on its own with code 0', async (t) => {
  const server = await startServer(t);
  const run = await runNode(t, SCRIPT, [server.dest]);
  assertCleanExit(t, run);
  const out = lastJsonLine(run.stdout);
  t.truthy(out, `the child printed its results\nstdout:\n${run.stdout}`);
  t.true(out.echoes.length === 13 && out.echoes.every(Boolean), 'every echo came back');
  t.deepEqual(out.reused, [false, true, true, true, true, true, true, true, true, true]);
  t.true(out.stats.idle >= 1, 'idle connections were left open (and did not keep the process alive)');
  // The connections went away with the process.
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the connections closed' });
});

test('a process whose dial failed and that never calls close() exits on its own', async (t) => {
  const server = await startServer(t);
  const refused = `127.0.0.1:${await refusedPort()}`;
  const run = await runNode(t, SCRIPT, [server.dest, refused]);
  assertCleanExit(t, run);
  const out = lastJsonLine(run.stdout);
  t.is(out?.refusedCode, 'CONNECT_REFUSED');
});
