// pool.listen under hostile clients: idleTimeout (silent clients, a route or peek that never
// comes, bytes flowing one way keep a session alive), maxConnections (stop accepting, resume),
// maxConnectionsPerClient (reset beyond it, the per-client table forgets), option validation.
import test from 'ava';
import net from 'node:net';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor, sleep, range } from './helpers/net.mjs';
import { startUpstream, connect, collect } from './helpers/forward.mjs';

async function startProxy(t, pool, options, route) {
  const proxy = await pool.listen(options, route);
  t.teardown(() => proxy.close());
  return proxy;
}

/** A client socket from `localAddress` (any 127.x address) to the proxy; destroyed in teardown. */
function connectFrom(t, port, localAddress) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => { socket.off('error', reject); resolve(socket); });
    socket.once('error', reject);
  });
}

/**
 * Connects from `localAddress` and reads until the connection closes: { bytes, ended, error }.
 * A connection reset right after the handshake may fail the connect itself: that is a close too.
 */
function attempt(port, localAddress) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const seen = { bytes: 0, ended: false, error: null };
    socket.on('data', (chunk) => { seen.bytes += chunk.length; });
    socket.on('end', () => { seen.ended = true; });
    socket.on('error', (err) => { seen.error = err.code ?? String(err); });
    socket.on('close', () => resolve(seen));
  });
}

/** Counts the bytes a socket receives (flowing), without waiting for its end. */
function received(socket) {
  const seen = { bytes: 0 };
  socket.on('data', (chunk) => { seen.bytes += chunk.length; });
  socket.resume();
  return seen;
}

test('the reproduction: 32 silent clients hold every upstream of the destination; a legitimate client is refused without idleTimeout', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  // A short acquire timeout keeps the control case fast; the pool's limit is the default 32.
  const pool = createPool(t, { acquireTimeout: 500 });
  const proxy = await startProxy(t, pool, { idleTimeout: Infinity }, upstream.dest);
  const port = proxy.address().port;
  await Promise.all(range(32).map(() => connect(t, port)));
  await waitFor(async () => (await upstream.stats()).current === 32, { message: '32 upstream connections' });
  const legit = await connect(t, port);
  const seen = collect(legit);
  legit.write('hello?');
  const result = await seen;
  t.is(result.bytes, 0, 'no reply: every upstream place is held by a silent client');
  // The engine counts a session's end once the session is over, which is after it closed the
  // client: the count may land just after the client saw the close.
  await waitFor(() => proxy.stats().connectFailures === 1, { message: 'the failed connect counted' });
  t.is(proxy.stats().connectFailures, 1);
  t.is(proxy.stats().idleTimeouts, 0);
});

test('with idleTimeout, the 32 silent clients are closed and a legitimate client is served', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t); // acquireTimeout 30 s, maxPerDestination 32
  const proxy = await startProxy(t, pool, { idleTimeout: 300 }, upstream.dest);
  const port = proxy.address().port;
  const silent = await Promise.all(range(32).map(() => connect(t, port)));
  const ends = silent.map((s) => collect(s));
  await waitFor(() => proxy.stats().sessionsTotal === 32, { message: '32 sessions routed' });
  const legit = await connect(t, port);
  t.is((await roundTrip(legit, 'served', { timeout: 25_000 })).toString(), 'served');
  for (const [i, end] of (await Promise.all(ends)).entries()) {
    t.is(end.bytes, 0, `silent #${i}: no data`);
    t.true(end.ended || end.error !== null, `silent #${i}: closed`);
  }
  await waitFor(() => proxy.stats().idleTimeouts >= 32, { message: '32 idle timeouts counted' });
  t.is(proxy.stats().connectFailures, 0);
});

test('idleTimeout closes both sides of a session that went quiet, and counts it', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, { idleTimeout: 200 }, () => upstream.dest);
  const client = await connect(t, proxy.address().port);
  t.is((await roundTrip(client, 'then quiet')).toString(), 'then quiet');
  const end = await collect(client);
  t.true(end.ended || end.error !== null, 'the client was closed');
  await waitFor(async () => (await upstream.stats()).closed === 1, { message: 'the upstream connection closed' });
  await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'no session active' });
  t.like(proxy.stats(), { sessionsTotal: 1, idleTimeouts: 1, bytesIn: 10, bytesOut: 10, clients: 0 });
  t.is(pool.stats().open, 0, 'the upstream was not kept');
});

