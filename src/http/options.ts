/**
 * Options of the HTTP agent (http.Agent's own, and berth's) and of one request made through it:
 * their validation, and how http.Agent's options map onto the pool.
 */
import type * as http from 'node:http';
import { DEFAULTS, type PoolOptions } from '../pool/config';
import { CONNECT_KEYS } from '../pool/connect-options';
import { checkGroupName } from '../pool/group-options';
import { checkFlag, checkObject, checkTime, describe } from '../shared/validate';
import { checkNodeOneOf, checkNodeType, nodeRangeError } from './node-errors';

/**
 * Options of an HTTP agent. `http.Agent`'s own options keep their names and meaning; berth's
 * add stale-connection safety. Every key is optional; times are in milliseconds.
 *
 * The connection limits (`maxSockets`, `maxFreeSockets`, `maxTotalSockets`) and `scheduling`
 * are the pool's: an agent with a pool of its own (`new HttpAgent(options)`) sets them on that
 * pool; an agent on a shared pool (`pool.httpAgent(options)`) takes them from the pool, and
 * giving a different value is a `TypeError` that says which pool option to set.
 */
export interface HttpAgentOptions {
  /**
   * Keep connections open for the next request (`true`), or close each one once its response
   * is read (`false`). Default `true` (unlike `http.Agent`, whose default is `false`).
   */
  keepAlive?: boolean;
  /**
   * TCP keep-alive initial delay, as `http.Agent`'s: applied to each new connection when given.
   * Default: the pool's (TCP keep-alive on, the system's delay). `agent.keepAliveMsecs` reads
   * 1000 then, as with `http.Agent`.
   */
  keepAliveMsecs?: number;
  /**
   * Open connections per destination: the pool's `maxPerDestination`. `Infinity` means as many
   * as `maxTotalSockets` allows. Default: the pool's (32). Requests beyond it wait in the pool's
   * queue (`acquireTimeout`, `maxWaiters`), as they wait in `agent.requests` with `http.Agent`.
   */
  maxSockets?: number;
  /**
   * Idle connections kept per destination: the pool's `maxIdlePerDestination`. `Infinity`
   * means up to `maxSockets`. Default: the pool's (32).
   */
  maxFreeSockets?: number;
  /**
   * Open connections across all destinations: the pool's `maxTotal`. `Infinity` leaves the
   * pool's default (1024): the pool always has a finite total. Default: the pool's.
   */
  maxTotalSockets?: number;
  /** Which idle connection is reused first: the pool's `order`. Default `'lifo'`. */
  scheduling?: 'lifo' | 'fifo';
  /**
   * Socket inactivity timeout, as `http.Agent`'s: a request's socket emits `'timeout'` after
   * this long without activity (the request gets `'timeout'`; destroying it is up to you), and
   * an idle connection is closed after this long unused. A request's own `timeout` wins while
   * it runs. Default: none.
   */
  timeout?: number;
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
   * Upstream groups serving a `host:port`: `{ 'api.internal:80': 'api' }` sends requests for
   * `http://api.internal/` to the pool's group `api` (made with `pool.group('api', ...)`), which
   * picks a member per connection and fails over on connect failures. For the HTTPS agent the
   * group's own `tls` options apply (set `servername` there). Default: none.
   */
  groups?: Readonly<Record<string, string>>;
}

/** Options of `new HttpAgent(options)`: the agent's, and those of the pool it makes for itself. */
export interface HttpAgentOwnPoolOptions extends HttpAgentOptions, PoolOptions {}

/** Options of one request made through the agent: `http.request(url, { agent, idempotent })`. */
export interface HttpAgentRequestOptions extends http.RequestOptions {
  /**
   * Whether this request may be retried on a fresh connection after a reused one failed before
   * the response began: `true` even for a non-idempotent method, `false` never. Default: by
   * method (and the agent's `retryNonIdempotent`).
   */
  idempotent?: boolean;
}

/** The agent's settings, checked. */
export interface ResolvedHttpAgentOptions {
  readonly keepAlive: boolean;
  /** Set on each new connection; undefined: left as the pool set it. */
  readonly keepAliveMsecs: number | undefined;
  readonly retry: boolean;
  readonly retryNonIdempotent: boolean;
  readonly keepAliveHintMargin: number;
  /** Socket timeout of requests and of idle connections; undefined: none. */
  readonly timeout: number | undefined;
  /** `host:port` -> `group:<name>`; undefined: none. */
  readonly groups: ReadonlyMap<string, string> | undefined;
}

