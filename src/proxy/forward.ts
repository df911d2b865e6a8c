/**
 * `pool.forward`: the engine takes an inbound socket over from Node and moves its bytes to and
 * from a pooled upstream natively. This file holds the JS half: validating, handing the
 * descriptor over (one owner at a time), and turning the engine's report into a result.
 */
import * as net from 'node:net';
import { BerthError, dialError } from '../shared/errors';
import { describe } from '../shared/validate';
import type { Engine, ForwardDone, ForwardFailure } from '../shared/native';
import { sendProxyOption } from './proxy-protocol-options';

/** Options of `pool.forward(socket, destination, options)`. */
export interface ForwardOptions {
  /** Bytes sent upstream before anything the client sends (e.g. the `head` of an HTTP `'connect'` event). */
  head?: Uint8Array;
  /**
   * Bytes written to the client once the upstream is connected, before anything the upstream
   * sends: e.g. `'HTTP/1.1 200 Connection Established\r\n\r\n'` for a CONNECT proxy. Nothing
   * is written when the upstream cannot be connected (see `failReply`).
   */
  reply?: string | Uint8Array;
  /**
   * Written to the client before it is closed when no upstream can be had (the session ends
   * `'connect-failed'`: refused, timed out, `DESTINATION_DENIED`, `NO_HEALTHY_MEMBER`,
   * `ACQUIRE_TIMEOUT`...): e.g. `'HTTP/1.1 502 Bad Gateway\r\n\r\n'` for a CONNECT proxy.
   * A function gets the error (the same BerthError as the result's `error`) and returns the
   * bytes, or undefined for none (as does a function that throws, or returns something else
   * or more than 64 KiB). At most 64 KiB (a TypeError for the bytes form). The engine
   * writes it on the client socket it owns, sends FIN after it and waits (up to 2 s) for the
   * client's own end, so the answer arrives whole. Default: nothing, the client is just closed.
   */
  failReply?: string | Uint8Array | ((error: BerthError) => string | Uint8Array | undefined);
  /** Ends the session (both sockets closed); the result's `end` is then `'aborted'`. */
  signal?: AbortSignal;
  /**
   * Return the upstream connection to the pool when the session ends cleanly: the client
   * closed first, nothing was in flight either way, and the upstream has nothing unread.
   * Otherwise it is closed. Default false. For request/response protocols whose client
   * closes only after the whole reply.
   */
  reuseUpstream?: boolean;
  /**
   * Close both sides once no byte moved in either direction for this many ms (a download to
   * a silent client is not idle); the result's `end` is then `'idle-timeout'`. The wait for an
   * upstream is bounded by it too (and by the pool's `acquireTimeout`). `Infinity` turns it
   * off. Default 60000, as `pool.listen`'s.
   */
  idleTimeout?: number;
  /**
   * Send a PROXY protocol header (`'v1'` text or `'v2'` binary) with the client's addresses
   * (the inbound socket's remote and local address; `UNKNOWN`/`LOCAL` for a Unix socket) to
   * the upstream before any other byte, for a server behind berth that reads it (HAProxy's
   * `accept-proxy`, nginx's `proxy_protocol`). The session then uses a fresh upstream
   * connection, never given back to the pool: not with `reuseUpstream` (a TypeError).
   * Default: none.
   */
  sendProxyProtocol?: 'v1' | 'v2';
}

/** How a forwarded session ended. */
export type ForwardEnd =
  /** The client closed (FIN) first; the rest ended cleanly. */
  | 'client-closed'
  /** The upstream closed first; the rest ended cleanly. */
  | 'upstream-closed'
  /** Reading from or writing to the client failed (reset, broken pipe). */
  | 'client-error'
  /** Reading from or writing to the upstream failed; the client is reset. */
  | 'upstream-error'
  /** No upstream connection: dial failure, or none came free in time (see `error`). */
  | 'connect-failed'
  /** The `signal` aborted the session, or its listener closed. */
  | 'aborted'
  /** Nothing moved either way for `idleTimeout` (or no upstream by then): both sides closed. */
  | 'idle-timeout'
  /** The pool closed under the session. */
  | 'pool-closed';

