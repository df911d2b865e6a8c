/**
 * `berth-pool/generic-pool`: a drop-in for generic-pool v3 (`require('generic-pool')`), built on
 * berth's `ResourcePool`. Switch by changing the import:
 *
 * ```js
 * const genericPool = require('berth-pool/generic-pool'); // was require('generic-pool')
 * const pool = genericPool.createPool({ create, destroy, validate }, { max: 10, min: 2 });
 * ```
 *
 * It keeps generic-pool's options (their defaults and the way it parses them), methods,
 * properties, events and error messages, and its contract for failing creates: the acquire a
 * failed `factory.create` was for stays pending (bounded by `acquireTimeoutMillis`) while
 * creation is retried, each failure emitted as `factoryCreateError`. Deliberate differences
 * (see the README section "generic-pool drop-in"):
 * - those retries back off (10 ms, doubling to 10 s, reset by a success) instead of looping
 *   at once (generic-pool #175, #183), and once `drain()` is called a failed create rejects a
 *   queued acquire with the factory's error, so the pool drains;
 * - `testOnReturn` validates on release (generic-pool 3.9 parses it but never uses it);
 * - a `create` that throws synchronously is a failed create (generic-pool throws it out of
 *   `acquire()`); one that resolves `undefined` / `null` or a resource already in the pool
 *   rejects its acquire with a `TypeError` (a factory bug: not retried);
 * - a `validate` that throws, rejects or takes longer than 5 s (ResourcePool's
 *   `validateTimeout`) counts as invalid (generic-pool leaves the resource, and the acquire
 *   waiting for it, stuck); a freshly created resource is not validated;
 * - `clear()` takes the destroyed resources out of `available` (generic-pool keeps counting
 *   them, and can hand a destroyed resource out again);
 * - `use(fn)` accepts an `fn` that returns a plain value or throws synchronously;
 * - `ready()` also resolves when the `min` creates failed (generic-pool polls forever);
 *   a `min` create that fails is retried with backoff (generic-pool does not retry it).
 *
 * @module berth-pool/generic-pool
 */
import { BerthError } from '../shared/errors';
import { MAX_TIME } from '../shared/validate';
import { DefaultEvictor, Deque, PriorityQueue, priorityLevel } from './compat';
import { ResourcePool } from '../resource/pool';
import { TypedEmitter } from '../shared/typed-emitter';
import type { ResourcePoolOptions } from '../resource/options';
import type { ResourceLeakEvent, ResourceLeakResolvedEvent } from '../resource/leak';

export { DefaultEvictor, Deque, PriorityQueue } from './compat';
export type { EvictionConfig } from './compat';

/** What the pool calls to make, dispose of and check resources (generic-pool's factory). */
export interface Factory<T> {
  /**
   * Makes a resource; a rejection is emitted as `'factoryCreateError'` and the acquire waiting
   * for it keeps waiting while creation is retried with backoff (bounded by `acquireTimeoutMillis`).
   */
  create(): T | PromiseLike<T>;
  /** Disposes of a resource; a rejection is emitted as `'factoryDestroyError'`. */
  destroy(client: T): unknown;
  /** Health check for `testOnBorrow` / `testOnReturn`: resolves `false` (or throws) when the resource is unusable. */
  validate?(client: T): boolean | PromiseLike<boolean>;
}