test('bytes flowing in one direction keep a session alive past several idleTimeouts (download to a silent client, upload to a silent upstream)', async (t) => {
  const IDLE = 1000;
  const TICKS = 40; // 40 x 100 ms: four idle timeouts' worth
  const upstream = await startUpstream(t, { mode: 'silent' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, { idleTimeout: IDLE }, upstream.dest);
  const port = proxy.address().port;
  const down = await connect(t, port); // never writes
  const up = await connect(t, port); // never gets anything
  const downSeen = received(down);
  await waitFor(async () => (await upstream.stats()).current === 2, { message: 'both upstream connections' });
  for (let i = 0; i < TICKS; i++) {
    await upstream.control({ cmd: 'sendAll', data: 'd' }); // to both clients: `up` ignores it
    up.write('u');
    await sleep(100);
  }
  t.is(proxy.stats().idleTimeouts, 0, 'neither session timed out');
  t.is(proxy.stats().sessionsActive, 2);
  t.true(!down.destroyed && !up.destroyed);
  await waitFor(() => downSeen.bytes === TICKS, { message: 'the download arrived' });
  const s = await upstream.stats();
  t.is(s.connections.reduce((n, c) => n + c.bytesIn, 0), TICKS, 'the upload arrived');
  // Once nothing flows, both go.
  await Promise.all([collect(down), collect(up)]);
  await waitFor(() => proxy.stats().idleTimeouts === 2, { message: 'both timed out once quiet' });
});

test('a half-closed session stays while the other direction flows, and times out once that stops', async (t) => {
  const IDLE = 1000;
  const TICKS = 40; // 40 x 100 ms: four idle timeouts' worth
  // send-close: the upstream sends 10 bytes and half-closes at once, then only reads.
  const upstream = await startUpstream(t, { mode: 'send-close', bytes: 10 });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, { idleTimeout: IDLE }, upstream.dest);
  const client = await connect(t, proxy.address().port, { allowHalfOpen: true });
  let gotEnd = false;
  client.on('end', () => { gotEnd = true; });
  const seen = received(client);
  await waitFor(() => gotEnd && seen.bytes === 10, { message: 'the upstream half-closed' });
  for (let i = 0; i < TICKS; i++) {
    client.write('u');
    await sleep(100);
  }
  t.is(proxy.stats().idleTimeouts, 0, 'still alive while the client sends');
  t.false(client.destroyed);
  await waitFor(async () => (await upstream.stats()).connections[0].bytesIn === TICKS, { message: 'the upload arrived' });
  // The client stops (without closing): the session times out, both sides are closed.
  await waitFor(() => proxy.stats().idleTimeouts === 1, { message: 'timed out once quiet' });
  await waitFor(async () => (await upstream.stats()).closed === 1, { message: 'the upstream connection closed' });
  // The client had the FIN already: its side is gone too, which its writes find out (the
  // first one draws a reset, a later one fails on it).
  let error = null;
  client.on('error', (err) => { error = err.code; });
  await waitFor(() => {
    if (!client.destroyed) client.write('too late');
    return client.destroyed;
  }, { interval: 50, message: 'the client\'s writes refused' });
  t.truthy(error, `the client saw ${error}`);
});

test('a route that never answers does not hold the client: closed at idleTimeout, counted as such', async (t) => {
  const pool = createPool(t);
  let asked = 0;
  const proxy = await startProxy(t, pool, { idleTimeout: 200 }, () => { asked++; return new Promise(() => {}); });
  const client = await connect(t, proxy.address().port);
  client.write('anyone?');
  const end = await collect(client);
  t.is(end.bytes, 0);
  t.true(end.ended || end.error !== null);
  await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'no session active' });
  t.like(proxy.stats(), { idleTimeouts: 1, routeFailures: 0, sessionsTotal: 0 });
  t.is(asked, 1);
});

test('a client that withholds its peek bytes (peekTimeout Infinity) is closed at idleTimeout', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  let asked = 0;
  const proxy = await startProxy(t, pool, { peek: 16, peekTimeout: Infinity, idleTimeout: 200 }, () => { asked++; return upstream.dest; });
  const client = await connect(t, proxy.address().port);
  const end = await collect(client);
  t.true(end.ended || end.error !== null);
  await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'no session active' });
  t.like(proxy.stats(), { idleTimeouts: 1, routeFailures: 0 });
  t.is(asked, 0, 'never routed');
});

