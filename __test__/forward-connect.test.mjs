// The CONNECT proxy of the README, driven by curl: an http.Server 'connect' handler hands the
// socket to pool.forward with the request's head and the 200 reply.
import test from 'ava';
import http from 'node:http';
import fs from 'node:fs';
import { createPool } from './helpers/pool.mjs';
import { refusedPort } from './helpers/net.mjs';
import { CURL, curl, listen } from './helpers/curl.mjs';




async function startProxy(t, pool) {
  const results = [];
  const proxy = http.createServer((req, res) => { res.writeHead(405).end(); });
  proxy.on('connect', (req, socket, head) => {
    socket.on('error', () => {});
    results.push(pool.forward(socket, req.url, { head, reply: 'HTTP/1.1 200 Connection Established\r\n\r\n' }));
  });
  const port = await listen(t, proxy);
  return { port, results };
}

test('curl -p through the CONNECT proxy gets the target\'s body', async (t) => {
  if (!fs.existsSync(CURL)) {
    t.log(`${CURL} not found: skipped`);
    t.pass();
    return;
  }
  const target = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from target: ${req.method} ${req.url}`);
  });
  const targetPort = await listen(t, target);
  const pool = createPool(t);
  const proxy = await startProxy(t, pool);

  const out = await curl(['-sS', '-p', '-x', `http://127.0.0.1:${proxy.port}`, `http://127.0.0.1:${targetPort}/some/path?q=1`]);
  t.is(out.code, 0, `curl exit code (stderr: ${out.stderr})`);
  t.is(out.stdout, 'hello from target: GET /some/path?q=1');
  t.is(proxy.results.length, 1);
  const result = await proxy.results[0];
  t.is(result.end, 'client-closed', 'curl closed the tunnel after the response');
  t.true(result.bytesIn > 0 && result.bytesOut > 'HTTP/1.1 200 Connection Established\r\n\r\n'.length);
  t.is(result.error, undefined);
});

test('curl through the CONNECT proxy to a refused target fails instead of hanging', async (t) => {
  if (!fs.existsSync(CURL)) {
    t.log(`${CURL} not found: skipped`);
    t.pass();
    return;
  }
  const deadPort = await refusedPort();
  const pool = createPool(t);
  const proxy = await startProxy(t, pool);
  const out = await curl(['-sS', '-p', '-x', `http://127.0.0.1:${proxy.port}`, `http://127.0.0.1:${deadPort}/`]);
  t.false(out.killed, 'curl did not hang until the guard');
  t.not(out.code, 0, `curl failed (exit ${out.code}: ${out.stderr.trim()})`);
  t.is(out.stdout, '');
  const result = await proxy.results[0];
  t.is(result.end, 'connect-failed');
  t.is(result.error?.code, 'CONNECT_REFUSED');
  t.is(result.bytesOut, 0, 'no 200 reply was written');
});