/** generic-pool v3's options, with its defaults. */
export interface Options {
  /** Resources at most (idle + borrowed + being created). Default 1. */
  max?: number;
  /** Resources kept in existence; clamped to `max`. Default 0. */
  min?: number;
  /** Acquires allowed to queue once the pool is full; beyond it acquire rejects. Default unlimited. */
  maxWaitingClients?: number | null;
  /** Validate (`factory.validate`) before handing a resource out. Default false. */
  testOnBorrow?: boolean;
  /** Validate when a resource is released. Default false. */
  testOnReturn?: boolean;
  /** An acquire rejects with a `TimeoutError` after waiting this long (positive integer). Default no limit. */
  acquireTimeoutMillis?: number | null;
  /** A `factory.destroy` that takes longer emits `'factoryDestroyError'` ("destroy timed out"). Default no limit. */
  destroyTimeoutMillis?: number | null;
  /** Hand out the resource idle longest first (`true`, default) or the one released last (`false`). */
  fifo?: boolean;
  /** Priority levels of `acquire(priority)`: 0 (highest) to `priorityRange - 1`. Default 1. */
  priorityRange?: number;
  /** Start creating `min` resources at construction (default true); else at `start()` or the first acquire. */
  autostart?: boolean;
  /** How often idle resources are checked for eviction; 0 (default) never. */
  evictionRunIntervalMillis?: number;
  /** Idle resources checked per eviction run. Default 3. */
  numTestsPerEvictionRun?: number;
  /** Idle this long and more than `min` idle: evicted. Default -1 (never). */
  softIdleTimeoutMillis?: number;
  /** Idle this long: evicted (when eviction runs). Default 30000. */
  idleTimeoutMillis?: number;
  /** The Promise implementation of the promises the pool returns. Default the global Promise. */
  Promise?: PromiseConstructorLike;
  /**
   * berth's own, not generic-pool's: leak detection. A resource still borrowed this many ms
   * after it was handed out emits `'leak'` once (the resource, its age, the stack of the
   * `acquire()` call); its later release or destroy emits `'leakResolved'`. Default 0: off.
   * Validated as `ResourcePool`'s option (a `TypeError` naming it).
   */
  leakDetectionThreshold?: number;
}

/** The rejection of an acquire that waited `acquireTimeoutMillis` (as generic-pool's `TimeoutError`). */
export class TimeoutError extends Error {
  /** Always `'TimeoutError'`. */
  override readonly name = 'TimeoutError';
}

/** The options once parsed the way generic-pool's PoolOptions parses them. */
interface Config {
  fifo: boolean;
  priorityRange: number;
  testOnBorrow: boolean;
  testOnReturn: boolean;
  autostart: boolean;
  /** Set (maybe NaN or <= 0: then acquire throws, as in generic-pool) or undefined. */
  acquireTimeoutMillis: number | undefined;
  destroyTimeoutMillis: number | undefined;
  /** NaN (null, a non-number) compares false: unlimited, as in generic-pool. */
  maxWaitingClients: number | undefined;
  max: number;
  min: number;
  evictionRunIntervalMillis: number;
  numTestsPerEvictionRun: number;
  softIdleTimeoutMillis: number;
  idleTimeoutMillis: number;
  Promise: PromiseConstructorLike;
  /** As given: `ResourcePool` checks it. */
  leakDetectionThreshold: unknown;
}

const MAX_COUNT = 2 ** 31 - 1;

/** generic-pool's PoolOptions, line by line (including its `||` defaults and parseInt). */
function parseOptions(options: Options | undefined | null): Config {
  const o = (options || {}) as Record<string, unknown>;
  const int = (v: unknown) => parseInt(v as string, 10);
  let max = int(o['max']);
  max = Math.max(Number.isNaN(max) ? 1 : max, 1);
  let min = int(o['min']);
  min = Math.min(Number.isNaN(min) ? 0 : min, max);
  return {
    fifo: typeof o['fifo'] === 'boolean' ? o['fifo'] : true,
    priorityRange: Math.max(+((o['priorityRange'] as number) || 1) | 0, 1),
    testOnBorrow: typeof o['testOnBorrow'] === 'boolean' ? o['testOnBorrow'] : false,
    testOnReturn: typeof o['testOnReturn'] === 'boolean' ? o['testOnReturn'] : false,
    autostart: typeof o['autostart'] === 'boolean' ? o['autostart'] : true,
    acquireTimeoutMillis: o['acquireTimeoutMillis'] ? int(o['acquireTimeoutMillis']) : undefined,
    destroyTimeoutMillis: o['destroyTimeoutMillis'] ? int(o['destroyTimeoutMillis']) : undefined,
    maxWaitingClients: o['maxWaitingClients'] !== undefined ? int(o['maxWaitingClients']) : undefined,
    max,
    min,
    evictionRunIntervalMillis: Number(o['evictionRunIntervalMillis'] || 0),
    numTestsPerEvictionRun: Number(o['numTestsPerEvictionRun'] || 3),
    softIdleTimeoutMillis: Number(o['softIdleTimeoutMillis'] || -1),
    idleTimeoutMillis: Number(o['idleTimeoutMillis'] || 30000),
    Promise: o['Promise'] != null ? (o['Promise'] as PromiseConstructorLike) : Promise,
    leakDetectionThreshold: o['leakDetectionThreshold'],
  };
}

