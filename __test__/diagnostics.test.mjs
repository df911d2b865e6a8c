// diagnostics_channel: every berth channel, checked against real sockets. Each test filters
// the process-wide channels by its own pool (or listener), so tests may run side by side.
import test from 'ava';
import { createPool, BerthError } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';
import { startServer } from './helpers/server.mjs';
import { startUpstream, connect, collect, startFront } from './helpers/forward.mjs';
import { refusingDest, startMembers } from './helpers/groups.mjs';
import { recordChannels } from './helpers/diagnostics.mjs';

test('an acquire: start, end, asyncStart, asyncEnd with the lease; the dial on connect; the release', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  const rec = recordChannels(t, pool);

  const lease = await pool.acquire(server.dest);
  const contexts = [...new Set(rec.of('berth:pool:acquire:start'))];
  t.is(contexts.length, 1, 'one traced acquire');
  const context = contexts[0];
  t.deepEqual(rec.traceOf(context), ['start', 'end', 'asyncStart', 'asyncEnd']);
  t.is(context.pool, pool);
  t.is(context.destination, server.dest);
  t.is(context.options, undefined);
  t.is(context.result, lease, 'asyncStart/asyncEnd carry the lease');

  const [connect1] = rec.of('berth:pool:connect');
  t.is(connect1.destination, server.dest);
  t.true(Number.isFinite(connect1.durationMs) && connect1.durationMs >= 0, `durationMs ${connect1.durationMs}`);
  t.false('error' in connect1);

  t.is((await roundTrip(lease.socket, 'traced')).toString(), 'traced');
  lease.release();
  const [release] = rec.of('berth:pool:release');
  t.like(release, { pool, destination: server.dest, destroyed: false });
  t.true(Number.isFinite(release.heldMs) && release.heldMs >= 0, `heldMs ${release.heldMs}`);

  // A reuse with options: traced once (not twice through the inner call), no new dial.
  const again = await pool.acquire(server.dest, { priority: 1 });
  t.true(again.reused);
  const second = rec.of('berth:pool:acquire:start').filter((c) => c !== context);
  t.is(second.length, 1);
  t.deepEqual(rec.traceOf(second[0]), ['start', 'end', 'asyncStart', 'asyncEnd']);
  t.deepEqual(second[0].options, { priority: 1 });
  t.is(rec.of('berth:pool:connect').length, 1, 'the reuse dialed nothing');
  const failure = new Error('protocol error');
  again.destroy(failure);
  const destroyed = rec.of('berth:pool:release')[1];
  t.like(destroyed, { destination: server.dest, destroyed: true });
  t.is(destroyed.error, failure);
});

test('an acquire that times out: error with ACQUIRE_TIMEOUT, then asyncStart and asyncEnd', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1, acquireTimeout: 100 });
  const held = await pool.acquire(server.dest);
  const rec = recordChannels(t, pool);
  const error = await t.throwsAsync(pool.acquire(server.dest), { instanceOf: BerthError });
  t.is(error.code, 'ACQUIRE_TIMEOUT');
  const [context] = rec.of('berth:pool:acquire:start');
  t.deepEqual(rec.traceOf(context), ['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
  t.is(context.error, error);
  t.false('result' in context);
  held.release();
});

test('evictions: an idle timeout and a peer\'s close, each with its reason (channel and event)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { idleTimeout: 150 });
  const rec = recordChannels(t, pool);
  const events = [];
  pool.on('evicted', (event) => events.push(event));

  const lease = await pool.acquire(server.dest);
  lease.release();
  const idle = await rec.next('berth:pool:evict');
  t.deepEqual({ ...idle }, { pool, destination: server.dest, reason: 'idle' });
  await waitFor(() => events.length === 1, { message: 'the evicted event' });
  t.deepEqual(events[0], { destination: server.dest, reason: 'idle' });

  const other = createPool(t);
  const rec2 = recordChannels(t, other);
  const otherEvents = [];
  other.on('evicted', (event) => otherEvents.push(event));
  const lease2 = await other.acquire(server.dest);
  lease2.release();
  await server.control({ cmd: 'closeAll' });
  const closed = await rec2.next('berth:pool:evict');
  t.like(closed, { destination: server.dest, reason: 'peerClosed' });
  await waitFor(() => otherEvents.length === 1, { message: 'the evicted event' });
  t.deepEqual(otherEvents, [{ destination: server.dest, reason: 'peerClosed' }]);
});

