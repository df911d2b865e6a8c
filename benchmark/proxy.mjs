// Suite "proxy": a TCP proxy's throughput and its own CPU time, side by side in one run.
//
//   node benchmark/proxy.mjs                 all variants, writes benchmark/results/proxy.json
//   node benchmark/proxy.mjs --peers-only    without berth (direct, Node pipe proxy, HAProxy)
//
// Variants (each proxy in its own child process, so that its CPU time is its own):
//   direct               no proxy: the load generator talks to the upstream
//   berth-listen         (a) pool.listen(): the engine accepts, asks a JS routing function for
//                            the destination once per connection, and moves the bytes itself
//   berth-listen-fixed   (a'') pool.listen() with a destination string: the engine routes every
//                            connection itself, no JS call per connection
//   berth-listen-memo    (a''') pool.listen() with a route function whose answer the engine
//                            remembers ({ dest, cacheFor, key: 'localPort' }): JS once per listener
//   berth-listen-reuse   (a') the same with reuseUpstream: true (upstream connections pooled
//                            when the client closes first): not something a TCP-mode HAProxy does
//   berth-forward        (b) a Node net server whose accepted sockets go to pool.forward()
//   node-pipe            (c) a plain Node proxy: net.connect() per client, socket.pipe() both ways
//   haproxy              (d) HAProxy in TCP mode (option splice-auto), if the binary is installed,
//                            its default thread count (one per CPU)
//   haproxy-1t           (d1) the same with nbthread 1
//
// Three workloads, all through 127.0.0.1 only:
//   short  SESSIONS sessions, CONCURRENCY at a time: connect, write a 100-byte request, read the
//          100-byte reply, the upstream closes, the client reads the end and closes (the upstream
//          closes first, as an HTTP/1.0 server would: no connecting side keeps TIME_WAIT sockets,
//          so no connect() is slowed by a local port search; see proxy-load.c). The targets are
//          judged on this one. Sessions/s, latency, proxy CPU µs per session.
//   keep   the same exchange, but the client closes first and the upstream (an echo server)
//          keeps its connection open: a proxy that reuses upstream connections (a') can.
//          KEEP_SESSIONS a run (fewer: the client's side is left in TIME_WAIT, see proxy-load.c).
//   bulk   one connection sends BULK bytes (after an 8-byte length header) through the proxy to
//          a sink upstream that counts them and, once it has them all, sends an 8-byte ack; the
//          time is from connect to the ack. So the figure is bytes delivered to the upstream,
//          client→upstream direction only. MB/s (10^6 bytes/s), proxy CPU s per GiB.
//
// The load generator and the upstream are one small C program (proxy-load.c, built at run time
// with cc -O2) so that the two ends cost little CPU on a 2-core machine; the client's and the
// upstream's CPU time are reported as well. The proxy's CPU time is read from /proc/<pid>/stat
// (utime + stime, every thread) before and after each measured phase.
//
// A phase during which the rest of the machine used more than BENCH_PROXY_NOISY_CORES (default
// 0.3) of a core is measured again, up to BENCH_PROXY_NOISY_RETRIES (default 3) times; the
// quietest attempt is kept and flagged `noisy` if it still was.
//
// ROUNDS (BENCH_ROUNDS, default 5) rounds, the order of the variants rotated each round; each
// figure is the median over the rounds. BENCH_PROXY_SESSIONS (default 20000),
// BENCH_PROXY_KEEP_SESSIONS (default 10000), BENCH_PROXY_BULK_MIB (default 1024),
// BENCH_PROXY_CONCURRENCY (default 32). The whole run takes about 2 minutes on 2 cores.

import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROUNDS, fmt, isMain, machineInfo, printColumns, runStandalone } from './harness.mjs';
import {
  berthCapabilities,
  buildLoad,
  cpuSeconds,
  freePort,
  gitRevision,
  haproxyVersion,
  machineBusyFraction,
  machineBusySeconds,
  medians,
  quiet as quietWith,
  round1,
  round2,
  runLoad,
  startHaproxyConfig,
  startNodeProxy as startNodeProxyScript,
  startUpstream as startUpstreamSets,
} from './proxy-common.mjs';

