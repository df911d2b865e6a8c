// addressPolicy: the engine checks every resolved address right before connect, on every
// path that dials (acquire, use, warm, acquireMany, forward, listener routes, the HTTP agent,
// probe). Each test runs a real server on 127.0.0.1 (or a Unix socket) and counts its accepts:
// a denied destination must reach DESTINATION_DENIED without the server seeing a connection.
import test from 'ava';
import http from 'node:http';
import { BerthError, probe } from 'berth-pool';
import { startServer } from './helpers/server.mjs';
import { createPool, rejectsWithCode } from './helpers/pool.mjs';
import { startFront, connect, collect } from './helpers/forward.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';

const LOCAL = ['loopback', 'private', 'linkLocal', 'uniqueLocal', 'unspecified', 'multicast', 'unix'];
const DENY_LOCAL = { deny: LOCAL };

/** Every spelling of 127.0.0.1 from the issue, and a name that resolves to it. */
const ALIASES = ['127.0.0.1', '127.1', '2130706433', '0x7f000001', '0177.0.0.1', '[::ffff:127.0.0.1]', 'localhost'];

/** A denial names the destination and the address, not the policy's entries. */
function assertDenied(t, err, dest) {
  t.true(err instanceof BerthError, `${dest}: ${err}`);
  t.is(err.code, 'DESTINATION_DENIED', dest);
  t.true(err.message.includes(dest), `${err.message} names ${dest}`);
  t.regex(err.message, /127\.0\.0\.1/, 'names the denied address');
  t.false(/loopback|private/.test(err.message), 'does not list the policy');
}

test('acquire: every numeric alias, IPv4-mapped IPv6 and a name of 127.0.0.1 is denied; nothing connects', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { addressPolicy: DENY_LOCAL });
  for (const host of ALIASES) {
    const dest = `${host}:${server.port}`;
    const err = await t.throwsAsync(pool.acquire(dest));
    assertDenied(t, err, dest);
  }
  t.is((await server.stats()).accepted, 0, 'the server saw no connection');
  t.like(pool.stats(), { open: 0, dialing: 0, waiting: 0, inUse: 0, dialFailures: ALIASES.length });
});

test('use, warm and acquireMany are denied before connecting', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { addressPolicy: { deny: ['loopback'] } });
  const dest = `127.1:${server.port}`;
  let called = false;
  assertDenied(t, await t.throwsAsync(pool.use(dest, () => { called = true; })), dest);
  t.false(called, 'use() never ran its callback');
  assertDenied(t, await t.throwsAsync(pool.warm(dest, 3)), dest);
  const many = async () => {
    for await (const lease of pool.acquireMany([dest, `0x7f000001:${server.port}`])) lease.release();
  };
  const err = await t.throwsAsync(many());
  t.is(err.code, 'DESTINATION_DENIED');
  t.is((await server.stats()).accepted, 0);
});

test('forward: a denied destination ends connect-failed with DESTINATION_DENIED; the upstream sees nothing', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { addressPolicy: DENY_LOCAL });
  const dest = `2130706433:${server.port}`;
  const front = await startFront(t, pool, dest, { options: { reply: 'HTTP/1.1 200 OK\r\n\r\n' } });
  const client = await connect(t, front.port);
  const [seen, result] = await Promise.all([collect(client, { keep: true }), front.result(0)]);
  t.is(result.end, 'connect-failed');
  assertDenied(t, result.error, dest);
  t.is(seen.bytes, 0, 'the reply is not written when no upstream was connected');
  t.is((await server.stats()).accepted, 0);
});

test('listener routes (a function and a fixed destination) are denied; connectFailures counts them', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { addressPolicy: DENY_LOCAL });
  const routed = await pool.listen({}, () => `[::ffff:127.0.0.1]:${server.port}`);
  t.teardown(() => routed.close());
  const fixed = await pool.listen({}, `0177.0.0.1:${server.port}`);
  t.teardown(() => fixed.close());
  for (const proxy of [routed, fixed]) {
    const client = await connect(t, proxy.address().port);
    const seen = await collect(client);
    t.is(seen.bytes, 0);
    await waitFor(() => proxy.stats().connectFailures === 1, { message: 'connectFailures 1' });
    t.is(proxy.stats().sessionsActive, 0);
  }
  t.is((await server.stats()).accepted, 0);
});

test('HTTP agent: a request to a denied host fails with the BerthError DESTINATION_DENIED', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { addressPolicy: DENY_LOCAL });
  const agent = pool.httpAgent();
  for (const host of ['127.1', 'localhost', '::ffff:127.0.0.1']) {
    const err = await new Promise((resolve) => {
      const req = http.get({ host, port: server.port, path: '/', agent }, (res) => {
        res.resume();
        resolve(new Error(`got a response ${res.statusCode}`));
      });
      req.on('error', resolve);
    });
    t.true(err instanceof BerthError, String(err));
    t.is(err.code, 'DESTINATION_DENIED', host);
  }
  t.is((await server.stats()).accepted, 0);
});

