// Shared by the contenders of benchmark/probe.mjs that run as Node child processes
// (probe-node.mjs, probe-berth.mjs): reading the target file, and the one JSON line each prints.
//
// The target file (written by probe.mjs): { host, ports: [...], concurrency, timeoutMs }. The
// targets are `${host}:${port}` strings in that order. The report states one character per target
// in target order: o open, c closed, f filtered, e error, ? no result.

import fs from 'node:fs';

export const STATE_CHARS = { open: 'o', closed: 'c', filtered: 'f', error: 'e' };

export function readTargets(file) {
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  const targets = spec.ports.map((p) => `${spec.host}:${p}`);
  return { ...spec, targets };
}

/** VmHWM and VmRSS of this process, KiB (Linux), else null. */
export function memoryKiB() {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8');
    const get = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { hwm: get('VmHWM'), rss: get('VmRSS') };
  } catch {
    const rss = Math.round(process.memoryUsage().rss / 1024);
    return { hwm: Math.round(process.resourceUsage().maxRSS), rss };
  }
}

/**
 * Prints the report and exits. `states` is a Uint8Array of char codes (target order),
 * `baseline` the memoryKiB() and `cpuStart` the process.cpuUsage() taken before the sweep started.
 */
export function report({ name, durationMs, states, rtts, errors, baseline, cpuStart, extra = {} }) {
  const byState = { open: 0, closed: 0, filtered: 0, error: 0, none: 0 };
  const names = { o: 'open', c: 'closed', f: 'filtered', e: 'error' };
  for (const ch of states) byState[names[String.fromCharCode(ch)] ?? 'none']++;
  const sorted = Float64Array.from(rtts).sort();
  const q = (p) => (sorted.length ? Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(3)) : null);
  const mem = memoryKiB();
  const out = {
    name,
    durationMs: Number(durationMs.toFixed(2)),
    probes: states.length,
    probesPerSec: Math.round(states.length / (durationMs / 1000)),
    byState,
    rttMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: sorted.length ? Number(sorted[sorted.length - 1].toFixed(3)) : null },
    peakRssKiB: mem.hwm,
    rssBeforeSweepKiB: baseline.rss,
    sweepCpuSec: (() => {
      const u = process.cpuUsage(cpuStart);
      return Number(((u.user + u.system) / 1e6).toFixed(3));
    })(),
    processCpuSec: (() => {
      const u = process.cpuUsage();
      return Number(((u.user + u.system) / 1e6).toFixed(3));
    })(),
    errors: errors.slice(0, 10),
    states: Buffer.from(states).toString('latin1'),
    ...extra,
  };
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}
