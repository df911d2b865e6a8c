// The Node-dialled path (issue 19; always on Windows): Node connects, the engine keeps every
// decision. Selected here by the internal switch, set before any Pool is made (ava runs each
// file in a process of its own). Real sockets against servers in child processes. Tests that
// count net.connect calls are serial (ava runs them before the concurrent ones).
process.env.BERTH_INTERNAL_NODE_DIAL = '1';

import test from 'ava';
import net from 'node:net';
import http from 'node:http';
import tls from 'node:tls';
import { Pool, BerthError } from 'berth-pool';
import { createPool, rejectsWithCode, assertStatsConsistent, settledStats } from './helpers/pool.mjs';
import { roundTrip, waitFor, range, refusedPort, fdCount, sleep } from './helpers/net.mjs';
import { startServer } from './helpers/server.mjs';
import { startBlackhole } from './helpers/blackhole.mjs';
import { startTlsEcho } from './helpers/tls-echo.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';
import { startHttpServer, request, targetOf } from './fixtures/http-upstream.mjs';
import { startUpstream, startFront, connect, collect } from './helpers/forward.mjs';

// Every socket net.connect makes in this process, and a count of the calls: the facade calls
// it through the module object, so a wrapper installed here sees its dials.
const nodeSockets = new WeakSet();
let connectCalls = 0;
const originalConnect = net.connect;
// Ports whose connections get slowWrites() (see the test that uses it).
const slowPorts = new Set();
net.connect = function (...args) {
  connectCalls++;
  const socket = originalConnect.apply(this, args);
  nodeSockets.add(socket);
  if (slowPorts.has(Number(args[0]?.port))) slowWrites(socket);
  return socket;
};

/** Holds back each write of `socket` 30 ms before it reaches the system, as a congested network holds a socket's queue. */
function slowWrites(socket) {
  for (const name of ['_write', '_writev']) {
    const original = socket[name];
    socket[name] = function (...args) { setTimeout(() => original.apply(this, args), 30); };
  }
}

/** net.connect calls made while `fn` runs (serial tests only: concurrent ones would add theirs). */
async function countingConnects(fn) {
  const before = connectCalls;
  await fn();
  return connectCalls - before;
}

/** Node connected this socket itself (not a socket over an engine-dialled descriptor). */
function viaNode(socket) {
  return nodeSockets.has(socket);
}

test.serial('the switch moves the connect into Node: each dial is one net.connect, the engine counts it as its own', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  let leases;
  const calls = await countingConnects(async () => {
    leases = await Promise.all(range(3).map(() => pool.acquire(server.dest)));
  });
  t.is(calls, 3, 'three dials, three net.connect calls');
  for (const [i, lease] of leases.entries()) {
    t.true(lease.socket instanceof net.Socket);
    t.false(lease.reused);
    t.is((await roundTrip(lease.socket, `hello ${i}`)).toString(), `hello ${i}`);
    lease.release();
  }
  // Reuse makes no connect.
  const again = await countingConnects(async () => (await pool.acquire(server.dest)).release());
  t.is(again, 0);
  const s = pool.stats();
  t.like(s, { created: 3, reused: 1, idle: 3, inUse: 0, dialFailures: 0 });
  t.true(s.connectMs.p50 > 0, 'the connect time is the engine\'s figure');
  assertStatsConsistent(t, s);
  t.is((await server.stats()).accepted, 3);
});

test('limits, waiters and priority: maxPerDestination holds, the higher priority waiter is served first, timeouts reject', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 2 });
  const held = await Promise.all([pool.acquire(server.dest), pool.acquire(server.dest)]);
  t.true(held.every((l) => viaNode(l.socket)));
  const order = [];
  const low = pool.acquire(server.dest, { priority: 0 }).then((l) => { order.push('low'); return l; });
  const high = pool.acquire(server.dest, { priority: 5 }).then((l) => { order.push('high'); return l; });
  const timedOut = pool.acquire(server.dest, { timeout: 50 });
  await rejectsWithCode(t, timedOut, 'ACQUIRE_TIMEOUT');
  t.is(pool.stats().waiting, 2);
  held[0].release();
  const first = await high;
  held[1].release();
  const second = await low;
  t.deepEqual(order, ['high', 'low']);
  t.true(first.reused && second.reused);
  first.release();
  second.release();
  t.is((await server.stats()).accepted, 2, 'never more than maxPerDestination connections');
  t.like(pool.stats(), { created: 2, acquireTimeouts: 1 });
});

