// Suite "resource": pools of arbitrary resources, side by side in one process run:
// berth's ResourcePool and berth/generic-pool (the drop-in) vs generic-pool@3 and tarn@3.
//
//   (a) serial      acquire→release, one caller in a loop, pool max 1
//   (b) concurrent  acquire→release, 100 concurrent callers, pool max 10
//   (c) pg          acquire → `SELECT 1` with the pg driver → release, 32 concurrent callers,
//                   pool max 8 pg clients, against a real PostgreSQL on loopback
//
//   npm run bench -- resource          this suite only (node benchmark/run.mjs resource)
//   node benchmark/resource.mjs        standalone: writes benchmark/results/resource.json, prints a table
//
// (a) and (b) pool trivial resources (create returns {}), the same for every library, and warm
// every pool up to its max before measuring, so that every measured acquire is a reuse hit; the
// suite checks afterwards that no pool created anything while it was being measured. (c) uses
// the PostgreSQL at BERTH_TEST_PG, or starts a throwaway one with scripts/test-servers.sh when
// PostgreSQL is installed, or is skipped with a message.
//
// Figures are the median over BENCH_ROUNDS rounds with the order of the libraries rotated each
// round (harness.mjs). Each berth library is reported as a ratio to the faster of generic-pool
// and tarn in that case; targets: >= 3x on (a) and (b), >= 1.0x on (c).
//
// Each library gets its own loop functions (no shared helper taking the pool as an argument),
// so that V8 does not see one call site serving several different pools.

import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import genericPool from 'generic-pool';
import tarn from 'tarn';
import pg from 'pg';
import { CALLERS, CYCLES_PER_CALLER, SERIAL_CYCLES, gpConcurrent, gpSerial, tarnConcurrent, tarnSerial } from './peer-loops.mjs';
import { MAX_TIME, ROUNDS, fmt, isMain, machineInfo, printColumns, runBatchedSuite, runStandalone } from './harness.mjs';

export const name = 'resource';

const SERVERS_SCRIPT = fileURLToPath(new URL('../scripts/test-servers.sh', import.meta.url));

const PG_CALLERS = 32; // concurrent callers in case (c)
const PG_MAX = 8; // pg clients per pool in case (c)
const PG_QUERIES_PER_CALLER = 10; // queries each caller does per benny op in case (c)
const TARGETS = { serial: 3, concurrent: 3, pg: 1 }; // issue 4: ratio to the faster of generic-pool and tarn

const BERTH_LIBS = ['berth', 'berth-pool/generic-pool'];
const PEERS = ['generic-pool', 'tarn'];

// ---------------------------------------------------------------- berth ResourcePool

async function rpSerial(pool) {
  for (let i = 0; i < SERIAL_CYCLES; i++) {
    const r = await pool.acquire();
    pool.release(r);
  }
}

async function rpCaller(pool) {
  for (let i = 0; i < CYCLES_PER_CALLER; i++) {
    const r = await pool.acquire();
    pool.release(r);
  }
}

function rpConcurrent(pool) {
  const callers = new Array(CALLERS);
  for (let c = 0; c < CALLERS; c++) callers[c] = rpCaller(pool);
  return Promise.all(callers);
}

async function rpPgCaller(pool, check) {
  for (let i = 0; i < PG_QUERIES_PER_CALLER; i++) {
    const client = await pool.acquire();
    const res = await client.query('SELECT 1 AS one');
    pool.release(client);
    check(res);
  }
}

function rpPg(pool, check) {
  const callers = new Array(PG_CALLERS);
  for (let c = 0; c < PG_CALLERS; c++) callers[c] = rpPgCaller(pool, check);
  return Promise.all(callers);
}

async function rpPool(ResourcePool, max, factory) {
  // idleTimeout: Infinity as the peers here (generic-pool evicts nothing by default, tarn nothing
  // at min): a resource idle between rounds must not be re-created.
  const pool = new ResourcePool({ ...factory, min: max, max, idleTimeout: Infinity });
  const rs = await Promise.all(Array.from({ length: max }, () => pool.acquire()));
  for (const r of rs) pool.release(r);
  return pool;
}

