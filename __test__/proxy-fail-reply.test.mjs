// Answers on failure (issue 17, section 4): `failReply` is written to the client before it is
// closed when no upstream can be had, by the engine on the socket it owns. Driven by real
// clients: curl through the CONNECT example (502) and the SOCKS5 example (its refusal codes,
// curl's exit 97), and raw Node sockets for the exact bytes.
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BerthError } from 'berth-pool';
import { createPool, Pool } from './helpers/pool.mjs';
import { refusedPort, fdCount, waitFor, range } from './helpers/net.mjs';
import { CURL, curl, listen } from './helpers/curl.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\n\r\n';



/** Starts an example on a free port; resolves with its port once it printed "... on host:port". */
async function startExample(t, file, env = {}) {
  const child = spawn(process.execPath, [file, '127.0.0.1:0'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`${file} did not start: ${out}`)), 20_000);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const match = /on 127\.0\.0\.1:(\d+)/.exec(out);
      if (match) {
        clearTimeout(guard);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => { clearTimeout(guard); reject(new Error(`${file} exited ${code}: ${out}`)); });
  });
}

/** A server whose target returns 200, to check that a reachable target still tunnels. */
async function httpTarget(t) {
  return listen(t, http.createServer((req, res) => res.end(`hello ${req.url}`)));
}

/** Connects to `port`, writes `data`, and collects everything until the end; rejects on error. */
function exchange(port, data, { onFirstData } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    socket.on('data', (chunk) => {
      if (chunks.length === 0) onFirstData?.(socket);
      chunks.push(chunk);
    });
    socket.on('error', reject);
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    if (data !== undefined) socket.write(data);
  });
}

/** A front server handing each socket to pool.forward(socket, dest, options). */
async function front(t, pool, dest, options) {
  const results = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    results.push(pool.forward(socket, typeof dest === 'function' ? dest() : dest, options));
  });
  return { port: await listen(t, server), results };
}

const skipWithoutCurl = (t) => {
  if (fs.existsSync(CURL)) return false;
  t.log(`${CURL} not found: skipped`);
  t.pass();
  return true;
};

test('curl through the CONNECT example gets 502 when the target is refused or denied, 200 when it is up', async (t) => {
  if (skipWithoutCurl(t)) return;
  const target = await httpTarget(t);
  const dead = await refusedPort();
  // Loopback allowed: a closed port is refused (CONNECT_REFUSED), an open one tunnels.
  const open = await startExample(t, 'examples/connect-proxy.mjs', { PROXY_ALLOW_LOOPBACK: '1' });
  const refused = await curl(['-sS', '-p', '-x', `http://127.0.0.1:${open}`, '-w', '%{http_connect}', `http://127.0.0.1:${dead}/`]);
  t.false(refused.killed, 'curl did not hang');
  t.is(refused.stdout, '502', `CONNECT answered 502 (curl exit ${refused.code}: ${refused.stderr.trim()})`);
  t.not(refused.code, 0);
  const ok = await curl(['-sS', '-p', '-x', `http://127.0.0.1:${open}`, '-w', ' %{http_connect}', `http://127.0.0.1:${target}/x`]);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, 'hello /x 200');
  // Loopback denied (the example's default): the policy refuses, the client still gets 502.
  const strict = await startExample(t, 'examples/connect-proxy.mjs');
  const denied = await curl(['-sS', '-p', '-x', `http://127.0.0.1:${strict}`, '-w', '%{http_connect}', `http://127.0.0.1:${target}/`]);
  t.is(denied.stdout, '502', `denied target answered 502 (${denied.stderr.trim()})`);
});

