/**
 * An `http.Agent` whose keep-alive sockets are a berth pool's connections: `http.request`,
 * `http.get` and libraries that take an `agent` reuse pooled connections, under the pool's
 * limits, timers, liveness checks and stats.
 *
 * ```ts
 * const pool = new Pool({ maxPerDestination: 16 });
 * const agent = pool.httpAgent();
 * http.get('http://127.0.0.1:8080/health', { agent }, (res) => res.resume());
 * ```
 *
 * Plain HTTP only (`http:`): Node itself refuses an `https:` request with this agent
 * (`ERR_INVALID_PROTOCOL`).
 */
import * as http from 'node:http';
import { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/config';
import { BerthError } from '../shared/errors';
import { Attempt, type AttemptOwner } from './attempt';
import { DestinationCache, type RequestTarget } from './destination';
import type { RequestInternals } from './internals';
import { mayRetry, resolveHttpAgentOptions, type HttpAgentOptions, type ResolvedHttpAgentOptions } from './options';

export type { HttpAgentOptions, HttpAgentRequestOptions } from './options';
export type { HttpAgentSystemError } from './errors';

/**
 * An `http.Agent` on a berth pool: make one with `pool.httpAgent(options)` (or `new
 * HttpAgent(poolOrPoolOptions, options)`), pass it as `agent` to `http.request` or any library
 * that takes one, and `destroy()` it when done.
 */
export class HttpAgent extends http.Agent {
  /** The pool whose connections the agent uses. */
  readonly pool: Pool;
  readonly #ownsPool: boolean;
  readonly #settings: ResolvedHttpAgentOptions;
  /**
   * Requests holding a lease: what destroy() tears down. An array with swap-remove (each attempt
   * knows its slot): a Set's add/delete churn, once per request, cost a quarter of the
   * throughput in garbage collection.
   */
  readonly #attempts: Attempt[] = [];
  readonly #destinations = new DestinationCache();
  #destroyed = false;
  readonly #owner: AttemptOwner;

  /**
   * @param pool the pool to use, usually through `pool.httpAgent(options)`; or pool options (or
   *   nothing) for a pool of the agent's own, which `destroy()` closes.
   */
  constructor(pool?: Pool | PoolOptions, options?: HttpAgentOptions) {
    const settings = resolveHttpAgentOptions(options);
    super(settings.timeout === undefined ? { keepAlive: true } : { keepAlive: true, timeout: settings.timeout });
    this.#settings = settings;
    if (pool instanceof Pool) {
      this.pool = pool;
      this.#ownsPool = false;
    } else {
      this.pool = new Pool(pool);
      this.#ownsPool = true;
    }
    // Read by code that inspects an agent's limits; the pool enforces them.
    const o = this.pool.options;
    this.maxSockets = o.maxPerDestination;
    this.maxTotalSockets = o.maxTotal;
    this.maxFreeSockets = o.maxIdlePerDestination;
    const attempts = this.#attempts;
    const agent = this;
    this.#owner = {
      pool: this.pool,
      settings,
      get destroyed() {
        return agent.#destroyed;
      },
      track: (attempt) => {
        attempt.slot = attempts.push(attempt) - 1;
      },
      untrack: (attempt) => {
        const slot = attempt.slot;
        if (slot < 0) return;
        attempt.slot = -1;
        const last = attempts.pop()!;
        if (last !== attempt) {
          attempts[slot] = last;
          last.slot = slot;
        }
      },
    };
  }

  /** True once `destroy()` was called: requests are refused from then on. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Called by Node's ClientRequest with its options (`host` and `port` filled in). Leases a
   * connection to `host:port` (or `unix:` + `socketPath`) and hands its socket to the request;
   * a failure to get one is the request's 'error'.
   */
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    const r = req as unknown as RequestInternals;
    let attempt: Attempt;
    try {
      if (this.#destroyed) throw new BerthError('POOL_CLOSED', 'the HTTP agent was destroyed');
      const destination = this.#destinations.of(options as RequestTarget);
      const retryable = mayRetry(this.#settings, r.method, (options as { idempotent?: unknown }).idempotent);
      attempt = new Attempt(this.#owner, r, destination, retryable);
    } catch (error) {
      r.onSocket(null, error as Error);
      return;
    }
    attempt.start();
  }

  /**
   * Destroys the sockets of the requests in flight (they fail as with `http.Agent.destroy()`),
   * returns nothing more to the pool, and refuses later requests. Closes the pool only if the
   * agent created it.
   */
  override destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const attempt of [...this.#attempts]) {
      // An upgraded (or CONNECT) socket belongs to the user now, as with http.Agent.
      if (attempt.req.upgradeOrConnect && attempt.socket?._httpMessage !== attempt.req) continue;
      attempt.socket?.destroy();
    }
    if (this.#ownsPool) void this.pool.close();
  }
}
