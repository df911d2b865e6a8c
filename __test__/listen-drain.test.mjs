// Graceful listener shutdown (issue 17, section 5): `listener.close({ drain })` stops accepting
// at once, lets the sessions in flight finish for up to `drain` ms, then closes the rest, and
// says how many finished and how many were cut. Sessions end on events (a client's end), never
// on timing: the drains are generous, and the cut comes from the drain's end or a second close.
import test from 'ava';
import net from 'node:net';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';
import { startUpstream } from './helpers/forward.mjs';

/** A client through the proxy that has echoed once (its session is relaying); closed in teardown. */
async function session(t, port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  t.is((await roundTrip(socket, 'hello')).toString(), 'hello');
  const closed = new Promise((resolve) => socket.once('close', resolve));
  return { socket, closed };
}

/** Keeps `socket` sending a byte now and then (a slow, long session) until it closes. */
function trickle(socket) {
  socket.on('data', () => {});
  const timer = setInterval(() => socket.write('.'), 50);
  socket.once('close', () => clearInterval(timer));
}

/** Resolves with the error code of one connect attempt to `port` ('connected' if it was accepted). */
function tryConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
    socket.once('error', (error) => resolve(error.code));
  });
}

async function fiveSessions(t) {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await pool.listen({ port: 0 }, upstream.dest);
  const port = proxy.address().port;
  const long = [await session(t, port), await session(t, port), await session(t, port)];
  const short = [await session(t, port), await session(t, port)];
  for (const s of long) trickle(s.socket);
  t.is(proxy.stats().sessionsActive, 5);
  return { proxy, port, long, short };
}

test('close({ drain }): two sessions end within the drain, three are cut at its end; no new connection is accepted', async (t) => {
  const { proxy, port, long, short } = await fiveSessions(t);
  // Generous: the two short sessions end within it on a loaded machine too.
  const closing = proxy.close({ drain: 3000 });
  for (const s of short) s.socket.end();
  await Promise.all(short.map((s) => s.closed));
  // Accepting stopped at once, while the long sessions still run.
  t.is(await waitFor(async () => ((await tryConnect(port)) === 'ECONNREFUSED' ? 'ECONNREFUSED' : false)), 'ECONNREFUSED');
  await waitFor(() => proxy.stats().sessionsActive === 3, { message: 'the long sessions run on during the drain' });
  t.deepEqual(await closing, { finished: 2, cut: 3 });
  await Promise.all(long.map((s) => s.closed)); // the cut clients see their connections closed
  t.true(long.every((s) => s.socket.destroyed));
  t.is(proxy.stats().sessionsActive, 0);
});

test('a second close() without drain cuts the sessions still draining; both calls resolve alike', async (t) => {
  const { proxy, long, short } = await fiveSessions(t);
  const draining = proxy.close({ drain: 600_000 });
  for (const s of short) s.socket.end();
  await Promise.all(short.map((s) => s.closed));
  await waitFor(() => proxy.stats().sessionsActive === 3, { message: 'the short sessions ended' });
  const now = proxy.close();
  t.is(now, draining, 'the same promise');
  t.deepEqual(await draining, { finished: 2, cut: 3 });
  await Promise.all(long.map((s) => s.closed));
});

test('close() without drain cuts every session at once and says so; a drain with nothing in flight resolves at once', async (t) => {
  const { proxy, long, short } = await fiveSessions(t);
  t.deepEqual(await proxy.close(), { finished: 0, cut: 5 });
  await Promise.all([...long, ...short].map((s) => s.closed));

  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const idle = await pool.listen({ port: 0 }, upstream.dest);
  // Nothing in flight: resolves without waiting for the (long) drain.
  t.deepEqual(await idle.close({ drain: 600_000 }), { finished: 0, cut: 0 });
});

test('close() options: a TypeError names what is wrong', async (t) => {
  const pool = createPool(t);
  const proxy = await pool.listen({ port: 0 }, '127.0.0.1:1');
  await t.throwsAsync(proxy.close({ drain: -1 }), { instanceOf: TypeError, message: /"drain" must be a number of milliseconds >= 0/ });
  await t.throwsAsync(proxy.close({ drain: 'soon' }), { instanceOf: TypeError, message: /"drain"/ });
  await t.throwsAsync(proxy.close({ grace: 1 }), { instanceOf: TypeError, message: /unknown listener close option "grace"/ });
  await t.throwsAsync(proxy.close(5), { instanceOf: TypeError, message: /must be an object/ });
  t.deepEqual(await proxy.close({ drain: Infinity }), { finished: 0, cut: 0 });
});
