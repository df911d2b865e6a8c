// Stale connections: the server closes or resets idle connections, or writes to them. The pool
// must never hand out such a connection: every use succeeds.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, useEcho, assertStatsConsistent, settledStats } from './helpers/pool.mjs';
import { roundTrip, waitFor, range } from './helpers/net.mjs';
import { NODE_DIAL } from './helpers/node-dial.mjs';

test('a server that closes idle connections: the next uses never fail', async (t) => {
  const server = await startServer(t);
  // Long enough that a burst of uses never straddles the server's idle limit (a close racing
  // a request already written is the one case no pool can hide), short enough to run 20 rounds.
  await server.control({ cmd: 'closeIdleAfter', ms: 250 });
  const pool = createPool(t, { maxPerDestination: 4 });
  const ROUNDS = 20;
  let uses = 0;
  let lastPeerClosed = 0;

  for (let round = 0; round < ROUNDS; round++) {
    // A burst of concurrent uses (one to three connections).
    await Promise.all(range(3).map(async (i) => {
      await useEcho(t, pool, server.dest, `round ${round} use ${i}`);
      uses++;
    }));
    // Wait until the server has closed every connection for being idle.
    await waitFor(async () => (await server.stats()).current === 0, { message: `round ${round}: server closed its idle connections` });
    if (round % 2 === 0) {
      // Even rounds: give the pool time to notice the close on its own (idle sockets are
      // watched), so evicted.peerClosed grows before the next use.
      await waitFor(() => pool.stats().idle === 0, { message: () => `round ${round}: pool evicts the closed connections (stats ${JSON.stringify(pool.stats())})` });
      const { peerClosed } = pool.stats().evicted;
      t.true(peerClosed > lastPeerClosed, `round ${round}: evicted.peerClosed grew (${lastPeerClosed} -> ${peerClosed})`);
      lastPeerClosed = peerClosed;
    }
    // Odd rounds: use again at once; the check at checkout must catch the closed connections.
  }

  t.is(uses, ROUNDS * 3, 'every use succeeded');
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.true(stats.evicted.peerClosed >= ROUNDS / 2, `evicted.peerClosed >= ${ROUNDS / 2} (got ${stats.evicted.peerClosed})`);
  t.like(stats, { inUse: 0, waiting: 0 });
});

test('a server that resets idle connections (RST): the next uses never fail', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 4 });
  for (let round = 0; round < 10; round++) {
    await Promise.all(range(3).map((i) => useEcho(t, pool, server.dest, `round ${round} use ${i}`)));
    await server.control({ cmd: 'resetAll' });
  }
  await useEcho(t, pool, server.dest, 'last');
  const stats = pool.stats();
  assertStatsConsistent(t, stats);
  t.true(stats.evicted.peerClosed + stats.evicted.unhealthy >= 10,
    `the reset connections were evicted (peerClosed ${stats.evicted.peerClosed}, unhealthy ${stats.evicted.unhealthy})`);
});

test('an idle connection closed by the server is evicted promptly, without any acquire', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  await useEcho(t, pool, server.dest, 'one');
  t.is(pool.stats().idle, 1);
  await server.control({ cmd: 'closeAll' });
  await waitFor(() => pool.stats().evicted.peerClosed === 1, { message: 'evicted.peerClosed reaches 1' });
  await waitFor(() => pool.stats().open === 0, { message: () => `open back to 0 (stats ${JSON.stringify(pool.stats())})` });
  const expected = { idle: 0, open: 0, closed: 1 };
  const stats = await settledStats(pool, expected);
  assertStatsConsistent(t, stats);
  t.like(stats, expected);
});

test('unsolicited bytes on an idle connection: it is not handed out, the next lease is clean', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const first = await pool.acquire(server.dest);
  const dirtyPort = first.socket.localPort;
  await roundTrip(first.socket, 'first');
  first.release();

  const { sent } = await server.control({ cmd: 'sendUnsolicited', data: 'GARBAGE' });
  t.is(sent, 1);

  const lease = await pool.acquire(server.dest);
  t.false(lease.reused, 'the dirty connection was not handed out');
  t.not(lease.socket.localPort, dirtyPort);
  // A clean connection: the reply is exactly our echo, no stray bytes before it.
  t.is((await roundTrip(lease.socket, 'clean?')).toString(), 'clean?');
  lease.release();

  t.true(pool.stats().evicted.unhealthy >= 1, 'evicted.unhealthy grew');
  await waitFor(async () => {
    const s = await server.stats();
    return s.current === 1 && !s.connections.some((c) => c.remotePort === dirtyPort);
  }, { message: 'the server sees the dirty connection closed' });
  t.is((await server.stats()).accepted, 2);
  assertStatsConsistent(t, pool.stats());
});

test('unsolicited bytes on several idle connections: all are discarded', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const leases = await Promise.all(range(3).map(() => pool.acquire(server.dest)));
  for (const lease of leases) {
    await roundTrip(lease.socket, 'x');
    lease.release();
  }
  t.is((await server.control({ cmd: 'sendUnsolicited', data: 'junk' })).sent, 3);

  const lease = await pool.acquire(server.dest);
  t.false(lease.reused);
  t.is((await roundTrip(lease.socket, 'fresh')).toString(), 'fresh');
  lease.release();
  t.true(pool.stats().evicted.unhealthy >= 3, `evicted.unhealthy >= 3 (got ${pool.stats().evicted.unhealthy})`);
  await waitFor(async () => (await server.stats()).current === 1, { message: 'server: only the fresh connection is left' });
  t.like(pool.stats(), { open: 1, idle: 1 });
});

// Needs the engine's look at the kernel (the reply is not read by Node yet). On the
// Node-dialled path (Windows) the socket shows it only once the event loop turns.
(NODE_DIAL ? test.skip : test)(`a reply a lease left unread never reaches the acquire it is handed to, even with a drain of the watch between${NODE_DIAL ? ' [skipped: Node-dialled path, no engine peek]' : ''}`, async (t) => {
  const server = await startServer(t);
  const other = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  (await pool.acquire(other.dest)).release();
  const lease = await pool.acquire(server.dest);
  // Queued behind the lease: the connection will be handed straight to it on release.
  const waiting = pool.acquire(server.dest);
  // A reuse of another connection drains the engine's watch after the waiter queued, before
  // the reply comes.
  const drainer = await pool.acquire(other.dest);
  t.true(drainer.reused);
  drainer.release();
  // The lease writes a request and never reads its answer, which reaches the kernel while
  // this process is busy: released in the same turn of the event loop, before Node could read
  // the answer into the socket's buffer (only a look at the kernel can see it).
  lease.socket.write('unread reply'); // written at once (libuv tries the write right away)
  const until = Date.now() + 300;
  while (Date.now() < until); // the echo arrives meanwhile
  t.is(lease.socket.readableLength, 0, 'nothing read by Node: the answer is in the kernel only');
  lease.release();
  const next = await waiting;
  t.is((await roundTrip(next.socket, 'mine')).toString(), 'mine', 'the waiter reads only its own reply');
  t.false(next.reused, 'the dirty connection was closed and a fresh one dialed');
  next.release();
});
