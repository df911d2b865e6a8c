// Connection hooks: `handshake` runs once on each new connection before it counts as pooled
// (a SOCKS5 hop, an auth preamble, TLS over the hop), `check` before each reuse. Real servers
// in child processes.
import test from 'ava';
import net from 'node:net';
import tls from 'node:tls';
import { createPool, rejectsWithCode } from './helpers/pool.mjs';
import { startServer } from './helpers/server.mjs';
import { fdCount, roundTrip, waitFor } from './helpers/net.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';
import { startTlsEcho } from './helpers/tls-echo.mjs';

const certs = makeCerts();

/** Reads exactly `n` bytes from a paused socket (the handshake's own small reader). */
function readBytes(socket, n) {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < n) return;
      done();
      socket.pause();
      // Anything past the answer belongs to whoever reads next.
      if (buffered.length > n) socket.unshift(buffered.subarray(n));
      resolve(buffered.subarray(0, n));
    };
    const onEnd = () => {
      done();
      reject(new Error(`the peer closed after ${buffered.length} of ${n} bytes`));
    };
    const done = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
    // Paused by an earlier read: a new 'data' listener alone does not restart the flow.
    socket.resume();
  });
}

/** A SOCKS5 CONNECT (no auth) to `host:port` through an already connected socket. */
function socks5(host, port) {
  return async (socket) => {
    socket.write(Buffer.from([5, 1, 0]));
    const greeting = await readBytes(socket, 2);
    if (greeting[0] !== 5 || greeting[1] !== 0) throw new Error('the SOCKS proxy refused no-auth');
    const name = Buffer.from(host);
    const request = Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([port >> 8, port & 255])]);
    socket.write(request);
    const reply = await readBytes(socket, 10);
    if (reply[1] !== 0) throw new Error(`the SOCKS proxy answered ${reply[1]}`);
  };
}

/** The auth preamble of the `auth` echo server. */
function authPreamble(secret) {
  return async (socket) => {
    socket.write(`AUTH ${secret}\n`);
    const answer = (await readBytes(socket, 3)).toString();
    if (answer !== 'OK\n') throw new Error(`auth refused: ${JSON.stringify(answer)}`);
  };
}

test('handshake: a SOCKS5 hop to the upstream runs once per connection, then the connection is pooled', async (t) => {
  const upstream = await startServer(t);
  const proxy = await startTlsEcho(t, { kind: 'socks5', target: upstream.dest });
  const pool = createPool(t);
  const calls = [];
  const hop = socks5('upstream.test', 7000);
  const handshake = async (socket, context) => {
    calls.push(context.destination);
    t.true(context.signal instanceof AbortSignal);
    await hop(socket);
  };
  for (let i = 0; i < 3; i++) {
    const lease = await pool.acquire(proxy.dest, { handshake });
    t.is((await roundTrip(lease.socket, `through socks ${i}`)).toString(), `through socks ${i}`);
    lease.release();
  }
  t.deepEqual(calls, [proxy.dest], 'once, for the one new connection');
  t.deepEqual((await proxy.stats()).socksRequests, ['upstream.test:7000']);
  t.is((await upstream.stats()).accepted, 1);
  t.is(pool.stats().connect.handshakes, 1);
});

test('handshake then TLS: TLS runs over the stream the handshake set up', async (t) => {
  const upstream = await startTlsEcho(t);
  const proxy = await startTlsEcho(t, { kind: 'socks5', target: upstream.dest });
  const pool = createPool(t);
  // The proxy connects to the TLS server whatever it is asked; the name checked is the destination's.
  const lease = await pool.acquire(proxy.dest, { handshake: socks5('localhost', 443), tls: { ca: certs.ca, servername: 'localhost' } });
  t.true(lease.socket instanceof tls.TLSSocket);
  t.true(lease.socket.authorized);
  t.is((await roundTrip(lease.socket, 'tls in socks')).toString(), 'tls in socks');
  lease.release();
});

