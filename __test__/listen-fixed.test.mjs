// pool.listen with a destination string: every connection goes there, no JS call per connection.
import test from 'ava';
import net from 'node:net';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';
import { startUpstream, connect, collect } from './helpers/forward.mjs';

test('a fixed destination: sessions are forwarded there and their upstreams reused', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await pool.listen({ reuseUpstream: true }, upstream.dest);
  t.teardown(() => proxy.close());
  for (let i = 0; i < 5; i++) {
    const client = await connect(t, proxy.address().port);
    t.is((await roundTrip(client, `session ${i}`)).toString(), `session ${i}`);
    const rest = collect(client);
    client.end();
    t.true((await rest).ended);
    // The next session may only reuse the upstream once this one has given it back.
    await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'session ended' });
  }
  const stats = proxy.stats();
  t.is(stats.sessionsTotal, 5);
  t.is(stats.routeFailures, 0);
  t.is(stats.upstreamReused, 4);
  t.is((await upstream.stats()).accepted, 1);
});

test('an invalid fixed destination fails the listen itself with a TypeError', async (t) => {
  const pool = createPool(t);
  await t.throwsAsync(() => pool.listen({}, 'no-port-here'), { instanceOf: TypeError, message: /no-port-here/ });
  await t.throwsAsync(() => pool.listen({}, 42), { instanceOf: TypeError, message: /route must be a function or a destination string/ });
});

test('a fixed destination nobody listens on: each session is a connect failure, not a route failure', async (t) => {
  const pool = createPool(t);
  const proxy = await pool.listen({}, '127.0.0.1:1');
  t.teardown(() => proxy.close());
  const client = await connect(t, proxy.address().port);
  const got = await collect(client);
  t.is(got.bytes, 0);
  await waitFor(() => proxy.stats().connectFailures === 1, { message: 'one connect failure' });
  t.is(proxy.stats().routeFailures, 0);
});

test('pool.close() resolves only once its listeners\' sockets are closed: the port refuses at once', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await pool.listen({}, upstream.dest);
  const { port } = proxy.address();
  await pool.close();
  const error = await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(null); });
    socket.once('error', resolve);
  });
  t.is(error?.code, 'ECONNREFUSED');
});