test('maxConnections: at the cap the listener stops accepting; the waiting client is served once a session ends', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, { maxConnections: 2 }, () => upstream.dest);
  const port = proxy.address().port;
  const first = await connect(t, port);
  const second = await connect(t, port);
  t.is((await roundTrip(first, 'one')).toString(), 'one');
  t.is((await roundTrip(second, 'two')).toString(), 'two');
  // The accept loop saw two sessions in flight and paused before a third accept.
  await waitFor(() => proxy.stats().acceptPauses === 1, { message: 'accepting paused' });
  const third = await connect(t, port); // completed by the kernel: it waits in the backlog
  const thirdSeen = received(third);
  third.write('three');
  await sleep(300); // (a negative check: nothing may happen; no threshold on how fast)
  t.is(thirdSeen.bytes, 0, 'the third client is not served while two sessions are in flight');
  t.like(proxy.stats(), { sessionsActive: 2, sessionsTotal: 2 });
  t.is((await upstream.stats()).accepted, 2);
  // One session ends: the listener resumes and the third is served.
  const rest = collect(first);
  first.end();
  await rest;
  await waitFor(() => thirdSeen.bytes === 5, { message: 'the third client got its echo' });
  t.like(proxy.stats(), { sessionsTotal: 3, acceptPauses: 2, rejectedPerClient: 0 });
  t.false(third.destroyed, 'not accepted and closed: served');
});

test('maxConnectionsPerClient: one address beyond it is reset at once, others are served, the table forgets', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, { maxConnectionsPerClient: 2 }, () => upstream.dest);
  const port = proxy.address().port;
  const a = [await connectFrom(t, port, '127.0.0.1'), await connectFrom(t, port, '127.0.0.1')];
  for (const [i, s] of a.entries()) t.is((await roundTrip(s, `a${i}`)).toString(), `a${i}`);
  for (let i = 0; i < 5; i++) {
    const end = await attempt(port, '127.0.0.1');
    t.is(end.bytes, 0, `extra #${i}: no data`);
    t.true(end.ended || end.error !== null, `extra #${i}: closed`);
  }
  t.is(proxy.stats().rejectedPerClient, 5);
  const other = await connectFrom(t, port, '127.0.0.2');
  t.is((await roundTrip(other, 'other address')).toString(), 'other address');
  t.like(proxy.stats(), { clients: 2, sessionsActive: 3, sessionsTotal: 3 });
  for (const s of [...a, other]) {
    const rest = collect(s);
    s.end();
    await rest;
  }
  await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'no session active' });
  t.is(proxy.stats().clients, 0, 'addresses without sessions are forgotten');
  const again = await connectFrom(t, port, '127.0.0.1');
  t.is((await roundTrip(again, 'again')).toString(), 'again', 'the address is served again');
  t.is(proxy.stats().rejectedPerClient, 5);
});

test('many addresses, few sessions each: the per-client table holds only addresses with sessions', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, {}, upstream.dest);
  const port = proxy.address().port;
  for (let round = 0; round < 3; round++) {
    const clients = await Promise.all(range(20).map((i) => connectFrom(t, port, `127.0.${round}.${i + 1}`)));
    await Promise.all(clients.map(async (s, i) => t.is((await roundTrip(s, `r${round}c${i}`)).toString(), `r${round}c${i}`)));
    t.is(proxy.stats().clients, 20);
    await Promise.all(clients.map((s) => { const rest = collect(s); s.end(); return rest; }));
    await waitFor(() => proxy.stats().clients === 0, { message: 'table empty' });
  }
  t.like(proxy.stats(), { sessionsTotal: 60, rejectedPerClient: 0 });
});

test('stats() has the new counters at zero on a fresh listener', async (t) => {
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, {}, () => null);
  t.like(proxy.stats(), { idleTimeouts: 0, rejectedPerClient: 0, acceptPauses: 0, clients: 0 });
});

test('invalid limits are TypeErrors naming the key', async (t) => {
  const pool = createPool(t);
  const bad = [
    ['idleTimeout', 0],
    ['idleTimeout', -1],
    ['idleTimeout', Number.NaN],
    ['idleTimeout', '1000'],
    ['maxConnections', 0],
    ['maxConnections', 1.5],
    ['maxConnections', Infinity],
    ['maxConnections', 2 ** 31],
    ['maxConnectionsPerClient', 0],
    ['maxConnectionsPerClient', -3],
    ['maxConnectionsPerClient', '2'],
  ];
  for (const [key, value] of bad) {
    const error = await t.throwsAsync(pool.listen({ [key]: value }, '127.0.0.1:1'), { instanceOf: TypeError }, `${key}: ${String(value)}`);
    t.true(error.message.includes(`"${key}"`), error.message);
  }
});

test('close() while accepting is paused resolves, and ends the session and the waiting client', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await pool.listen({ maxConnections: 1 }, upstream.dest);
  const port = proxy.address().port;
  const first = await connect(t, port);
  t.is((await roundTrip(first, 'one')).toString(), 'one');
  await waitFor(() => proxy.stats().acceptPauses === 1, { message: 'accepting paused' });
  const waiting = await connect(t, port);
  const ends = [collect(first), collect(waiting)];
  await proxy.close();
  for (const end of await Promise.all(ends)) t.true(end.ended || end.error !== null, 'closed');
  t.like(proxy.stats(), { sessionsActive: 0, sessionsTotal: 1 });
});
