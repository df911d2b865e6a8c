// pool.listen with `peek`: the route's conn carries what the first bytes say (issue 17, section
// 2): the server name and ALPN of a TLS ClientHello (TLS itself untouched: the session is the
// client's with the upstream), or the method, path and Host of a plaintext HTTP/1 request; and
// nothing for anything else. Real clients: Node's tls, openssl s_client, curl.
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, sleep } from './helpers/net.mjs';
import { startUpstream, connect, readBytes } from './helpers/forward.mjs';
import { startTlsEcho } from './helpers/tls-echo.mjs';
import { startHttpsServer } from './helpers/https-upstream.mjs';
import { startHttpServer } from './fixtures/http-upstream.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';

const FIELDS = ['sni', 'alpn', 'host', 'method', 'path'];

/** A listener whose route records every conn and sends it where `pick(conn)` says. */
async function startProxy(t, options, pick) {
  const pool = createPool(t);
  const seen = [];
  const proxy = await pool.listen(options, (conn) => {
    seen.push(conn);
    return pick(conn);
  });
  t.teardown(() => proxy.close());
  return { port: proxy.address().port, seen };
}

/** Runs a program; resolves with { code, stdout, stderr } (never rejects; 20 s guard). */
function run(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal ?? 'error') : 0, stdout, stderr });
    });
  });
}

/** A TLS connection through the listener; resolves once the handshake is done. */
function tlsConnect(t, port, options) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: makeCerts().ca, ...options }, () => resolve(socket));
    socket.once('error', reject);
    t.teardown(() => socket.destroy());
  });
}

/**
 * Sends each of `inputs` through the listener on `port` (one connection each, in order) and
 * checks that it was relayed intact and routed with every sniffed field undefined and the
 * bytes as its head (`seen`: the route's conns, in order).
 */
async function assertRelayedUnparsed(t, port, seen, inputs) {
  for (const [i, bytes] of inputs.entries()) {
    const client = await connect(t, port);
    t.deepEqual(await roundTrip(client, bytes), bytes, `input #${i} relayed`);
    client.destroy();
    const conn = seen[i];
    for (const key of FIELDS) t.is(conn[key], undefined, `input #${i}: no ${key}`);
    t.deepEqual(conn.head, bytes, `input #${i}: the head is what was sent`);
  }
}

test('a Node TLS client: conn.sni and conn.alpn from its ClientHello; the TLS session is the upstream\'s, end to end', async (t) => {
  const upstream = await startTlsEcho(t, { alpn: ['h2', 'http/1.1'] });
  const { port, seen } = await startProxy(t, { peek: 1024 }, () => upstream.dest);
  // The upstream's certificate is for localhost/127.0.0.1: checked against that, not api.test.
  const socket = await tlsConnect(t, port, {
    servername: 'api.test',
    ALPNProtocols: ['h2', 'http/1.1'],
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity('localhost', cert),
  });
  t.true(socket.authorized, 'the upstream\'s certificate, verified by the client');
  t.is(socket.alpnProtocol, 'h2', 'ALPN negotiated with the upstream');
  t.is((await roundTrip(socket, 'over TLS through the listener')).toString(), 'over TLS through the listener');
  t.is(seen.length, 1);
  const [conn] = seen;
  t.is(conn.sni, 'api.test');
  t.deepEqual(conn.alpn, ['h2', 'http/1.1']);
  t.is(conn.head[0], 22, 'the head is the ClientHello record');
  for (const key of ['host', 'method', 'path']) t.false(key in conn, `no ${key} for TLS`);
  t.deepEqual((await upstream.stats()).alpn, ['h2']);
});

test('curl over https: conn.sni is the URL\'s host and conn.alpn curl\'s offer; the response comes back verified', async (t) => {
  const upstream = await startHttpsServer(t);
  const { port, seen } = await startProxy(t, { peek: 2048 }, () => upstream.dest);
  const out = await run('/usr/bin/curl', [
    '-sS', '--cacert', upstream.certs.caPath, '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/x?y=1`,
  ]);
  t.is(out.code, 0, `curl exit code (stderr: ${out.stderr})`);
  t.like(JSON.parse(out.stdout), { method: 'GET', url: '/x?y=1' });
  t.is(seen.length, 1);
  t.is(seen[0].sni, 'localhost');
  t.true(seen[0].alpn.includes('http/1.1'), `curl offers http/1.1: ${seen[0].alpn}`);
  t.is(seen[0].path, undefined, 'the request inside TLS is not read');
});