test('a forward() failReply function gets the BerthError (the result\'s own) and its bytes reach the client', async (t) => {
  const dead = await refusedPort();
  const pool = createPool(t, { addressPolicy: { deny: ['linkLocal'] } });
  const seen = [];
  const failReply = (error) => {
    seen.push(error);
    return `refused: ${error.code}\n`;
  };
  const refused = await front(t, pool, `127.0.0.1:${dead}`, { reply: 'connected\n', failReply });
  t.is((await exchange(refused.port)).toString(), 'refused: CONNECT_REFUSED\n');
  const result = await refused.results[0];
  t.is(result.end, 'connect-failed');
  t.true(seen[0] instanceof BerthError);
  t.is(seen[0].code, 'CONNECT_REFUSED');
  t.is(seen[0].destination, `127.0.0.1:${dead}`);
  t.is(result.error, seen[0], 'the same error object');
  t.is(result.bytesOut, 'refused: CONNECT_REFUSED\n'.length, 'bytesOut counts the fail reply');

  const denied = await front(t, pool, '169.254.169.254:80', { failReply });
  t.is((await exchange(denied.port)).toString(), 'refused: DESTINATION_DENIED\n');
  t.is((await denied.results[0]).error.code, 'DESTINATION_DENIED');

  // undefined, or a function that throws: nothing is written, the client is just closed.
  const silent = await front(t, pool, `127.0.0.1:${dead}`, { failReply: () => undefined });
  t.is((await exchange(silent.port)).length, 0);
  const throwing = await front(t, pool, `127.0.0.1:${dead}`, { failReply: () => { throw new Error('boom'); } });
  t.is((await exchange(throwing.port)).length, 0);
  t.is((await throwing.results[0]).error.code, 'CONNECT_REFUSED');
});

test('a 32 KiB failReply arrives whole before the close, even while the client keeps sending', async (t) => {
  const dead = await refusedPort();
  const pool = createPool(t);
  const big = Buffer.alloc(32 * 1024, 'x');
  big.write('HTTP/1.1 502 Bad Gateway\r\n');
  for (const failReply of [big, () => big]) {
    const f = await front(t, pool, `127.0.0.1:${dead}`, { failReply });
    // The client sends more once the answer starts: unread input at the close would reset the
    // connection (and could cut the answer short); the engine reads it out until the client's end.
    const got = await exchange(f.port, undefined, { onFirstData: (socket) => socket.write(Buffer.alloc(64 * 1024, 'j')) });
    t.is(got.length, big.length);
    t.true(got.equals(big));
    const result = await f.results[0];
    t.is(result.end, 'connect-failed');
    t.is(result.bytesOut, big.length);
  }
});

test('a listener route\'s failReply reaches the client whole, its peeked request still unread', async (t) => {
  const dead = await refusedPort();
  const target = await httpTarget(t);
  const pool = createPool(t);
  // peek: the request stays unread in the kernel when the upstream is refused; the engine must
  // not reset the connection over it before the client has the answer.
  const proxy = await pool.listen({ peek: 16 }, (conn) => ({
    dest: conn.head.includes('/down') ? `127.0.0.1:${dead}` : `127.0.0.1:${target}`,
    failReply: BAD_GATEWAY,
  }));
  t.teardown(() => proxy.close());
  const down = await exchange(proxy.address().port, 'GET /down HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.is(down.toString(), BAD_GATEWAY);
  const up = await exchange(proxy.address().port, 'GET /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.regex(up.toString(), /^HTTP\/1\.1 200 OK[\s\S]*hello \/up$/);
  t.is(proxy.stats().connectFailures, 1);
});

test('failReply input: a TypeError names it', async (t) => {
  const pool = createPool(t);
  const accepted = [];
  const server = net.createServer((socket) => accepted.push(socket));
  t.teardown(() => accepted.forEach((s) => s.destroy()));
  const port = await listen(t, server);
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  await t.throwsAsync(pool.forward(socket, '127.0.0.1:1', { failReply: 42 }), { instanceOf: TypeError, message: /"failReply" must be a string, Buffer, Uint8Array or function, got 42/ });
  await t.throwsAsync(pool.forward(socket, '127.0.0.1:1', { failReply: Buffer.alloc(64 * 1024 + 1) }), {
    instanceOf: TypeError,
    message: /"failReply".*at most 65536 bytes/,
  });
  t.false(socket.destroyed, 'the socket stays the caller\'s');
});

test.serial('failing forwards with fail replies leave no descriptor behind', async (t) => {
  const dead = await refusedPort();
  const warm = new Pool();
  const w = await front(t, warm, `127.0.0.1:${dead}`, { failReply: BAD_GATEWAY });
  await exchange(w.port);
  await Promise.all(w.results);
  await warm.close();
  const before = fdCount();
  const pool = new Pool();
  const f = await front(t, pool, `127.0.0.1:${dead}`, { failReply: (e) => `${e.code}\n` });
  const answers = await Promise.all(range(20).map(() => exchange(f.port)));
  t.true(answers.every((a) => a.toString() === 'CONNECT_REFUSED\n'));
  await Promise.all(f.results);
  await pool.close();
  // Only the front server's own listening socket remains on top of the count before.
  const after = await waitFor(() => (fdCount() <= before + 1 ? fdCount() : false), { message: 'descriptors back' });
  t.true(after <= before + 1, `${after} descriptors, ${before} before`);
});

// --- SOCKS5 -------------------------------------------------------------------------------

/** A raw SOCKS5 client: greeting, then CONNECT to an IPv4 address; resolves with the reply. */
function socksConnect(port, request) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length === 2) socket.write(request);
    });
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve(got));
    socket.write(Buffer.from([0x05, 0x01, 0x00]));
  });
}

