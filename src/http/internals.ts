/**
 * The parts of Node's HTTP client (lib/_http_client.js, _http_outgoing.js, _http_common.js)
 * that the agent relies on, in one place: the fields of a ClientRequest and of its socket that
 * Node's own Agent reads and resets, and what it takes to move a request that has not seen a
 * byte of its response from one socket to another. Stable across Node 18–24.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';

/** One buffered write of a ClientRequest (`req.outputData`), before it has a socket. */
interface OutputChunk {
  data: string | Uint8Array | null;
  encoding: BufferEncoding | null | undefined;
  callback: ((error?: Error | null) => void) | null | undefined;
}

/** What the agent uses of a ClientRequest beyond its public type. */
export interface RequestInternals {
  method: string;
  on(event: 'close', listener: (this: RequestInternals) => void): unknown;
  /** Hands the request its socket, or fails it with `err` ('error' then 'close'). */
  onSocket(socket: net.Socket | null, err?: Error): void;
  socket: net.Socket | null;
  reusedSocket: boolean;
  destroyed: boolean;
  /** `end()` was called: everything the request will write is known. */
  finished: boolean;
  /** The response ended (set by Node before it frees the socket). */
  _ended: boolean;
  shouldKeepAlive: boolean;
  upgradeOrConnect: boolean;
  timeout: number | undefined;
  timeoutCb: unknown;
  res: http.IncomingMessage | null;
  parser: unknown;
  outputData: OutputChunk[] | undefined;
  outputSize: number;
  _finish(): void;
  /** Writes to the socket, or buffers in `outputData` (every write of the request goes through it). */
  _writeRaw(data: string | Uint8Array, encoding?: unknown, callback?: unknown, size?: unknown): boolean;
}

/** What the agent uses of a socket that Node's HTTP client works on. */
export interface SocketInternals {
  _httpMessage: unknown;
  parser: unknown;
}

type FreeParser = (parser: unknown, req: unknown, socket: unknown) => void;

/** Node's own parser release (the same as on every completed response); a no-op if unavailable. */
const freeParser: FreeParser = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const common = require('_http_common') as { freeParser?: FreeParser };
    if (typeof common.freeParser === 'function') return common.freeParser;
  } catch {
    // fall through
  }
  return (_parser, req, socket) => {
    if (req !== null && typeof req === 'object') (req as { parser: unknown }).parser = null;
    if (socket !== null && typeof socket === 'object') (socket as { parser: unknown }).parser = null;
  };
})();

/** A request's complete output, copied before it is written (Node nulls the chunks as it writes). */
export type Replay = readonly (string | Uint8Array | BufferEncoding | null | undefined)[];

/**
 * Copies what a finished request (`end()` called, no socket yet) will write, or returns
 * undefined when there is nothing to copy. Pairs of data, encoding.
 */
export function snapshotOutput(req: RequestInternals): Replay | undefined {
  const out = req.outputData;
  if (out === undefined || out.length === 0) return undefined;
  const copy: (string | Uint8Array | BufferEncoding | null | undefined)[] = new Array(out.length * 2);
  for (let i = 0; i < out.length; i++) {
    const chunk = out[i]!;
    if (chunk.data === null) return undefined;
    copy[2 * i] = chunk.data;
    copy[2 * i + 1] = chunk.encoding;
  }
  return copy;
}

/** Output recorded beyond this is not kept: such a request is not retried. */
const MAX_RECORDED = 1024 * 1024;

/**
 * Records what a request that is not finished yet (`end()` not called when it got its socket,
 * as got and axios do) writes from now on, so that it can be replayed on another socket if the
 * reused one fails before the response: what it had buffered, then every `_writeRaw` (through
 * which Node sends headers and body). Shadows `_writeRaw` on the request until `stop()`.
 */
export class OutputRecorder {
  readonly #req: RequestInternals;
  readonly #chunks: (string | Uint8Array | BufferEncoding | null | undefined)[] = [];
  #size = 0;
  #complete = true;

  constructor(req: RequestInternals) {
    this.#req = req;
    for (const chunk of req.outputData ?? []) {
      if (chunk.data === null) this.#complete = false;
      else this.#add(chunk.data, chunk.encoding);
    }
    const recorder = this;
    const original = req._writeRaw;
    req._writeRaw = function recordedWriteRaw(this: RequestInternals, data, encoding, callback, size) {
      recorder.#add(data, typeof encoding === 'string' ? (encoding as BufferEncoding) : null);
      return original.call(this, data, encoding, callback, size);
    };
  }

