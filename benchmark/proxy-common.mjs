// Pieces shared by the suites that run proxies as child processes and load them with
// proxy-load.c (benchmark/proxy.mjs, benchmark/groups.mjs): building and starting the C load
// generator and upstream, starting a Node proxy or HAProxy in its own process, reading a
// process's CPU time from /proc, and repeating a phase the rest of the machine disturbed.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export const round1 = (x) => Math.round(x * 10) / 10;
export const round2 = (x) => Math.round(x * 100) / 100;

// ---------------------------------------------------------------- child processes

const children = new Set();
/** Keeps `child` in the set killed when this process exits. */
export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Builds proxy-load.c (once per source version, in the temp directory); returns the binary. */
export function buildLoad() {
  const src = path.join(HERE, 'proxy-load.c');
  const hash = crypto.createHash('sha1').update(fs.readFileSync(src)).digest('hex').slice(0, 12);
  const bin = path.join(os.tmpdir(), `berth-proxy-load-${hash}`);
  if (!fs.existsSync(bin)) {
    const cc = process.env.CC ?? 'cc';
    const r = spawnSync(cc, ['-O2', '-Wall', '-o', bin + '.tmp', src], { stdio: 'inherit' });
    if (r.error || r.status !== 0) {
      throw new Error(`cannot build ${src} with ${cc} (a C compiler is needed): ${r.error?.message ?? `exit ${r.status}`}`);
    }
    fs.renameSync(bin + '.tmp', bin);
  }
  return bin;
}

/**
 * Starts the upstream (proxy-load server) in its own process: `sets` sets of [reply, echo,
 * sink] ports. Serves until stop() (which closes its stdin) or until it is killed.
 */
export async function startUpstream(bin, sets, requestBytes, replyBytes) {
  const child = track(spawn(bin, ['server', String(sets), String(requestBytes), String(replyBytes)], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const line = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const i = out.indexOf('\n');
      if (i >= 0) resolve(out.slice(0, i));
    });
    child.once('exit', (code) => reject(new Error(`upstream exited (${code}) before listening`)));
  });
  const ports = line.split(' ').slice(1).map(Number);
  const portSets = [];
  for (let i = 0; i < sets; i++) portSets.push(ports.slice(3 * i, 3 * i + 3));
  child.stdin.on('error', () => {}); // stop() after a kill
  return { pid: child.pid, portSets, stop: () => child.stdin.end(), child };
}

/**
 * Starts a Node proxy (`script` with `args`) in its own process. The script sends
 * { ready, ports } over IPC once listening (or { ready: false, why }), answers { cmd, id }
 * messages with { id, ... } and exits on { cmd: 'close' }. Returns { pid, ports, ask(cmd,
 * extra), stats(), stop(), ready (the message) }, or { unavailable: why }.
 */
export async function startNodeProxy(script, args) {
  const child = track(
    spawn(process.execPath, [script, ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${path.basename(script)} ${args[0]} exited (${code}) before listening`)));
  });
  if (ready.ready === false) {
    child.kill();
    return { unavailable: ready.why };
  }
  let nextId = 1;
  const ask = (cmd, extra = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      const onMsg = (m) => {
        if (m.id === id) {
          child.off('message', onMsg);
          resolve(m);
        }
      };
      child.on('message', onMsg);
      child.send({ cmd, id, ...extra });
    });
  return {
    pid: child.pid,
    ports: ready.ports,
    ready,
    ask,
    stats: () => ask('stats'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      await Promise.race([ask('close'), new Promise((r) => setTimeout(r, 3000))]);
      child.kill();
      await exited;
    },
  };
}

/** Which berth APIs this build has (a suite may run before an API lands): `listen`, `forward`, `group`. */
export function berthCapabilities(berth) {
  if (!berth) return { listen: false, forward: false, group: false, why: 'berth not loaded' };
  const pool = new berth.Pool();
  const caps = { listen: typeof pool.listen === 'function', forward: typeof pool.forward === 'function', group: typeof pool.group === 'function' };
  pool.close();
  return caps;
}

export function haproxyVersion() {
  const r = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return /version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Runs HAProxy (`haproxy -f <config> -db`) with the given configuration text until it answers
 * on 127.0.0.1:`probePort`. `tag` names the config file.
 */
export async function startHaproxyConfig(config, probePort, tag) {
  const file = path.join(os.tmpdir(), `berth-haproxy-${process.pid}-${tag}.cfg`);
  fs.writeFileSync(file, config);
  const child = track(spawn('haproxy', ['-f', file, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  child.once('exit', () => (exited = true));
  const until = Date.now() + 5000;
  while (!(await canConnect(probePort))) {
    if (exited || Date.now() > until) throw new Error(`haproxy did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid,
    stop: async () => {
      const done = new Promise((r) => (exited ? r() : child.once('exit', r)));
      child.kill('SIGTERM');
      await done;
      fs.rmSync(file, { force: true });
    },
  };
}

// ---------------------------------------------------------------- CPU time

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds the whole machine has been busy (every process, interrupts included), from /proc/stat. */
export function machineBusySeconds() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + (steal || 0)) / CLK_TCK;
}

