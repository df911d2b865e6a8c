// berth's contender in benchmark/probe.mjs: probe(targets, { concurrency, timeout }) from
// 'berth', iterated with for await, in its own process so that its peak RSS (VmHWM) is its own.
//
//   node benchmark/probe-berth.mjs <targets.json>
//
// Prints one JSON line (probe-child.mjs), with berth's run.summary() added as `summary`.

import { memoryKiB, readTargets, report, STATE_CHARS } from './probe-child.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node benchmark/probe-berth.mjs <targets.json>');
  process.exit(2);
}
const { targets, concurrency, timeoutMs } = readTargets(file);
const { probe } = await import('berth-pool');
if (typeof probe !== 'function') {
  console.error('probe-berth: this build of berth exports no probe()');
  process.exit(3);
}

const n = targets.length;
const index = new Map(targets.map((t, i) => [t, i]));
const states = new Uint8Array(n).fill(0x3f); // '?'
const rtts = new Float64Array(n);
const errors = [];
const codes = Object.fromEntries(Object.entries(STATE_CHARS).map(([k, v]) => [k, v.charCodeAt(0)]));

const baseline = memoryKiB();
const cpuStart = process.cpuUsage();
const t0 = performance.now();
const run = probe(targets, { concurrency, timeout: timeoutMs });
for await (const r of run) {
  const i = index.get(r.target);
  states[i] = codes[r.state] ?? 0x3f;
  rtts[i] = r.rttMs;
  if (r.state === 'error') errors.push({ target: r.target, ...r.error });
}
const durationMs = performance.now() - t0;
report({ name: 'berth', durationMs, states, rtts, errors, baseline, cpuStart, extra: { summary: run.summary() } });
