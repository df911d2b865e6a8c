// The hot path's argument block (see crates/berth-node/src/hot.rs): one per JS thread, owned by
// the addon, so that nothing done to the ArrayBuffer over it can break acquires.
import test from 'ava';
import { createRequire } from 'node:module';
import { startServer } from './helpers/server.mjs';
import { createPool } from './helpers/pool.mjs';
import { roundTrip } from './helpers/net.mjs';

const require = createRequire(import.meta.url);
const binding = require('../native/index.js');

test('every load of the module in a thread shares one argument block', (t) => {
  const a = binding.hotIo();
  const b = binding.hotIo();
  t.true(a instanceof ArrayBuffer);
  t.is(a.byteLength, 40);
  t.is(a, b);
});

test('transferring the block away does not break acquires', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const first = await pool.acquire(server.dest);
  first.release();
  const block = binding.hotIo();
  try {
    structuredClone(block, { transfer: [block] });
  } catch {
    // A runtime may refuse to transfer an external buffer: just as good.
  }
  for (let i = 0; i < 20; i++) {
    const lease = await pool.acquire(server.dest);
    t.true(lease.reused);
    t.is((await roundTrip(lease.socket, `use ${i}`)).toString(), `use ${i}`);
    lease.release();
  }
  t.is((await server.stats()).accepted, 1);
});
