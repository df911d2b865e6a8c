/**
 * What the HTTP and HTTPS agents do, written once: each agent class is a thin shell over an
 * `AgentCore` (the HTTP agent extends `http.Agent`, the HTTPS agent `https.Agent`, so they cannot
 * share a base class of berth's own).
 *
 * The core keeps http.Agent's contract on a berth pool: requests lease pooled connections;
 * `sockets`, `freeSockets` and `requests` are views of what the agent's requests hold, what
 * they returned to the pool, and what waits; `'free'` is emitted; overrides of `createSocket`,
 * `createConnection`, `keepSocketAlive` and `reuseSocket` are called where http.Agent calls
 * them.
 */
import type * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { Pool, type PoolAcquireOptions } from '../pool/pool';
import { identity, type HandshakeFunction } from '../pool/connect-options';
import { BerthError } from '../shared/errors';
import { Attempt, type AttemptOwner } from './attempt';
import { DestinationCache, type RequestTarget } from './destination';
import { FreeList } from './free-list';
import type { RequestInternals } from './internals';
import { LIMITS, mayRetry, resolveAgentOptions, type LimitKey, type ResolvedHttpAgentOptions } from './options';

/** What a shell passes to its core: the agent, and the methods its class defines by default. */
export interface AgentShell extends http.Agent {
  /** Set by http.Agent's constructor (not in its type). */
  readonly keepAlive: boolean;
  readonly keepAliveMsecs: number;
  createSocket(req: http.ClientRequest, options: http.RequestOptions, cb: (err: Error | null, socket?: Duplex) => void): void;
  getName(options?: http.ClientRequestArgs): string;
}

/** What differs between the HTTP and the HTTPS agent. */
export interface AgentKind {
  /** The class name, for messages. */
  readonly name: string;
  readonly protocol: 'http:' | 'https:';
  readonly defaultPort: number;
  /** The request and agent options that make a connection's TLS identity (none for HTTP). */
  readonly tlsKeys: readonly string[];
}

/** An agent's pool and settings, worked out before its `super()` call. */
export interface AgentInit {
  readonly pool: Pool;
  readonly ownsPool: boolean;
  readonly settings: ResolvedHttpAgentOptions;
  /** What `http.Agent`'s constructor gets: its own options, with the limits the pool applies. */
  readonly nodeOptions: http.AgentOptions;
}

/**
 * Resolves the constructor's arguments: `(pool, options?)` for an agent on a shared pool;
 * `(options?)` for one with its own pool (agent and pool options in one object, their names do
 * not overlap); `(poolOptions, agentOptions)` as before, merged.
 */
export function initAgent(first: unknown, second: unknown, agentKind: AgentKind): AgentInit {
  const kind = agentKind.name;
  let pool: Pool;
  let ownsPool: boolean;
  let settings: ResolvedHttpAgentOptions;
  let extra: Readonly<Record<string, unknown>>;
  if (first instanceof Pool) {
    const setup = resolveAgentOptions(second, false, kind, agentKind.tlsKeys);
    checkSharedLimits(first, setup.limits, kind);
    pool = first;
    ownsPool = false;
    settings = setup.settings;
    extra = setup.extra;
  } else {
    let merged = first;
    if (second !== undefined && second !== null) {
      if (first !== undefined && first !== null && typeof first === 'object' && typeof second === 'object') {
        for (const key of Object.keys(second)) {
          if (key in first) throw new TypeError(`${kind} option ${key} is given twice (in both options objects)`);
        }
        merged = { ...first, ...second };
      } else {
        merged = first === undefined || first === null ? second : first;
      }
    }
    const setup = resolveAgentOptions(merged, true, kind, agentKind.tlsKeys);
    pool = new Pool(setup.poolOptions);
    ownsPool = true;
    settings = setup.settings;
    extra = setup.extra;
  }
  const o = pool.options;
  const nodeOptions: http.AgentOptions = {
    // The HTTPS agent's TLS options: in agent.options, as https.Agent keeps them.
    ...extra,
    keepAlive: settings.keepAlive,
    keepAliveMsecs: settings.keepAliveMsecs ?? 1000,
    // Read by code that inspects an agent's limits: the pool's, which it enforces.
    maxSockets: o.maxPerDestination,
    maxFreeSockets: o.maxIdlePerDestination,
    maxTotalSockets: o.maxTotal,
    scheduling: o.order,
  };
  // Node's ClientRequest reads agent.options.timeout to forward the socket's 'timeout'.
  if (settings.timeout !== undefined) nodeOptions.timeout = settings.timeout;
  return { pool, ownsPool, settings, nodeOptions };
}

