// pool.httpsAgent(): an https.Agent on the pool's TLS connections, against a Node https server
// in a child process with certificates made at test time: verified by default, TLS failures as
// TLS_FAILED with Node's error as cause, rejectUnauthorized: false, TLS identities never share a
// connection, servers that close or forget idle connections, descriptors.
import test from 'ava';
import https from 'node:https';
import tls from 'node:tls';
import { HttpsAgent, Pool, BerthError } from 'berth-pool';
import { createPool, settledStats } from './helpers/pool.mjs';
import { fdCount, range, sleep, waitFor } from './helpers/net.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';
import { startHttpServer, request, targetOf } from './fixtures/http-upstream.mjs';

const certs = makeCerts();

/** An HTTPS upstream serving `which` certificate (default: the CA-signed localhost one). */
function startHttpsServer(t, which = 'server', options = {}) {
  return startHttpServer(t, { ...options, tls: { keyPath: certs[which].keyPath, certPath: certs[which].certPath } });
}

test('https.request through the agent: verified against the given CA, TLS sockets reused; an https.Agent', async (t) => {
  const server = await startHttpsServer(t);
  const pool = createPool(t);
  const agent = pool.httpsAgent({ ca: certs.ca });
  t.true(agent instanceof https.Agent);
  t.like(agent, { protocol: 'https:', defaultPort: 443, keepAlive: true });
  const replies = [];
  for (const _ of range(3)) replies.push(await request(agent, targetOf(server, '/')));
  t.true(replies.every((r) => r.status === 200));
  t.deepEqual(replies.map((r) => r.json.requestOnConnection), [1, 2, 3]);
  t.deepEqual(replies.map((r) => r.reusedSocket), [false, true, true]);
  const socket = replies[2].req.socket;
  t.true(socket instanceof tls.TLSSocket);
  t.true(socket.authorized);
  t.like(pool.stats(), { created: 1, reused: 2 });
  t.is((await server.stats()).accepted, 1);
  // By name too: localhost is in the certificate.
  const byName = await request(agent, { host: 'localhost', port: server.port, path: '/' });
  t.is(byName.status, 200);
});

