// close() leaves no descriptor open. Alone in its file (and serial) so that nothing else in this
// process opens or closes descriptors while we count them.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { startBlackhole } from './helpers/blackhole.mjs';
import { Pool, createPool, useEcho } from './helpers/pool.mjs';
import { roundTrip, fdCount, waitFor, track, range } from './helpers/net.mjs';

test.serial('after close() the process has exactly the descriptors it had before the pool', async (t) => {
  const server = await startServer(t);
  const hole = await startBlackhole(t);

  // Warm up with a throwaway pool first: the process-wide runtime (one per process, shared by
  // every pool) may keep descriptors of its own once started; those are not the pool's.
  const warm = createPool(t);
  await useEcho(t, warm, server.dest, 'warm up');
  await warm.close();

  const before = fdCount();
  const pool = new Pool({ maxPerDestination: 40, connectTimeout: 20_000 });
  let closed = false;
  t.teardown(() => (closed ? undefined : pool.close()));

  // Many uses: up to 30 connections at once, all idle afterwards.
  await Promise.all(range(200).map(async (i) => {
    const lease = await pool.acquire(server.dest);
    await roundTrip(lease.socket, `use ${i}`);
    lease.release();
  }));
  // Some leased...
  const leased = await Promise.all(range(5).map(() => pool.acquire(server.dest)));
  for (const lease of leased) await roundTrip(lease.socket, 'held');
  // ...some dials that cannot complete...
  const stuck = range(3).map(() => track(pool.acquire(hole.dest)));
  await waitFor(() => pool.stats().dialing >= 1, { message: 'dials to the blackhole in flight' });
  // ...and some dials to the real server started right before close().
  const racing = range(5).map(() => track(pool.acquire(server.dest, { priority: 1 }).then((l) => l.release())));
  const during = fdCount();
  t.true(during > before, `the pool holds descriptors (${before} before, ${during} during)`);

  await pool.close();
  closed = true;
  const after = fdCount();
  t.is(after, before, `descriptors: ${before} before the pool, ${during} while in use, ${after} after close()`);

  for (const p of stuck) await t.throwsAsync(p);
  await Promise.allSettled(racing);
  if (after !== before) {
    // Diagnostics for the report: do the descriptors go away later on their own?
    const later = await waitFor(() => fdCount() === before, { timeout: 3_000 }).then(() => 'yes', () => `no (${fdCount()})`);
    t.log(`descriptor count back to ${before} within 3 s of close(): ${later}`);
  }
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees every connection closed' });
});
