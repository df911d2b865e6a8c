// pool.listen: routing (sync, async, refusals), what the route sees, peek, stats, address,
// option validation and bind failures.
import test from 'ava';
import net from 'node:net';
import { createPool, BerthError } from './helpers/pool.mjs';
import { roundTrip, waitFor, freePort, refusedPort } from './helpers/net.mjs';
import { startUpstream, connect, collect } from './helpers/forward.mjs';

async function startProxy(t, pool, options, route) {
  const proxy = await pool.listen(options, route);
  t.teardown(() => proxy.close());
  return proxy;
}

function idle(proxy) {
  return waitFor(() => proxy.stats().sessionsActive === 0, { message: 'no session active' });
}

test('a sync route: bytes go to its destination; the route sees the client\'s addresses', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const seen = [];
  const proxy = await startProxy(t, pool, undefined, (info) => { seen.push(info); return upstream.dest; });
  const address = proxy.address();
  t.is(address.address, '127.0.0.1');
  t.is(address.family, 'IPv4');
  t.true(Number.isInteger(address.port) && address.port > 0);

  const client = await connect(t, address.port);
  t.is((await roundTrip(client, 'through the listener')).toString(), 'through the listener');
  t.is(seen.length, 1);
  t.is(seen[0].remoteAddress, client.localAddress);
  t.is(seen[0].remotePort, client.localPort);
  t.is(seen[0].remoteFamily, 'IPv4');
  t.is(seen[0].localPort, address.port);
  t.true(Buffer.isBuffer(seen[0].head));
  t.is(seen[0].head.length, 0, 'no peek: an empty head');
  const rest = collect(client);
  client.end();
  t.true((await rest).ended);
  await idle(proxy);
  t.like(proxy.stats(), { sessionsTotal: 1, sessionsActive: 0, bytesIn: 20, bytesOut: 20, routeFailures: 0, connectFailures: 0 });
});

test('an async route (Promise) is waited for', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, {}, async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return upstream.dest;
  });
  const client = await connect(t, proxy.address().port);
  t.is((await roundTrip(client, 'async')).toString(), 'async');
});

test('refusals (throw, reject, null, undefined, invalid destination, non-string) close the connection with no data and count', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const routes = [
    () => { throw new Error('no'); },
    () => Promise.reject(new Error('no')),
    () => null,
    () => undefined,
    async () => null,
    () => 'not a destination',
    () => 'unix:',
    () => 42,
  ];
  let index = 0;
  const proxy = await startProxy(t, pool, {}, (info) => routes[index](info));
  for (; index < routes.length; index++) {
    const client = await connect(t, proxy.address().port);
    const seen = await collect(client);
    t.is(seen.bytes, 0, `route #${index}: no data`);
    t.true(seen.ended || seen.error !== null, `route #${index}: the client saw the connection closed`);
    t.is(proxy.stats().routeFailures, index + 1, `route #${index} counted`);
  }
  await idle(proxy);
  t.like(proxy.stats(), { sessionsTotal: 0, routeFailures: routes.length, connectFailures: 0 });
  t.is((await upstream.stats()).accepted, 0, 'nothing reached the upstream');
});

test('peek: the route sees the first bytes and the upstream still receives all of them', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const heads = [];
  const proxy = await startProxy(t, pool, { peek: 16 }, ({ head }) => { heads.push(Buffer.from(head)); return upstream.dest; });
  const request = 'GET /peeked HTTP/1.1\r\nHost: example\r\n\r\n';
  const client = await connect(t, proxy.address().port);
  t.is((await roundTrip(client, request)).toString(), request, 'all bytes, the peeked ones included, reached the upstream');
  t.is(heads.length, 1);
  t.true(heads[0].length > 0 && heads[0].length <= 16, `head length ${heads[0].length}`);
  t.true(request.startsWith(heads[0].toString()), 'the head is a prefix of what the client sent');
});

test('peek: a client that sends nothing is routed with an empty head after peekTimeout', async (t) => {
  const upstream = await startUpstream(t, { mode: 'send-close', bytes: 1000 }); // speaks first
  const pool = createPool(t);
  const heads = [];
  const proxy = await startProxy(t, pool, { peek: 32, peekTimeout: 50 }, ({ head }) => { heads.push(head.length); return upstream.dest; });
  const client = await connect(t, proxy.address().port);
  const seen = await collect(client);
  t.deepEqual(heads, [0]);
  t.is(seen.bytes, 1000, 'the upstream spoke first and the client got it');
  t.true(seen.ended);
});

test('routing on peeked content sends each connection to its upstream', async (t) => {
  const a = await startUpstream(t, { mode: 'echo' });
  const b = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, { peek: 8 }, ({ head }) => (head.toString().startsWith('A') ? a.dest : b.dest));
  const port = proxy.address().port;
  for (const [payload, times] of [['A: to the first', 2], ['B: to the second', 3]]) {
    for (let i = 0; i < times; i++) {
      const client = await connect(t, port);
      t.is((await roundTrip(client, payload)).toString(), payload);
      client.destroy();
    }
  }
  await waitFor(async () => (await a.stats()).closed === 2 && (await b.stats()).closed === 3, { message: 'every upstream connection closed' });
  const sa = await a.stats();
  const sb = await b.stats();
  t.is(sa.accepted, 2);
  t.is(sb.accepted, 3);
  t.true(sa.connections.every((c) => c.bytesIn === 'A: to the first'.length));
  t.true(sb.connections.every((c) => c.bytesIn === 'B: to the second'.length));
});

