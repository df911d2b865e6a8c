// berth's TLS connections against a server it was not written with: Debian's nginx with TLS
// (helpers/nginx-tls.mjs; skipped with the reason where nginx is not installed, failed under CI).
import anyTest from 'ava';
import http2 from 'node:http2';
import https from 'node:https';
import { Pool } from 'berth-pool';
import { createPool, rejectsWithCode } from './helpers/pool.mjs';
import { fdCount, waitFor } from './helpers/net.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';
import { startNginxTls, useNginx } from './helpers/nginx-tls.mjs';

const { test } = useNginx(anyTest);
const certs = makeCerts();

/** GET `path` through `agent`; resolves { status, json }. */
function get(agent, port, path = '/') {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text) }));
      })
      .on('error', reject);
  });
}

test('Pool: a verified TLS connection to nginx, reused; ALPN as asked; sessions resumed', async (t) => {
  const nginx = await startNginxTls(t, { http2: true });
  const pool = createPool(t);
  const h2 = await pool.acquire(nginx.h2Dest, { tls: { ca: certs.ca, ALPNProtocols: ['h2', 'http/1.1'] } });
  t.is(h2.socket.alpnProtocol, 'h2');
  t.true(h2.socket.authorized);
  // Speak HTTP/2 over the pooled socket: a real request answers.
  const session = http2.connect(`https://${nginx.h2Dest}`, { createConnection: () => h2.socket });
  const status = await new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/' });
    req.on('response', (headers) => resolve(headers[':status']));
    req.on('error', reject);
    req.resume();
    req.end();
  });
  t.is(status, 200);
  session.destroy();
  h2.destroy();

  const h1 = { tls: { ca: certs.ca, ALPNProtocols: ['http/1.1'] } };
  const first = await pool.acquire(nginx.dest, h1);
  t.is(first.socket.alpnProtocol, 'http/1.1');
  first.socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await new Promise((resolve) => first.socket.once('data', resolve));
  first.destroy(); // the response was read in part only: not pooled
  const second = await pool.acquire(nginx.dest, h1);
  t.true(second.socket.isSessionReused(), 'the session of the first connection was resumed');
  second.destroy();
  t.true(pool.stats().connect.tlsResumed >= 1);
});

test('Pool: a self-signed nginx fails with TLS_FAILED and the cause; rejectUnauthorized: false connects', async (t) => {
  const nginx = await startNginxTls(t, { cert: 'self-signed' });
  const pool = createPool(t);
  const before = fdCount();
  const err = await rejectsWithCode(t, pool.acquire(nginx.dest, { tls: { ca: certs.ca } }), 'TLS_FAILED', nginx.dest);
  t.is(err.cause.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  await waitFor(() => pool.stats().open === 0 && fdCount() <= before, { message: 'the failed connection closed' });
  const lease = await pool.acquire(nginx.dest, { tls: { rejectUnauthorized: false } });
  t.false(lease.socket.authorized);
  lease.destroy();
});

test('HTTPS agent: GETs to nginx reuse one verified connection; mTLS presents the client certificate', async (t) => {
  const nginx = await startNginxTls(t, { requestCert: 'optional' });
  const pool = new Pool();
  t.teardown(() => pool.close());
  const agent = pool.httpsAgent({ ca: certs.ca });
  for (let i = 0; i < 5; i++) {
    const { status, json } = await get(agent, nginx.port);
    t.is(status, 200);
    t.is(json.requestOnConnection, i + 1, 'one connection serves every GET');
  }
  const mtls = pool.httpsAgent({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
  const { json } = await get(mtls, nginx.port);
  t.like(json.tls, { clientVerify: 'SUCCESS', clientSubject: 'CN=berth-client' });
  t.like(await nginx.stats(), { requests: 6, connections: 2 });
  agent.destroy();
  mtls.destroy();
});

test('HTTPS agent: nginx closing idle connections (keepalive_timeout) costs no failed GET', async (t) => {
  const nginx = await startNginxTls(t, { keepaliveTimeout: 100 });
  const pool = new Pool();
  t.teardown(() => pool.close());
  const agent = pool.httpsAgent({ ca: certs.ca });
  for (let i = 0; i < 4; i++) {
    t.is((await get(agent, nginx.port)).status, 200);
    // nginx closes the idle connection after its keepalive_timeout (close_notify + FIN); the
    // idle TLS connection, reading, sees it and is evicted without any acquire.
    await waitFor(() => pool.stats().evicted.peerClosed === i + 1, { message: `nginx's close of connection ${i + 1} seen` });
  }
  t.is(pool.stats().reused, 0);
  t.like(await nginx.stats(), { requests: 4, connections: 4 });
  agent.destroy();
});
