// One lifecycle for both pools: the same steps against Pool (real sockets to an echo server in
// a child process) and ResourcePool give the same states, codes and end: drain() refuses new
// acquires with POOL_DRAINING, serves the queued ones, waits for what is out, then closes;
// afterwards acquires get POOL_CLOSED.
import test from 'ava';
import { createPool } from './helpers/pool.mjs';
import { startServer } from './helpers/server.mjs';
import { createResourcePool, makeFactory, over } from './helpers/resources.mjs';

const kinds = {
  async Pool(t) {
    const server = await startServer(t);
    const pool = createPool(t, { maxPerDestination: 1 });
    return {
      pool,
      acquire: () => pool.acquire(server.dest),
      release: (lease) => lease.release(),
      held: () => pool.stats().open,
    };
  },
  async ResourcePool(t) {
    const f = makeFactory();
    const pool = createResourcePool(t, over(f, { max: 1 }));
    return {
      pool,
      acquire: () => pool.acquire(),
      release: (resource) => pool.release(resource),
      held: () => f.log.created.length - f.log.destroyed.length,
    };
  },
};

for (const [name, make] of Object.entries(kinds)) {
  test(`${name}: open -> draining (POOL_DRAINING, queued served) -> closed (POOL_CLOSED, nothing held)`, async (t) => {
    const { pool, acquire, release, held } = await make(t);
    t.deepEqual([pool.draining, pool.closed], [false, false], 'open');
    const first = await acquire();
    const queued = acquire();
    const drained = pool.drain();
    t.deepEqual([pool.draining, pool.closed], [true, false], 'draining while something is out');
    const refused = await acquire().catch((e) => e);
    t.is(refused.code, 'POOL_DRAINING');
    release(first);
    const second = await queued;
    t.truthy(second, 'an acquire queued before drain() is served');
    release(second);
    await drained;
    t.deepEqual([pool.draining, pool.closed], [false, true], 'closed once drain() resolved');
    t.is(held(), 0, 'nothing is held after drain()');
    const after = await acquire().catch((e) => e);
    t.is(after.code, 'POOL_CLOSED');
  });

  test(`${name}: drain({ timeout }) -> DRAIN_TIMEOUT, still draining; close() then ends it`, async (t) => {
    const { pool, acquire, release } = await make(t);
    const out = await acquire();
    const timedOut = await pool.drain({ timeout: 10 }).catch((e) => e);
    t.is(timedOut.code, 'DRAIN_TIMEOUT');
    t.deepEqual([pool.draining, pool.closed], [true, false]);
    const closing = pool.close();
    t.deepEqual([pool.draining, pool.closed], [false, true]);
    // Pool destroys a leased connection at once; ResourcePool destroys a borrowed resource
    // when it comes back (documented): give it back either way.
    release(out);
    await closing;
    const after = await acquire().catch((e) => e);
    t.is(after.code, 'POOL_CLOSED');
  });

  test(`${name}: drain() with a bad timeout is a TypeError that names it; close() twice is one promise`, async (t) => {
    const { pool } = await make(t);
    await t.throwsAsync(pool.drain({ timeout: -1 }), { instanceOf: TypeError, message: /drain timeout must be/ });
    t.false(pool.draining);
    t.is(pool.close(), pool.close());
  });
}
