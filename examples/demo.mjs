// berth demo: a TCP proxy written in Node whose bytes never pass through JavaScript.
//
//   npm run demo        (after `npm run build`)
//
// Needs nothing external; everything runs in this process, on 127.0.0.1:
//   1. two upstreams: an echo server and a sink that counts what it receives;
//   2. a native listener, pool.listen(): the engine accepts each connection, shows the routing
//      function its first 4 bytes (peek: 4; peeked, not consumed), and forwards the connection
//      to the upstream the function names; reuseUpstream: true returns an upstream connection
//      to the pool when its client closed first, so the next session reuses it;
//   3. a bounded load through it: request/reply sessions at some concurrency, one bulk transfer,
//      and one connection the routing function refuses;
//   4. a summary (sessions/s, latency, MB/s, upstream connections opened vs reused), then
//      everything is closed.
// Meanwhile it serves Prometheus metrics (pool.metrics(): the pool's and the listener's) on
// http://127.0.0.1:<port>/metrics (BERTH_DEMO_METRICS_PORT, default any free port), scrapes
// them itself during and after the load, and prints a few series. BERTH_DEMO_HOLD=<seconds>
// keeps serving them that long after the load, for a Prometheus or curl of your own.
//
// Exits 0 when every session got its bytes back intact, 1 otherwise (it runs in CI).

import http from 'node:http';
import net from 'node:net';
import { Pool, METRICS_CONTENT_TYPE } from 'berth-pool';

const SESSIONS = 4000; // request/reply sessions
const CONCURRENCY = 32; // sessions in flight at once
const REQUEST_BYTES = 100; // 'ECHO' + 96 bytes, echoed back
const BULK_BYTES = 256 * 2 ** 20; // one upload to the sink
const HOLD_S = Number(process.env.BERTH_DEMO_HOLD ?? 0);
const GUARD_MS = 25_000 + HOLD_S * 1000;

// A demo must never hang: fail loudly if something keeps it running too long.
const guard = setTimeout(() => {
  console.error(`demo: FAILED, not finished after ${GUARD_MS / 1000} s (something hangs)`);
  process.exit(1);
}, GUARD_MS);
guard.unref();

// ---------------------------------------------------------------- 1. upstreams

/** A TCP server on 127.0.0.1; counts the connections it accepted. */
async function startServer(onConnection) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    server.accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  server.accepted = 0;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.dest = `127.0.0.1:${server.address().port}`;
  server.shutdown = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return server;
}

// Echo: every byte back, for as long as the connection lasts (so it can serve many sessions).
const echo = await startServer((socket) => socket.pipe(socket));

// Sink: 'BULK', an 8-byte length, that many bytes; then replies 'OK <count>\n'.
const sink = await startServer((socket) => {
  let header = Buffer.alloc(0);
  let want = -1;
  let got = 0;
  socket.on('data', (chunk) => {
    if (want < 0) {
      header = Buffer.concat([header, chunk]);
      if (header.length < 12) return;
      want = Number(header.readBigUInt64LE(4));
      chunk = header.subarray(12);
    }
    got += chunk.length;
    if (got === want) socket.write(`OK ${got}\n`);
  });
});

// ---------------------------------------------------------------- 2. the proxy

// The routes name the upstreams, all on 127.0.0.1: the address policy allows nothing else.
const pool = new Pool({ name: 'demo', maxPerDestination: 64, addressPolicy: { allow: ['127.0.0.1'] } });
const routes = { ECHO: echo.dest, BULK: sink.dest };
const proxy = await pool.listen(
  { host: '127.0.0.1', port: 0, peek: 4, reuseUpstream: true },
  // Called once per connection, with its first bytes; returns where it goes (null: refuse).
  (conn) => routes[conn.head.toString('latin1')] ?? null,
);
const proxyPort = proxy.address().port;

console.log('berth demo: a proxy in Node whose bytes stay in the Rust engine');
console.log('=================================================================');
console.log(`upstreams   echo ${echo.dest}, sink ${sink.dest}`);
console.log(`proxy       pool.listen() on 127.0.0.1:${proxyPort}, routes on the first 4 bytes (peek: 4), reuseUpstream: true`);

