/** ResourcePool configuration: the public options, their defaults, and their validation. */
import { checkMetricsName } from '../shared/metrics/options';
import { checkCount, checkFlag, checkFunction, checkKnownKeys, checkObject, checkOneOf, checkTime } from '../shared/validate';

/** Options of `new ResourcePool(options)`. Times are in milliseconds. */
export interface ResourcePoolOptions<T> {
  /**
   * Makes a resource. `signal` aborts when the create takes longer than `createTimeout` or the
   * pool closes; a resource that arrives after that is destroyed at once. Resolving
   * `undefined` or `null` fails the create (`CREATE_FAILED` with a `TypeError` as `cause`).
   */
  create: (signal: AbortSignal) => T | Promise<T>;
  /** Disposes of a resource (close the client). Errors go to the `'destroyError'` event. */
  destroy: (resource: T) => void | Promise<void>;
  /** Health check for `testOnAcquire` / `testOnRelease`: `false` or a throw means unhealthy (destroyed). */
  validate?: (resource: T) => boolean | Promise<boolean>;
  /** Resources kept in existence, re-created in the background (with backoff after failures). Default 0. */
  min?: number;
  /** Resources at most (idle + borrowed + being created). Default 10. */
  max?: number;
  /** An acquire rejects with `ACQUIRE_TIMEOUT` after waiting this long. Default 30000; `Infinity` disables. */
  acquireTimeout?: number;
  /** A create that takes longer fails with `CREATE_TIMEOUT` (its signal aborts). Default 30000; `Infinity` disables. */
  createTimeout?: number;
  /**
   * A `validate` that takes longer counts as failed: the resource is destroyed (a
   * `'validateError'` with a `VALIDATE_TIMEOUT` BerthError is emitted) and the next one tried;
   * its late answer is ignored. Default 5000; `Infinity` waits (`close()` still settles: it
   * stops waiting for validations in flight).
   */
  validateTimeout?: number;
  /** A destroy that takes longer is given up on (its place is freed; a `'destroyError'` is emitted). Default 5000; `Infinity` waits. */
  destroyTimeout?: number;
  /** An idle resource is destroyed after this long unused, even below `min` (which is then refilled). Default 30000; `Infinity` disables. */
  idleTimeout?: number;
  /** An idle resource is destroyed after this long unused if more than `min` resources exist. Default `Infinity`. */
  softIdleTimeout?: number;
  /** A resource is retired after this long (less up to 2.5% jitter), when next idle. Default `Infinity`. */
  maxLifetime?: number;
  /** How often idle resources are checked for the timeouts above. Default 1000. */
  evictionInterval?: number;
  /** Idle resources examined per check, oldest first. Default `Infinity` (all). */
  testsPerEviction?: number;
  /** Validate a resource before handing it out (one just created is not validated). Default false. */
  testOnAcquire?: boolean;
  /** Validate a resource when it is released. Default false. */
  testOnRelease?: boolean;
  /** Acquires allowed to queue; beyond it `QUEUE_FULL`. Default 1024; `Infinity` allowed. */
  maxWaiters?: number;
  /** Which idle resource is handed out first: most recently released (`'lifo'`, default) or least (`'fifo'`). */
  order?: 'lifo' | 'fifo';
  /** Tries per create before it fails (`attempts`, default 1), waiting `backoff` ms (default 100, doubling) between tries. */
  createRetry?: {
    /** Tries per create, at least 1. Default 1. */
    attempts?: number;
    /** Milliseconds to wait before the second try, doubling after each further failure. Default 100. */
    backoff?: number;
  };
  /** Start creating `min` resources at construction (default true); otherwise at `start()` or the first acquire. */
  autostart?: boolean;
  /**
   * The pool's name: the `pool` label of its metrics (`resourcePool.metrics()`, the module's
   * `metrics()`, `berth-pool/prometheus`). Unique among open pools: a name in use is a
   * TypeError (a closed pool frees its name). Default `resource-1`, `resource-2`, … in
   * creation order.
   */
  name?: string;
  /**
   * Leak detection: a resource still borrowed this many milliseconds after it was handed out
   * emits `leak` on the pool once, with the resource, its age and the stack of the `acquire()`
   * call that borrowed it; its later release or destroy emits `leakResolved`. Default 0: off
   * (no stack is captured and no timer started). Set it above the longest a borrow may rightly last.
   */
  leakDetectionThreshold?: number;
}

