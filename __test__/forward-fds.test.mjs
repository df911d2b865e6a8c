// After many forward and listen sessions (with and without reuse), pool.close() and
// proxy.close() leave exactly the descriptors the process had before; closing the pool under
// running sessions ends them as 'pool-closed'. Alone in its file and serial, as
// close-fds.test.mjs, so that nothing else opens descriptors while we count.
import test from 'ava';
import net from 'node:net';
import { Pool } from './helpers/pool.mjs';
import { roundTrip, fdCount, waitFor, range } from './helpers/net.mjs';
import { startUpstream, collect } from './helpers/forward.mjs';

/** A front server calling pool.forward; no teardown (the test closes it before counting). */
async function front(pool, dest, options) {
  const results = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const p = pool.forward(socket, dest, options);
    p.catch(() => {});
    results.push(p);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port, results, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Connects, optionally round-trips, returns the socket (no teardown: closed by the caller). */
async function dial(port, clients) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  clients.push(socket);
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  return socket;
}

async function echoSession(t, port, clients, payload) {
  const socket = await dial(port, clients);
  t.is((await roundTrip(socket, payload)).toString(), payload);
  const rest = collect(socket);
  socket.end();
  await rest;
}

async function closeAll(clients) {
  await Promise.all(clients.map((socket) => new Promise((resolve) => {
    if (socket.closed) return resolve();
    socket.once('close', resolve);
    socket.destroy();
  })));
}

test.serial('forward and listen sessions leave no descriptor after pool.close()', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });

  // Warm up with a throwaway pool: the process-wide runtime keeps descriptors of its own.
  {
    const warm = new Pool();
    const clients = [];
    const f = await front(warm, upstream.dest, { reuseUpstream: true });
    await echoSession(t, f.port, clients, 'warm forward');
    const proxy = await warm.listen({ reuseUpstream: true }, () => upstream.dest);
    await echoSession(t, proxy.address().port, clients, 'warm listen');
    await Promise.all(f.results);
    await warm.close();
    await f.close();
    await closeAll(clients);
  }

  const before = fdCount();
  const pool = new Pool({ maxPerDestination: 40 });
  let closed = false;
  t.teardown(() => (closed ? undefined : pool.close()));
  const clients = [];
  const reusing = await front(pool, upstream.dest, { reuseUpstream: true });
  const plain = await front(pool, upstream.dest);
  const proxyReuse = await pool.listen({ reuseUpstream: true }, () => upstream.dest);
  const proxyPlain = await pool.listen({ peek: 4 }, () => upstream.dest);

  for (let i = 0; i < 10; i++) await echoSession(t, reusing.port, clients, `seq ${i}`);
  await Promise.all(range(20).map((i) => echoSession(t, reusing.port, clients, `par ${i}`)));
  await Promise.all(range(10).map((i) => echoSession(t, plain.port, clients, `plain ${i}`)));
  await Promise.all(range(20).map((i) => echoSession(t, proxyReuse.address().port, clients, `lr ${i}`)));
  await Promise.all(range(5).map((i) => echoSession(t, proxyPlain.address().port, clients, `lp ${i}`)));
  // Sessions still running when the pool closes, on both ways in.
  const running = [];
  for (const port of [reusing.port, plain.port, proxyReuse.address().port, proxyPlain.address().port]) {
    const socket = await dial(port, clients);
    t.is((await roundTrip(socket, 'running')).toString(), 'running');
    running.push(socket);
  }
  const results = await Promise.all(reusing.results.slice(0, 30));
  t.true(results.every((r) => r.end === 'client-closed' && r.upstreamReturned), 'the clean forward sessions returned their upstreams');
  t.true(results.filter((r) => r.upstreamReused).length >= 10, 'and later sessions reused them');
  const during = fdCount();
  t.true(during > before, `the pool holds descriptors (${before} before, ${during} during)`);

  await pool.close();
  closed = true;
  const ends = await Promise.all([reusing.results.at(-1), plain.results.at(-1)]);
  t.deepEqual(ends.map((r) => r.end), ['pool-closed', 'pool-closed']);
  await proxyReuse.close();
  await proxyPlain.close();
  await reusing.close();
  await plain.close();
  await closeAll(clients);
  const after = fdCount();
  t.is(after, before, `descriptors: ${before} before the pool, ${during} while in use, ${after} after close()`);
  if (after !== before) {
    const later = await waitFor(() => fdCount() === before, { timeout: 3_000 }).then(() => 'yes', () => `no (${fdCount()})`);
    t.log(`descriptor count back to ${before} within 3 s: ${later}`);
  }
  await waitFor(async () => (await upstream.stats()).current === 0, { message: 'the upstream sees every connection closed' });
});

test.serial('pool.close() under running sessions: they end pool-closed, close() resolves, both sides closed', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = new Pool({ maxPerDestination: 3 });
  t.teardown(() => pool.close());
  const clients = [];
  t.teardown(() => closeAll(clients));
  const f = await front(pool, upstream.dest);
  t.teardown(() => f.close());
  const active = [];
  for (let i = 0; i < 3; i++) {
    const socket = await dial(f.port, clients);
    t.is((await roundTrip(socket, `s${i}`)).toString(), `s${i}`);
    active.push(socket);
  }
  // A fourth session waits for an upstream place (all 3 in use).
  const waiting = await dial(f.port, clients);
  await waitFor(() => f.results.length === 4, { message: 'the fourth forward started' });
  const seen = clients.map((socket) => collect(socket));

  await pool.close();
  const results = await Promise.all(f.results);
  t.deepEqual(results.map((r) => r.end), ['pool-closed', 'pool-closed', 'pool-closed', 'pool-closed']);
  t.true(results.every((r) => r.upstreamReturned === false));
  t.like(results[3], { bytesIn: 0, bytesOut: 0 });
  for (const s of await Promise.all(seen)) t.true(s.ended || s.error !== null, 'the client saw its connection closed');
  t.true(waiting.destroyed);
  await waitFor(async () => (await upstream.stats()).current === 0, { message: 'the upstream sees every connection closed' });
  t.like(pool.stats(), { open: 0, inUse: 0, idle: 0 });
});
