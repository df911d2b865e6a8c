/**
 * The messages berth publishes on its diagnostics channels (src/shared/diagnostics.ts): public
 * types only. Fields are the subscriber's to read, not to change.
 */
import type { BerthError } from '../shared/errors';
import type { EvictReason } from './events';
import type { Pool, PoolAcquireOptions } from './pool';
import type { ProxyListener } from '../proxy/listener';
import type { Lease } from './lease';

/** `berth:pool:connect`: a dial settled (after its TLS or user handshake, if any). */
export interface ConnectMessage {
  /** The pool that published it. */
  readonly pool: Pool;
  /** The destination dialled. */
  readonly destination: string;
  /** From the dial's start (DNS included) to the connection being ready, or the failure. */
  readonly durationMs: number;
  /** Why it failed (connect, TLS or handshake); absent when it succeeded. */
  readonly error?: BerthError | Error;
}

/**
 * `berth:pool:acquire`: the context of the TracingChannel's events (`start`, `end`,
 * `asyncStart`, `asyncEnd`, `error`). Node adds `result` (the Lease) or `error` when the
 * acquire settles.
 */
export interface AcquireContext {
  /** The pool that published it. */
  readonly pool: Pool;
  /** The destination passed to `acquire` (`'group:<name>'` for a group). */
  readonly destination: string;
  /** The options passed to `acquire`, if any. */
  readonly options: PoolAcquireOptions | undefined;
  /** The lease, from `asyncStart` on, when the acquire succeeded. */
  readonly result?: Lease;
  /** Why it failed, from `error` on (`ACQUIRE_TIMEOUT`, `QUEUE_FULL`, a dial's error, ...). */
  readonly error?: unknown;
}

/** `berth:pool:release`: a lease ended. */
export interface ReleaseMessage {
  /** The pool that published it. */
  readonly pool: Pool;
  /** The lease's destination. */
  readonly destination: string;
  /** From the hand-out to the release or destroy (NaN if leased before anyone subscribed). */
  readonly heldMs: number;
  /** `lease.destroy()` rather than `release()`. */
  readonly destroyed: boolean;
  /** The error `destroy(error)` was given. */
  readonly error?: Error;
}

/** `berth:pool:evict`: the pool closed a connection it held (as the `evicted` event). */
export interface EvictMessage {
  /** The pool that published it. */
  readonly pool: Pool;
  /** The connection's destination. */
  readonly destination: string;
  /** Why it was closed (as the `evicted` event's reason). */
  readonly reason: EvictReason;
}

/** The client of a listener session. */
export interface SessionClient {
  /** The client's IP address. */
  readonly address: string;
  /** Its address family. */
  readonly family: 'IPv4' | 'IPv6';
  /** Its port. */
  readonly port: number;
}

/**
 * `berth:listener:session`: a native session ended (a listener's, or `pool.forward()`'s with
 * `listener: null`).
 */
export interface SessionMessage {
  /** The listener that accepted it; null for `pool.forward()`. */
  readonly listener: ProxyListener | null;
  /** The pool that published it. */
  readonly pool: Pool;
  /** The client (`forward()`: the inbound socket's peer, if it had one). */
  readonly client: SessionClient | null;
  /** Where it was routed: the destination, or `'group:<name>'`. */
  readonly route: string;
  /** The group member that served a group route. */
  readonly member?: string;
  /** Client to upstream. */
  readonly bytesIn: number;
  /** Upstream to client. */
  readonly bytesOut: number;
  /** From accept (or the `forward()` call) to the end. */
  readonly durationMs: number;
  /** How it ended: as `ForwardResult.end`. */
  readonly end: string;
  /** What ended it, when an error did (`CONNECT_FAILED`, ...). */
  readonly error?: BerthError;
}

/** `berth:group:member`: a group member changed state. */
export interface MemberMessage {
  /** The pool that published it. */
  readonly pool: Pool;
  /** The group's name. */
  readonly group: string;
  /** The member's address (`host:port`). */
  readonly member: string;
  /** Its state now. */
  readonly state: 'up' | 'down' | 'ejected';
  /** `'check'` (a health check's verdict) or `'outlier'` (consecutive failures). */
  readonly reason: 'check' | 'outlier';
}
