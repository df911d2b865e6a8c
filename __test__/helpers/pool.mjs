// Pool helpers: creation with cleanup, an echo use, error and stats assertions.
import { Pool, BerthError } from 'berth-pool';
import { roundTrip } from './net.mjs';

export { Pool, BerthError };

/** new Pool(config), closed in t.teardown (a close that never resolves fails the test). */
export function createPool(t, config) {
  const pool = config === undefined ? new Pool() : new Pool(config);
  t.teardown(async () => {
    let timer;
    const guard = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('pool.close() did not resolve within 10 s')), 10_000);
    });
    // A test may already have closed or drained the pool; a second close may reject, fine here.
    await Promise.race([pool.close().catch(() => {}), guard]).finally(() => clearTimeout(timer));
  });
  return pool;
}

/** pool.use() one echo round trip and assert the exact bytes came back. */
export async function useEcho(t, pool, dest, payload) {
  const reply = await pool.use(dest, (socket) => roundTrip(socket, payload));
  t.is(reply.toString(), payload, `echo through ${dest}`);
  return reply;
}

/** Assert `promise` rejects with a BerthError of `code` (and `.destination` when given). */
export async function rejectsWithCode(t, promise, code, destination) {
  const err = await t.throwsAsync(promise, { instanceOf: BerthError, code });
  if (err && destination !== undefined) t.is(err.destination, destination, `${code}.destination`);
  return err;
}

const COUNTERS = ['open', 'idle', 'inUse', 'dialing', 'waiting', 'created', 'reused', 'closed',
  'dialFailures', 'acquireTimeouts'];

/** The invariants every stats() result must satisfy, whatever the pool is doing. */
export function assertStatsConsistent(t, s, label = 'stats') {
  for (const key of COUNTERS) {
    t.true(Number.isInteger(s[key]) && s[key] >= 0, `${label}.${key} is a non-negative integer (got ${s[key]})`);
  }
  for (const key of ['idle', 'lifetime', 'peerClosed', 'unhealthy']) {
    t.true(Number.isInteger(s.evicted?.[key]) && s.evicted[key] >= 0, `${label}.evicted.${key} is a non-negative integer`);
  }
  for (const h of ['acquireWaitMs', 'connectMs']) {
    t.true(Number.isFinite(s[h]?.p50) && s[h].p50 >= 0, `${label}.${h}.p50 is a finite number >= 0`);
    t.true(Number.isFinite(s[h]?.p99) && s[h].p99 >= s[h].p50, `${label}.${h}.p99 >= p50`);
  }
  t.is(s.open, s.idle + s.inUse + s.dialing, `${label}: open = idle + inUse + dialing`);
  // Every evicted connection is closed, or (when the pool reports it) still closing.
  const evicted = s.evicted.idle + s.evicted.lifetime + s.evicted.peerClosed + s.evicted.unhealthy;
  const closedOrClosing = s.closed + (Number.isInteger(s.closing) ? s.closing : 0);
  t.true(closedOrClosing >= evicted, `${label}: closed (${s.closed}) + closing (${s.closing ?? 'n/a'}) counts every eviction (${evicted})`);
  t.true(s.created >= s.idle + s.inUse, `${label}: created (${s.created}) >= idle + inUse (${s.idle + s.inUse})`);
}

function matches(actual, expected) {
  return Object.entries(expected).every(([k, v]) =>
    (v !== null && typeof v === 'object') ? matches(actual?.[k] ?? {}, v) : actual?.[k] === v);
}

/**
 * Poll pool.stats() until it matches `expected` (a subset, like t.like), for counters that are
 * updated once a descriptor is actually closed. Returns the last stats either way (hang guard
 * 10 s): the caller asserts on them, so a mismatch still fails with a readable diff.
 */
export async function settledStats(pool, expected, { timeout = 10_000 } = {}) {
  const deadline = Date.now() + timeout;
  let s = pool.stats();
  while (!matches(s, expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    s = pool.stats();
  }
  return s;
}