/** A time for ResourcePool: at least `floor` ms, `Infinity` beyond what a timer takes. */
function time(ms: number, floor: number): number {
  if (Number.isNaN(ms) || ms > MAX_TIME) return Infinity;
  return Math.max(Math.ceil(ms), floor);
}

/** generic-pool's factory check, with its messages. */
function checkFactory(factory: Factory<unknown>): void {
  if (typeof factory.create !== 'function') throw new TypeError('factory.create must be a function');
  if (typeof factory.destroy !== 'function') throw new TypeError('factory.destroy must be a function');
  if (typeof factory.validate !== 'undefined' && typeof factory.validate !== 'function') {
    throw new TypeError('factory.validate must be a function');
  }
}

/** Maps a ResourcePool rejection to generic-pool's. */
function translate(error: unknown): unknown {
  if (!(error instanceof BerthError)) return error;
  switch (error.code) {
    case 'ACQUIRE_TIMEOUT':
      return new TimeoutError('ResourceRequest timed out');
    // The factory's own error, as factoryCreateError had it.
    case 'CREATE_FAILED':
      return error.cause ?? error;
    case 'QUEUE_FULL':
      return new Error('max waitingClients count exceeded');
    case 'POOL_DRAINING':
    case 'POOL_CLOSED':
      return new Error(DRAINING);
    default:
      return error;
  }
}

/**
 * A ResourcePool whose acquires reject with generic-pool's errors, and whose acquires wait
 * while a failing create is retried (generic-pool's contract).
 */
class GenericResourcePool<T> extends ResourcePool<T> {
  protected override acquireError(error: BerthError): unknown {
    return translate(error);
  }

  protected override retryCreatesForWaiters(): boolean {
    return true;
  }
}

/** The first wait before creation is retried after a failed create (then doubling, to 10 s). */
const CREATE_RETRY_BACKOFF = 10;

