/** Pool configuration: the public options, their defaults, and their validation. */
import { resolveAddressPolicy, type AddressPolicy } from './address-policy';

/** Options of `new Pool(options)`. Every key is optional; times are in milliseconds. */
export interface PoolOptions {
  /** Open connections (idle + in use + dialing) per destination. Default 32. */
  maxPerDestination?: number;
  /** Idle connections kept per destination; more are closed on release. Default 32. */
  maxIdlePerDestination?: number;
  /** Open connections across all destinations. Default 1024. */
  maxTotal?: number;
  /** Idle connections kept across all destinations. Default 256. */
  maxTotalIdle?: number;
  /** Acquires allowed to queue per destination; beyond it `QUEUE_FULL`. Default 1024. */
  maxWaiters?: number;
  /** Dials in flight per destination; waiters share them. Default 4. */
  maxConcurrentDials?: number;
  /** An idle connection is closed after this long unused. Default 30000; `Infinity` disables. */
  idleTimeout?: number;
  /** A connection is retired after this long (less up to 2.5% jitter). Default 600000; `Infinity` disables. */
  maxLifetime?: number;
  /** A dial (name resolution included) fails with `CONNECT_TIMEOUT` after this long. Default 10000. */
  connectTimeout?: number;
  /** An acquire fails with `ACQUIRE_TIMEOUT` after waiting this long. Default 30000; `Infinity` disables. */
  acquireTimeout?: number;
  /** Which idle connection is reused first: most recently released (`'lifo'`, default) or least (`'fifo'`). */
  order?: 'lifo' | 'fifo';
  /**
   * A connection is closed instead of reused once it has served this many leases (servers that
   * cap requests per connection, or to spread load after a rebalance). Default `Infinity`.
   */
  maxUses?: number;
  /**
   * Which addresses dials may connect to, checked by the engine on every resolved address
   * right before connect (acquire, use, warm, acquireMany, forward, listener routes, the HTTP
   * agent); a destination with no allowed address fails with `DESTINATION_DENIED`. Default
   * `{}`: no policy, everything allowed. A proxy that takes destinations from clients should
   * set one, e.g. `{ deny: ['loopback', 'private', 'linkLocal', 'uniqueLocal', 'unspecified', 'multicast', 'unix'] }`.
   */
  addressPolicy?: AddressPolicy;
}

export type ResolvedPoolOptions = Required<PoolOptions>;

export const DEFAULTS: Readonly<ResolvedPoolOptions> = Object.freeze({
  maxPerDestination: 32,
  maxIdlePerDestination: 32,
  maxTotal: 1024,
  maxTotalIdle: 256,
  maxWaiters: 1024,
  maxConcurrentDials: 4,
  idleTimeout: 30_000,
  maxLifetime: 600_000,
  connectTimeout: 10_000,
  acquireTimeout: 30_000,
  order: 'lifo',
  maxUses: Infinity,
  addressPolicy: Object.freeze({}),
});

const MAX_COUNT = 2 ** 31 - 1;
/** Longest finite time accepted (about 24.8 days), as for setTimeout. */
export const MAX_TIME = 2 ** 31 - 1;

/** Throws a TypeError for a bad value; may return the value to keep (a checked copy). */
type Rule = (key: string, value: unknown) => unknown;

const count =
  (min: number): Rule =>
  (key, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_COUNT) {
      throw new TypeError(`${key} must be an integer from ${min} to ${MAX_COUNT}, got ${describe(value)}`);
    }
  };

const time =
  ({ min, infinite }: { min: number; infinite: boolean }): Rule =>
  (key, value) => {
    if (typeof value === 'number' && value === Infinity && infinite) return;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_TIME) {
      const range = `a number of milliseconds from ${min} to ${MAX_TIME}${infinite ? ' or Infinity' : ''}`;
      throw new TypeError(`${key} must be ${range}, got ${describe(value)}`);
    }
  };

const RULES: Readonly<Record<keyof PoolOptions, Rule>> = {
  maxPerDestination: count(1),
  maxIdlePerDestination: count(0),
  maxTotal: count(1),
  maxTotalIdle: count(0),
  maxWaiters: count(0),
  maxConcurrentDials: count(1),
  idleTimeout: time({ min: 1, infinite: true }),
  maxLifetime: time({ min: 1, infinite: true }),
  connectTimeout: time({ min: 1, infinite: false }),
  acquireTimeout: time({ min: 0, infinite: true }),
  maxUses: (key, value) => {
    if (value === Infinity) return;
    count(1)(key, value);
  },
  order: (key, value) => {
    if (value !== 'lifo' && value !== 'fifo') {
      throw new TypeError(`${key} must be 'lifo' or 'fifo', got ${describe(value)}`);
    }
  },
  addressPolicy: (key, value) => resolveAddressPolicy(key, value),
};

/** Checks every key and fills in defaults; throws a TypeError naming the first bad key. */
export function resolveOptions(options: unknown): ResolvedPoolOptions {
  if (options === undefined) return { ...DEFAULTS };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`Pool options must be an object, got ${describe(options)}`);
  }
  const resolved: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of Object.entries(options)) {
    if (!Object.hasOwn(RULES, key)) {
      throw new TypeError(`unknown Pool option ${JSON.stringify(key)} (known: ${Object.keys(RULES).join(', ')})`);
    }
    if (value === undefined) continue;
    resolved[key] = RULES[key as keyof PoolOptions](key, value) ?? value;
  }
  return resolved as unknown as ResolvedPoolOptions;
}

/** A short description of a bad value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