const ipv4Request = (ip, port) => Buffer.from([0x05, 0x01, 0x00, 0x01, ...ip.split('.').map(Number), port >> 8, port & 0xff]);
const ipv6LoopbackRequest = (port) => Buffer.from([0x05, 0x01, 0x00, 0x04, ...Array(15).fill(0), 1, port >> 8, port & 0xff]);
const domainRequest = (name, port) => Buffer.from([0x05, 0x01, 0x00, 0x03, name.length, ...Buffer.from(name), port >> 8, port & 0xff]);

test('the SOCKS5 example: curl gets through, and refusals carry the right reply code', async (t) => {
  if (skipWithoutCurl(t)) return;
  const target = await httpTarget(t);
  const dead = await refusedPort();
  const port = await startExample(t, 'examples/socks5-proxy.mjs', { PROXY_ALLOW_LOOPBACK: '1' });

  const ok = await curl(['-sS', '--socks5-hostname', `127.0.0.1:${port}`, `http://127.0.0.1:${target}/through`]);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, 'hello /through');
  const byName = await curl(['-sS', '--socks5-hostname', `127.0.0.1:${port}`, `http://localhost:${target}/by-name`]);
  t.is(byName.code, 0, byName.stderr);
  t.is(byName.stdout, 'hello /by-name');

  // Denied by the address policy (link-local: cloud metadata) and refused: curl's exit 97
  // (CURLE_PROXY) with the SOCKS reply code in its message.
  const denied = await curl(['-sS', '--socks5-hostname', `127.0.0.1:${port}`, 'http://169.254.169.254/']);
  t.is(denied.code, 97, denied.stderr);
  const refused = await curl(['-sS', '--socks5-hostname', `127.0.0.1:${port}`, `http://127.0.0.1:${dead}/`]);
  t.is(refused.code, 97, refused.stderr);

  // The exact reply bytes: VER REP RSV ATYP(IPv4) 0.0.0.0:0 after the method choice.
  const reply = (code) => Buffer.from([0x05, 0x00, 0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
  t.deepEqual(await socksConnect(port, ipv4Request('169.254.169.254', 80)), reply(0x02), 'not allowed by ruleset');
  t.deepEqual(await socksConnect(port, ipv4Request('10.0.0.1', 80)), reply(0x02), 'private: not allowed');
  t.deepEqual(await socksConnect(port, ipv4Request('127.0.0.1', dead)), reply(0x05), 'connection refused');
  t.deepEqual(await socksConnect(port, ipv6LoopbackRequest(dead)), reply(0x05), 'IPv6 address type');
  t.deepEqual(await socksConnect(port, domainRequest('localhost', dead)), reply(0x05), 'domain address type');
  t.deepEqual(await socksConnect(port, Buffer.from([0x05, 0x02, 0x00, 0x01, 127, 0, 0, 1, 0, 80])), reply(0x07), 'BIND is not supported');
});
