// Without a subscriber on berth:listener:session the engine reports no session end to JS
// (a session's end must not wake JS); with one it reports each. Its own file: the channels
// are process-wide (per worker), and no other test here subscribes.
import test from 'ava';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';
import { startUpstream, connect, collect } from './helpers/forward.mjs';

const REPORTED = Symbol.for('berth.sessionEndsReported');

/** One session through `proxy`, waited for until the listener has let it go (its report, if any, is sent by then). */
async function session(t, proxy, data) {
  const client = await connect(t, proxy.address().port);
  t.is((await roundTrip(client, data)).toString(), data);
  const rest = collect(client);
  client.end();
  await rest;
  await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'the session ended on the listener' });
}

/** Runs sessions until `done()` (a hang guard: 10 s, 5000 sessions); returns how many ran. */
async function sessionsUntil(t, proxy, done) {
  const deadline = Date.now() + 10_000;
  for (let n = 1; n <= 5000 && Date.now() < deadline; n++) {
    await session(t, proxy, `session ${n}`);
    if (await done()) return n;
  }
  throw new Error('the poll did not notice the change in 10 s');
}

test.serial('session ends reach JS only while berth:listener:session has subscribers', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  for (const route of [() => upstream.dest, upstream.dest]) {
    const proxy = await pool.listen(undefined, route);
    t.teardown(() => proxy.close());
    const reported = () => proxy[REPORTED]();

    for (let i = 0; i < 3; i++) await session(t, proxy, `unobserved ${i}`);
    t.is(proxy.stats().sessionsTotal, 3);
    t.is(reported(), 0, 'no subscriber: the engine reported no session end');

    const seen = [];
    const onSession = (message) => { if (message.listener === proxy) seen.push(message); };
    diagnosticsChannel.subscribe('berth:listener:session', onSession);
    // The subscription is noticed by a poll: sessions run until one is reported (bounded).
    await sessionsUntil(t, proxy, () => seen.length > 0);
    await waitFor(() => seen.length === reported(), { message: 'each reported end published' });
    t.true(seen.every((m) => m.route === upstream.dest && m.bytesIn === m.bytesOut && m.bytesIn > 0));

    diagnosticsChannel.unsubscribe('berth:listener:session', onSession);
    // And the end of it, by the same poll: sessions run until one is not reported.
    let before = reported();
    await sessionsUntil(t, proxy, () => {
      const now = reported();
      const unchanged = now === before;
      before = now;
      return unchanged;
    });
    for (let i = 0; i < 3; i++) await session(t, proxy, `unobserved again ${i}`);
    t.is(reported(), before, 'reports stopped with the last subscriber');
  }
});
