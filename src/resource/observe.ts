/**
 * A `ResourcePool`'s `capReached` and `evicted` events: the pool calls in where a cap was
 * met or it destroyed a resource itself; nothing is computed unless someone listens.
 */
import type { EventEmitter } from 'node:events';
import { OncePer } from '../shared/once-per';
import { GAUGE_SIZE, gauge, resGauges } from '../shared/native';

/** Engine eviction codes (crates/berth-core/src/contract.rs `EvictReason`) by name. */
const REASONS: readonly (ResourceEvictReason | undefined)[] = ['idle', 'lifetime', undefined, 'unhealthy'];

/** The ResourcePool's cap names. */
export type ResourceCapName = 'max' | 'maxWaiters';

/** `capReached` on a ResourcePool: an acquire waits because `max` resources exist, or was refused because `maxWaiters` wait. */
export interface ResourceCapReachedEvent {
  /** `'max'`: an acquire waits because `max` resources exist; `'maxWaiters'`: one was refused (`QUEUE_FULL`). */
  readonly cap: ResourceCapName;
}

/** The reasons a ResourcePool destroys a resource itself (the Pool's `EvictReason` names). */
export type ResourceEvictReason = 'idle' | 'lifetime' | 'unhealthy';

/** `evicted` on a ResourcePool: it destroyed a resource itself (idle timeout, lifetime, failed validation). */
export interface ResourceEvictedEvent {
  /** Why the pool destroyed it: idle timeout, max lifetime, or a failed validation. */
  readonly reason: ResourceEvictReason;
}

/** Engine code of `'unhealthy'` (a failed validate). */
export const UNHEALTHY = 3;
/** Engine code of `'lifetime'`. */
export const LIFETIME = 1;

export class ResourceObserver {
  readonly #pool: EventEmitter;
  readonly #handle: number;
  readonly #max: number;
  readonly #gate = new OncePer(1000);

  constructor(pool: EventEmitter, handle: number, max: number) {
    this.#pool = pool;
    this.#handle = handle;
    this.#max = max;
  }

  /** An acquire queued; `create` >= 0 when a create was started for it. */
  queued(create: number): void {
    if (create >= 0 || this.#pool.listenerCount('capReached') === 0) return;
    resGauges(this.#handle);
    if (gauge(GAUGE_SIZE) >= this.#max) this.#cap('max');
  }

  /** An acquire was refused with QUEUE_FULL. */
  queueFull(): void {
    if (this.#pool.listenerCount('capReached') > 0) this.#cap('maxWaiters');
  }

  #cap(cap: ResourceCapName): void {
    if (this.#gate.pass(cap)) this.#pool.emit('capReached', { cap });
  }

  /** The pool destroys a resource for engine reason `code`. */
  evicted(code: number): void {
    const reason = REASONS[code];
    if (reason === undefined || this.#pool.listenerCount('evicted') === 0) return;
    this.#pool.emit('evicted', { reason } satisfies ResourceEvictedEvent);
  }
}