/** What the constructor needs: the agent's settings, the pool's options, http.Agent's own. */
export interface AgentSetup {
  readonly settings: ResolvedHttpAgentOptions;
  /** The `extraKeys` given (the HTTPS agent's TLS options), as given. */
  readonly extra: Readonly<Record<string, unknown>>;
  /** Options for the agent's own pool (undefined: it uses a shared one). */
  readonly poolOptions: PoolOptions | undefined;
  /** The limits the agent asks of a shared pool: checked against it. */
  readonly limits: Readonly<Partial<Record<LimitKey, number | string>>>;
}

const NODE_KEYS = ['keepAlive', 'keepAliveMsecs', 'maxSockets', 'maxFreeSockets', 'maxTotalSockets', 'scheduling', 'timeout'] as const;
const BERTH_KEYS = ['retry', 'retryNonIdempotent', 'keepAliveHintMargin', 'groups'] as const;
const AGENT_KEYS: readonly string[] = [...NODE_KEYS, ...BERTH_KEYS];
const POOL_KEYS: readonly string[] = [...Object.keys(DEFAULTS), ...CONNECT_KEYS];

/** http.Agent's limit options, and the pool option each one is. */
export const LIMITS = {
  maxSockets: 'maxPerDestination',
  maxFreeSockets: 'maxIdlePerDestination',
  maxTotalSockets: 'maxTotal',
  scheduling: 'order',
} as const;
export type LimitKey = keyof typeof LIMITS;

/**
 * Checks the options of an agent. `ownPool`: the options may hold pool options too (the agent
 * makes its pool from them); otherwise only the agent's. Invalid values of http.Agent's own
 * options throw Node's errors (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 * `ERR_OUT_OF_RANGE`), as `http.Agent` does; the rest a TypeError naming the key.
 */
