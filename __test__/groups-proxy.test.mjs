// Upstream groups (issue 16) behind the proxy paths and the HTTP agent: pool.listen with
// 'group:<name>' (fixed route and route function), pool.forward to a group, and
// pool.httpAgent({ groups }). Real servers on 127.0.0.1 in child processes; each session or
// request is counted by the server that got it.
import test from 'ava';
import http from 'node:http';
import https from 'node:https';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';
import { connect, collect, startFront } from './helpers/forward.mjs';
import { startHttpServer } from './fixtures/http-upstream.mjs';
import { startHttpsServer } from './helpers/https-upstream.mjs';
import { countBy, refusingDest, startMembers } from './helpers/groups.mjs';

/** One client session through 127.0.0.1:port: an echo round trip, then end and wait for the close. */
async function session(t, port, payload) {
  const client = await connect(t, port);
  const reply = await roundTrip(client, payload);
  if (reply.toString() !== payload) throw new Error(`echo mismatch: ${reply}`);
  const rest = collect(client);
  client.end();
  await rest;
}

async function sessions(t, port, n, label) {
  const failures = [];
  for (let i = 0; i < n; i++) {
    try {
      await session(t, port, `${label} ${i}`);
    } catch (err) {
      failures.push(`${label} ${i}: ${err.message}`);
    }
  }
  return failures;
}

const acceptedBy = async (servers) => Promise.all(servers.map((s) => s.accepted()));

test('pool.listen(opts, \'group:api\') spreads client sessions over the members', async (t) => {
  const members = await startMembers(t, 3);
  const pool = createPool(t);
  pool.group('api', members.map((m) => m.dest), { balance: 'round-robin' });
  const proxy = await pool.listen({ port: 0 }, 'group:api');
  t.teardown(() => proxy.close());

  t.deepEqual(await sessions(t, proxy.address().port, 30, 'fixed'), [], 'every session echoes');
  // Without reuseUpstream each session has an upstream connection of its own.
  t.deepEqual(await acceptedBy(members), [10, 10, 10], 'round robin: 10 sessions per member');
  await waitFor(() => proxy.stats().sessionsActive === 0);
  t.like(proxy.stats(), { sessionsTotal: 30, routeFailures: 0 });
});

test('a route function returning \'group:api\': a dead member is failed over, sessions succeed', async (t) => {
  const [a, b, c] = await startMembers(t, 3);
  const refusing = await refusingDest();
  const pool = createPool(t);
  const group = pool.group('api', [a.dest, b.dest, c.dest, refusing], {
    balance: 'round-robin',
    // Two of four members fail: let both be ejected, and every failed connect be retried.
    outlier: { consecutiveFailures: 2, baseEjectionTime: 200, maxEjectionPercent: 50 },
    retry: { attempts: 3, budget: 1 },
  });
  const routed = [];
  const proxy = await pool.listen({ port: 0 }, (conn) => { routed.push(conn.remotePort); return 'group:api'; });
  t.teardown(() => proxy.close());
  const port = proxy.address().port;

  t.deepEqual(await sessions(t, port, 15, 'one refusing'), [], 'sessions succeed with a refusing member');
  const first = await acceptedBy([a, b, c]);
  t.true(first.every((n) => n >= 1), `each live member got sessions (${first})`);
  t.is(first.reduce((x, y) => x + y), 15);

  // A dies too (listener and connections closed): the sessions after it still succeed.
  await a.stop();
  t.deepEqual(await sessions(t, port, 15, 'one dead'), [], 'sessions succeed with a dead member');
  const second = await acceptedBy([a, b, c]);
  t.is(second[0], first[0], 'the dead member got no session');
  t.is(second[1] + second[2] - first[1] - first[2], 15, 'B and C took every later session');
  t.is(routed.length, 30, 'the route ran once per session');
  t.true(group.stats().members.find((m) => m.dest === refusing).failures >= 1);
});

test('pool.forward(socket, \'group:api\') spreads sessions and fails over a refusing member', async (t) => {
  const [a, b] = await startMembers(t, 2);
  const refusing = await refusingDest();
  const pool = createPool(t);
  pool.group('api', [a.dest, refusing, b.dest], { balance: 'round-robin', retry: { attempts: 3, budget: 1 } });
  const front = await startFront(t, pool, 'group:api');

  t.deepEqual(await sessions(t, front.port, 20, 'forward'), [], 'every forwarded session echoes');
  const results = await Promise.all(front.results);
  t.is(results.length, 20);
  const counts = await acceptedBy([a, b]);
  t.true(counts.every((n) => n >= 5), `both live members got sessions (${counts})`);
  t.is(counts[0] + counts[1], 20);
});

