// Runs the benchmark suites side by side with the peers and writes one JSON file per suite to
// benchmark/results/<suite>.json, then prints a short table.
//
//   npm run bench                      all suites (acquire, http, https, proxy, groups, resource, probe)
//   node benchmark/run.mjs acquire     only the named suites (npm run bench -- resource)
//   node benchmark/run.mjs --peers-only   run without berth (e.g. before the addon is built)
//
// BENCH_ROUNDS=<n> rounds per suite, the order of the libraries rotated each round (default 5);
// BENCH_MAX_TIME=<seconds> sampling time per case and round (default 2). Each figure reported
// is the median over the rounds.

import * as acquire from './acquire.mjs';
import * as groups from './groups.mjs';
import * as http from './http.mjs';
import * as https from './https.mjs';
import * as probe from './probe.mjs';
import * as proxy from './proxy.mjs';
import * as resource from './resource.mjs';
import { fmt, printColumns, writeResult } from './harness.mjs';

// acquire's table is printed below; the other suites print their own.
const SUITES = [acquire, http, https, proxy, groups, resource, probe];

const args = process.argv.slice(2);
const peersOnly = args.includes('--peers-only');
const wanted = args.filter((a) => !a.startsWith('--'));
const suites = wanted.length ? SUITES.filter((s) => wanted.includes(s.name)) : SUITES;
if (wanted.length && suites.length !== wanted.length) {
  console.error(`unknown suite in: ${wanted.join(', ')} (known: ${SUITES.map((s) => s.name).join(', ')})`);
  process.exit(2);
}

let berth = null;
if (!peersOnly) {
  try {
    berth = await import('berth-pool');
  } catch (err) {
    console.error(`cannot load berth (run \`npm run build\` first, or pass --peers-only): ${err.message}`);
    process.exit(1);
  }
}

const rows = [];
for (const suite of suites) {
  const result = await suite.run({ berth });
  if (peersOnly) result.note = 'run with --peers-only: berth not measured';
  const file = writeResult(`${suite.name}.json`, result);
  console.log(`wrote ${file}`);
  if (suite.printTable) suite.printTable(result);
  else for (const c of result.cases) rows.push({ suite: suite.name, ...c });
}
if (rows.length === 0) process.exit(0);

// ---- table
const libs = ['berth', 'generic-pool', 'tarn'];
const head = ['case', ...libs.map((l) => `${l} cycles/s`), 'berth / best peer'];
const body = rows.map((c) => {
  const by = Object.fromEntries(c.results.map((r) => [r.name, r]));
  const ratio =
    c.ratioToBestPeer === null
      ? 'n/a'
      : `${c.ratioToBestPeer.toFixed(2)}x vs ${c.bestPeer} (target ${c.target}x: ${c.meetsTarget ? 'met' : 'NOT met'})`;
  return [`${c.suite}/${c.id}`, ...libs.map((l) => (by[l] ? fmt(by[l].cyclesPerSec) : '-')), ratio];
});
printColumns(head, body, { textFrom: head.length - 1 });
