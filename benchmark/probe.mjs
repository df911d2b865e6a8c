// Suite "probe": TCP connect probes of many loopback targets, side by side in one run:
// berth's probe() vs a plain Node prober built on net.connect() vs nmap -sT.
//
//   npm run bench -- probe             this suite only (node benchmark/run.mjs probe)
//   node benchmark/probe.mjs           standalone: writes benchmark/results/probe.json, prints a table
//   node benchmark/probe.mjs --peers-only    without berth (the Node prober and nmap only)
//
// Targets: BENCH_PROBE_TARGETS (default 20,000) ports on 127.0.0.1, half of them listening and
// half closed, in one shuffled order (the same for every contender; nmap shuffles its own).
//   - listening: one helper process (probe-listeners.mjs) holds one listener per port (backlog
//     511), under `ulimit -n` raised as needed (up to the hard limit). Its C form (built with cc)
//     accepts nothing while a contender runs: the kernel completes each handshake (the probe
//     sees the port open) and queues the connection, and the queues are drained between runs,
//     so the helper takes no CPU from the contender measured. Without a C compiler a Node helper
//     accepts as connections come (slower figures for every contender; noted in the JSON).
//     Either way the prober closes (or resets) each connection first, as against a real server.
//   - closed: ports on which a bind() to 127.0.0.1 succeeds, checked before and after the
//     listeners are up (so nothing listens there: a connect is refused).
//   Every port is outside the kernel's ephemeral range (net.ipv4.ip_local_port_range), so that no
//   probe's own source port can be a target port: on loopback a connect() from port P to a
//   closed port P would connect the socket to itself and read as open.
//
// Contenders, each in its own child process (its peak RSS is its own; VmHWM from
// /proc/<pid>/status, read by the process itself at the end for the Node children, and
// ru_maxrss from GNU time for nmap):
//   berth  probe-berth.mjs: for await (const r of probe(targets, { concurrency, timeout }))
//   node   probe-node.mjs: a straightforward prober, `concurrency` workers each awaiting
//          net.connect({ host, port, timeout }) -> 'connect' / 'error' / 'timeout'
//   nmap   nmap -sT (connect scan, as an unprivileged user would run it) with the same parallelism
//          and no retries; flags in NMAP_FLAGS below; skipped with a message if not installed.
// Same concurrency (BENCH_PROBE_CONCURRENCY, default 1,000) and timeout (BENCH_PROBE_TIMEOUT_MS,
// default 1,000 ms) for all three.
//
// Figures: probes/s = targets / scan time, where the scan time is the sweep measured inside the
// process (first target handed over -> last result in; excludes Node's start-up and module
// loading) for berth and node, and nmap's own elapsed time (<finished elapsed>, 10 ms
// resolution, from nmap's start to the end of the scan). Wall time from spawn to exit is reported
// for all three as well. Peak RSS is the whole process's high-water mark.
// Agreement: per port, each contender's state vs nmap's, and vs the ground truth (listening or
// verified closed). ROUNDS (BENCH_ROUNDS, default 5) rounds after one warm-up round, the order of
// the contenders rotated each round; each figure is the median over the rounds. About 20 s.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROUNDS, fmt, isMain, machineInfo, printColumns, runStandalone } from './harness.mjs';
import { spawnWithNofile, startListeners } from './probe-listeners.mjs';

export const name = 'probe';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1';
const TARGETS_TOTAL = Number(process.env.BENCH_PROBE_TARGETS ?? 20000);
const CONCURRENCY = Number(process.env.BENCH_PROBE_CONCURRENCY ?? 1000);
const TIMEOUT_MS = Number(process.env.BENCH_PROBE_TIMEOUT_MS ?? 1000);
const PAUSE_MS = 300; // after each run, before the accept queues are drained: the machine settles
const TARGETS = { vsNode: 3, vsNmap: 1, agreementPercent: 100 }; // issue 5
const NOISY_CORES = Number(process.env.BENCH_PROBE_NOISY_CORES ?? 0.3); // others' CPU during a run, in cores
const NOISY_RETRIES = Number(process.env.BENCH_PROBE_NOISY_RETRIES ?? 3);

