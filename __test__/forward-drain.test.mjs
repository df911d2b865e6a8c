// drain() waits for forwards in flight as for leases, and refuses new ones.
import test from 'ava';
import { Pool, BerthError } from '../dist/index.js';
import { startUpstream, startFront, connect, readBytes } from './helpers/forward.mjs';

test('drain() resolves only after the forwards in flight end, and refuses new forwards', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = new Pool();
  t.teardown(() => pool.close());
  const front = await startFront(t, pool, upstream.dest);
  const client = await connect(t, front.port);
  client.write('before drain');
  t.is(String(await readBytes(client, 12)), 'before drain');

  let drained = false;
  const draining = pool.drain().then(() => { drained = true; });
  // The session is still running: the pool is draining, not drained.
  client.write('during drain');
  t.is(String(await readBytes(client, 12)), 'during drain');
  t.false(drained);

  // A new forward is refused and leaves its socket untouched.
  const second = await connect(t, front.port);
  const refused = await front.result(1).catch((error) => error);
  t.true(refused instanceof BerthError);
  t.is(refused.code, 'POOL_DRAINING');
  t.false(second.destroyed);

  client.end();
  const result = await front.result(0);
  t.is(result.end, 'client-closed');
  await draining;
  t.true(drained);
  t.is(pool.stats().open, 0);
});