test('openssl s_client -servername -alpn: conn.sni and conn.alpn; its bytes echo back through TLS', async (t) => {
  const upstream = await startTlsEcho(t);
  const { port, seen } = await startProxy(t, { peek: 1024 }, () => upstream.dest);
  const child = spawn('openssl', [
    's_client', '-quiet', '-connect', `127.0.0.1:${port}`, '-servername', 'x.test', '-alpn', 'h2,http/1.1',
    '-CAfile', makeCerts().caPath,
  ], { stdio: ['pipe', 'pipe', 'ignore'] });
  t.teardown(() => child.kill());
  const echoed = new Promise((resolve, reject) => {
    let out = '';
    const guard = setTimeout(() => reject(new Error(`no echo from s_client in 20 s (got ${JSON.stringify(out)})`)), 20_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('ping from openssl')) {
        clearTimeout(guard);
        resolve(out);
      }
    });
  });
  child.stdin.write('ping from openssl\n');
  t.true((await echoed).includes('ping from openssl'));
  t.is(seen.length, 1);
  t.is(seen[0].sni, 'x.test');
  t.deepEqual(seen[0].alpn, ['h2', 'http/1.1']);
});

test('curl over plain HTTP: conn.host, conn.method and conn.path from the request head', async (t) => {
  const upstream = await startHttpServer(t);
  const { port, seen } = await startProxy(t, { peek: 1024 }, () => upstream.dest);
  const out = await run('/usr/bin/curl', ['-sS', '-H', 'Host: x.test', `http://127.0.0.1:${port}/a/b?c`]);
  t.is(out.code, 0, `curl exit code (stderr: ${out.stderr})`);
  t.like(JSON.parse(out.stdout), { method: 'GET', url: '/a/b?c' });
  t.is(seen.length, 1);
  t.like(seen[0], { host: 'x.test', method: 'GET', path: '/a/b?c' });
  t.false('sni' in seen[0]);
  t.false('alpn' in seen[0]);
});

test('bytes that are neither TLS nor HTTP/1: every field undefined, not waited on, and the session still relays', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  // A long peekTimeout: bytes that are no ClientHello or request head are routed with what came
  // first, not waited on (else the round trips below would time out).
  const { port, seen } = await startProxy(t, { peek: 1024, peekTimeout: 60_000 }, () => upstream.dest);
  const inputs = [
    Buffer.from([0xff, 0x00, 0x13, 0x37, 0x0a, 0x0d, 0x0a, 0x16, 0x03, 0x01]),
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]), // a handshake, not a ClientHello
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'),
    Buffer.from('*1\r\n$4\r\nPING\r\n'),
  ];
  await assertRelayedUnparsed(t, port, seen, inputs);
});

test('a ClientHello or request line cut off for good: routed at peekTimeout with the fields undefined, and relayed', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const { port, seen } = await startProxy(t, { peek: 1024, peekTimeout: 200 }, () => upstream.dest);
  const hello = await captureHello({ servername: 'cut.test' });
  const inputs = [
    hello.subarray(0, 60), // ends before the extensions
    Buffer.from('GET /no-line-end HTTP/1.1'),
  ];
  await assertRelayedUnparsed(t, port, seen, inputs);
});

test('without peek nothing is parsed: a TLS client\'s conn has no sni', async (t) => {
  const upstream = await startTlsEcho(t);
  const { port, seen } = await startProxy(t, {}, () => upstream.dest);
  const socket = await tlsConnect(t, port, { servername: 'localhost' });
  t.is((await roundTrip(socket, 'x')).toString(), 'x');
  for (const key of FIELDS) t.false(key in seen[0], `no ${key}`);
});