/** What `pool.forward()` resolves to once the session has ended. */
export interface ForwardResult {
  /** Bytes from the client to the upstream, `head` included. */
  bytesIn: number;
  /** Bytes from the upstream to the client, `reply` included. */
  bytesOut: number;
  /** The upstream connection had served an earlier session. */
  upstreamReused: boolean;
  /** The upstream connection went back to the pool (only with `reuseUpstream`). */
  upstreamReturned: boolean;
  /** From the session's start in the engine (getting an upstream included) to its end, in milliseconds. */
  durationMs: number;
  /** How the session ended (see {@link ForwardEnd}). */
  end: ForwardEnd;
  /** What ended the session, for the `*-error` and `connect-failed` ends. */
  error?: BerthError;
}

const FORWARD_KEYS: ReadonlySet<string> = new Set(['head', 'reply', 'failReply', 'signal', 'reuseUpstream', 'idleTimeout', 'sendProxyProtocol']);

/** The largest `failReply` (bytes): the engine copies it per session. */
export const MAX_FAIL_REPLY = 64 * 1024;

/**
 * A fail reply's bytes: a string (UTF-8) or bytes of at most MAX_FAIL_REPLY; undefined when
 * `value` is not one (`what` names it in the TypeError when `strict`).
 */
export function failReplyBytes(value: unknown, what: string, strict: boolean): Buffer | undefined {
  let bytes: Buffer | undefined;
  if (typeof value === 'string') bytes = Buffer.from(value);
  else if (value instanceof Uint8Array) bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (bytes !== undefined && bytes.length <= MAX_FAIL_REPLY) return bytes;
  if (!strict) return undefined;
  if (bytes !== undefined) throw new TypeError(`${what} must be at most ${MAX_FAIL_REPLY} bytes, got ${bytes.length}`);
  throw new TypeError(`${what} must be a string, Buffer or Uint8Array, got ${describe(value)}`);
}

/** Default `idleTimeout` of forwards and listener sessions (ms), see ForwardOptions. */
export const DEFAULT_IDLE_TIMEOUT = 60_000;

/** An `idleTimeout` option: a number of ms > 0 (Infinity: none), or undefined; else a TypeError. */
export function idleTimeoutOption(kind: 'listen' | 'forward', value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new TypeError(`${kind} option "idleTimeout" must be a number of milliseconds > 0 (or Infinity), got ${describe(value)}`);
  }
  return value;
}

