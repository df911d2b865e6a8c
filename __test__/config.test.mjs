// Config validation: new Pool(config) throws a TypeError naming the offending key.
import test from 'ava';
import { inspect } from 'node:util';
import { Pool, BerthError } from 'berth-pool';

const COUNT_KEYS = ['maxPerDestination', 'maxIdlePerDestination', 'maxTotal', 'maxTotalIdle', 'maxWaiters', 'maxConcurrentDials'];
const MS_KEYS = ['idleTimeout', 'maxLifetime', 'connectTimeout', 'acquireTimeout'];
// Timeouts that can be switched off accept Infinity (README: Options); connectTimeout cannot.
const INFINITY_ALLOWED = new Set(['idleTimeout', 'maxLifetime', 'acquireTimeout']);

const rejectsKey = test.macro({
  exec(t, config, key) {
    t.throws(() => new Pool(config), {
      instanceOf: TypeError,
      message: (m) => new RegExp(`\\b${key}\\b`).test(m),
    }, `new Pool(${describe(config)}) throws a TypeError naming ${key}`);
  },
  title: (provided, config) => provided ?? `rejects ${describe(config)}`,
});

function describe(config) {
  return inspect(config, { breakLength: Infinity });
}

// Every numeric key: negative, NaN, wrong types.
for (const key of [...COUNT_KEYS, ...MS_KEYS]) {
  for (const value of [-1, -0.5, NaN, '10', true, null, {}, [], 10n]) {
    test(rejectsKey, { [key]: value }, key);
  }
  if (!INFINITY_ALLOWED.has(key)) {
    test(rejectsKey, { [key]: Infinity }, key);
  }
  test(rejectsKey, { [key]: -Infinity }, key);
}

// Counts must be integers.
for (const key of COUNT_KEYS) {
  test(rejectsKey, { [key]: 1.5 }, key);
}

// order: only 'lifo' or 'fifo'.
for (const value of ['LIFO', 'random', '', 0, null, true]) {
  test(rejectsKey, { order: value }, 'order');
}

// Unknown keys (a typo, an acquire() option, a misplaced nested object).
for (const key of ['maxPerDest', 'maxperdestination', 'timeout', 'signal', 'pool']) {
  test(rejectsKey, { [key]: 1 }, key);
}

test('a bad key among good ones is still named', rejectsKey, { maxTotal: 10, idleTimeout: -5, order: 'fifo' }, 'idleTimeout');

test('config errors are TypeErrors, not BerthErrors', (t) => {
  const err = t.throws(() => new Pool({ maxTotal: -1 }));
  t.true(err instanceof TypeError);
  t.false(err instanceof BerthError);
});

test('no config and an empty config are valid', async (t) => {
  for (const pool of [new Pool(), new Pool({})]) {
    t.like(pool.stats(), { open: 0, idle: 0, inUse: 0, waiting: 0 });
    await pool.close();
  }
});

test('every key at a valid value is accepted', async (t) => {
  const pool = new Pool({
    maxPerDestination: 8,
    maxIdlePerDestination: 4,
    maxTotal: 64,
    maxTotalIdle: 16,
    maxWaiters: 100,
    maxConcurrentDials: 2,
    idleTimeout: 5_000,
    maxLifetime: 60_000,
    connectTimeout: 1_000,
    acquireTimeout: 2_000,
    order: 'fifo',
  });
  t.pass();
  await pool.close();
});

test('Infinity is accepted for idleTimeout, maxLifetime and acquireTimeout', async (t) => {
  const pool = new Pool({ idleTimeout: Infinity, maxLifetime: Infinity, acquireTimeout: Infinity, order: 'lifo' });
  t.pass();
  await pool.close();
});