test.serial('handshake: an auth preamble; a wrong secret fails with HANDSHAKE_FAILED and the cause', async (t) => {
  const server = await startTlsEcho(t, { kind: 'auth', secret: 's3cret' });
  const pool = createPool(t);
  // The handshake function is part of the pool key: the same function, the same connections.
  const authenticated = authPreamble('s3cret');
  const lease = await pool.acquire(server.dest, { handshake: authenticated });
  t.is((await roundTrip(lease.socket, 'authed')).toString(), 'authed');
  lease.release();
  const before = fdCount();
  const err = await rejectsWithCode(t, pool.acquire(server.dest, { handshake: authPreamble('wrong') }), 'HANDSHAKE_FAILED', server.dest);
  t.regex(err.cause.message, /auth refused/);
  await waitFor(() => fdCount() <= before, { message: 'the refused connection closed' });
  // The authenticated connection is still pooled under its own key, untouched.
  const again = await pool.acquire(server.dest, { handshake: authenticated });
  t.true(again.reused);
  again.release();
});

test.serial('handshake: the socket it resolves to is the one pooled (a STARTTLS done by the user)', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t);
  const before = fdCount();
  const startTls = (socket) =>
    new Promise((resolve, reject) => {
      const secure = tls.connect({ socket, ca: certs.ca, servername: 'localhost' }, () => resolve(secure));
      secure.once('error', reject);
    });
  const lease = await pool.acquire(server.dest, { handshake: startTls });
  t.true(lease.socket instanceof tls.TLSSocket);
  t.true(lease.socket.authorized);
  t.is((await roundTrip(lease.socket, 'user tls')).toString(), 'user tls');
  lease.release();
  const again = await pool.acquire(server.dest, { handshake: startTls });
  t.true(again.reused);
  t.is(again.socket, lease.socket);
  // Destroying the pooled socket closes the descriptor under it.
  again.destroy();
  await waitFor(() => pool.stats().open === 0 && fdCount() <= before, { message: 'the descriptor closed' });
  await rejectsWithCode(t, pool.acquire(server.dest, { handshake: () => ({ not: 'a socket' }) }), 'HANDSHAKE_FAILED');
});

test('handshake: one that never settles fails with HANDSHAKE_TIMEOUT; its signal aborts', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { handshakeTimeout: 100 });
  let signal;
  const err = await rejectsWithCode(
    t,
    pool.acquire(server.dest, {
      handshake: (_socket, context) => {
        signal = context.signal;
        return new Promise(() => {});
      },
    }),
    'HANDSHAKE_TIMEOUT',
  );
  t.regex(err.message, /100 ms/);
  t.true(signal.aborted);
  await waitFor(() => pool.stats().open === 0, { message: 'the connection closed' });
});

test('handshake: a failure rejects one acquire; the others queued are served by the next dial', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  let attempt = 0;
  const handshake = () => {
    if (++attempt === 1) throw new Error('first one fails');
  };
  const [first, second, third] = [1, 2, 3].map(() => pool.acquire(server.dest, { handshake }));
  const err = await rejectsWithCode(t, first, 'HANDSHAKE_FAILED');
  t.is(err.cause.message, 'first one fails');
  const lease = await second;
  t.is((await roundTrip(lease.socket, 'second')).toString(), 'second');
  lease.release();
  const last = await third;
  t.true(last.reused, 'maxPerDestination 1: the third waited for the one connection');
  last.release();
  t.is(attempt, 2);
});