export function checkForwardOptions(options: unknown): ForwardOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`forward options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!FORWARD_KEYS.has(key)) throw new TypeError(`unknown forward option "${key}"`);
  }
  const o = options as ForwardOptions;
  if (o.head !== undefined && !(o.head instanceof Uint8Array)) {
    throw new TypeError(`forward option "head" must be a Buffer or Uint8Array, got ${describe(o.head)}`);
  }
  if (o.reply !== undefined && typeof o.reply !== 'string' && !(o.reply instanceof Uint8Array)) {
    throw new TypeError(`forward option "reply" must be a string, Buffer or Uint8Array, got ${describe(o.reply)}`);
  }
  if (o.failReply !== undefined && typeof o.failReply !== 'function') {
    if (typeof o.failReply !== 'string' && !(o.failReply instanceof Uint8Array)) {
      throw new TypeError(`forward option "failReply" must be a string, Buffer, Uint8Array or function, got ${describe(o.failReply)}`);
    }
    failReplyBytes(o.failReply, 'forward option "failReply"', true);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`forward option "signal" must be an AbortSignal, got ${describe(o.signal)}`);
  }
  if (o.reuseUpstream !== undefined && typeof o.reuseUpstream !== 'boolean') {
    throw new TypeError(`forward option "reuseUpstream" must be a boolean, got ${describe(o.reuseUpstream)}`);
  }
  idleTimeoutOption('forward', o.idleTimeout);
  sendProxyOption('forward', o.sendProxyProtocol, o.reuseUpstream ?? false);
  return o;
}

interface SocketHandle {
  fd?: number;
}

/** The descriptor behind a connected TCP or Unix `net.Socket`, or a TypeError. */
export function checkInbound(inbound: unknown): net.Socket {
  if (!(inbound instanceof net.Socket)) {
    throw new TypeError(`inbound must be a net.Socket, got ${describe(inbound)}`);
  }
  if ('encrypted' in inbound) {
    throw new TypeError('inbound must be a plain TCP or Unix socket: a TLS socket cannot be forwarded natively');
  }
  if (inbound.destroyed || inbound.readableEnded || inbound.writableEnded) {
    throw new TypeError('inbound socket is already ended or destroyed');
  }
  if (inbound.readableEncoding !== null) {
    throw new TypeError('inbound socket has an encoding set (setEncoding): its buffered bytes are no longer bytes');
  }
  return inbound;
}

/**
 * Waits until everything written to `socket` has reached the kernel (a CONNECT proxy may have
 * written its reply just before): the engine writes on its own copy of the descriptor, and
 * bytes still queued in Node would otherwise be lost or reordered.
 */
export async function flushed(socket: net.Socket): Promise<void> {
  if (socket.connecting) {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  }
  // A write's callback runs once every earlier write has completed.
  while (socket.writableLength > 0) {
    await new Promise<void>((resolve, reject) => {
      socket.write(Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
    });
  }
}

/**
 * Moves the socket to the engine: what Node has buffered is read out (it goes upstream after
 * `head`), the engine duplicates the descriptor, and Node's socket is destroyed, which closes
 * only Node's copy (no FIN: the connection stays open on the engine's). Synchronous from the
 * read-out to the destroy, so no byte can arrive in Node in between.
 */
export function handOver(
  engine: Engine,
  socket: net.Socket,
  destination: string,
  head: Uint8Array | undefined,
  reply: Uint8Array | undefined,
  failReply: ForwardOptions['failReply'],
  reuse: boolean,
  idleTimeout: number | undefined,
  sendProxyProtocol: 'v1' | 'v2' | undefined,
  done: (result: ForwardDone, failure: BerthError | undefined) => void,
): number {
  const fd = (socket as unknown as { _handle?: SocketHandle | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new TypeError('inbound socket has no descriptor to take over (not a connected TCP or Unix socket)');
  }
  socket.pause();
  const buffered = socket.readableLength > 0 ? (socket.read() as Buffer | null) : null;
  let first: Buffer | undefined;
  if (head !== undefined && head.length > 0) first = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buffered !== null && buffered.length > 0) first = first === undefined ? buffered : Buffer.concat([first, buffered]);
  const replyBuffer = reply === undefined ? undefined : Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  // The function form: the engine tells the error, JS computes the bytes and hands them back;
  // the engine keeps the client socket and writes them itself (one owner per socket).
  let failure: BerthError | undefined;
  const onFailure =
    typeof failReply === 'function'
      ? (told: ForwardFailure) => {
          failure = dialError(told.code, told.message, destination);
          let bytes: Buffer | undefined;
          try {
            bytes = failReplyBytes(failReply(failure), 'failReply', false);
          } catch {
            // A throwing function answers nothing, as one returning undefined.
          }
          engine.failReply(session, bytes ?? null);
        }
      : undefined;
  const failBytes = typeof failReply === 'function' || failReply === undefined ? undefined : failReplyBytes(failReply, 'failReply', true);
  let session: number;
  try {
    session = engine.forward(
      fd,
      destination,
      first,
      replyBuffer,
      {
        reuseUpstream: reuse,
        idleTimeout: idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
        failReply: failBytes,
        sendProxyProtocol: sendProxyOption('forward', sendProxyProtocol, reuse),
      },
      (result) => done(result, failure),
      onFailure,
    );
  } catch (error) {
    // Nothing was taken: the socket is still the caller's (its buffered bytes put back).
    if (buffered !== null) socket.unshift(buffered);
    throw new BerthError('FORWARD_ERROR', (error as Error).message);
  }
  // Node's copy goes; the engine's stays. The socket may still emit 'close' to listeners.
  socket.destroy();
  return session;
}

/** The session's result; `failure`: the error already given to a `failReply` function (the same object). */
export function toForwardResult(done: ForwardDone, destination: string, failure?: BerthError): ForwardResult {
  const result: ForwardResult = {
    bytesIn: done.bytesIn,
    bytesOut: done.bytesOut,
    upstreamReused: done.upstreamReused,
    upstreamReturned: done.upstreamReturned,
    durationMs: done.durationMs,
    end: done.end as ForwardEnd,
  };
  if (done.code === 'FORWARD_ERROR') {
    result.error = new BerthError('FORWARD_ERROR', done.message ?? 'the forwarded session failed', destination);
  } else if (done.code != null) {
    // No upstream: the dial's (or the wait's) own error.
    result.error = failure ?? dialError(done.code, done.message, destination);
  }
  return result;
}
