// Suite "acquire": reuse-hit acquire→release cycles, berth vs generic-pool@3 vs tarn@3,
// side by side in one process run.
//
//   (a) serial      one caller in a loop, pool max 1
//   (b) concurrent  100 concurrent callers, pool max 10
//
// berth pools real TCP connections to a loopback server started in this process; the peers pool
// trivial resources (create returns {}), which is the most favourable setting for them. Every
// pool is warmed up to its max before measuring, so every measured acquire is a reuse hit; the
// suite checks afterwards that no pool created anything while it was being measured.
//
// Each library gets its own loop functions (no shared helper taking the pool as an argument),
// so that V8 does not see one call site serving three different pools.

import net from 'node:net';
import genericPool from 'generic-pool';
import tarn from 'tarn';
import { CALLERS, CYCLES_PER_CALLER, SERIAL_CYCLES, gpConcurrent, gpSerial, tarnConcurrent, tarnSerial } from './peer-loops.mjs';
import { MAX_TIME, ROUNDS, machineInfo, runBatchedSuite } from './harness.mjs';

export const name = 'acquire';

const TARGET_RATIO = 3; // issue target: berth >= 3x the faster of generic-pool and tarn

// ---------------------------------------------------------------- berth

async function berthSerial(pool, dest) {
  for (let i = 0; i < SERIAL_CYCLES; i++) {
    const lease = await pool.acquire(dest);
    lease.release();
  }
}

async function berthCaller(pool, dest) {
  for (let i = 0; i < CYCLES_PER_CALLER; i++) {
    const lease = await pool.acquire(dest);
    lease.release();
  }
}

function berthConcurrent(pool, dest) {
  const callers = new Array(CALLERS);
  for (let c = 0; c < CALLERS; c++) callers[c] = berthCaller(pool, dest);
  return Promise.all(callers);
}

async function berthPool(Pool, dest, max) {
  const pool = new Pool({ maxPerDestination: max });
  // Warm up: open `max` connections (one at a time, holding each), then return them all.
  const leases = [];
  for (let i = 0; i < max; i++) leases.push(await pool.acquire(dest));
  for (const l of leases) l.release();
  // One unmeasured pass that checks every lease is a reuse hit.
  let fresh = 0;
  for (let i = 0; i < 2 * max; i++) {
    const l = await pool.acquire(dest);
    if (!l.reused) fresh++;
    l.release();
  }
  const s = pool.stats();
  if (s.open !== max || s.created !== max || fresh !== 0) {
    throw new Error(
      `berth warm-up: expected ${max} open connections, all reused; got open=${s.open} ` +
        `created=${s.created} fresh leases=${fresh}`,
    );
  }
  return pool;
}

// ---------------------------------------------------------------- generic-pool

async function gpPool(max, counter) {
  const pool = genericPool.createPool(
    {
      create: async () => {
        counter.created++;
        return {};
      },
      destroy: async () => {},
    },
    { max, min: max },
  );
  const rs = await Promise.all(Array.from({ length: max }, () => pool.acquire()));
  for (const r of rs) pool.release(r);
  return pool;
}

// ---------------------------------------------------------------- tarn

async function tarnPool(max, counter) {
  const pool = new tarn.Pool({
    min: max,
    max,
    create: async () => {
      counter.created++;
      return {};
    },
    destroy: () => {},
    acquireTimeoutMillis: 30000,
  });
  const rs = await Promise.all(Array.from({ length: max }, () => pool.acquire().promise));
  for (const r of rs) pool.release(r);
  return pool;
}

// ---------------------------------------------------------------- suite

function startServer() {
  const sockets = new Set();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const close = () =>
        new Promise((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        });
      resolve({ port: server.address().port, close, accepted: () => accepted });
    });
  });
}

function summarize(id, title, config, results) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const peers = results.filter((r) => r.name !== 'berth');
  const best = peers.reduce((a, r) => (r.cyclesPerSec > a.cyclesPerSec ? r : a));
  const ratio = by.berth ? Number((by.berth.cyclesPerSec / best.cyclesPerSec).toFixed(2)) : null;
  return {
    id,
    title,
    config,
    results,
    bestPeer: best.name,
    ratioToBestPeer: ratio,
    target: TARGET_RATIO,
    meetsTarget: ratio === null ? null : ratio >= TARGET_RATIO,
  };
}

/**
 * Runs the suite. `berth` is the loaded module ({ Pool }) or null to run only the peers.
 * Returns the JSON-ready result object.
 */
