// Destination validation: anything but 'host:port', '[v6]:port' or 'unix:/absolute/path' makes
// acquire() return a rejected promise with a TypeError that quotes the input.
import test from 'ava';
import net from 'node:net';
import os from 'node:os';
import { once } from 'node:events';
import { BerthError, probe } from 'berth-pool';
import { createPool } from './helpers/pool.mjs';
import { startServer } from './helpers/server.mjs';
import { roundTrip } from './helpers/net.mjs';

const INVALID = [
  '',
  'localhost',          // no port
  'host:',              // empty port
  'host:0',             // port 0 is not a destination
  'host:70000',         // port out of range
  'host:65536',
  'host:-1',
  'host:abc',
  'host:80x',
  ':80',                // no host
  '[::1]',              // v6 without port
  '[::1',               // unbalanced bracket
  '[::1]:',
  'unix:relative/path', // unix paths must be absolute
  'unix:',
  'http://x:1',         // a URL is not a destination
];

for (const input of INVALID) {
  test(`acquire(${JSON.stringify(input)}) rejects with a TypeError quoting the input`, async (t) => {
    const pool = createPool(t);
    let promise;
    t.notThrows(() => { promise = pool.acquire(input); }, 'acquire() does not throw synchronously');
    t.true(promise instanceof Promise);
    const err = await t.throwsAsync(promise, { instanceOf: TypeError });
    t.false(err instanceof BerthError);
    t.true(err.message.includes(`"${input}"`), `message ${JSON.stringify(err.message)} quotes ${JSON.stringify(input)}`);
    t.like(pool.stats(), { open: 0, dialing: 0, waiting: 0, dialFailures: 0 });
  });
}

for (const input of [123, null, undefined, {}, ['127.0.0.1:80']]) {
  test(`acquire(${String(input)}: ${typeof input}) rejects with a TypeError`, async (t) => {
    const pool = createPool(t);
    let promise;
    t.notThrows(() => { promise = pool.acquire(input); }, 'acquire() does not throw synchronously');
    await t.throwsAsync(promise, { instanceOf: TypeError });
  });
}

test('the TypeError for a number mentions it', async (t) => {
  const pool = createPool(t);
  await t.throwsAsync(pool.acquire(123), { instanceOf: TypeError, message: /123/ });
});

test('pool.use() with an invalid destination rejects and never calls the callback', async (t) => {
  const pool = createPool(t);
  let called = false;
  await t.throwsAsync(pool.use('nope', () => { called = true; }), { instanceOf: TypeError, message: /"nope"/ });
  t.false(called);
});

// ---- what the messages say (issue 13, item 5) ------------------------------------------------

/** Rejects with a TypeError; returns it. */
async function typeError(t, promise) {
  const err = await t.throwsAsync(promise, { instanceOf: TypeError });
  t.false(err instanceof BerthError);
  return err;
}

test('a destination with credentials is refused without quoting them, for the right reason', async (t) => {
  const pool = createPool(t);
  for (const input of ['postgres:s3cr3tPW@db.internal:5432', 'admin:s3cr3tPW@10.0.0.1:22', 'u:pa"s3cr3tPW@h:1']) {
    const err = await typeError(t, pool.acquire(input));
    t.false(err.message.includes('s3cr3tPW'), err.message);
    t.regex(err.message, /credentials \(user:password\) are not part of a destination/);
    t.false(err.message.includes('brackets'), err.message);
  }
  const err = await typeError(t, pool.acquire('postgres:s3cr3tPW@db.internal:5432'));
  t.true(err.message.includes('"***@db.internal:5432"'), err.message);
});

test('a URL is refused as a URL, credentials masked', async (t) => {
  const pool = createPool(t);
  for (const input of ['http://x:1', 'https://user:hunter2@api.example.com:443/v1', 'redis://cache:6379', 'tcp://127.0.0.1:80']) {
    const err = await typeError(t, pool.acquire(input));
    t.regex(err.message, /a URL, expected host:port/, input);
    t.false(err.message.includes('hunter2'), err.message);
  }
});

test('control characters and whitespace are named as such', async (t) => {
  const pool = createPool(t);
  for (const input of ['host:80\r\nX-Injected: 1', 'host:80\n', '\thost:80', 'host\0:80', 'unix:/tmp/a\r\nb.sock']) {
    const err = await typeError(t, pool.acquire(input));
    t.regex(err.message, /control character/, JSON.stringify(input));
    t.false(err.message.includes('\n') || err.message.includes('\r'), 'the message itself has no raw CR/LF');
  }
  t.regex((await typeError(t, pool.acquire('host :80'))).message, /whitespace/);
});

