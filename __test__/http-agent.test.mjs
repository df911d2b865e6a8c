// pool.httpAgent(): an http.Agent on the pool's connections. Basic use, reuse, Connection: close,
// Keep-Alive hints, errors, limits, destroy, close, options.
import test from 'ava';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Pool, HttpAgent, BerthError } from 'berth-pool';
import { createPool, settledStats } from './helpers/pool.mjs';
import { refusedPort, sleep, range, waitFor } from './helpers/net.mjs';
import { startHttpServer, request, targetOf } from './fixtures/http-upstream.mjs';

test('http.get and http.request (GET, POST) through the agent; later requests reuse the connection', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  t.true(agent instanceof http.Agent);
  t.true(agent instanceof HttpAgent);

  const got = await new Promise((resolve, reject) => {
    http.get(`${server.origin}/via-get`, { agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text) }));
    }).on('error', reject);
  });
  t.is(got.status, 200);
  t.like(got.json, { method: 'GET', url: '/via-get', requestOnConnection: 1 });

  const posted = await request(agent, targetOf(server, '/post'), { method: 'POST', body: 'hello body' });
  t.like(posted.json, { method: 'POST', body: 'hello body', connection: got.json.connection, requestOnConnection: 2 });
  t.true(posted.reusedSocket);

  const s = pool.stats();
  t.like(s, { created: 1, reused: 1, inUse: 0, idle: 1 });
  t.is((await server.stats()).accepted, 1);
});

test('a connection the agent returns is clean for the next lease, HTTP or not', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent({ timeout: 5_000 });
  await request(agent, targetOf(server, '/'), { timeout: 3_000 });
  const lease = await pool.acquire(server.dest);
  t.true(lease.reused);
  const s = lease.socket;
  t.is(s._httpMessage, null);
  t.is(s.parser ?? null, null);
  for (const event of ['data', 'free', 'timeout', 'drain']) t.is(s.listenerCount(event), 0, `no '${event}' listener left`);
  t.is(s.readableFlowing, null);
  t.is(s.timeout ?? 0, 0);
  // A raw HTTP exchange on it works: nothing is left of the previous request.
  s.write(`GET /raw HTTP/1.1\r\nHost: x\r\n\r\n`);
  const reply = await new Promise((resolve) => {
    let text = '';
    const onData = (d) => {
      text += d;
      if (text.includes('"url":"/raw"')) { s.off('data', onData); resolve(text); }
    };
    s.on('data', onData);
  });
  t.regex(reply, /^HTTP\/1\.1 200/);
  lease.destroy();
});

test('a response with Connection: close: the connection is closed, not reused', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const first = await request(agent, targetOf(server, '/close'));
  t.is(first.headers.connection, 'close');
  const second = await request(agent, targetOf(server, '/'));
  t.false(second.reusedSocket);
  t.not(second.json.connection, first.json.connection);
  const s = await settledStats(pool, { created: 2, reused: 0, inUse: 0, open: 1 });
  t.like(s, { created: 2, reused: 0, inUse: 0, open: 1 });
});

test('a request with Connection: close is not kept either', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  await request(agent, targetOf(server, '/'), { headers: { connection: 'close' } });
  const s = await settledStats(pool, { inUse: 0, open: 0 });
  t.like(s, { created: 1, inUse: 0, open: 0, idle: 0 });
});

test('Keep-Alive: timeout=N is honoured: reuse inside N s less the margin, not after, never for 0', async (t) => {
  const server = await startHttpServer(t, { keepAliveTimeout: 60_000 });
  const pool = createPool(t);
  const agent = pool.httpAgent();

  // timeout=30: a window of 29 s, the next request reuses.
  const a = await request(agent, targetOf(server, '/hint/30'));
  const b = await request(agent, targetOf(server, '/hint/1'));
  t.true(b.reusedSocket);
  t.is(b.json.connection, a.json.connection);

  // timeout=1: a window of 0.5 s (the margin is at most half the hint). The server would keep
  // the connection for 60 s, but it said 1 s: after 0.7 s the agent does not reuse it.
  await sleep(700);
  const c = await request(agent, targetOf(server, '/hint/0'));
  t.false(c.reusedSocket);
  t.not(c.json.connection, b.json.connection);

  // timeout=0: not kept at all.
  const d = await request(agent, targetOf(server, '/'));
  t.false(d.reusedSocket);
  t.not(d.json.connection, c.json.connection);
  const s = await settledStats(pool, { inUse: 0, open: 1 });
  // The pool handed out the expired connection once more; the agent gave it back unused and
  // closed it: no reuse, counted in evicted.keepAliveExpired.
  t.like(s, { created: 3, reused: 1, inUse: 0, open: 1, evicted: { keepAliveExpired: 1 } });
});