export async function run({ berth }) {
  const server = berth ? await startServer() : null;
  const dest = server ? `127.0.0.1:${server.port}` : null;
  const gpCount = { serial: { created: 0 }, concurrent: { created: 0 } };
  const tarnCount = { serial: { created: 0 }, concurrent: { created: 0 } };
  const pools = {};
  const cases = [];
  try {
    // (a) one caller in a loop, max 1
    if (berth) pools.berthSerial = await berthPool(berth.Pool, dest, 1);
    pools.gpSerial = await gpPool(1, gpCount.serial);
    pools.tarnSerial = await tarnPool(1, tarnCount.serial);
    const serialCases = [
      berth && { name: 'berth', cyclesPerOp: SERIAL_CYCLES, batch: () => berthSerial(pools.berthSerial, dest) },
      { name: 'generic-pool', cyclesPerOp: SERIAL_CYCLES, batch: () => gpSerial(pools.gpSerial) },
      { name: 'tarn', cyclesPerOp: SERIAL_CYCLES, batch: () => tarnSerial(pools.tarnSerial) },
    ].filter(Boolean);
    const serial = await runBatchedSuite('acquire (a): 1 caller, pool max 1', serialCases);
    cases.push(
      summarize('serial', 'one caller in a loop, pool max 1', {
        callers: 1,
        max: 1,
        cyclesPerOp: SERIAL_CYCLES,
      }, serial),
    );

    // (b) 100 concurrent callers, max 10
    if (berth) pools.berthConc = await berthPool(berth.Pool, dest, 10);
    pools.gpConc = await gpPool(10, gpCount.concurrent);
    pools.tarnConc = await tarnPool(10, tarnCount.concurrent);
    const perOp = CALLERS * CYCLES_PER_CALLER;
    const concCases = [
      berth && { name: 'berth', cyclesPerOp: perOp, batch: () => berthConcurrent(pools.berthConc, dest) },
      { name: 'generic-pool', cyclesPerOp: perOp, batch: () => gpConcurrent(pools.gpConc) },
      { name: 'tarn', cyclesPerOp: perOp, batch: () => tarnConcurrent(pools.tarnConc) },
    ].filter(Boolean);
    const conc = await runBatchedSuite(`acquire (b): ${CALLERS} callers, pool max 10`, concCases);
    cases.push(
      summarize('concurrent', `${CALLERS} concurrent callers, pool max 10`, {
        callers: CALLERS,
        max: 10,
        cyclesPerCallerPerOp: CYCLES_PER_CALLER,
        cyclesPerOp: perOp,
      }, conc),
    );

    // Every measured acquire must have been a reuse hit: nothing created after warm-up.
    const verification = {
      'generic-pool': { createdSerial: gpCount.serial.created, createdConcurrent: gpCount.concurrent.created },
      tarn: { createdSerial: tarnCount.serial.created, createdConcurrent: tarnCount.concurrent.created },
    };
    if (berth) {
      const a = pools.berthSerial.stats();
      const c = pools.berthConc.stats();
      verification.berth = {
        createdSerial: a.created,
        createdConcurrent: c.created,
        reusedSerial: a.reused,
        reusedConcurrent: c.reused,
        statsSerial: a,
        statsConcurrent: c,
        serverConnections: server.accepted(),
      };
    }
    const problems = [];
    for (const [lib, v] of Object.entries(verification)) {
      if (v.createdSerial !== 1) problems.push(`${lib} created ${v.createdSerial} resources in case (a), expected 1`);
      if (v.createdConcurrent !== 10) problems.push(`${lib} created ${v.createdConcurrent} resources in case (b), expected 10`);
    }
    if (problems.length) throw new Error(`acquire suite: not all acquires were reuse hits:\n  ${problems.join('\n  ')}`);

    return {
      suite: name,
      unit: 'acquire→release cycles per second (reuse hits)',
      machine: machineInfo(),
      method: {
        harness: 'benny (benchmark.js), one op = a batch of cycles, cycles/s = hz x cycles per op',
        rounds: ROUNDS,
        orderRotatedEachRound: true,
        maxTimePerCaseAndRoundSeconds: MAX_TIME,
        figure: 'median over the rounds',
      },
      libraries: await libraryVersions(Boolean(berth)),
      peerConfig: {
        'generic-pool': '{ max, min: max }, create returns {}',
        tarn: '{ min: max, max, create returns {}, destroy, acquireTimeoutMillis: 30000 }',
        berth: `new Pool({ maxPerDestination: max }), destination: loopback TCP server in this process`,
      },
      cases,
      verification,
    };
  } finally {
    await Promise.allSettled([
      pools.berthSerial?.close(),
      pools.berthConc?.close(),
      pools.gpSerial?.drain().then(() => pools.gpSerial.clear()),
      pools.gpConc?.drain().then(() => pools.gpConc.clear()),
      pools.tarnSerial?.destroy(),
      pools.tarnConc?.destroy(),
    ]);
    await server?.close();
  }
}

async function libraryVersions(withBerth) {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const v = {
    'generic-pool': require('generic-pool/package.json').version,
    tarn: require('tarn/package.json').version,
    benny: require('benny/package.json').version,
  };
  if (withBerth) v.berth = require('berth-pool/package.json').version;
  return v;
}
