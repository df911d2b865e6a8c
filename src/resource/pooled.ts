/** The wrapper form of a `ResourcePool`: a function that borrows a resource for each call. */
import type { ResourceAcquireOptions, ResourcePool } from './pool';

/**
 * Wraps `fn` so that each call borrows a resource from `pool`, passes it as the first
 * argument, and gives it back when `fn` settles: released when it returns, destroyed when it
 * throws (then the error is rethrown).
 *
 * ```ts
 * const query = pooled(pool, (client, sql: string) => client.query(sql));
 * const rows = await query('SELECT 1');
 * ```
 */
export function pooled<T, A extends unknown[], R>(
  pool: ResourcePool<T>,
  fn: (resource: T, ...args: A) => R | Promise<R>,
  options?: ResourceAcquireOptions,
): (...args: A) => Promise<R> {
  if (typeof fn !== 'function') throw new TypeError(`pooled(pool, fn): fn must be a function, got ${typeof fn}`);
  return (...args: A) => pool.use((resource) => fn(resource, ...args), options);
}