// nmap -sT: connect scan (the one an unprivileged prober can do, as berth and node do), no ping
// (-Pn), no DNS (-n), every port given (-p), no retransmissions (--max-retries 0: one probe a
// port, as the others), exactly CONCURRENCY probes in flight (min = max parallelism), -T5 for
// its short scan delays; RTT timeouts pinned to the others' timeout, so that nmap neither gives
// up on a port sooner than they do nor waits longer (-T5 alone would give up after <= 300 ms).
// On the 2-core development machine these were nmap's fastest settings of those tried: 0.21-0.25 s
// a scan; -T5 alone (its own parallelism) 0.29-0.40 s; min = max parallelism 2000, 0.38-0.41 s.
const NMAP_FLAGS = [
  '-sT', '-Pn', '-n', '-T5',
  '--max-retries', '0',
  '--min-parallelism', String(CONCURRENCY), '--max-parallelism', String(CONCURRENCY),
  '--initial-rtt-timeout', `${TIMEOUT_MS}ms`, '--max-rtt-timeout', `${TIMEOUT_MS}ms`,
];

const LABELS = {
  berth: 'berth probe()',
  node: 'Node net.connect prober',
  nmap: 'nmap -sT',
};

// ---------------------------------------------------------------- child processes

function nofileHardLimit() {
  const r = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' });
  const v = r.stdout.trim();
  return v === 'unlimited' ? Infinity : Number(v);
}