/** An agent on a shared pool applies the pool's limits: asking for others is a TypeError. */
function checkSharedLimits(pool: Pool, limits: Readonly<Partial<Record<LimitKey, number | string>>>, kind: string): void {
  const o = pool.options as unknown as Record<string, number | string>;
  for (const [key, value] of Object.entries(limits) as [LimitKey, number | string][]) {
    const poolKey = LIMITS[key];
    const actual = o[poolKey];
    if (value === actual || (value === Infinity && key !== 'scheduling')) continue;
    throw new TypeError(
      `${kind} option ${key} (${String(value)}) cannot apply: this agent uses a shared pool, whose ${poolKey} (${String(actual)}) applies; ` +
        `set ${poolKey} on the Pool, or give the agent a pool of its own with new ${kind}({ ${key}: ${JSON.stringify(value)} })`,
    );
  }
}

const kCore = Symbol('berth.agentCore');

type Views = { [kCore]?: AgentCore };

/** The core of an agent (for the views). */
function coreOf(agent: object): AgentCore | undefined {
  return (agent as Views)[kCore];
}

/**
 * Makes `sockets`, `freeSockets` and `requests` live read-only views on `proto` (`http.Agent`'s
 * constructor sets them as plain objects; the shell deletes those). Each read builds a fresh
 * object keyed by `agent.getName()`, as http.Agent's: writing to it changes nothing.
 */
export function defineViews(proto: object): void {
  // http.Agent's count of its sockets, in use and free: the two views' sizes.
  Object.defineProperty(proto, 'totalSocketCount', {
    get(this: object) {
      const core = coreOf(this);
      if (core === undefined) return 0;
      let n = 0;
      for (const view of [core.view('sockets'), core.view('freeSockets')]) for (const list of Object.values(view)) n += list.length;
      return n;
    },
    set(this: object, value: unknown) {
      if (coreOf(this) === undefined) Object.defineProperty(this, 'totalSocketCount', { value, writable: true, enumerable: true, configurable: true });
    },
    enumerable: true,
    configurable: true,
  });
  for (const name of ['sockets', 'freeSockets', 'requests'] as const) {
    Object.defineProperty(proto, name, {
      get(this: object) {
        const core = coreOf(this);
        return core === undefined ? Object.create(null) : core.view(name);
      },
      // http.Agent's constructor assigns them (then attachCore deletes what it set); once the
      // core is attached, an assignment changes nothing, as writing to a view does.
      set(this: object, value: unknown) {
        if (coreOf(this) === undefined) Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
      },
      enumerable: true,
      configurable: true,
    });
  }
}

/** Forgets the plain objects http.Agent's constructor set, so that the views are read. */
export function attachCore(agent: AgentShell, core: AgentCore): void {
  const a = agent as unknown as Record<string, unknown>;
  delete a.sockets;
  delete a.freeSockets;
  delete a.requests;
  delete a.totalSocketCount;
  Object.defineProperty(agent, kCore, { value: core, enumerable: false });
  // http.Agent manages its sockets from its own 'free' listener; the core does it instead.
  agent.removeAllListeners('free');
}

/** The methods a shell's class defines, to tell a user's override from them. */
export interface ShellDefaults {
  readonly createSocket: AgentShell['createSocket'];
  readonly createConnection: http.Agent['createConnection'];
}

export class AgentCore implements AttemptOwner {
  readonly agent: AgentShell;
  readonly pool: Pool;
  readonly settings: ResolvedHttpAgentOptions;
  readonly ownsPool: boolean;
  readonly #defaults: ShellDefaults;
  /**
   * Requests holding a lease: what destroy() tears down. An array with swap-remove (each attempt
   * knows its slot): a Set's add/delete churn, once per request, cost a quarter of the
   * throughput in garbage collection.
   */
  readonly #attempts: Attempt[] = [];
  /** Requests waiting for a connection (the same kind of array). */
  readonly #pending: Attempt[] = [];
  readonly #free = new FreeList();
  readonly #destinations: DestinationCache;
  readonly #kind: AgentKind;
  #destroyed = false;
  /** The acquire options that run the user's `createConnection` on new connections. */
  #connectOptions: PoolAcquireOptions | undefined;
  /** The HTTPS agent's acquire options by TLS identity (see tlsKey), least recently made first. */
  readonly #tlsAcquire = new Map<string, PoolAcquireOptions>();

