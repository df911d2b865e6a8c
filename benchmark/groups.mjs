// Suite "groups": berth's native listener routing to an upstream group of 3 members, against
// HAProxy `balance roundrobin` over the same 3 servers; then one member killed during a run.
//
//   node benchmark/groups.mjs                 writes benchmark/results/groups.json
//   node benchmark/groups.mjs --peers-only    HAProxy alone
//
// Contenders (each proxy in its own child process, so that its CPU time is its own):
//   berth-group    pool.group('backends', [3 members], { balance: 'round-robin', healthCheck:
//                  { interval: 2000 } }) (outlier ejection, retries: the defaults) and
//                  pool.listen(opts, 'group:backends'): the engine picks a member per connection
//                  (benchmark/groups-node.mjs)
//   berth-single   pool.listen(opts, '127.0.0.1:port'): berth's single-destination listener,
//                  the reference for the group's CPU per session
//   haproxy        HAProxy `mode tcp`, `balance roundrobin`, `server sN addr check` (its
//                  default checks: inter 2s, fall 3, rise 2; retries 3, no redispatch), its
//                  default thread count (one per CPU)
//   haproxy-1t     the same with nbthread 1
//
// The members are proxy-load.c's reply servers (benchmark/proxy-load.c), each member its own
// process so that one can be killed: read a 100-byte request, write a 100-byte reply, close.
//
// Phase 1, steady load (every contender): SESSIONS short sessions, CONCURRENCY at a time
// (closed loop, as proxy.mjs's short workload): sessions/s, latency, the proxy's CPU µs per
// session (utime + stime of every thread, from /proc/<pid>/stat around the phase). ROUNDS
// rounds, the order rotated each round, medians; a phase that the rest of the machine
// disturbed (more than BENCH_GROUPS_NOISY_CORES, default 0.3 core) is repeated up to 2 times,
// while phase 1 has taken less than BENCH_GROUPS_STEADY_BUDGET seconds (default 90).
// Each contender has its own set of member ports (the 3 member processes serve one port per
// contender each).
//
// Phase 2, a member dies (berth-group, haproxy, haproxy-1t): fresh members and a fresh proxy
// per run; the load generator offers KILL_RATE sessions a second (open loop: every proxy is
// offered the same sessions at the same times, however long it holds them) for KILL_SECONDS;
// KILL_AT seconds in, it sends SIGKILL to the second member's process. Reported:
//   failedAfterKill   sessions that failed (connect error, reset, empty or short reply) after
//                     the kill, of the sessions offered
//   timeToEjectMs     from the kill until the proxy marked the member out: berth, the member's
//                     state in group.stats() left 'up' (sampled every 10 ms in the proxy's
//                     process) or a memberEjected/memberDown event, whichever came first;
//                     HAProxy, its stats socket's `show stat` said DOWN (sampled every 20 ms)
//   lastSentAfterKillMs  from the kill until the proxy last sent a session to the member
//                     (berth: its `picked` counter last grew; HAProxy, which does not
//                     redispatch by default: the start of the last session that failed)
// The kill and both samplers use CLOCK_MONOTONIC (proxy-load.c's clock_gettime, Node's
// process.hrtime), so they share one time line. KILL_ROUNDS runs per contender; medians.
//
// Environment: BENCH_ROUNDS (default 5), BENCH_GROUPS_SESSIONS (20000),
// BENCH_GROUPS_CONCURRENCY (32), BENCH_GROUPS_KILL_RATE (2000), BENCH_GROUPS_KILL_SECONDS
// (10), BENCH_GROUPS_KILL_AT (2), BENCH_GROUPS_KILL_ROUNDS (1). About 2 minutes on 2 cores.

import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
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
  median,
  medians,
  quiet,
  round1,
  round2,
  runLoad,
  startHaproxyConfig,
  startNodeProxy,
  startUpstream,
} from './proxy-common.mjs';

