/** Options of one acquire, shared by `Pool` and `ResourcePool`, and their validation. */
import { checkKnownKeys, checkObject, checkTime, describe } from './validate';

/** Options of one `acquire`. */
export interface AcquireOptions {
  /** Abandons the wait: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Overrides the pool's `acquireTimeout` for this call (ms, or `Infinity`). */
  timeout?: number;
  /** Higher is served first; equal priorities are first come, first served. Default 0. */
  priority?: number;
}

export const ACQUIRE_KEYS: readonly string[] = ['signal', 'timeout', 'priority'];
const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

/**
 * Throws a TypeError naming the first bad option. `keys`: the options known (a pool with more
 * options of its own checks those itself).
 */
export function checkAcquireOptions(options: AcquireOptions, keys: readonly string[] = ACQUIRE_KEYS): void {
  checkObject('acquire options', options);
  checkKnownKeys('acquire', options, keys);
  const { signal, timeout, priority } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`signal must be an AbortSignal, got ${describe(signal)}`);
  }
  if (timeout !== undefined) checkTime('timeout', timeout, { min: 0, infinite: true });
  if (priority !== undefined && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < I32_MIN || priority > I32_MAX)) {
    throw new TypeError(`priority must be an integer from ${I32_MIN} to ${I32_MAX}, got ${describe(priority)}`);
  }
}
