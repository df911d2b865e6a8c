// Suite "https": berth's HTTPS agent (pool.httpsAgent) against https.Agent({ keepAlive: true }),
// agentkeepalive's HttpsAgent and undici's Pool, over TLS to loopback Node https servers in child
// processes. The cases are those of benchmark/http.mjs (whose server, clients and loops this
// suite reuses), plus a count of TLS handshakes.
//
//   node benchmark/https.mjs [--peers-only]   standalone: writes benchmark/results/https.json
//   import { name, run } from './https.mjs'    for benchmark/run.mjs
//
// Certificates: a private CA and a P-256 server certificate for 127.0.0.1, made with openssl at
// the start (__test__/helpers/tls-certs.mjs); every client is given the CA (`ca`), verification on.
// TLS 1.3, the server's defaults (session tickets on).
//
//   throughput   1 and 64 requests in flight, HTTP_BENCH_SECONDS (3) per client and round,
//                BENCH_ROUNDS (5) rounds, order rotated, median (as http.mjs)
//   stale (a)/(b) http.mjs's two stale keep-alive runs over TLS: (a) the server closes idle
//                connections (close_notify + FIN) at exactly 200 ms, no Keep-Alive hint, 150-250 ms
//                pauses; (b) it forgets connections idle > 100 ms and resets the next request on one
//   handshakes   10,000 GETs at 1 and at 64 concurrent against a server that closes each
//                connection after 100 requests (Node's maxRequestsPerSocket): every client must
//                reconnect about 100 times; the server counts full and resumed handshakes.
//                Fewer full handshakes = the client resumes sessions (and opens fewer connections).
//                Target: fewer full handshakes than every peer, or as few where a peer already
//                makes only the one a fresh server needs.
//
// Every server counts, per client, the TCP connections it accepted and the full / resumed TLS
// handshakes (tlsSocket.isSessionReused()), reported as full handshakes per 10,000 requests.
//
// When berth is loaded but has no Pool#httpsAgent (issue 15 not landed), berth's column is
// skipped and the result says why.

import https from 'node:https';
import { createRequire } from 'node:module';
import AgentKeepAlive from 'agentkeepalive';
import { makeCerts } from '../__test__/helpers/tls-certs.mjs';
import {
  CONCURRENCY, MAX_CONNECTIONS, SECONDS, WARMUP_SECONDS, agentClient, undiciClient, throughputCase, staleCases,
  startServer,
} from './http.mjs';
import { ROUNDS, fmt, isMain, machineInfo, runStandalone } from './harness.mjs';

export const name = 'https';

const TARGET_RATIO = 1.0; // issue 15: berth's HTTPS agent >= 1.0x https.Agent at 1 and 64 concurrent
const HANDSHAKE_REQUESTS = 10_000;
const REQUESTS_PER_CONNECTION = 100;
const HANDSHAKE_GUARD_MS = 120_000; // a bound on each handshake run, should a client stall
const LIBS = ['berth', 'https.Agent', 'agentkeepalive', 'undici.Pool'];

/** Why berth cannot be measured here, or null. */
function berthSkipReason(berth) {
  if (!berth) return 'berth not loaded (--peers-only or not built)';
  if (typeof berth.Pool?.prototype?.httpsAgent !== 'function') {
    return 'this build of berth has no Pool#httpsAgent (issue 15: not landed yet)';
  }
  return null;
}