test('pool.httpAgent({ groups }) sends requests for a host:port to the group\'s members', async (t) => {
  const servers = await Promise.all([startHttpServer(t), startHttpServer(t), startHttpServer(t)]);
  const pool = createPool(t);
  pool.group('web', servers.map((s) => s.dest), { balance: 'round-robin' });
  const agent = pool.httpAgent({ groups: { 'api.internal:80': 'web' } });
  t.teardown(() => agent.destroy());

  const get = (path) => new Promise((resolve, reject) => {
    const req = http.get(`http://api.internal${path}`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request hang guard')));
  });

  // /close: the server closes each connection, so every request is a new acquire from the group.
  const statuses = [];
  for (let i = 0; i < 30; i++) statuses.push((await get('/close')).status);
  t.deepEqual(countBy(statuses), { 200: 30 });
  const requests = (await Promise.all(servers.map((s) => s.stats()))).map((s) => s.requests);
  t.deepEqual(requests, [10, 10, 10], 'round robin over the three HTTP servers');

  // Keep-alive requests work through the group too.
  for (let i = 0; i < 5; i++) t.is((await get('/')).status, 200);
  const total = (await Promise.all(servers.map((s) => s.stats()))).reduce((n, s) => n + s.requests, 0);
  t.is(total, 35);
});

test('pool.httpAgent({ groups }): a host:port not in the map goes where it says', async (t) => {
  const [grouped, direct] = await Promise.all([startHttpServer(t), startHttpServer(t)]);
  const pool = createPool(t);
  pool.group('web2', [grouped.dest]);
  const agent = pool.httpAgent({ groups: { 'api.internal:80': 'web2' } });
  t.teardown(() => agent.destroy());
  const status = await new Promise((resolve, reject) => {
    http.get(`${direct.origin}/`, { agent }, (res) => { res.resume().on('end', () => resolve(res.statusCode)); }).on('error', reject);
  });
  t.is(status, 200);
  t.is((await direct.stats()).requests, 1);
  t.is((await grouped.stats()).requests, 0);
});

test('a listener to a group whose members are all dead closes each session and counts a connect failure', async (t) => {
  const dead = [await refusingDest(), await refusingDest()];
  const pool = createPool(t);
  pool.group('down', dead, { outlier: { consecutiveFailures: 1, baseEjectionTime: 200 } });
  const proxy = await pool.listen({ port: 0 }, 'group:down');
  t.teardown(() => proxy.close());
  for (const i of [1, 2, 3]) {
    const client = await connect(t, proxy.address().port);
    client.on('error', () => {});
    client.write(`session ${i}`);
    const end = await collect(client);
    t.is(end.bytes, 0, `session ${i}: closed without a byte`);
  }
  await waitFor(() => proxy.stats().sessionsActive === 0);
  t.like(proxy.stats(), { connectFailures: 3, sessionsTotal: 3 }); // routed, then failed (as for a plain destination)
});

test('listen() and forward() refuse an unknown group and a TLS group with a TypeError naming it', async (t) => {
  const pool = createPool(t);
  pool.group('tls-api', ['127.0.0.1:9'], { tls: true });
  await t.throwsAsync(pool.listen({ port: 0 }, 'group:none'), { instanceOf: TypeError, message: /none/ });
  await t.throwsAsync(pool.listen({ port: 0 }, 'group:tls-api'), { instanceOf: TypeError, message: /tls-api/ });
  const front = await startFront(t, pool, 'group:none');
  const client = await connect(t, front.port);
  client.on('error', () => {});
  await t.throwsAsync(front.result(0), { instanceOf: TypeError, message: /none/ });
});

test('pool.httpsAgent({ groups }): HTTPS requests go to the group\'s members with the group\'s TLS options', async (t) => {
  const servers = await Promise.all([startHttpsServer(t), startHttpsServer(t)]);
  const { certs } = servers[0];
  const pool = createPool(t);
  // Members are addresses: the group's tls names the identity their certificates carry.
  pool.group('secure', servers.map((s) => s.dest), { balance: 'round-robin', tls: { ca: certs.ca, servername: 'localhost' } });
  const agent = pool.httpsAgent({ groups: { 'api.internal:443': 'secure' } });
  t.teardown(() => agent.destroy());
  const get = (path) => new Promise((resolve, reject) => {
    const req = https.get(`https://api.internal${path}`, { agent }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode)).on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request hang guard')));
  });
  const statuses = [];
  for (let i = 0; i < 10; i++) statuses.push(await get('/close'));
  t.deepEqual(countBy(statuses), { 200: 10 });
  const requests = (await Promise.all(servers.map((s) => s.stats()))).map((s) => s.requests);
  t.deepEqual(requests, [5, 5], 'round robin over the two HTTPS servers');

  // The certificates are checked: a group without the test CA is refused.
  pool.group('unverified', [servers[0].dest], { tls: { servername: 'localhost' } });
  const strict = pool.httpsAgent({ groups: { 'api.internal:443': 'unverified' } });
  t.teardown(() => strict.destroy());
  const refused = new Promise((resolve, reject) => {
    const req = https.get('https://api.internal/', { agent: strict }, (res) => { res.resume(); reject(new Error(`answered ${res.statusCode}`)); });
    req.on('error', resolve);
    req.setTimeout(15_000, () => req.destroy(new Error('request hang guard')));
  });
  const err = await refused;
  t.not(err.message, 'request hang guard');
  // Its only member failed its TLS handshake: no member left to try.
  t.is(err.code, 'NO_HEALTHY_MEMBER', err.message);
  t.is(err.cause?.code, 'TLS_FAILED');
  t.is((await servers[0].stats()).requests, 5, 'no request reached the server');
});
