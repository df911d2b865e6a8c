// stats() and snapshot(): shapes, invariants, and counts that match what happened.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, assertStatsConsistent, useEcho } from './helpers/pool.mjs';
import { roundTrip, waitFor, range, refusedPort } from './helpers/net.mjs';

test('a fresh pool reports zeros everywhere', (t) => {
  const pool = createPool(t);
  const s = pool.stats();
  assertStatsConsistent(t, s);
  // The contract's keys (the pool may report more, e.g. connections still closing).
  for (const key of ['acquireTimeouts', 'acquireWaitMs', 'closed', 'connectMs', 'created', 'dialFailures',
    'dialing', 'evicted', 'idle', 'inUse', 'open', 'reused', 'waiting']) {
    t.true(key in s, `stats() has ${key}`);
  }
  t.deepEqual(Object.keys(s.evicted).sort(), ['idle', 'keepAliveExpired', 'lifetime', 'maxUses', 'peerClosed', 'unhealthy']);
  t.deepEqual(Object.keys(s.acquireWaitMs).sort(), ['p50', 'p95', 'p99']);
  t.deepEqual(Object.keys(s.connectMs).sort(), ['p50', 'p95', 'p99']);
  t.like(s, { open: 0, idle: 0, inUse: 0, dialing: 0, waiting: 0, created: 0, reused: 0, closed: 0,
    dialFailures: 0, acquireTimeouts: 0, evicted: { idle: 0, lifetime: 0, peerClosed: 0, unhealthy: 0, maxUses: 0, keepAliveExpired: 0 } });
  t.deepEqual(pool.snapshot(), { destinations: [] });
});

test('counts match a known sequence of acquires, releases and destroys', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  // Three connections at once.
  const [a, b, c] = await Promise.all(range(3).map(() => pool.acquire(server.dest)));
  t.like(pool.stats(), { open: 3, inUse: 3, idle: 0, created: 3, reused: 0 });
  // One back, and acquired again: a reuse.
  await roundTrip(a.socket, 'a');
  a.release();
  t.like(pool.stats(), { open: 3, inUse: 2, idle: 1 });
  const a2 = await pool.acquire(server.dest);
  t.true(a2.reused);
  t.like(pool.stats(), { open: 3, inUse: 3, idle: 0, created: 3, reused: 1 });
  // One destroyed, two released.
  c.destroy();
  b.release();
  a2.release();
  const s = pool.stats();
  assertStatsConsistent(t, s);
  t.like(s, { open: 2, idle: 2, inUse: 0, dialing: 0, waiting: 0, created: 3, reused: 1,
    dialFailures: 0, acquireTimeouts: 0 });
  // The destroyed connection is counted in `closed` once its descriptor is closed.
  await waitFor(() => pool.stats().closed === 1, { message: () => `closed reaches 1 (stats ${JSON.stringify(pool.stats())})` });
  // At rest, every connection ever created is either open or closed.
  const rest = pool.stats();
  t.is(rest.idle + rest.inUse, rest.created - rest.closed);
  // The server agrees.
  await waitFor(async () => (await server.stats()).current === 2, { message: 'server sees 2 open connections' });
  t.is((await server.stats()).accepted, 3);
});

test('dialFailures and acquireTimeouts count what happened', async (t) => {
  const server = await startServer(t);
  const refused = `127.0.0.1:${await refusedPort()}`;
  const pool = createPool(t, { maxPerDestination: 1 });
  await t.throwsAsync(pool.acquire(refused));
  await t.throwsAsync(pool.acquire(refused));
  const holder = await pool.acquire(server.dest);
  await t.throwsAsync(pool.acquire(server.dest, { timeout: 50 }));
  holder.release();
  const s = pool.stats();
  assertStatsConsistent(t, s);
  t.like(s, { dialFailures: 2, acquireTimeouts: 1, created: 1 });
});

test('latency histograms fill in after dials and waits', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 2 });
  await Promise.all(range(20).map((i) => useEcho(t, pool, server.dest, `h${i}`)));
  const s = pool.stats();
  assertStatsConsistent(t, s);
  t.true(s.connectMs.p99 >= s.connectMs.p50);
  t.true(s.acquireWaitMs.p99 >= s.acquireWaitMs.p50);
});

