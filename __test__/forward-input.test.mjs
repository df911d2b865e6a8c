// Invalid pool.forward input rejects with a TypeError (a closed pool: POOL_CLOSED) and leaves
// the inbound socket to the caller, still usable.
import test from 'ava';
import net from 'node:net';
import { createPool, BerthError } from './helpers/pool.mjs';
import { startUpstream, connect, collect } from './helpers/forward.mjs';

/**
 * A front server whose handler calls `call(socket)` (a forward expected to fail), records the
 * rejection, then writes on the socket and ends it: the client receiving that proves the
 * socket was left usable.
 */
async function frontExpectingFailure(t, call) {
  const outcomes = [];
  const server = net.createServer(async (socket) => {
    socket.on('error', () => {});
    let outcome;
    try {
      outcome = { resolved: await call(socket) };
    } catch (error) {
      outcome = { error };
    }
    outcome.destroyed = socket.destroyed;
    outcomes.push(outcome);
    if (!socket.destroyed) socket.end('still usable');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const run = async () => {
    const client = await connect(t, server.address().port);
    const seen = await collect(client, { keep: true });
    return { outcome: outcomes.shift(), seen: seen.data.toString() };
  };
  return run;
}

test('a non-socket inbound rejects with a TypeError', async (t) => {
  const upstream = await startUpstream(t);
  const pool = createPool(t);
  for (const inbound of [undefined, null, {}, 'socket', new net.Server()]) {
    await t.throwsAsync(pool.forward(inbound, upstream.dest), { instanceOf: TypeError, message: /inbound must be a net.Socket/ });
  }
  t.is((await upstream.stats()).accepted, 0);
});

const BAD = [
  ['a bad destination string', (up) => ['not a destination', undefined], /destination|invalid/i],
  ['a non-string destination', (up) => [42, undefined], /destination must be a string/],
  ['an unknown option', (up) => [up.dest, { bogus: 1 }], /unknown forward option "bogus"/],
  ['a string head', (up) => [up.dest, { head: 'text' }], /"head"/],
  ['a numeric reply', (up) => [up.dest, { reply: 42 }], /"reply"/],
  ['a non-AbortSignal signal', (up) => [up.dest, { signal: {} }], /"signal"/],
  ['a non-boolean reuseUpstream', (up) => [up.dest, { reuseUpstream: 1 }], /"reuseUpstream"/],
  ['non-object options', (up) => [up.dest, 'fast'], /forward options must be an object/],
];

for (const [name, args, message] of BAD) {
  test(`${name} rejects with a TypeError and leaves the socket usable`, async (t) => {
    const upstream = await startUpstream(t);
    const pool = createPool(t);
    const run = await frontExpectingFailure(t, (socket) => pool.forward(socket, ...args(upstream)));
    const { outcome, seen } = await run();
    t.true(outcome.error instanceof TypeError, `TypeError (got ${outcome.error})`);
    t.regex(outcome.error?.message ?? '', message);
    t.false(outcome.destroyed, 'the socket was not destroyed');
    t.is(seen, 'still usable', 'the front server could still write to the client');
    t.is((await upstream.stats()).accepted, 0, 'nothing was dialed');
  });
}

test('a socket with an encoding set rejects with a TypeError and stays usable', async (t) => {
  const upstream = await startUpstream(t);
  const pool = createPool(t);
  const run = await frontExpectingFailure(t, (socket) => {
    socket.setEncoding('utf8');
    return pool.forward(socket, upstream.dest);
  });
  const { outcome, seen } = await run();
  t.true(outcome.error instanceof TypeError);
  t.regex(outcome.error.message, /encoding/);
  t.is(seen, 'still usable');
});

test('an ended socket rejects with a TypeError', async (t) => {
  const upstream = await startUpstream(t);
  const pool = createPool(t);
  const run = await frontExpectingFailure(t, (socket) => {
    socket.end('bye');
    return pool.forward(socket, upstream.dest);
  });
  const { outcome, seen } = await run();
  t.true(outcome.error instanceof TypeError);
  t.regex(outcome.error.message, /ended or destroyed/);
  t.is(seen, 'bye');
});

test('a closed pool rejects with POOL_CLOSED and leaves the socket usable', async (t) => {
  const upstream = await startUpstream(t);
  const pool = createPool(t);
  await pool.close();
  const run = await frontExpectingFailure(t, (socket) => pool.forward(socket, upstream.dest));
  const { outcome, seen } = await run();
  t.true(outcome.error instanceof BerthError, `BerthError (got ${outcome.error})`);
  t.is(outcome.error?.code, 'POOL_CLOSED');
  t.false(outcome.destroyed);
  t.is(seen, 'still usable');
  t.is((await upstream.stats()).accepted, 0);
});

test('a draining pool rejects with POOL_DRAINING and leaves the socket usable', async (t) => {
  const upstream = await startUpstream(t);
  const pool = createPool(t);
  const lease = await pool.acquire(upstream.dest);
  const draining = pool.drain();
  draining.catch(() => {});
  const run = await frontExpectingFailure(t, (socket) => pool.forward(socket, upstream.dest));
  const { outcome, seen } = await run();
  t.true(outcome.error instanceof BerthError);
  t.is(outcome.error?.code, 'POOL_DRAINING');
  t.is(seen, 'still usable');
  lease.release();
  await draining;
});