export const name = 'proxy';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKLOADS = ['short', 'keep'];
const SESSIONS = Number(process.env.BENCH_PROXY_SESSIONS ?? 20000);
const KEEP_SESSIONS = Number(process.env.BENCH_PROXY_KEEP_SESSIONS ?? 10000);
const CONCURRENCY = Number(process.env.BENCH_PROXY_CONCURRENCY ?? 32);
const BULK_BYTES = Number(process.env.BENCH_PROXY_BULK_MIB ?? 1024) * 2 ** 20;
const REQUEST_BYTES = 100;
const REPLY_BYTES = 100;
const WARMUP_SESSIONS = 3000;
const WARMUP_BULK = 128 * 2 ** 20;
const NOISY_CORES = Number(process.env.BENCH_PROXY_NOISY_CORES ?? 0.3); // others' CPU during a phase, in cores
const NOISY_RETRIES = Number(process.env.BENCH_PROXY_NOISY_RETRIES ?? 3);

const LABELS = {
  direct: 'direct (no proxy)',
  'berth-listen': '(a) berth pool.listen()',
  'berth-listen-reuse': "(a') berth pool.listen() reuseUpstream",
  'berth-listen-fixed': "(a'') berth pool.listen(opts, 'host:port')",
  'berth-listen-memo': "(a''') berth pool.listen(opts, route) remembered (cacheFor)",
  'berth-forward': '(b) net server + pool.forward()',
  'node-pipe': '(c) Node socket.pipe() proxy',
  haproxy: '(d) HAProxy TCP mode',
  'haproxy-1t': '(d1) HAProxy TCP mode, nbthread 1',
};

// Targets (from the issue), for berth's native listener (a) with default options.
const TARGETS = {
  cpuPerSessionVsNodePipe: 1 / 3, // ≤
  sessionsVsNodePipe: 1.25, // ≥
  bulkVsDirect: 0.9, // ≥
  bulkVsHaproxy: 1.0, // ≥
};

// ---------------------------------------------------------------- child processes

/** The upstream in its own process: `sets` sets of [reply, echo, sink] ports, one set per variant. */
const startUpstream = (bin, sets) => startUpstreamSets(bin, sets, REQUEST_BYTES, REPLY_BYTES);

/** Starts a Node proxy variant (proxy-node.mjs) in its own process. */
const startNodeProxy = (variant, upstreams) => startNodeProxyScript(path.join(HERE, 'proxy-node.mjs'), [variant, ...upstreams]);

async function startHaproxy(upstreamPorts, nbthread) {
  const ports = [await freePort(), await freePort(), await freePort()];
  const config = [
    'global',
    '  maxconn 4000', // 2 descriptors a session + splice pipes: within a 20000 fd limit
    nbthread ? `  nbthread ${nbthread}` : null,
    'defaults',
    '  mode tcp',
    '  option splice-auto',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  maxconn 4000',
    'listen reply',
    `  bind 127.0.0.1:${ports[0]}`,
    `  server up 127.0.0.1:${upstreamPorts[0]}`,
    'listen echo',
    `  bind 127.0.0.1:${ports[1]}`,
    `  server up 127.0.0.1:${upstreamPorts[1]}`,
    'listen sink',
    `  bind 127.0.0.1:${ports[2]}`,
    `  server up 127.0.0.1:${upstreamPorts[2]}`,
    '',
  ]
    .filter((l) => l !== null)
    .join('\n');
  const proc = await startHaproxyConfig(config, ports[0], `proxy-${nbthread ?? 'default'}`);
  return {
    pid: proc.pid,
    ports,
    config,
    threads: nbthread ? Number(nbthread) : os.cpus().length,
    stop: proc.stop,
  };
}