/** The contenders: { names, make(label, port) } (see http.mjs). */
function httpsClients(berth, ca) {
  const get = https.get;
  const make = (label, port) => {
    switch (label) {
      case 'berth': {
        const pool = new berth.Pool({ maxPerDestination: MAX_CONNECTIONS, maxIdlePerDestination: MAX_CONNECTIONS });
        return agentClient(label, pool.httpsAgent({ ca }), port, () => pool.close(), get);
      }
      case 'https.Agent': {
        const agent = new https.Agent({ keepAlive: true, maxSockets: MAX_CONNECTIONS, ca });
        return agentClient(label, agent, port, () => agent.destroy(), get);
      }
      case 'agentkeepalive': {
        const agent = new AgentKeepAlive.HttpsAgent({ maxSockets: MAX_CONNECTIONS, freeSocketTimeout: 60_000, ca });
        return agentClient(label, agent, port, () => agent.destroy(), get);
      }
      case 'undici.Pool':
        return undiciClient(label, `https://127.0.0.1:${port}`, { connections: MAX_CONNECTIONS, keepAliveTimeout: 60_000, connect: { ca } });
      default:
        throw new Error(`unknown client ${label}`);
    }
  };
  return { names: LIBS.filter((l) => l !== 'berth' || berth), make };
}

/** Handshake counts from a server's stats, per 10,000 requests the server answered. */
function handshakeFields(s) {
  return {
    serverRequests: s.requests,
    fullHandshakes: s.fullHandshakes,
    resumedHandshakes: s.resumedHandshakes,
    fullHandshakesPer10k: s.requests ? Number(((s.fullHandshakes * 10_000) / s.requests).toFixed(1)) : null,
  };
}

// ---------------------------------------------------------------- handshakes under churn