test.serial('dial coalescing: a burst of acquires dials at most maxConcurrentDials at a time and each connection is used', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxConcurrentDials: 2, maxPerDestination: 4 });
  let peak = 0;
  const seen = [];
  const calls = await countingConnects(async () => {
    const burst = range(8).map(() => pool.acquire(server.dest).then((lease) => {
      peak = Math.max(peak, pool.stats().dialing);
      seen.push(lease);
      return lease;
    }));
    // While the first leases are held, the rest wait: no dial beyond maxPerDestination.
    await waitFor(() => seen.length === 4);
    t.is(pool.stats().waiting, 4);
    for (const lease of seen.slice()) lease.release();
    const rest = await Promise.all(burst);
    for (const lease of rest.slice(4)) lease.release();
  });
  t.true(peak <= 2, `dialing peaked at ${peak}`);
  t.true(calls <= 4, `${calls} connects for 8 acquires`);
  t.is((await server.stats()).accepted, calls);
  t.like(pool.stats(), { inUse: 0, dialing: 0, waiting: 0 });
});

test('a refused connect is CONNECT_REFUSED, counted as a native dial failure', async (t) => {
  const port = await refusedPort();
  const pool = createPool(t);
  const dest = `127.0.0.1:${port}`;
  const err = await rejectsWithCode(t, pool.acquire(dest), 'CONNECT_REFUSED', dest);
  // The engine's message around Node's own error (the native dial names the OS error).
  t.regex(err.message, new RegExp(`^connect to 127\\.0\\.0\\.1:${port} failed: connect ECONNREFUSED`));
  const s = pool.stats();
  t.like(s, { dialFailures: 1, open: 0, dialing: 0 });
  t.is(s.created, 0);
  t.regex(pool.metrics(), /berth_dial_failures_total\{[^}]*code="CONNECT_REFUSED"[^}]*\} 1/);
});

test.serial('a connect that hangs is CONNECT_TIMEOUT after connectTimeout, with the engine\'s message', async (t) => {
  const hole = await startBlackhole(t);
  const pool = createPool(t, { connectTimeout: 200 });
  let err;
  const calls = await countingConnects(async () => {
    err = await rejectsWithCode(t, pool.acquire(hole.dest), 'CONNECT_TIMEOUT', hole.dest);
  });
  t.is(calls, 1, 'Node made the connect that timed out');
  t.regex(err.message, /timed out after 200 ms/);
  t.like(pool.stats(), { dialFailures: 1, open: 0 });
});

test.serial('the address policy is applied by the engine before Node connects: DESTINATION_DENIED, nothing connected', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { addressPolicy: { deny: ['loopback'] } });
  const calls = await countingConnects(async () => {
    await rejectsWithCode(t, pool.acquire(`localhost:${server.port}`), 'DESTINATION_DENIED');
    await rejectsWithCode(t, pool.acquire(server.dest), 'DESTINATION_DENIED');
  });
  t.is(calls, 0, 'Node was never asked to connect');
  t.is((await server.stats()).accepted, 0);
  // An address the policy allows: Node connects to exactly what the engine resolved.
  const allowed = createPool(t, { addressPolicy: { allow: ['127.0.0.0/8'] } });
  let lease;
  const allowedCalls = await countingConnects(async () => {
    lease = await allowed.acquire(`localhost:${server.port}`);
  });
  t.is(allowedCalls, 1);
  t.is(lease.socket.remoteAddress, '127.0.0.1');
  lease.release();
});

