/** Options of the HTTP agent and of one request made through it, and their validation. */
import type * as http from 'node:http';
import { checkFlag, checkObject, checkTime, describe } from '../shared/validate';

/**
 * Options of `pool.httpAgent(options)` / `new HttpAgent(pool, options)`. Every key is optional;
 * times are in milliseconds.
 *
 * Connection limits are the pool's, not the agent's: `maxSockets` is the pool's
 * `maxPerDestination`, `maxTotalSockets` its `maxTotal`, `maxFreeSockets` its
 * `maxIdlePerDestination`; requests beyond the limit wait in the pool's queue (`acquireTimeout`,
 * `maxWaiters`). Passing one of http.Agent's limit options here is a `TypeError` that says which
 * pool option to set instead.
 */
export interface HttpAgentOptions {
  /** Accepted for drop-in compatibility with `http.Agent`: the agent always keeps connections alive. */
  keepAlive?: true;
  /**
   * Retry a request once, on a fresh connection, when a reused connection fails (reset, broken
   * pipe, closed) before any byte of the response arrived, if the request is idempotent (GET,
   * HEAD, OPTIONS, TRACE, PUT, DELETE, or `idempotent: true` on the request) and its whole body
   * was in memory when the connection was assigned (`end()` already called). Default `true`.
   */
  retry?: boolean;
  /**
   * Retry non-idempotent requests (POST, PATCH, ...) under the same conditions. Only safe if the
   * server tolerates a request it may have received twice. Default `false`; a single request can
   * opt in or out with the request option `idempotent`.
   */
  retryNonIdempotent?: boolean;
  /**
   * Safety margin subtracted from a server's `Keep-Alive: timeout=N` hint: a connection idle
   * longer than `N` s minus this margin (but at most half the hint) is not reused. Default 1000,
   * so `timeout=5` allows reuse within 4 s, `timeout=1` within 0.5 s, `timeout=0` not at all.
   */
  keepAliveHintMargin?: number;
  /**
   * Socket inactivity timeout of each request, as `http.Agent`'s `timeout`: the request emits
   * `'timeout'` (and it is up to you to destroy it). A request's own `timeout` option wins.
   * Default: none.
   */
  timeout?: number;
}

/** Options of one request made through the agent: `http.request(url, { agent, idempotent })`. */
export interface HttpAgentRequestOptions extends http.RequestOptions {
  /**
   * Whether this request may be retried on a fresh connection after a reused one failed before
   * the response began: `true` even for a non-idempotent method, `false` never. Default: by
   * method (and the agent's `retryNonIdempotent`).
   */
  idempotent?: boolean;
}

export interface ResolvedHttpAgentOptions {
  readonly retry: boolean;
  readonly retryNonIdempotent: boolean;
  readonly keepAliveHintMargin: number;
  readonly timeout: number | undefined;
}

const KNOWN = ['keepAlive', 'retry', 'retryNonIdempotent', 'keepAliveHintMargin', 'timeout'];

/** http.Agent options that do not apply, and what to do instead. */
const NOT_HERE: Readonly<Record<string, string>> = {
  maxSockets: "the pool's limit applies: set maxPerDestination on the Pool",
  maxTotalSockets: "the pool's limit applies: set maxTotal on the Pool",
  maxFreeSockets: "the pool's limit applies: set maxIdlePerDestination on the Pool",
  scheduling: "the pool decides which idle connection is reused: set order ('lifo' | 'fifo') on the Pool",
  keepAliveMsecs: 'the pool sets TCP keep-alive on every connection it dials',
};

export function resolveHttpAgentOptions(options: HttpAgentOptions | undefined): ResolvedHttpAgentOptions {
  if (options === undefined) return DEFAULT_AGENT_OPTIONS;
  checkObject('HttpAgent options', options);
  for (const key of Object.keys(options)) {
    const instead = NOT_HERE[key];
    if (instead !== undefined) throw new TypeError(`HttpAgent option ${key} is not supported: ${instead}`);
    if (!KNOWN.includes(key)) {
      throw new TypeError(`unknown HttpAgent option ${JSON.stringify(key)} (known: ${KNOWN.join(', ')})`);
    }
  }
  const o = options as Record<string, unknown>;
  if (o.keepAlive !== undefined && o.keepAlive !== true) {
    throw new TypeError(`HttpAgent option keepAlive can only be true (the agent always keeps connections alive), got ${describe(o.keepAlive)}`);
  }
  for (const key of ['retry', 'retryNonIdempotent']) {
    if (o[key] !== undefined) checkFlag(`HttpAgent option ${key}`, o[key]);
  }
  for (const key of ['keepAliveHintMargin', 'timeout']) {
    if (o[key] !== undefined) checkTime(`HttpAgent option ${key}`, o[key], { min: 0 });
  }
  return {
    retry: options.retry ?? true,
    retryNonIdempotent: options.retryNonIdempotent ?? false,
    keepAliveHintMargin: options.keepAliveHintMargin ?? 1000,
    timeout: options.timeout === 0 ? undefined : options.timeout,
  };
}

const DEFAULT_AGENT_OPTIONS: ResolvedHttpAgentOptions = Object.freeze({
  retry: true,
  retryNonIdempotent: false,
  keepAliveHintMargin: 1000,
  timeout: undefined,
});

/** RFC 9110 §9.2.2. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Whether a request may be retried after a reused connection failed before its response,
 * or throws a TypeError for a bad `idempotent` request option.
 */
export function mayRetry(agent: ResolvedHttpAgentOptions, method: string, idempotent: unknown): boolean {
  if (idempotent !== undefined) {
    if (typeof idempotent !== 'boolean') throw new TypeError(`request option idempotent must be a boolean, got ${describe(idempotent)}`);
    return agent.retry && idempotent;
  }
  return agent.retry && (agent.retryNonIdempotent || IDEMPOTENT.has(method));
}
