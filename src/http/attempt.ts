/**
 * One request on one pooled connection: from acquiring the lease to returning it (on Node's
 * 'free'), destroying it (Connection: close, a socket that died), or moving the request to a
 * fresh connection when a reused one failed before any byte of the response arrived.
 *
 * The request gets the pooled `net.Socket` itself, so nothing sits between Node's HTTP client
 * and the socket on the hot path. A retry does not need a stream in between either: a request
 * that has not seen a byte of its response can be taken off its socket and bound to another.
 * Node's socket listeners find the request through `socket._httpMessage`; the agent's guard
 * listeners are added before Node's (before `req.onSocket`), so on a failure they run first and
 * take the request away (leaving nothing, or a stand-in that has already failed), and Node's
 * listeners report nothing. The request's output (copied when it was bound; it was complete,
 * since only finished requests are retried) is put back and written again to the new socket.
 *
 * Listeners cost on the hot path (the pool removes what a lease added), so a request adds one
 * socket listener ('free') plus the two guards when it can be retried, and learns that its socket
 * died from its own 'close' event, which Node emits after the socket's.
 */
import type * as net from 'node:net';
import { discardExpiredLease, type Lease } from '../pool/lease';
import type { Pool } from '../pool/pool';
import { BerthError } from '../shared/errors';
import { requestError } from './errors';
import {
  detachRequest,
  keepAliveHint,
  OutputRecorder,
  rebind,
  restoreOutput,
  snapshotOutput,
  type Replay,
  type RequestInternals,
  type SocketInternals,
} from './internals';
import type { ResolvedHttpAgentOptions } from './options';

/** What an attempt needs from its agent. */
export interface AttemptOwner {
  readonly pool: Pool;
  readonly settings: ResolvedHttpAgentOptions;
  readonly destroyed: boolean;
  track(attempt: Attempt): void;
  untrack(attempt: Attempt): void;
}

const kAttempt = Symbol('berth.httpAttempt');
const kReuseBefore = Symbol('berth.httpReuseBefore');

interface AgentRequest extends RequestInternals {
  /** The request's current attempt. */
  [kAttempt]?: Attempt | undefined;
}

interface AgentSocket extends net.Socket, SocketInternals {
  /** The attempt that holds this socket's lease. */
  [kAttempt]?: Attempt | undefined;
  /** performance.now() after which the server's Keep-Alive hint says it may have closed it. */
  [kReuseBefore]?: number | undefined;
}

/**
 * Idle connections a retry (or a request whose connection's Keep-Alive window passed) closes
 * while looking for a fresh one, at most; then it takes what the pool gives.
 */
const MAX_SKIPPED = 16;

// Shared listeners (one function for every socket, finding its attempt through the socket).

function onFree(this: AgentSocket): void {
  this[kAttempt]?.freed();
}

function onRequestClose(this: AgentRequest): void {
  this[kAttempt]?.requestClosed();
}

function onGuardError(this: AgentSocket): void {
  this[kAttempt]?.failedBeforeResponse(true);
}

function onGuardEnd(this: AgentSocket): void {
  this[kAttempt]?.failedBeforeResponse(false);
}

export class Attempt {
  readonly owner: AttemptOwner;
  readonly req: AgentRequest;
  readonly destination: string;
  /** A failure of a reused connection before the response may be retried. */
  readonly retryable: boolean;
  /** Set on a retry: the output to write again, on a fresh connection. */
  readonly resend: Replay | undefined;
  lease: Lease | null = null;
  socket: AgentSocket | null = null;
  /** The request's output while a retry is possible (reused connection, no response byte yet). */
  replay: Replay | undefined = undefined;
  /** For a request not finished when bound: records its output as it writes it. */
  recorder: OutputRecorder | undefined = undefined;
  /** `socket.bytesRead` when the request was bound: any more is a response byte. */
  bytesRead = 0;
  skipped = 0;
  /** Index in the agent's list of attempts holding a lease, or -1. */
  slot = -1;
  /** A retry's socket timeout: what the failed socket had (set through `req.setTimeout()`, say). */
  inheritedTimeout: number | undefined = undefined;

  constructor(owner: AttemptOwner, req: RequestInternals, destination: string, retryable: boolean, resend?: Replay) {
    this.owner = owner;
    this.req = req;
    this.destination = destination;
    this.retryable = retryable;
    this.resend = resend;
    if (resend === undefined) this.req.on('close', onRequestClose);
    this.req[kAttempt] = this;
  }

  start(): void {
    this.owner.pool.acquire(this.destination).then(
      (lease) => this.leased(lease),
      (error: unknown) => this.req.onSocket(null, requestError(error)),
    );
  }

  leased(lease: Lease): void {
    const socket = lease.socket as AgentSocket;
    if (this.owner.destroyed) {
      lease.release();
      this.req.onSocket(null, new BerthError('POOL_CLOSED', 'the HTTP agent was destroyed', this.destination));
      return;
    }
    if (socket.destroyed) {
      lease.destroy();
      this.start();
      return;
    }
    if (lease.reused && this.skipped < MAX_SKIPPED) {
      const before = socket[kReuseBefore];
      if (before !== undefined && performance.now() >= before) {
        // The server may have closed it by now: given back unused, not counted as a reuse.
        this.skipped++;
        discardExpiredLease(lease);
        this.start();
        return;
      }
      if (this.resend !== undefined) {
        this.skipped++;
        lease.destroy();
        this.start();
        return;
      }
    }
    this.bind(lease, socket);
  }

