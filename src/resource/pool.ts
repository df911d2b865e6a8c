/**
 * `ResourcePool`: berth's engine for arbitrary resources (database clients, channels, ...).
 * The engine decides who gets which resource (limits, idle order, waiters by priority,
 * acquire deadlines, idle and lifetime eviction, keeping `min`); this class holds the
 * resources themselves, by the engine's slot ids, and runs the factory's functions.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { checkAcquireOptions, type AcquireOptions } from '../shared/acquire-options';
import { setAwaiting } from '../shared/awaited';
import { MAX_TIME } from '../shared/validate';
import { BerthError } from '../shared/errors';
// Straight from the modules (not the index): the hot path reads these as plain properties.
import {
  BAD_ARGUMENT,
  CLOSED,
  EXPIRED_BASE,
  KEY_BASE,
  PLACED_CLOSE,
  PLACED_IDLE,
  QUEUE_FULL,
  QUEUED,
  RES_EVENT_CREATE,
  RES_EVENT_EVICT,
  RES_EVENT_WAITER_TIMED_OUT,
} from '../shared/native/contract';
import {
  ResourceEngine,
  resAcquire,
  resCreateSlot,
  resRelease,
  resGauges,
  gauge,
  GAUGE_IDLE,
  GAUGE_SIZE,
  type ResourceEngineEvent,
} from '../shared/native/resource-engine';
import { ResourceLease } from './lease';
import { LIFETIME, ResourceObserver, UNHEALTHY, type ResourceCapReachedEvent, type ResourceEvictedEvent } from './observe';
import { MAX_ENGINE_COUNT, resolveResourceOptions, type ResolvedResourceOptions, type ResourcePoolOptions } from './options';
import { toResourceStats, type ResourcePoolStats } from './stats';
import { resourceFamilies } from './metrics';
import { registerPool, unregisterPool } from '../shared/metrics/registry';
import { render } from '../shared/metrics/render';
import type { Family } from '../shared/metrics/model';
import { TypedEmitter } from '../shared/typed-emitter';
import { Lifecycle, Phase, type DrainOptions } from '../shared/lifecycle';
import { WaiterTable } from '../shared/waiter-table';
import { acquireWatched, resourceLeakWatch, type ResourceLeakEvent, type ResourceLeakResolvedEvent, type ResourceLeakWatch } from './leak';

/** Options of one `acquire`: `signal`, `timeout` (ms or `Infinity`), `priority` (higher first). */
export type ResourceAcquireOptions = AcquireOptions;

/** Options of `ResourcePool.drain()`: `timeout` (ms), as for `Pool.drain()`. */
export type ResourceDrainOptions = DrainOptions;

/** The pool's events and their arguments. */
export interface ResourcePoolEvents<T> {
  /** A `create` failed (each failed try, retries included). */
  createError: [error: unknown];
  /** A `destroy` failed or timed out. */
  destroyError: [error: unknown, resource: T];
  /** A `validate` threw, rejected or outlived `validateTimeout` (`VALIDATE_TIMEOUT`): the resource counts as unhealthy and is destroyed. */
  validateError: [error: unknown, resource: T];
  /** An acquire waits because `max` resources exist, or was refused because `maxWaiters` wait (at most once a second per cap). */
  capReached: [event: ResourceCapReachedEvent];
  /** The pool destroyed a resource itself: idle timeout, max lifetime, or a failed validation (`'unhealthy'`). */
  evicted: [event: ResourceEvictedEvent];
  /** A resource has been borrowed longer than `leakDetectionThreshold` (once per borrow; only while the option is set). */
  leak: [event: ResourceLeakEvent<T>];
  /** A resource reported by `leak` came back (released or destroyed). */
  leakResolved: [event: ResourceLeakResolvedEvent<T>];
}

/** What the facade knows of a slot. */
const enum Slot {
  /** No resource (being created, destroyed, or unused id). */
  None,
  Idle,
  Borrowed,
  /** Being validated (on acquire or on release): nobody may take it. */
  Checking,
}

interface Waiter<T> {
  resolve(resource: T): void;
  reject(error: unknown): void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  readonly priority: number;
  /** ms, or NaN for the pool's acquireTimeout. */
  readonly timeout: number;
  /** Settled (served, rejected, aborted): a late hand-off goes back to the pool. */
  done: boolean;
  /** Its token while queued in the engine, else -1. */
  token: number;
}

/** NaN: "the pool's own acquire timeout" for the engine. */
const POOL_TIMEOUT = NaN;

