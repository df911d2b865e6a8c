// reuseUpstream: only sessions that end cleanly (client closed first, nothing in flight,
// nothing unread upstream) give their upstream back; everything else closes it.
import test from 'ava';
import { createPool, settledStats } from './helpers/pool.mjs';
import { roundTrip, waitFor, sleep } from './helpers/net.mjs';
import { startUpstream, startFront, connect, collect, readBytes } from './helpers/forward.mjs';

/**
 * Waits until upstream connection `id` has written nothing more over 3 polls 100 ms apart
 * (the client is not reading: every buffer between them is full). Bounded at 30 s.
 */
async function saturated(upstream, id) {
  let last = -1;
  let still = 0;
  for (let i = 0; i < 300 && still < 3; i++) {
    const c = (await upstream.stats()).connections.find((x) => x.id === id);
    still = c.bytesOut === last ? still + 1 : 0;
    last = c.bytesOut;
    await sleep(100);
  }
  if (still < 3) throw new Error('the upstream never stopped writing');
}

/** One request/response session: send, read the whole echo, then end; resolves with what the client saw after. */
async function echoSession(t, port, payload) {
  const client = await connect(t, port);
  const echo = await roundTrip(client, payload);
  t.is(echo.toString(), payload);
  const rest = collect(client);
  client.end();
  return rest;
}

test('forward with reuseUpstream: sequential clean sessions share one upstream connection', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest, { options: { reuseUpstream: true } });

  for (let i = 0; i < 5; i++) {
    const payload = `request ${i}`;
    const after = await echoSession(t, front.port, payload);
    t.is(after.bytes, 0, 'nothing after the echo');
    t.true(after.ended, 'the client got a clean end');
    const result = await front.result(i);
    t.like(result, {
      end: 'client-closed', bytesIn: payload.length, bytesOut: payload.length, upstreamReused: i > 0, upstreamReturned: true,
    }, `session #${i}`);
    t.is(result.error, undefined);
  }
  const s = await upstream.stats();
  t.is(s.accepted, 1, 'the upstream accepted one connection for all five sessions');
  t.is(s.current, 1, 'and it is still open (idle in the pool)');
  t.false(s.connections[0].gotEnd, 'the clients\' FINs were not passed to the reused upstream');
  t.like(await settledStats(pool, { idle: 1, inUse: 0 }), { open: 1, idle: 1, inUse: 0 });
});

test('reuseUpstream: a session whose upstream still had bytes to send is not returned', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest, { options: { reuseUpstream: true } });

  await echoSession(t, front.port, 'first');
  t.like(await front.result(0), { upstreamReturned: true });

  // The upstream now streams without pause until it gets a FIN. The client reads a little and
  // stops reading; once every buffer on the way is full the upstream cannot write any more
  // (its count stops moving), and bytes are necessarily waiting unread in the engine's
  // upstream socket. The client then ends: the session must not return that upstream, and
  // finishes as without reuse (FIN upstream, the rest of the stream to the client).
  await upstream.setMode('flood');
  const client = await connect(t, front.port);
  client.write('go');
  await readBytes(client, 1024 * 1024);
  await saturated(upstream, 1);
  client.end();
  const rest = await collect(client, { timeout: 50_000 });
  t.true(rest.ended, 'the client got the rest of the stream and a clean end');
  const result = await front.result(1);
  t.like(result, { end: 'client-closed', upstreamReused: true, upstreamReturned: false });
  t.is(result.error, undefined);
  const conn1 = await waitFor(async () => {
    const c = (await upstream.stats()).connections.find((x) => x.id === 1);
    return c.closed ? c : null;
  }, { message: 'the flooded upstream connection closed' });
  t.true(conn1.gotEnd, 'the client\'s FIN went on to the upstream');
  t.is(result.bytesOut, conn1.bytesOut - 'first'.length, 'the client got everything the upstream sent in this session');

  // The next session needs a new upstream connection.
  await upstream.setMode('echo');
  await echoSession(t, front.port, 'third');
  t.like(await front.result(2), { upstreamReused: false, upstreamReturned: true });
  t.is((await upstream.stats()).accepted, 2);
});

