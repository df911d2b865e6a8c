// Pools are ordinary garbage: dropping one without close() must not leak it (its engine's
// timer task and event callback included), and a pool must stay alive while it has work.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { startBlackhole } from './helpers/blackhole.mjs';
import { runNode, fixturePath, lastJsonLine } from './helpers/child.mjs';

test('forgotten pools are collected; a pool with an acquire in flight is not', async (t) => {
  const server = await startServer(t);
  const slow = await startBlackhole(t);
  const run = await runNode(t, fixturePath('forgotten-pools.mjs'), [server.dest, slow.dest], { guardMs: 30_000 });
  t.false(run.hung, `the child hung\nstderr:\n${run.stderr}`);
  t.is(run.code, 0, `exit code (13 = an acquire never settled)\nstderr:\n${run.stderr}`);
  const out = lastJsonLine(run.stdout);
  t.truthy(out, `the child printed its results\nstdout:\n${run.stdout}`);
  t.is(out.slowOutcome, 'CONNECT_TIMEOUT', 'the unreferenced pool lived until its acquire settled');
  t.is(out.collected, out.expected, 'every dropped pool was garbage collected');
});