// ---------------------------------------------------------------- measurement

async function measureShort(bin, v, upstream, sessions, workload) {
  const port = workload === 'short' ? v.ports[0] : v.ports[1];
  const mode = workload === 'short' ? 'close' : 'keep';
  const p0 = v.pid ? cpuSeconds(v.pid) : 0;
  const u0 = cpuSeconds(upstream.pid);
  const m0 = machineBusySeconds();
  const r = await runLoad(bin, ['short', String(port), String(CONCURRENCY), String(sessions), String(REQUEST_BYTES), String(REPLY_BYTES), mode]);
  const proxyCpu = v.pid ? cpuSeconds(v.pid) - p0 : null;
  const upstreamCpu = cpuSeconds(upstream.pid) - u0;
  const otherCpu = machineBusySeconds() - m0 - (proxyCpu ?? 0) - upstreamCpu - r.clientCpuSec;
  return {
    sessionsPerSec: Math.round(r.sessionsPerSec),
    latencyP50Us: r.latencyUs.p50,
    latencyP99Us: r.latencyUs.p99,
    proxyCpuUsPerSession: proxyCpu === null ? null : round1((proxyCpu / r.sessions) * 1e6),
    clientCpuUsPerSession: round1((r.clientCpuSec / r.sessions) * 1e6),
    upstreamCpuUsPerSession: round1((upstreamCpu / r.sessions) * 1e6),
    proxyCpuShareOfOneCore: proxyCpu === null ? null : round2(proxyCpu / r.elapsedSec),
    clientCpuShareOfOneCore: round2(r.clientCpuSec / r.elapsedSec),
    otherCpuShareOfOneCore: round2(Math.max(0, otherCpu) / r.elapsedSec),
    sessions: r.sessions,
    errors: r.errors,
    elapsedSec: round2(r.elapsedSec),
  };
}

async function measureBulk(bin, v, upstream, bytes) {
  const p0 = v.pid ? cpuSeconds(v.pid) : 0;
  const u0 = cpuSeconds(upstream.pid);
  const m0 = machineBusySeconds();
  const r = await runLoad(bin, ['bulk', String(v.ports[2]), String(bytes)]);
  const proxyCpu = v.pid ? cpuSeconds(v.pid) - p0 : null;
  const upstreamCpu = cpuSeconds(upstream.pid) - u0;
  const otherCpu = machineBusySeconds() - m0 - (proxyCpu ?? 0) - upstreamCpu - r.clientCpuSec;
  const gib = bytes / 2 ** 30;
  return {
    MBps: Math.round(r.MBps),
    proxyCpuSecPerGiB: proxyCpu === null ? null : round2(proxyCpu / gib),
    clientCpuSecPerGiB: round2(r.clientCpuSec / gib),
    upstreamCpuSecPerGiB: round2(upstreamCpu / gib),
    proxyCpuShareOfOneCore: proxyCpu === null ? null : round2(proxyCpu / r.elapsedSec),
    otherCpuShareOfOneCore: round2(Math.max(0, otherCpu) / r.elapsedSec),
    elapsedSec: round2(r.elapsedSec),
  };
}

const quiet = (measure) => quietWith(measure, { limitCores: NOISY_CORES, retries: NOISY_RETRIES });


/**
 * Runs the suite. `berth` is the loaded module ({ Pool }) or null to run only the peers.
 * Returns the JSON-ready result object.
 */