test('stats: sessions, bytes and connect failures', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const dead = `127.0.0.1:${await refusedPort()}`;
  const pool = createPool(t);
  let n = 0;
  const proxy = await startProxy(t, pool, {}, () => (n++ === 2 ? dead : upstream.dest));
  const port = proxy.address().port;
  const held = [];
  for (let i = 0; i < 2; i++) {
    const client = await connect(t, port);
    t.is((await roundTrip(client, `held ${i}`)).toString(), `held ${i}`);
    held.push(client);
  }
  t.like(proxy.stats(), { sessionsTotal: 2, sessionsActive: 2 });
  const refused = await connect(t, port);
  const seen = await collect(refused);
  t.is(seen.bytes, 0);
  await waitFor(() => proxy.stats().connectFailures === 1, { message: 'the connect failure counted' });
  for (const client of held) {
    const rest = collect(client);
    client.end();
    await rest;
  }
  await idle(proxy);
  t.like(proxy.stats(), { sessionsTotal: 3, sessionsActive: 0, bytesIn: 12, bytesOut: 12, connectFailures: 1, routeFailures: 0, upstreamReused: 0 });
});

test('host "localhost" binds 127.0.0.1; a given port is used', async (t) => {
  const pool = createPool(t);
  const port = await freePort();
  const proxy = await startProxy(t, pool, { host: 'localhost', port }, () => null);
  t.deepEqual(proxy.address(), { address: '127.0.0.1', family: 'IPv4', port });
});

test('invalid listen options reject with a TypeError naming the option', async (t) => {
  const pool = createPool(t);
  const route = () => null;
  const cases = [
    [{ port: -1 }, /"port"/],
    [{ port: 65536 }, /"port"/],
    [{ port: 1.5 }, /"port"/],
    [{ port: '80' }, /"port"/],
    [{ peek: -1 }, /"peek"/],
    [{ peek: 1024 * 1024 }, /"peek"/],
    [{ peekTimeout: -1 }, /"peekTimeout"/],
    [{ peekTimeout: Number.NaN }, /"peekTimeout"/],
    [{ reuseUpstream: 'yes' }, /"reuseUpstream"/],
    [{ backlog: 0 }, /"backlog"/],
    [{ host: 'example.com' }, /"host"/],
    [{ host: 1 }, /"host"/],
    [{ bogus: true }, /"bogus"/],
    [null, /listen options/],
    ['x', /listen options/],
  ];
  for (const [options, message] of cases) {
    await t.throwsAsync(pool.listen(options, route), { instanceOf: TypeError, message }, JSON.stringify(options));
  }
});

test('route must be a function or a destination string', async (t) => {
  const pool = createPool(t);
  for (const route of [undefined, null, {}, 7]) {
    await t.throwsAsync(pool.listen({}, route), { instanceOf: TypeError, message: /route must be a function or a destination string/ });
  }
  // A string that is no destination is refused as a destination.
  await t.throwsAsync(pool.listen({}, 'x'), { instanceOf: TypeError, message: /"x"/ });
});

test('listening on a port in use rejects with LISTEN_FAILED', async (t) => {
  const pool = createPool(t);
  const taken = net.createServer();
  await new Promise((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => taken.close(resolve)));
  const err = await t.throwsAsync(pool.listen({ port: taken.address().port }, () => null), { instanceOf: BerthError });
  t.is(err.code, 'LISTEN_FAILED');
});

test('listen on a closed pool rejects with POOL_CLOSED', async (t) => {
  const pool = createPool(t);
  await pool.close();
  const err = await t.throwsAsync(pool.listen({}, () => null), { instanceOf: BerthError });
  t.is(err.code, 'POOL_CLOSED');
});

test('proxy.close() ends sessions in progress and stops accepting; close() is idempotent', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await pool.listen({}, () => upstream.dest);
  const port = proxy.address().port;
  const client = await connect(t, port);
  t.is((await roundTrip(client, 'open')).toString(), 'open');
  const seen = collect(client);
  const closing = proxy.close();
  t.is(proxy.close(), closing, 'the same promise');
  await closing;
  await seen;
  t.true(client.destroyed, 'the session\'s client was closed');
  await waitFor(async () => (await upstream.stats()).current === 0, { message: 'the upstream connection closed' });
  const err = await connect(t, port).then(() => null, (e) => e);
  t.is(err?.code, 'ECONNREFUSED', 'nothing listens any more');
  t.is(proxy.stats().sessionsActive, 0);
});

test('pool.close() closes its listeners', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await pool.listen({}, () => upstream.dest);
  const port = proxy.address().port;
  const client = await connect(t, port);
  t.is((await roundTrip(client, 'open')).toString(), 'open');
  const seen = collect(client);
  await pool.close();
  await seen;
  await proxy.close();
  const err = await connect(t, port).then(() => null, (e) => e);
  t.is(err?.code, 'ECONNREFUSED');
});

test('snapshot(): the upstream of a native listener session in progress is "forwarding"', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, undefined, () => upstream.dest);
  const client = await connect(t, proxy.address().port);
  t.is((await roundTrip(client, 'session open')).toString(), 'session open');
  const dest = pool.snapshot().destinations.find((d) => d.destination === upstream.dest);
  t.deepEqual(dest?.connections.map((c) => c.state), ['forwarding']);
  client.end();
  await idle(proxy);
});
