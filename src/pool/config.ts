/** Pool configuration: the public options, their defaults, and their validation. */
import { resolveAddressPolicy, type AddressPolicy } from '../shared/address-policy';
import { engineDefaults } from '../shared/native';
import { checkCount, checkKnownKeys, checkObject, checkOneOf, checkTime } from '../shared/validate';
import { checkConnectOptions, type ConnectOptions } from './connect-options';
import { checkMetricsName } from '../shared/metrics/options';

/**
 * Options of `new Pool(options)`. Every key is optional; times are in milliseconds. `tls`,
 * `handshake` and `check` apply to every acquire that does not give its own.
 */
export interface PoolOptions extends ConnectOptions {
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
  /**
   * A new connection's handshake (`handshake`, then TLS) fails with `HANDSHAKE_TIMEOUT` after
   * this long, and the connection is closed. Default 10000.
   */
  handshakeTimeout?: number;
  /** A reuse `check` that has not answered after this long counts as failed. Default 5000. */
  checkTimeout?: number;
  /**
   * TLS sessions kept for resumption, one per destination and TLS identity (like undici's
   * `maxCachedSessions`); 0 turns resumption off. Default 100.
   */
  maxCachedSessions?: number;
  /**
   * The pool's name: the `pool` label of its metrics (`pool.metrics()`, the module's
   * `metrics()`, `berth-pool/prometheus`). Unique among open pools: a name in use is a
   * TypeError (a closed pool frees its name). Default `pool-1`, `pool-2`, … in creation order.
   */
  name?: string;
  /**
   * Destinations that get their own `destination` label in the metrics; the rest fold into
   * `destination="other"` (their values summed), so that metrics stay bounded when
   * destinations come from clients. Default 100.
   */
  metricsMaxDestinations?: number;
  /**
   * Leak detection: a lease still out this many milliseconds after it was handed out emits
   * `leak` on the pool once, with its destination, age and the stack of the `acquire()` call
   * that took it; its later release or destroy emits `leakResolved`. Default 0: off (no stack
   * is captured and no timer started). Set it above the longest a lease may rightly be held.
   */
  leakDetectionThreshold?: number;
}

/**
 * {@link PoolOptions} with every limit and time present (the type of {@link DEFAULTS}); the
 * connect options as given.
 */
export type ResolvedPoolOptions = Required<Omit<PoolOptions, keyof ConnectOptions | 'name'>> & ConnectOptions & Pick<PoolOptions, 'name'>;

/** The engine's defaults (PoolConfig::default() in crates/berth-core), declared there once. */
const engine = engineDefaults();

/**
 * The defaults of {@link PoolOptions}, frozen: the engine's own (times in milliseconds), as
 * each option's doc comment gives them.
 */
export const DEFAULTS: Readonly<ResolvedPoolOptions> = Object.freeze({
  maxPerDestination: engine.maxPerDestination,
  maxIdlePerDestination: engine.maxIdlePerDestination,
  maxTotal: engine.maxTotal,
  maxTotalIdle: engine.maxTotalIdle,
  maxWaiters: engine.maxWaiters,
  maxConcurrentDials: engine.maxConcurrentDials,
  idleTimeout: engine.idleTimeout,
  maxLifetime: engine.maxLifetime,
  connectTimeout: engine.connectTimeout,
  acquireTimeout: engine.acquireTimeout,
  order: engine.order === 'fifo' ? 'fifo' : 'lifo',
  maxUses: engine.maxUses,
  addressPolicy: Object.freeze({}),
  handshakeTimeout: 10_000,
  checkTimeout: 5_000,
  maxCachedSessions: 100,
  metricsMaxDestinations: 100,
  leakDetectionThreshold: 0,
});

/** Throws a TypeError for a bad value; may return the value to keep (a checked copy). */
type Rule = (key: string, value: unknown) => unknown;

const count =
  (min: number, infinite = false): Rule =>
  (key, value) =>
    checkCount(key, value, { min, infinite });

const time =
  (min: number, infinite: boolean): Rule =>
  (key, value) =>
    checkTime(key, value, { min, infinite });

/** A connect option: checked with the others (see connect-options). */
const connect: Rule = (key, value) => {
  checkConnectOptions({ [key]: value }, 'Pool option');
  return value;
};

const RULES: Readonly<Record<keyof PoolOptions, Rule>> = {
  maxPerDestination: count(1),
  maxIdlePerDestination: count(0),
  maxTotal: count(1),
  maxTotalIdle: count(0),
  maxWaiters: count(0),
  maxConcurrentDials: count(1),
  idleTimeout: time(1, true),
  maxLifetime: time(1, true),
  connectTimeout: time(1, false),
  acquireTimeout: time(0, true),
  maxUses: count(1, true),
  order: (key, value) => checkOneOf(key, value, ['lifo', 'fifo']),
  addressPolicy: (key, value) => resolveAddressPolicy(key, value),
  handshakeTimeout: time(1, false),
  checkTimeout: time(1, false),
  maxCachedSessions: count(0),
  name: (key, value) => checkMetricsName(key, value),
  metricsMaxDestinations: count(0),
  leakDetectionThreshold: time(0, false),
  tls: connect,
  handshake: connect,
  check: connect,
};

/** Checks every key and fills in defaults; throws a TypeError naming the first bad key. */
export function resolveOptions(options: unknown): ResolvedPoolOptions {
  if (options === undefined) return { ...DEFAULTS };
  const given = checkObject('Pool options', options);
  checkKnownKeys('Pool', given, Object.keys(RULES));
  const resolved: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    resolved[key] = RULES[key as keyof PoolOptions](key, value) ?? value;
  }
  return resolved as unknown as ResolvedPoolOptions;
}