test('routing by SNI: two names, two upstreams, each client verifies its own upstream\'s certificate', async (t) => {
  const local = await startTlsEcho(t, { cert: 'server' });
  const other = await startTlsEcho(t, { cert: 'other' });
  const routes = { 'localhost': local.dest, 'other.test': other.dest };
  const { port, seen } = await startProxy(t, { peek: 1024 }, (conn) => routes[conn.sni] ?? null);
  // Default checks: each name must match the certificate of the upstream it reached.
  const a = await tlsConnect(t, port, { servername: 'other.test', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('other.test', cert) });
  const b = await tlsConnect(t, port, { servername: 'localhost', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('localhost', cert) });
  t.is((await roundTrip(a, 'to other')).toString(), 'to other');
  t.is((await roundTrip(b, 'to local')).toString(), 'to local');
  t.is(a.getPeerCertificate().subject.CN, 'other.test');
  t.is(b.getPeerCertificate().subject.CN, 'localhost');
  t.deepEqual(seen.map((conn) => conn.sni), ['other.test', 'localhost']);
  t.is((await local.stats()).accepted, 1);
  t.is((await other.stats()).accepted, 1);
  // An unknown name is refused by this route: the handshake fails, nothing reaches either.
  await t.throwsAsync(tlsConnect(t, port, { servername: 'nobody.test' }));
  t.is((await local.stats()).accepted + (await other.stats()).accepted, 2);
});

test('a route remembered by key "sni" (or "host") routes later connections with the same name without calling JS', async (t) => {
  const upstream = await startTlsEcho(t);
  const echo = await startUpstream(t, { mode: 'echo' });
  const { port, seen } = await startProxy(t, { peek: 1024 }, (conn) =>
    conn.sni !== undefined
      ? { dest: upstream.dest, cacheFor: 60_000, key: 'sni' }
      : { dest: echo.dest, cacheFor: 60_000, key: 'host' });
  for (const name of ['a.test', 'a.test', 'b.test', 'a.test']) {
    const socket = await tlsConnect(t, port, { servername: name, checkServerIdentity: () => undefined });
    t.is((await roundTrip(socket, name)).toString(), name);
    socket.destroy();
  }
  t.deepEqual(seen.map((conn) => conn.sni), ['a.test', 'b.test'], 'JS asked once per name');
  for (const host of ['x.test', 'x.test', 'y.test']) {
    const client = await connect(t, port);
    const request = `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    t.is((await roundTrip(client, request)).toString(), request);
    client.destroy();
  }
  t.deepEqual(seen.slice(2).map((conn) => conn.host), ['x.test', 'y.test'], 'JS asked once per host');
});

test('a ClientHello or a request head that arrives in two segments: the listener peeks again until the name is in', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const { port, seen } = await startProxy(t, { peek: 4096, peekTimeout: 30_000 }, () => upstream.dest);
  const hello = await captureHello({ servername: 'split.test', ALPNProtocols: ['h2'] });
  const head = Buffer.from('GET /split HTTP/1.1\r\nUser-Agent: test\r\nHost: split.test\r\n\r\n');
  // Cut within the hello's fixed part, and before the Host line.
  for (const [bytes, cut] of [[hello, 100], [head, 30]]) {
    const client = await connect(t, port);
    client.setNoDelay(true);
    const echoed = readBytes(client, bytes.length);
    client.write(bytes.subarray(0, cut));
    // Long enough for the engine to peek the first part alone (a pass does not depend on it).
    await sleep(200);
    client.write(bytes.subarray(cut));
    t.deepEqual(await echoed, bytes, 'every byte relayed, in order');
    client.destroy();
  }
  t.is(seen.length, 2);
  t.like(seen[0], { sni: 'split.test', alpn: ['h2'] });
  t.is(seen[0].head.length, hello.length, 'the route saw the whole hello');
  t.like(seen[1], { host: 'split.test', method: 'GET', path: '/split' });
});

/** The first bytes a Node TLS client sends (its ClientHello), caught by a plain TCP server. */
async function captureHello(options) {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const got = new Promise((resolve) => server.once('connection', (s) => s.once('data', (d) => { resolve(d); s.destroy(); })));
    const client = tls.connect({ host: '127.0.0.1', port: server.address().port, ...options });
    client.on('error', () => {});
    const bytes = await got;
    client.destroy();
    return bytes;
  } finally {
    server.close();
  }
}