export class ResourcePool<T> extends TypedEmitter<ResourcePoolEvents<T>> implements AsyncDisposable {
  readonly #o: ResolvedResourceOptions<T>;
  /** `#o`'s flags that the hot path reads, as own fields (one load instead of two). */
  readonly #testOnAcquire: boolean;
  readonly #testOnRelease: boolean;
  readonly #engine: ResourceEngine;
  readonly #handle: number;
  /** `capReached` and `evicted` (observe.ts). */
  readonly #obs: ResourceObserver;
  readonly #keyBase: number;
  /** Resources by slot id (ids are small and reused). */
  readonly #resources: (T | undefined)[] = [];
  readonly #slotState: Slot[] = [];
  /** Slot of every resource that exists, idle or out. */
  readonly #slotOf = new Map<T, number>();
  readonly #waiters = new WaiterTable<Waiter<T>>();
  readonly #life = new Lifecycle({
    isDrained: () => this.#borrowed === 0 && this.#checking === 0 && this.#waiters.size === 0,
    describeOutstanding: () => `${this.#borrowed + this.#checking} resources still borrowed and ${this.#waiters.size} acquires queued`,
    onDraining: () => {
      this.#updateFast();
      // Nothing new will be borrowed: no more background creates for `min`.
      this.#engine.stopRefill();
    },
    startClose: () => this.#startClose(),
  });
  /** Whether `min` maintenance has started (autostart, `start()` or the first acquire). */
  #started = false;
  /** The fast path applies: open, started, no validation on acquire. */
  #fast = false;
  #borrowed = 0;
  /** Validations in flight (on acquire or release): resources neither idle nor lent. */
  #checking = 0;
  #creating = 0;
  #destroying = 0;
  #validationFailures = 0;
  #refed = false;
  readonly #createAborts = new Set<AbortController>();
  /** Ends the create retry backoffs that close() must not wait out. */
  readonly #closing = new AbortController();
  /** Validations in flight: close() makes each count as failed at once. */
  readonly #validating = new Set<() => void>();
  /** A failed create leaves waiters queued and is retried with backoff (`berth/generic-pool`). */
  readonly #retryForWaiters: boolean;
  #ready: Promise<void> | undefined;
  /** The `pool` label of this pool's metrics: `name` as given, or `resource-<n>` in creation order. */
  readonly name: string;
  /** Builds this pool's metric families for the process-wide registry (holds the pool weakly). */
  readonly #collect: () => Family[] | undefined;
  /** Leak detection (`leakDetectionThreshold`), or undefined when it is off. */
  readonly #leakWatch: ResourceLeakWatch<T> | undefined;
  /**
   * `#leakWatch` while calls of `acquire` are to be watched; undefined during the inner call of
   * a watched acquire, which is not watched again. One field, so that `acquire` with the
   * option off tests one thing.
   */
  #watchAcquires: ResourceLeakWatch<T> | undefined;

  constructor(options: ResourcePoolOptions<T>) {
    super();
    const o = resolveResourceOptions<T>(options);
    this.#o = o;
    const self = new WeakRef(this);
    this.#collect = () => {
      const pool = self.deref();
      return pool === undefined ? undefined : pool.#families();
    };
    this.name = registerPool('resource', o.name, this, this.#collect);
    this.#testOnAcquire = o.testOnAcquire;
    this.#testOnRelease = o.testOnRelease;
    this.#retryForWaiters = this.retryCreatesForWaiters();
    // Every create retry waiting out its backoff listens to it.
    setMaxListeners(0, this.#closing.signal);
    const count = (n: number) => (Number.isFinite(n) ? n : MAX_ENGINE_COUNT);
    this.#engine = new ResourceEngine(
      {
        min: o.min,
        max: o.max,
        maxWaiters: count(o.maxWaiters),
        lifo: o.order === 'lifo',
        acquireTimeout: o.acquireTimeout,
        idleTimeout: o.idleTimeout,
        softIdleTimeout: o.softIdleTimeout,
        maxLifetime: o.maxLifetime,
        evictionInterval: o.evictionInterval,
        testsPerEviction: count(o.testsPerEviction),
        createBackoff: Math.max(o.createBackoff, 1),
        retryForWaiters: this.#retryForWaiters,
      },
      ResourcePool.#eventHandler(new WeakRef(this)),
    );
    this.#handle = this.#engine.handle;
    this.#keyBase = this.#handle * KEY_BASE;
    this.#obs = new ResourceObserver(this, this.#handle, this.#o.max);
    this.#leakWatch = resourceLeakWatch<T>(o.leakDetectionThreshold, this);
    this.#watchAcquires = this.#leakWatch;
    if (o.autostart) this.start();
  }

  // ---- generic-pool-like gauges ---------------------------------------------------------

  /** The configured minimum. */
  get min(): number {
    return this.#o.min;
  }

  /** The configured maximum. */
  get max(): number {
    return this.#o.max;
  }

  /** Resources that exist or are being created. */
  get size(): number {
    resGauges(this.#handle);
    return Math.max(gauge(GAUGE_SIZE), 0);
  }

  /** Idle resources, ready to hand out. */
  get available(): number {
    resGauges(this.#handle);
    return Math.max(gauge(GAUGE_IDLE), 0);
  }

  /** Resources lent out now. */
  get borrowed(): number {
    return this.#borrowed;
  }

  /** Acquires waiting for a resource. */
  get pending(): number {
    return this.#waiters.size;
  }

  /** How many more resources could be created: `max - size`. */
  get spareResourceCapacity(): number {
    return this.#o.max - this.size;
  }

  /** True from the moment `close()` is called, directly or by `drain()` finishing (before everything is destroyed). */
  get closed(): boolean {
    return this.#life.closed;
  }

  /** True while `drain()` waits for borrowed resources and queued acquires: new acquires are refused with `POOL_DRAINING`. */
  get draining(): boolean {
    return this.#life.draining;
  }

  /** Counters, gauges and the acquire-wait quantiles, read without stopping the pool. */
  stats(): ResourcePoolStats {
    return toResourceStats(this.#engine.stats(), this.#borrowed, this.#validationFailures);
  }

  /**
   * This pool's metrics in the Prometheus text format 0.0.4 (serve it with
   * `METRICS_CONTENT_TYPE`); the module's `metrics()` gives every open pool's. Families:
   * docs/metrics.md.
   */
  metrics(): string {
    return render(this.#families());
  }

  #families(): Family[] {
    return resourceFamilies(this.name, this.stats(), this.#engine.waitBuckets());
  }

  // ---- borrowing ------------------------------------------------------------------------

  /**
   * Borrows a resource: an idle one (validated first with `testOnAcquire`), a new one if
   * fewer than `max` exist, or the next one given back. Rejects with a `BerthError`:
   * `ACQUIRE_TIMEOUT`, `QUEUE_FULL`, `POOL_DRAINING`, `POOL_CLOSED`, or `CREATE_FAILED` /
   * `CREATE_TIMEOUT` when the create made for this acquire failed; with `signal.reason` when
   * aborted.
   */
  acquire(options?: ResourceAcquireOptions): Promise<T> {
    if (this.#watchAcquires !== undefined) return this.#acquireTracked(options);
    // A reuse hit in as few steps as possible; anything else takes the general path.
    if (options === undefined && this.#fast) {
      const slot = resAcquire(this.#handle, this.#waiters.nextToken(), 0, POOL_TIMEOUT);
      if (slot >= 0) return Promise.resolve(this.#lend(slot));
      if (slot === QUEUED) return this.#queue(0, POOL_TIMEOUT, undefined, resCreateSlot());
    }
    return this.#acquireSlow(options);
  }

  /**
   * `acquire` with leak detection on: the caller's stack kept, the borrow watched (see ./leak).
   * The acquire itself is `acquire` again (unwatched, see #watchAcquires).
   */
  #acquireTracked(options: ResourceAcquireOptions | undefined): Promise<T> {
    const watch = this.#watchAcquires!;
    return acquireWatched(watch, ResourcePool.prototype.acquire, () => {
      this.#watchAcquires = undefined;
      try {
        return this.acquire(options);
      } finally {
        this.#watchAcquires = watch;
      }
    });
  }

  #acquireSlow(options: ResourceAcquireOptions | undefined): Promise<T> {
    if (this.#life.phase !== Phase.Open) return Promise.reject(this.acquireError(this.#life.refusal()));
    if (!this.#started) this.start();
    let priority = 0;
    let timeout = POOL_TIMEOUT;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      try {
        checkAcquireOptions(options);
      } catch (error) {
        return Promise.reject(error);
      }
      signal = options.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      priority = options.priority ?? 0;
      timeout = options.timeout ?? POOL_TIMEOUT;
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, signal, onAbort: undefined, priority, timeout, done: false, token: -1 };
      if (signal !== undefined) {
        waiter.onAbort = () => this.#abort(waiter);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#request(waiter);
    });
  }

  /**
   * Borrows, runs `fn` with the resource, and releases it when `fn` returns, or destroys it
   * when `fn` throws (then rethrows). Resolves to what `fn` returns.
   */
  async use<R>(fn: (resource: T) => R | Promise<R>, options?: ResourceAcquireOptions): Promise<R> {
    const resource = await this.acquire(options);
    let result: R;
    try {
      result = await fn(resource);
    } catch (error) {
      if (this.isBorrowed(resource)) await this.destroy(resource);
      throw error;
    }
    if (this.isBorrowed(resource)) this.release(resource);
    return result;
  }

  /** Borrows a resource as a lease object: `await using lease = await pool.lease()` releases it at the end of the block. */
  async lease(options?: ResourceAcquireOptions): Promise<ResourceLease<T>> {
    return new ResourceLease(await this.acquire(options), this);
  }

  /** True while `resource` is lent out by this pool. */
  isBorrowed(resource: T): boolean {
    const slot = this.#slotOf.get(resource);
    return slot !== undefined && this.#slotState[slot] === Slot.Borrowed;
  }

  /**
   * Gives a borrowed resource back (validated first with `testOnRelease`).
   * @throws BerthError `NOT_BORROWED` when `resource` is not lent out by this pool.
   */
  release(resource: T): void {
    const slot = this.#slotOf.get(resource);
    if (slot === undefined || this.#slotState[slot] !== Slot.Borrowed) throw notBorrowed('release');
    this.#borrowed--;
    if (this.#testOnRelease) {
      void this.#checkThenRelease(slot, resource);
    } else {
      this.#place(slot, resRelease(this.#keyBase + slot), false);
    }
    if (this.#life.drainWaiting) this.#life.checkDrained();
    if (this.#leakWatch !== undefined) this.#leakWatch.settled(resource);
  }

  /**
   * Destroys a borrowed resource instead of giving it back; resolves once the factory's
   * `destroy` has run (its failure goes to the `'destroyError'` event). Rejects with
   * BerthError `NOT_BORROWED` when `resource` is not lent out by this pool.
   */
  destroy(resource: T): Promise<void> {
    const slot = this.#slotOf.get(resource);
    if (slot === undefined || this.#slotState[slot] !== Slot.Borrowed) return Promise.reject(notBorrowed('destroy'));
    this.#borrowed--;
    this.#engine.destroy(slot);
    const done = this.#destroySlot(slot);
    if (this.#life.drainWaiting) this.#life.checkDrained();
    if (this.#leakWatch !== undefined) this.#leakWatch.settled(resource);
    return done;
  }

  // ---- lifecycle ------------------------------------------------------------------------

  /** Starts keeping `min` resources (done at construction unless `autostart: false`). */
  start(): void {
    if (this.#started || this.#life.phase === Phase.Closed) return;
    this.#started = true;
    this.#updateFast();
    const creates = this.#engine.start().map((slot) => this.#create(slot, false));
    this.#ready = Promise.all(creates).then(() => undefined);
  }

  /** Resolves once the first `min` creates have settled (starting them if not started). */
  ready(): Promise<void> {
    if (!this.#started) this.start();
    return this.#ready ?? Promise.resolve();
  }

  /**
   * Refuses new acquires (`POOL_DRAINING`), serves the ones already queued, waits until no
   * resource is lent out and no acquire waits, then closes the pool (as `Pool.drain()` does):
   * once it resolves, every resource is destroyed and acquires are refused with `POOL_CLOSED`.
   * `min` is no longer kept from the moment it is called. With `timeout`, rejects with
   * `DRAIN_TIMEOUT` if resources are still out by then (the pool stays draining; `close()`
   * forces). A `timeout` that is not a number of ms >= 0 (or `Infinity`) rejects with a TypeError.
   */
  drain(options?: ResourceDrainOptions): Promise<void> {
    return this.#life.drain(options);
  }

  /**
   * @internal `drain()` without the close at the end: `berth-pool/generic-pool`'s `drain()`
   * keeps idle resources until `clear()`, as generic-pool's does.
   */
  drainWithoutClose(): Promise<void> {
    return this.#life.drainWithoutClose(undefined);
  }

  /** Destroys every idle resource now; resolves once those destroys have run. */
  async clear(): Promise<void> {
    await Promise.all(this.#engine.clear().map((slot) => this.#destroySlot(slot)));
  }

  /**
   * Closes the pool: queued acquires reject with `POOL_CLOSED`, creates in flight are
   * aborted, idle resources are destroyed now and borrowed ones when they come back.
   * Resolves once every resource has been destroyed. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    return this.#life.close();
  }

  #startClose(): void {
    unregisterPool(this.name, this.#collect);
    this.#updateFast();
    const { waiters, slots } = this.#engine.close();
    const closed = () => this.acquireError(new BerthError('POOL_CLOSED', 'the pool was closed'));
    for (const token of waiters) this.#settleQueued(token)?.reject(closed());
    for (const token of this.#waiters.tokens()) this.#settleQueued(token)?.reject(closed());
    for (const controller of this.#createAborts) controller.abort(new BerthError('POOL_CLOSED', 'the pool was closed'));
    // Create retries stop waiting, and validations in flight count as failed now (their
    // resources are destroyed): close() settles whatever the factory's functions do.
    this.#closing.abort(new BerthError('POOL_CLOSED', 'the pool was closed'));
    // Borrows still out are no longer watched: a closed pool reports no leak.
    this.#leakWatch?.close();
    for (const fail of this.#validating) fail();
    for (const slot of slots) void this.#destroySlot(slot);
    this.#checkClosed();
  }

  /** For `await using`: the same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * @internal What an acquire rejects with for one of the pool's own failures (timeout, full
   * queue, closed, a failed create). `berth/generic-pool` maps them to generic-pool's errors
   * here, which spares it a promise per acquire.
   */
  protected acquireError(error: BerthError): unknown {
    return error;
  }

  /**
   * @internal Read once, at construction. false (berth): a create made for an acquire that
   * fails rejects that acquire. true (`berth/generic-pool`, generic-pool's contract): the
   * acquire stays queued, bounded by its timeout, and creates for it are retried with the
   * engine's backoff (from `createRetry.backoff`, doubling to 10 s, reset by a success);
   * once the pool drains, failures reject the queued acquires again so that it drains.
   */
  protected retryCreatesForWaiters(): boolean {
    return false;
  }

  // ---- acquiring ----------------------------------------------------------------------

  /** Asks the engine for a resource for `waiter`, until it is served, queued or refused. */
  #request(waiter: Waiter<T>): void {
    for (;;) {
      if (waiter.done) return;
      if (this.#life.phase !== Phase.Open) return this.#settle(waiter)?.reject(this.acquireError(this.#life.refusal()));
      const token = this.#waiters.nextToken();
      const result = resAcquire(this.#handle, token, waiter.priority, waiter.timeout);
      if (result >= 0) return this.#serve(waiter, result, false);
      if (result === QUEUED) {
        const create = resCreateSlot();
        waiter.token = token;
        this.#waiters.add(waiter);
        this.#updateRef();
        this.#obs.queued(create);
        if (create >= 0) void this.#create(create, true);
        return;
      }
      if (result === QUEUE_FULL) {
        this.#obs.queueFull();
        const full = new BerthError('QUEUE_FULL', `${this.#o.maxWaiters} acquires already wait for a resource`);
        return this.#settle(waiter)?.reject(this.acquireError(full));
      }
      if (result === CLOSED) return this.#settle(waiter)?.reject(this.acquireError(this.#life.refusal()));
      if (result === BAD_ARGUMENT) return this.#settle(waiter)?.reject(new TypeError('berth: the engine refused an acquire argument (a bug)'));
      // An idle resource past maxLifetime: the engine took it out; destroy it and ask again.
      this.#obs.evicted(LIFETIME);
      void this.#destroySlot(EXPIRED_BASE - result);
    }
  }

  /** The fast path's queued acquire, booked under the token it passed. */
  #queue(priority: number, timeout: number, signal: AbortSignal | undefined, create: number): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, signal, onAbort: undefined, priority, timeout, done: false, token: -1 };
      waiter.token = this.#waiters.add(waiter);
    });
    this.#updateRef();
    this.#obs.queued(create);
    if (create >= 0) void this.#create(create, true);
    return promise;
  }

  /** Hands `slot` to `waiter`, validating it first with `testOnAcquire` (not a fresh one). */
  #serve(waiter: Waiter<T>, slot: number, fresh: boolean): void {
    if (!this.#testOnAcquire || fresh) {
      if (waiter.done) return this.#place(slot, resRelease(this.#keyBase + slot), false);
      this.#settle(waiter);
      return waiter.resolve(this.#lend(slot));
    }
    void this.#checkThenServe(waiter, slot);
  }

  async #checkThenServe(waiter: Waiter<T>, slot: number): Promise<void> {
    const resource = this.#resources[slot]!;
    this.#slotState[slot] = Slot.Checking;
    this.#checking++;
    const healthy = await this.#validate(resource);
    this.#checking--;
    if (healthy) {
      if (waiter.done) {
        this.#place(slot, resRelease(this.#keyBase + slot), false);
      } else {
        this.#settle(waiter);
        waiter.resolve(this.#lend(slot));
      }
    } else {
      this.#engine.destroy(slot);
      this.#obs.evicted(UNHEALTHY);
      void this.#destroySlot(slot);
      this.#request(waiter);
    }
    if (this.#life.drainWaiting) this.#life.checkDrained();
  }

  async #checkThenRelease(slot: number, resource: T): Promise<void> {
    this.#slotState[slot] = Slot.Checking;
    this.#checking++;
    const healthy = await this.#validate(resource);
    this.#checking--;
    if (healthy) {
      this.#place(slot, resRelease(this.#keyBase + slot), false);
    } else {
      this.#engine.destroy(slot);
      this.#obs.evicted(UNHEALTHY);
      void this.#destroySlot(slot);
    }
    if (this.#life.drainWaiting) this.#life.checkDrained();
  }

  /**
   * Runs `validate`: false, a throw, a rejection, outliving `validateTimeout`, or the pool
   * closing meanwhile mean unhealthy. A late answer is ignored.
   */
  async #validate(resource: T): Promise<boolean> {
    let healthy: boolean;
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    try {
      let answer: Promise<boolean>;
      try {
        answer = Promise.resolve(this.#o.validate!(resource));
      } catch (error) {
        answer = Promise.reject(error);
      }
      // Whatever it does after losing the race below is ignored (never unhandled).
      answer.catch(() => {});
      const limit = this.#o.validateTimeout;
      const cut = new Promise<boolean>((resolve, reject) => {
        if (Number.isFinite(limit)) {
          timer = setTimeout(() => reject(new BerthError('VALIDATE_TIMEOUT', `validate did not finish within ${limit} ms`)), limit);
        }
        onClose = () => resolve(false);
        this.#validating.add(onClose);
      });
      healthy = (await Promise.race([answer, cut])) === true;
    } catch (error) {
      this.#emitSafe('validateError', error, resource);
      healthy = false;
    } finally {
      clearTimeout(timer);
      if (onClose !== undefined) this.#validating.delete(onClose);
    }
    if (!healthy) this.#validationFailures++;
    return healthy;
  }

  #lend(slot: number): T {
    this.#slotState[slot] = Slot.Borrowed;
    this.#borrowed++;
    return this.#resources[slot]!;
  }

  /** Acts on the engine's placement of a free resource. */
  #place(slot: number, placement: number, fresh: boolean): void {
    if (placement === PLACED_IDLE) {
      this.#slotState[slot] = Slot.Idle;
    } else if (placement === PLACED_CLOSE) {
      // While open, the engine refuses a resource back only past its lifetime.
      if (this.#life.phase === Phase.Open) this.#obs.evicted(LIFETIME);
      void this.#destroySlot(slot);
    } else if (placement < 0) {
      // The engine does not hold this slot as lent (cannot happen): never strand the resource.
      const resource = this.#resources[slot];
      this.#resources[slot] = undefined;
      this.#slotState[slot] = Slot.None;
      if (resource !== undefined) {
        this.#slotOf.delete(resource);
        void this.#destroyResource(resource);
      }
    } else {
      const waiter = this.#takeWaiter(placement);
      if (waiter === undefined) {
        // Cannot happen (hand-offs go to waiters still queued); never strand the resource.
        this.#slotState[slot] = Slot.Borrowed;
        this.#place(slot, resRelease(this.#keyBase + slot), false);
        return;
      }
      this.#serve(waiter, slot, fresh);
    }
  }

  #abort(waiter: Waiter<T>): void {
    if (waiter.done) return;
    // Still queued in the engine: take it back. Otherwise its resource is on its way (being
    // validated) and goes back to the pool when it finds the waiter gone.
    if (waiter.token >= 0 && this.#waiters.get(waiter.token) === waiter) {
      this.#engine.cancel(waiter.token);
      this.#waiters.take(waiter.token);
    }
    this.#settle(waiter)?.reject(waiter.signal!.reason);
    this.#updateRef();
  }

  /** Takes a queued waiter out of the books. */
  #takeWaiter(token: number): Waiter<T> | undefined {
    const waiter = this.#waiters.take(token);
    if (waiter !== undefined) waiter.token = -1;
    if (waiter !== undefined && this.#refed && this.#waiters.size === 0) this.#updateRef();
    return waiter;
  }

  /** Takes a queued waiter out of the books and marks it settled (the caller rejects it). */
  #settleQueued(token: number): Waiter<T> | undefined {
    const waiter = this.#takeWaiter(token);
    return waiter === undefined ? undefined : this.#settle(waiter);
  }

  /** Marks `waiter` settled (the caller resolves or rejects it); undefined if it already was. */
  #settle(waiter: Waiter<T>): Waiter<T> | undefined {
    if (waiter.done) return undefined;
    waiter.done = true;
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
    if (this.#life.drainWaiting) queueMicrotask(() => this.#life.checkDrained());
    return waiter;
  }

  // ---- creating and destroying ----------------------------------------------------------

  /**
   * Creates the resource of `slot` (retrying per `createRetry`), then lets the engine place
   * it. A create for waiters (`demand`) that fails for good rejects the next waiter with the
   * cause; a background one for `min` does not (the engine retries it with backoff). With
   * `retryCreatesForWaiters()`, no failure rejects a waiter while the pool is open (the
   * engine retries for them with backoff), and every failure may once it drains. A create
   * that gives no resource (`undefined` / `null`) or one already in the pool is a factory bug,
   * not an outage: it rejects a waiter (`CREATE_FAILED`, a `TypeError` as `cause`) either way.
   */
  async #create(slot: number, demand: boolean): Promise<void> {
    this.#creating++;
    let failure: unknown;
    let created = false;
    let resource: T | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        resource = await this.#createOnce();
        created = true;
        break;
      } catch (error) {
        failure = error;
        // Aborted by close(): not the factory's failure.
        if (this.#life.phase !== Phase.Closed) this.#emitSafe('createError', error);
      }
      if (attempt >= this.#o.createAttempts || this.#life.phase === Phase.Closed) break;
      // close() ends the wait (the loop then stops), so that close() never waits out a backoff.
      await delay(Math.min(this.#o.createBackoff * 2 ** (attempt - 1), MAX_TIME), undefined, { signal: this.#closing.signal }).catch(() => {});
      if (this.#closing.signal.aborted) break;
    }
    this.#creating--;
    let misuse = false;
    if (created && (resource === undefined || resource === null)) {
      created = false;
      misuse = true;
      failure = new TypeError(`create resolved ${resource === null ? 'null' : 'undefined'}: it must give a resource (a distinct value)`);
      if (this.#life.phase !== Phase.Closed) this.#emitSafe('createError', failure);
    } else if (created && this.#slotOf.has(resource!)) {
      created = false;
      misuse = true;
      failure = new TypeError('create returned a resource that is already in the pool: each resource must be a distinct value');
    }
    if (created) {
      this.#resources[slot] = resource;
      this.#slotOf.set(resource!, slot);
      this.#slotState[slot] = Slot.None;
      this.#place(slot, this.#engine.created(slot), true);
    } else {
      const reject = misuse || (this.#retryForWaiters ? this.#life.phase !== Phase.Open : demand);
      const [waiter, next] = this.#engine.createFailed(slot, reject) as [number, number];
      // Settled, not only taken: a drain() waiting for this acquire must see it gone.
      if (waiter >= 0) this.#settleQueued(waiter)?.reject(this.acquireError(createError(failure)));
      if (next >= 0) void this.#create(next, true);
    }
    this.#checkClosed();
  }

  /** One try of the factory's `create`, bounded by `createTimeout` and aborted by `close()`. */
  #createOnce(): Promise<T> {
    const controller = new AbortController();
    this.#createAborts.add(controller);
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        this.#createAborts.delete(controller);
      };
      const onAbort = () => {
        if (settled) return;
        finish();
        reject(controller.signal.reason);
      };
      controller.signal.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(this.#o.createTimeout)) {
        timer = setTimeout(() => {
          controller.abort(new BerthError('CREATE_TIMEOUT', `create did not finish within ${this.#o.createTimeout} ms`));
        }, this.#o.createTimeout);
      }
      let pending: Promise<T>;
      try {
        pending = Promise.resolve(this.#o.create(controller.signal));
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (resource) => {
          if (settled) {
            // Too late (timed out or the pool closed): nobody will use it (nothing to destroy
            // when it gave no resource). A close() may be waiting for this destroy (it counts
            // in #destroying): check again once it is done.
            if (resource !== undefined && resource !== null) {
              void this.#destroyResource(resource).then(() => this.#checkClosed());
            }
            return;
          }
          finish();
          controller.signal.removeEventListener('abort', onAbort);
          resolve(resource);
        },
        (error: unknown) => {
          if (settled) return;
          finish();
          controller.signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** Destroys the resource of a slot the engine already took out, then frees the slot. */
  async #destroySlot(slot: number): Promise<void> {
    const resource = this.#resources[slot];
    this.#resources[slot] = undefined;
    this.#slotState[slot] = Slot.None;
    if (resource !== undefined) {
      this.#slotOf.delete(resource);
      await this.#destroyResource(resource);
    }
    const next = this.#engine.destroyed(slot);
    if (next >= 0) void this.#create(next, true);
    this.#checkClosed();
  }

  /** Runs the factory's `destroy`, bounded by `destroyTimeout`; failures go to `'destroyError'`. */
  async #destroyResource(resource: T): Promise<void> {
    this.#destroying++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const destroyed = Promise.resolve().then(() => this.#o.destroy(resource));
      if (Number.isFinite(this.#o.destroyTimeout)) {
        const expired = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new BerthError('DESTROY_TIMEOUT', `destroy did not finish within ${this.#o.destroyTimeout} ms`)),
            this.#o.destroyTimeout,
          );
        });
        destroyed.catch(() => {});
        await Promise.race([destroyed, expired]);
      } else {
        await destroyed;
      }
    } catch (error) {
      this.#emitSafe('destroyError', error, resource);
    } finally {
      clearTimeout(timer);
      this.#destroying--;
    }
  }

  // ---- engine events --------------------------------------------------------------------

  /**
   * The engine's event callback holds the pool weakly: a pool its user dropped can be
   * collected (which stops the engine's timers). While acquires wait it is held by `setAwaiting`.
   */
  static #eventHandler<U>(pool: WeakRef<ResourcePool<U>>): (event: ResourceEngineEvent) => void {
    return (event) => {
      const target = pool.deref();
      if (target !== undefined) target.#onEngineEvent(event);
    };
  }

  #onEngineEvent(event: ResourceEngineEvent): void {
    switch (event.kind) {
      case RES_EVENT_CREATE:
        if (this.#life.phase === Phase.Closed) return;
        void this.#create(event.id, false);
        return;
      case RES_EVENT_EVICT:
        this.#obs.evicted(event.reason);
        void this.#destroySlot(event.id);
        return;
      case RES_EVENT_WAITER_TIMED_OUT: {
        const waiter = this.#takeWaiter(event.id);
        if (waiter !== undefined) {
          this.#settle(waiter)?.reject(this.acquireError(new BerthError('ACQUIRE_TIMEOUT', 'no resource became available in time')));
        }
        return;
      }
    }
  }

  // ---- state ----------------------------------------------------------------------------

  #updateFast(): void {
    this.#fast = this.#life.phase === Phase.Open && this.#started && !this.#o.testOnAcquire;
  }

  /** Engine events only keep the process alive while acquires wait for them. */
  #updateRef(): void {
    const wanted = this.#waiters.size > 0;
    if (wanted === this.#refed) return;
    this.#refed = wanted;
    setAwaiting(this.#engine, this, wanted);
  }

  #checkClosed(): void {
    if (!this.#life.closing) return;
    if (this.#slotOf.size > 0 || this.#creating > 0 || this.#destroying > 0) {
      // Idle ones left over (a create that landed after close() is placed "destroy" by the
      // engine; this covers any resource still idle): destroy them.
      return;
    }
    this.#updateRef();
    this.#engine.dispose();
    this.#life.closeFinished();
  }

  #emitSafe(event: keyof ResourcePoolEvents<T>, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (error) {
      // A listener that throws: surface it as any listener's throw would, not inside the pool.
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

function notBorrowed(what: string): BerthError {
  return new BerthError('NOT_BORROWED', `${what}(): this resource is not borrowed from this pool`);
}

function createError(failure: unknown): BerthError {
  if (failure instanceof BerthError) return failure;
  const message = failure instanceof Error ? failure.message : String(failure);
  return new BerthError('CREATE_FAILED', `create failed: ${message}`, undefined, { cause: failure });
}

