// TLS upstreams: pooled, verified TLS connections keyed by their TLS identity, against a Node
// TLS server in a child process with certificates made by openssl for the test.
import test from 'ava';
import tls from 'node:tls';
import { createPool, rejectsWithCode } from './helpers/pool.mjs';
import { fdCount, roundTrip, sleep, waitFor } from './helpers/net.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';
import { startTlsEcho } from './helpers/tls-echo.mjs';

const certs = makeCerts();

test('a TLS lease is a verified tls.TLSSocket, kept across leases', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t);
  const options = { tls: { ca: certs.ca } };
  const first = await pool.acquire(server.dest, options);
  t.true(first.socket instanceof tls.TLSSocket);
  t.true(first.socket.authorized);
  t.false(first.reused);
  t.is((await roundTrip(first.socket, 'hello')).toString(), 'hello');
  first.release();
  const second = await pool.acquire(server.dest, options);
  t.true(second.reused, 'the same TLS connection is reused');
  t.is(second.socket, first.socket);
  t.is((await roundTrip(second.socket, 'again')).toString(), 'again');
  second.release();
  t.is((await server.stats()).accepted, 1);
  const stats = pool.stats();
  t.is(stats.connect.handshakes, 1);
  t.is(stats.connect.tlsFull, 1);
  const [dest] = pool.snapshot().destinations;
  t.is(dest.destination, server.dest);
  t.regex(dest.profile, /^tls [0-9a-f]{16}$/);
});

test('tls: true uses the defaults (Node CA store): a private CA is refused with TLS_FAILED', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t);
  const err = await rejectsWithCode(t, pool.acquire(server.dest, { tls: true }), 'TLS_FAILED', server.dest);
  // The server sends its chain with the private root: which of the two Node reports depends on that.
  t.true(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN'].includes(err.cause.code), err.cause.code);
  t.is(pool.stats().connect.handshakesFailed, 1);
});

for (const [cert, code] of [
  ['self-signed', 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  ['expired', 'CERT_HAS_EXPIRED'],
  ['other', 'ERR_TLS_CERT_ALTNAME_INVALID'],
]) {
  test.serial(`a ${cert} server certificate fails with TLS_FAILED and ${code} as the cause`, async (t) => {
    const server = await startTlsEcho(t, { cert });
    const pool = createPool(t);
    const before = fdCount();
    const err = await rejectsWithCode(t, pool.acquire(server.dest, { tls: { ca: certs.ca } }), 'TLS_FAILED', server.dest);
    t.is(err.cause.code, code);
    t.notRegex(err.message, /BEGIN CERTIFICATE/);
    // The failed connection is closed, and its place is free again.
    await waitFor(() => pool.stats().open === 0 && fdCount() <= before, { message: 'the failed connection closed' });
    t.is(pool.stats().dialFailures, 1);
  });
}

test('rejectUnauthorized: false accepts a self-signed server, under its own pool key', async (t) => {
  const server = await startTlsEcho(t, { cert: 'self-signed' });
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest, { tls: { rejectUnauthorized: false } });
  t.false(lease.socket.authorized);
  t.is((await roundTrip(lease.socket, 'x')).toString(), 'x');
  lease.release();
  // The strict identity never receives the unverified connection, and fails on its own.
  await rejectsWithCode(t, pool.acquire(server.dest, { tls: { ca: certs.ca } }), 'TLS_FAILED');
  t.is(pool.snapshot().destinations.filter((d) => d.idle === 1).length, 1);
});

test('mTLS: the client certificate is presented; without one the handshake fails', async (t) => {
  const server = await startTlsEcho(t, { requestCert: true, maxVersion: 'TLSv1.2' });
  const pool = createPool(t);
  const lease = await pool.acquire(server.dest, { tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key } });
  t.is((await roundTrip(lease.socket, 'mtls')).toString(), 'mtls');
  lease.release();
  t.deepEqual((await server.stats()).clientSubjects, ['berth-client']);
  // TLS 1.2: the server's refusal comes within the handshake.
  await rejectsWithCode(t, pool.acquire(server.dest, { tls: { ca: certs.ca } }), 'TLS_FAILED');
});

