/** A resource lent by a `ResourcePool`, as an object: for `await using` and explicit ownership. */
import { BerthError } from '../shared/errors';

/** What a lease calls back into (the pool). */
export interface ResourceLeaseOwner<T> {
  release(resource: T): void;
  destroy(resource: T): Promise<void>;
}

/**
 * A resource lent by `resourcePool.lease()`: use `resource`, then `release()` or `destroy()` it,
 * once; `await using` releases it at the end of the scope (Node >= 24, or TypeScript).
 */
export class ResourceLease<T> implements AsyncDisposable {
  /** The borrowed resource. */
  readonly resource: T;
  readonly #owner: ResourceLeaseOwner<T>;
  #done = false;

  /** @internal Made by `ResourcePool.lease()`. */
  constructor(resource: T, owner: ResourceLeaseOwner<T>) {
    this.resource = resource;
    this.#owner = owner;
  }

  /** True once released or destroyed. */
  get released(): boolean {
    return this.#done;
  }

  /**
   * Gives the resource back to the pool.
   * @throws BerthError `ALREADY_RELEASED` after `release()` or `destroy()`.
   */
  release(): void {
    this.#take();
    this.#owner.release(this.resource);
  }

  /**
   * Destroys the resource instead of giving it back; resolves once the factory's `destroy`
   * has run.
   * @throws BerthError `ALREADY_RELEASED` after `release()` or `destroy()`.
   */
  destroy(): Promise<void> {
    this.#take();
    return this.#owner.destroy(this.resource);
  }

  /** `await using lease = await pool.lease()` releases it at the end of the block (unless done already). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#done) this.release();
  }

  #take(): void {
    if (this.#done) throw new BerthError('ALREADY_RELEASED', 'this resource lease was already released or destroyed');
    this.#done = true;
  }
}
