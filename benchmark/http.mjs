// Suite "http": berth's HTTP agent against http.Agent({ keepAlive: true }), agentkeepalive and
// undici's Pool, side by side in one process run, against loopback Node HTTP servers running in
// child processes (this script forks itself with --server).
//
//   node benchmark/http.mjs            standalone: writes benchmark/results/http.json, prints a table
//   import { name, run } from './http.mjs'   for benchmark/run.mjs (run({ berth }) returns the result)
//
// Throughput: `concurrency` requests in flight at all times (1 and 64), each client with up to 64
// connections, for HTTP_BENCH_SECONDS (default 3) per case and round; BENCH_ROUNDS rounds (default
// 5) with the order of the clients rotated each round; the figure is the median over the rounds.
// Latency p50/p99 are over every request of the median round. A request counts as failed if it
// errors or answers anything but 200 "ok".
//
// Stale keep-alive runs, 40 sequential GETs per client, each against its own fresh server:
//   (a) Node server, keepAliveTimeout 200 ms, without the Keep-Alive hint (Node would send
//       timeout=0, which forbids reuse), closing idle connections at exactly 200 ms (Node 20 itself
//       waits a second longer than it says), pauses of 150-250 ms (same seeded sequence for all);
//   (b) a server that forgets connections idle > 100 ms and resets them (RST) when the next
//       request arrives on one, pauses of 150 ms.
//
// benchmark/https.mjs runs the same cases over TLS with the pieces exported here (the server
// takes a `tls` config, the cases take the clients to compare).

import http from 'node:http';
import https from 'node:https';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import AgentKeepAlive from 'agentkeepalive';
import * as undici from 'undici';
import { ROUNDS, fmt, isMain, machineInfo, printColumns, runStandalone } from './harness.mjs';

export const name = 'http';

const SELF = fileURLToPath(import.meta.url);
export const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 3);
export const WARMUP_SECONDS = 1;
export const MAX_CONNECTIONS = 64;
export const CONCURRENCY = [1, 64];
export const STALE_REQUESTS = 40;
const TARGET_RATIO = 0.95; // issue target: berth's agent >= 0.95x http.Agent req/s at 64 concurrent

// ---------------------------------------------------------------- the upstream (child process)