test('a peer that closes an idle connection: evicted as peerClosed without any acquire; the next acquire gets a fresh one', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest);
  t.true(viaNode(lease.socket));
  t.is((await roundTrip(lease.socket, 'one')).toString(), 'one');
  lease.release();
  t.is(pool.stats().idle, 1);
  await server.control({ cmd: 'closeAll' });
  t.like(await settledStats(pool, { idle: 0, open: 0 }), { idle: 0, open: 0 });
  t.is(pool.stats().evicted.peerClosed, 1);
  const next = await pool.acquire(server.dest);
  t.false(next.reused);
  t.is((await roundTrip(next.socket, 'two')).toString(), 'two');
  next.release();
});

test('unsolicited bytes on an idle connection evict it as unhealthy', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const first = await pool.acquire(server.dest);
  t.true(viaNode(first.socket));
  // A round trip: the server has the connection before it is told to write to it.
  t.is((await roundTrip(first.socket, 'before')).toString(), 'before');
  first.release();
  await sleep(20); // the idle reader starts once the loop turns
  await server.control({ cmd: 'sendUnsolicited', data: 'surprise' });
  t.like(await settledStats(pool, { idle: 0, open: 0 }), { idle: 0, open: 0 });
  t.is(pool.stats().evicted.unhealthy, 1);
  const next = await pool.acquire(server.dest);
  t.is((await roundTrip(next.socket, 'clean')).toString(), 'clean', 'no stray byte');
  next.release();
});

test('never handed out dead: an idle socket that is destroyed, ended or unwritable is evicted and the acquire goes on', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const kinds = ['destroy', 'end', 'destroy-with-error'];
  for (const kind of kinds) {
    const lease = await pool.acquire(server.dest);
    const socket = lease.socket;
    t.true(viaNode(socket));
    lease.release();
    // Broken behind the pool's back in the same turn as the next acquire: only a look at the
    // socket at hand-out can see it.
    if (kind === 'destroy') socket.destroy();
    else if (kind === 'end') net.Socket.prototype.end.call(socket);
    else socket.destroy(new Error('boom'));
    const next = await pool.acquire(server.dest);
    t.not(next.socket, socket, `${kind}: another socket`);
    t.false(next.reused, `${kind}: a fresh connection`);
    t.is((await roundTrip(next.socket, kind)).toString(), kind);
    next.release();
  }
  t.like(await settledStats(pool, { open: 1, idle: 1 }), { open: 1, idle: 1 });
  assertStatsConsistent(t, pool.stats());
});

test('a lease whose peer closed under it is not handed straight to a waiter on release', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const lease = await pool.acquire(server.dest);
  t.true(viaNode(lease.socket));
  t.is((await roundTrip(lease.socket, 'held')).toString(), 'held');
  const next = pool.acquire(server.dest);
  // closeAll answers once the server's side is closed. (Not `current === 0`: if Node reads
  // the FIN on the lease's socket, the pool frees its place and dials a fresh connection for
  // the waiter at once, and the server's count is 1 again.)
  await server.control({ cmd: 'closeAll' });
  t.true((await server.stats()).closed >= 1, 'the server closed it');
  await sleep(50); // Node reads the FIN (nobody reads the lease's socket: no 'end' is emitted)
  lease.release();
  const got = await next;
  t.false(got.reused, 'a fresh connection, not the closed one');
  t.is((await roundTrip(got.socket, 'fresh')).toString(), 'fresh');
  got.release();
});

test.serial('TLS runs over the Node-dialled socket (verified, kept across leases)', async (t) => {
  const server = await startTlsEcho(t);
  const certs = makeCerts();
  const pool = createPool(t, { tls: { ca: certs.ca } });
  const calls = await countingConnects(async () => {
    const first = await pool.acquire(server.dest);
    t.true(first.socket instanceof tls.TLSSocket);
    t.true(first.socket.authorized);
    t.is((await roundTrip(first.socket, 'secure')).toString(), 'secure');
    first.release();
  });
  t.is(calls, 1);
  const again = await pool.acquire(server.dest);
  t.true(again.reused);
  t.is((await roundTrip(again.socket, 'again')).toString(), 'again');
  again.release();
  t.like(pool.stats().connect, { handshakes: 1, tlsFull: 1 });
});