export const name = 'groups';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SESSIONS = Number(process.env.BENCH_GROUPS_SESSIONS ?? 20000);
const CONCURRENCY = Number(process.env.BENCH_GROUPS_CONCURRENCY ?? 32);
const KILL_RATE = Number(process.env.BENCH_GROUPS_KILL_RATE ?? 2000);
const KILL_SECONDS = Number(process.env.BENCH_GROUPS_KILL_SECONDS ?? 10);
const KILL_AT = Number(process.env.BENCH_GROUPS_KILL_AT ?? 2);
const KILL_ROUNDS = Number(process.env.BENCH_GROUPS_KILL_ROUNDS ?? 1);
const KILL_MAX_IN_FLIGHT = 4096;
const NOISY = { limitCores: Number(process.env.BENCH_GROUPS_NOISY_CORES ?? 0.3), retries: 2 };
// Disturbed steady phases are repeated only while phase 1 has taken less than this, so that a
// busy machine cannot stretch the run (the whole suite stays within about 3 minutes).
const STEADY_BUDGET_SEC = Number(process.env.BENCH_GROUPS_STEADY_BUDGET ?? 90);
const REQUEST_BYTES = 100;
const REPLY_BYTES = 100;
const WARMUP_SESSIONS = 3000;
const MEMBERS = 3;
const KILLED = 1; // the second member (s2) dies in phase 2
const SAMPLE_HAPROXY_MS = 20;

const LABELS = {
  'berth-group': "berth pool.listen(opts, 'group:backends'), round-robin over 3",
  'berth-single': "berth pool.listen(opts, 'host:port'), 1 destination",
  haproxy: 'HAProxy balance roundrobin over 3, check',
  'haproxy-1t': 'HAProxy balance roundrobin over 3, check, nbthread 1',
};

// Targets (from the issue), for berth-group.
const TARGETS = {
  cpuPerSessionVsSingle: 1.1, // ≤ : within 10% of the single-destination listener
  failedAfterKillVsHaproxy: 1, // ≤ : no more failed sessions than HAProxy with its default checks
};

const mono = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the members and the proxies

/** MEMBERS member processes, each serving `sets` reply ports (one per contender). */
async function startMembers(bin, sets) {
  const members = [];
  for (let i = 0; i < MEMBERS; i++) members.push(await startUpstream(bin, sets, REQUEST_BYTES, REPLY_BYTES));
  return {
    pids: members.map((m) => m.pid),
    /** the reply ports of set `s`, one per member */
    ports: (s) => members.map((m) => m.portSets[s][0]),
    stop: () => {
      for (const m of members) m.stop();
    },
    kill: (i) => members[i].child.kill('SIGKILL'),
  };
}

async function startBerth(variant, memberPorts) {
  const dests = memberPorts.map((p) => `127.0.0.1:${p}`);
  const args = variant === 'berth-group' ? ['group', ...dests] : ['single', dests[0]];
  const p = await startNodeProxy(path.join(HERE, 'groups-node.mjs'), args);
  if (p.unavailable) return p;
  return { ...p, port: p.ports[0], dests, poolOptions: p.ready.poolOptions, groupOptions: p.ready.groupOptions };
}

function haproxyConfig(port, memberPorts, nbthread, statsSocket) {
  return [
    'global',
    '  maxconn 4000', // 2 descriptors a session: within a 20000 descriptor limit
    nbthread ? `  nbthread ${nbthread}` : null,
    statsSocket ? `  stats socket ${statsSocket} mode 600 level admin` : null,
    'defaults',
    '  mode tcp',
    '  option splice-auto',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  maxconn 4000', // 2 descriptors a session: within a 20000 descriptor limit
    'listen backends',
    `  bind 127.0.0.1:${port}`,
    '  balance roundrobin',
    ...memberPorts.map((p, i) => `  server s${i + 1} 127.0.0.1:${p} check`),
    '',
  ]
    .filter((l) => l !== null)
    .join('\n');
}

