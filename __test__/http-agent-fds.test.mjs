// The HTTP agent leaves no descriptor behind: requests that reuse, retry after resets, fail to
// connect, time out or are abandoned, then pool.close(). Alone in its file (and serial) so that
// nothing else in this process opens or closes descriptors while we count them.
import test from 'ava';
import http from 'node:http';
import { Pool } from 'berth-pool';
import { createPool } from './helpers/pool.mjs';
import { fdCount, refusedPort, range, sleep, waitFor } from './helpers/net.mjs';
import { startHttpServer, request, targetOf } from './fixtures/http-upstream.mjs';

test.serial('after pool.close() the process has exactly the descriptors it had before', async (t) => {
  const server = await startHttpServer(t, { keepAliveTimeout: 60_000, forgetAfter: 100 });
  const refused = await refusedPort();

  // Warm up: the process-wide engine runtime may keep descriptors of its own once started.
  const warm = createPool(t);
  await request(warm.httpAgent(), targetOf(server, '/'));
  await warm.close();
  await server.reset();

  const before = fdCount();
  const pool = new Pool({ maxPerDestination: 8 });
  let closed = false;
  t.teardown(() => (closed ? undefined : pool.close()));
  const agent = pool.httpAgent();

  // Concurrent reuse.
  await Promise.all(range(100).map((i) => request(agent, targetOf(server, `/${i}`))));
  // Retries after resets of forgotten connections. How many connections the first burst opened
  // depends on how dials and releases interleave (at most maxConcurrentDials at once): every one
  // left idle is forgotten by the server during the pause and reset on its next request.
  await waitFor(() => pool.stats().inUse === 0, { message: () => JSON.stringify(pool.stats()) });
  await server.reset();
  const stale = pool.stats().idle;
  t.true(stale > 0 && stale <= 8, `idle after the burst: ${stale}`);
  await sleep(150);
  await Promise.all(range(8).map((i) => request(agent, targetOf(server, `/after-pause-${i}`))));
  // Refused connects.
  await Promise.allSettled(range(3).map(() => request(agent, { host: '127.0.0.1', port: refused, path: '/' })));
  // Abandoned responses and timed-out requests.
  await new Promise((resolve) => http.get({ ...targetOf(server, '/slow/5'), agent }, (res) => { res.destroy(); res.on('close', resolve); }));
  await new Promise((resolve) => {
    const req = http.get({ ...targetOf(server, '/hang'), agent, timeout: 50 });
    req.on('timeout', () => req.destroy());
    req.on('error', () => {});
    req.on('close', resolve);
  });
  // In flight during close.
  const inFlight = range(3).map(() => request(agent, targetOf(server, '/hang')).catch((err) => err));
  await waitFor(() => pool.stats().inUse === 3, { message: () => JSON.stringify(pool.stats()) });
  const during = fdCount();
  t.true(during > before, `the pool holds descriptors (${before} before, ${during} during)`);

  await pool.close();
  closed = true;
  const errors = await Promise.all(inFlight);
  t.true(errors.every((e) => e instanceof Error));
  const after = fdCount();
  t.is(after, before, `descriptors: ${before} before, ${during} during, ${after} after close()`);
  t.is((await server.stats()).forgotten, stale);
});