test.serial('the HTTP agent works over Node-dialled connections (reuse, keep-alive)', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  let first;
  const calls = await countingConnects(async () => {
    first = await request(agent, targetOf(server, '/a'));
  });
  t.is(calls, 1, 'the agent\'s connection was dialled by Node');
  const second = await request(agent, targetOf(server, '/b'));
  t.like(first.json, { url: '/a', requestOnConnection: 1 });
  t.like(second.json, { url: '/b', requestOnConnection: 2, connection: first.json.connection });
  t.true(second.reusedSocket);
  t.like(pool.stats(), { created: 1, reused: 1 });
  const refused = await t.throwsAsync(request(agent, { host: '127.0.0.1', port: await refusedPort(), path: '/' }));
  t.is(refused.code, 'ECONNREFUSED');
  t.is(refused.cause?.code, 'CONNECT_REFUSED');
});

test.serial('forward() relays in JS: the same result object, head and reply counted, half-close passed on', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest, { options: { head: Buffer.from('HEAD'), reply: 'OK\n' } });
  let got;
  const calls = await countingConnects(async () => {
    const client = await connect(t, front.port, { allowHalfOpen: true });
    const collected = collect(client, { keep: true });
    client.end('payload');
    got = await collected;
  });
  t.is(calls, 2, 'the test\'s client, and Node dialling the upstream');
  t.is(got.data.toString(), 'OK\nHEADpayload', 'the reply, then the echo of head and payload after the client\'s half-close');
  const result = await front.result(0);
  t.like(result, { bytesIn: 11, bytesOut: 14, end: 'client-closed', upstreamReused: false, upstreamReturned: false });
  t.is(result.error, undefined);
  t.true(result.durationMs >= 0);
  t.deepEqual(Object.keys(result).sort(), ['bytesIn', 'bytesOut', 'durationMs', 'end', 'upstreamReturned', 'upstreamReused']);
  // Counted by the engine as its own sessions are.
  t.regex(pool.metrics(), /berth_forward_sessions_total\{[^}]*\} 1\n/);
  t.regex(pool.metrics(), /berth_forward_bytes_total\{[^}]*direction="in"[^}]*\} 11\n/);
  t.like(await settledStats(pool, { open: 0, inUse: 0 }), { open: 0, inUse: 0 });
});

test('forward() relays in JS: what the client sent last reaches the upstream before it is closed, even when its writes are slow', async (t) => {
  // The upstream sends a little and ends its side first; the client then sends 4 KiB and
  // ends. The upstream socket's writes are held back 30 ms each (slowWrites: what a congested
  // network does to a socket's queue): the relay must not close it while they are queued.
  const upstream = await startUpstream(t, { mode: 'send-close', bytes: 1000 });
  slowPorts.add(upstream.port);
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest);
  const client = await connect(t, front.port, { allowHalfOpen: true });
  const collected = collect(client);
  await new Promise((resolve) => client.once('end', resolve)); // the upstream's FIN, passed on
  const payload = Buffer.alloc(4096, 7);
  client.end(payload);
  t.is((await collected).bytes, 1000);
  const result = await front.result(0);
  t.like(result, { end: 'upstream-closed', bytesIn: 4096, bytesOut: 1000 });
  t.is(result.error, undefined);
  const up = await waitFor(async () => {
    const c = (await upstream.stats()).connections[0];
    return c?.closed ? c : null;
  }, { message: 'the upstream connection closed' });
  t.is(up.bytesIn, 4096, 'every byte the client sent reached the upstream');
  t.true(up.gotEnd, 'and then the client\'s end of stream');
  t.is(up.error, null);
});