  constructor(agent: AgentShell, init: AgentInit, defaults: ShellDefaults, kind: AgentKind) {
    this.agent = agent;
    this.pool = init.pool;
    this.settings = init.settings;
    this.ownsPool = init.ownsPool;
    this.#defaults = defaults;
    this.#kind = kind;
    this.#destinations = new DestinationCache(kind.protocol, kind.defaultPort);
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  // ---- AttemptOwner --------------------------------------------------------------------

  track(attempt: Attempt): void {
    attempt.slot = this.#attempts.push(attempt) - 1;
  }

  untrack(attempt: Attempt): void {
    remove(this.#attempts, attempt, 'slot');
  }

  trackPending(attempt: Attempt): void {
    attempt.pendingSlot = this.#pending.push(attempt) - 1;
  }

  untrackPending(attempt: Attempt): void {
    remove(this.#pending, attempt, 'pendingSlot');
  }

  freed(socket: net.Socket, options: object): void {
    this.#free.add(socket, options);
  }

  /**
   * The pool's acquire options for a request: none for HTTP (the fast path), unless
   * `createConnection` is overridden (then it runs on each new connection, as the handshake);
   * for HTTPS, the request's TLS identity (`options`: the request's merged with the agent's).
   */
  acquireOptions(options: object): PoolAcquireOptions | undefined {
    const custom = this.agent.createConnection !== this.#defaults.createConnection;
    if (this.#kind.tlsKeys.length === 0) {
      if (!custom) return undefined;
      return (this.#connectOptions ??= { handshake: this.#createConnectionHandshake() });
    }
    const o = options as Record<string, unknown>;
    const key = `${custom ? 'c' : 'd'}${tlsKey(o, this.#kind.tlsKeys)}`;
    const cached = this.#tlsAcquire.get(key);
    if (cached !== undefined) return cached;
    const tlsOptions: Record<string, unknown> = {};
    for (const k of this.#kind.tlsKeys) if (o[k] !== undefined) tlsOptions[k] = o[k];
    const made: PoolAcquireOptions = custom ? { tls: tlsOptions, handshake: (this.#connectOptions ??= { handshake: this.#createConnectionHandshake() }).handshake! } : { tls: tlsOptions };
    // Bounded: identities are few in practice; the pool keys connections by content, so a
    // dropped entry costs only its rebuilding.
    if (this.#tlsAcquire.size >= MAX_TLS_IDENTITIES) this.#tlsAcquire.delete(this.#tlsAcquire.keys().next().value!);
    this.#tlsAcquire.set(key, made);
    return made;
  }

  // ---- http.Agent's methods -------------------------------------------------------------

  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    const r = req as unknown as RequestInternals;
    if (r.destroyed) {
      // Aborted before it reached the agent: nothing to dial. Node reports the abort (and
      // emits 'close') once the request is given its socket, or none.
      r.onSocket(null);
      return;
    }
    let attempt: Attempt;
    try {
      if (this.#destroyed) throw new BerthError('POOL_CLOSED', `the ${this.#kind.name} was destroyed`);
      const target = this.#destinations.of(options as RequestTarget);
      const destination = this.settings.groups?.get(target.toLowerCase()) ?? target;
      const retryable = mayRetry(this.settings, r.method, (options as { idempotent?: unknown }).idempotent);
      // HTTPS: the request's options merged with the agent's (the agent's win, and servername
      // comes from the Host header), as https.Agent does: its name and its TLS identity.
      const merged = this.#kind.tlsKeys.length === 0 ? options : withServerName(mergeOver(options, (this.agent as unknown as { options: Record<string, unknown> }).options), req);
      attempt = new Attempt(this, r, merged, destination, retryable);
    } catch (error) {
      r.onSocket(null, error as Error);
      return;
    }
    const agent = this.agent;
    if (agent.createSocket === this.#defaults.createSocket) {
      attempt.start();
      return;
    }
    // Overridden: where http.Agent would make a socket, the override is asked for one; the
    // default it may call (createSocket below) leases a pooled connection.
    try {
      agent.createSocket(req, options, (err, socket) => attempt.created(err, socket));
    } catch (error) {
      attempt.created(error as Error, undefined);
    }
  }

  /** `createSocket`'s default: a pooled connection for `req` (through `cb`). */
  createSocket(req: http.ClientRequest, cb: (err: Error | null, socket?: Duplex) => void): void {
    const attempt = Attempt.of(req as unknown as RequestInternals);
    if (attempt === undefined || attempt.owner !== this) {
      cb(new TypeError("createSocket() of berth's agent serves only requests given to its addRequest()"));
      return;
    }
    attempt.deliverTo = cb;
    attempt.start();
  }

  /**
   * `keepSocketAlive`'s default: whether a socket whose response is complete goes back to the
   * pool, and its idle timeout there (the agent's `timeout`, as http.Agent sets it).
   */
  keepSocketAlive(socket: net.Socket): boolean {
    const idle = this.settings.timeout ?? 0;
    if ((socket.timeout ?? 0) !== idle) socket.setTimeout(idle);
    return true;
  }

  /** `reuseSocket`'s default: marks the request as sent on a reused connection. */
  reuseSocket(_socket: net.Socket, req: http.ClientRequest): void {
    (req as unknown as RequestInternals).reusedSocket = true;
  }

  /**
   * Destroys the sockets of the requests in flight (they fail as with `http.Agent.destroy()`)
   * and the connections the agent left idle, returns nothing more to the pool, and refuses
   * later requests. Closes the pool only if the agent created it.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const attempt of [...this.#attempts]) {
      // An upgraded (or CONNECT) socket belongs to the user now, as with http.Agent.
      if (attempt.req.upgradeOrConnect && attempt.socket?._httpMessage !== attempt.req) continue;
      attempt.socket?.destroy();
    }
    for (const [socket] of this.#free.entries()) {
      FreeList.remove(socket);
      socket.destroy();
    }
    if (this.ownsPool) void this.pool.close();
  }

  // ---- views ----------------------------------------------------------------------------

  view(which: 'sockets' | 'freeSockets' | 'requests'): Record<string, unknown[]> {
    const out: Record<string, unknown[]> = Object.create(null);
    const add = (options: object, item: unknown) => {
      const name = this.agent.getName(options as http.ClientRequestArgs);
      (out[name] ??= []).push(item);
    };
    if (which === 'sockets') {
      for (const attempt of this.#attempts) if (attempt.socket !== null) add(attempt.options, attempt.socket);
    } else if (which === 'freeSockets') {
      for (const [socket, options] of this.#free.entries()) add(options, socket);
    } else {
      // http.Agent lists the requests that wait because the limit is reached; a request whose
      // connection is being dialled has a socket there. So: per name, the requests waiting
      // beyond what the limit leaves to dial.
      const limit = this.pool.options.maxPerDestination;
      const byName = new Map<string, { waiting: Attempt[]; held: number }>();
      const entry = (options: object) => {
        const name = this.agent.getName(options as http.ClientRequestArgs);
        let e = byName.get(name);
        if (e === undefined) byName.set(name, (e = { waiting: [], held: 0 }));
        return e;
      };
      for (const attempt of this.#attempts) entry(attempt.options).held++;
      for (const attempt of this.#pending) entry(attempt.options).waiting.push(attempt);
      for (const [name, e] of byName) {
        const queued = e.waiting.length + e.held - limit;
        if (queued > 0) out[name] = e.waiting.slice(-queued).map((a) => a.req);
      }
    }
    return out;
  }

  // ---- createConnection overrides -------------------------------------------------------

  /**
   * The pool's handshake that runs the agent's `createConnection(options, cb)` on each new
   * connection: `options` are the agent's, the destination's `host`/`port` (or `path`), the
   * keep-alive settings http.Agent passes, and `socket`, the connection the pool dialled. What
   * it returns (or passes to `cb`) is pooled: the dialled socket itself, a stream over it, or a
   * connection of its own (the dialled one then stays beside it until it closes).
   */
  #createConnectionHandshake(): HandshakeFunction {
    return (socket, { destination }) =>
      new Promise<net.Socket>((resolve, reject) => {
        const agent = this.agent;
        const options = {
          ...(agent as unknown as { options: object }).options,
          ...targetOf(destination),
          keepAlive: agent.keepAlive,
          keepAliveInitialDelay: agent.keepAliveMsecs,
          socket,
        } as unknown as http.ClientRequestArgs;
        const settle = (err: Error | null | undefined, stream: unknown) => {
          if (err) return reject(err);
          if (!(stream instanceof net.Socket)) return reject(new TypeError('createConnection() gave something other than a net.Socket'));
          if (!stream.connecting) return resolve(stream);
          stream.once('connect', () => resolve(stream));
          stream.once('error', reject);
        };
        let called = false;
        const made = agent.createConnection(options, (err, stream) => {
          // net.createConnection calls it as a 'connect' listener, without arguments.
          if (called || (err == null && stream === undefined)) return;
          called = true;
          settle(err, stream);
        });
        if (!called && made !== undefined && made !== null) {
          called = true;
          settle(null, made);
        }
      });
  }
}

const MAX_TLS_IDENTITIES = 256;

/**
 * A key for the TLS options of a request: strings, numbers and booleans by value, buffers and
 * other objects by identity (equal content under two identities makes two keys, and the pool
 * still shares their connections: it keys them by content).
 */
function tlsKey(options: Record<string, unknown>, keys: readonly string[]): string {
  let key = '';
  for (const k of keys) {
    const v = options[k];
    if (v === undefined) continue;
    if (typeof v === 'object' || typeof v === 'function') {
      if (v === null) {
        key += `|${k}=null`;
        continue;
      }
      key += `|${k}#${identity(v)}`;
    } else if (typeof v === 'string' && v.length > LONG_STRING) {
      // A PEM certificate or key: numbered, not copied into every request's key (the same
      // string object each time, whose hash V8 keeps, so the lookup does not rehash it).
      key += `|${k}$${longStringId(v)}`;
    } else {
      key += `|${k}=${typeof v === 'string' ? v.length : ''}:${String(v)}`;
    }
  }
  return key;
}

/** Strings longer than this are keyed by number (see tlsKey). */
const LONG_STRING = 64;
/** Long strings seen in TLS options, numbered; bounded like the identities they key. */
const LONG_STRINGS = new Map<string, number>();
let nextLongString = 1;

function longStringId(value: string): number {
  let id = LONG_STRINGS.get(value);
  if (id === undefined) {
    if (LONG_STRINGS.size >= MAX_TLS_IDENTITIES) LONG_STRINGS.delete(LONG_STRINGS.keys().next().value!);
    LONG_STRINGS.set(value, (id = nextLongString++));
  }
  return id;
}

/**
 * The request's options with the agent's over them (the agent's win), as https.Agent merges
 * them (`{ ...options, ...agent.options }`), copied key by key: V8 spent over 2 µs per
 * request on the spread of Node's request options, a quarter of that on this loop.
 */
function mergeOver(options: object, agentOptions: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  const from = options as Record<string, unknown>;
  for (const k of Object.keys(from)) merged[k] = from[k];
  for (const k of Object.keys(agentOptions)) merged[k] = agentOptions[k];
  return merged;
}

/**
 * Sets `servername` as https.Agent does when it is not given: the Host header's host (or the
 * `host` option), none for an IP address.
 */
function withServerName(options: Record<string, unknown>, req: http.ClientRequest): Record<string, unknown> {
  if (options.servername !== undefined && options.servername !== null) return options;
  let servername = options.host as string | undefined;
  const hostHeader = req.getHeader('host');
  if (typeof hostHeader === 'string' && hostHeader !== '') {
    if (hostHeader.startsWith('[')) {
      const end = hostHeader.indexOf(']');
      servername = end === -1 ? hostHeader : hostHeader.slice(1, end);
    } else {
      servername = hostHeader.split(':', 1)[0];
    }
  }
  options.servername = servername === undefined || net.isIP(servername) !== 0 ? '' : servername;
  return options;
}

/**
 * For `createConnection` called with a `signal` already aborted: a socket that never connects
 * and fails with Node's `AbortError` (`net.createConnection` emits the error but still connects
 * on Node 20, leaving a connection nobody holds that keeps a server's close() waiting).
 */
export function abortedConnection(options: unknown): net.Socket | undefined {
  const signal = (options as { signal?: unknown } | null)?.signal;
  if (!(signal instanceof AbortSignal) || !signal.aborted) return undefined;
  const socket = new net.Socket();
  const error = Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' });
  process.nextTick(() => socket.destroy(error));
  return socket;
}

/** `host`/`port` (or `path`) of a destination, for createConnection's options. */
function targetOf(destination: string): { host?: string; port?: number; path?: string } {
  if (destination.startsWith('unix:')) return { path: destination.slice(5) };
  const colon = destination.lastIndexOf(':');
  let host = destination.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(destination.slice(colon + 1)) };
}

/** Swap-removes `item` from `list` by the slot it keeps in `key`. */
function remove(list: Attempt[], item: Attempt, key: 'slot' | 'pendingSlot'): void {
  const slot = item[key];
  if (slot < 0) return;
  item[key] = -1;
  const last = list.pop()!;
  if (last !== item) {
    list[slot] = last;
    last[key] = slot;
  }
}
