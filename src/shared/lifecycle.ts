/**
 * The life of a pool, shared by `Pool` and `ResourcePool` (undici's DispatcherBase plays this
 * part for its dispatchers): open, then draining, then closed, with one meaning of `drain()` and
 * `close()` for both.
 *
 * - `drain()` refuses new acquires (`POOL_DRAINING`), lets queued acquires be served, waits for
 *   everything lent to come back, then closes the pool. With `timeout` it rejects with
 *   `DRAIN_TIMEOUT` if things are still out by then, and the pool stays draining (`close()`
 *   forces). After it resolves the pool is closed: acquires are refused with `POOL_CLOSED`.
 * - `close()` refuses at once with `POOL_CLOSED`; calling it again returns the same promise.
 *
 * The pool keeps its own counts; it tells the lifecycle when they may have reached zero
 * (`checkDrained()`, cheap when no drain waits) and when its close has finished
 * (`closeFinished()`).
 */
import { BerthError } from './errors';
import { checkTime } from './validate';

/** Options of `drain()`. */
export interface DrainOptions {
  /** Reject with `DRAIN_TIMEOUT` if leases are still out after this long (ms). Default: wait forever. */
  timeout?: number;
}

export const enum Phase {
  Open,
  Draining,
  Closed,
}

/** What the lifecycle asks of the pool it runs. */
export interface LifecycleHost {
  /** Nothing lent out and no acquire queued: a drain may finish. */
  isDrained(): boolean;
  /** What is still out, for the DRAIN_TIMEOUT message (e.g. "2 leases still out"). */
  describeOutstanding(): string;
  /** The pool has just started draining (e.g. stop refilling `min`). */
  onDraining?(): void;
  /** Start closing everything; call `closeFinished()` once it is all closed. */
  startClose(): void;
}

export class Lifecycle {
  phase = Phase.Open;
  #drained: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;
  #closed: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;

  constructor(private readonly host: LifecycleHost) {}

  /** True from the moment `close()` is called (directly, or by `drain()` finishing). */
  get closed(): boolean {
    return this.phase === Phase.Closed;
  }

  /** True while `drain()` waits for what is lent out to come back. */
  get draining(): boolean {
    return this.phase === Phase.Draining;
  }

  /** A drain waits for the counts to reach zero: the pool should call `checkDrained()`. */
  get drainWaiting(): boolean {
    return this.#onDrained !== undefined;
  }

  /** A close has begun and not finished: the pool should call `closeFinished()` when done. */
  get closing(): boolean {
    return this.#onClosed !== undefined;
  }

  /** Why an acquire is refused now that the pool is not open. */
  refusal(destination?: string): BerthError {
    return this.phase === Phase.Draining
      ? new BerthError('POOL_DRAINING', 'the pool is draining and accepts no new acquires', destination)
      : new BerthError('POOL_CLOSED', 'the pool is closed', destination);
  }

  async drain(options: DrainOptions | undefined): Promise<void> {
    await this.drainWithoutClose(options);
    return this.close();
  }

  /**
   * Draining without the close at the end: for `berth-pool/generic-pool`, whose `drain()` keeps
   * idle resources until `clear()`, as generic-pool's does.
   */
  async drainWithoutClose(options: DrainOptions | undefined): Promise<void> {
    const timeout = checkTime('drain timeout', options?.timeout ?? Infinity, { min: 0, infinite: true });
    if (this.phase === Phase.Closed) return this.#closed;
    if (this.phase !== Phase.Draining) {
      this.phase = Phase.Draining;
      this.host.onDraining?.();
    }
    if (this.host.isDrained()) return;
    // One "everything is back" promise, however many drain() calls wait on it.
    this.#drained ??= new Promise<void>((resolve) => {
      this.#onDrained = resolve;
    });
    if (!Number.isFinite(timeout)) return this.#drained;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BerthError('DRAIN_TIMEOUT', `${this.host.describeOutstanding()} after ${timeout} ms`)), timeout);
    });
    try {
      await Promise.race([this.#drained, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves a waiting drain once the pool says nothing is out any more. */
  checkDrained(): void {
    if (this.#onDrained === undefined || !this.host.isDrained()) return;
    this.#settleDrain();
  }

  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.phase = Phase.Closed;
    this.#closed = new Promise<void>((resolve) => {
      this.#onClosed = resolve;
    });
    this.host.startClose();
    // A drain still waiting ends with the close (its caller then awaits the same promise).
    this.#settleDrain();
    return this.#closed;
  }

  /** The pool has closed everything it held. */
  closeFinished(): void {
    const done = this.#onClosed;
    this.#onClosed = undefined;
    done?.();
  }

  #settleDrain(): void {
    const done = this.#onDrained;
    this.#onDrained = undefined;
    this.#drained = undefined;
    done?.();
  }
}