const NOT_IN_POOL = 'Resource not currently part of this pool';
const DRAINING = 'pool is draining and cannot accept work';
const noop = () => {};
/** What release() and destroy() resolve with: one settled promise serves every call. */
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * generic-pool v3's `Pool`, on berth's ResourcePool. Make it with `createPool(factory, opts)`
 * (`new Pool(factory, opts)` and generic-pool's `new Pool(Evictor, Deque, PriorityQueue,
 * factory, opts)` work too; the three classes are ignored).
 */
export class Pool<T> extends TypedEmitter<PoolEvents<T>> {
  readonly #factory: Factory<T>;
  readonly #config: Config;
  readonly #pool: ResourcePool<T>;
  readonly #Promise: PromiseConstructorLike;
  #started = false;
  #draining = false;
  /**
   * `acquire()` at priority 0 needs no check of its own: started, not draining, no
   * `maxWaitingClients`, a valid (or no) `acquireTimeoutMillis`, the global Promise.
   */
  #plain = false;
  /** drain() has resolved: clear() may then close the ResourcePool (no refill of `min`). */
  #drained = false;
  /** clear() was called while drain() was pending: close the ResourcePool once it resolves. */
  #closeWhenDrained = false;
  /** Pending factory.create calls (settled, never rejecting), for clear(). */
  readonly #creates = new Set<Promise<void>>();
  /** Pending factory.destroy calls (settled, never rejecting), for clear(). */
  readonly #destroys = new Set<Promise<void>>();
  /** ready() calls made before the pool started. */
  #onStart: (() => void)[] = [];

  constructor(factory: Factory<T>, options?: Options);
  constructor(Evictor: unknown, DequeClass: unknown, PriorityQueueClass: unknown, factory: Factory<T>, options?: Options);
  constructor(...args: unknown[]) {
    super();
    // generic-pool's own signature starts with the Evictor class.
    const legacy = typeof args[0] === 'function';
    const factory = (legacy ? args[3] : args[0]) as Factory<T>;
    const options = (legacy ? args[4] : args[1]) as Options | undefined;
    checkFactory(factory);
    const config = parseOptions(options);
    this.#factory = factory;
    this.#config = config;
    this.#Promise = config.Promise;
    this.#pool = new GenericResourcePool<T>(this.#resourceOptions());
    // The ResourcePool checked it; its leak events are this pool's.
    const threshold = config.leakDetectionThreshold;
    if (typeof threshold === 'number' && threshold > 0) {
      this.#pool.on('leak', (event) => this.emit('leak', event));
      this.#pool.on('leakResolved', (event) => this.emit('leakResolved', event));
    }
    if (config.autostart) this.start();
  }

  /** The ResourcePool options that give generic-pool's behaviour. */
  #resourceOptions(): ResourcePoolOptions<T> {
    const c = this.#config;
    const factory = this.#factory;
    const validate = factory.validate === undefined ? undefined : (resource: T) => validateOnce(factory, resource);
    const options: ResourcePoolOptions<T> = {
      // create() is called with no argument (not the abort signal): factories written for
      // generic-pool may take optional parameters of their own.
      create: () => this.#create(),
      // The pool's place is freed at once and the destroy runs on its own, as in generic-pool.
      destroy: (resource) => this.#destroyResource(resource),
      validate,
      min: Math.min(Math.max(c.min, 0), MAX_COUNT),
      max: Math.min(c.max, MAX_COUNT),
      // generic-pool's own acquireTimeoutMillis check is in acquire().
      acquireTimeout: c.acquireTimeoutMillis !== undefined && c.acquireTimeoutMillis > 0 ? time(c.acquireTimeoutMillis, 1) : Infinity,
      createTimeout: Infinity,
      destroyTimeout: Infinity,
      // One try per create; after a failure the engine retries for the waiters on this backoff.
      createRetry: { attempts: 1, backoff: CREATE_RETRY_BACKOFF },
      // maxWaitingClients is checked in acquire(), the way generic-pool counts it.
      maxWaiters: Infinity,
      order: c.fifo ? 'fifo' : 'lifo',
      // autostart is done here (start()), to keep generic-pool's start/drain rules.
      autostart: false,
      testOnAcquire: c.testOnBorrow && validate !== undefined,
      testOnRelease: c.testOnReturn && validate !== undefined,
    };
    if (c.leakDetectionThreshold !== undefined) options.leakDetectionThreshold = c.leakDetectionThreshold as number;
    const tests = Math.ceil(c.numTestsPerEvictionRun);
    if (c.evictionRunIntervalMillis > 0 && tests > 0) {
      options.evictionInterval = time(c.evictionRunIntervalMillis, 1);
      if (options.evictionInterval === Infinity) options.evictionInterval = MAX_TIME;
      options.testsPerEviction = Math.min(tests, MAX_COUNT);
      options.idleTimeout = time(c.idleTimeoutMillis, 1);
      options.softIdleTimeout = c.softIdleTimeoutMillis > 0 ? time(c.softIdleTimeoutMillis, 1) : Infinity;
    } else {
      // No evictor: nothing idle is ever evicted.
      options.idleTimeout = Infinity;
      options.softIdleTimeout = Infinity;
    }
    return options;
  }

  /** Calls factory.create; a failure is emitted as 'factoryCreateError' (and creation retried for the waiting acquires). */
  #create(): Promise<T> {
    let created: Promise<T>;
    try {
      created = Promise.resolve(this.#factory.create());
    } catch (error) {
      created = Promise.reject(error);
    }
    const settled = created.then(noop, (error: unknown) => {
      this.emit('factoryCreateError', error);
    });
    this.#creates.add(settled);
    // A listener that throws surfaces as an unhandled rejection, as in generic-pool.
    void settled.then(
      () => this.#creates.delete(settled),
      (error: unknown) => {
        this.#creates.delete(settled);
        throw error;
      },
    );
    return created;
  }

  /** Runs factory.destroy (bounded by destroyTimeoutMillis) on its own; failures are emitted. */
  #destroyResource(resource: T): void {
    let destroyed: Promise<unknown>;
    try {
      destroyed = Promise.resolve(this.#factory.destroy(resource));
    } catch (error) {
      destroyed = Promise.reject(error);
    }
    const limit = this.#config.destroyTimeoutMillis;
    let timer: NodeJS.Timeout | undefined;
    if (limit) {
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('destroy timed out')), Math.min(Math.max(limit, 1), MAX_TIME));
        timer.unref();
      });
      destroyed = Promise.race([destroyed, expired]);
    }
    const settled = destroyed.then(noop, (error: unknown) => {
      this.emit('factoryDestroyError', error);
    });
    this.#destroys.add(settled);
    void settled.then(
      () => {
        clearTimeout(timer);
        this.#destroys.delete(settled);
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.#destroys.delete(settled);
        throw error;
      },
    );
  }

  /** A promise of the configured implementation. */
  #wrap<R>(promise: Promise<R>): Promise<R> {
    const P = this.#Promise;
    return P === Promise ? promise : (P as PromiseConstructor).resolve(promise);
  }

  #reject<R>(message: string): Promise<R> {
    return this.#wrap(Promise.reject(new Error(message)));
  }

  // ---- lifecycle ------------------------------------------------------------------------

  /** Starts creating `min` resources (done at construction unless `autostart: false`). */
  start(): void {
    if (this.#draining || this.#started) return;
    this.#started = true;
    this.#updatePlain();
    this.#pool.start();
    const waiting = this.#onStart;
    this.#onStart = [];
    for (const resolve of waiting) resolve();
  }

  /** Resolves once the pool has started and its first `min` creates have settled. */
  ready(): Promise<void> {
    if (this.#started || this.#config.min <= 0) return this.#wrap(this.#pool.ready());
    const started = new Promise<void>((resolve) => this.#onStart.push(resolve));
    return this.#wrap(started.then(() => this.#pool.ready()));
  }

  // ---- borrowing ------------------------------------------------------------------------

  /**
   * Borrows a resource. `priority`: 0 (the default) is the highest, up to `priorityRange - 1`;
   * out of range is the lowest. Rejects when the pool is draining, when `maxWaitingClients`
   * acquires already wait for a full pool, or after `acquireTimeoutMillis` (`TimeoutError`).
   * While `factory.create` fails it waits (creation is retried with backoff); once `drain()`
   * is called, a failed create rejects it with the factory's error.
   */
  acquire(priority?: number): Promise<T> {
    if (this.#plain && !priority) return this.#pool.acquire();
    if (!this.#started && !this.#config.autostart) this.start();
    if (this.#draining) return this.#reject(DRAINING);
    const pool = this.#pool;
    const maxWaiting = this.#config.maxWaitingClients;
    if (maxWaiting !== undefined && pool.pending >= maxWaiting && pool.available < 1 && pool.spareResourceCapacity < 1) {
      return this.#reject('max waitingClients count exceeded');
    }
    const timeout = this.#config.acquireTimeoutMillis;
    // generic-pool throws this (synchronously) for a timeout that is not a positive integer.
    if (timeout !== undefined && !(timeout > 0)) throw new Error('delay must be a positive int');
    // generic-pool's level 0 (highest) .. range - 1 as ResourcePool's "higher first": 0 .. -(range - 1).
    const level = priorityLevel(priority, this.#config.priorityRange);
    // Rejections are generic-pool's already (GenericResourcePool): no promise added here.
    return this.#wrap(level === 0 ? pool.acquire() : pool.acquire({ priority: -level }));
  }

  #updatePlain(): void {
    const c = this.#config;
    const timeout = c.acquireTimeoutMillis;
    this.#plain =
      this.#started &&
      !this.#draining &&
      (c.maxWaitingClients === undefined || Number.isNaN(c.maxWaitingClients)) &&
      (timeout === undefined || timeout > 0) &&
      this.#Promise === Promise;
  }

  /** Gives a borrowed resource back. Resolves at once; rejects when `resource` is not borrowed from this pool. */
  release(resource: T): Promise<void> {
    try {
      this.#pool.release(resource);
    } catch {
      // NOT_BORROWED (release() checks before it changes anything).
      return this.#reject(NOT_IN_POOL);
    }
    return this.#Promise === Promise ? RESOLVED : this.#wrap(RESOLVED);
  }

  /**
   * Destroys a borrowed resource instead of giving it back. Resolves at once (factory.destroy
   * runs on its own); rejects when `resource` is not borrowed from this pool.
   */
  destroy(resource: T): Promise<void> {
    if (!this.#pool.isBorrowed(resource)) return this.#reject(NOT_IN_POOL);
    this.#pool.destroy(resource).catch(noop);
    return this.#wrap(Promise.resolve());
  }

  /** Acquires, runs `fn`, then releases the resource (or destroys it when `fn` fails); resolves to `fn`'s result. */
  use<U>(fn: (resource: T) => U | PromiseLike<U>, priority?: number): Promise<U> {
    return this.acquire(priority).then((resource) => {
      let result: Promise<U>;
      try {
        result = Promise.resolve(fn(resource));
      } catch (error) {
        result = Promise.reject(error);
      }
      return result.then(
        (value) => {
          if (this.#pool.isBorrowed(resource)) this.#pool.release(resource);
          return value;
        },
        (error: unknown) => {
          if (this.#pool.isBorrowed(resource)) this.#pool.destroy(resource).catch(noop);
          throw error;
        },
      );
    });
  }

  /** True while `resource` is lent out by this pool. */
  isBorrowedResource(resource: T): boolean {
    return this.#pool.isBorrowed(resource);
  }

  /**
   * Refuses new acquires from now on, serves the ones already queued, and resolves once every
   * borrowed resource is back. Idle resources stay until `clear()`.
   */
  drain(): Promise<void> {
    this.#draining = true;
    this.#updatePlain();
    return this.#wrap(
      this.#pool.drainWithoutClose().then(() => {
        this.#drained = true;
        if (this.#closeWhenDrained) void this.#pool.close();
      }),
    );
  }

  /**
   * Waits for the creates in flight, destroys every idle resource, and resolves once all the
   * pool's destroys have finished. Without `drain()` first, `min` is then refilled.
   */
  clear(): Promise<void> {
    const run = async () => {
      await Promise.all(this.#creates);
      if (this.#drained) {
        // Drained and cleared: the ResourcePool is closed, nothing stays and nothing is made
        // again (a draining ResourcePool would still refill `min`).
        await this.#pool.close();
      } else {
        // Cleared during a drain: the same once the drain is over.
        if (this.#draining) this.#closeWhenDrained = true;
        await this.#pool.clear();
      }
      await Promise.all(this.#destroys);
    };
    return this.#wrap(run());
  }

  // ---- gauges ---------------------------------------------------------------------------

  /** How many more resources the pool could create: `max - size`. */
  get spareResourceCapacity(): number {
    return this.#config.max - this.#pool.size;
  }

  /** Resources that exist or are being created (not those being destroyed). */
  get size(): number {
    return this.#pool.size;
  }

  /** Idle resources. */
  get available(): number {
    return this.#pool.available;
  }

  /** Resources lent out now. */
  get borrowed(): number {
    return this.#pool.borrowed;
  }

  /** Acquires waiting for a resource. */
  get pending(): number {
    return this.#pool.pending;
  }

  /** The configured maximum. */
  get max(): number {
    return this.#config.max;
  }

  /** The configured minimum (as generic-pool parsed it). */
  get min(): number {
    return this.#config.min;
  }

  /**
   * generic-pool's private field, for code (and its test suite) that reads it: non-null (the
   * eviction interval, ms) while the evictor runs (from `start()` with
   * `evictionRunIntervalMillis` > 0 until `drain()` and `clear()` closed the pool), else null.
   */
  get _scheduledEviction(): number | null {
    const interval = this.#config.evictionRunIntervalMillis;
    return this.#started && interval > 0 && !this.#pool.closed ? interval : null;
  }
}

/** generic-pool's events. */
export interface PoolEvents<T = unknown> {
  /** A `factory.create` rejected (the acquire it was for keeps waiting while creation is retried). */
  factoryCreateError: [error: unknown];
  /** A `factory.destroy` rejected or timed out (`destroyTimeoutMillis`). */
  factoryDestroyError: [error: unknown];
  /** berth's own: a resource has been borrowed longer than `leakDetectionThreshold` (once per borrow). */
  leak: [event: ResourceLeakEvent<T>];
  /** berth's own: a resource reported by `'leak'` came back (released or destroyed). */
  leakResolved: [event: ResourceLeakResolvedEvent<T>];
}

/** generic-pool counts only `false` as invalid; berth also a throw or a rejection. */
async function validateOnce<T>(factory: Factory<T>, resource: T): Promise<boolean> {
  return (await factory.validate!(resource)) !== false;
}

/** Makes a pool: generic-pool's `createPool(factory, opts)`. */
export function createPool<T>(factory: Factory<T>, opts?: Options): Pool<T> {
  return new Pool<T>(factory, opts);
}

/** The module object, shaped like generic-pool's (`import genericPool from 'berth-pool/generic-pool'`). */
const genericPool = {
  /** The {@link Pool} class. */
  Pool,
  /** The {@link Deque} class. */
  Deque,
  /** The {@link PriorityQueue} class. */
  PriorityQueue,
  /** The {@link DefaultEvictor} class. */
  DefaultEvictor,
  /** The {@link createPool} function. */
  createPool,
};
export default genericPool;