test('keepAliveHintMargin: 0 reuses for the whole hinted window', async (t) => {
  const server = await startHttpServer(t, { keepAliveTimeout: 60_000 });
  const pool = createPool(t);
  const agent = pool.httpAgent({ keepAliveHintMargin: 0 });
  const a = await request(agent, targetOf(server, '/hint/1'));
  // The window is now the full 1 s; the default margin would have made it 0.5 s.
  await sleep(600);
  const b = await request(agent, targetOf(server, '/'));
  t.true(b.reusedSocket);
  t.is(b.json.connection, a.json.connection);
});

test('a refused connect is the request\'s error with Node\'s code, and the pool\'s error as cause', async (t) => {
  const port = await refusedPort();
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const err = await t.throwsAsync(request(agent, { host: '127.0.0.1', port, path: '/' }));
  t.is(err.code, 'ECONNREFUSED');
  t.is(err.syscall, 'connect');
  t.is(err.address, '127.0.0.1');
  t.is(err.port, port);
  t.is(err.errno, -os.constants.errno.ECONNREFUSED);
  t.is(err.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  t.true(err.cause instanceof BerthError);
  t.is(err.cause.code, 'CONNECT_REFUSED');
  t.like(pool.stats(), { inUse: 0, open: 0, waiting: 0 });
});

test('a missing Unix socket is ENOENT; an unresolvable host is ENOTFOUND', async (t) => {
  const pool = createPool(t);
  const agent = pool.httpAgent();
  // No Unix sockets on Windows (the unix: destination fails there as unsupported).
  if (process.platform !== 'win32') {
    const missing = path.join(os.tmpdir(), `berth-missing-${process.pid}.sock`);
    const noSocket = await t.throwsAsync(request(agent, { socketPath: missing, path: '/' }));
    t.is(noSocket.code, 'ENOENT');
    t.is(noSocket.address, missing);
  }
  const noHost = await t.throwsAsync(request(agent, { host: 'berth-test.invalid', port: 80, path: '/' }));
  t.is(noHost.code, 'ENOTFOUND');
  t.is(noHost.hostname, 'berth-test.invalid');
  t.is(noHost.cause.code, 'DNS_FAILED');
});

// A Unix-socket server: none on Windows.
(process.platform === 'win32' ? test.skip : test)('unix socketPath: requests go to unix:/path and reuse', async (t) => {
  const server = await startHttpServer(t, { unix: true });
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const a = await request(agent, { socketPath: server.path, path: '/one' });
  const b = await request(agent, { socketPath: server.path, path: '/two' });
  t.is(a.json.url, '/one');
  t.true(b.reusedSocket);
  t.deepEqual(pool.snapshot().destinations.map((d) => d.destination), [`unix:${server.path}`]);
});

test('concurrency is bounded by the pool\'s maxPerDestination; the rest wait and all succeed', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t, { maxPerDestination: 3 });
  const agent = pool.httpAgent();
  t.is(agent.maxSockets, 3);
  const results = await Promise.all(range(24).map((i) => request(agent, targetOf(server, `/slow/20?${i}`))));
  t.true(results.every((r) => r.status === 200));
  const s = await server.stats();
  t.true(s.maxOpen <= 3, `server saw at most 3 connections at once (${s.maxOpen})`);
  t.is(s.accepted, 3);
  t.like(pool.stats(), { created: 3, inUse: 0, waiting: 0 });
});