test('ALPN: the protocol asked for is negotiated, and part of the pool key', async (t) => {
  const server = await startTlsEcho(t, { alpn: ['h2', 'http/1.1'] });
  const pool = createPool(t);
  const h2 = await pool.acquire(server.dest, { tls: { ca: certs.ca, ALPNProtocols: ['h2'] } });
  const h1 = await pool.acquire(server.dest, { tls: { ca: certs.ca, ALPNProtocols: ['http/1.1'] } });
  t.is(h2.socket.alpnProtocol, 'h2');
  t.is(h1.socket.alpnProtocol, 'http/1.1');
  h2.release();
  h1.release();
  const again = await pool.acquire(server.dest, { tls: { ca: certs.ca, ALPNProtocols: ['http/1.1'] } });
  t.true(again.reused);
  t.is(again.socket.alpnProtocol, 'http/1.1');
  again.release();
});

test('two TLS identities to one host:port never share a connection', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const a = { tls: { ca: certs.ca, servername: 'localhost' } };
  const b = { tls: { ca: certs.ca } };
  for (let round = 0; round < 3; round++) {
    for (const options of [a, b]) {
      const lease = await pool.acquire(server.dest, options);
      t.is(lease.socket.servername ?? false, options.tls.servername ?? false);
      // A round trip: the server has seen the handshake finish (TLS 1.3 lets the client finish first).
      await roundTrip(lease.socket, 'x');
      lease.release();
    }
  }
  // One connection per identity (maxPerDestination applies to each), each reused.
  t.is((await server.stats()).accepted, 2);
  const plain = await pool.acquire(server.dest);
  t.false(plain.socket instanceof tls.TLSSocket, 'a plain acquire gets a plain connection');
  plain.destroy();
  const profiles = pool.snapshot().destinations.map((d) => d.profile).sort();
  t.is(new Set(profiles).size, 3);
});

test('sessions are resumed on new connections of the same identity', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t);
  const options = { tls: { ca: certs.ca } };
  const first = await pool.acquire(server.dest, options);
  // TLS 1.3 tickets arrive after the handshake: reading gets them.
  await roundTrip(first.socket, 'ticket');
  first.destroy();
  const second = await pool.acquire(server.dest, options);
  t.false(second.reused);
  t.true(second.socket.isSessionReused());
  await roundTrip(second.socket, 'resumed');
  second.destroy();
  const s = await server.stats();
  t.is(s.tlsFull, 1);
  t.is(s.tlsResumed, 1);
  t.like(pool.stats().connect, { tlsFull: 1, tlsResumed: 1 });
});

test('maxCachedSessions: 0 turns resumption off', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t, { maxCachedSessions: 0 });
  for (let i = 0; i < 2; i++) {
    const lease = await pool.acquire(server.dest, { tls: { ca: certs.ca } });
    await roundTrip(lease.socket, 'x');
    t.false(lease.socket.isSessionReused());
    lease.destroy();
  }
  t.is((await server.stats()).tlsFull, 2);
});

test('session tickets arriving while the connection is idle do not make it look dirty', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t);
  const options = { tls: { ca: certs.ca } };
  // Released without reading: the server's tickets reach the socket while it is idle.
  (await pool.acquire(server.dest, options)).release();
  await sleep(100);
  const lease = await pool.acquire(server.dest, options);
  t.true(lease.reused);
  t.is((await roundTrip(lease.socket, 'still good')).toString(), 'still good');
  lease.release();
  t.is(pool.stats().evicted.unhealthy, 0);
});

test('application data arriving on an idle TLS connection evicts it: the next lease never reads it', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t);
  const options = { tls: { ca: certs.ca } };
  const lease = await pool.acquire(server.dest, options);
  await roundTrip(lease.socket, 'x');
  lease.release();
  t.is(await server.sendAll('unsolicited'), 1);
  await waitFor(() => pool.stats().evicted.unhealthy === 1, { message: 'the idle connection was evicted' });
  const next = await pool.acquire(server.dest, options);
  t.false(next.reused);
  t.is((await roundTrip(next.socket, 'clean')).toString(), 'clean');
  next.release();
});

test('a reply a lease left unread, arriving after the release, never reaches the next lease', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t);
  const options = { tls: { ca: certs.ca } };
  const lease = await pool.acquire(server.dest, options);
  await roundTrip(lease.socket, 'warm up');
  lease.socket.write('the reply to this is never read');
  lease.release();
  await waitFor(() => pool.stats().evicted.unhealthy === 1, { message: 'the echo evicted the idle connection' });
  const next = await pool.acquire(server.dest, options);
  t.is((await roundTrip(next.socket, 'mine')).toString(), 'mine');
  next.release();
});