async function startHaproxy(memberPorts, nbthread) {
  const port = await freePort();
  const statsSocket = path.join(os.tmpdir(), `berth-groups-haproxy-${process.pid}-${nbthread ?? 'default'}-${port}.sock`);
  const config = haproxyConfig(port, memberPorts, nbthread, statsSocket);
  const proc = await startHaproxyConfig(config, port, `groups-${nbthread ?? 'default'}-${port}`);
  return {
    pid: proc.pid,
    port,
    config: haproxyConfig(port, memberPorts, nbthread, null), // as reported: without the socket's path
    threads: nbthread ? Number(nbthread) : os.cpus().length,
    statsSocket,
    stop: async () => {
      await proc.stop();
      fs.rmSync(statsSocket, { force: true });
    },
  };
}

/** HAProxy's `show stat` as { server name: { status, stot } } for the 'backends' proxy. */
function haproxyShowStat(socketPath) {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (out += d));
    s.on('error', () => resolve(null));
    s.on('close', () => {
      const lines = out.split('\n').filter(Boolean);
      if (!lines[0]?.startsWith('# ')) return resolve(null);
      const head = lines[0].slice(2).split(',');
      const col = (n) => head.indexOf(n);
      const by = {};
      for (const l of lines.slice(1)) {
        const f = l.split(',');
        if (f[col('pxname')] !== 'backends' || f[col('svname')] === 'FRONTEND' || f[col('svname')] === 'BACKEND') continue;
        by[f[col('svname')]] = { status: f[col('status')], stot: Number(f[col('stot')]) };
      }
      resolve(by);
    });
    s.write('show stat\n');
  });
}

/** Samples HAProxy's servers every SAMPLE_HAPROXY_MS until stop(); returns what berth's watch does. */
function watchHaproxy(socketPath) {
  const members = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = mono();
      const by = await haproxyShowStat(socketPath);
      for (const [sv, { status, stot }] of Object.entries(by ?? {})) {
        const m = (members[sv] ??= { states: [], stot, lastPickedAt: null });
        const state = status.startsWith('DOWN') ? 'down' : status.startsWith('UP') ? 'up' : status.toLowerCase();
        if (m.states.length === 0 || m.states.at(-1).status !== status) m.states.push({ at, state, status });
        if (stot !== m.stot) {
          m.stot = stot;
          m.lastPickedAt = at;
        }
      }
      await sleep(SAMPLE_HAPROXY_MS);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return members;
    },
  };
}

// ---------------------------------------------------------------- phase 1: steady load

async function measureSteady(bin, v, memberPids) {
  const upCpu = () => memberPids.reduce((t, pid) => t + cpuSeconds(pid), 0);
  const p0 = cpuSeconds(v.pid);
  const u0 = upCpu();
  const m0 = machineBusySeconds();
  const r = await runLoad(bin, ['short', String(v.port), String(CONCURRENCY), String(SESSIONS), String(REQUEST_BYTES), String(REPLY_BYTES), 'close']);
  const proxyCpu = cpuSeconds(v.pid) - p0;
  const upstreamCpu = upCpu() - u0;
  const otherCpu = machineBusySeconds() - m0 - proxyCpu - upstreamCpu - r.clientCpuSec;
  return {
    sessionsPerSec: Math.round(r.sessionsPerSec),
    latencyP50Us: r.latencyUs.p50,
    latencyP99Us: r.latencyUs.p99,
    proxyCpuUsPerSession: round1((proxyCpu / r.sessions) * 1e6),
    clientCpuUsPerSession: round1((r.clientCpuSec / r.sessions) * 1e6),
    upstreamCpuUsPerSession: round1((upstreamCpu / r.sessions) * 1e6),
    proxyCpuShareOfOneCore: round2(proxyCpu / r.elapsedSec),
    otherCpuShareOfOneCore: round2(Math.max(0, otherCpu) / r.elapsedSec),
    sessions: r.sessions,
    errors: r.errors,
    elapsedSec: round2(r.elapsedSec),
  };
}

