// Runs one test body against both implementations of the generic-pool v3 API: the original
// `generic-pool` package (a devDependency, the reference) and `berth/generic-pool` (the
// drop-in). GP_IMPL=generic-pool or GP_IMPL=berth runs one side only.
import test from 'ava';
import { createRequire } from 'node:module';
import { sleep } from './net.mjs';

const require = createRequire(import.meta.url);

export const IMPLS = [
  { name: 'generic-pool', original: true, specifier: 'generic-pool' },
  { name: 'berth', original: false, specifier: 'berth-pool/generic-pool' },
].filter((impl) => !process.env.GP_IMPL || process.env.GP_IMPL === impl.name);

function define(impls, title, body) {
  for (const impl of impls) {
    test(`${impl.name}: ${title}`, async (t) => {
      const gp = require(impl.specifier);
      return body(t, gp, impl);
    });
  }
}

/** The same body, once per implementation: `body(t, gp, impl)` with `gp` the module. */
export function both(title, body) {
  define(IMPLS, title, body);
}

/** generic-pool only: documents what the original does where berth deliberately differs. */
export function originalOnly(title, body) {
  define(IMPLS.filter((i) => i.original), title, body);
}

/** berth only: the deliberate improvements. */
export function berthOnly(title, body) {
  define(IMPLS.filter((i) => !i.original), title, body);
}

/** The upstream suite's test factory (test/utils.js of coopernurse/node-pool). */
export class ResourceFactory {
  constructor() {
    this.created = 0;
    this.destroyed = 0;
    this.bin = [];
  }

  create() {
    return Promise.resolve({ id: this.created++ });
  }

  validate() {
    return Promise.resolve(true);
  }

  destroy(resource) {
    this.destroyed++;
    this.bin.push(resource);
    return Promise.resolve();
  }
}

/** The upstream suite's stopPool: drain, then clear. */
export function stopPool(pool) {
  return pool.drain().then(() => pool.clear());
}

/**
 * createPool plus a teardown that stops the pool if the test did not (bounded, so that a test
 * that failed with a waiter stuck cannot hang the teardown).
 */
export function makePool(t, gp, factory, options) {
  const pool = gp.createPool(factory, options);
  t.teardown(() => Promise.race([stopPool(pool).catch(() => {}), sleep(1000)]));
  return pool;
}

/** A promise with its resolve function. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks and immediate callbacks run. */
export function ticks(n = 3) {
  let p = Promise.resolve();
  for (let i = 0; i < n; i++) p = p.then(() => new Promise((r) => setImmediate(r)));
  return p;
}