/** Runs a Node contender (probe-berth.mjs / probe-node.mjs); resolves its report + wall time. */
function runNodeContender(script, targetsFile) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawnWithNofile(CONCURRENCY + 1024, process.execPath, [path.join(HERE, script), targetsFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${script} exited with ${code}: ${err.trim().slice(0, 2000)}`));
      try {
        resolve({ ...JSON.parse(out), wallMs: round2(wallMs), stderr: err.trim() || undefined });
      } catch (e) {
        reject(new Error(`${script}: unreadable report (${e.message}): ${out.slice(0, 500)}`));
      }
    });
  });
}

// ---------------------------------------------------------------- nmap

function nmapVersion() {
  const r = spawnSync('nmap', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return /Nmap version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

/** GNU time, for nmap's ru_maxrss and CPU time (BENCH_PROBE_TIME overrides the path). */
function gnuTime() {
  const bin = process.env.BENCH_PROBE_TIME ?? '/usr/bin/time';
  const r = spawnSync(bin, ['-f', '%M', 'true'], { encoding: 'utf8' });
  return !r.error && r.status === 0 && /^\d+\s*$/.test(r.stderr) ? bin : null;
}

/** "1,2,3,5,7,8" -> "1-3,5,7-8" (nmap's -p; one argument must stay under 128 KiB). */
function portRanges(ports) {
  const s = [...ports].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(i === j ? String(s[i]) : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

function expandPorts(spec) {
  const out = [];
  for (const part of spec.split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    for (let p = a; p <= (b ?? a); p++) out.push(p);
  }
  return out;
}

/** Port states from nmap's XML: Map port -> 'open' | 'closed' | 'filtered' | other. */
function parseNmapXml(xml) {
  const states = new Map();
  for (const m of xml.matchAll(/<port protocol="tcp" portid="(\d+)"><state state="([^"]+)"/g)) states.set(Number(m[1]), m[2]);
  // Ports in one state beyond 25 are summarized: <extraports state="closed" count="N">
  // <extrareasons reason="conn-refused" count="N" proto="tcp" ports="a-b,c"/>.
  let summarizedWithoutPorts = 0;
  for (const m of xml.matchAll(/<extraports state="([^"]+)" count="(\d+)">([\s\S]*?)<\/extraports>/g)) {
    let listed = 0;
    for (const r of m[3].matchAll(/<extrareasons [^>]*?ports="([^"]*)"/g)) {
      for (const p of expandPorts(r[1])) {
        states.set(p, m[1]);
        listed++;
      }
    }
    summarizedWithoutPorts += Number(m[2]) - listed;
  }
  const elapsed = /<finished [^>]*elapsed="([\d.]+)"/.exec(xml);
  return { states, elapsedSec: elapsed ? Number(elapsed[1]) : null, summarizedWithoutPorts };
}

/** VmHWM of a running process, KiB (the fallback when GNU time is missing: sampled, so a floor). */
function vmHwm(pid) {
  try {
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function runNmap(ports, order, time) {
  return new Promise((resolve, reject) => {
    const timeFile = path.join(os.tmpdir(), `berth-probe-nmap-time-${process.pid}.txt`);
    const nmapArgs = [...NMAP_FLAGS, '-p', portRanges(ports), HOST, '-oX', '-'];
    const [cmd, args] = time ? [time, ['-f', '%M %U %S', '-o', timeFile, 'nmap', ...nmapArgs]] : ['nmap', nmapArgs];
    const t0 = performance.now();
    const child = spawnWithNofile(CONCURRENCY + 1024, cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    let sampledHwm = 0;
    const sampler = time ? null : setInterval(() => (sampledHwm = Math.max(sampledHwm, vmHwm(child.pid) || 0)), 5);
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = performance.now() - t0;
      if (sampler) clearInterval(sampler);
      if (code !== 0) return reject(new Error(`nmap exited with ${code}: ${err.trim().slice(0, 2000)}`));
      let peakRssKiB = sampledHwm || null;
      let cpuSec = null;
      if (time) {
        const [m, u, s] = fs.readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
        fs.rmSync(timeFile, { force: true });
        peakRssKiB = m;
        cpuSec = round2(u + s);
      }
      const xml = parseNmapXml(out);
      const names = { open: 'o', closed: 'c', filtered: 'f' };
      const states = order.map((p) => (xml.states.has(p) ? names[xml.states.get(p)] ?? 'e' : '?')).join('');
      const byState = { open: 0, closed: 0, filtered: 0, error: 0, none: 0 };
      for (const ch of states) byState[{ o: 'open', c: 'closed', f: 'filtered', e: 'error' }[ch] ?? 'none']++;
      const durationMs = xml.elapsedSec === null ? wallMs : xml.elapsedSec * 1000;
      resolve({
        name: 'nmap',
        durationMs: round2(durationMs),
        probes: order.length,
        probesPerSec: Math.round(order.length / (durationMs / 1000)),
        byState,
        peakRssKiB,
        peakRssMethod: time ? 'ru_maxrss (GNU time %M)' : 'VmHWM sampled every 5 ms (GNU time missing): a lower bound',
        processCpuSec: cpuSec,
        summarizedWithoutPorts: xml.summarizedWithoutPorts,
        states,
        wallMs: round2(wallMs),
      });
    });
  });
}

// ---------------------------------------------------------------- targets

function ephemeralRange() {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return { lo, hi };
  } catch {
    return { lo: 32768, hi: 60999 };
  }
}

/** Whether a bind() to HOST:port succeeds now (nothing listens there, the port is ours to use). */
function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: HOST, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** The first `want` of `candidates` that are free, checked 500 at a time (a default ulimit -n of 1024 is enough). */
async function freePorts(candidates, want = Infinity) {
  const free = [];
  const CHUNK = 500;
  for (let i = 0; i < candidates.length && free.length < want; i += CHUNK) {
    const chunk = candidates.slice(i, i + CHUNK);
    const ok = await Promise.all(chunk.map(portFree));
    chunk.forEach((p, j) => ok[j] && free.push(p));
  }
  return free.slice(0, want);
}

/** Seeded shuffle (mulberry32), so that the order is the same from run to run. */
function shuffle(xs, seed) {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Ports outside the ephemeral range, from 10000 up (then below 10000 down to 1024): free ones,
 * alternately to listen on and to leave closed. Starts the listeners, re-checks the closed ones.
 */
async function setUpTargets() {
  const eph = ephemeralRange();
  const candidates = [];
  for (let p = 10000; p <= 65535; p++) if (p < eph.lo || p > eph.hi) candidates.push(p);
  for (let p = 9999; p >= 1024; p--) if (p < eph.lo || p > eph.hi) candidates.push(p);
  const free = await freePorts(candidates, TARGETS_TOTAL);
  if (free.length < TARGETS_TOTAL) throw new Error(`probe suite: only ${free.length} free ports outside the ephemeral range ${eph.lo}-${eph.hi}, ${TARGETS_TOTAL} wanted`);
  const wantOpen = free.filter((_, i) => i % 2 === 0);
  const closed = free.filter((_, i) => i % 2 === 1);
  const listeners = await startListeners(HOST, wantOpen);
  if (listeners.failed.length) {
    const codes = [...new Set(listeners.failed.map((f) => f.code))].join(', ');
    await listeners.stop();
    throw new Error(
      `probe suite: the listener process could not listen on ${listeners.failed.length} of ${wantOpen.length} ports (${codes}); ` +
        `its RLIMIT_NOFILE is ${JSON.stringify(listeners.nofile)} (it needs ${wantOpen.length + 100} or more: raise the hard limit, e.g. ulimit -Hn, or set BENCH_PROBE_TARGETS lower)`,
    );
  }
  const stillFree = new Set(await freePorts(closed));
  const taken = closed.filter((p) => !stillFree.has(p));
  if (taken.length) {
    await listeners.stop();
    throw new Error(`probe suite: ${taken.length} ports meant to be closed were taken meanwhile (e.g. ${taken.slice(0, 5).join(', ')})`);
  }
  const open = listeners.listening;
  const order = shuffle([...open, ...closed], 0x5eed);
  const truth = new Map([...open.map((p) => [p, 'o']), ...closed.map((p) => [p, 'c'])]);
  return { eph, open, closed, order, truth, listeners };
}

// ---------------------------------------------------------------- agreement

function agreement(a, b) {
  let same = 0;
  const mismatches = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) same++;
    else if (mismatches.length < 10) mismatches.push(i);
  }
  return { same, total: a.length, percent: round4((100 * same) / a.length), mismatchIndices: mismatches };
}

const STATE_NAME = { o: 'open', c: 'closed', f: 'filtered', e: 'error', '?': 'none' };

function describeMismatches(ag, order, a, b, aName, bName) {
  return ag.mismatchIndices.map((i) => ({ port: order[i], [aName]: STATE_NAME[a[i]], [bName]: STATE_NAME[b[i]] }));
}

// ---------------------------------------------------------------- machine

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system, all threads) a process has used so far. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds the machine's processes have used (user + nice + system; no interrupts), from /proc/stat. */
function machineProcessSeconds() {
  const [user, nice, system] = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system) / CLK_TCK;
}

/**
 * Runs a measurement again (up to NOISY_RETRIES times, after a pause) while the rest of the
 * machine (every process but the contender and the listener helper) used more than NOISY_CORES
 * meanwhile; keeps the quietest attempt, noting the attempts and whether it was still noisy.
 */
async function quiet(measure) {
  let best = null;
  let attempts = 0;
  while (attempts <= NOISY_RETRIES) {
    const m = await measure();
    attempts++;
    if (!best || m.entry.otherCores < best.entry.otherCores) best = m;
    if (m.entry.otherCores === null || m.entry.otherCores <= NOISY_CORES) break;
    if (attempts <= NOISY_RETRIES) await new Promise((done) => setTimeout(done, 1000));
  }
  best.entry.attempts = attempts;
  best.entry.noisy = best.entry.otherCores > NOISY_CORES;
  return best;
}

function machineBusySeconds() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + (steal || 0)) / CLK_TCK;
}

async function machineBusyFraction(ms) {
  const b0 = machineBusySeconds();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (machineBusySeconds() - b0) / ((performance.now() - t0) / 1000) / os.cpus().length;
}

function gitRevision() {
  const root = path.join(HERE, '..');
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (rev.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'crates', 'src'], { cwd: root, encoding: 'utf8' });
  const built = (f) => {
    try {
      return fs.statSync(path.join(root, f)).mtime.toISOString();
    } catch {
      return null;
    }
  };
  const addon = fs.existsSync(path.join(root, 'native')) ? fs.readdirSync(path.join(root, 'native')).find((f) => f.endsWith('.node')) : null;
  return {
    commit: rev.stdout.trim(),
    engineOrFacadeModified: dirty.stdout.trim().length > 0,
    addonBuiltAt: addon ? built(`native/${addon}`) : null,
    facadeBuiltAt: built('dist/index.js'),
  };
}

function timeWaitCount() {
  try {
    // /proc/net/tcp: "sl local rem st ...", st 06 = TIME_WAIT
    return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').filter((l) => l.trim().split(/\s+/)[3] === '06').length;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- suite

const round2 = (x) => Math.round(x * 100) / 100;
const round4 = (x) => Math.round(x * 10000) / 10000;

function median(xs) {
  const s = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs the suite. `berth` is the loaded module or null to run without it.
 * Returns the JSON-ready result object.
 */
export async function run({ berth }) {
  const busyBefore = await machineBusyFraction(1000);
  if (busyBefore > 0.15) {
    console.log(`probe: WARNING: the machine was ${Math.round(busyBefore * 100)}% busy before the run (other processes): figures will be noisy`);
  }
  const skipped = [];
  const notes = [];
  const contenders = [];
  if (berth && typeof berth.probe === 'function') contenders.push('berth');
  else skipped.push({ contender: 'berth', why: berth ? 'this build of berth exports no probe()' : 'berth not loaded' });
  contenders.push('node');
  const nmapVer = nmapVersion();
  const time = nmapVer ? gnuTime() : null;
  if (nmapVer) contenders.push('nmap');
  else skipped.push({ contender: 'nmap', why: 'nmap not found (Debian: apt-get install -y nmap)' });
  if (nmapVer && !time) notes.push('GNU time (/usr/bin/time) not found: nmap peak RSS is VmHWM sampled every 5 ms, a lower bound');
  for (const s of skipped) console.log(`probe: skipping ${s.contender}: ${s.why}`);

  const hardNofile = nofileHardLimit();
  const t = await setUpTargets();
  if (t.listeners.note) notes.push(t.listeners.note);
  const targetsFile = path.join(os.tmpdir(), `berth-probe-targets-${process.pid}.json`);
  fs.writeFileSync(targetsFile, JSON.stringify({ host: HOST, ports: t.order, concurrency: CONCURRENCY, timeoutMs: TIMEOUT_MS }));
  const truthStates = t.order.map((p) => t.truth.get(p)).join('');
  console.log(
    `probe: ${t.order.length} targets on ${HOST} (${t.open.length} listening, ${t.closed.length} closed, ports ${Math.min(...t.order)}-${Math.max(...t.order)}), ` +
      `concurrency ${CONCURRENCY}, timeout ${TIMEOUT_MS} ms`,
  );

  const runOne = (c) => {
    if (c === 'berth') return runNodeContender('probe-berth.mjs', targetsFile);
    if (c === 'node') return runNodeContender('probe-node.mjs', targetsFile);
    return runNmap(t.order, t.order, time);
  };

  // One measured run of contender c, with what the rest of the machine did meanwhile.
  const measure = async (c) => {
    const acc0 = await t.listeners.accepted();
    const l0 = cpuSeconds(t.listeners.pid);
    const tw0 = timeWaitCount();
    const m0 = machineProcessSeconds();
    const r = await runOne(c);
    const busy = machineProcessSeconds() - m0;
    const listenerCpu = cpuSeconds(t.listeners.pid) - l0;
    const wallSec = r.wallMs / 1000;
    await new Promise((res) => setTimeout(res, PAUSE_MS));
    const acc = (await t.listeners.accepted()) - acc0;
    const vsTruth = agreement(r.states, truthStates);
    const entry = {
      position: null,
      probesPerSec: r.probesPerSec,
      durationMs: r.durationMs,
      wallMs: r.wallMs,
      wallProbesPerSec: Math.round(r.probes / wallSec),
      peakRssKiB: r.peakRssKiB,
      rssBeforeSweepKiB: r.rssBeforeSweepKiB ?? null,
      cpuSec: r.sweepCpuSec ?? r.processCpuSec ?? null,
      processCpuSec: r.processCpuSec ?? null,
      listenerCpuSec: round2(listenerCpu),
      // null when the contender's own CPU time is unknown (nmap without GNU time)
      otherCores: r.processCpuSec === null || r.processCpuSec === undefined ? null : round2(Math.max(0, busy - r.processCpuSec - listenerCpu) / wallSec),
      byState: r.byState,
      rttMs: r.rttMs,
      acceptedByListeners: acc,
      timeWaitBefore: tw0,
      timeWaitAfter: timeWaitCount(),
      agreementWithTruthPercent: vsTruth.percent,
      mismatchesWithTruth: describeMismatches(vsTruth, t.order, r.states, truthStates, c, 'truth'),
      errors: r.errors?.length ? r.errors : undefined,
      summary: r.summary,
      summarizedWithoutPorts: r.summarizedWithoutPorts,
      stderr: r.stderr,
    };
    return { r, entry };
  };

  const perContender = new Map(contenders.map((c) => [c, []]));
  const warmup = {};
  try {
    // Warm-up round (page cache, binaries, the listeners' first accepts); also a first check.
    console.log(`probe — warm-up: ${contenders.join(', ')}`);
    for (const c of contenders) {
      const r = await runOne(c);
      warmup[c] = { durationMs: r.durationMs, byState: r.byState, agreesWithTruth: agreement(r.states, truthStates).percent };
      await new Promise((res) => setTimeout(res, PAUSE_MS));
      await t.listeners.accepted(); // drains the accept queues
    }
    for (let round = 0; round < ROUNDS; round++) {
      const shift = round % contenders.length;
      const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
      console.log(`probe — round ${round + 1}/${ROUNDS}`);
      const states = {};
      for (const c of order) {
        const { r, entry } = await quiet(() => measure(c));
        entry.position = order.indexOf(c) + 1;
        states[c] = r.states;
        perContender.get(c).push(entry);
        console.log(
          `  ${c.padEnd(6)} ${fmt(entry.probesPerSec).padStart(9)} probes/s  ${entry.durationMs.toFixed(0).padStart(6)} ms scan` +
            `  ${entry.wallMs.toFixed(0).padStart(6)} ms wall  peak RSS ${(entry.peakRssKiB / 1024).toFixed(1).padStart(6)} MiB` +
            `  open ${r.byState.open} closed ${r.byState.closed} filtered ${r.byState.filtered} error ${r.byState.error}` +
            (r.byState.none ? ` none ${r.byState.none}` : '') +
            `  truth ${entry.agreementWithTruthPercent}%  (others busy: ${entry.otherCores?.toFixed(2) ?? '?'} core${entry.attempts > 1 ? `, attempt ${entry.attempts}` : ''})`,
        );
      }
      // Per-port agreement with nmap, this round.
      if (states.nmap) {
        for (const c of contenders) {
          if (c === 'nmap') continue;
          const ag = agreement(states[c], states.nmap);
          const e = perContender.get(c)[round];
          e.agreementWithNmapPercent = ag.percent;
          e.mismatchesWithNmap = describeMismatches(ag, t.order, states[c], states.nmap, c, 'nmap');
          console.log(`  ${c} vs nmap: ${ag.same}/${ag.total} ports agree (${ag.percent}%)`);
        }
      }
    }
  } finally {
    fs.rmSync(targetsFile, { force: true });
    await t.listeners.stop();
  }

  const results = contenders.map((c) => {
    const rs = perContender.get(c);
    const med = (k) => median(rs.map((r) => r[k]));
    const ag = rs.map((r) => r.agreementWithNmapPercent).filter((x) => x !== undefined);
    return {
      name: c,
      label: LABELS[c],
      probesPerSec: Math.round(med('probesPerSec')),
      durationMs: round2(med('durationMs')),
      wallMs: round2(med('wallMs')),
      wallProbesPerSec: Math.round(med('wallProbesPerSec')),
      peakRssKiB: Math.round(med('peakRssKiB')),
      rssBeforeSweepKiB: c === 'nmap' ? null : Math.round(med('rssBeforeSweepKiB')),
      cpuSec: med('cpuSec') === null ? null : round2(med('cpuSec')),
      agreementWithNmapPercent: ag.length ? Math.min(...ag) : null, // the worst round
      agreementWithTruthPercent: Math.min(...rs.map((r) => r.agreementWithTruthPercent)),
      rounds: rs,
    };
  });

  return {
    suite: name,
    unit: 'probes per second (targets / scan time), peak RSS KiB, per-port agreement of states',
    machine: { ...machineInfo(), busyBeforeRun: round2(busyBefore), loadAverage: os.loadavg().map(round2), nofileHardLimit: hardNofile },
    build: gitRevision(),
    method: {
      targets: `${t.order.length} TCP ports on ${HOST}: ${t.open.length} listening (one helper process, probe-listeners.mjs, ${t.listeners.impl}), ${t.closed.length} closed (bind() to them succeeds before and after the listeners start); all outside the ephemeral range ${t.eph.lo}-${t.eph.hi}; one seeded shuffled order for berth and node`,
      ports: { lowest: Math.min(...t.order), highest: Math.max(...t.order) },
      concurrency: CONCURRENCY,
      timeoutMs: TIMEOUT_MS,
      rounds: ROUNDS,
      warmupRound: true,
      orderRotatedEachRound: true,
      figure: 'median over the rounds, each metric separately; agreement: the worst round',
      scanTime: 'berth, node: measured in the process from the call to the last result (excludes Node start-up and module loading); nmap: <finished elapsed> of its XML (10 ms resolution). wallMs: spawn to exit, for all',
      peakRss: 'each contender in its own process: VmHWM from /proc/self/status at the end (berth, node); ru_maxrss via GNU time %M (nmap)',
      cpu: 'berth, node: process.cpuUsage() over the sweep; nmap: user + system of the whole process (GNU time); listenerCpuSec: the listener helper meanwhile (about 0 with the C helper, which accepts nothing during a run)',
      processes: 'each run a fresh process (cold: no warm-up inside), under ulimit -n raised as needed',
      berth: `probe(targets, { concurrency: ${CONCURRENCY}, timeout: ${TIMEOUT_MS} }) iterated with for await (probe-berth.mjs)`,
      node: `probe-node.mjs: ${CONCURRENCY} workers, each awaiting net.connect({ host, port, timeout: ${TIMEOUT_MS} }): connect -> open (destroy), ECONNREFUSED -> closed, timeout -> filtered`,
      nmap: nmapVer ? { version: nmapVer, command: `nmap ${NMAP_FLAGS.join(' ')} -p <ranges> ${HOST} -oX -`, flags: NMAP_FLAGS } : null,
      agreement: 'per port, the state each contender reported vs nmap in the same round, and vs the ground truth',
      pauseBetweenRunsMs: PAUSE_MS,
      noise: `a run during which other processes (all but the contender and the listener helper; user + system from /proc/stat) used more than ${NOISY_CORES} core is repeated up to ${NOISY_RETRIES} times; the quietest attempt is kept (attempts, noisy, otherCores in each round)`,
      listenerHelper: t.listeners.impl,
      listenerNofile: t.listeners.nofile,
    },
    versions: {
      node: process.version,
      nmap: nmapVer,
      berth: contenders.includes('berth') ? createRequire(import.meta.url)('berth-pool/package.json').version : null,
    },
    results,
    warmup,
    noise: (() => {
      const runs = results.flatMap((r) => r.rounds);
      return { runs: runs.length, noisyRuns: runs.filter((x) => x.noisy).length, repeatedRuns: runs.filter((x) => x.attempts > 1).length, limitCores: NOISY_CORES };
    })(),
    targets: evaluateTargets(results),
    wallClock: wallRatios(results),
    skipped,
    notes,
  };
}

function evaluateTargets(results) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const out = [];
  const add = (id, what, value, target, cmp) =>
    out.push({ id, what, value: value ?? null, target, cmp, met: value === null || value === undefined ? null : value >= target });
  const b = by.berth;
  if (b) {
    add('vsNode', 'berth probes/s / Node prober probes/s', by.node ? round2(b.probesPerSec / by.node.probesPerSec) : null, TARGETS.vsNode, '>=');
    add('vsNmap', 'berth probes/s / nmap -sT probes/s', by.nmap ? round2(b.probesPerSec / by.nmap.probesPerSec) : null, TARGETS.vsNmap, '>=');
    add('berthAgreement', 'berth states = nmap states, % of ports (worst round)', by.nmap ? b.agreementWithNmapPercent : null, TARGETS.agreementPercent, '>=');
  }
  if (by.node) add('nodeAgreement', 'Node prober states = nmap states, % of ports (worst round)', by.nmap ? by.node.agreementWithNmapPercent : null, TARGETS.agreementPercent, '>=');
  return out;
}

/** The same ratios from spawn-to-exit times (start-up included: Node + addon vs nmap's own), for information. */
function wallRatios(results) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  if (!by.berth) return null;
  const ratio = (peer) => (by[peer] ? round2(by.berth.wallProbesPerSec / by[peer].wallProbesPerSec) : null);
  return { berthVsNode: ratio('node'), berthVsNmap: ratio('nmap') };
}

export function printTable(result) {
  const head = ['contender', 'probes/s', 'scan ms', 'wall ms', 'peak RSS MiB', 'RSS before MiB', 'CPU s', 'open', 'closed', 'filtered', 'error', 'vs nmap %', 'vs truth %'];
  const num = (x, d = 0) => (x === null || x === undefined ? '-' : d ? x.toFixed(d) : fmt(x));
  const body = result.results.map((r) => {
    const last = r.rounds[r.rounds.length - 1].byState;
    return [
      r.label,
      num(r.probesPerSec),
      num(r.durationMs),
      num(r.wallMs),
      num(r.peakRssKiB / 1024, 1),
      r.rssBeforeSweepKiB === null ? '-' : num(r.rssBeforeSweepKiB / 1024, 1),
      num(r.cpuSec, 2),
      num(last.open),
      num(last.closed),
      num(last.filtered),
      num(last.error),
      r.name === 'nmap' ? '-' : num(r.agreementWithNmapPercent, 2),
      num(r.agreementWithTruthPercent, 2),
    ];
  });
  printColumns(head, body);
  console.log(`${result.method.targets}; concurrency ${result.method.concurrency}, timeout ${result.method.timeoutMs} ms; states: last round; agreement: worst round; RSS before: at the start of the sweep (Node and modules loaded, targets built)`);
  if (result.method.nmap) console.log(`nmap: ${result.method.nmap.command}`);
  for (const s of result.skipped) console.log(`skipped ${s.contender}: ${s.why}`);
  for (const n of result.notes) console.log(`note: ${n}`);
  const n = result.noise;
  console.log(`noise: ${n.noisyRuns} of ${n.runs} measured runs had other processes using more than ${n.limitCores} core (${n.repeatedRuns} were repeated)`);
  if (result.targets.length) {
    console.log('\ntargets:');
    for (const t of result.targets) {
      console.log(`  ${t.what}: ${t.value === null ? 'n/a' : t.value} (target ≥ ${t.target}): ${t.met === null ? 'n/a' : t.met ? 'met' : 'NOT met'}`);
    }
    const w = result.wallClock;
    if (w) console.log(`  (from wall-clock times, process start-up included: berth / node ${w.berthVsNode ?? 'n/a'}, berth / nmap ${w.berthVsNmap ?? 'n/a'})`);
  }
}

// ---------------------------------------------------------------- standalone

if (isMain(import.meta.url)) await runStandalone({ name, run, printTable });
