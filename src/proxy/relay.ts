/**
 * `pool.forward()` on the Node-dialled path (always on Windows, where the engine cannot take
 * a Node socket over by descriptor): the same session, relayed in JS. The upstream is a lease
 * of the pool (its limits, address policy, groups, connect timeout and stats), and the result
 * is the native relay's: bytes both ways, each side's end of stream passed on as a
 * half-close, `idleTimeout`, `reuseUpstream`, `failReply`, `sendProxyProtocol`, and the same
 * `end` values and error codes.
 */
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { BerthError } from '../shared/errors';
import { binding } from '../shared/native/loader';
import { DEFAULT_IDLE_TIMEOUT, failReplyBytes, type ForwardEnd, type ForwardOptions, type ForwardResult } from './forward';

/** As the engine: how long a client that got a `failReply` has to close before it is closed. */
const FAIL_REPLY_LINGER_MS = 2000;

/** The longest delay setTimeout takes; a longer idle timeout is as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the relay uses of a pool's lease (proxy/ does not import pool/: pool/ imports proxy/). */
export interface Lease {
  readonly socket: net.Socket;
  readonly reused: boolean;
  readonly destination: string;
  readonly group: string | undefined;
  readonly released: boolean;
  release(): void;
  destroy(error?: Error): void;
}

/** What the relay needs of its pool. */
export interface RelayPool {
  /** Leases an upstream of `destination` (the pool's acquire), bounded by `timeout` and `signal`. */
  acquire(destination: string, options: { signal: AbortSignal; timeout?: number }): Promise<Lease>;
  /** The pool is closed (its leases are being destroyed under the session). */
  closed(): boolean;
}

/** The session's outcome, with the group member its upstream belongs to (for diagnostics). */
export interface Relayed {
  readonly result: ForwardResult;
  readonly member: string | undefined;
}

/** `ip:port` / `[v6]:port` of an address Node reports, or undefined (a Unix socket). */
function socketAddress(address: string | undefined, port: number | undefined): string | undefined {
  if (address === undefined || port === undefined) return undefined;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Relays `inbound` to an upstream of `destination` until both sides end, one fails, the
 * idle timeout passes or `options.signal` aborts; resolves once with the result (never
 * rejects). From the call on the relay owns `inbound`.
 */
export async function relay(pool: RelayPool, inbound: net.Socket, destination: string, options: ForwardOptions): Promise<Relayed> {
  const began = performance.now();
  const idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
  const timed = Number.isFinite(idleTimeout) && idleTimeout < MAX_TIMER_MS;
  // Nothing the client sends is read before the upstream is there; its errors meanwhile end
  // the session once it starts (or are seen as a closed client).
  inbound.pause();
  let clientError: Error | undefined;
  const onEarlyError = (error: Error): void => {
    clientError ??= error;
  };
  inbound.on('error', onEarlyError);
  // Each side's FIN is passed on as a half-close: neither socket may end its own writing on
  // the peer's end (Node's default for a socket that does not allow half-open).
  inbound.allowHalfOpen = true;

  const result = (end: ForwardEnd, bytesIn: number, bytesOut: number, extra: Partial<ForwardResult> = {}): ForwardResult => ({
    bytesIn,
    bytesOut,
    upstreamReused: false,
    upstreamReturned: false,
    durationMs: performance.now() - began,
    end,
    ...extra,
  });

  // ---- the upstream ---------------------------------------------------------------------
  const stop = new AbortController();
  const waitTimer = timed ? setTimeout(() => stop.abort('idle-timeout'), idleTimeout) : undefined;
  const onAbort = (): void => stop.abort('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let lease: Lease | undefined;
  let failure: unknown;
  try {
    lease = await pool.acquire(destination, { signal: stop.signal });
    // A PROXY protocol header must be a connection's first bytes: a fresh upstream only.
    while (options.sendProxyProtocol !== undefined && lease.reused) {
      lease.destroy();
      lease = await pool.acquire(destination, { signal: stop.signal });
    }
  } catch (error) {
    failure = error;
  } finally {
    clearTimeout(waitTimer);
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (lease === undefined) {
    inbound.off('error', onEarlyError);
    if (stop.signal.aborted) {
      inbound.destroy();
      return { result: result(stop.signal.reason === 'idle-timeout' ? 'idle-timeout' : 'aborted', 0, 0), member: undefined };
    }
    if ((failure as BerthError).code === 'POOL_CLOSED' || pool.closed()) {
      inbound.destroy();
      return { result: result('pool-closed', 0, 0), member: undefined };
    }
    const error = failure instanceof BerthError ? failure : new BerthError('CONNECT_FAILED', String((failure as Error)?.message ?? failure), destination);
    const sent = await sendFailReply(inbound, options.failReply, error);
    return { result: result('connect-failed', 0, sent, { error }), member: undefined };
  }
  const member = lease.group === undefined ? undefined : lease.destination;
  return { result: await pipe(lease, inbound, options, idleTimeout, timed, pool, result, clientError), member };
}

/**
 * Writes the fail reply (if any), ends the client and waits (bounded) for its own end; the
 * reply's length (counted in `bytesOut`, as the engine counts it).
 */
async function sendFailReply(inbound: net.Socket, failReply: ForwardOptions['failReply'], error: BerthError): Promise<number> {
  let bytes: Buffer | undefined;
  if (typeof failReply === 'function') {
    try {
      bytes = failReplyBytes(failReply(error), 'failReply', false);
    } catch {
      // A throwing function answers nothing, as one returning undefined.
    }
  } else if (failReply !== undefined) {
    bytes = failReplyBytes(failReply, 'failReply', true);
  }
  if (bytes === undefined || inbound.destroyed) {
    inbound.destroy();
    return 0;
  }
  inbound.on('error', ignore);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, FAIL_REPLY_LINGER_MS);
    function done(): void {
      clearTimeout(timer);
      inbound.destroy();
      resolve();
    }
    inbound.once('end', done);
    inbound.once('close', done);
    inbound.end(bytes);
    inbound.resume();
  });
  return bytes.length;
}

