// ResourcePool helpers: a factory whose resources record what happened to them, and a pool
// closed in t.teardown.
import { ResourcePool, BerthError } from 'berth-pool';

export { ResourcePool, BerthError };

/**
 * A factory of plain resources `{ id, destroyed, uses }`, with a log of every call. Options:
 * `createDelay` (ms), `failCreates` (how many creates fail first), `valid(resource)` (validate's
 * answer), `destroyDelay`.
 */
export function makeFactory({ createDelay = 0, failCreates = 0, valid = () => true, destroyDelay = 0 } = {}) {
  const log = { created: [], destroyed: [], validated: [], createCalls: 0, signals: [] };
  let next = 0;
  const factory = {
    log,
    async create(signal) {
      log.createCalls++;
      log.signals.push(signal);
      if (createDelay > 0) await new Promise((r) => setTimeout(r, createDelay));
      if (log.createCalls <= failCreates) throw new Error(`create #${log.createCalls} failed on purpose`);
      const resource = { id: next++, destroyed: false, uses: 0 };
      log.created.push(resource);
      return resource;
    },
    async destroy(resource) {
      if (destroyDelay > 0) await new Promise((r) => setTimeout(r, destroyDelay));
      if (resource.destroyed) throw new Error(`resource ${resource.id} destroyed twice`);
      resource.destroyed = true;
      log.destroyed.push(resource);
    },
    validate(resource) {
      log.validated.push(resource);
      return valid(resource);
    },
  };
  return factory;
}

/** new ResourcePool(options), closed in t.teardown (a close that never resolves fails the test). */
export function createResourcePool(t, options) {
  const pool = new ResourcePool(options);
  t.teardown(async () => {
    let timer;
    const guard = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('ResourcePool.close() did not resolve within 10 s')), 10_000);
    });
    await Promise.race([pool.close(), guard]).finally(() => clearTimeout(timer));
  });
  return pool;
}

/** Options for a pool over `factory`. */
export function over(factory, options = {}) {
  return { create: factory.create, destroy: factory.destroy, validate: factory.validate, ...options };
}

/** Polls `check` until true (or fails after `timeout` ms). */
export async function until(check, { timeout = 10_000, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