export function resolveAgentOptions(options: unknown, ownPool: boolean, kind = 'HttpAgent', extraKeys: readonly string[] = []): AgentSetup {
  if (options === undefined || options === null) {
    return { settings: DEFAULT_SETTINGS, extra: {}, poolOptions: ownPool ? {} : undefined, limits: {} };
  }
  const given = checkObject(`${kind} options`, options);
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (AGENT_KEYS.includes(key)) continue;
    if (extraKeys.includes(key)) {
      if (given[key] !== undefined) extra[key] = given[key];
      continue;
    }
    if (POOL_KEYS.includes(key)) {
      if (ownPool) continue;
      throw new TypeError(`${kind} option ${key} is a Pool option: this agent uses an existing pool, set ${key} on that Pool`);
    }
    const known = [...AGENT_KEYS, ...extraKeys, ...(ownPool ? POOL_KEYS : [])];
    throw new TypeError(`unknown ${kind} option ${JSON.stringify(key)} (known: ${known.join(', ')})`);
  }
  const o = given as Record<string, unknown>;

  // http.Agent's options: Node's coercions (`||` defaults) and Node's errors.
  const keepAlive = o.keepAlive === undefined ? true : checkNodeType('keepAlive', o.keepAlive, 'boolean');
  const keepAliveMsecs = orDefault(o.keepAliveMsecs) ? nodeCount('keepAliveMsecs', o.keepAliveMsecs, 1, false) : undefined;
  const maxSockets = orDefault(o.maxSockets) ? nodeCount('maxSockets', o.maxSockets, 1, true) : undefined;
  const maxFreeSockets = orDefault(o.maxFreeSockets) ? nodeCount('maxFreeSockets', o.maxFreeSockets, 1, true) : undefined;
  // As http.Agent: maxTotalSockets has no `||` default; 0 and NaN are out of range.
  const maxTotalSockets = o.maxTotalSockets === undefined ? undefined : nodeCount('maxTotalSockets', o.maxTotalSockets, 1, true);
  const scheduling = o.scheduling === undefined ? undefined : checkNodeOneOf('scheduling', o.scheduling, ['fifo', 'lifo'] as const);
  const timeout = orDefault(o.timeout) ? nodeCount('timeout', o.timeout, 0, false) : undefined;

  for (const key of ['retry', 'retryNonIdempotent']) {
    if (o[key] !== undefined) checkFlag(`${kind} option ${key}`, o[key]);
  }
  if (o.keepAliveHintMargin !== undefined) checkTime(`${kind} option keepAliveHintMargin`, o.keepAliveHintMargin, { min: 0 });

  const settings: ResolvedHttpAgentOptions = {
    keepAlive,
    keepAliveMsecs,
    retry: (o.retry as boolean | undefined) ?? true,
    retryNonIdempotent: (o.retryNonIdempotent as boolean | undefined) ?? false,
    keepAliveHintMargin: (o.keepAliveHintMargin as number | undefined) ?? 1000,
    timeout,
    groups: o.groups === undefined ? undefined : checkGroups(kind, o.groups),
  };
  const limits: Partial<Record<LimitKey, number | string>> = {};
  if (maxSockets !== undefined) limits.maxSockets = maxSockets;
  if (maxFreeSockets !== undefined) limits.maxFreeSockets = maxFreeSockets;
  if (maxTotalSockets !== undefined) limits.maxTotalSockets = maxTotalSockets;
  if (scheduling !== undefined) limits.scheduling = scheduling;
  if (!ownPool) return { settings, extra, poolOptions: undefined, limits };

  const poolOptions: Record<string, unknown> = {};
  for (const key of POOL_KEYS) if (o[key] !== undefined) poolOptions[key] = o[key];
  for (const [agentKey, poolKey] of Object.entries(LIMITS) as [LimitKey, string][]) {
    if (limits[agentKey] === undefined) continue;
    if (poolOptions[poolKey] !== undefined) {
      throw new TypeError(`${kind} options ${agentKey} and ${poolKey} are the same limit: give one of them`);
    }
  }
  // Infinity: no limit of the agent's own; the pool's finite total still applies.
  const maxTotal = maxTotalSockets === undefined || maxTotalSockets === Infinity ? undefined : maxTotalSockets;
  if (maxTotal !== undefined) poolOptions.maxTotal = maxTotal;
  const total = (poolOptions.maxTotal as number | undefined) ?? DEFAULTS.maxTotal;
  if (maxSockets !== undefined) poolOptions.maxPerDestination = maxSockets === Infinity ? total : maxSockets;
  if (maxFreeSockets !== undefined) {
    const perDestination = (poolOptions.maxPerDestination as number | undefined) ?? DEFAULTS.maxPerDestination;
    poolOptions.maxIdlePerDestination = maxFreeSockets === Infinity ? perDestination : maxFreeSockets;
  }
  if (scheduling !== undefined) poolOptions.order = scheduling;
  return { settings, extra, poolOptions: poolOptions as PoolOptions, limits };
}

/**
 * Whether a value is given, by http.Agent's rule (`options.maxSockets || default`: `undefined`
 * and 0 mean the default) except that NaN and other falsy non-numbers are checked, not ignored.
 */
function orDefault(value: unknown): boolean {
  return value !== undefined && value !== 0;
}

/** A number of at least `min`, an integer (or Infinity where allowed), with Node's errors. */
function nodeCount(key: string, value: unknown, min: number, infinite: boolean): number {
  const n = checkNodeType(key, value, 'number');
  if (infinite && n === Infinity) return n;
  if (!(n >= min) || !Number.isFinite(n) || n > 2 ** 31 - 1) {
    throw nodeRangeError(key, `>= ${min}${infinite ? ' (or Infinity)' : ''} and <= ${2 ** 31 - 1}`, value);
  }
  return key === 'timeout' || key === 'keepAliveMsecs' ? n : Math.floor(n);
}

const DEFAULT_SETTINGS: ResolvedHttpAgentOptions = Object.freeze({
  keepAlive: true,
  keepAliveMsecs: undefined,
  retry: true,
  retryNonIdempotent: false,
  keepAliveHintMargin: 1000,
  timeout: undefined,
  groups: undefined,
});

/** `groups`: `host:port` keys (as requests name them) to group names. */
function checkGroups(kind: string, value: unknown): ReadonlyMap<string, string> {
  const given = checkObject(`${kind} option groups`, value);
  const map = new Map<string, string>();
  for (const [dest, name] of Object.entries(given)) {
    if (!/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(dest)) {
      throw new TypeError(`${kind} option groups: keys must be "host:port" as requests name them, got ${JSON.stringify(dest)}`);
    }
    checkGroupName(name);
    map.set(dest.toLowerCase(), `group:${name as string}`);
  }
  return map;
}

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