function ignore(): void {}

/** Moves bytes both ways between the client and the leased upstream until the session ends. */
function pipe(
  lease: Lease,
  inbound: net.Socket,
  options: ForwardOptions,
  idleTimeout: number,
  timed: boolean,
  pool: RelayPool,
  result: (end: ForwardEnd, bytesIn: number, bytesOut: number, extra?: Partial<ForwardResult>) => ForwardResult,
  earlyError: Error | undefined,
): Promise<ForwardResult> {
  const upstream = lease.socket;
  const upstreamHalfOpen = upstream.allowHalfOpen;
  upstream.allowHalfOpen = true;
  let bytesIn = 0;
  let bytesOut = 0;
  let first: 'client-closed' | 'upstream-closed' | undefined;
  let clientEnded = false;
  let upstreamEnded = false;
  let finished = false;
  let idleTimer: NodeJS.Timeout | undefined;

  return new Promise<ForwardResult>((resolve) => {
    const finish = (end: ForwardEnd, error?: BerthError, returned = false): void => {
      if (finished) return;
      finished = true;
      clearTimeout(idleTimer);
      options.signal?.removeEventListener('abort', onAbort);
      inbound.off('data', onClientData);
      inbound.off('end', onClientEnd);
      inbound.off('close', onClientClose);
      upstream.off('data', onUpstreamData);
      upstream.off('end', onUpstreamEnd);
      upstream.off('close', onUpstreamClose);
      upstream.off('error', onUpstreamError);
      upstream.off('drain', onUpstreamDrain);
      upstream.off('finish', onUpstreamFinished);
      inbound.off('drain', onClientDrain);
      inbound.on('error', ignore);
      if (!lease.released) {
        if (returned) {
          upstream.allowHalfOpen = upstreamHalfOpen;
          lease.release();
        } else {
          upstream.on('error', ignore);
          lease.destroy();
        }
      }
      const reused = lease.reused;
      const settle = (end: ForwardEnd, error: BerthError | undefined): void =>
        resolve(result(end, bytesIn, bytesOut, { upstreamReused: reused, upstreamReturned: returned, ...(error === undefined ? {} : { error }) }));
      if (end === 'upstream-error') inbound.resetAndDestroy();
      else if (end === 'client-closed' || end === 'upstream-closed') {
        // Everything written reaches the client before its socket closes; a client that
        // reset meanwhile (its reset may have read as an end of stream) fails that, as the
        // native relay's write or shutdown would.
        if (!inbound.writableEnded) inbound.end();
        const closed = (): void => {
          inbound.off('finish', flushed);
          settle('client-error', forwardError(inbound.errored ?? new Error('the client reset the connection'), 'client'));
        };
        const flushed = (): void => {
          inbound.off('close', closed);
          inbound.destroy();
          settle(end, error);
        };
        if (inbound.writableFinished) return flushed();
        if (inbound.destroyed) return closed();
        inbound.once('finish', flushed);
        inbound.once('close', closed);
        return;
      } else inbound.destroy();
      settle(end, error);
    };
    const forwardError = (error: unknown, side: string): BerthError =>
      new BerthError('FORWARD_ERROR', `${side}: ${(error as Error)?.message ?? String(error)}`, lease.destination);

    const touch = (): void => {
      if (timed) idleTimer?.refresh();
    };
    const onClientData = (chunk: Buffer): void => {
      bytesIn += chunk.length;
      touch();
      if (!upstream.write(chunk)) inbound.pause();
    };
    const onUpstreamData = (chunk: Buffer): void => {
      bytesOut += chunk.length;
      touch();
      if (!inbound.write(chunk)) upstream.pause();
    };
    const onUpstreamDrain = (): void => {
      inbound.resume();
    };
    const onClientDrain = (): void => {
      upstream.resume();
    };
    const bothEnded = (): void => {
      if (!clientEnded || !upstreamEnded) return;
      // Everything the client sent reaches the upstream before it is closed: its end() was
      // called at the client's end of stream, and 'finish' comes once the last byte and the
      // FIN are handed to the system. (A socket destroyed earlier drops what it still had
      // queued: the tail of what the client sent.) A reset meanwhile ends it as an error.
      if (upstream.writableFinished) return finish(first!);
      upstream.once('finish', onUpstreamFinished);
    };
    const onUpstreamFinished = (): void => finish(first!);
    const onClientEnd = (): void => {
      clientEnded = true;
      first ??= 'client-closed';
      // With reuseUpstream, a client that closes first with nothing in flight either way
      // returns the upstream (its FIN is not passed on: that would end the upstream too).
      if (options.reuseUpstream === true && first === 'client-closed' && !upstreamEnded && upstream.writableLength === 0 && upstream.readableLength === 0) {
        return finish('client-closed', undefined, true);
      }
      upstream.end();
      bothEnded();
    };
    const onUpstreamEnd = (): void => {
      upstreamEnded = true;
      first ??= 'upstream-closed';
      inbound.end();
      bothEnded();
    };
    const onClientClose = (): void => {
      if (finished) return;
      // Both ways done (its end of stream read, ours written): a clean close while the
      // upstream still flushes what the client sent (bothEnded waits for that).
      if (clientEnded && inbound.writableFinished && inbound.errored === null) return;
      // Closed without both ends seen: a reset, or destroyed under the session.
      finish('client-error', forwardError(inbound.errored ?? new Error('the client closed'), 'client'));
    };
    const onUpstreamClose = (): void => {
      if (finished) return;
      if (pool.closed()) return finish('pool-closed');
      finish('upstream-error', forwardError(upstream.errored ?? new Error('the upstream closed'), 'upstream'));
    };
    const onUpstreamError = (): void => {
      // 'close' follows and decides.
    };
    const onAbort = (): void => finish('aborted');

    if (earlyError !== undefined || inbound.destroyed) {
      return finish('client-error', forwardError(earlyError ?? new Error('the client closed'), 'client'));
    }
    if (options.signal?.aborted) return finish('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (timed) idleTimer = setTimeout(() => finish('idle-timeout'), idleTimeout);
    upstream.on('error', onUpstreamError);
    upstream.on('close', onUpstreamClose);
    inbound.on('close', onClientClose);
    if (options.sendProxyProtocol !== undefined) {
      const header = binding.proxyProtocolHeader(
        options.sendProxyProtocol === 'v1' ? 1 : 2,
        socketAddress(inbound.remoteAddress, inbound.remotePort) ?? null,
        socketAddress(inbound.localAddress, inbound.localPort) ?? null,
      );
      if (header != null) upstream.write(header);
    }
    if (options.head !== undefined && options.head.length > 0) {
      bytesIn += options.head.length;
      upstream.write(options.head);
    }
    if (options.reply !== undefined) {
      const reply = typeof options.reply === 'string' ? Buffer.from(options.reply) : options.reply;
      bytesOut += reply.length;
      inbound.write(reply);
    }
    upstream.on('drain', onUpstreamDrain);
    inbound.on('drain', onClientDrain);
    inbound.on('data', onClientData);
    upstream.on('data', onUpstreamData);
    inbound.on('end', onClientEnd);
    upstream.on('end', onUpstreamEnd);
    inbound.resume();
    upstream.resume();
  });
}