test('probe: denied targets are errors DESTINATION_DENIED and nothing is sent; allowed ones are probed', async (t) => {
  const server = await startServer(t);
  const targets = ALIASES.map((host) => `${host}:${server.port}`);
  const results = [];
  for await (const r of probe(targets, { addressPolicy: { deny: ['loopback'] }, timeout: 5000 })) results.push(r);
  t.is(results.length, ALIASES.length);
  for (const r of results) {
    t.is(r.state, 'error', r.target);
    t.is(r.error.code, 'DESTINATION_DENIED', r.target);
    t.true(r.error.message.includes(r.target), r.error.message);
  }
  t.is((await server.stats()).accepted, 0, 'no probe reached the server');
  const allowed = [];
  for await (const r of probe([`127.1:${server.port}`], { addressPolicy: { allow: ['127.0.0.0/8'] }, timeout: 5000 })) allowed.push(r);
  t.is(allowed[0].state, 'open');
});

// A Unix-socket server: none on Windows (scripts/windows-skip.txt skips unix.test.mjs whole).
(process.platform === 'win32' ? test.skip : test)('unix: destinations are denied by the unix class and by an allow list without it', async (t) => {
  const server = await startServer(t, { unix: true });
  for (const addressPolicy of [{ deny: ['unix'] }, DENY_LOCAL, { allow: ['0.0.0.0/0', '::/0'] }]) {
    const pool = createPool(t, { addressPolicy });
    const err = await rejectsWithCode(t, pool.acquire(server.dest), 'DESTINATION_DENIED', server.dest);
    t.true(err.message.includes(server.dest), err.message);
    await pool.close();
  }
  t.is((await server.stats()).accepted, 0);
  // Not named, not denied: a policy about IP addresses leaves Unix sockets alone.
  const pool = createPool(t, { addressPolicy: { deny: ['loopback', 'private'] } });
  const lease = await pool.acquire(server.dest);
  t.is((await roundTrip(lease.socket, 'unix ok')).toString(), 'unix ok');
  lease.release();
});

test('allow lists: only matching addresses connect, and deny wins over allow', async (t) => {
  const server = await startServer(t);
  const allowLoopback = createPool(t, { addressPolicy: { allow: ['127.0.0.0/8'] } });
  for (const host of ['127.1', '[::ffff:127.0.0.1]', 'localhost']) {
    const lease = await allowLoopback.acquire(`${host}:${server.port}`);
    t.is((await roundTrip(lease.socket, host)).toString(), host);
    lease.release();
  }
  const before = (await server.stats()).accepted;
  t.true(before >= 1);
  const elsewhere = createPool(t, { addressPolicy: { allow: ['10.0.0.0/8', 'unix'] } });
  assertDenied(t, await t.throwsAsync(elsewhere.acquire(`127.1:${server.port}`)), `127.1:${server.port}`);
  const denyWins = createPool(t, { addressPolicy: { allow: ['loopback'], deny: ['127.0.0.1'] } });
  assertDenied(t, await t.throwsAsync(denyWins.acquire(`localhost:${server.port}`)), `localhost:${server.port}`);
  const nothing = createPool(t, { addressPolicy: { allow: [] } });
  await rejectsWithCode(t, nothing.acquire(`127.0.0.1:${server.port}`), 'DESTINATION_DENIED');
  t.is((await server.stats()).accepted, before, 'the denied pools connected nothing');
});

test('the policy is copied: changing the arrays afterwards changes nothing', async (t) => {
  const server = await startServer(t);
  const deny = ['loopback'];
  const pool = createPool(t, { addressPolicy: { deny } });
  deny.length = 0;
  await rejectsWithCode(t, pool.acquire(`127.0.0.1:${server.port}`), 'DESTINATION_DENIED');
  t.deepEqual(pool.options.addressPolicy, { deny: ['loopback'] });
  t.true(Object.isFrozen(pool.options.addressPolicy));
  t.is((await server.stats()).accepted, 0);
});

test('no policy by default: loopback connects', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  t.deepEqual(pool.options.addressPolicy, {});
  const lease = await pool.acquire(`127.1:${server.port}`);
  lease.release();
  // The client's connect completes before the server's accept runs (another process, under
  // load): wait for the count rather than read it once.
  await waitFor(async () => (await server.stats()).accepted === 1, { message: 'the server accepted the connection' });
  t.pass();
});

const BAD_POLICIES = [
  [{ deny: ['loopback', 'localhost'] }, /addressPolicy\.deny\[1\] "localhost" is not a CIDR/],
  [{ deny: ['10.0.0.1/8'] }, /addressPolicy\.deny\[0\] "10\.0\.0\.1\/8" has bits set after the prefix \(did you mean "10\.0\.0\.0\/8"\?\)/],
  [{ allow: ['10.0.0.0/33'] }, /addressPolicy\.allow\[0\] .*above 32/],
  [{ allow: ['Loopback'] }, /addressPolicy\.allow\[0\] "Loopback"/],
  [{ deny: 'loopback' }, /addressPolicy\.deny must be an array/],
  [{ deny: [127] }, /addressPolicy\.deny\[0\] must be a string/],
  [{ denied: [] }, /unknown addressPolicy key "denied"/],
  [['loopback'], /addressPolicy must be an object/],
  [null, /addressPolicy must be an object/],
];

for (const [policy, message] of BAD_POLICIES) {
  test(`an invalid policy ${JSON.stringify(policy)} is a TypeError naming the entry (Pool and probe)`, (t) => {
    t.throws(() => createPool(t, { addressPolicy: policy }), { instanceOf: TypeError, message });
    t.throws(() => probe(['127.0.0.1:1'], { addressPolicy: policy }), { instanceOf: TypeError, message });
  });
}