// ---------------------------------------------------------------- berth/generic-pool

async function bgpSerial(pool) {
  for (let i = 0; i < SERIAL_CYCLES; i++) {
    const r = await pool.acquire();
    pool.release(r);
  }
}

async function bgpCaller(pool) {
  for (let i = 0; i < CYCLES_PER_CALLER; i++) {
    const r = await pool.acquire();
    pool.release(r);
  }
}

function bgpConcurrent(pool) {
  const callers = new Array(CALLERS);
  for (let c = 0; c < CALLERS; c++) callers[c] = bgpCaller(pool);
  return Promise.all(callers);
}

async function bgpPgCaller(pool, check) {
  for (let i = 0; i < PG_QUERIES_PER_CALLER; i++) {
    const client = await pool.acquire();
    const res = await client.query('SELECT 1 AS one');
    pool.release(client);
    check(res);
  }
}

function bgpPg(pool, check) {
  const callers = new Array(PG_CALLERS);
  for (let c = 0; c < PG_CALLERS; c++) callers[c] = bgpPgCaller(pool, check);
  return Promise.all(callers);
}

async function bgpPool(createPool, max, factory) {
  const pool = createPool(factory, { max, min: max });
  const rs = await Promise.all(Array.from({ length: max }, () => pool.acquire()));
  for (const r of rs) pool.release(r);
  return pool;
}

// ---------------------------------------------------------------- generic-pool

async function gpPgCaller(pool, check) {
  for (let i = 0; i < PG_QUERIES_PER_CALLER; i++) {
    const client = await pool.acquire();
    const res = await client.query('SELECT 1 AS one');
    pool.release(client);
    check(res);
  }
}

function gpPg(pool, check) {
  const callers = new Array(PG_CALLERS);
  for (let c = 0; c < PG_CALLERS; c++) callers[c] = gpPgCaller(pool, check);
  return Promise.all(callers);
}

async function gpPool(max, factory) {
  const pool = genericPool.createPool(factory, { max, min: max });
  const rs = await Promise.all(Array.from({ length: max }, () => pool.acquire()));
  for (const r of rs) pool.release(r);
  return pool;
}

// ---------------------------------------------------------------- tarn

async function tarnPgCaller(pool, check) {
  for (let i = 0; i < PG_QUERIES_PER_CALLER; i++) {
    const client = await pool.acquire().promise;
    const res = await client.query('SELECT 1 AS one');
    pool.release(client);
    check(res);
  }
}

function tarnPg(pool, check) {
  const callers = new Array(PG_CALLERS);
  for (let c = 0; c < PG_CALLERS; c++) callers[c] = tarnPgCaller(pool, check);
  return Promise.all(callers);
}

async function tarnPool(max, factory) {
  const pool = new tarn.Pool({ ...factory, min: max, max, acquireTimeoutMillis: 30000 });
  const rs = await Promise.all(Array.from({ length: max }, () => pool.acquire().promise));
  for (const r of rs) pool.release(r);
  return pool;
}

// ---------------------------------------------------------------- factories

/** create returns {}; counts what it made. */
function trivialFactory(counter) {
  return {
    create: async () => {
      counter.created++;
      return {};
    },
    destroy: async () => {},
  };
}

/** pg clients, tagged with application_name; counts what it made. */
function pgFactory(url, appName, counter) {
  return {
    create: async () => {
      const client = new pg.Client({ connectionString: url, application_name: appName });
      client.on('error', (err) => {
        counter.errors.push(err.message);
      });
      await client.connect();
      counter.created++;
      return client;
    },
    destroy: async (client) => {
      await client.end();
    },
  };
}

/** A check of each `SELECT 1` result, counting answers and wrong answers. */
function resultCheck(counter) {
  return (res) => {
    counter.queries++;
    if (res.rows.length !== 1 || res.rows[0].one !== 1) counter.wrong++;
  };
}