// `tls` ({ key, cert } PEMs): an https server (benchmark/https.mjs), which also counts full and
// resumed handshakes; an idle connection is then closed with close_notify + FIN, and a forgotten
// one reset on its TCP socket. `maxRequestsPerSocket`: close each connection after that many
// requests (Node's option: `Connection: close` on the last one).
function serverMain({ keepAliveTimeout, noHint, forgetAfter, exactIdleClose = false, tls = null, maxRequestsPerSocket = 0 }) {
  let accepted = 0;
  let requests = 0;
  let forgotten = 0;
  let fullHandshakes = 0;
  let resumedHandshakes = 0;
  const body = Buffer.from('ok');
  // A TLS socket has no TCP handle of its own: reset the TCP socket it wraps (`_parent`).
  const reset = (socket) => (tls ? socket._parent.resetAndDestroy() : socket.resetAndDestroy());
  const closeIdle = (socket) => {
    if (!tls) return socket.destroy();
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const handler = (req, res) => {
    const socket = req.socket;
    if (forgetAfter > 0 && socket.lastResponseAt !== undefined && performance.now() - socket.lastResponseAt > forgetAfter) {
      forgotten++;
      reset(socket);
      return;
    }
    requests++;
    clearTimeout(socket.idleTimer);
    res.on('finish', () => {
      socket.lastResponseAt = performance.now();
      // Node 20 adds a second to keepAliveTimeout internally; close idle connections at exactly
      // keepAliveTimeout, as a server that keeps to its timeout does.
      if (exactIdleClose && !socket.destroyed) socket.idleTimer = setTimeout(() => closeIdle(socket), keepAliveTimeout);
    });
    req.resume();
    req.on('end', () => {
      if (noHint) res.setHeader('Connection', 'keep-alive');
      res.setHeader('Content-Length', body.length);
      res.end(body);
    });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  server.keepAliveTimeout = keepAliveTimeout;
  if (maxRequestsPerSocket > 0) server.maxRequestsPerSocket = maxRequestsPerSocket;
  server.on('connection', (s) => {
    accepted++;
    s.on('error', () => {});
    s.on('close', () => clearTimeout(s.idleTimer));
  });
  server.on('secureConnection', (s) => {
    if (s.isSessionReused()) resumedHandshakes++;
    else fullHandshakes++;
    s.on('error', () => {});
    s.on('close', () => clearTimeout(s.idleTimer));
  });
  process.on('message', (msg) => {
    if (msg !== 'stats') return;
    const tlsStats = tls ? { fullHandshakes, resumedHandshakes } : {};
    process.send({ type: 'stats', accepted, requests, forgotten, ...tlsStats });
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));
}

/** Forks this file as the server (serverMain(config)): { port, stats(), close() }. */
export async function startServer(config) {
  const child = fork(SELF, ['--server', JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.on('message', function onMessage(msg) {
      if (msg?.type === 'listening') { child.off('message', onMessage); resolve(msg.port); }
    });
  });
  const stats = () => new Promise((resolve) => {
    child.on('message', function onMessage(msg) {
      if (msg?.type === 'stats') { child.off('message', onMessage); resolve(msg); }
    });
    child.send('stats');
  });
  const close = () => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
  return { port, stats, close };
}

// ---------------------------------------------------------------- the clients

/**
 * A client: { name, get(): Promise<boolean> (true: 200 "ok"), close() }, making its requests
 * with `get` (http.get, or https.get for an https.Agent).
 */
export function agentClient(label, agent, port, onClose, get = http.get) {
  const options = { host: '127.0.0.1', port, path: '/', agent };
  return {
    name: label,
    get: () => new Promise((resolve) => {
      const req = get(options, (res) => {
        let length = 0;
        res.on('data', (chunk) => { length += chunk.length; });
        res.on('end', () => resolve(res.statusCode === 200 && length === 2));
        res.on('error', () => resolve(false));
      });
      req.on('error', () => resolve(false));
    }),
    close: onClose,
  };
}

/** undici's Pool as a client (see agentClient). */
export function undiciClient(label, origin, options) {
  const pool = new undici.Pool(origin, options);
  return {
    name: label,
    get: async () => {
      try {
        const { statusCode, body } = await pool.request({ path: '/', method: 'GET' });
        const text = await body.text();
        return statusCode === 200 && text === 'ok';
      } catch {
        return false;
      }
    },
    close: () => pool.close(),
  };
}

/** The contenders: { names: [...], make(label, port) -> client }. */
function httpClients(berth) {
  return {
    names: [...(berth ? ['berth'] : []), 'http.Agent', 'agentkeepalive', 'undici.Pool'],
    make: (label, port) => makeClient(label, berth, port),
  };
}

function makeClient(label, berth, port) {
  switch (label) {
    case 'berth': {
      const pool = new berth.Pool({ maxPerDestination: MAX_CONNECTIONS, maxIdlePerDestination: MAX_CONNECTIONS });
      return agentClient(label, pool.httpAgent(), port, () => pool.close());
    }
    case 'http.Agent': {
      const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_CONNECTIONS });
      return agentClient(label, agent, port, () => agent.destroy());
    }
    case 'agentkeepalive': {
      const agent = new AgentKeepAlive({ maxSockets: MAX_CONNECTIONS, freeSocketTimeout: 60_000 });
      return agentClient(label, agent, port, () => agent.destroy());
    }
    case 'undici.Pool':
      return undiciClient(label, `http://127.0.0.1:${port}`, { connections: MAX_CONNECTIONS, keepAliveTimeout: 60_000 });
    default:
      throw new Error(`unknown client ${label}`);
  }
}

// ---------------------------------------------------------------- throughput

/** `concurrency` loops of requests for `seconds`: { requests, failures, reqPerSec, p50Ms, p99Ms }. */
export async function load(client, concurrency, seconds) {
  const latencies = [];
  let failures = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const ok = await client.get();
      latencies.push(performance.now() - t0);
      if (!ok) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    requests: latencies.length,
    failures,
    reqPerSec: Math.round(latencies.length / elapsed),
    p50Ms: Number(q(0.5).toFixed(3)),
    p99Ms: Number(q(0.99).toFixed(3)),
  };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Throughput of each of `contenders` ({ names, make(label, port) }) at `concurrency`, each
 * against its own server started with `serverConfig` (plus `{ keepAliveTimeout: 60 s }`);
 * `extra(serverStats)` adds fields to a client's result.
 */
