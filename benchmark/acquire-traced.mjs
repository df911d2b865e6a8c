// Suite "acquire-traced": the cost of berth:pool:acquire tracing on the acquire hot path, as
// reuse-hit acquire→release cycles per second (benchmark/acquire.mjs's cases).
//
//   node benchmark/acquire-traced.mjs                    with a subscriber vs without
//   node benchmark/acquire-traced.mjs --base <dist>      without a subscriber: this build vs
//                                                        another build's dist (e.g. main's,
//                                                        built in a temp dir), in one process
//
// The two modes run in separate processes on purpose: a subscriber ever attached changes the
// channel object's class (Node switches its prototype), which the no-subscriber hot path of
// the same process then also sees; the baseline comparison must see a process where nobody
// ever subscribed, as a production process without an APM agent.
//
// With a subscriber: an OpenTelemetry-like one (a span object per acquire, started on
// `start`, ended on `asyncEnd`), attached for the batches of its own case only.
//
// Each pool gets its own loop functions (no shared call site across pools), as in acquire.mjs.

import net from 'node:net';
import path from 'node:path';
import diagnosticsChannel from 'node:diagnostics_channel';
import { CALLERS, CYCLES_PER_CALLER, SERIAL_CYCLES } from './peer-loops.mjs';
import { ROUNDS, MAX_TIME, fmt, machineInfo, runBatchedSuite, writeResult } from './harness.mjs';

const baseAt = process.argv.indexOf('--base');
const baseDist = baseAt > 0 ? path.resolve(process.argv[baseAt + 1]) : undefined;

// ---------------------------------------------------------------- loops (one set per pool)
// Written twice on purpose, not shared: with --base the two pools come from two builds (two Pool
// classes), and one shared loop would see both and go polymorphic, slowing whichever runs
// second; each copy stays monomorphic on its own pool, as a user's loop would.

async function serialA(pool, dest) {
  for (let i = 0; i < SERIAL_CYCLES; i++) {
    const lease = await pool.acquire(dest);
    lease.release();
  }
}
async function serialB(pool, dest) {
  for (let i = 0; i < SERIAL_CYCLES; i++) {
    const lease = await pool.acquire(dest);
    lease.release();
  }
}
async function callerA(pool, dest) {
  for (let i = 0; i < CYCLES_PER_CALLER; i++) {
    const lease = await pool.acquire(dest);
    lease.release();
  }
}
async function callerB(pool, dest) {
  for (let i = 0; i < CYCLES_PER_CALLER; i++) {
    const lease = await pool.acquire(dest);
    lease.release();
  }
}
function concurrentA(pool, dest) {
  const callers = new Array(CALLERS);
  for (let c = 0; c < CALLERS; c++) callers[c] = callerA(pool, dest);
  return Promise.all(callers);
}
function concurrentB(pool, dest) {
  const callers = new Array(CALLERS);
  for (let c = 0; c < CALLERS; c++) callers[c] = callerB(pool, dest);
  return Promise.all(callers);
}

// ---------------------------------------------------------------- the subscriber

const acquireChannel = diagnosticsChannel.tracingChannel('berth:pool:acquire');
let spansEnded = 0;
/** What an OpenTelemetry instrumentation does per acquire: a span with a start, attributes and an end. */
const spans = new WeakMap();
const tracer = {
  start(context) {
    spans.set(context, { name: 'berth.acquire', startTime: performance.now(), attributes: { 'berth.destination': context.destination } });
  },
  end() {},
  asyncStart(context) {
    const span = spans.get(context);
    if (span !== undefined) span.reused = context.result?.reused;
  },
  asyncEnd(context) {
    const span = spans.get(context);
    if (span === undefined) return;
    span.endTime = performance.now();
    spansEnded++;
  },
  error(context) {
    const span = spans.get(context);
    if (span !== undefined) span.error = context.error;
  },
};

function traced(batch) {
  return async () => {
    acquireChannel.subscribe(tracer);
    try {
      await batch();
    } finally {
      acquireChannel.unsubscribe(tracer);
    }
  };
}

// ---------------------------------------------------------------- suite

