/**
 * An `http.Agent` whose keep-alive sockets are a berth pool's connections: `http.request`,
 * `http.get` and libraries that take an `agent` reuse pooled connections, under the pool's
 * limits, timers, liveness checks and stats, and see http.Agent's contract (options, `sockets`,
 * `freeSockets`, `requests`, `'free'`, overridable `createSocket` / `createConnection` /
 * `keepSocketAlive` / `reuseSocket`).
 *
 * ```ts
 * const pool = new Pool({ maxPerDestination: 16 });
 * const agent = pool.httpAgent();
 * http.get('http://127.0.0.1:8080/health', { agent }, (res) => res.resume());
 * ```
 *
 * Plain HTTP only (`http:`): Node itself refuses an `https:` request with this agent
 * (`ERR_INVALID_PROTOCOL`); `pool.httpsAgent()` is the HTTPS one.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/config';
import { AgentCore, abortedConnection, attachCore, defineViews, initAgent, type AgentKind } from './agent-core';

const HTTP_KIND: AgentKind = { name: 'HttpAgent', protocol: 'http:', defaultPort: 80, tlsKeys: [] };
import type { HttpAgentOptions, HttpAgentOwnPoolOptions } from './options';

export type { HttpAgentOptions, HttpAgentOwnPoolOptions, HttpAgentRequestOptions } from './options';
export type { HttpAgentSystemError } from './errors';

/**
 * An `http.Agent` on a berth pool: make one with `pool.httpAgent(options)` (on that pool) or
 * `new HttpAgent(options)` (with a pool of its own, made from the same options object), pass
 * it as `agent` to `http.request` or any library that takes one, and `destroy()` it when done.
 */
export class HttpAgent extends http.Agent {
  /** The pool whose connections the agent uses. */
  readonly pool: Pool;
  /** Whether connections are kept for the next request (option `keepAlive`, default `true`). */
  declare readonly keepAlive: boolean;
  /** The option `keepAliveMsecs` (1000 when not given, as http.Agent's). */
  declare readonly keepAliveMsecs: number;
  readonly #core: AgentCore;

  /**
   * An agent with a pool of its own, which `destroy()` closes: `options` holds both the agent's
   * options (http.Agent's, mapped onto the pool, and berth's) and the pool's.
   */
  constructor(options?: HttpAgentOwnPoolOptions);
  /** An agent on `pool` (usually through `pool.httpAgent(options)`); the pool's limits apply. */
  constructor(pool: Pool, options?: HttpAgentOptions);
  /** An agent with a pool of its own, its options given apart (as before). */
  constructor(poolOptions: PoolOptions, options: HttpAgentOptions);
  constructor(first?: Pool | HttpAgentOwnPoolOptions | PoolOptions, options?: HttpAgentOptions) {
    const init = initAgent(first, options, HTTP_KIND);
    super(init.nodeOptions);
    this.pool = init.pool;
    this.#core = new AgentCore(this, init, HTTP_DEFAULTS, HTTP_KIND);
    attachCore(this, this.#core);
  }

  /** True once `destroy()` was called: requests are refused from then on. */
  get destroyed(): boolean {
    return this.#core.destroyed;
  }

  /**
   * Called by Node's ClientRequest with its options (`host` and `port` filled in). Leases a
   * connection to `host:port` (or `unix:` + `socketPath`) and hands its socket to the request;
   * a failure to get one is the request's 'error'. Through `createSocket` when that is
   * overridden.
   */
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    this.#core.addRequest(req, options);
  }

  /**
   * Gets a connection for `req` from the pool (reused or new) and passes its socket to `cb`.
   * Called only when overridden (where http.Agent calls it: for a request that needs a socket);
   * an override may wrap it, or call `cb` with an error (the request fails with it) or with a
   * socket of its own (the request uses it, outside the pool).
   */
  createSocket(req: http.ClientRequest, _options: http.RequestOptions, cb: (err: Error | null, socket?: Duplex) => void): void {
    this.#core.createSocket(req, cb);
  }

  /**
   * Returns `options.socket` when the pool calls it for a new connection (it does only when
   * `createConnection` is overridden: then once per new connection, with the dialled socket as
   * `options.socket`, and what it returns is pooled); called directly, `net.createConnection`.
   */
  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    const socket = (options as { socket?: unknown }).socket;
    if (socket instanceof net.Socket) return socket;
    const aborted = abortedConnection(options);
    if (aborted !== undefined) return aborted;
    return net.createConnection(options as net.NetConnectOpts, callback as () => void);
  }

  /**
   * Called when a response is complete, before the connection goes back to the pool: `false`
   * closes it instead. By default sets the idle timeout (the agent's `timeout`) and returns
   * `true`. An override may set another timeout (`socket.setTimeout`): it applies while idle.
   */
  override keepSocketAlive(socket: Duplex): boolean {
    return this.#core.keepSocketAlive(socket as net.Socket);
  }

  /** Called when a request gets a reused connection: by default sets `req.reusedSocket`. */
  override reuseSocket(socket: Duplex, req: http.ClientRequest): void {
    this.#core.reuseSocket(socket as net.Socket, req);
  }

  /**
   * Destroys the sockets of the requests in flight (they fail as with `http.Agent.destroy()`)
   * and the connections the agent left idle, and refuses later requests. Closes the pool only
   * if the agent created it.
   */
  override destroy(): void {
    this.#core.destroy();
  }
}

const HTTP_DEFAULTS = {
  createSocket: HttpAgent.prototype.createSocket,
  createConnection: HttpAgent.prototype.createConnection,
};

defineViews(HttpAgent.prototype);