export async function run({ berth }) {
  const bin = buildLoad();
  const busyBefore = await machineBusyFraction(1000);
  if (busyBefore > 0.15) {
    console.log(`proxy: WARNING: the machine was ${Math.round(busyBefore * 100)}% busy before the run (other processes): figures will be noisy`);
  }
  const skipped = [];
  const caps = berthCapabilities(berth);
  const want = [];
  if (caps.listen) want.push('berth-listen', 'berth-listen-reuse', 'berth-listen-fixed', 'berth-listen-memo');
  else skipped.push({ variant: 'berth-listen', why: berth ? 'this build has no pool.listen()' : 'berth not loaded' });
  if (caps.forward) want.push('berth-forward');
  else skipped.push({ variant: 'berth-forward', why: berth ? 'this build has no pool.forward()' : 'berth not loaded' });
  want.push('node-pipe');
  const haVersion = haproxyVersion();
  if (!haVersion) {
    const why = 'haproxy binary not found (Debian: apt-get install -y haproxy)';
    console.log(`proxy: skipping HAProxy: ${why}`);
    skipped.push({ variant: 'haproxy', why });
  }
  const upstream = await startUpstream(bin, 1 + want.length + (haVersion ? 2 : 0));
  const dests = (i) => upstream.portSets[i].map((p) => `127.0.0.1:${p}`);
  const variants = [{ name: 'direct', pid: null, ports: upstream.portSets[0], stop: async () => {} }];
  const haproxy = {};
  try {
    for (const w of want) variants.push({ name: w, ...(await startNodeProxy(w, dests(variants.length))) });
    if (haVersion) {
      haproxy.default = await startHaproxy(upstream.portSets[variants.length], null);
      variants.push({ name: 'haproxy', ...haproxy.default });
      haproxy.oneThread = await startHaproxy(upstream.portSets[variants.length], 1);
      variants.push({ name: 'haproxy-1t', ...haproxy.oneThread });
    }
    for (const s of skipped) if (s.variant !== 'haproxy') console.log(`proxy: skipping ${s.variant}: ${s.why}`);

    // Warm-up: JIT, pools, caches; and a check that every variant passes bytes correctly.
    for (const v of variants) {
      for (const w of WORKLOADS) await measureShort(bin, v, upstream, WARMUP_SESSIONS, w);
      await measureBulk(bin, v, upstream, WARMUP_BULK);
    }

    const perVariant = new Map(variants.map((v) => [v.name, { short: [], keep: [], bulk: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      const shift = round % variants.length;
      const order = [...variants.slice(shift), ...variants.slice(0, shift)];
      console.log(`proxy — round ${round + 1}/${ROUNDS}`);
      for (const v of order) {
        const s = await quiet(() => measureShort(bin, v, upstream, SESSIONS, 'short'));
        const k = await quiet(() => measureShort(bin, v, upstream, KEEP_SESSIONS, 'keep'));
        const b = await quiet(() => measureBulk(bin, v, upstream, BULK_BYTES));
        s.position = k.position = b.position = order.indexOf(v) + 1;
        perVariant.get(v.name).short.push(s);
        perVariant.get(v.name).keep.push(k);
        perVariant.get(v.name).bulk.push(b);
        const cpu = (x) => (x.proxyCpuUsPerSession === null ? '     -' : x.proxyCpuUsPerSession.toFixed(1).padStart(6));
        console.log(
          `  ${v.name.padEnd(19)} short ${fmt(s.sessionsPerSec).padStart(7)}/s ${cpu(s)} µs CPU` +
            `  keep ${fmt(k.sessionsPerSec).padStart(7)}/s ${cpu(k)} µs CPU` +
            `  bulk ${fmt(b.MBps).padStart(6)} MB/s` +
            `  ${b.proxyCpuSecPerGiB === null ? '    -' : b.proxyCpuSecPerGiB.toFixed(2).padStart(5)} s CPU/GiB` +
            `  (others busy: ${s.otherCpuShareOfOneCore.toFixed(2)}/${k.otherCpuShareOfOneCore.toFixed(2)}/${b.otherCpuShareOfOneCore.toFixed(2)} core)`,
        );
      }
    }

    const proxyStats = {};
    for (const v of variants) {
      if (!v.stats) continue;
      const m = await v.stats();
      proxyStats[v.name] = { listeners: m.stats, pool: m.pool };
    }

    const results = variants.map((v) => {
      const r = perVariant.get(v.name);
      return {
        name: v.name,
        label: LABELS[v.name],
        short: { ...medians(r.short), rounds: r.short },
        keep: { ...medians(r.keep), rounds: r.keep },
        bulk: { ...medians(r.bulk), rounds: r.bulk },
      };
    });

    return {
      suite: name,
      unit: 'short sessions/s and proxy CPU µs per session; bulk MB/s (10^6 bytes/s) and proxy CPU s per GiB',
      machine: { ...machineInfo(), busyBeforeRun: round2(busyBefore), loadAverage: os.loadavg().map(round2) },
      build: gitRevision(),
      method: {
        rounds: ROUNDS,
        orderRotatedEachRound: true,
        figure: 'median over the rounds, each metric separately',
        short: `${SESSIONS} sessions, ${CONCURRENCY} concurrent: connect, write ${REQUEST_BYTES} B, read the ${REPLY_BYTES} B reply, the upstream closes, then the client`,
        keep: `${KEEP_SESSIONS} sessions, ${CONCURRENCY} concurrent: connect, write ${REQUEST_BYTES} B, read the ${REPLY_BYTES} B echo, the client closes first; the upstream keeps its connection open (reusable); fewer sessions a run than short, so that the client's TIME_WAIT pairs never make connect() search for a port (see proxy-load.c)`,
        upstreamPorts: 'one set of upstream ports (reply, echo, sink) per variant',
        bulk: `one connection, ${BULK_BYTES / 2 ** 20} MiB client→upstream after an 8-byte length header; timed from connect to the sink's 8-byte ack once it has counted every byte`,
        noise: `a phase during which other processes used more than ${NOISY_CORES} core is repeated up to ${NOISY_RETRIES} times; the quietest attempt is kept (attempts, noisy in each round)`,
        cpu: 'proxy process CPU (utime+stime, all threads) from /proc/<pid>/stat around each phase, resolution 1/CLK_TCK s; otherCpuShareOfOneCore: what the rest of the machine used meanwhile (from /proc/stat), a noise indicator',
        processes: 'load generator, upstream and each proxy are separate processes; the proxies run side by side, idle when not measured',
        loadGenerator: 'benchmark/proxy-load.c (epoll, one thread), built with cc -O2 at run time; also the upstream (echo port, sink port)',
        warmup: `${WARMUP_SESSIONS} short sessions and ${WARMUP_BULK / 2 ** 20} MiB bulk per variant before the rounds`,
        berthPoolOptions: { maxPerDestination: 1024, maxIdlePerDestination: 256, maxTotal: 4096, maxConcurrentDials: 256 },
        nodePipe: 'net.createServer({ allowHalfOpen: true, noDelay: true }); net.connect({ allowHalfOpen: true, noDelay: true }) per client; client.pipe(upstream); upstream.pipe(client)',
        haproxy: haVersion
          ? {
              version: haVersion,
              variants: { haproxy: { threads: haproxy.default.threads, config: haproxy.default.config }, 'haproxy-1t': { threads: 1, config: haproxy.oneThread.config } },
            }
          : null,
      },
      versions: {
        node: process.version,
        haproxy: haVersion,
        berth: berth ? createRequire(import.meta.url)('berth-pool/package.json').version : null,
      },
      results,
      targets: evaluateTargets(results),
      noise: (() => {
        const phases = results.flatMap((r) => [...r.short.rounds, ...r.keep.rounds, ...r.bulk.rounds]);
        return { phases: phases.length, noisyPhases: phases.filter((p) => p.noisy).length, repeatedPhases: phases.filter((p) => p.attempts > 1).length, limitCores: NOISY_CORES };
      })(),
      skipped,
      proxyStats,
    };
  } finally {
    for (const v of variants) await v.stop().catch(() => {});
    upstream.stop();
  }
}

function evaluateTargets(results) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const a = by['berth-listen'];
  if (!a) return null;
  const out = [];
  const add = (id, what, value, target, cmp) => {
    if (value === null || value === undefined || Number.isNaN(value)) return out.push({ id, what, value: null, target, cmp, met: null });
    out.push({ id, what, value: round2(value), target: round2(target), cmp, met: cmp === '<=' ? value <= target : cmp === '<' ? value < target : value >= target });
  };
  const pipe = by['node-pipe'];
  const direct = by.direct;
  add('cpuPerSessionVsNodePipe', "(a)'s proxy CPU per session / Node pipe proxy's", pipe && a.short.proxyCpuUsPerSession / pipe.short.proxyCpuUsPerSession, TARGETS.cpuPerSessionVsNodePipe, '<=');
  for (const [h, label] of [['haproxy', 'HAProxy (default threads)'], ['haproxy-1t', 'HAProxy (nbthread 1)']]) {
    const ha = by[h];
    if (!ha) continue;
    add(`cpuPerSessionVs:${h}`, `(a)'s proxy CPU per session / ${label}'s`, a.short.proxyCpuUsPerSession / ha.short.proxyCpuUsPerSession, 1, '<');
  }
  add('sessionsVsNodePipe', '(a) sessions/s / Node pipe proxy sessions/s', pipe && a.short.sessionsPerSec / pipe.short.sessionsPerSec, TARGETS.sessionsVsNodePipe, '>=');
  add('bulkVsDirect', '(a) bulk MB/s / direct bulk MB/s', direct && a.bulk.MBps / direct.bulk.MBps, TARGETS.bulkVsDirect, '>=');
  for (const [h, label] of [['haproxy', 'HAProxy (default threads)'], ['haproxy-1t', 'HAProxy (nbthread 1)']]) {
    const ha = by[h];
    if (!ha) continue;
    add(`bulkVs:${h}`, `(a) bulk MB/s / ${label} bulk MB/s`, a.bulk.MBps / ha.bulk.MBps, TARGETS.bulkVsHaproxy, '>=');
  }
  return out;
}

export function printTable(result) {
  const head = [
    'variant',
    'short/s',
    'p50 µs',
    'p99 µs',
    'proxy CPU µs/sess',
    'keep/s',
    'keep proxy CPU µs/sess',
    'bulk MB/s',
    'proxy CPU s/GiB',
    'client µs/sess',
    'upstream µs/sess',
  ];
  const num = (x, d = 0) => (x === null || x === undefined ? '-' : d ? x.toFixed(d) : fmt(x));
  const body = result.results.map((r) => [
    r.label,
    num(r.short.sessionsPerSec),
    num(r.short.latencyP50Us),
    num(r.short.latencyP99Us),
    num(r.short.proxyCpuUsPerSession, 1),
    num(r.keep.sessionsPerSec),
    num(r.keep.proxyCpuUsPerSession, 1),
    num(r.bulk.MBps),
    num(r.bulk.proxyCpuSecPerGiB, 2),
    num(r.short.clientCpuUsPerSession, 1),
    num(r.short.upstreamCpuUsPerSession, 1),
  ]);
  printColumns(head, body);
  console.log('short: upstream closes first; keep: client closes first, upstream connection reusable; client/upstream µs: short workload');
  for (const s of result.skipped) console.log(`skipped ${s.variant}: ${s.why}`);
  const n = result.noise;
  console.log(`noise: ${n.noisyPhases} of ${n.phases} measured phases ran while other processes used more than ${n.limitCores} core (${n.repeatedPhases} were repeated)`);
  if (result.targets) {
    console.log('\ntargets for (a) berth pool.listen():');
    for (const t of result.targets) {
      const cmp = { '<=': '≤', '<': '<', '>=': '≥' }[t.cmp];
      console.log(`  ${t.what}: ${t.value === null ? 'n/a' : t.value.toFixed(2)} (target ${cmp} ${t.target}): ${t.met === null ? 'n/a' : t.met ? 'met' : 'NOT met'}`);
    }
  }
}

// ---------------------------------------------------------------- standalone

if (isMain(import.meta.url)) await runStandalone({ name, run, printTable });