test('without the CA, a wrong CA, an expired, a wrong-host and a self-signed certificate fail with TLS_FAILED and Node\'s cause', async (t) => {
  const servers = {
    server: await startHttpsServer(t),
    expired: await startHttpsServer(t, 'expired'),
    other: await startHttpsServer(t, 'other'),
    selfSigned: await startHttpsServer(t, 'selfSigned'),
  };
  const pool = createPool(t);
  const cases = [
    [servers.server, {}, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    [servers.server, { ca: certs.otherCa }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    [servers.expired, { ca: certs.ca }, 'CERT_HAS_EXPIRED'],
    [servers.other, { ca: certs.ca }, 'ERR_TLS_CERT_ALTNAME_INVALID'],
    [servers.selfSigned, { ca: certs.ca }, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  ];
  for (const [server, options, cause] of cases) {
    const agent = pool.httpsAgent(options);
    const err = await t.throwsAsync(request(agent, targetOf(server, '/')));
    t.true(err instanceof BerthError, `${cause}: ${err}`);
    t.is(err.code, 'TLS_FAILED');
    t.is(err.cause?.code, cause);
  }
  // Per request too (request options: an agent without its own ca).
  const agent = pool.httpsAgent();
  const err = await t.throwsAsync(request(agent, targetOf(servers.server, '/'), { ca: certs.otherCa }));
  t.is(err.code, 'TLS_FAILED');
  const ok = await request(agent, targetOf(servers.server, '/'), { ca: certs.ca });
  t.is(ok.status, 200);
  const s = await settledStats(pool, { inUse: 0 });
  t.is(s.inUse, 0);
});

test('rejectUnauthorized: false connects to an unverifiable server, on the agent or per request', async (t) => {
  const server = await startHttpsServer(t, 'selfSigned');
  const pool = createPool(t);
  const lax = pool.httpsAgent({ rejectUnauthorized: false });
  const a = await request(lax, targetOf(server, '/'));
  t.is(a.status, 200);
  t.false(a.req.socket.authorized);
  const strict = pool.httpsAgent();
  const b = await request(strict, targetOf(server, '/'), { rejectUnauthorized: false });
  t.is(b.status, 200);
  // The verified identity does not get the unverified connections.
  const err = await t.throwsAsync(request(strict, targetOf(server, '/')));
  t.is(err.code, 'TLS_FAILED');
});

test('two different ca or servername never share a connection; the same identity reuses its own', async (t) => {
  const server = await startHttpsServer(t);
  const pool = createPool(t);
  const agent = pool.httpsAgent();
  const target = targetOf(server, '/');
  const identities = [
    { ca: certs.ca },
    { ca: [certs.ca, certs.otherCa] },
    { ca: certs.ca, servername: 'localhost' },
    { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
  ];
  const first = [];
  for (const options of identities) first.push(await request(agent, target, options));
  const second = [];
  for (const options of identities) second.push(await request(agent, target, options));
  t.deepEqual(first.map((r) => r.reusedSocket), [false, false, false, false]);
  t.deepEqual(second.map((r) => r.reusedSocket), [true, true, true, true]);
  const connections = first.map((r) => r.json.connection);
  t.is(new Set(connections).size, 4, 'one connection per identity');
  t.deepEqual(second.map((r) => r.json.connection), connections, 'each identity reuses its own');
  t.is((await server.stats()).accepted, 4);
  // The pool keys them apart: one destination, four profiles.
  t.is(pool.snapshot().destinations.filter((d) => d.destination.endsWith(`:${server.port}`)).length, 4);
});

test('mTLS: the client certificate of the agent or of a request is presented; without one the server refuses', async (t) => {
  const server = await startHttpServer(t, { tls: { keyPath: certs.server.keyPath, certPath: certs.server.certPath, clientCaPath: certs.caPath } });
  const pool = createPool(t);
  const withCert = pool.httpsAgent({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
  const a = await request(withCert, targetOf(server, '/'));
  const b = await request(withCert, targetOf(server, '/'));
  t.is(a.status, 200);
  t.true(b.reusedSocket);
  const perRequest = pool.httpsAgent({ ca: certs.ca });
  const c = await request(perRequest, targetOf(server, '/'), { cert: certs.client.cert, key: certs.client.key });
  t.is(c.status, 200);
  // The same agent, no certificate: another identity, and the server refuses it.
  await t.throwsAsync(request(perRequest, targetOf(server, '/')));
  t.is((await server.stats()).requests, 3);
});

for (const [kind, options, pause] of [
  // No Keep-Alive hint (it would say timeout=0 and rule out every reuse).
  ['closes idle TLS connections', { keepAliveTimeout: 150, noHint: true }, [100, 200]],
  ['drops idle TLS connections silently (answers their next request with a reset)', { forgetAfter: 100, keepAliveTimeout: 60_000, noHint: true }, [50, 150]],
]) {
  test(`a server that ${kind}: zero failed GETs`, async (t) => {
    const server = await startHttpsServer(t, 'server', options);
    const pool = createPool(t);
    const agent = pool.httpsAgent({ ca: certs.ca });
    const failures = [];
    const GETS = 24;
    for (let i = 0; i < GETS; i++) {
      try {
        const r = await request(agent, targetOf(server, '/'));
        if (r.status !== 200) throw new Error(`status ${r.status}`);
      } catch (error) {
        failures.push(error.code ?? error.message);
      }
      // Around the server's idle limit: some connections are still fresh, some gone.
      await sleep(pause[i % 2]);
    }
    t.deepEqual(failures, [], `${failures.length} of ${GETS} GETs failed`);
    t.log(pool.stats().reused, 'reused of', GETS, ';', (await server.stats()).forgotten, 'forgotten by the server');
  });
}

test('no descriptor leaks: TLS connections, failed handshakes and a destroyed agent leave nothing open', async (t) => {
  const server = await startHttpsServer(t);
  const bad = await startHttpsServer(t, 'expired');
  // Warm up what the process opens once (the TLS library, the pool's runtime).
  {
    const warm = new Pool();
    await request(warm.httpsAgent({ ca: certs.ca }), targetOf(server, '/')).catch(() => {});
    await warm.close();
  }
  const before = fdCount();
  const pool = new Pool({ maxPerDestination: 4 });
  const agent = pool.httpsAgent({ ca: certs.ca });
  await Promise.all(range(8).map(() => request(agent, targetOf(server, '/'))));
  await Promise.all(range(4).map(() => request(agent, targetOf(bad, '/')).catch((e) => e.code)));
  const own = new HttpsAgent({ ca: certs.ca });
  await request(own, targetOf(server, '/'));
  own.destroy();
  await own.pool.close();
  await pool.close();
  await waitFor(() => fdCount() <= before, { message: `descriptors back to ${before}` });
  t.true(fdCount() <= before);
});

test('options: http.Agent\'s and TLS options on the agent; pool options for an agent of its own; bad ones are TypeErrors', async (t) => {
  const server = await startHttpsServer(t);
  const agent = new HttpsAgent({ ca: certs.ca, maxSockets: 2, keepAlive: true, connectTimeout: 3000 });
  t.teardown(() => agent.destroy());
  t.like(agent.pool.options, { maxPerDestination: 2, connectTimeout: 3000 });
  t.is(agent.options.ca, certs.ca);
  const replies = await Promise.all(range(4).map(() => request(agent, targetOf(server, '/slow/20'))));
  t.true(replies.every((r) => r.status === 200));
  t.true((await server.stats()).maxOpen <= 2);
  const pool = createPool(t);
  t.throws(() => pool.httpsAgent({ maxSockets: 99 }), { instanceOf: TypeError, message: /shared pool/ });
  t.throws(() => pool.httpsAgent({ caa: 'x' }), { instanceOf: TypeError, message: /unknown HttpsAgent option "caa"/ });
  t.throws(() => new HttpsAgent({ scheduling: 'filo' }), { code: 'ERR_INVALID_ARG_VALUE' });
  // http: requests are Node's to refuse with this agent.
  await t.throwsAsync(request(pool.httpsAgent(), targetOf(server, '/'), { protocol: 'http:' }), { code: 'ERR_INVALID_PROTOCOL' });
});