test('a request timeout works: \'timeout\' fires, destroying the request frees its connection', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  await request(agent, targetOf(server, '/'));
  const outcome = await new Promise((resolve) => {
    const req = http.get({ ...targetOf(server, '/hang'), agent, timeout: 100 });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve(err.message));
  });
  t.is(outcome, 'timed out');
  const s = await settledStats(pool, { inUse: 0, open: 0 });
  t.like(s, { inUse: 0, open: 0 });
  // The agent's default timeout applies the same way.
  const agent2 = pool.httpAgent({ timeout: 100 });
  const timedOut = await new Promise((resolve) => {
    const req = http.get({ ...targetOf(server, '/hang'), agent: agent2 });
    req.on('timeout', () => { req.destroy(); resolve(true); });
    req.on('error', () => {});
  });
  t.true(timedOut);
});

test('a response the caller abandons unread closes its connection instead of pooling it', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  await new Promise((resolve) => {
    http.get({ ...targetOf(server, '/slow/10'), agent }, (res) => {
      res.destroy();
      res.on('close', resolve);
    });
  });
  const s = await settledStats(pool, { inUse: 0, open: 0 });
  t.like(s, { created: 1, inUse: 0, open: 0, idle: 0 });
});

test('getName() is http.Agent\'s; maxSockets and friends mirror the pool; keepAlive is true', (t) => {
  const pool = createPool(t, { maxPerDestination: 7, maxTotal: 70, maxIdlePerDestination: 5 });
  const agent = pool.httpAgent();
  const plain = new http.Agent();
  for (const o of [{ host: 'a', port: 1 }, { socketPath: '/x' }, { host: '::1', port: 80, family: 6 }]) {
    t.is(agent.getName(o), plain.getName(o));
  }
  t.like(agent, { keepAlive: true, maxSockets: 7, maxTotalSockets: 70, maxFreeSockets: 5, protocol: 'http:' });
});

