/**
 * Setting up a new connection before it counts as pooled: the user's handshake, then TLS
 * (Node's own `tls.connect` over the engine-dialed socket, so that every TLS option and the
 * user's CA configuration work unchanged), all within `handshakeTimeout`.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { BerthError } from '../shared/errors';
import type { ConnectRecipe } from './connect-options';

/** TLS sessions to resume, one per destination and profile, least recently stored dropped first. */
export class SessionCache {
  readonly #max: number;
  readonly #sessions = new Map<string, Buffer>();

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string): Buffer | undefined {
    return this.#sessions.get(key);
  }

  set(key: string, session: Buffer): void {
    if (this.#max === 0) return;
    this.#sessions.delete(key);
    this.#sessions.set(key, session);
    if (this.#sessions.size > this.#max) this.#sessions.delete(this.#sessions.keys().next().value!);
  }

  /** A session that failed to resume, or whose server refused it, is not offered again. */
  delete(key: string): void {
    this.#sessions.delete(key);
  }
}

/** What a finished handshake leaves. */
export interface Handshaken {
  /** The socket to pool: the TLS socket, what the user's handshake returned, or the raw one. */
  readonly socket: net.Socket;
  /** With TLS: whether the session was resumed (no full handshake). */
  readonly resumed: boolean | undefined;
}

export interface HandshakeJob {
  readonly raw: net.Socket;
  readonly recipe: ConnectRecipe;
  /** The destination as passed to acquire (for messages and the user's handshake). */
  readonly destination: string;
  readonly timeout: number;
  readonly sessions: SessionCache;
  /** Aborted by the pool (closed): the handshake stops and fails with its reason. */
  readonly signal: AbortSignal;
}

/**
 * Runs the recipe on `raw`. Rejects with a BerthError (`HANDSHAKE_FAILED`, `TLS_FAILED`,
 * `HANDSHAKE_TIMEOUT`, or the pool's abort reason) after destroying every socket it made;
 * the caller destroys `raw`.
 */
export async function handshake(job: HandshakeJob): Promise<Handshaken> {
  const { recipe, destination } = job;
  const controller = new AbortController();
  const onPoolAbort = () => controller.abort(job.signal.reason);
  job.signal.addEventListener('abort', onPoolAbort, { once: true });
  const timer = setTimeout(() => {
    controller.abort(new BerthError('HANDSHAKE_TIMEOUT', `the connection handshake with ${destination} took longer than ${job.timeout} ms`, destination));
  }, job.timeout);
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  // Settled either way; keeps a late abort from being an unhandled rejection.
  aborted.catch(() => {});
  let stream: net.Socket = job.raw;
  let secure: tls.TLSSocket | undefined;
  try {
    if (recipe.handshake !== undefined) {
      let result: net.Socket | void;
      try {
        result = await Promise.race([Promise.resolve().then(() => recipe.handshake!(job.raw, { destination, signal: controller.signal })), aborted]);
      } catch (error) {
        if (controller.signal.aborted && error === controller.signal.reason) throw error;
        throw new BerthError('HANDSHAKE_FAILED', `the connection handshake with ${destination} failed: ${messageOf(error)}`, destination, { cause: error });
      }
      if (result !== undefined && result !== null) {
        if (!(result instanceof net.Socket)) {
          throw new BerthError('HANDSHAKE_FAILED', `the connection handshake with ${destination} resolved to something other than a net.Socket`, destination);
        }
        stream = result;
      }
      if (stream.destroyed) throw new BerthError('HANDSHAKE_FAILED', `the connection to ${destination} closed during its handshake`, destination);
    }
    if (recipe.tls !== undefined) {
      const key = `${destination}\0${recipe.profile}`;
      secure = connectTls(stream, recipe, destination, job.sessions, key);
      try {
        await Promise.race([secureConnected(secure), aborted]);
      } catch (error) {
        if (controller.signal.aborted && error === controller.signal.reason) throw error;
        job.sessions.delete(key);
        throw new BerthError('TLS_FAILED', `TLS with ${destination} failed: ${messageOf(error)}`, destination, { cause: error });
      }
      return { socket: secure, resumed: secure.isSessionReused() };
    }
    // Handed out as a fresh socket is: paused, with no reader (a handshake that read left it
    // paused or flowing).
    if (stream.readableFlowing !== null) {
      stream.pause();
      (stream as { readableFlowing: boolean | null }).readableFlowing = null;
    }
    return { socket: stream, resumed: undefined };
  } catch (error) {
    for (const made of [secure, stream === job.raw ? undefined : stream]) {
      if (made === undefined) continue;
      // Nobody listens to these any more: a late error must not crash the process.
      made.on('error', ignore);
      made.destroy();
    }
    throw error;
  } finally {
    clearTimeout(timer);
    job.signal.removeEventListener('abort', onPoolAbort);
  }
}

function connectTls(stream: net.Socket, recipe: ConnectRecipe, destination: string, sessions: SessionCache, key: string): tls.TLSSocket {
  const host = hostOf(destination);
  const options: tls.ConnectionOptions = { ...recipe.tls, socket: stream };
  // The name checked against the certificate: the destination's host (tls.connect falls back
  // to 'localhost' without one), and sent as SNI unless it is an address.
  if (host !== undefined) options.host = host;
  if (options.servername === undefined && host !== undefined && net.isIP(host) === 0) options.servername = host;
  const session = sessions.get(key);
  if (session !== undefined) options.session = session;
  const socket = tls.connect(options);
  // TLS 1.3 sends tickets after the handshake: kept as they come, for the next connection.
  socket.on('session', (ticket: Buffer) => sessions.set(key, ticket));
  return socket;
}

function secureConnected(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onSecure = () => done();
    const onError = (error: Error) => done(error);
    const onClose = () => done(Object.assign(new Error('the connection closed during the TLS handshake'), { code: 'ECONNRESET' }));
    socket.once('secureConnect', onSecure);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/** The host of `host:port` or `[v6]:port`; undefined for a Unix socket. */
function hostOf(destination: string): string | undefined {
  if (destination.startsWith('unix:')) return undefined;
  if (destination.startsWith('[')) {
    const end = destination.indexOf(']');
    return end > 0 ? destination.slice(1, end) : undefined;
  }
  const colon = destination.lastIndexOf(':');
  return colon > 0 ? destination.slice(0, colon) : undefined;
}

function ignore(): void {}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