// ---------------------------------------------------------------- PostgreSQL for (c)

/**
 * The PostgreSQL to use: { url, stop() }, or { skip: reason }. BERTH_TEST_PG if set, else a
 * throwaway cluster from scripts/test-servers.sh if PostgreSQL is installed.
 */
async function postgres() {
  if (process.env.BERTH_TEST_PG) return { url: process.env.BERTH_TEST_PG, stop: async () => {}, source: 'BERTH_TEST_PG' };
  const avail = spawnSync('bash', [SERVERS_SCRIPT, 'available', 'pg'], { encoding: 'utf8' });
  if (avail.error || avail.status !== 0) {
    return { skip: `BERTH_TEST_PG is not set and PostgreSQL cannot be started here: ${avail.error?.message ?? avail.stdout.trim()}` };
  }
  const out = await new Promise((resolve, reject) => {
    const child = spawn('bash', [SERVERS_SCRIPT, 'start', 'pg', '--owner', String(process.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`scripts/test-servers.sh start pg exited with ${code}`))));
  });
  const vars = Object.fromEntries([...out.matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
  return {
    url: vars.BERTH_TEST_PG,
    source: 'scripts/test-servers.sh (throwaway cluster)',
    stop: () => new Promise((resolve) => {
      spawn('bash', [SERVERS_SCRIPT, 'stop', vars.BERTH_TEST_SERVERS_DIR], { stdio: 'inherit' }).once('close', () => resolve());
    }),
  };
}

async function serverInfo(url) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query('SHOW server_version');
    return { serverVersion: rows[0].server_version };
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------- suite

function summarize(id, title, config, results, unit) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const peers = results.filter((r) => PEERS.includes(r.name));
  const best = peers.reduce((a, r) => (r.cyclesPerSec > a.cyclesPerSec ? r : a));
  const target = TARGETS[id];
  const ratios = {};
  for (const lib of BERTH_LIBS) {
    if (!by[lib]) continue;
    const ratio = Number((by[lib].cyclesPerSec / best.cyclesPerSec).toFixed(2));
    ratios[lib] = { ratio, meetsTarget: ratio >= target };
  }
  return {
    id,
    title,
    unit,
    config,
    results,
    bestPeer: best.name,
    ratios,
    // For run.mjs-style readers: berth's ResourcePool against the best peer.
    ratioToBestPeer: ratios.berth?.ratio ?? null,
    target,
    meetsTarget: ratios.berth ? ratios.berth.meetsTarget : null,
  };
}

async function loadBerth(berth) {
  const libs = {};
  const notes = [];
  if (!berth) return { libs, notes };
  if (typeof berth.ResourcePool === 'function') libs.ResourcePool = berth.ResourcePool;
  else notes.push('berth: this build exports no ResourcePool; not measured');
  try {
    const gp = await import('berth-pool/generic-pool');
    const createPool = gp.createPool ?? gp.default?.createPool;
    if (typeof createPool === 'function') libs.createPool = createPool;
    else notes.push('berth/generic-pool: exports no createPool; not measured');
  } catch (err) {
    notes.push(`berth/generic-pool: cannot be loaded (${err.message}); not measured`);
  }
  for (const n of notes) console.error(`resource suite: ${n}`);
  return { libs, notes };
}

/**
 * Runs the suite. `berth` is the loaded module or null to run only the peers.
 * Returns the JSON-ready result object.
 */
