// pool.forward's idleTimeout: a quiet session ends as 'idle-timeout' with both sides closed;
// bytes moving either way (a download to a silent client) keep it alive; the
// wait for an upstream is bounded by it too; invalid values are TypeErrors.
import test from 'ava';
import net from 'node:net';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor, sleep } from './helpers/net.mjs';
import { startUpstream, startFront, connect, collect } from './helpers/forward.mjs';

test('a session through which nothing moves ends as idle-timeout, both sides closed', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest, { options: { idleTimeout: 200, reuseUpstream: true } });
  const client = await connect(t, front.port);
  t.is((await roundTrip(client, 'then quiet')).toString(), 'then quiet');
  const end = await collect(client);
  t.true(end.ended || end.error !== null, 'the client was closed');
  const result = await front.result(0);
  t.like(result, { end: 'idle-timeout', bytesIn: 10, bytesOut: 10, upstreamReturned: false });
  t.is(result.error, undefined);
  await waitFor(async () => (await upstream.stats()).closed === 1, { message: 'the upstream connection closed' });
  t.is(pool.stats().open, 0, 'not returned to the pool: something may have been in flight');
});

test('a download to a silent client is not idle: it outlives several idleTimeouts', async (t) => {
  const TICKS = 40; // 40 x 100 ms against a 1000 ms idle timeout
  const upstream = await startUpstream(t, { mode: 'silent' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest, { options: { idleTimeout: 1000 } });
  const client = await connect(t, front.port);
  let got = 0;
  client.on('data', (chunk) => { got += chunk.length; });
  await waitFor(async () => (await upstream.stats()).current === 1, { message: 'upstream connected' });
  for (let i = 0; i < TICKS; i++) {
    await upstream.control({ cmd: 'sendAll', data: 'd' });
    await sleep(100);
  }
  await waitFor(() => got === TICKS, { message: 'every byte arrived' });
  t.false(client.destroyed, 'still open');
  const result = await front.result(0); // then it goes quiet and times out
  t.like(result, { end: 'idle-timeout', bytesOut: TICKS, bytesIn: 0 });
});

test('the wait for an upstream is bounded by idleTimeout too (acquireTimeout Infinity)', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t, { maxPerDestination: 1, acquireTimeout: Infinity });
  // The first connection (no result pushed yet when its options are read) holds the place.
  const options = () => ({ idleTimeout: front.results.length === 0 ? Infinity : 300 });
  const front = await startFront(t, pool, upstream.dest, { options });
  const holder = await connect(t, front.port);
  t.is((await roundTrip(holder, 'holds the only place')).toString(), 'holds the only place');
  const waiter = await connect(t, front.port);
  const end = await collect(waiter);
  t.is(end.bytes, 0);
  const result = await front.result(1);
  t.like(result, { end: 'idle-timeout', bytesIn: 0, bytesOut: 0 });
  t.is(result.error, undefined);
  t.is((await upstream.stats()).accepted, 1, 'no second upstream');
  t.is(pool.stats().waiting, 0, 'the abandoned wait is not counted as waiting any more');
  holder.resume(); // roundTrip left it paused
  t.is((await roundTrip(holder, 'still fine')).toString(), 'still fine', 'the holder is unaffected');
});

test('an invalid idleTimeout is a TypeError naming it, and the socket stays the caller\'s', async (t) => {
  const pool = createPool(t);
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = await connect(t, server.address().port);
  const inbound = await accepted;
  t.teardown(() => inbound.destroy());
  for (const value of [0, -5, Number.NaN, '100', null]) {
    const error = await t.throwsAsync(pool.forward(inbound, '127.0.0.1:1', { idleTimeout: value }), { instanceOf: TypeError });
    t.true(error.message.includes('"idleTimeout"'), error.message);
  }
  t.false(inbound.destroyed, 'untouched');
  client.write('still ours');
  const chunk = await new Promise((resolve) => inbound.once('data', resolve));
  t.is(chunk.toString(), 'still ours');
});