test('a release the engine closes (maxUses) is evicted with its reason', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxUses: 2 });
  const rec = recordChannels(t, pool);
  const events = [];
  pool.on('evicted', (event) => events.push(event));
  for (let i = 0; i < 2; i++) (await pool.acquire(server.dest)).release();
  t.deepEqual(events, [{ destination: server.dest, reason: 'maxUses' }]);
  t.like(rec.of('berth:pool:evict')[0], { destination: server.dest, reason: 'maxUses' });
});

test('a failed dial: connect with its error, and dialFailed', async (t) => {
  const dest = await refusingDest();
  const pool = createPool(t);
  const rec = recordChannels(t, pool);
  const failed = [];
  pool.on('dialFailed', (event) => failed.push(event));
  const error = await t.throwsAsync(pool.acquire(dest), { instanceOf: BerthError });
  const [message] = rec.of('berth:pool:connect');
  t.is(message.destination, dest);
  t.true(message.error instanceof BerthError);
  t.is(message.error.code, error.code);
  t.true(Number.isFinite(message.durationMs) && message.durationMs >= 0);
  t.is(failed.length, 1);
  t.is(failed[0].destination, dest);
  t.is(failed[0].error.code, error.code);
  const [context] = rec.of('berth:pool:acquire:start');
  t.deepEqual(rec.traceOf(context), ['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
});

/** A client session through `port`: sends `data`, reads the echo, ends; resolves once closed. */
async function session(t, port, data) {
  const client = await connect(t, port);
  const localPort = client.localPort;
  t.is((await roundTrip(client, data)).toString(), data);
  const rest = collect(client);
  client.end();
  await rest;
  return { localPort };
}

test('a listener session: route, client, bytes both ways, end (function and fixed routes)', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const rec = recordChannels(t, pool);
  for (const route of [() => upstream.dest, upstream.dest]) {
    const proxy = await pool.listen(undefined, route);
    t.teardown(() => proxy.close());
    const client = await session(t, proxy.address().port, 'hello there');
    const message = await rec.next('berth:listener:session', (m) => m.listener === proxy);
    t.like(message, { pool, route: upstream.dest, bytesIn: 11, bytesOut: 11, end: 'client-closed' });
    t.deepEqual({ ...message.client }, { address: '127.0.0.1', family: 'IPv4', port: client.localPort });
    t.true(Number.isFinite(message.durationMs) && message.durationMs >= 0);
    t.false('error' in message);
    t.false('member' in message);
  }
});

test('a listener session routed to a group names the member', async (t) => {
  const [a] = await startMembers(t, 1);
  const pool = createPool(t);
  pool.group('g', [a.dest]);
  const rec = recordChannels(t, pool);
  const proxy = await pool.listen(undefined, 'group:g');
  t.teardown(() => proxy.close());
  await session(t, proxy.address().port, 'grouped');
  const message = await rec.next('berth:listener:session', (m) => m.listener === proxy);
  t.like(message, { route: 'group:g', member: a.dest, bytesIn: 7, bytesOut: 7 });
});

test('a forward() session is published with listener: null', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const rec = recordChannels(t, pool);
  const front = await startFront(t, pool, upstream.dest);
  const client = await session(t, front.port, 'forwarded');
  const result = await front.result(0);
  const message = await rec.next('berth:listener:session');
  t.like(message, { listener: null, pool, route: upstream.dest, bytesIn: 9, bytesOut: 9, end: result.end });
  t.is(message.durationMs, result.durationMs);
  t.deepEqual({ ...message.client }, { address: '127.0.0.1', family: 'IPv4', port: client.localPort });
});

test('a group member going down and up again is published on berth:group:member', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const pool = createPool(t);
  const verdict = { [a.dest]: true, [b.dest]: true };
  pool.group('hc', [a.dest, b.dest], { healthCheck: { interval: 100, check: (_socket, { member }) => verdict[member] } });
  const rec = recordChannels(t, pool);
  verdict[a.dest] = false;
  const down = await rec.next('berth:group:member', (m) => m.state === 'down');
  t.deepEqual({ ...down }, { pool, group: 'hc', member: a.dest, state: 'down', reason: 'check' });
  verdict[a.dest] = true;
  const up = await rec.next('berth:group:member', (m) => m.state === 'up');
  t.deepEqual({ ...up }, { pool, group: 'hc', member: a.dest, state: 'up', reason: 'check' });
});