function startServer() {
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        close: () => new Promise((done) => { for (const s of sockets) s.destroy(); server.close(() => done()); }),
      });
    });
  });
}

async function warmPool(Pool, dest, max) {
  const pool = new Pool({ maxPerDestination: max });
  const leases = [];
  for (let i = 0; i < max; i++) leases.push(await pool.acquire(dest));
  for (const l of leases) l.release();
  return pool;
}

function ratio(a, b) {
  return Number((a / b).toFixed(3));
}

async function main() {
  const berth = await import('berth-pool');
  const base = baseDist === undefined ? undefined : await import(path.join(baseDist, 'index.js'));
  const server = await startServer();
  const dest = `127.0.0.1:${server.port}`;
  const [nameA, nameB] = base === undefined ? ['no subscriber', 'subscriber'] : ['this build', 'base build'];
  const PoolB = base === undefined ? berth.Pool : base.default?.Pool ?? base.Pool;
  const pools = [];
  const cases = [];
  try {
    const sA = await warmPool(berth.Pool, dest, 1);
    const sB = await warmPool(PoolB, dest, 1);
    pools.push(sA, sB);
    const wrapB = base === undefined ? traced : (batch) => batch;
    const serial = await runBatchedSuite('acquire-traced (a): 1 caller, pool max 1', [
      { name: nameA, cyclesPerOp: SERIAL_CYCLES, batch: () => serialA(sA, dest) },
      { name: nameB, cyclesPerOp: SERIAL_CYCLES, batch: wrapB(() => serialB(sB, dest)) },
    ]);
    // Warmed only now: connections idle through the serial case would meet the idle timeout.
    const cA = await warmPool(berth.Pool, dest, 10);
    const cB = await warmPool(PoolB, dest, 10);
    pools.push(cA, cB);
    const perOp = CALLERS * CYCLES_PER_CALLER;
    const concurrent = await runBatchedSuite(`acquire-traced (b): ${CALLERS} callers, pool max 10`, [
      { name: nameA, cyclesPerOp: perOp, batch: () => concurrentA(cA, dest) },
      { name: nameB, cyclesPerOp: perOp, batch: wrapB(() => concurrentB(cB, dest)) },
    ]);
    for (const [id, results] of [['serial', serial], ['concurrent', concurrent]]) {
      const [a, b] = results;
      // The figure asked for: what tracing costs (subscriber / none), or this build against the base (this / base).
      const [top, bottom] = base === undefined ? [b, a] : [a, b];
      cases.push({ id, results, [`${top.name} / ${bottom.name}`]: ratio(top.cyclesPerSec, bottom.cyclesPerSec) });
    }
    // Every measured acquire was a reuse hit: nothing created after the warm-up.
    for (const [pool, max] of [[sA, 1], [sB, 1], [cA, 10], [cB, 10]]) {
      const s = pool.stats();
      if (s.created !== max) throw new Error(`a pool created connections while measured: ${JSON.stringify(s)}`);
    }
  } finally {
    await Promise.allSettled(pools.map((p) => p.close()));
    await server.close();
  }
  const result = {
    suite: 'acquire-traced',
    mode: base === undefined ? 'subscriber on berth:pool:acquire vs none' : `no subscriber: this build vs ${baseDist}`,
    unit: 'acquire→release cycles per second (reuse hits)',
    machine: machineInfo(),
    method: { rounds: ROUNDS, maxTimePerCaseAndRoundSeconds: MAX_TIME, orderRotatedEachRound: true, figure: 'median over the rounds' },
    spansEnded: base === undefined ? spansEnded : undefined,
    cases,
  };
  const file = writeResult(base === undefined ? 'acquire-traced.json' : 'acquire-traced-base.json', result);
  console.log(`\n${result.mode}`);
  for (const c of cases) {
    const [a, b] = c.results;
    const key = Object.keys(c).find((k) => k.includes(' / '));
    console.log(`  ${c.id.padEnd(11)} ${nameA}: ${fmt(a.cyclesPerSec).padStart(10)}  ${nameB}: ${fmt(b.cyclesPerSec).padStart(10)}  ${key}: ${c[key]}`);
  }
  console.log(`\nwrote ${file}`);
  process.exit(0);
}

await main();
