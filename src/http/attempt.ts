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
import type * as http from 'node:http';
import { groupNameOf } from '../pool/group-options';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { discardExpiredLease, type Lease } from '../pool/lease';
import type { Pool, PoolAcquireOptions } from '../pool/pool';
import { BerthError } from '../shared/errors';
import { requestError } from './errors';
import { FreeList } from './free-list';
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

/** The parts of http.Agent an attempt calls (the user may have overridden them). */
interface AgentMethods {
  keepSocketAlive(socket: Duplex): unknown;
  reuseSocket(socket: Duplex, req: http.ClientRequest): void;
  emit(event: 'free', socket: net.Socket, options: object): boolean;
}

/** What an attempt needs from its agent. */
export interface AttemptOwner {
  readonly agent: AgentMethods;
  readonly pool: Pool;
  readonly settings: ResolvedHttpAgentOptions;
  readonly destroyed: boolean;
  /** The agent made its pool: nobody else leases its connections. */
  readonly ownsPool: boolean;
  /** The attempt holds a lease. */
  track(attempt: Attempt): void;
  untrack(attempt: Attempt): void;
  /** The attempt waits for a lease. */
  trackPending(attempt: Attempt): void;
  untrackPending(attempt: Attempt): void;
  /** The socket went back to the pool after a request made with `options`. */
  freed(socket: net.Socket, options: object): void;
  /** What to pass to `pool.acquire` for a request made with `options` (none: plain TCP). */
  acquireOptions(options: object): PoolAcquireOptions | undefined;
}

const kAttempt = Symbol('berth.httpAttempt');
const kReuseBefore = Symbol('berth.httpReuseBefore');
const kCarried = Symbol('berth.httpCarriedClose');

interface AgentRequest extends RequestInternals {
  /** The request's current attempt. */
  [kAttempt]?: Attempt | undefined;
}

interface AgentSocket extends net.Socket, SocketInternals {
  /** The attempt that holds this socket's lease. */
  [kAttempt]?: Attempt | undefined;
  /** performance.now() after which the server's Keep-Alive hint says it may have closed it. */
  [kReuseBefore]?: number | undefined;
  /** 'close' listeners requests added: put back each time the pool drops them on release. */
  [kCarried]?: Function[] | undefined;
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

/** An idle connection's timeout (the agent's `timeout`, or what `keepSocketAlive` set): closed. */
function onIdleTimeout(this: AgentSocket): void {
  if (FreeList.has(this)) this.destroy();
}

/**
 * A new connection is connected before a request gets it; http.Agent's is not, and code listens
 * for its 'connect' on the request's 'socket' event: emitted then, for those listeners only.
 */
function emitConnect(socket: AgentSocket): void {
  if (!socket.destroyed && socket.listenerCount('connect') > 0) socket.emit('connect');
}

export class Attempt {
  readonly owner: AttemptOwner;
  readonly req: AgentRequest;
  /** The request's options, as Node passed them to `addRequest` (its name in the agent's views). */
  readonly options: object;
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
  /** Index in the agent's list of attempts waiting for a lease, or -1. */
  pendingSlot = -1;
  /** Set by `createSocket`'s default: the lease's socket goes there instead of to the request. */
  deliverTo: ((err: Error | null, socket?: Duplex) => void) | undefined = undefined;
  /** The lease whose socket went to `deliverTo`, until the callback comes back with it. */
  delivered: Lease | null = null;
  /** 'close' listeners on the socket when the request got it. */
  closeListeners = 0;
  /** A retry's socket timeout: what the failed socket had (set through `req.setTimeout()`, say). */
  inheritedTimeout: number | undefined = undefined;

  constructor(owner: AttemptOwner, req: RequestInternals, options: object, destination: string, retryable: boolean, resend?: Replay) {
    this.owner = owner;
    this.req = req;
    this.options = options;
    this.destination = destination;
    this.retryable = retryable;
    this.resend = resend;
    if (resend === undefined) this.req.on('close', onRequestClose);
    this.req[kAttempt] = this;
  }

  /** The request's attempt, if an agent of berth's has it. */
  static of(req: RequestInternals): Attempt | undefined {
    return (req as AgentRequest)[kAttempt];
  }

  start(): void {
    if (this.pendingSlot < 0) this.owner.trackPending(this);
    // A group connects as the group says (its own tls): the request's connect options do not apply.
    const options = groupNameOf(this.destination) !== undefined ? undefined : this.owner.acquireOptions(this.options);
    const acquired = options === undefined ? this.owner.pool.acquire(this.destination) : this.owner.pool.acquire(this.destination, options);
    acquired.then(
      (lease) => this.leased(lease),
      (error: unknown) => {
        this.owner.untrackPending(this);
        this.#fail(requestError(error));
      },
    );
  }

  /** No connection for the request: the error goes to `createSocket`'s caller, or to the request. */
  #fail(error: Error): void {
    const deliver = this.deliverTo;
    if (deliver !== undefined) {
      this.deliverTo = undefined;
      deliver(error);
    } else {
      this.req.onSocket(null, error);
    }
  }