export interface ResolvedResourceOptions<T> {
  create: (signal: AbortSignal) => T | Promise<T>;
  destroy: (resource: T) => void | Promise<void>;
  validate: ((resource: T) => boolean | Promise<boolean>) | undefined;
  min: number;
  max: number;
  acquireTimeout: number;
  createTimeout: number;
  destroyTimeout: number;
  validateTimeout: number;
  idleTimeout: number;
  softIdleTimeout: number;
  maxLifetime: number;
  evictionInterval: number;
  testsPerEviction: number;
  testOnAcquire: boolean;
  testOnRelease: boolean;
  maxWaiters: number;
  order: 'lifo' | 'fifo';
  createAttempts: number;
  createBackoff: number;
  autostart: boolean;
  name: string | undefined;
  leakDetectionThreshold: number;
}

/**
 * The defaults of {@link ResourcePoolOptions}, frozen (times in milliseconds).
 *
 * Written out as literals because the public type carries them (`RESOURCE_DEFAULTS.max` is
 * `10`); the keys the engine owns equal ResourceConfig::default() in crates/berth-core,
 * which `__test__/contract.test.mjs` checks.
 */
export const RESOURCE_DEFAULTS = Object.freeze({
  /** Default of `min`: resources kept in existence. */
  min: 0,
  /** Default of `max`: resources at most (idle + borrowed + being created). */
  max: 10,
  /** Default of `acquireTimeout`, in ms. */
  acquireTimeout: 30_000,
  /** Default of `createTimeout`, in ms. */
  createTimeout: 30_000,
  /** Default of `destroyTimeout`, in ms. */
  destroyTimeout: 5_000,
  /** Default of `validateTimeout`, in ms. */
  validateTimeout: 5_000,
  /** Default of `idleTimeout`, in ms. */
  idleTimeout: 30_000,
  /** Default of `softIdleTimeout`, in ms (`Infinity`: never). */
  softIdleTimeout: Infinity,
  /** Default of `maxLifetime`, in ms (`Infinity`: no limit). */
  maxLifetime: Infinity,
  /** Default of `evictionInterval`, in ms. */
  evictionInterval: 1_000,
  /** Default of `testsPerEviction` (`Infinity`: every idle resource). */
  testsPerEviction: Infinity,
  /** Default of `testOnAcquire`. */
  testOnAcquire: false,
  /** Default of `testOnRelease`. */
  testOnRelease: false,
  /** Default of `maxWaiters`: acquires allowed to queue. */
  maxWaiters: 1024,
  /** Default of `order`: the most recently released idle resource first. */
  order: 'lifo' as 'lifo' | 'fifo',
  /** Default of `createRetry.attempts`: tries per create. */
  createAttempts: 1,
  /** Default of `createRetry.backoff`, in ms: the first wait between tries (doubling). */
  createBackoff: 100,
  /** Default of `autostart`. */
  autostart: true,
  /** Default of `leakDetectionThreshold`, in ms (0: off). */
  leakDetectionThreshold: 0,
});

/** Engine counts are u32: the largest finite count it takes (`Infinity` maps to it). */
export const MAX_ENGINE_COUNT = 2 ** 32 - 1;
const KEYS: readonly string[] = [
  'create',
  'destroy',
  'validate',
  'min',
  'max',
  'acquireTimeout',
  'createTimeout',
  'destroyTimeout',
  'validateTimeout',
  'idleTimeout',
  'softIdleTimeout',
  'maxLifetime',
  'evictionInterval',
  'testsPerEviction',
  'testOnAcquire',
  'testOnRelease',
  'maxWaiters',
  'order',
  'createRetry',
  'autostart',
  'name',
  'leakDetectionThreshold',
];