async function warmup(bin, v) {
  await runLoad(bin, ['short', String(v.port), String(CONCURRENCY), String(WARMUP_SESSIONS), String(REQUEST_BYTES), String(REPLY_BYTES), 'close']);
}

// ---------------------------------------------------------------- phase 2: a member dies

/** One run: fresh members and a fresh proxy, the open-loop load, SIGKILL to member KILLED. */
async function killRun(bin, contender) {
  const members = await startMembers(bin, 1);
  const ports = members.ports(0);
  let proxy = null;
  try {
    if (contender.startsWith('berth')) proxy = await startBerth(contender, ports);
    else proxy = await startHaproxy(ports, contender === 'haproxy-1t' ? 1 : null);
    if (proxy.unavailable) return { unavailable: proxy.unavailable };
    await warmup(bin, proxy);
    await sleep(500);
    let watch;
    if (proxy.ask) await proxy.ask('watch');
    else watch = watchHaproxy(proxy.statsSocket);
    const load = await runLoad(bin, [
      'failover',
      String(proxy.port),
      String(KILL_RATE),
      String(KILL_SECONDS),
      String(REQUEST_BYTES),
      String(REPLY_BYTES),
      String(members.pids[KILLED]),
      String(KILL_AT),
      String(KILL_MAX_IN_FLIGHT),
    ]);
    let seen;
    let events = [];
    let killedName;
    if (proxy.ask) {
      const w = await proxy.ask('watched');
      killedName = proxy.dests[KILLED];
      seen = w.members[killedName];
      events = w.events.filter((e) => e.member === killedName);
    } else {
      const byServer = await watch.stop();
      killedName = `s${KILLED + 1}`;
      seen = byServer[killedName];
    }
    const afterKill = (at) => (at === null || at === undefined || load.killMono === null || at < load.killMono ? null : Math.round((at - load.killMono) * 1000));
    const outAt = [
      seen?.states.find((s) => s.state !== 'up' && s.at >= load.killMono)?.at,
      ...events.filter((e) => e.event !== 'memberUp' && e.at >= load.killMono).map((e) => e.at),
    ].filter((x) => x !== undefined);
    const timeToEjectMs = outAt.length ? afterKill(Math.min(...outAt)) : null;
    const lastFailedStart = load.lastFailedStartAfterKillMs < 0 ? null : Math.round(load.lastFailedStartAfterKillMs);
    const okAfter = load.timeline.ok.slice(Math.floor((KILL_AT * 1000) / load.timeline.bucketMs)).reduce((a, b) => a + b, 0);
    return {
      offered: load.offered,
      ok: load.ok,
      failed: load.failed,
      failedAfterKill: load.failedAfterKill,
      failedStartedAfterKill: load.failedStartedAfterKill,
      failedByKind: load.failedByKind,
      unfinished: load.unfinished,
      skipped: load.skipped,
      okAfterKill: okAfter,
      timeToEjectMs,
      // berth: its picked counter (a session retried on another member was sent to it too);
      // HAProxy (no redispatch): every session it sends to the dead member fails, so the last
      // failed session's start. (Its stot counter grows when a session's retries are over.)
      lastSentAfterKillMs: proxy.ask ? afterKill(seen?.lastPickedAt) : lastFailedStart,
      ...(proxy.ask ? {} : { stotLastGrewAfterKillMs: afterKill(seen?.lastPickedAt) }),
      lastFailedStartAfterKillMs: lastFailedStart,
      lastFailureEndAfterKillMs: load.lastFailureEndAfterKillMs < 0 ? null : Math.round(load.lastFailureEndAfterKillMs),
      latencyP50Us: load.latencyUs.p50,
      latencyP99Us: load.latencyUs.p99,
      latencyMaxUs: load.latencyUs.max,
      killedMember: killedName,
      memberStates: seen?.states.map((s) => ({ afterKillMs: afterKill(s.at) ?? Math.round((s.at - load.killMono) * 1000), state: s.state, ...(s.status ? { status: s.status } : {}) })) ?? null,
      events: events.map((e) => ({ event: e.event, afterKillMs: Math.round((e.at - load.killMono) * 1000), reason: e.reason, ejectedFor: e.ejectedFor })),
      timeline: load.timeline,
    };
  } finally {
    if (proxy && proxy.stop) await proxy.stop().catch(() => {});
    members.stop();
  }
}

