// pool.listen: route results beyond a destination string (issue 17): `reply`, the route memo
// (`cacheFor` + `key`: later connections with the same key are routed by the engine without
// calling JS), invalid results refused and counted, and batched routing (many connections
// accepted at once are all routed, each once).
import test from 'ava';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';
import { startUpstream, connect, collect } from './helpers/forward.mjs';

async function startProxy(t, pool, options, route) {
  const proxy = await pool.listen(options, route);
  t.teardown(() => proxy.close());
  return proxy;
}

async function echoThrough(t, port, text) {
  const client = await connect(t, port);
  const reply = (await roundTrip(client, text)).toString();
  client.end();
  return reply;
}

test('a route result object: { dest } routes as the string would; reply is written to the client first', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await startProxy(t, pool, {}, () => ({ dest: upstream.dest, reply: 'HELLO ' }));
  const client = await connect(t, proxy.address().port);
  // The reply comes before the upstream's first byte; then the echo.
  const got = collect(client, { keep: true });
  client.end('ping');
  t.is((await got).data.toString(), 'HELLO ping');
});

test('cacheFor + key "localPort": the route function is called once, later connections are routed by the engine', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  let calls = 0;
  const proxy = await startProxy(t, pool, {}, () => {
    calls++;
    return { dest: upstream.dest, cacheFor: 60_000, key: 'localPort' };
  });
  for (let i = 0; i < 5; i++) t.is(await echoThrough(t, proxy.address().port, `n${i}`), `n${i}`);
  t.is(calls, 1, 'one call for five connections');
  await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'sessions ended' });
  t.like(proxy.stats(), { sessionsTotal: 5, routeFailures: 0 });
});

test('cacheFor + key "clientIp": a remembered route expires, then the route function is asked again', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  let calls = 0;
  const proxy = await startProxy(t, pool, {}, () => {
    calls++;
    return { dest: upstream.dest, cacheFor: 50, key: 'clientIp' };
  });
  t.is(await echoThrough(t, proxy.address().port, 'a'), 'a');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(await echoThrough(t, proxy.address().port, 'b'), 'b');
  t.is(calls, 2, 'expired after 50 ms: asked again');
});

test('without cacheFor every connection calls the route function', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  let calls = 0;
  const proxy = await startProxy(t, pool, {}, () => {
    calls++;
    return { dest: upstream.dest };
  });
  for (let i = 0; i < 3; i++) t.is(await echoThrough(t, proxy.address().port, `x${i}`), `x${i}`);
  t.is(calls, 3);
});

test('invalid route results refuse the connection and count as route failures', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const results = [
    { dest: 42 },
    { dest: upstream.dest, unknown: 1 },
    { dest: upstream.dest, cacheFor: 100 }, // no key
    { dest: upstream.dest, cacheFor: -1, key: 'clientIp' },
    { dest: upstream.dest, cacheFor: 100, key: 'cookie' },
    { dest: upstream.dest, sendProxyProtocol: 'v3' },
    { dest: upstream.dest, reply: 12 },
    { dest: upstream.dest, reply: Buffer.alloc(64 * 1024 + 1) },
    { dest: 'not a destination' },
    { dest: 'group:nope' },
  ];
  let i = 0;
  const proxy = await startProxy(t, pool, {}, () => results[i++]);
  for (const _ of results) {
    const client = await connect(t, proxy.address().port);
    const got = collect(client);
    client.end('x');
    t.is((await got).bytes, 0, 'nothing relayed');
  }
  await waitFor(() => proxy.stats().routeFailures === results.length, { message: () => `routeFailures ${proxy.stats().routeFailures}` });
  t.is(proxy.stats().sessionsTotal, 0);
});

test('many connections accepted at once are each routed once and all relay (batched routing)', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const seen = new Map();
  const proxy = await startProxy(t, pool, {}, (conn) => {
    seen.set(conn.remotePort, (seen.get(conn.remotePort) ?? 0) + 1);
    return conn.remotePort % 2 === 0 ? upstream.dest : { dest: upstream.dest };
  });
  const replies = await Promise.all(Array.from({ length: 64 }, (_, i) => echoThrough(t, proxy.address().port, `c${i}`)));
  t.deepEqual(replies, Array.from({ length: 64 }, (_, i) => `c${i}`));
  t.is(seen.size, 64);
  t.true([...seen.values()].every((n) => n === 1), 'each connection routed once');
});