/** A time of at least 1 ms, or `Infinity` (never). */
const TIME_OR_NEVER = { min: 1, infinite: true } as const;

/** Checks every key and fills in defaults; throws a TypeError naming the first bad key. */
export function resolveResourceOptions<T>(options: unknown): ResolvedResourceOptions<T> {
  checkObject('ResourcePool options', options, 'an object with create and destroy functions');
  checkKnownKeys('ResourcePool', options as object, KEYS);
  const o = options as ResourcePoolOptions<T>;
  const d = RESOURCE_DEFAULTS;
  const retry: unknown = o.createRetry;
  const r: { attempts?: unknown; backoff?: unknown } = retry === undefined ? {} : checkObject('createRetry', retry, 'an object { attempts, backoff }');
  checkKnownKeys('createRetry', r, ['attempts', 'backoff']);
  const resolved: ResolvedResourceOptions<T> = {
    create: checkFunction<ResolvedResourceOptions<T>['create']>('create', o.create, true)!,
    destroy: checkFunction<ResolvedResourceOptions<T>['destroy']>('destroy', o.destroy, true)!,
    validate: checkFunction<NonNullable<ResolvedResourceOptions<T>['validate']>>('validate', o.validate, false),
    min: checkCount('min', o.min, { min: 0 }, d.min),
    max: checkCount('max', o.max, { min: 1 }, d.max),
    acquireTimeout: checkTime('acquireTimeout', o.acquireTimeout, { min: 0, infinite: true }, d.acquireTimeout),
    createTimeout: checkTime('createTimeout', o.createTimeout, TIME_OR_NEVER, d.createTimeout),
    destroyTimeout: checkTime('destroyTimeout', o.destroyTimeout, TIME_OR_NEVER, d.destroyTimeout),
    validateTimeout: checkTime('validateTimeout', o.validateTimeout, TIME_OR_NEVER, d.validateTimeout),
    idleTimeout: checkTime('idleTimeout', o.idleTimeout, TIME_OR_NEVER, d.idleTimeout),
    softIdleTimeout: checkTime('softIdleTimeout', o.softIdleTimeout, TIME_OR_NEVER, d.softIdleTimeout),
    maxLifetime: checkTime('maxLifetime', o.maxLifetime, TIME_OR_NEVER, d.maxLifetime),
    evictionInterval: checkTime('evictionInterval', o.evictionInterval, { min: 1 }, d.evictionInterval),
    testsPerEviction: checkCount('testsPerEviction', o.testsPerEviction, { min: 1, infinite: true }, d.testsPerEviction),
    testOnAcquire: checkFlag('testOnAcquire', o.testOnAcquire, d.testOnAcquire),
    testOnRelease: checkFlag('testOnRelease', o.testOnRelease, d.testOnRelease),
    maxWaiters: checkCount('maxWaiters', o.maxWaiters, { min: 0, infinite: true }, d.maxWaiters),
    order: checkOneOf('order', o.order, ['lifo', 'fifo'], d.order),
    createAttempts: checkCount('createRetry.attempts', r.attempts, { min: 1 }, d.createAttempts),
    createBackoff: checkTime('createRetry.backoff', r.backoff, { min: 0 }, d.createBackoff),
    autostart: checkFlag('autostart', o.autostart, d.autostart),
    name: o.name === undefined ? undefined : checkMetricsName('name', o.name),
    leakDetectionThreshold: checkTime('leakDetectionThreshold', o.leakDetectionThreshold, { min: 0 }, d.leakDetectionThreshold),
  };
  if (resolved.min > resolved.max) throw new TypeError(`min (${resolved.min}) must not exceed max (${resolved.max})`);
  if ((resolved.testOnAcquire || resolved.testOnRelease) && resolved.validate === undefined) {
    throw new TypeError(`${resolved.testOnAcquire ? 'testOnAcquire' : 'testOnRelease'} needs a validate function`);
  }
  return resolved;
}
