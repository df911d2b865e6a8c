// A Rust panic in the binding (a bug, never a reaction to input) must not abort Node: it comes
// out of the call as a thrown Error, through napi-rs's catch_unwind on every #[napi] function
// and through `guard` on the raw hot-path functions. Run in a child process, so that an abort
// shows as a crashed child rather than a crashed test worker.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

const SCRIPT = `
const binding = require('./native/index.js');
const out = [];
for (const name of ['__panicForTest', '__panicRawForTest']) {
  try {
    binding[name]();
    out.push(name + ': returned');
  } catch (error) {
    out.push(name + ': threw ' + (error instanceof Error ? 'Error' : typeof error));
  }
}
// The process still works: a pool acquires after the panics.
const { Pool } = require('./dist/index.js');
const net = require('node:net');
const server = net.createServer((s) => s.pipe(s)).listen(0, '127.0.0.1', async () => {
  const pool = new Pool();
  const lease = await pool.acquire('127.0.0.1:' + server.address().port);
  lease.release();
  await pool.close();
  server.close();
  console.log(JSON.stringify(out));
});
`;

test('a panic in a #[napi] function or a raw hot-path function is a thrown Error, and the process goes on', (t) => {
  const child = spawnSync(process.execPath, ['-e', SCRIPT], { cwd: root, encoding: 'utf8', timeout: 20_000 });
  t.is(child.signal, null, `the child was not killed by a signal (stderr: ${child.stderr.slice(-500)})`);
  t.is(child.status, 0, child.stderr.slice(-500));
  t.deepEqual(JSON.parse(child.stdout.trim().split('\n').pop()), ['__panicForTest: threw Error', '__panicRawForTest: threw Error']);
});