test.serial('forward() relays in JS: a refused upstream is connect-failed with CONNECT_REFUSED and the failReply', async (t) => {
  const pool = createPool(t);
  const dest = `127.0.0.1:${await refusedPort()}`;
  const front = await startFront(t, pool, dest, { options: { failReply: (e) => `ERR ${e.code}\n` } });
  let result;
  let collected;
  const calls = await countingConnects(async () => {
    const client = await connect(t, front.port);
    collected = collect(client, { keep: true });
    result = await front.result(0);
  });
  t.is(calls, 2, 'the test\'s client, and Node dialling the upstream');
  t.is(result.end, 'connect-failed');
  t.true(result.error instanceof BerthError);
  t.is(result.error.code, 'CONNECT_REFUSED');
  t.is((await collected).data.toString(), 'ERR CONNECT_REFUSED\n');
  t.is(result.bytesOut, 'ERR CONNECT_REFUSED\n'.length, 'the fail reply counts in bytesOut, as natively');
});

test('forward() relays in JS: reuseUpstream returns a clean upstream to the pool, idleTimeout ends a silent session', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  let inbound;
  const front = await startFront(t, pool, upstream.dest, { options: { reuseUpstream: true }, beforeForward: (s) => { inbound = s; } });
  const client = await connect(t, front.port);
  t.is((await roundTrip(client, 'ping')).toString(), 'ping');
  t.false(inbound.destroyed, 'JS holds the inbound socket while it relays (the engine would have taken it over)');
  client.end();
  const result = await front.result(0);
  t.like(result, { end: 'client-closed', upstreamReturned: true, bytesIn: 4, bytesOut: 4 });
  t.is(pool.stats().idle, 1);

  const idle = await startFront(t, pool, upstream.dest, { options: { idleTimeout: 100 } });
  await connect(t, idle.port);
  const ended = await idle.result(0);
  t.like(ended, { end: 'idle-timeout', upstreamReused: true });
});

test('stats and metrics: connect time, created, reused and closed as on the native path', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { name: 'node-dial-metrics' });
  for (let i = 0; i < 3; i++) {
    const lease = await pool.acquire(server.dest);
    t.true(viaNode(lease.socket));
    await roundTrip(lease.socket, `m${i}`);
    lease.release();
  }
  const s = pool.stats();
  t.like(s, { created: 1, reused: 2, idle: 1, open: 1 });
  t.true(s.connectMs.p99 > 0);
  const text = pool.metrics();
  t.regex(text, /berth_connections_created_total\{[^}]*pool="node-dial-metrics"[^}]*\} 1/);
  const snap = pool.snapshot();
  t.is(snap.destinations[0].idle, 1);
});

// Serial: the descriptor count is the process's, which concurrent tests would change.
test.serial('no descriptor leaks: dials, failures, evictions and close leave nothing open', async (t) => {
  const server = await startServer(t);
  const refused = `127.0.0.1:${await refusedPort()}`;
  const before = fdCount();
  for (let round = 0; round < 3; round++) {
    const pool = new Pool({ maxPerDestination: 4 });
    const leases = await Promise.all(range(4).map(() => pool.acquire(server.dest)));
    t.true(leases.every((l) => viaNode(l.socket)));
    for (const lease of leases) lease.release();
    // The server holds all four before it is told to close them.
    await waitFor(async () => (await server.stats()).current === 4, { message: 'four connections at the server' });
    await t.throwsAsync(pool.acquire(refused), { code: 'CONNECT_REFUSED' });
    await server.control({ cmd: 'closeAll' });
    t.like(await settledStats(pool, { open: 0 }), { open: 0 });
    (await pool.acquire(server.dest)).destroy();
    // A dial in flight when the pool closes (a destination with no idle connection).
    const inFlight = pool.acquire(`localhost:${server.port}`);
    await pool.close();
    await t.throwsAsync(inFlight, { code: 'POOL_CLOSED' });
  }
  await waitFor(() => fdCount() <= before, { message: `descriptors back to ${before}` });
  t.pass();
});
