/** A connection lent to one caller until it is released or destroyed. */
import type * as net from 'node:net';
import type { Connection } from './connection';
import { BerthError } from '../shared/errors';

/** What a lease calls back into (the pool). */
export interface LeaseOwner {
  releaseConnection(conn: Connection): void;
  /** `unused`: given back unused (the HTTP agent's expired keep-alive window), no reuse. */
  destroyConnection(conn: Connection, error?: Error, unused?: boolean): void;
}

/**
 * Destroys a lease's connection as one given back unused because the server's keep-alive hint
 * had passed (counted in `evicted.keepAliveExpired`, not in `reused`). For the HTTP agent;
 * not exported from the package.
 */
export let discardExpiredLease: (lease: Lease) => void;

/**
 * A connection lent by `pool.acquire()`: use `socket`, then give it back with `release()` (the
 * pool may lend it again) or end it with `destroy()`. Exactly one of the two, once; `await using`
 * releases it at the end of the scope (Node >= 24, or TypeScript).
 */
export class Lease implements AsyncDisposable {
  /** The connected socket, ready to write. Do not `end()` it: release or destroy the lease. */
  readonly socket: net.Socket;
  /** True when an earlier lease used this connection. */
  readonly reused: boolean;
  /** The destination this connection goes to, as passed to `acquire`. */
  readonly destination: string;
  /** The group whose member `destination` is, when acquired with `'group:<name>'`. */
  readonly group: string | undefined;
  #conn: Connection | null;
  readonly #owner: LeaseOwner;

  /** @internal Leases are made by the pool. */
  constructor(conn: Connection, owner: LeaseOwner) {
    this.socket = conn.socket;
    this.reused = conn.uses > 0;
    this.destination = conn.destination;
    this.group = conn.group;
    conn.uses++;
    this.#conn = conn;
    this.#owner = owner;
  }

  /** True once released or destroyed. */
  get released(): boolean {
    return this.#conn === null;
  }

  /**
   * Returns the connection to the pool. The socket must be left as found: everything read
   * that was sent, no `setEncoding`. Listeners added during the lease are removed; a socket
   * with unread data or that was ended is closed instead of pooled.
   * @throws BerthError `ALREADY_RELEASED` when called after `release()` or `destroy()`.
   */
  release(): void {
    this.#owner.releaseConnection(this.#take());
  }

  /**
   * Closes the connection instead of returning it (after an error, or a protocol state that
   * cannot be reused).
   * @throws BerthError `ALREADY_RELEASED` when called after `release()` or `destroy()`.
   */
  destroy(error?: Error): void {
    this.#owner.destroyConnection(this.#take(), error);
  }

  /** `await using lease = await pool.acquire(dest)` releases it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#conn !== null) this.release();
  }

  static {
    discardExpiredLease = (lease) => lease.#owner.destroyConnection(lease.#take(), undefined, true);
  }

  #take(): Connection {
    const conn = this.#conn;
    if (conn === null) {
      throw new BerthError('ALREADY_RELEASED', 'this lease was already released or destroyed', this.destination);
    }
    this.#conn = null;
    return conn;
  }
}

/**
 * Resolving a promise with an object looks up `then` on it, in case it is a thenable. A lease
 * has none, and V8 answers "none" only after walking the whole prototype chain: about 20 ns,
 * several percent of a reuse cycle. Declaring the absence here ends the walk one step earlier.
 * Not enumerable, not a function: `await` and `Promise.resolve` treat a lease as a plain value.
 */
Object.defineProperty(Lease.prototype, 'then', { value: undefined, enumerable: false, writable: false, configurable: false });
