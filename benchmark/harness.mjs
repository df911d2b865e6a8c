// Shared plumbing for the benchmark suites: batched benny cases, machine info, result files.
//
// Why batches: benny runs an async case as a benchmark.js "deferred" benchmark, which costs
// microseconds of harness overhead per op. A pool's reuse-hit acquire→release cycle costs far
// less than that, so timing one cycle per op would mostly measure the harness. Each benny op
// here is therefore a batch of `cyclesPerOp` cycles, and results are reported as
// cycles/s = hz × cyclesPerOp.

import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import b from 'benny';

export const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

/** Seconds benchmark.js may spend sampling one case (override with BENCH_MAX_TIME). */
export const MAX_TIME = Number(process.env.BENCH_MAX_TIME ?? 4);

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
  };
}

/**
 * Wraps an async batch so that benny runs it only while it is being measured.
 *
 * benny 3.7 decides whether a case is async by calling the case function (and the function it
 * returns) once before the suite starts, without awaiting the result. Left alone, that would
 * start one stray, unawaited batch per case, overlapping the measurements of the first cases.
 * The first call of the inner function therefore does nothing but return a resolved promise.
 */
function deferredCase(batch) {
  let armed = false;
  const inner = () => {
    if (!armed) {
      armed = true;
      return Promise.resolve();
    }
    return batch();
  };
  return () => inner;
}

/**
 * Runs one benny suite. `cases` is [{ name, cyclesPerOp, batch: async () => void }].
 * Returns [{ name, cyclesPerSec (from the mean), medianCyclesPerSec, opsPerSec, cyclesPerOp, rmePercent, samples }] in case order.
 */
export async function runBatchedSuite(title, cases, { maxTime = MAX_TIME, warmupMs = 500 } = {}) {
  // Warm each case up first (JIT, pool internals), so that benchmark.js's first samples are not
  // dominated by compilation: one cold sample can be 10x the others and drag the mean down.
  for (const c of cases) {
    const until = performance.now() + warmupMs;
    while (performance.now() < until) await c.batch();
  }
  const raw = new Map();
  await b.suite(
    title,
    ...cases.map((c) => b.add(c.name, deferredCase(c.batch))),
    b.configure({ cases: { maxTime, minSamples: 10 } }),
    b.cycle((result) => {
      raw.set(result.name, result);
      const c = cases.find((x) => x.name === result.name);
      const cps = result.ops * c.cyclesPerOp;
      console.log(
        `  ${result.name.padEnd(14)} ${fmt(cps).padStart(12)} cycles/s  ` +
          `±${result.margin.toFixed(2)}%  (${result.samples} samples of ${c.cyclesPerOp} cycles)`,
      );
    }),
  );
  return cases.map((c) => {
    const r = raw.get(c.name);
    if (!r || !r.completed) throw new Error(`benchmark case "${c.name}" did not complete`);
    return {
      name: c.name,
      cyclesPerSec: Math.round(r.ops * c.cyclesPerOp),
      medianCyclesPerSec: Math.round(c.cyclesPerOp / r.details.median),
      opsPerSec: Number(r.ops.toFixed(2)),
      cyclesPerOp: c.cyclesPerOp,
      rmePercent: r.margin,
      samples: r.samples,
    };
  });
}

export function writeResult(file, data) {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const full = path.join(RESULTS_DIR, file);
  fs.writeFileSync(full, JSON.stringify(data, null, 2) + '\n');
  return full;
}

/** 1234567 -> "1,234,567" */
export function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}