for (const [how, act] of [
  ['closes idle TLS connections (close_notify + FIN)', (server) => server.closeIdle()],
  ['drops them without close_notify (FIN only)', (server) => server.dropAll()],
]) {
  test(`a server that ${how}: the next acquire gets a fresh, working connection`, async (t) => {
    const server = await startTlsEcho(t);
    const pool = createPool(t);
    const options = { tls: { ca: certs.ca } };
    const lease = await pool.acquire(server.dest, options);
    await roundTrip(lease.socket, 'x');
    lease.release();
    await act(server);
    await waitFor(async () => (await server.stats()).open === 0, { message: 'the server closed its side' });
    // The close reached this host; the acquire must not hand out the closed connection.
    await sleep(20);
    const next = await pool.acquire(server.dest, options);
    t.false(next.reused);
    t.is((await roundTrip(next.socket, 'fresh')).toString(), 'fresh');
    next.release();
    t.is(pool.stats().evicted.peerClosed, 1);
  });
}

test.serial('a server that never answers the TLS handshake fails it with HANDSHAKE_TIMEOUT', async (t) => {
  const server = await startTlsEcho(t, { kind: 'mute' });
  const pool = createPool(t, { handshakeTimeout: 200 });
  const before = fdCount();
  await rejectsWithCode(t, pool.acquire(server.dest, { tls: { ca: certs.ca } }), 'HANDSHAKE_TIMEOUT', server.dest);
  await waitFor(() => pool.stats().open === 0 && fdCount() <= before, { message: 'the connection closed' });
  t.is(pool.stats().connect.handshakesTimedOut, 1);
});

test('a pool-wide tls option applies to every acquire; tls: false opts out', async (t) => {
  const server = await startTlsEcho(t);
  const pool = createPool(t, { tls: { ca: certs.ca } });
  const lease = await pool.acquire(server.dest);
  t.true(lease.socket instanceof tls.TLSSocket);
  t.is((await roundTrip(lease.socket, 'pool-wide')).toString(), 'pool-wide');
  lease.release();
  t.is(await pool.warm(server.dest, 2), 2);
  const reply = await pool.use(server.dest, (socket) => roundTrip(socket, 'use'));
  t.is(reply.toString(), 'use');
  const plain = await pool.acquire(server.dest, { tls: false });
  t.false(plain.socket instanceof tls.TLSSocket);
  plain.destroy();
});

test('acquireMany takes TLS options for every destination', async (t) => {
  const servers = [await startTlsEcho(t), await startTlsEcho(t)];
  const pool = createPool(t);
  const leases = [];
  for await (const lease of pool.acquireMany(servers.map((s) => s.dest), { tls: { ca: certs.ca } })) leases.push(lease);
  t.is(leases.length, 2);
  for (const lease of leases) {
    t.true(lease.socket.authorized);
    lease.release();
  }
});

test.serial('closing the pool during a handshake rejects the acquire with POOL_CLOSED and leaks nothing', async (t) => {
  const server = await startTlsEcho(t, { kind: 'mute' });
  const pool = createPool(t, { handshakeTimeout: 60_000 });
  const before = fdCount();
  const pending = pool.acquire(server.dest, { tls: { ca: certs.ca } });
  const refused = rejectsWithCode(t, pending, 'POOL_CLOSED');
  await waitFor(async () => (await server.stats()).accepted === 1, { message: 'the dial reached the server' });
  await pool.close();
  await refused;
  t.true(fdCount() <= before, `${fdCount()} descriptors open, ${before} before`);
});

test('bad TLS and hook options are TypeErrors that name the option', async (t) => {
  const pool = createPool(t);
  await t.throwsAsync(pool.acquire('127.0.0.1:1', { tls: 'yes' }), { instanceOf: TypeError, message: /acquire option tls/ });
  await t.throwsAsync(pool.acquire('127.0.0.1:1', { tls: { socket: null } }), { instanceOf: TypeError, message: /socket/ });
  await t.throwsAsync(pool.acquire('127.0.0.1:1', { tls: { session: Buffer.alloc(1) } }), { instanceOf: TypeError, message: /session/ });
  await t.throwsAsync(pool.acquire('127.0.0.1:1', { handshake: 1 }), { instanceOf: TypeError, message: /handshake/ });
  await t.throwsAsync(pool.acquire('127.0.0.1:1', { check: 'no' }), { instanceOf: TypeError, message: /check/ });
  t.throws(() => createPool(t, { tls: 3 }), { instanceOf: TypeError, message: /tls/ });
  t.throws(() => createPool(t, { handshakeTimeout: 0 }), { instanceOf: TypeError, message: /handshakeTimeout/ });
  t.throws(() => createPool(t, { maxCachedSessions: -1 }), { instanceOf: TypeError, message: /maxCachedSessions/ });
  t.is(pool.stats().open, 0);
});