/** `total` GETs, `concurrency` in flight, against a fresh server that ends connections after 100 requests. */
async function handshakeRun(contenders, label, tlsConfig, concurrency, total) {
  const server = await startServer({ keepAliveTimeout: 60_000, noHint: false, forgetAfter: 0, tls: tlsConfig, maxRequestsPerSocket: REQUESTS_PER_CONNECTION });
  const client = contenders.make(label, server.port);
  let issued = 0;
  let failures = 0;
  const start = performance.now();
  const until = start + HANDSHAKE_GUARD_MS;
  try {
    const worker = async () => {
      while (issued < total && performance.now() < until) {
        issued++;
        if (!(await client.get())) failures++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - start) / 1000;
    const s = await server.stats();
    return {
      name: label,
      requests: issued,
      failures,
      reqPerSec: Math.round(issued / seconds),
      connectionsAccepted: s.accepted,
      ...handshakeFields(s),
    };
  } finally {
    await client.close();
    await server.close();
  }
}

async function handshakeCase(contenders, tlsConfig, concurrency) {
  // One client at a time (CPU-bound handshakes would slow each other down), each with its own server.
  const results = [];
  for (const label of contenders.names) {
    const r = await handshakeRun(contenders, label, tlsConfig, concurrency, HANDSHAKE_REQUESTS);
    console.log(`  c=${String(concurrency).padStart(2)}  ${label.padEnd(15)} full ${r.fullHandshakes}, resumed ${r.resumedHandshakes}, connections ${r.connectionsAccepted}, failures ${r.failures}`);
    results.push(r);
  }
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const peers = results.filter((r) => r.name !== 'berth');
  const fewestPeer = peers.reduce((a, r) => (r.fullHandshakes < a.fullHandshakes ? r : a));
  // The first connection to a fresh server needs a full handshake: where a peer already does
  // just that one, matching it is the most a client can do.
  const cmp = fewestPeer.fullHandshakes <= 1 ? '≤' : '<';
  const meets = (n) => (cmp === '≤' ? n <= fewestPeer.fullHandshakes : n < fewestPeer.fullHandshakes);
  return {
    id: `h${concurrency}`,
    title: `${fmt(HANDSHAKE_REQUESTS)} GETs, ${concurrency} concurrent, server closes each connection after ${REQUESTS_PER_CONNECTION} requests`,
    config: { concurrency, requests: HANDSHAKE_REQUESTS, requestsPerConnection: REQUESTS_PER_CONNECTION },
    results,
    fewestFullHandshakesPeer: fewestPeer.name,
    target: { cmp, fullHandshakes: fewestPeer.fullHandshakes },
    meetsTarget: by.berth ? meets(by.berth.fullHandshakes) : null,
  };
}

// ---------------------------------------------------------------- suite

export async function run({ berth }) {
  const skip = berthSkipReason(berth);
  if (skip && berth) console.log(`https: berth's column is skipped: ${skip}`);
  const measured = skip ? null : berth;
  const certs = makeCerts();
  const tlsConfig = { key: certs.server.key, cert: certs.server.cert };
  const contenders = httpsClients(measured, certs.ca);

  const cases = [];
  for (const concurrency of CONCURRENCY) {
    console.log(`https: ${concurrency} concurrent request(s), ${SECONDS} s per client and round, ${ROUNDS} rounds`);
    const results = await throughputCase(contenders, concurrency, ROUNDS, { serverConfig: { tls: tlsConfig }, extra: handshakeFields });
    cases.push(summarize(concurrency, results));
  }
  console.log('https: stale keep-alive runs (a) and (b)');
  const stale = await staleCases(contenders, { serverConfig: { tls: tlsConfig }, extra: handshakeFields });
  console.log(`https: TLS handshakes over ${fmt(HANDSHAKE_REQUESTS)} GETs with a reconnect every ${REQUESTS_PER_CONNECTION} requests`);
  const handshakes = [];
  for (const concurrency of CONCURRENCY) handshakes.push(await handshakeCase(contenders, tlsConfig, concurrency));

  const result = {
    suite: name,
    unit: 'HTTPS GET requests per second (and latency, failures, TLS handshakes)',
    machine: machineInfo(),
    method: {
      load: `closed loop: N requests in flight at all times for ${SECONDS} s per client and round, after ${WARMUP_SECONDS} s of warm-up`,
      rounds: ROUNDS,
      orderRotatedEachRound: true,
      figure: 'median req/s over the rounds; p99 latency: median over the rounds; failures: sum over the rounds',
      server: 'Node https server in a child process per client, TLS 1.3 (Node defaults, session tickets on), P-256 certificate from a private CA, 2-byte body, keepAliveTimeout 60 s',
      handshakes: `counted by each server: full vs resumed (isSessionReused()); handshake cases: ${HANDSHAKE_REQUESTS} GETs against a server with maxRequestsPerSocket ${REQUESTS_PER_CONNECTION}, one client at a time`,
    },
    libraries: libraryVersions(Boolean(measured)),
    clientConfig: {
      berth: `new Pool({ maxPerDestination: ${MAX_CONNECTIONS}, maxIdlePerDestination: ${MAX_CONNECTIONS} }).httpsAgent({ ca })`,
      'https.Agent': `new https.Agent({ keepAlive: true, maxSockets: ${MAX_CONNECTIONS}, ca })`,
      agentkeepalive: `new HttpsAgent({ maxSockets: ${MAX_CONNECTIONS}, freeSocketTimeout: 60000, ca })`,
      'undici.Pool': `new Pool(origin, { connections: ${MAX_CONNECTIONS}, keepAliveTimeout: 60000, connect: { ca } }), pool.request() + body.text()`,
    },
    cases,
    stale,
    handshakes,
    targets: targets(cases, stale, handshakes),
  };
  if (skip) result.berthSkipped = skip;
  return result;
}

function summarize(concurrency, results) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const peers = results.filter((r) => r.name !== 'berth');
  const best = peers.reduce((a, r) => (r.reqPerSec > a.reqPerSec ? r : a));
  const ratio = (peer) => (by.berth && peer ? Number((by.berth.reqPerSec / peer.reqPerSec).toFixed(3)) : null);
  const vsAgent = ratio(by['https.Agent']);
  return {
    id: `c${concurrency}`,
    title: `${concurrency} concurrent request${concurrency === 1 ? '' : 's'}, up to ${MAX_CONNECTIONS} connections`,
    config: { concurrency, maxConnections: MAX_CONNECTIONS, seconds: SECONDS },
    results,
    ratioToHttpsAgent: vsAgent,
    target: TARGET_RATIO,
    meetsTarget: vsAgent === null ? null : vsAgent >= TARGET_RATIO,
    bestPeer: best.name,
    ratioToBestPeer: ratio(best),
  };
}

