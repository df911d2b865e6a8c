/**
 * An `https.Agent` whose keep-alive connections are a berth pool's TLS connections: the HTTP
 * agent's behaviour (stale-safety, Keep-Alive hint, idempotent retry, limits, stats, and
 * http.Agent's contract) over verified TLS. Each request's TLS options (`servername`, `ca`,
 * `cert`/`key`, `rejectUnauthorized`, ... merged with the agent's, as https.Agent merges them)
 * are its connection's TLS identity: part of the pool key, so two identities never share a
 * connection.
 *
 * ```ts
 * const agent = pool.httpsAgent({ ca });
 * https.get('https://api.example.com/health', { agent }, (res) => res.resume());
 * ```
 */
import * as https from 'node:https';
import * as net from 'node:net';
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import type { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/config';
import { AgentCore, abortedConnection, attachCore, defineViews, initAgent, type AgentKind } from './agent-core';
import type { HttpAgentOptions } from './options';

/**
 * The TLS options of a request or of the agent: Node's `tls.connect` options that decide a
 * connection's TLS identity (same names, same meaning; Node's CA store and
 * `NODE_EXTRA_CA_CERTS` apply). Verification is on unless `rejectUnauthorized: false`.
 */
export type HttpsAgentTlsOptions = Pick<
  tls.ConnectionOptions,
  | 'ca'
  | 'cert'
  | 'key'
  | 'pfx'
  | 'passphrase'
  | 'servername'
  | 'rejectUnauthorized'
  | 'ciphers'
  | 'ecdhCurve'
  | 'minVersion'
  | 'maxVersion'
  | 'secureProtocol'
  | 'secureOptions'
  | 'sessionIdContext'
  | 'crl'
  | 'honorCipherOrder'
  | 'dhparam'
  | 'sigalgs'
  | 'privateKeyIdentifier'
  | 'privateKeyEngine'
  | 'ALPNProtocols'
  | 'secureContext'
  | 'clientCertEngine'
>;

const TLS_KEYS: readonly string[] = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'servername',
  'rejectUnauthorized',
  'ciphers',
  'ecdhCurve',
  'minVersion',
  'maxVersion',
  'secureProtocol',
  'secureOptions',
  'sessionIdContext',
  'crl',
  'honorCipherOrder',
  'dhparam',
  'sigalgs',
  'privateKeyIdentifier',
  'privateKeyEngine',
  'checkServerIdentity',
  'ALPNProtocols',
  'secureContext',
  'clientCertEngine',
];

/** Options of an HTTPS agent: the HTTP agent's, and TLS options that apply to every request. */
export interface HttpsAgentOptions extends HttpAgentOptions, HttpsAgentTlsOptions {
  /**
   * Checks the server's certificate against the host name (`tls.connect`'s option): returns an
   * error to refuse it. Default: Node's `tls.checkServerIdentity`.
   */
  checkServerIdentity?: (hostname: string, cert: tls.PeerCertificate) => Error | undefined;
}

/** Options of `new HttpsAgent(options)`: the agent's, and those of the pool it makes for itself. */
export interface HttpsAgentOwnPoolOptions extends HttpsAgentOptions, Omit<PoolOptions, 'tls'> {}

const HTTPS_KIND: AgentKind = { name: 'HttpsAgent', protocol: 'https:', defaultPort: 443, tlsKeys: TLS_KEYS };

/**
 * An `https.Agent` on a berth pool: make one with `pool.httpsAgent(options)` (on that pool) or
 * `new HttpsAgent(options)` (with a pool of its own), pass it as `agent` to `https.request` or
 * any library that takes one, and `destroy()` it when done. Failed handshakes fail the request
 * with the pool's `BerthError` `TLS_FAILED` (Node's error as `cause`).
 */
export class HttpsAgent extends https.Agent {
  /** The pool whose connections the agent uses. */
  readonly pool: Pool;
  /** Whether connections are kept for the next request (option `keepAlive`, default `true`). */
  declare readonly keepAlive: boolean;
  /** The option `keepAliveMsecs` (1000 when not given, as http.Agent's). */
  declare readonly keepAliveMsecs: number;
  readonly #core: AgentCore;

  /** An agent with a pool of its own, which `destroy()` closes (agent, TLS and pool options in one object). */
  constructor(options?: HttpsAgentOwnPoolOptions);
  /** An agent on `pool` (usually through `pool.httpsAgent(options)`); the pool's limits apply. */
  constructor(pool: Pool, options?: HttpsAgentOptions);
  constructor(first?: Pool | HttpsAgentOwnPoolOptions, options?: HttpsAgentOptions) {
    const init = initAgent(first, options, HTTPS_KIND);
    super(init.nodeOptions as https.AgentOptions);
    this.pool = init.pool;
    this.#core = new AgentCore(this, init, HTTPS_DEFAULTS, HTTPS_KIND);
    attachCore(this, this.#core);
  }

  /** True once `destroy()` was called: requests are refused from then on. */
  get destroyed(): boolean {
    return this.#core.destroyed;
  }

  /**
   * Called by Node's ClientRequest with its options. Leases a TLS connection to `host:port`
   * for the request's TLS identity and hands its socket (a `tls.TLSSocket`, verified) to the
   * request. Through `createSocket` when that is overridden.
   */
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    this.#core.addRequest(req, options);
  }

  /** As `HttpAgent.createSocket`: a pooled connection for `req`, passed to `cb`. */
  createSocket(req: http.ClientRequest, _options: http.RequestOptions, cb: (err: Error | null, socket?: Duplex) => void): void {
    this.#core.createSocket(req, cb);
  }

  /**
   * Returns `options.socket` when the pool calls it for a new connection (only when
   * overridden: then once per new connection, before TLS, with the dialled socket as
   * `options.socket`; what it returns is the stream TLS runs over); called directly,
   * https.Agent's (`tls.connect`).
   */
  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    const socket = (options as { socket?: unknown }).socket;
    if (socket instanceof net.Socket) return socket;
    const aborted = abortedConnection(options);
    if (aborted !== undefined) return aborted;
    return (https.Agent.prototype.createConnection as (this: https.Agent, o: unknown, cb: unknown) => Duplex).call(this, options, callback);
  }

  /** As `HttpAgent.keepSocketAlive`: `false` closes the connection instead of pooling it. */
  override keepSocketAlive(socket: Duplex): boolean {
    return this.#core.keepSocketAlive(socket as net.Socket);
  }

  /** Called when a request gets a reused connection: by default sets `req.reusedSocket`. */
  override reuseSocket(socket: Duplex, req: http.ClientRequest): void {
    this.#core.reuseSocket(socket as net.Socket, req);
  }

  /**
   * Destroys the sockets of the requests in flight and the connections the agent left idle,
   * and refuses later requests. Closes the pool only if the agent created it.
   */
  override destroy(): void {
    this.#core.destroy();
  }
}

const HTTPS_DEFAULTS = {
  createSocket: HttpsAgent.prototype.createSocket,
  createConnection: HttpsAgent.prototype.createConnection,
};

defineViews(HttpsAgent.prototype);