test('reuseUpstream: a session whose upstream closed first is not returned', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest, { options: { reuseUpstream: true } });

  await echoSession(t, front.port, 'first');
  t.like(await front.result(0), { upstreamReturned: true });

  await upstream.setMode('reply-close'); // echoes, then FIN
  const client = await connect(t, front.port);
  const seen = collect(client, { keep: true });
  client.write('bye');
  const after = await seen; // allowHalfOpen false: the client ends on the upstream's FIN
  t.is(after.data.toString(), 'bye');
  t.true(after.ended);
  const result = await front.result(1);
  t.like(result, { end: 'upstream-closed', upstreamReused: true, upstreamReturned: false, bytesIn: 3, bytesOut: 3 });

  await upstream.setMode('echo');
  await echoSession(t, front.port, 'third');
  t.like(await front.result(2), { upstreamReused: false, upstreamReturned: true });
  t.is((await upstream.stats()).accepted, 2, 'a new upstream connection after the one that closed');
});

test('reuseUpstream: an idle upstream that sent unsolicited bytes is not handed to the next session', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest, { options: { reuseUpstream: true } });
  await echoSession(t, front.port, 'first');
  t.like(await front.result(0), { upstreamReturned: true });

  await upstream.control({ cmd: 'sendAll', data: 'STALE BYTES' }); // to the idle pooled connection
  const client = await connect(t, front.port);
  const echo = await roundTrip(client, 'second');
  t.is(echo.toString(), 'second', 'the session saw its own echo, not the stale bytes');
  const after = collect(client, { keep: true });
  client.end();
  t.is((await after).bytes, 0);
  t.like(await front.result(1), { upstreamReused: false, upstreamReturned: true });
  t.is((await upstream.stats()).accepted, 2, 'a fresh upstream connection');
});

test('reuseUpstream: a client that resets is not returned', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest, { options: { reuseUpstream: true } });
  await echoSession(t, front.port, 'first');
  await front.result(0);

  const client = await connect(t, front.port);
  t.is((await roundTrip(client, 'x')).toString(), 'x');
  client.resetAndDestroy();
  const result = await front.result(1);
  t.like(result, { end: 'client-error', upstreamReused: true, upstreamReturned: false });
  await waitFor(async () => (await upstream.stats()).current === 0, { message: 'the upstream connection closed' });
});

test('without reuseUpstream no session returns its upstream', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const front = await startFront(t, pool, upstream.dest);
  for (let i = 0; i < 3; i++) {
    const after = await echoSession(t, front.port, `request ${i}`);
    t.true(after.ended);
    t.like(await front.result(i), { end: 'client-closed', upstreamReused: false, upstreamReturned: false });
  }
  const s = await waitFor(async () => {
    const st = await upstream.stats();
    return st.closed === 3 ? st : null;
  }, { message: 'every upstream connection closed' });
  t.is(s.accepted, 3, 'one upstream connection per session');
  t.true(s.connections.every((c) => c.gotEnd), 'each upstream got the client\'s FIN');
  t.like(await settledStats(pool, { open: 0 }), { open: 0, idle: 0 });
});

test('listen with reuseUpstream: stats().upstreamReused counts reused sessions, one upstream connection', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await pool.listen({ reuseUpstream: true }, () => upstream.dest);
  t.teardown(() => proxy.close());
  for (let i = 0; i < 4; i++) {
    const after = await echoSession(t, proxy.address().port, `listen ${i}`);
    t.true(after.ended);
    await waitFor(() => proxy.stats().sessionsActive === 0, { message: `session #${i} ended` });
  }
  t.like(proxy.stats(), { sessionsTotal: 4, sessionsActive: 0, upstreamReused: 3, bytesIn: 32, bytesOut: 32 });
  t.is((await upstream.stats()).accepted, 1);
});

test('listen without reuseUpstream: each session gets a new upstream connection', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await pool.listen({}, () => upstream.dest);
  t.teardown(() => proxy.close());
  for (let i = 0; i < 3; i++) {
    await echoSession(t, proxy.address().port, `listen ${i}`);
    await waitFor(() => proxy.stats().sessionsActive === 0, { message: `session #${i} ended` });
  }
  t.like(proxy.stats(), { sessionsTotal: 3, upstreamReused: 0 });
  t.is((await upstream.stats()).accepted, 3);
});