/** Fraction of the machine's CPUs busy over `ms` (before the run: is anything else running?). */
export async function machineBusyFraction(ms) {
  const b0 = machineBusySeconds();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (machineBusySeconds() - b0) / ((performance.now() - t0) / 1000) / os.cpus().length;
}

export function gitRevision() {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: HERE, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'crates', 'src'], { cwd: HERE + '/..', encoding: 'utf8' });
  if (rev.status !== 0) return null;
  const built = (f) => {
    try {
      return fs.statSync(path.join(HERE, '..', f)).mtime.toISOString();
    } catch {
      return null;
    }
  };
  const addon = fs.existsSync(path.join(HERE, '..', 'native')) ? fs.readdirSync(path.join(HERE, '..', 'native')).find((f) => f.endsWith('.node')) : null;
  return {
    commit: rev.stdout.trim(),
    engineOrFacadeModified: dirty.stdout.trim().length > 0, // uncommitted changes in crates/ or src/ at run time
    addonBuiltAt: addon ? built(`native/${addon}`) : null,
    facadeBuiltAt: built('dist/index.js'),
  };
}

/** Runs the load generator with `args`; resolves with the JSON it prints. */
export function runLoad(bin, args) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator ${args.join(' ')} failed (exit ${code})`));
      else resolve(JSON.parse(out));
    });
  });
}

// ---------------------------------------------------------------- noise and medians

/**
 * Runs a measured phase again (up to `retries` times, after a pause) while the rest of the
 * machine used more than `limitCores` meanwhile (the phase's otherCpuShareOfOneCore); keeps the
 * quietest attempt and notes how many attempts were made and whether it was still noisy. A
 * busy neighbour changes more than the rates: a proxy woken less often batches more events per
 * wake-up and spends less CPU per session, so noisy phases would flatter whichever proxy ran
 * during them.
 */
export async function quiet(measure, { limitCores, retries }) {
  let best = null;
  let attempts = 0;
  while (attempts <= retries) {
    const r = await measure();
    attempts++;
    if (!best || r.otherCpuShareOfOneCore < best.otherCpuShareOfOneCore) best = r;
    if (r.otherCpuShareOfOneCore <= limitCores) break;
    if (attempts <= retries) await new Promise((done) => setTimeout(done, 1000));
  }
  best.attempts = attempts;
  best.noisy = best.otherCpuShareOfOneCore > limitCores;
  return best;
}

export function median(xs) {
  const s = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The median of each numeric field over the rounds (integers stay integers). */
export function medians(rounds) {
  const out = {};
  for (const k of Object.keys(rounds[0])) {
    if (typeof rounds[0][k] !== 'number' && rounds[0][k] !== null) continue;
    const m = median(rounds.map((r) => r[k]));
    out[k] = m === null ? null : Number.isInteger(rounds[0][k]) ? Math.round(m) : round2(m);
  }
  return out;
}