test('open = idle + inUse + dialing holds at every step under load', async (t) => {
  const a = await startServer(t);
  const b = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 5, maxTotal: 8 });
  let violations = 0;
  let samples = 0;
  let done = false;
  const sample = () => {
    const s = pool.stats();
    samples++;
    if (s.open !== s.idle + s.inUse + s.dialing || s.open > 8 || s.inUse > 8) {
      violations++;
      if (violations === 1) t.log('first inconsistent stats:', s);
    }
  };
  const sampler = (async () => {
    while (!done) {
      sample();
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const work = Promise.all(range(300).map(async (i) => {
    const dest = i % 3 ? a.dest : b.dest;
    const lease = await pool.acquire(dest);
    sample();
    try {
      await roundTrip(lease.socket, `load ${i}`);
    } finally {
      lease.release();
      sample();
    }
  }));
  try {
    await work;
  } finally {
    done = true; // stop sampling even if a use failed
    await sampler;
  }
  t.is(violations, 0, `${violations} of ${samples} samples were inconsistent`);
  assertStatsConsistent(t, pool.stats());
});

test('snapshot() lists destinations and connections consistently with stats()', async (t) => {
  const a = await startServer(t);
  const b = await startServer(t);
  const pool = createPool(t);
  // a: two connections, one of them used twice and now leased; b: one idle connection.
  const [a1, a2] = await Promise.all([pool.acquire(a.dest), pool.acquire(a.dest)]);
  const usedTwicePort = a1.socket.localPort;
  a1.release();
  const again = await pool.acquire(a.dest);
  t.is(again.socket.localPort, usedTwicePort); // the only idle one
  a2.release();
  await useEcho(t, pool, b.dest, 'b');

  const snap = pool.snapshot();
  const stats = pool.stats();
  t.deepEqual(JSON.parse(JSON.stringify(snap)), snap, 'plain data, no live handles');
  t.is(snap.destinations.length, 2);
  const byDest = Object.fromEntries(snap.destinations.map((d) => [d.destination, d]));
  t.like(byDest[a.dest], { open: 2, idle: 1, inUse: 1, dialing: 0, waiting: 0 });
  t.like(byDest[b.dest], { open: 1, idle: 1, inUse: 0, dialing: 0, waiting: 0 });

  for (const d of snap.destinations) {
    t.is(d.open, d.idle + d.inUse + d.dialing, `${d.destination}: open = idle + inUse + dialing`);
    t.is(d.connections.length, d.idle + d.inUse, `${d.destination}: one entry per established connection`);
    t.is(d.connections.filter((c) => c.state === 'idle').length, d.idle);
    t.is(d.connections.filter((c) => c.state === 'inUse').length, d.inUse);
    for (const c of d.connections) {
      t.true(['idle', 'inUse'].includes(c.state));
      t.true(Number.isFinite(c.ageMs) && c.ageMs >= 0);
      t.true(Number.isFinite(c.idleMs) && c.idleMs >= 0 && c.idleMs <= c.ageMs, 'idleMs <= ageMs');
      t.true(Number.isInteger(c.uses) && c.uses >= 1);
    }
  }
  const ids = snap.destinations.flatMap((d) => d.connections.map((c) => c.id));
  t.is(new Set(ids).size, ids.length, 'connection ids are unique');

  // Uses per connection: the a connection leased twice has uses 2, the other 1; b has 1.
  t.deepEqual(byDest[a.dest].connections.map((c) => c.uses).sort(), [1, 2]);
  t.is(byDest[a.dest].connections.find((c) => c.state === 'inUse').uses, 2);
  t.deepEqual(byDest[b.dest].connections.map((c) => c.uses), [1]);

  // Totals agree with stats().
  for (const key of ['open', 'idle', 'inUse', 'dialing', 'waiting']) {
    t.is(snap.destinations.reduce((sum, d) => sum + d[key], 0), stats[key], `sum of ${key}`);
  }
  again.release();
});

test('snapshot() counts waiters per destination', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const holder = await pool.acquire(server.dest);
  const waiters = range(2).map(() => pool.acquire(server.dest));
  await waitFor(() => pool.stats().waiting === 2, { message: 'two waiters' });
  const [d] = pool.snapshot().destinations;
  t.like(d, { destination: server.dest, waiting: 2, inUse: 1 });
  holder.release();
  for (const w of waiters) (await w).release();
});
