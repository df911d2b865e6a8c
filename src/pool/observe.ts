/**
 * What a `Pool` tells its observers: the `capReached`, `evicted` and `dialFailed` events and
 * the diagnostics channels (src/shared/diagnostics.ts). The pool calls in only where
 * something happened that an observer may want; each call first checks that someone
 * listens or subscribes, and builds nothing otherwise.
 */
import { performance } from 'node:perf_hooks';
import type { Lease } from './lease';
import type { Connection } from './connection';
import type { CapName, CapReachedEvent, DialFailedEvent, EvictedEvent, EvictReason } from './events';
import type { Engine } from '../shared/native/pool-engine';
import type { BerthError } from '../shared/errors';
import { OncePer } from '../shared/once-per';
import { acquireChannel, connectChannel, evictChannel, memberChannel, releaseChannel } from '../shared/diagnostics';

/**
 * The pool as its observer sees it (the Pool itself: messages carry it as `pool`). Not the
 * Pool type, which imports this file (src/pool/trace-messages.ts declares the messages).
 */
export interface Observed {
  emit(event: string, ...args: unknown[]): boolean;
  listenerCount(event: string): number;
}

/** Engine eviction codes (crates/berth-core/src/contract.rs `EvictReason`) by name. */
const REASONS: readonly EvictReason[] = ['idle', 'lifetime', 'peerClosed', 'unhealthy', 'maxUses', 'keepAliveExpired'];

/** `capReached` at most once per destination and cap in this many ms. */
export const CAP_EVENT_INTERVAL_MS = 1000;

/** The engine's `waitCap` answers, as cap names. */
const WAIT_CAPS: readonly (CapName | undefined)[] = [undefined, 'maxPerDestination', 'maxTotal'];

/**
 * Runs `acquire` inside the `berth:pool:acquire` TracingChannel: `start` and `end` around
 * the call, `asyncStart`/`asyncEnd` (with `result`, the lease) or `error` then `asyncStart`/
 * `asyncEnd` when it settles.
 */
export function traceAcquire(pool: Observed, destination: string, options: object | undefined, acquire: () => Promise<Lease>): Promise<Lease> {
  // An AcquireContext (trace-messages.ts); Node adds `result` or `error` to it.
  return acquireChannel.tracePromise(acquire, { pool, destination, options });
}

/** How many event names have listeners: EventEmitter's long-stable `_eventsCount` (cheaper than `listenerCount`). */
function listenedEvents(emitter: Observed): number {
  return (emitter as unknown as { _eventsCount: number })._eventsCount;
}

export class PoolObserver {
  readonly #pool: Observed;
  readonly #engine: Engine;
  /** `capReached`'s rate limit, by cap and destination. */
  readonly #capGate = new OncePer(CAP_EVENT_INTERVAL_MS);

  constructor(pool: Observed, engine: Engine) {
    this.#pool = pool;
    this.#engine = engine;
  }

  /** An acquire of `destId` was just queued: `capReached` if a cap keeps it waiting. */
  queued(destId: number, destination: string): void {
    // Runs on every queued acquire: a pool with no listener at all answers with one load.
    if (listenedEvents(this.#pool) === 0 || this.#pool.listenerCount('capReached') === 0) return;
    const cap = WAIT_CAPS[this.#engine.waitCap(destId)];
    if (cap !== undefined) this.#capReached(destination, cap);
  }

  /** An acquire was refused with `QUEUE_FULL`. */
  queueFull(destination: string): void {
    if (this.#pool.listenerCount('capReached') > 0) this.#capReached(destination, 'maxWaiters');
  }

  #capReached(destination: string, cap: CapName): void {
    if (!this.#capGate.pass(`${cap}\0${destination}`)) return;
    this.#pool.emit('capReached', { destination, cap } satisfies CapReachedEvent);
  }

  /** Whether anyone wants evictions (so that the engine's reason is worth asking for). */
  get evictWatched(): boolean {
    return evictChannel.hasSubscribers || this.#pool.listenerCount('evicted') > 0;
  }

  /** The pool closed a connection of `destination` for engine reason `code` (-1: none recorded). */
  evicted(destination: string, code: number): void {
    const reason = REASONS[code];
    if (reason === undefined) return;
    if (evictChannel.hasSubscribers) evictChannel.publish({ pool: this.#pool, destination, reason });
    if (this.#pool.listenerCount('evicted') > 0) this.#pool.emit('evicted', { destination, reason } satisfies EvictedEvent);
  }

  /** The engine closed connection `id` of `destination` itself: report why, if anyone listens. */
  closedByEngine(id: number, destination: string): void {
    if (this.evictWatched) this.evicted(destination, this.#engine.closeReason(id));
  }

  /** A dial (and its handshake, if any) succeeded after `durationMs`. */
  connected(destination: string, durationMs: number): void {
    if (connectChannel.hasSubscribers) connectChannel.publish({ pool: this.#pool, destination, durationMs });
  }

  /** A dial or its handshake failed after `durationMs`; `error()` makes the error, only when wanted. */
  dialFailed(destination: string, durationMs: number, error: () => BerthError | Error): void {
    const events = this.#pool.listenerCount('dialFailed') > 0;
    if (!events && !connectChannel.hasSubscribers) return;
    const failure = error();
    if (connectChannel.hasSubscribers) connectChannel.publish({ pool: this.#pool, destination, durationMs, error: failure });
    if (events) this.#pool.emit('dialFailed', { destination, error: failure } satisfies DialFailedEvent);
  }

  /** A lease of `conn` ended (call only while `releaseChannel.hasSubscribers`). */
  released(conn: Connection, destroyed: boolean, error?: Error): void {
    const heldMs = performance.now() - conn.leasedAt;
    const message = error === undefined
      ? { pool: this.#pool, destination: conn.destination, heldMs, destroyed }
      : { pool: this.#pool, destination: conn.destination, heldMs, destroyed, error };
    releaseChannel.publish(message);
  }

  /** A group member changed state. */
  member(group: string, member: string, state: 'up' | 'down' | 'ejected', reason: 'check' | 'outlier'): void {
    if (memberChannel.hasSubscribers) memberChannel.publish({ pool: this.#pool, group, member, state, reason });
  }
}