export async function throughputCase(contenders, concurrency, rounds, { serverConfig = {}, extra = () => ({}) } = {}) {
  // One server per client, so that the connections each server accepted are that client's.
  const servers = [];
  const clients = [];
  for (const label of contenders.names) {
    const server = await startServer({ keepAliveTimeout: 60_000, noHint: false, forgetAfter: 0, ...serverConfig });
    servers.push(server);
    clients.push(contenders.make(label, server.port));
  }
  try {
    for (const client of clients) await load(client, concurrency, WARMUP_SECONDS);
    const perClient = new Map(clients.map((c) => [c.name, []]));
    for (let round = 0; round < rounds; round++) {
      const shift = round % clients.length;
      const order = [...clients.slice(shift), ...clients.slice(0, shift)];
      for (const client of order) {
        const r = await load(client, concurrency, SECONDS);
        perClient.get(client.name).push({ ...r, position: order.indexOf(client) + 1 });
        console.log(`  c=${String(concurrency).padStart(2)} round ${round + 1}/${rounds}  ${client.name.padEnd(15)} ${fmt(r.reqPerSec).padStart(8)} req/s  p99 ${r.p99Ms.toFixed(2)} ms  failures ${r.failures}`);
      }
    }
    const results = [];
    for (let i = 0; i < clients.length; i++) {
      const rs = perClient.get(clients[i].name);
      const reqPerSec = median(rs.map((r) => r.reqPerSec));
      const mid = rs.find((r) => r.reqPerSec === reqPerSec) ?? rs[0];
      const s = await servers[i].stats();
      results.push({
        name: clients[i].name,
        cyclesPerSec: Math.round(reqPerSec),
        reqPerSec: Math.round(reqPerSec),
        p50Ms: mid.p50Ms,
        p99Ms: median(rs.map((r) => r.p99Ms)),
        failures: rs.reduce((n, r) => n + r.failures, 0),
        requests: rs.reduce((n, r) => n + r.requests, 0),
        connectionsAccepted: s.accepted,
        ...extra(s),
        rounds: rs,
      });
    }
    return results;
  } finally {
    for (const client of clients) await client.close();
    for (const server of servers) await server.close();
  }
}

// ---------------------------------------------------------------- stale keep-alive runs

/** Same pauses for every client: a small seeded generator (mulberry32). */
export function pauses(seed, lo, hi) {
  let a = seed >>> 0;
  return Array.from({ length: STALE_REQUESTS }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.round(lo + r * (hi - lo));
  });
}

async function staleRun(contenders, label, serverConfig, delays, extra) {
  const server = await startServer(serverConfig);
  const client = contenders.make(label, server.port);
  let failures = 0;
  try {
    for (let i = 0; i < STALE_REQUESTS; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, delays[i]));
      if (!(await client.get())) failures++;
    }
    const s = await server.stats();
    return { name: label, requests: STALE_REQUESTS, failures, connectionsAccepted: s.accepted, serverResets: s.forgotten, ...extra(s) };
  } finally {
    await client.close();
    await server.close();
  }
}

/** The stale run of each of `contenders` ({ names, make }), at the same time, each against its own server. */
export async function staleCase(contenders, serverConfig, delays, { extra = () => ({}) } = {}) {
  // Clients run at the same time, each against its own server: the runs only count failures.
  return Promise.all(contenders.names.map((label) => staleRun(contenders, label, serverConfig, delays, extra)));
}

/** The two stale cases (a) and (b) of the header, `serverConfig` added to each server's. */
export async function staleCases(contenders, { serverConfig = {}, extra } = {}) {
  return {
    a: {
      title: 'keepAliveTimeout 200 ms (no Keep-Alive hint), 40 GETs with 150-250 ms pauses',
      results: await staleCase(contenders, { keepAliveTimeout: 200, noHint: true, forgetAfter: 0, exactIdleClose: true, ...serverConfig }, pauses(42, 150, 250), { extra }),
    },
    b: {
      title: 'server forgets connections idle > 100 ms and resets them on the next request, 40 GETs with 150 ms pauses',
      results: await staleCase(contenders, { keepAliveTimeout: 60_000, noHint: false, forgetAfter: 100, ...serverConfig }, pauses(7, 150, 150), { extra }),
    },
  };
}

// ---------------------------------------------------------------- suite

