// Sessions ended by the limits (idle timeouts, per-client resets, accepts paused at
// maxConnections) leave no descriptor behind, on pool.listen and pool.forward. Alone in its
// file and serial, as forward-fds.test.mjs, so that nothing else opens descriptors meanwhile.
import test from 'ava';
import net from 'node:net';
import { Pool } from './helpers/pool.mjs';
import { fdCount, waitFor, range, roundTrip } from './helpers/net.mjs';
import { startUpstream } from './helpers/forward.mjs';

/** Connects from `localAddress`, sends nothing, resolves once the other side closed it. */
function silentClient(port, localAddress = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let bytes = 0;
    socket.on('data', (chunk) => { bytes += chunk.length; });
    socket.on('error', () => {});
    socket.on('close', () => resolve(bytes));
    socket.resume();
  });
}

test.serial('idle timeouts, per-client resets and paused accepts leave no descriptor after close()', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });

  // Warm up with a throwaway pool: the process-wide runtime keeps descriptors of its own.
  {
    const warm = new Pool();
    const proxy = await warm.listen({ idleTimeout: 100 }, upstream.dest);
    await silentClient(proxy.address().port);
    await proxy.close();
    await warm.close();
  }

  const before = fdCount();
  const pool = new Pool();
  let closed = false;
  t.teardown(() => (closed ? undefined : pool.close()));
  const proxy = await pool.listen({ idleTimeout: 200, maxConnections: 4, maxConnectionsPerClient: 2 }, () => upstream.dest);
  const port = proxy.address().port;
  const forwards = [];
  const front = net.createServer((socket) => {
    socket.on('error', () => {});
    const p = pool.forward(socket, upstream.dest, { idleTimeout: 200 });
    p.catch(() => {});
    forwards.push(p);
  });
  await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));

  // Three addresses, three silent clients each: at most two sessions per address (a third
  // while two are in flight is reset) and four in all (the rest wait in the backlog); every
  // session ends by the idle timeout.
  const listened = await Promise.all(
    ['127.0.0.1', '127.0.0.2', '127.0.0.3'].flatMap((address) => range(3).map(() => silentClient(port, address))),
  );
  t.true(listened.every((bytes) => bytes === 0));
  const forwarded = await Promise.all(range(5).map(() => silentClient(front.address().port)));
  t.true(forwarded.every((bytes) => bytes === 0));
  const results = await Promise.all(forwards);
  t.deepEqual(results.map((r) => r.end), range(5).map(() => 'idle-timeout'));
  await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'no session active' });
  const s = proxy.stats();
  t.is(s.idleTimeouts + s.rejectedPerClient, 9, JSON.stringify(s));
  t.true(s.acceptPauses >= 1, JSON.stringify(s));
  t.is(s.clients, 0);
  // Still serving after all that.
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  await new Promise((resolve) => client.once('connect', resolve));
  t.is((await roundTrip(client, 'alive')).toString(), 'alive');
  await new Promise((resolve) => { client.once('close', resolve); client.destroy(); });

  await proxy.close();
  await new Promise((resolve) => front.close(resolve));
  await pool.close();
  closed = true;
  const after = fdCount();
  t.is(after, before, `descriptors: ${before} before the pool, ${after} after close()`);
  await waitFor(async () => (await upstream.stats()).current === 0, { message: 'the upstream sees every connection closed' });
});