  leased(lease: Lease): void {
    const socket = lease.socket as AgentSocket;
    if (this.owner.destroyed) {
      this.owner.untrackPending(this);
      lease.release();
      this.#fail(new BerthError('POOL_CLOSED', 'the HTTP agent was destroyed', this.destination));
      return;
    }
    if (this.req.destroyed && this.resend === undefined) {
      // Aborted while it waited: Node reports the abort once it is given no socket. A new
      // connection nobody asked for since is closed (a server's close() would wait for it).
      this.owner.untrackPending(this);
      if (lease.reused && !socket.destroyed) lease.release();
      else lease.destroy();
      this.req.onSocket(null);
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
    this.owner.untrackPending(this);
    const deliver = this.deliverTo;
    if (deliver !== undefined) {
      this.deliverTo = undefined;
      this.delivered = lease;
      deliver(null, socket);
      return;
    }
    this.bind(lease, socket);
  }

  /**
   * An overridden `createSocket` called back: with the pooled socket it was given (bound as
   * usual), an error (the request fails with it), or a socket of its own (the request uses it,
   * outside the pool; a lease it was given goes back).
   */
  created(err: Error | null | undefined, socket: Duplex | undefined): void {
    const lease = this.delivered;
    this.delivered = null;
    this.deliverTo = undefined;
    if (lease !== null && !err && socket === lease.socket) {
      this.bind(lease, lease.socket as AgentSocket);
      return;
    }
    if (lease !== null) {
      if (err) lease.destroy();
      else lease.release();
    }
    if (err) this.req.onSocket(null, err);
    else if (socket !== undefined && socket !== null) this.req.onSocket(socket as net.Socket);
    else this.req.onSocket(null, new TypeError('createSocket() called back with neither an error nor a socket'));
  }

  bind(lease: Lease, socket: AgentSocket): void {
    const req = this.req;
    this.lease = lease;
    this.socket = socket;
    socket[kAttempt] = this;
    FreeList.remove(socket);
    socket.on('free', onFree);
    this.closeListeners = socket.listenerCount('close');
    if (lease.reused) {
      this.owner.agent.reuseSocket(socket, req as unknown as http.ClientRequest);
    } else {
      req.reusedSocket = false;
      const keepAliveMsecs = this.owner.settings.keepAliveMsecs;
      if (keepAliveMsecs !== undefined) socket.setKeepAlive(true, keepAliveMsecs);
    }
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
    // An idle timeout set while it sat in the pool does not apply to a request.
    else if (socket.timeout !== undefined && socket.timeout !== 0) socket.setTimeout(0);
    this.owner.track(this);
    if (this.resend === undefined) {
      req.onSocket(socket);
      // After Node's tick that emits the request's 'socket'.
      if (!lease.reused) process.nextTick(emitConnect, socket);
    } else {
      restoreOutput(req, this.resend, () => this.resent());
      rebind(req, socket);
    }
  }

  /** Node emitted 'free': the response is complete (or the request never used the socket). */
  freed(): void {
    const socket = this.socket!;
    const req = this.req;
    const owner = this.owner;
    let keep = owner.settings.keepAlive && !socket.destroyed && socket.writable;
    if (socket._httpMessage === req) {
      keep &&= req.shouldKeepAlive;
      if (keep && req.res !== null) keep = this.#noteKeepAliveHint(socket, req.res.rawHeaders);
    }
    // Node frees the parser when the response completes; one still attached means it did not.
    if (socket.parser !== null && socket.parser !== undefined) keep = false;
    // Asked while the request is still on the socket, as http.Agent asks it.
    if (keep) keep = Boolean(owner.agent.keepSocketAlive(socket));
    // As Node's Agent does on 'free'.
    if (socket._httpMessage === req) socket._httpMessage = null;
    if (!keep) {
      this.finish(false);
    } else {
      const idle = socket.timeout ?? 0;
      const carried = this.#carryCloseListeners(socket);
      this.finish(true);
      // The pool clears the timeout and the listeners the lease added; what applies to an idle
      // connection is put back.
      if (!socket.destroyed) {
        owner.freed(socket, this.options);
        // Only on a pool of the agent's own: on a shared one other code may lease it next, and
        // gets it clean (the pool's idleTimeout applies to idle connections there).
        if (idle > 0 && owner.ownsPool) {
          socket.setTimeout(idle);
          if (!socket.listeners('timeout').includes(onIdleTimeout)) socket.on('timeout', onIdleTimeout);
        }
        if (carried !== undefined) {
          const present = socket.rawListeners('close');
          for (const listener of carried) if (!present.includes(listener)) socket.on('close', listener as () => void);
        }
      }
    }
    owner.agent.emit('free', socket, this.options);
  }

  /**
   * 'close' listeners the request (or its user) added to the socket, which http.Agent's sockets
   * keep until they close: the pool removes them on release, so they are put back after.
   */
  #carryCloseListeners(socket: AgentSocket): Function[] | undefined {
    let carried = socket[kCarried];
    if (socket.listenerCount('close') > this.closeListeners) {
      const added = socket.rawListeners('close').slice(this.closeListeners);
      carried = carried === undefined ? added : [...new Set([...carried, ...added])];
      socket[kCarried] = carried;
    }
    return carried;
  }

  /**
   * The request emitted 'close'. After a failure Node emits it once its socket closed; on a
   * kept-alive response Node emits 'free' right after it. A socket that outlives its request
   * otherwise (an upgrade, CONNECT) keeps the lease until it closes.
   */
  requestClosed(): void {
    if (this.lease === null) return;
    const socket = this.socket!;
    const res = this.req.res;
    // Node detaches the response from a socket it is about to free (even a destroyed one).
    if (res !== null && res.socket === null && !this.req.upgradeOrConnect && socket._httpMessage === this.req) return;
    if (socket.destroyed) return this.finish(false);
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
    const retry = new Attempt(this.owner, req, this.options, this.destination, false, replay);
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