// ---------------------------------------------------------------- the suite


export async function run({ berth }) {
  const bin = buildLoad();
  const busyBefore = await machineBusyFraction(1000);
  if (busyBefore > 0.15) {
    console.log(`groups: WARNING: the machine was ${Math.round(busyBefore * 100)}% busy before the run (other processes): figures will be noisy`);
  }
  const skipped = [];
  const caps = berthCapabilities(berth);
  const want = [];
  if (caps.listen && caps.group) want.push('berth-group');
  else skipped.push({ variant: 'berth-group', why: !berth ? 'berth not loaded' : !caps.listen ? 'this build has no pool.listen()' : 'group API unavailable (this build has no pool.group())' });
  if (caps.listen) want.push('berth-single');
  else skipped.push({ variant: 'berth-single', why: berth ? 'this build has no pool.listen()' : 'berth not loaded' });
  const haVersion = haproxyVersion();
  if (haVersion) want.push('haproxy', 'haproxy-1t');
  else skipped.push({ variant: 'haproxy', why: 'haproxy binary not found (Debian: apt-get install -y haproxy)' });
  for (const s of skipped) console.log(`groups: skipping ${s.variant}: ${s.why}`);
  if (want.length === 0) throw new Error('groups: nothing to measure');

  // ---- phase 1
  const members = await startMembers(bin, want.length);
  const contenders = [];
  const perContender = new Map(want.map((w) => [w, []]));
  const configs = {};
  try {
    for (const [i, w] of want.entries()) {
      const ports = members.ports(i);
      const p = w.startsWith('berth') ? await startBerth(w, ports) : await startHaproxy(ports, w === 'haproxy-1t' ? 1 : null);
      if (p.unavailable) throw new Error(`groups: ${w}: ${p.unavailable}`);
      contenders.push({ name: w, ...p });
      configs[w] = p.config ?? null;
    }
    for (const c of contenders) await warmup(bin, c);
    const steadyStart = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      const shift = round % contenders.length;
      const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
      console.log(`groups — steady load, round ${round + 1}/${ROUNDS}`);
      for (const c of order) {
        const overBudget = (performance.now() - steadyStart) / 1000 > STEADY_BUDGET_SEC;
        const r = await quiet(() => measureSteady(bin, c, members.pids), overBudget ? { ...NOISY, retries: 0 } : NOISY);
        r.position = order.indexOf(c) + 1;
        perContender.get(c.name).push(r);
        console.log(
          `  ${c.name.padEnd(13)} ${fmt(r.sessionsPerSec).padStart(7)}/s  ${r.proxyCpuUsPerSession.toFixed(1).padStart(6)} µs CPU/session` +
            `  (errors ${r.errors}, others busy: ${r.otherCpuShareOfOneCore.toFixed(2)} core)`,
        );
      }
    }
    for (const c of contenders) {
      if (!c.ask) continue;
      const s = await c.stats();
      c.finalStats = { listener: s.stats[0], group: s.group };
    }
  } finally {
    for (const c of contenders) await c.stop().catch(() => {});
    members.stop();
  }

  // ---- phase 2
  const killContenders = want.filter((w) => w !== 'berth-single');
  const kills = new Map(killContenders.map((w) => [w, []]));
  for (let round = 0; round < KILL_ROUNDS; round++) {
    const shift = round % killContenders.length;
    const order = [...killContenders.slice(shift), ...killContenders.slice(0, shift)];
    console.log(`groups — a member killed, round ${round + 1}/${KILL_ROUNDS} (${KILL_RATE} sessions/s offered for ${KILL_SECONDS} s, member 2 killed at ${KILL_AT} s)`);
    for (const w of order) {
      const r = await killRun(bin, w);
      kills.get(w).push(r);
      console.log(
        `  ${w.padEnd(13)} failed after the kill ${String(r.failedAfterKill).padStart(5)} of ${r.offered} offered` +
          `  ejected after ${r.timeToEjectMs ?? '-'} ms, last sent to it ${r.lastSentAfterKillMs ?? '-'} ms after the kill` +
          `  (by kind ${JSON.stringify(r.failedByKind)}, unfinished ${r.unfinished})`,
      );
    }
  }

  const results = want.map((w) => {
    const steady = perContender.get(w);
    const k = kills.get(w);
    const killMedian = (key) => (k ? median(k.map((r) => r[key])) : null);
    return {
      name: w,
      label: LABELS[w],
      steady: { ...medians(steady), rounds: steady },
      kill: k
        ? {
            offered: Math.round(killMedian('offered')),
            failedAfterKill: Math.round(killMedian('failedAfterKill')),
            timeToEjectMs: killMedian('timeToEjectMs'),
            lastSentAfterKillMs: killMedian('lastSentAfterKillMs'),
            lastFailedStartAfterKillMs: killMedian('lastFailedStartAfterKillMs'),
            rounds: k,
          }
        : null,
    };
  });

  return {
    suite: name,
    unit: 'steady: sessions/s and proxy CPU µs per session; kill: failed sessions after the kill, ms from the kill',
    machine: { ...machineInfo(), busyBeforeRun: round2(busyBefore), loadAverage: os.loadavg().map(round2) },
    build: gitRevision(),
    method: {
      rounds: ROUNDS,
      orderRotatedEachRound: true,
      figure: 'median over the rounds, each metric separately',
      members: `${MEMBERS} member processes (proxy-load.c reply servers): read ${REQUEST_BYTES} B, write ${REPLY_BYTES} B, close first; one port per contender in each`,
      steady: `${SESSIONS} sessions, ${CONCURRENCY} concurrent (closed loop): connect, write ${REQUEST_BYTES} B, read the ${REPLY_BYTES} B reply, the member closes, then the client`,
      kill: `fresh members and proxy per run; ${KILL_RATE} sessions/s offered (open loop, at most ${KILL_MAX_IN_FLIGHT} in flight) for ${KILL_SECONDS} s; SIGKILL to member ${KILLED + 1} at ${KILL_AT} s; ${KILL_ROUNDS} run(s) per contender, medians`,
      failedAfterKill: 'sessions that ended after the kill with a connect error, a reset, or an empty or short reply (the client never retries)',
      timeToEject: `berth: the killed member's state in group.stats() left 'up' (sampled every 10 ms in the proxy process) or a memberEjected/memberDown event; HAProxy: \`show stat\` on its stats socket said DOWN (sampled every ${SAMPLE_HAPROXY_MS} ms)`,
      lastSent: "berth: the last time the member's group.stats() members[].picked grew after the kill; HAProxy (no redispatch: every session sent to the dead member fails): the start of the last failed session",
      noise: `a steady phase during which other processes used more than ${NOISY.limitCores} core is repeated up to ${NOISY.retries} times (while phase 1 has taken less than ${STEADY_BUDGET_SEC} s); the quietest attempt is kept`,
      cpu: 'proxy process CPU (utime+stime, all threads) from /proc/<pid>/stat around each phase, resolution 1/CLK_TCK s',
      processes: 'load generator, each member and each proxy are separate processes; the proxies run side by side in phase 1, idle when not measured',
      loadGenerator: 'benchmark/proxy-load.c (epoll, one thread): short (closed loop) and failover (open loop) modes',
      berth: contenders.find((c) => c.name === 'berth-group')?.groupOptions
        ? { poolOptions: contenders.find((c) => c.name === 'berth-group').poolOptions, groupOptions: contenders.find((c) => c.name === 'berth-group').groupOptions }
        : { poolOptions: contenders.find((c) => c.name === 'berth-single')?.poolOptions ?? null },
      haproxy: haVersion ? { version: haVersion, configs: { haproxy: configs.haproxy, 'haproxy-1t': configs['haproxy-1t'] }, threads: { haproxy: os.cpus().length, 'haproxy-1t': 1 } } : null,
    },
    versions: {
      node: process.version,
      haproxy: haVersion,
      berth: berth ? createRequire(import.meta.url)('berth-pool/package.json').version : null,
    },
    results,
    targets: evaluateTargets(results),
    noise: (() => {
      const phases = results.flatMap((r) => r.steady.rounds);
      return { phases: phases.length, noisyPhases: phases.filter((p) => p.noisy).length, repeatedPhases: phases.filter((p) => p.attempts > 1).length, limitCores: NOISY.limitCores };
    })(),
    skipped,
    proxyStats: Object.fromEntries(contenders.filter((c) => c.finalStats).map((c) => [c.name, c.finalStats])),
  };
}