/** The issue's targets: [{ what, value, cmp, target, met }] (value and met null without berth). */
export function targets(cases, stale, handshakes) {
  const list = [];
  for (const c of cases) {
    list.push({ what: `berth / https.Agent req/s, ${c.title}`, value: c.ratioToHttpsAgent, cmp: '≥', target: TARGET_RATIO, met: c.meetsTarget });
  }
  for (const [id, s] of Object.entries(stale)) {
    const peerFailures = s.results.filter((r) => r.name !== 'berth' && r.failures > 0);
    if (peerFailures.length === 0) continue;
    const b = s.results.find((r) => r.name === 'berth');
    list.push({
      what: `stale (${id}): berth's failed GETs of ${s.results[0].requests} (peers: ${peerFailures.map((r) => `${r.name} ${r.failures}`).join(', ')})`,
      value: b ? b.failures : null,
      cmp: '=',
      target: 0,
      met: b ? b.failures === 0 : null,
    });
  }
  for (const h of handshakes) {
    const b = h.results.find((r) => r.name === 'berth');
    list.push({
      what: `full handshakes, ${h.title}: berth vs the fewest of a peer (${h.fewestFullHandshakesPeer})`,
      value: b ? b.fullHandshakes : null,
      cmp: h.target.cmp,
      target: h.target.fullHandshakes,
      met: h.meetsTarget,
    });
  }
  return list;
}

function libraryVersions(withBerth) {
  const require = createRequire(import.meta.url);
  const v = {
    node: process.version,
    openssl: process.versions.openssl,
    agentkeepalive: require('agentkeepalive/package.json').version,
    undici: require('undici/package.json').version,
  };
  if (withBerth) v.berth = require('berth-pool/package.json').version;
  return v;
}

export function printTable(result) {
  const rows = [['case', ...LIBS.map((l) => `${l} req/s (p99 ms)`), 'berth / https.Agent']];
  const cell = (by, l, f) => (by[l] ? f(by[l]) : '-');
  for (const c of result.cases) {
    const by = Object.fromEntries(c.results.map((r) => [r.name, r]));
    rows.push([
      c.id,
      ...LIBS.map((l) => cell(by, l, (r) => `${fmt(r.reqPerSec)} (${r.p99Ms.toFixed(2)})`)),
      c.ratioToHttpsAgent === null ? 'n/a' : `${c.ratioToHttpsAgent.toFixed(2)}x (target ${c.target}x: ${c.meetsTarget ? 'met' : 'NOT met'})`,
    ]);
  }
  for (const c of result.cases) {
    const by = Object.fromEntries(c.results.map((r) => [r.name, r]));
    rows.push([`${c.id} failures / conns / full hs`, ...LIBS.map((l) => cell(by, l, (r) => `${r.failures} / ${r.connectionsAccepted} / ${r.fullHandshakes}`)), '']);
  }
  for (const [id, s] of Object.entries(result.stale)) {
    const by = Object.fromEntries(s.results.map((r) => [r.name, r]));
    rows.push([`stale (${id}) failed / full+resumed hs`, ...LIBS.map((l) => cell(by, l, (r) => `${r.failures}/${r.requests} / ${r.fullHandshakes}+${r.resumedHandshakes}`)), '']);
  }
  for (const h of result.handshakes) {
    const by = Object.fromEntries(h.results.map((r) => [r.name, r]));
    rows.push([`${h.id} full / resumed hs (failed)`, ...LIBS.map((l) => cell(by, l, (r) => `${r.fullHandshakes} / ${r.resumedHandshakes} (${r.failures})`)), h.meetsTarget === null ? 'n/a' : `${h.target.cmp} ${h.target.fullHandshakes}: ${h.meetsTarget ? 'met' : 'NOT met'}`]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  console.log('');
  if (result.berthSkipped) console.log(`berth's column skipped: ${result.berthSkipped}`);
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
}

if (isMain(import.meta.url)) await runStandalone({ name, run, printTable });