test('an IPv6 address without brackets is named; another extra colon is not called IPv6', async (t) => {
  const pool = createPool(t);
  t.regex((await typeError(t, pool.acquire('::1:80'))).message, /must be written in brackets/);
  t.regex((await typeError(t, pool.acquire('a:b:80'))).message, /may not contain ':'/);
});

test('a trailing-dot host name is a destination (an absolute name, its own pool key)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t);
  // 'localhost.' resolves as written: whether this resolver knows it is up to the system.
  const outcome = await pool.acquire(`localhost.:${server.port}`).then(
    (lease) => { lease.release(); return 'connected'; },
    (err) => err,
  );
  t.true(outcome === 'connected' || (outcome instanceof BerthError && outcome.code === 'DNS_FAILED'), String(outcome));
  const other = await pool.acquire(`LOCALHOST.:${server.port}`).then((l) => { l.release(); return null; }, (e) => e);
  t.false(other instanceof TypeError);
});

test('a port with leading zeros is refused, in destinations and probe targets alike', async (t) => {
  const pool = createPool(t);
  for (const input of ['127.0.0.1:080', '127.0.0.1:00080', '[::1]:0443', 'example.com:01']) {
    t.regex((await typeError(t, pool.acquire(input))).message, /leading zeros/, input);
  }
  const results = [];
  for await (const r of probe(['127.0.0.1:080'], { timeout: 1000 })) results.push(r);
  t.is(results[0].state, 'error');
  t.is(results[0].error.code, 'INVALID_TARGET');
  t.regex(results[0].error.message, /leading zeros/);
  t.like(pool.stats(), { open: 0, dialing: 0, dialFailures: 0 });
});

// On Windows a zone must be the interface's number: any name is refused there, with that advice.
const NO_SUCH_IF = process.platform === 'win32' ? /zone "nosuchif0" names a network interface; on Windows give the interface's number/ : /unknown network interface "nosuchif0"/;

test('an IPv6 zone naming no interface is a TypeError (destination, probe target, listen host)', async (t) => {
  const pool = createPool(t);
  t.regex((await typeError(t, pool.acquire('[fe80::1%nosuchif0]:80'))).message, NO_SUCH_IF);
  t.regex((await typeError(t, pool.acquire('[fe80::1%]:80'))).message, /zone after '%' is empty/);
  const results = [];
  for await (const r of probe([{ host: 'fe80::1%nosuchif0', port: 80 }])) results.push(r);
  t.is(results[0].error.code, 'INVALID_TARGET');
  const err = await t.throwsAsync(pool.listen({ host: 'fe80::1%nosuchif0' }, () => null), { instanceOf: TypeError });
  t.regex(err.message, new RegExp(`listen option "host" .*${NO_SUCH_IF.source}`));
});

/** A link-local IPv6 address of this machine, with its interface, or undefined. */
function linkLocal() {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv6' && a.address.startsWith('fe80:') && a.scopeid > 0) return { name, address: a.address, scopeid: a.scopeid };
    }
  }
  return undefined;
}

test('IPv6 zone ids: [fe80::…%eth0]:port and %index connect; a listener binds a zoned host', async (t) => {
  const ll = linkLocal();
  if (ll === undefined) {
    t.log('skipped: no link-local IPv6 address on this machine');
    t.pass();
    return;
  }
  // Windows takes a zone by number only (a name is a TypeError there, as tested above).
  const zone0 = process.platform === 'win32' ? String(ll.scopeid) : ll.name;
  const server = await startServer(t, { host: `${ll.address}%${zone0}` });
  const pool = createPool(t);
  for (const zone of new Set([zone0, String(ll.scopeid)])) {
    const dest = `[${ll.address}%${zone}]:${server.port}`;
    const lease = await pool.acquire(dest);
    t.is((await roundTrip(lease.socket, zone)).toString(), zone);
    t.is(lease.destination, dest);
    lease.release();
  }
  const proxy = await pool.listen({ host: `${ll.address}%${zone0}` }, `[${ll.address}%${zone0}]:${server.port}`);
  t.teardown(() => proxy.close());
  t.is(proxy.address().address, ll.address);
  const client = net.connect({ host: `${ll.address}%${zone0}`, port: proxy.address().port });
  t.teardown(() => client.destroy());
  await once(client, 'connect');
  t.is((await roundTrip(client, 'through the proxy')).toString(), 'through the proxy');
});
