/** The pool destination a request goes to, from the options Node's ClientRequest passes to its agent. */
import * as path from 'node:path';

/** The request options the agent reads (Node has filled in `host` and `port`). */
export interface RequestTarget {
  host?: string | null | undefined;
  port?: number | string | null | undefined;
  socketPath?: string | undefined;
  protocol?: string | null | undefined;
  localAddress?: string | undefined;
}

/**
 * Maps request options to a destination: `host:port`, `[v6]:port` or `unix:/path` for
 * `socketPath`. The last answer is kept: a client talks to one upstream most of the time, and
 * handing the pool the same string every time lets it compare by identity.
 */
export class DestinationCache {
  /** The protocol requests must have (`'http:'`, or `'https:'` for the HTTPS agent). */
  readonly #expected: string;
  readonly #defaultPort: number;
  #host: unknown = undefined;
  #port: unknown = undefined;
  #socketPath: unknown = undefined;
  #protocol: unknown = undefined;
  #dest = '';

  constructor(protocol = 'http:', defaultPort = 80) {
    this.#expected = protocol;
    this.#defaultPort = defaultPort;
  }

  of(options: RequestTarget): string {
    const { host, port, socketPath, protocol, localAddress } = options;
    // Every option destinationOf() refuses is part of the key (or checked on every request):
    // a request must not skip a refusal because the one before it had the same host and port.
    if (
      host === this.#host &&
      port === this.#port &&
      socketPath === this.#socketPath &&
      protocol === this.#protocol &&
      localAddress === undefined &&
      this.#dest !== ''
    ) {
      return this.#dest;
    }
    const dest = destinationOf(options, this.#expected, this.#defaultPort);
    this.#host = host;
    this.#port = port;
    this.#socketPath = socketPath;
    this.#protocol = protocol;
    this.#dest = dest;
    return dest;
  }
}

export function destinationOf(options: RequestTarget, expected = 'http:', defaultPort = 80): string {
  const agent = expected === 'https:' ? 'HttpsAgent' : 'HttpAgent';
  if (options.protocol !== undefined && options.protocol !== null && options.protocol !== expected) {
    throw new TypeError(`berth's ${agent} speaks ${expected === 'https:' ? 'HTTPS' : 'plain HTTP'} only (${expected}), got protocol ${JSON.stringify(options.protocol)}`);
  }
  if (options.localAddress !== undefined) {
    throw new TypeError(`berth's ${agent} does not support localAddress: the pool dials its connections`);
  }
  const socketPath = options.socketPath;
  if (socketPath !== undefined && socketPath !== null) {
    if (typeof socketPath !== 'string' || socketPath === '') {
      throw new TypeError(`socketPath must be a non-empty string, got ${JSON.stringify(socketPath)}`);
    }
    return `unix:${path.resolve(socketPath)}`;
  }
  const host = options.host || 'localhost';
  const port = options.port || defaultPort;
  if (host.includes(':') && !host.startsWith('[')) return `[${host}]:${port}`;
  return `${host}:${port}`;
}