// The metrics endpoint a Prometheus would scrape: one native call gathers the counters.
const metricsServer = http.createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(pool.metrics());
});
await new Promise((resolve) => metricsServer.listen(Number(process.env.BERTH_DEMO_METRICS_PORT ?? 0), '127.0.0.1', resolve));
const metricsUrl = `http://127.0.0.1:${metricsServer.address().port}/metrics`;
console.log(`metrics     ${metricsUrl} (Prometheus text format; curl it while the demo runs)`);

/** Scrapes the endpoint as Prometheus would; returns the value of each `name{...}` sample of this pool. */
async function scrape(...names) {
  const text = await (await fetch(metricsUrl)).text();
  const value = (name) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && l.includes('pool="demo"'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return Object.fromEntries(names.map((n) => [n, value(n)]));
}

// ---------------------------------------------------------------- 3. load

/**
 * Connects to the proxy, writes `payload`, reads until `done(received)` says the reply is
 * complete, then closes (the client closes first). Resolves with the reply.
 */
function session(payload, done) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort, noDelay: true });
    const chunks = [];
    let length = 0;
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      length += chunk.length;
      const reply = chunks.length === 1 ? chunk : Buffer.concat(chunks, length);
      if (done(reply)) {
        socket.destroy(); // closes cleanly (FIN): everything sent was read
        resolve(reply);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after ${length} bytes`)));
    socket.write(payload);
  });
}

// (a) request/reply sessions, CONCURRENCY at a time
const latencies = new Float64Array(SESSIONS);
let next = 0;
let bad = 0;
async function worker() {
  while (next < SESSIONS) {
    const n = next++;
    const request = Buffer.alloc(REQUEST_BYTES, 97 + (n % 26));
    request.write('ECHO', 0, 'latin1');
    const t0 = performance.now();
    const reply = await session(request, (r) => r.length >= REQUEST_BYTES);
    latencies[n] = performance.now() - t0;
    if (!reply.equals(request)) bad++;
  }
}
const t0 = performance.now();
// Scraped once while the load runs, as a Prometheus would (it does not wait for the load).
const midScrape = (async () => {
  while (next < SESSIONS / 2) await new Promise((r) => setTimeout(r, 5));
  return scrape('berth_listener_sessions_active', 'berth_listener_sessions_total');
})();
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const during = await midScrape;
const sessionsMs = performance.now() - t0;
const afterSessions = pool.stats();

// (b) one bulk upload through the proxy to the sink
const bulkHeader = Buffer.alloc(12);
bulkHeader.write('BULK', 0, 'latin1');
bulkHeader.writeBigUInt64LE(BigInt(BULK_BYTES), 4);
const t1 = performance.now();
const bulkReply = await new Promise((resolve, reject) => {
  const socket = net.connect({ host: '127.0.0.1', port: proxyPort });
  const block = Buffer.alloc(1 << 20, 'b');
  let sent = 0;
  let reply = '';
  const pump = () => {
    while (sent < BULK_BYTES) {
      sent += block.length;
      if (!socket.write(block)) return socket.once('drain', pump);
    }
  };
  socket.on('data', (d) => {
    reply += d;
    if (reply.endsWith('\n')) {
      socket.end();
      resolve(reply.trim());
    }
  });
  socket.on('error', reject);
  socket.on('close', () => reject(new Error('bulk connection closed before the sink answered')));
  socket.write(bulkHeader);
  pump();
});
const bulkMs = performance.now() - t1;

// (c) a connection the routing function refuses
const refused = await new Promise((resolve) => {
  const socket = net.connect({ host: '127.0.0.1', port: proxyPort }, () => socket.write('QUIT'));
  socket.on('error', () => {});
  socket.on('close', () => resolve(true));
  socket.resume();
});

// ---------------------------------------------------------------- 4. summary

// Session ends are counted by the engine as they finish: wait for the last ones.
for (let i = 0; i < 100 && proxy.stats().sessionsActive > 0; i++) await new Promise((r) => setTimeout(r, 10));
const ps = proxy.stats();
const st = pool.stats();
const sorted = Array.from(latencies).sort((a, b) => a - b);
const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const expectedBulkReply = `OK ${BULK_BYTES}`;

console.log('');
console.log(`request/reply  ${fmt(SESSIONS)} sessions, ${CONCURRENCY} at a time (connect, ${REQUEST_BYTES} B each way, client closes)`);
console.log(`               ${fmt(SESSIONS / (sessionsMs / 1000))} sessions/s, latency p50 ${q(0.5).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms; ${SESSIONS - bad} of ${SESSIONS} replies intact`);
console.log(`bulk           ${BULK_BYTES / 2 ** 20} MiB upload in ${(bulkMs / 1000).toFixed(2)} s = ${fmt(BULK_BYTES / 1e6 / (bulkMs / 1000))} MB/s; sink answered "${bulkReply}"`);
console.log(`refused        a connection starting with 'QUIT': route returned null, connection closed (routeFailures ${ps.routeFailures})`);
console.log('');
console.log('upstream connections');
console.log(`  opened       ${st.created}  (pool.stats().created; the upstreams accepted ${echo.accepted + sink.accepted})`);
console.log(`  reused       ${st.reused}  (pool.stats().reused; proxy.stats().upstreamReused ${ps.upstreamReused})`);
console.log(`  sessions     ${ps.sessionsTotal} routed, ${fmt(ps.bytesIn)} bytes in, ${fmt(ps.bytesOut)} bytes out (proxy.stats())`);
console.log(`  so ${((100 * afterSessions.reused) / SESSIONS).toFixed(1)}% of the request/reply sessions ran on an upstream connection an earlier session had opened`);

const after = await scrape('berth_listener_sessions_total', 'berth_listener_route_failures_total', 'berth_connections_created_total', 'berth_connections_reused_total', 'berth_connections_open');
console.log('');
console.log(`metrics        scraped from ${metricsUrl}`);
console.log(`  during load  berth_listener_sessions_total ${during.berth_listener_sessions_total}, berth_listener_sessions_active ${during.berth_listener_sessions_active}`);
for (const [name, value] of Object.entries(after)) console.log(`  after        ${name} ${value}`);
if (HOLD_S > 0) {
  console.log(`  serving ${metricsUrl} for ${HOLD_S} s more (BERTH_DEMO_HOLD)`);
  await new Promise((r) => setTimeout(r, HOLD_S * 1000));
}

// ---------------------------------------------------------------- 5. shutdown

await new Promise((resolve) => metricsServer.close(resolve));
await proxy.close();
await pool.close();
await Promise.all([echo.shutdown(), sink.shutdown()]);
console.log(`\nclosed: proxy, pool (${pool.stats().open} connections open), upstreams`);

const problems = [];
if (bad) problems.push(`${bad} replies did not match their request`);
if (bulkReply !== expectedBulkReply) problems.push(`sink answered "${bulkReply}", expected "${expectedBulkReply}"`);
if (!refused || ps.routeFailures !== 1) problems.push(`expected 1 refused connection, routeFailures is ${ps.routeFailures}`);
if (ps.sessionsTotal !== SESSIONS + 1) problems.push(`proxy routed ${ps.sessionsTotal} sessions, expected ${SESSIONS + 1}`);
if (st.reused === 0) problems.push('no upstream connection was reused');
if (after.berth_listener_sessions_total !== ps.sessionsTotal) problems.push(`/metrics says ${after.berth_listener_sessions_total} sessions, proxy.stats() ${ps.sessionsTotal}`);
if (after.berth_connections_created_total !== st.created) problems.push(`/metrics says ${after.berth_connections_created_total} connections created, pool.stats() ${st.created}`);
if (!(during.berth_listener_sessions_total > 0 && during.berth_listener_sessions_total < ps.sessionsTotal)) problems.push(`the scrape during the load saw ${during.berth_listener_sessions_total} sessions`);
if (problems.length) {
  console.error(`\ndemo: FAILED\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
clearTimeout(guard);