test('check: runs before each reuse; a check that fails every third time never fails an acquire', async (t) => {
  const server = await startServer(t);
  let calls = 0;
  const contexts = [];
  const pool = createPool(t, {
    check: (socket, context) => {
      contexts.push(context);
      t.true(socket instanceof net.Socket);
      return ++calls % 3 !== 0;
    },
  });
  for (let i = 0; i < 9; i++) {
    const lease = await pool.acquire(server.dest);
    t.is((await roundTrip(lease.socket, `req ${i}`)).toString(), `req ${i}`);
    lease.release();
  }
  const stats = pool.stats();
  // Leases 2..9 were reuses or fresh connections after a failed check; every third check failed.
  t.is(stats.connect.checks, calls);
  t.is(stats.connect.checksFailed, Math.floor(calls / 3));
  t.true(stats.connect.checksFailed >= 2);
  t.is((await server.stats()).accepted, 1 + stats.connect.checksFailed);
  t.true(contexts.every((c) => c.destination === server.dest && c.idleMs >= 0));
});

test('check: a throw, a rejection or no answer in time count as failed, never as errors', async (t) => {
  const server = await startServer(t);
  const answers = [() => { throw new Error('boom'); }, () => Promise.reject(new Error('nope')), () => new Promise(() => {}), () => true];
  let next = 0;
  const pool = createPool(t, { checkTimeout: 50, check: () => answers[next++ % answers.length]() });
  (await pool.acquire(server.dest)).release();
  for (let i = 0; i < 4; i++) (await pool.acquire(server.dest)).release();
  t.is(pool.stats().connect.checksFailed, 3);
  t.is(pool.stats().evicted.unhealthy, 3);
});

test('check: an acquire option overrides the pool\'s, and applies to hand-offs to waiters too', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1, check: () => true });
  const first = await pool.acquire(server.dest);
  let checked = 0;
  const waiting = pool.acquire(server.dest, {
    check: (_socket, context) => {
      checked++;
      t.is(context.idleMs, 0, 'handed straight over');
      return false;
    },
  });
  first.release();
  const lease = await waiting;
  t.is(checked, 1);
  t.false(lease.reused, 'the checked connection was closed; a fresh one was dialed');
  lease.release();
});

test('check: an acquire aborted while its check runs rejects with the reason; the connection goes back', async (t) => {
  const server = await startServer(t);
  let release;
  const pool = createPool(t, {
    check: () => new Promise((resolve) => {
      release = resolve;
    }),
  });
  (await pool.acquire(server.dest)).release();
  const controller = new AbortController();
  const pending = pool.acquire(server.dest, { signal: controller.signal });
  await waitFor(() => release !== undefined, { message: 'the check started' });
  controller.abort(new Error('gave up'));
  release(true);
  await t.throwsAsync(pending, { message: 'gave up' });
  await waitFor(() => pool.stats().idle === 1, { message: 'the connection is idle again' });
  t.is(pool.stats().inUse, 0);
});

test('check: a ping that writes and reads its answer passes, and leaves the socket as a lease expects', async (t) => {
  const server = await startServer(t);
  let pings = 0;
  const pool = createPool(t, {
    check: async (socket) => {
      pings++;
      return (await roundTrip(socket, 'PING')).toString() === 'PING';
    },
  });
  (await pool.acquire(server.dest)).release();
  for (let i = 0; i < 3; i++) {
    const lease = await pool.acquire(server.dest);
    t.true(lease.reused);
    t.is(lease.socket.readableFlowing, null);
    t.is(lease.socket.listenerCount('data'), 0);
    t.is((await roundTrip(lease.socket, `after ping ${i}`)).toString(), `after ping ${i}`);
    lease.release();
  }
  t.is(pings, 3);
  t.is(pool.stats().connect.checksFailed, 0);
  t.is((await server.stats()).accepted, 1);
});

test('check: a ping that leaves its answer unread fails the check (the next lease would read it)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, {
    check: async (socket) => {
      socket.write('PING');
      // The answer is in the socket's buffer, unread.
      await new Promise((resolve) => socket.once('readable', resolve));
      return true;
    },
  });
  (await pool.acquire(server.dest)).release();
  const lease = await pool.acquire(server.dest);
  t.false(lease.reused, 'the checked connection had an unread answer: closed, a fresh one dialed');
  lease.release();
  t.is(pool.stats().connect.checksFailed, 1);
});
