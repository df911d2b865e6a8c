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
import { fileURLToPath, pathToFileURL } from 'node:url';
import b from 'benny';

export const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

/** Seconds benchmark.js may spend sampling one case in one round (override with BENCH_MAX_TIME). */
export const MAX_TIME = Number(process.env.BENCH_MAX_TIME ?? 2);

/** Rounds per suite, the order of the cases rotated each round (override with BENCH_ROUNDS). */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

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
 * Runs `cases` ([{ name, cyclesPerOp, batch: async () => void }]) as benny suites, `rounds`
 * times, rotating the order of the cases from round to round so that each library runs in each
 * position (first, middle, last) once: on a small shared machine, drift in machine speed during
 * a run and the order of cases both move results by more than the margin benchmark.js reports.
 *
 * Returns, in case order, [{ name, cyclesPerSec, cyclesPerOp, rounds: [...] }] where
 * cyclesPerSec is the median over the rounds of hz × cyclesPerOp (hz from benchmark.js's mean).
 */
export async function runBatchedSuite(title, cases, { maxTime = MAX_TIME, rounds = ROUNDS, warmupMs = 500 } = {}) {
  // Warm each case up first (JIT, pool internals), so that benchmark.js's first samples are not
  // dominated by compilation: one cold sample can be 10x the others and drag the mean down.
  for (const c of cases) {
    const until = performance.now() + warmupMs;
    while (performance.now() < until) await c.batch();
  }
  const perCase = new Map(cases.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    const shift = round % cases.length;
    const order = [...cases.slice(shift), ...cases.slice(0, shift)];
    await b.suite(
      `${title} — round ${round + 1}/${rounds}`,
      ...order.map((c) => b.add(c.name, deferredCase(c.batch))),
      b.configure({ cases: { maxTime, minSamples: 10 } }),
      b.cycle((r) => {
        const c = cases.find((x) => x.name === r.name);
        if (!r.completed) throw new Error(`benchmark case "${r.name}" did not complete`);
        const entry = {
          cyclesPerSec: Math.round(r.ops * c.cyclesPerOp),
          medianSampleCyclesPerSec: Math.round(c.cyclesPerOp / r.details.median),
          opsPerSec: Number(r.ops.toFixed(2)),
          rmePercent: r.margin,
          samples: r.samples,
          position: order.indexOf(c) + 1,
        };
        perCase.get(r.name).push(entry);
        console.log(
          `  ${r.name.padEnd(14)} ${fmt(entry.cyclesPerSec).padStart(12)} cycles/s  ` +
            `±${r.margin.toFixed(2)}%  (${r.samples} samples of ${c.cyclesPerOp} cycles)`,
        );
      }),
    );
  }
  return cases.map((c) => ({
    name: c.name,
    cyclesPerSec: median(perCase.get(c.name).map((e) => e.cyclesPerSec)),
    cyclesPerOp: c.cyclesPerOp,
    rounds: perCase.get(c.name),
  }));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

export function writeResult(file, data) {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const full = path.join(RESULTS_DIR, file);
  fs.writeFileSync(full, JSON.stringify(data, null, 2) + '\n');
  return full;
}

/** True in the module `node` was started with (`import.meta.url` of the caller). */
export function isMain(moduleUrl) {
  return Boolean(process.argv[1]) && moduleUrl === pathToFileURL(path.resolve(process.argv[1])).href;
}

/**
 * `node benchmark/<suite>.mjs [--peers-only]`: one suite alone. Writes results/<name>.json and
 * prints the suite's table; when berth does not load (not built), the peers are measured alone
 * and the result says so.
 */
export async function runStandalone({ name, run, printTable }) {
  let berth = null;
  if (!process.argv.includes('--peers-only')) {
    try {
      berth = await import('berth-pool');
    } catch (err) {
      console.error(`${name}: cannot load berth (${err.message}); measuring the peers only`);
    }
  }
  const result = await run({ berth });
  if (!berth) result.note = 'berth not measured (--peers-only or not built)';
  const file = writeResult(`${name}.json`, result);
  printTable(result);
  console.log(`\nwrote ${file}`);
  // Children, servers or sockets of the peers must not keep the run alive once it is written.
  process.exit(0);
}

/**
 * Prints a table after a blank line: `head`, a rule, then `body` (rows of strings), columns
 * two spaces apart: the first and those from `textFrom` on (prose) left-aligned, the others
 * (figures) right-aligned.
 */
export function printColumns(head, body, { textFrom = Infinity } = {}) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const left = (i) => i === 0 || i >= textFrom;
  const line = (cells) => cells.map((x, i) => (left(i) ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  console.log('');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of body) console.log(line(r));
}

/** 1234567 -> "1,234,567" */
export function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}