test('invalid options are TypeErrors that name the option (http.Agent\'s own: Node\'s errors)', (t) => {
  const pool = createPool(t);
  // Limits on a shared pool are the pool's (see http-agent-contract.test.mjs); keepAlive: false
  // is allowed since the agent keeps http.Agent's contract.
  const cases = [
    [{ maxSockets: 10 }, /maxSockets .*maxPerDestination/],
    [{ maxFreeSockets: 1 }, /maxFreeSockets .*maxIdlePerDestination/],
    [{ maxTotalSockets: 1 }, /maxTotalSockets .*maxTotal/],
    [{ retry: 'yes' }, /retry must be a boolean/],
    [{ retryNonIdempotent: 1 }, /retryNonIdempotent must be a boolean/],
    [{ keepAliveHintMargin: -1 }, /keepAliveHintMargin must be/],
    [{ tiemout: 5 }, /unknown HttpAgent option "tiemout"/],
    ['fast', /must be an object/],
  ];
  for (const [options, message] of cases) t.throws(() => pool.httpAgent(options), { instanceOf: TypeError, message });
  t.throws(() => pool.httpAgent({ keepAlive: 'no' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE', message: /keepAlive/ });
  t.throws(() => pool.httpAgent({ timeout: NaN }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE', message: /timeout/ });
  t.notThrows(() => pool.httpAgent({ keepAlive: true, retry: false, timeout: 0 }));
  t.notThrows(() => pool.httpAgent({ keepAlive: false }));
});

test('a bad per-request idempotent option fails that request with a TypeError', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const err = await t.throwsAsync(request(pool.httpAgent(), targetOf(server, '/'), { idempotent: 'yes' }));
  t.true(err instanceof TypeError);
  t.regex(err.message, /idempotent must be a boolean/);
});

test('https: is refused (plain HTTP only)', (t) => {
  const pool = createPool(t);
  const agent = pool.httpAgent();
  t.throws(() => https.request('https://127.0.0.1:1/', { agent }), { code: 'ERR_INVALID_PROTOCOL' });
  t.throws(() => http.request('https://127.0.0.1:1/', { agent }), { code: 'ERR_INVALID_PROTOCOL' });
});

test('agent.destroy(): requests in flight fail, later ones are refused, the shared pool stays open', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  await request(agent, targetOf(server, '/'));
  const hanging = request(agent, targetOf(server, '/hang'));
  await waitFor(() => pool.stats().inUse === 1, { message: 'the hanging request holds a connection' });
  agent.destroy();
  const err = await t.throwsAsync(hanging);
  t.true(['ECONNRESET'].includes(err.code) || /socket hang up/.test(err.message), `${err.code} ${err.message}`);
  t.true(agent.destroyed);
  const refused = await t.throwsAsync(request(agent, targetOf(server, '/')));
  t.true(refused instanceof BerthError);
  t.is(refused.code, 'POOL_CLOSED');
  // The pool is not the agent's: it still serves, another agent too.
  const again = await request(pool.httpAgent(), targetOf(server, '/'));
  t.is(again.status, 200);
  const s = await settledStats(pool, { inUse: 0 });
  t.is(s.inUse, 0);
});

test('an agent without a pool makes its own and closes it on destroy()', async (t) => {
  const server = await startHttpServer(t);
  const agent = new HttpAgent({ maxPerDestination: 2 });
  t.teardown(() => agent.pool.close());
  t.true(agent.pool instanceof Pool);
  t.is(agent.maxSockets, 2);
  await request(agent, targetOf(server, '/'));
  agent.destroy();
  await agent.pool.close();
  await t.throwsAsync(agent.pool.acquire(server.dest), { code: 'POOL_CLOSED' });
});

test('pool.close() while requests are in flight and queued settles every request', async (t) => {
  const server = await startHttpServer(t);
  const pool = new Pool({ maxPerDestination: 2 });
  const agent = pool.httpAgent();
  await request(agent, targetOf(server, '/'));
  const requests = range(6).map(() => request(agent, targetOf(server, '/hang')));
  await waitFor(() => pool.stats().inUse === 2 && pool.stats().waiting === 4, { message: () => JSON.stringify(pool.stats()) });
  await pool.close();
  const results = await Promise.allSettled(requests);
  t.true(results.every((r) => r.status === 'rejected'));
  const codes = results.map((r) => r.reason.code ?? r.reason.message);
  t.is(codes.filter((c) => c === 'POOL_CLOSED').length, 4, codes.join(', '));
  t.like(pool.stats(), { open: 0, inUse: 0, waiting: 0 });
});

test('many concurrent requests with reuse: all succeed and every connection comes back', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t, { maxPerDestination: 8 });
  const agent = pool.httpAgent();
  const results = await Promise.all(range(400).map((i) => request(agent, targetOf(server, `/${i}`), {
    method: i % 3 === 0 ? 'POST' : 'GET',
    body: i % 3 === 0 ? `body ${i}` : undefined,
  })));
  t.true(results.every((r, i) => r.json.url === `/${i}`));
  const s = pool.stats();
  t.like(s, { inUse: 0, waiting: 0 });
  t.true(s.created <= 8);
  t.is(s.created + s.reused, 400);
});

test('an upgraded socket belongs to the caller; its connection leaves the pool when it closes', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  await request(agent, targetOf(server, '/'));
  const echoed = await new Promise((resolve, reject) => {
    const req = http.request({ ...targetOf(server, '/ws'), agent, headers: { Connection: 'Upgrade', Upgrade: 'echo' } });
    req.on('upgrade', (res, socket, head) => {
      t.is(res.statusCode, 101);
      t.is(head.length, 0);
      socket.write('ping');
      socket.once('data', (d) => { resolve(String(d)); socket.destroy(); });
    });
    req.on('error', reject);
    req.end();
  });
  t.is(echoed, 'ping');
  const s = await settledStats(pool, { inUse: 0, open: 0 });
  t.like(s, { inUse: 0, open: 0 });
  // The next request gets a new connection.
  const next = await request(agent, targetOf(server, '/'));
  t.false(next.reusedSocket);
});

test('IPv6: host ::1 goes to [::1]:port', async (t) => {
  let server;
  try {
    server = await startHttpServer(t, { host: '::1' });
  } catch (err) {
    t.log(`no IPv6 loopback here: ${err.message}`);
    t.pass();
    return;
  }
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const a = await request(agent, { host: '::1', port: server.port, path: '/v6' });
  const b = await request(agent, { host: '::1', port: server.port, path: '/v6' });
  t.is(a.json.url, '/v6');
  t.true(b.reusedSocket);
  t.deepEqual(pool.snapshot().destinations.map((d) => d.destination), [`[::1]:${server.port}`]);
});
