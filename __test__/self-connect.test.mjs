// A connect to a local port nobody listens on can pick that very port as its own source and
// complete by TCP simultaneous open: a "connection" to itself that echoes every byte back.
// Nothing listens there, so berth calls it refused (the probe: closed), as Go's net package
// does. Made certain here: a network namespace of its own (unshare, root) whose ephemeral
// port range is the one port the child connects to. Linux only.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fixturePath, lastJsonLine, runNode } from './helpers/child.mjs';

const PORT = 40000;
const SCRIPT = fixturePath('self-connect.mjs');

function canUnshare() {
  if (process.platform !== 'linux') return false;
  const r = spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Runs the fixture in a network namespace of its own whose ephemeral range is PORT alone. */
function runIsolated(t) {
  const setup = `ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range="${PORT} ${PORT}"`;
  return runNode(t, SCRIPT, [String(PORT)], { launcher: ['unshare', '-n', 'sh', '-c', `${setup} && exec "$0" "$@"`] });
}

test('a connect that reaches its own source port is refused, never leased (engine dial, Node dial) and probed closed', async (t) => {
  if (!canUnshare()) {
    t.log('skipped: needs Linux and permission to make a network namespace (unshare -n)');
    t.pass();
    return;
  }
  const run = await runIsolated(t);
  t.false(run.hung, `the child did not finish within the guard\nstderr:\n${run.stderr}`);
  t.is(run.code, 0, `the child exited cleanly\nstderr:\n${run.stderr}`);
  const out = lastJsonLine(run.stdout);
  t.truthy(out, `the child printed its results\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  // The control: in this namespace a plain connect does connect to itself.
  t.deepEqual(out.control, { connected: true, localPort: PORT });
  t.deepEqual(out.probe, ['closed']);
  for (const path of ['native', 'nodeDial']) {
    t.like(out[path], { leased: false, name: 'BerthError', code: 'CONNECT_REFUSED' }, path);
    t.regex(out[path].message, new RegExp(`127\\.0\\.0\\.1:${PORT}`), path);
  }
  // Each refusal reset its connection: the port is free again at once (no TIME_WAIT), so the
  // same connect still reaches itself after each of them.
  t.deepEqual(out.controlAgain, { connected: true, localPort: PORT });
  t.deepEqual(out.controlLast, { connected: true, localPort: PORT });
});
