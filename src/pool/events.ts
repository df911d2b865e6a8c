/**
 * The events a `Pool` emits (`pool.on(name, listener)`), and what each listener gets. Nothing
 * is computed for an event nobody listens to.
 */
import type { BerthError } from '../shared/errors';

/** Why a pooled connection was closed by the pool rather than by its user. */
export type EvictReason = 'idle' | 'lifetime' | 'peerClosed' | 'unhealthy' | 'maxUses' | 'keepAliveExpired';

/** Which limit made an acquire wait (or, for `maxWaiters`, refused it). */
export type CapName = 'maxPerDestination' | 'maxTotal' | 'maxWaiters';

/** `capReached`: an acquire found a limit full. */
export interface CapReachedEvent {
  /** The destination acquired (`'group:<name>'` members by their own address). */
  readonly destination: string;
  /** The limit that was full. */
  readonly cap: CapName;
}

/** `evicted`: the pool closed a connection it held (idle, or found dead on its way out). */
export interface EvictedEvent {
  /** The connection's destination. */
  readonly destination: string;
  /** Why it was closed. */
  readonly reason: EvictReason;
}

/** `dialFailed`: a new connection could not be opened (connect, TLS or handshake). */
export interface DialFailedEvent {
  /** The destination dialled. */
  readonly destination: string;
  /** What the waiting acquire was (or would have been) rejected with. */
  readonly error: BerthError | Error;
}

/**
 * `leak`: a lease has been out longer than `leakDetectionThreshold` (reported once per lease).
 * Not necessarily a bug (a long stream, a slow query); a lease that is never released is one.
 */
export interface LeakEvent {
  /** The lease's destination (a group member by its own address). */
  readonly destination: string;
  /** How long the lease has been out, in whole milliseconds (at least the threshold). */
  readonly ageMs: number;
  /**
   * Where it was acquired: the stack of the `acquire()` call (or `use()`, `acquireMany()`, the
   * HTTP agent's request), one `    at …` line per frame, the caller first; berth's own frames
   * are left out.
   */
  readonly stack: string;
}

/** `leakResolved`: a lease reported by `leak` was released or destroyed after all. */
export interface LeakResolvedEvent {
  /** The lease's destination, as in its `leak` event. */
  readonly destination: string;
  /** How long it was out, in whole milliseconds. */
  readonly ageMs: number;
}

/** The pool's events and their arguments. */
export interface PoolEvents {
  /** An acquire found `maxPerDestination`, `maxTotal` or `maxWaiters` full (at most once a second per destination and cap). */
  capReached: [event: CapReachedEvent];
  /** The pool closed a connection for `reason`. */
  evicted: [event: EvictedEvent];
  /** A dial (or its TLS or user handshake) failed. */
  dialFailed: [event: DialFailedEvent];
  /** A lease has been out longer than `leakDetectionThreshold` (once per lease; only while the option is set). */
  leak: [event: LeakEvent];
  /** A lease reported by `leak` came back (released or destroyed). */
  leakResolved: [event: LeakResolvedEvent];
}
