// Load time of the addon for the README: in a fresh process, `require('berth-pool')` (the facade and
// the native binary) until the first `new Pool()` has returned. Median of RUNS processes.
//
//   node scripts/load-time.mjs [runs]      (default 20; run `npm run build` first)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const runs = Number(process.argv[2] ?? 20);

// Run as a CommonJS [eval] module with the repo root as cwd: `require('berth-pool')` resolves the
// package itself through its "exports", as a user's require would.
const child = `
const t0 = performance.now();
const { Pool } = require('berth-pool');
const t1 = performance.now();
const pool = new Pool();
const t2 = performance.now();
pool.close().then(() => console.log(JSON.stringify({ require: t1 - t0, newPool: t2 - t1, total: t2 - t0 })));
`;

const samples = [];
for (let i = 0; i < runs; i++) {
  const r = spawnSync(process.execPath, ['-e', child], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`run ${i} failed (${r.status}): ${r.stderr}`);
  samples.push(JSON.parse(r.stdout.trim().split('\n').pop()));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => `${x.toFixed(2)} ms`;
const pick = (k) => samples.map((s) => s[k]);
console.log(`node ${process.version}, ${process.platform}-${process.arch}, ${runs} fresh processes (median, min-max)`);
for (const [k, label] of [['total', "require('berth-pool') to first new Pool() done"], ['require', "  require('berth-pool')"], ['newPool', '  first new Pool()']]) {
  const xs = pick(k);
  console.log(`${label}: ${ms(median(xs))} (${ms(Math.min(...xs))} - ${ms(Math.max(...xs))})`);
}
