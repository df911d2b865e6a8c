import { redact } from './redact';
import { engineErrorCodes } from './native/contract';

/**
 * Stable codes of the runtime failures berth reports. Invalid input (config, destination,
 * options) is a `TypeError` instead, thrown or rejected at once.
 */
export type BerthErrorCode =
  /** No connection became available within the acquire timeout. */
  | 'ACQUIRE_TIMEOUT'
  /** The destination already has `maxWaiters` acquires queued. */
  | 'QUEUE_FULL'
  /** The pool is closed (or closed while the acquire waited). */
  | 'POOL_CLOSED'
  /** The pool is draining and accepts no new acquires. */
  | 'POOL_DRAINING'
  /** `drain({ timeout })` ran out of time with leases still out. */
  | 'DRAIN_TIMEOUT'
  /** The connect did not complete within `connectTimeout`. */
  | 'CONNECT_TIMEOUT'
  /** Nobody listens there (ECONNREFUSED, or a missing Unix socket path). */
  | 'CONNECT_REFUSED'
  /** The host name did not resolve. */
  | 'DNS_FAILED'
  /** Any other connect failure (unreachable network, permission, ...). */
  | 'CONNECT_FAILED'
  /** The pool's `addressPolicy` refused every address of the destination (or its Unix socket); nothing was connected. */
  | 'DESTINATION_DENIED'
  /** A new connection's TLS handshake failed, or its peer was not verified (Node's error, e.g. `ERR_TLS_CERT_ALTNAME_INVALID`, is the `cause`). */
  | 'TLS_FAILED'
  /** A new connection's `handshake` threw or rejected (its error is the `cause`), or the connection closed during it. */
  | 'HANDSHAKE_FAILED'
  /** A new connection's handshake (`handshake`, TLS) took longer than `handshakeTimeout`. */
  | 'HANDSHAKE_TIMEOUT'
  /** `release()` or `destroy()` on a lease that was already released or destroyed. */
  | 'ALREADY_RELEASED'
  /** A group has no member to connect to: every member is down or ejected, or every member this acquire tried failed to connect (the last connect error is the `cause`). */
  | 'NO_HEALTHY_MEMBER'
  /** A forwarded session failed: the message says which side and the OS error. */
  | 'FORWARD_ERROR'
  /** `pool.listen` could not bind (address in use, permission, ...). */
  | 'LISTEN_FAILED'
  /** `ResourcePool`: `release()` / `destroy()` of a resource that is not borrowed from this pool. */
  | 'NOT_BORROWED'
  /** `ResourcePool`: the factory's `create` failed (its error is the `cause`). */
  | 'CREATE_FAILED'
  /** `ResourcePool`: `create` did not settle within `createTimeout`. */
  | 'CREATE_TIMEOUT'
  /** `ResourcePool`: `destroy` did not settle within `destroyTimeout` (reported as a `'destroyError'`). */
  | 'DESTROY_TIMEOUT'
  /** `ResourcePool`: `validate` did not settle within `validateTimeout` (reported as a `'validateError'`; the resource counts as unhealthy). */
  | 'VALIDATE_TIMEOUT';

/** A runtime failure of the pool, with a stable `code` to branch on. */
export class BerthError extends Error {
  /** Always `'BerthError'`. */
  override readonly name = 'BerthError';
  /** What failed: one of {@link BerthErrorCode}, stable across versions, to branch on. */
  readonly code: BerthErrorCode;
  /** The destination the failure concerns, when there is one. */
  readonly destination: string | undefined;

  constructor(code: BerthErrorCode, message: string, destination?: string, options?: ErrorOptions) {
    // Whoever built the message, a credential in it (or in the destination) is masked.
    super(redact(message), options);
    this.code = code;
    this.destination = destination === undefined ? undefined : redact(destination);
  }
}

/**
 * The codes the engine reports for a dial or a native session (DialErrorCode in
 * crates/berth-core), each one a BerthErrorCode (`__test__/contract.test.mjs` checks).
 */
const DIAL_CODES: ReadonlySet<string> = new Set(engineErrorCodes());

/** Maps an engine dial failure (a native session's included) to a BerthError. */
export function dialError(code: string | undefined, message: string | undefined, destination: string): BerthError {
  const known = code !== undefined && DIAL_CODES.has(code) ? (code as BerthErrorCode) : 'CONNECT_FAILED';
  return new BerthError(known, message ?? `connect to ${destination} failed`, destination);
}
