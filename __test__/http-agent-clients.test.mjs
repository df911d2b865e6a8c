// The stale-connection retry for real clients that write their request at their own pace:
// got 11 and axios 1 (which call end() after the socket arrives, or in a later tick), against a
// server that resets every second request on a connection. Every GET must succeed.
import test from 'ava';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPool } from './helpers/pool.mjs';
import { startHttpServer } from './fixtures/http-upstream.mjs';

const require = createRequire(import.meta.url);
const got = require('got');
const axios = require('axios');
const root = fileURLToPath(new URL('..', import.meta.url));
const REQUESTS = 100;

const clients = {
  got: (agent, url) => got(url, { agent: { http: agent }, retry: 0, timeout: 10_000 }).json(),
  axios: async (agent, url) => (await axios.get(url, { httpAgent: agent, timeout: 10_000, proxy: false })).data,
};

for (const [name, get] of Object.entries(clients)) {
  test(`${name}: ${REQUESTS} GETs against a server that resets every second request on a connection all succeed`, async (t) => {
    const server = await startHttpServer(t);
    const pool = createPool(t, { maxPerDestination: 4 });
    const agent = pool.httpAgent();
    const failures = [];
    for (let i = 0; i < REQUESTS; i++) {
      try {
        const body = await get(agent, `http://${server.host}:${server.port}/reset-if-reused`);
        if (body.url !== `/reset-if-reused`) throw new Error(`unexpected answer ${JSON.stringify(body)}`);
      } catch (error) {
        failures.push(error.code ?? error.message);
      }
    }
    t.deepEqual(failures, [], `${failures.length} of ${REQUESTS} GETs failed`);
    const stats = await server.stats();
    t.is(stats.forgotten, REQUESTS - 1, 'every request after the first met a reused connection and was retried');
  });
}

test('axios: the first request of a process that meets a stale pooled connection is retried', (t) => {
  // A fresh process: axios's first request (its lazy set-up runs now) on a connection the
  // server will reset. A child process, so that "first" is true.
  const script = `
    const http = require('node:http');
    const axios = require('axios');
    const { Pool } = require('./dist/index.js');
    let seen = 0;
    const server = http.createServer((req, res) => {
      if (req.socket.served) { req.socket.resetAndDestroy(); return; }
      req.socket.served = true;
      res.end(JSON.stringify({ n: ++seen }));
    });
    server.listen(0, '127.0.0.1', async () => {
      const dest = '127.0.0.1:' + server.address().port;
      const pool = new Pool();
      // One pooled connection that has served a request (the server resets the next one).
      await new Promise((resolve, reject) => http.get('http://' + dest + '/', { agent: pool.httpAgent() }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
      await new Promise((r) => setTimeout(r, 20));
      let out;
      try {
        const res = await axios.get('http://' + dest + '/', { httpAgent: pool.httpAgent(), proxy: false, timeout: 10000 });
        out = { ok: true, data: res.data };
      } catch (error) {
        out = { ok: false, error: error.code || error.message };
      }
      console.log(JSON.stringify(out));
      await pool.close();
      server.close();
    });
  `;
  const child = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 20_000 });
  t.is(child.status, 0, child.stderr.slice(-500));
  const out = JSON.parse(child.stdout.trim().split('\n').pop());
  t.deepEqual(out, { ok: true, data: { n: 2 } });
});

test('localAddress is refused on every request, not only the first to a host:port; nothing is dialed', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const http = require('node:http');
  const attempt = (options) => new Promise((resolve) => {
    const req = http.get({ host: server.host, port: server.port, path: '/', agent, ...options }, (res) => {
      res.resume();
      res.on('end', () => resolve('ok'));
    });
    req.on('error', (error) => resolve(error));
  });
  t.is(await attempt({}), 'ok', 'a plain request first: the agent has seen this host:port');
  for (let i = 0; i < 3; i++) {
    const error = await attempt({ localAddress: '127.0.0.2' });
    t.true(error instanceof TypeError, `request ${i}: refused (${error})`);
    t.regex(String(error.message), /localAddress/);
  }
  t.is((await server.stats()).accepted, 1, 'no connection was made for the refused requests');
});

test('stats: connections dropped because the Keep-Alive hint passed count as evicted.keepAliveExpired, not as reused', async (t) => {
  const server = await startHttpServer(t, { keepAliveTimeout: 60_000 });
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const http = require('node:http');
  const { setTimeout: sleep } = require('node:timers/promises');
  const get = (path) => new Promise((resolve, reject) => {
    http.get({ host: server.host, port: server.port, path, agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
  });
  // `Keep-Alive: timeout=1`: reusable for 0.5 s (the hint less keepAliveHintMargin, at most half).
  const N = 4;
  for (let i = 0; i < N; i++) {
    await get('/hint/1');
    if (i < N - 1) await sleep(600);
  }
  const s = pool.stats();
  t.is(s.created, N, 'every request needed a fresh connection');
  t.is(s.reused, 0, 'none of them reused one');
  t.is(s.evicted.keepAliveExpired, N - 1);
  // Within the window the connection is reused, and counted (twice: the last hint/1 connection,
  // then again under hint/5).
  await get('/hint/5');
  await get('/hint/5');
  t.is(pool.stats().reused, 2);
});