  #add(data: string | Uint8Array, encoding: BufferEncoding | null | undefined): void {
    if (!this.#complete) return;
    this.#size += data.length;
    if (this.#size > MAX_RECORDED) {
      this.#complete = false;
      this.#chunks.length = 0;
      return;
    }
    // A copy: the caller may reuse its buffer once the write is done.
    this.#chunks.push(typeof data === 'string' ? data : Buffer.from(data), encoding);
  }

  /** Everything the request wrote, if it is finished and all of it was recorded. */
  replay(): Replay | undefined {
    if (!this.#complete || !this.#req.finished || this.#chunks.length === 0) return undefined;
    return this.#chunks.slice();
  }

  stop(): void {
    delete (this.#req as { _writeRaw?: unknown })._writeRaw;
  }
}

/**
 * Puts a replay back as the request's pending output, so that binding the request to a new
 * socket writes it again. The write callbacks already ran (or run) on the first socket; the last
 * chunk gets `onWritten` instead.
 */
export function restoreOutput(req: RequestInternals, replay: Replay, onWritten: () => void): void {
  const out: OutputChunk[] = [];
  let size = 0;
  for (let i = 0; i < replay.length; i += 2) {
    const data = replay[i] as string | Uint8Array;
    out.push({ data, encoding: replay[i + 1] as BufferEncoding | null | undefined, callback: null });
    size += data.length;
  }
  out[out.length - 1]!.callback = onWritten;
  req.outputData = out;
  req.outputSize = size;
}

/**
 * Stands in for a request on a socket it was moved off: Node's socket listeners that still run
 * read `socket._httpMessage` and find a request that has already failed, so they emit nothing.
 */
function detachedRequest(): object {
  return {
    res: null,
    socket: { _hadError: true },
    finished: true,
    destroyed: true,
    _closed: true,
    outputData: undefined,
    emit: () => false,
  };
}

/**
 * Takes a request off its socket before any response byte arrived, from inside the socket's
 * 'error' (`onError`) or 'end' event, before Node's listener for it runs. Frees its parser, and
 * leaves the socket so that Node's listeners report nothing:
 * - on 'error', Node's listener skips a socket without a request (`_httpMessage` null), and its
 *   'close' listener, which would not, is removed (found by its name, stable since Node 0.x;
 *   if it is not found, a stand-in request is left instead);
 * - on 'end', Node's 'end' and 'close' listeners get the stand-in.
 */
export function detachRequest(req: RequestInternals, socket: net.Socket & SocketInternals, onError: boolean): void {
  const parser = socket.parser;
  let stand: object | null = detachedRequest();
  if (onError) {
    for (const listener of socket.listeners('close')) {
      if ((listener as { name?: string }).name === 'socketCloseListener') {
        socket.removeListener('close', listener as () => void);
        stand = null;
      }
    }
  }
  socket._httpMessage = stand;
  if (parser !== null && parser !== undefined) freeParser(parser, req, socket);
  socket.parser = null;
  req.parser = null;
  req.socket = null;
  // Node delegates a socket's 'timeout' to the request once per request (`timeoutCb` marks it
  // done): clear the mark so that the next socket's timeouts reach the request too.
  req.timeoutCb = null;
}

function noFinish(): void {}

function unshadowFinish(req: RequestInternals): void {
  delete (req as { _finish?: unknown })._finish;
}

/**
 * Binds a request to its second socket. Node would run the request's `_finish()` again (a
 * second 'prefinish' and, with diagnostics_channel subscribers, a second request start): it is
 * shadowed for the duration of the bind, which Node does on the next tick.
 */
export function rebind(req: RequestInternals, socket: net.Socket): void {
  req._finish = noFinish;
  req.onSocket(socket);
  process.nextTick(unshadowFinish, req);
}

const HINT = /(?:^|[\s,;])timeout\s*=\s*(\d+)/i;

/**
 * The server's `Keep-Alive: timeout=N` hint in seconds, read from the raw headers (cheaper than
 * building `res.headers`), or -1 when there is none.
 */
export function keepAliveHint(rawHeaders: readonly string[]): number {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // 'k' or 'K' first: skips Connection (also 10 long) without lower-casing it.
    if (name.length === 10 && (name.charCodeAt(0) | 0x20) === 0x6b && name.toLowerCase() === 'keep-alive') {
      const match = HINT.exec(rawHeaders[i + 1] ?? '');
      if (match !== null) return Number(match[1]);
    }
  }
  return -1;
}