  bind(lease: Lease, socket: AgentSocket): void {
    const req = this.req;
    this.lease = lease;
    this.socket = socket;
    socket[kAttempt] = this;
    socket.on('free', onFree);
    req.reusedSocket = lease.reused;
    if (lease.reused && this.retryable && !req.destroyed) {
      // A finished request's output is all buffered: copied now. One still writing (got and
      // axios end() after the socket arrives) is recorded as it writes, whatever the order.
      if (req.finished) this.replay = snapshotOutput(req);
      else this.recorder = new OutputRecorder(req);
      if (this.replay !== undefined || this.recorder !== undefined) {
        this.bytesRead = socket.bytesRead;
        // Before Node's own listeners (added when the request takes the socket, on the next tick).
        socket.on('error', onGuardError);
        socket.on('end', onGuardEnd);
      }
    }
    const timeout = req.timeout ?? this.inheritedTimeout ?? this.owner.settings.timeout;
    if (timeout !== undefined && timeout > 0) socket.setTimeout(timeout);
    this.owner.track(this);
    if (this.resend === undefined) {
      req.onSocket(socket);
    } else {
      restoreOutput(req, this.resend, () => this.resent());
      rebind(req, socket);
    }
  }

  /** Node emitted 'free': the response is complete (or the request never used the socket). */
  freed(): void {
    const socket = this.socket!;
    const req = this.req;
    let keep = !socket.destroyed && socket.writable;
    if (socket._httpMessage === req) {
      // As Node's Agent does on 'free'.
      socket._httpMessage = null;
      keep &&= req.shouldKeepAlive;
      if (keep && req.res !== null) keep = this.#noteKeepAliveHint(socket, req.res.rawHeaders);
    }
    // Node frees the parser when the response completes; one still attached means it did not.
    if (socket.parser !== null && socket.parser !== undefined) keep = false;
    this.finish(keep);
  }

  /**
   * The request emitted 'close'. After a failure Node emits it once its socket closed; on a
   * kept-alive response Node emits 'free' right after it. A socket that outlives its request
   * otherwise (an upgrade, CONNECT) keeps the lease until it closes.
   */
  requestClosed(): void {
    if (this.lease === null) return;
    const socket = this.socket!;
    if (socket.destroyed) return this.finish(false);
    const res = this.req.res;
    // Node detaches the response from a socket it is about to free.
    if (res !== null && res.socket === null && !this.req.upgradeOrConnect) return;
    socket.once('close', () => this.finish(false));
  }

  /** Returns the lease (keep) or discards its connection. Idempotent. */
  finish(keep: boolean): void {
    const lease = this.lease;
    if (lease === null) return;
    this.lease = null;
    this.#stopRecording();
    this.socket![kAttempt] = undefined;
    this.owner.untrack(this);
    if (keep) lease.release();
    else lease.destroy();
  }

  /**
   * The reused socket errored (`error`) or ended. Retries if nothing of the response arrived
   * and the request can be replayed; otherwise does nothing and Node reports the failure.
   */
  failedBeforeResponse(error: boolean): void {
    const replay = this.replay ?? this.recorder?.replay();
    this.#stopRecording();
    if (replay === undefined || this.lease === null) return;
    this.replay = undefined;
    const req = this.req;
    const socket = this.socket!;
    if (req.destroyed || req.res !== null || socket._httpMessage !== req || socket.bytesRead !== this.bytesRead || this.owner.destroyed) {
      return;
    }
    detachRequest(req, socket, error);
    const retry = new Attempt(this.owner, req, this.destination, false, replay);
    retry.inheritedTimeout = socket.timeout;
    this.finish(false);
    retry.start();
  }

  /**
   * The replayed output is written. Node frees a socket once the request's last write is done
   * and its response ended; the write it waits for was the first socket's. If the response
   * ended before this write completed, Node will not free this socket: close it instead.
   */
  resent(): void {
    const socket = this.socket;
    const req = this.req;
    if (this.lease === null || socket === null || !req._ended || socket._httpMessage !== req) return;
    // Node detaches the response from a socket it is about to free.
    if (req.res !== null && req.res.socket === null) return;
    socket.destroy();
  }

  #stopRecording(): void {
    if (this.recorder === undefined) return;
    this.recorder.stop();
    this.recorder = undefined;
  }

  #noteKeepAliveHint(socket: AgentSocket, rawHeaders: readonly string[]): boolean {
    const hint = keepAliveHint(rawHeaders);
    if (hint < 0) {
      if (socket[kReuseBefore] !== undefined) socket[kReuseBefore] = undefined;
      return true;
    }
    const ms = hint * 1000;
    const window = ms - Math.min(this.owner.settings.keepAliveHintMargin, ms / 2);
    if (window <= 0) return false;
    socket[kReuseBefore] = performance.now() + window;
    return true;
  }
}