export async function run({ berth }) {
  const contenders = httpClients(berth);
  const cases = [];
  for (const concurrency of CONCURRENCY) {
    console.log(`http: ${concurrency} concurrent request(s), ${SECONDS} s per client and round, ${ROUNDS} rounds`);
    const results = await throughputCase(contenders, concurrency, ROUNDS);
    cases.push(summarize(concurrency, results));
  }
  console.log('http: stale keep-alive runs (a) and (b)');
  const stale = await staleCases(contenders);
  return {
    suite: name,
    unit: 'HTTP GET requests per second (and latency, failures)',
    machine: machineInfo(),
    method: {
      load: `closed loop: N requests in flight at all times for ${SECONDS} s per client and round, after ${WARMUP_SECONDS} s of warm-up`,
      rounds: ROUNDS,
      orderRotatedEachRound: true,
      figure: 'median req/s over the rounds; p99 latency: median over the rounds; failures: sum over the rounds',
      server: 'Node http server in a child process per client, 2-byte body, keepAliveTimeout 60 s (Keep-Alive: timeout=60)',
    },
    libraries: libraryVersions(Boolean(berth)),
    clientConfig: {
      berth: `new Pool({ maxPerDestination: ${MAX_CONNECTIONS}, maxIdlePerDestination: ${MAX_CONNECTIONS} }).httpAgent()`,
      'http.Agent': `new http.Agent({ keepAlive: true, maxSockets: ${MAX_CONNECTIONS} })`,
      agentkeepalive: `new Agent({ maxSockets: ${MAX_CONNECTIONS}, freeSocketTimeout: 60000 })`,
      'undici.Pool': `new Pool(origin, { connections: ${MAX_CONNECTIONS}, keepAliveTimeout: 60000 }), pool.request() + body.text()`,
    },
    cases,
    stale,
  };
}

function summarize(concurrency, results) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const peers = results.filter((r) => r.name !== 'berth');
  const best = peers.reduce((a, r) => (r.reqPerSec > a.reqPerSec ? r : a));
  const ratio = (peer) => (by.berth && peer ? Number((by.berth.reqPerSec / peer.reqPerSec).toFixed(3)) : null);
  const vsAgent = ratio(by['http.Agent']);
  return {
    id: `c${concurrency}`,
    title: `${concurrency} concurrent request${concurrency === 1 ? '' : 's'}, up to ${MAX_CONNECTIONS} connections`,
    config: { concurrency, maxConnections: MAX_CONNECTIONS, seconds: SECONDS },
    results,
    ratioToHttpAgent: vsAgent,
    target: concurrency === 64 ? TARGET_RATIO : null,
    meetsTarget: concurrency === 64 && vsAgent !== null ? vsAgent >= TARGET_RATIO : null,
    bestPeer: best.name,
    ratioToBestPeer: ratio(best),
  };
}

function libraryVersions(withBerth) {
  const require = createRequire(import.meta.url);
  const v = {
    node: process.version,
    agentkeepalive: require('agentkeepalive/package.json').version,
    undici: require('undici/package.json').version,
  };
  if (withBerth) v.berth = require('berth-pool/package.json').version;
  return v;
}

export function printTable(result) {
  const libs = ['berth', 'http.Agent', 'agentkeepalive', 'undici.Pool'];
  const rows = [['case', ...libs.map((l) => `${l} req/s (p99 ms)`), 'berth / http.Agent']];
  for (const c of result.cases) {
    const by = Object.fromEntries(c.results.map((r) => [r.name, r]));
    rows.push([
      c.id,
      ...libs.map((l) => (by[l] ? `${fmt(by[l].reqPerSec)} (${by[l].p99Ms.toFixed(2)})` : '-')),
      c.ratioToHttpAgent === null ? 'n/a' : `${c.ratioToHttpAgent.toFixed(2)}x${c.target ? ` (target ${c.target}x: ${c.meetsTarget ? 'met' : 'NOT met'})` : ''}`,
    ]);
  }
  for (const c of result.cases) {
    const by = Object.fromEntries(c.results.map((r) => [r.name, r]));
    rows.push([`${c.id} failures / conns`, ...libs.map((l) => (by[l] ? `${by[l].failures} / ${by[l].connectionsAccepted}` : '-')), '']);
  }
  for (const [id, s] of Object.entries(result.stale)) {
    const by = Object.fromEntries(s.results.map((r) => [r.name, r]));
    rows.push([`stale (${id}) failed / conns`, ...libs.map((l) => (by[l] ? `${by[l].failures}/${by[l].requests} / ${by[l].connectionsAccepted}` : '-')), '']);
  }
  printColumns(rows[0], rows.slice(1));
}

// ---------------------------------------------------------------- entry points

if (isMain(import.meta.url)) {
  if (process.argv[2] === '--server') serverMain(JSON.parse(process.argv[3]));
  else await runStandalone({ name, run, printTable });
}