export async function run({ berth }) {
  const { libs, notes } = await loadBerth(berth);
  const counts = {};
  const count = (caseId, lib) => ((counts[caseId] ??= {})[lib] ??= { created: 0, queries: 0, wrong: 0, errors: [] });
  const pools = []; // [{ lib, pool }] to close at the end
  const keep = (lib, pool) => { pools.push({ lib, pool }); return pool; };
  const cases = [];
  let pgServer = null;
  let pgInfo = null;
  try {
    // (a) one caller in a loop, max 1; (b) 100 concurrent callers, max 10
    const plain = [
      { id: 'serial', max: 1, title: 'acquire→release, one caller in a loop, pool max 1', perOp: SERIAL_CYCLES,
        config: { callers: 1, max: 1, cyclesPerOp: SERIAL_CYCLES },
        loops: { berth: rpSerial, 'berth-pool/generic-pool': bgpSerial, 'generic-pool': gpSerial, tarn: tarnSerial } },
      { id: 'concurrent', max: 10, title: `acquire→release, ${CALLERS} concurrent callers, pool max 10`, perOp: CALLERS * CYCLES_PER_CALLER,
        config: { callers: CALLERS, max: 10, cyclesPerCallerPerOp: CYCLES_PER_CALLER, cyclesPerOp: CALLERS * CYCLES_PER_CALLER },
        loops: { berth: rpConcurrent, 'berth-pool/generic-pool': bgpConcurrent, 'generic-pool': gpConcurrent, tarn: tarnConcurrent } },
    ];
    for (const c of plain) {
      const made = {};
      if (libs.ResourcePool) made.berth = keep('berth', await rpPool(libs.ResourcePool, c.max, trivialFactory(count(c.id, 'berth'))));
      if (libs.createPool) made['berth-pool/generic-pool'] = keep('berth-pool/generic-pool', await bgpPool(libs.createPool, c.max, trivialFactory(count(c.id, 'berth-pool/generic-pool'))));
      made['generic-pool'] = keep('generic-pool', await gpPool(c.max, trivialFactory(count(c.id, 'generic-pool'))));
      made.tarn = keep('tarn', await tarnPool(c.max, trivialFactory(count(c.id, 'tarn'))));
      const suiteCases = Object.entries(made).map(([lib, pool]) => {
        const loop = c.loops[lib];
        return { name: lib, cyclesPerOp: c.perOp, batch: () => loop(pool) };
      });
      const results = await runBatchedSuite(`resource (${c.id}): ${c.title}`, suiteCases);
      cases.push(summarize(c.id, c.title, c.config, results, 'acquire→release cycles per second (reuse hits)'));
    }

    // (c) pg SELECT 1, 32 concurrent callers, max 8 clients
    pgServer = await postgres();
    if (pgServer.skip) {
      console.log(`resource (pg): skipped: ${pgServer.skip}`);
      notes.push(`case pg skipped: ${pgServer.skip}`);
    } else {
      pgInfo = { source: pgServer.source, ...(await serverInfo(pgServer.url)) };
      const title = `pg SELECT 1, ${PG_CALLERS} concurrent callers, pool max ${PG_MAX} clients`;
      const perOp = PG_CALLERS * PG_QUERIES_PER_CALLER;
      const app = (lib) => `berth-bench-${process.pid}-${lib.replace(/\W/g, '-')}`;
      const made = {};
      const factory = (lib) => pgFactory(pgServer.url, app(lib), count('pg', lib));
      if (libs.ResourcePool) made.berth = keep('berth', await rpPool(libs.ResourcePool, PG_MAX, factory('berth')));
      if (libs.createPool) made['berth-pool/generic-pool'] = keep('berth-pool/generic-pool', await bgpPool(libs.createPool, PG_MAX, factory('berth-pool/generic-pool')));
      made['generic-pool'] = keep('generic-pool', await gpPool(PG_MAX, factory('generic-pool')));
      made.tarn = keep('tarn', await tarnPool(PG_MAX, factory('tarn')));
      const loops = { berth: rpPg, 'berth-pool/generic-pool': bgpPg, 'generic-pool': gpPg, tarn: tarnPg };
      const suiteCases = Object.entries(made).map(([lib, pool]) => {
        const loop = loops[lib];
        const check = resultCheck(count('pg', lib));
        return { name: lib, cyclesPerOp: perOp, batch: () => loop(pool, check) };
      });
      const results = await runBatchedSuite(`resource (pg): ${title}`, suiteCases);
      cases.push(summarize('pg', title, {
        callers: PG_CALLERS, max: PG_MAX, queriesPerCallerPerOp: PG_QUERIES_PER_CALLER, queriesPerOp: perOp,
        query: "client.query('SELECT 1 AS one') between acquire and release",
      }, results, 'queries per second'));
    }

    // Every measured acquire must have been a reuse hit, and every query answered right.
    const problems = [];
    const expected = { serial: 1, concurrent: 10, pg: PG_MAX };
    for (const [caseId, byLib] of Object.entries(counts)) {
      for (const [lib, v] of Object.entries(byLib)) {
        if (v.created !== expected[caseId]) problems.push(`${lib} created ${v.created} resources in case ${caseId}, expected ${expected[caseId]}`);
        if (v.wrong) problems.push(`${lib}: ${v.wrong} wrong answers to SELECT 1 in case ${caseId}`);
        if (v.errors.length) problems.push(`${lib}: client errors in case ${caseId}: ${v.errors.slice(0, 3).join('; ')}`);
      }
    }
    if (problems.length) throw new Error(`resource suite: verification failed:\n  ${problems.join('\n  ')}`);

    return {
      suite: name,
      machine: machineInfo(),
      method: {
        harness: 'benny (benchmark.js), one op = a batch of cycles (or queries), per second = hz x cycles per op',
        rounds: ROUNDS,
        orderRotatedEachRound: true,
        maxTimePerCaseAndRoundSeconds: MAX_TIME,
        figure: 'median over the rounds',
        ratios: 'each berth library / the faster of generic-pool and tarn in the same case',
      },
      libraries: await libraryVersions(libs),
      peerConfig: {
        berth: 'new ResourcePool({ create, destroy, min: max, max, idleTimeout: Infinity })',
        'berth-pool/generic-pool': 'createPool({ create, destroy }, { max, min: max })',
        'generic-pool': 'createPool({ create, destroy }, { max, min: max })',
        tarn: 'new tarn.Pool({ create, destroy, min: max, max, acquireTimeoutMillis: 30000 })',
        resources: '(a), (b): create returns {}; (c): a connected pg.Client',
      },
      postgres: pgInfo,
      notes,
      cases,
      verification: counts,
    };
  } finally {
    await Promise.allSettled(pools.map(({ lib, pool }) => closePool(lib, pool)));
    await pgServer?.stop?.();
  }
}