function evaluateTargets(results) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const g = by['berth-group'];
  if (!g) return [];
  const out = [];
  const add = (id, what, value, target, cmp) => {
    if (value === null || value === undefined || Number.isNaN(value)) return out.push({ id, what, value: null, target, cmp, met: null });
    out.push({ id, what, value: round2(value), target: round2(target), cmp, met: cmp === '<=' ? value <= target : value >= target });
  };
  const single = by['berth-single'];
  add('cpuPerSessionVsSingle', "berth group listener's CPU per session / the single-destination listener's", single && g.steady.proxyCpuUsPerSession / single.steady.proxyCpuUsPerSession, TARGETS.cpuPerSessionVsSingle, '<=');
  for (const [h, label] of [['haproxy', 'HAProxy (default threads)'], ['haproxy-1t', 'HAProxy (nbthread 1)']]) {
    const ha = by[h];
    if (!ha?.kill) continue;
    // against HAProxy's count itself, not as a ratio: either may be 0
    add(`failedAfterKillVs:${h}`, `failed sessions after a member dies, berth group listener (target: no more than ${label})`, g.kill.failedAfterKill, ha.kill.failedAfterKill, '<=');
  }
  return out;
}

export function printTable(result) {
  const head = ['contender', 'sessions/s', 'p50 µs', 'p99 µs', 'proxy CPU µs/sess', 'members µs/sess', 'failed after kill', 'eject ms', 'last sent ms'];
  const num = (x, d = 0) => (x === null || x === undefined ? '-' : d ? x.toFixed(d) : fmt(x));
  const body = result.results.map((r) => [
    r.label,
    num(r.steady.sessionsPerSec),
    num(r.steady.latencyP50Us),
    num(r.steady.latencyP99Us),
    num(r.steady.proxyCpuUsPerSession, 1),
    num(r.steady.upstreamCpuUsPerSession, 1),
    r.kill ? `${r.kill.failedAfterKill} of ${fmt(r.kill.offered)}` : '-',
    num(r.kill?.timeToEjectMs),
    num(r.kill?.lastSentAfterKillMs),
  ]);
  printColumns(head, body);
  console.log(`kill: ${result.method.kill}; eject/last sent: ms from the kill`);
  for (const s of result.skipped) console.log(`skipped ${s.variant}: ${s.why}`);
  const n = result.noise;
  console.log(`noise: ${n.noisyPhases} of ${n.phases} steady phases ran while other processes used more than ${n.limitCores} core (${n.repeatedPhases} were repeated)`);
  if (result.targets.length) {
    console.log('\ntargets for berth-group:');
    for (const t of result.targets) {
      console.log(`  ${t.what}: ${t.value === null ? 'n/a' : t.value} (target ${t.cmp === '<=' ? '≤' : '≥'} ${t.target}): ${t.met === null ? 'n/a' : t.met ? 'met' : 'NOT met'}`);
    }
  }
}

// ---------------------------------------------------------------- standalone

if (isMain(import.meta.url)) await runStandalone({ name, run, printTable });