function closePool(lib, pool) {
  switch (lib) {
    case 'berth': return pool.close();
    case 'tarn': return pool.destroy();
    default: return pool.drain().then(() => pool.clear()); // generic-pool and its drop-in
  }
}

async function libraryVersions(libs) {
  const require = createRequire(import.meta.url);
  const v = {
    'generic-pool': require('generic-pool/package.json').version,
    tarn: require('tarn/package.json').version,
    pg: require('pg/package.json').version,
    benny: require('benny/package.json').version,
  };
  if (libs.ResourcePool || libs.createPool) v.berth = require('berth-pool/package.json').version;
  return v;
}

export function printTable(result) {
  const libs = [...BERTH_LIBS, ...PEERS];
  const rows = [['case', ...libs.map((l) => `${l} /s`), ...BERTH_LIBS.map((l) => `${l} / best peer`)]];
  for (const c of result.cases) {
    const by = Object.fromEntries(c.results.map((r) => [r.name, r]));
    rows.push([
      c.id,
      ...libs.map((l) => (by[l] ? fmt(by[l].cyclesPerSec) : '-')),
      ...BERTH_LIBS.map((l) => {
        const r = c.ratios[l];
        return r ? `${r.ratio.toFixed(2)}x vs ${c.bestPeer} (target ${c.target}x: ${r.meetsTarget ? 'met' : 'NOT met'})` : 'n/a';
      }),
    ]);
  }
  printColumns(rows[0], rows.slice(1), { textFrom: libs.length + 1 });
  for (const n of result.notes ?? []) console.log(`note: ${n}`);
}

// ---------------------------------------------------------------- standalone

if (isMain(import.meta.url)) await runStandalone({ name, run, printTable });
