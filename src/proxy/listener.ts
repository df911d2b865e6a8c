/**
 * `pool.listen`: a listener whose connections the engine accepts and forwards itself. JS is
 * asked once per connection where it goes (the route function) and never touches its bytes.
 */
import * as net from 'node:net';
import { describe } from '../shared/validate';
import { redact } from '../shared/redact';
import { DEFAULT_IDLE_TIMEOUT, idleTimeoutOption } from './forward';
import { acceptProxyOption, sendProxyOption, type ProxyProtocolAccept, type ProxyProtocolVersion } from './proxy-protocol-options';
import { checkListenHost, type NativeListener, type RouteRequest } from '../shared/native';
import { toRouteAnswer, type RouteResult } from './route-result';

/** Options of `pool.listen(options, route)`: where to listen, limits, and what the route sees. */
export interface ListenOptions {
  /**
   * IP address to bind (`'localhost'` means `127.0.0.1`); an IPv6 link-local address takes a
   * zone (`'fe80::1%eth0'`, or the interface index `'fe80::1%2'`). Default `'127.0.0.1'`.
   */
  host?: string;
  /** Port; 0 (the default) picks a free one: see `address()`. */
  port?: number;
  /**
   * Show the route function up to this many initial bytes of each connection (peeked, not
   * consumed: they still go upstream), e.g. to route on a Host header or a TLS SNI. Default 0.
   */
  peek?: number;
  /** How long to wait for those bytes (ms); the route then gets what arrived. Default 1000. */
  peekTimeout?: number;
  /** Return upstreams to the pool after sessions that ended cleanly (see `ForwardOptions.reuseUpstream`). Default false. */
  reuseUpstream?: boolean;
  /** Listen backlog. Default 511, as Node's. */
  backlog?: number;
  /**
   * Close both sides of a session once no byte moved in either direction for this many ms
   * (a download to a silent client is not idle). A session that is not relaying this long
   * after it was accepted (waiting for its peek bytes, its route, or an upstream) is closed
   * too. Counted in `stats().idleTimeouts`. `Infinity` turns it off (trusted clients only).
   * Default 60000 (nginx's `proxy_read_timeout`; HAProxy configurations typically use 30-50 s).
   */
  idleTimeout?: number;
  /**
   * Sessions in flight (being routed or relaying) at most. At the cap the listener stops
   * accepting: new clients wait in the kernel's backlog (`backlog`) and are served as sessions
   * end; nothing is refused. Counted in `stats().acceptPauses`. Default 1024 (the pool's
   * default `maxTotal`: each session needs an upstream).
   */
  maxConnections?: number;
  /**
   * Sessions in flight per client IP address at most; a connection beyond it is reset at once
   * and counted in `stats().rejectedPerClient`. A value of `maxConnections` or more turns it
   * off. Default 128 (an eighth of the default `maxConnections`).
   */
  maxConnectionsPerClient?: number;
  /**
   * Read a PROXY protocol header (HAProxy's, as sent by a load balancer with `send-proxy` /
   * `send-proxy-v2`, AWS NLB, ...) at the start of every connection: `'v1'` (text), `'v2'`
   * (binary) or `'both'`. Its source address is then the client's: the route's
   * `remoteAddress`/`remotePort`/`remoteFamily` and `maxConnectionsPerClient` use it (a v2
   * `LOCAL` or v1 `UNKNOWN` header leaves the direct peer's). The header is consumed: `peek`
   * and the upstream see what follows it. A connection without a valid header within
   * `peekTimeout` (or `idleTimeout` when `peekTimeout` is 0) is closed and counted in
   * `stats().proxyProtocolErrors`. Only for listeners that trust their peers (a balancer):
   * whoever can connect can claim any address. Default: off.
   */
  acceptProxyProtocol?: ProxyProtocolAccept;
  /**
   * Send a PROXY protocol header (`'v1'` or `'v2'`) with the client's addresses to every
   * upstream before any other byte (the received header's addresses with
   * `acceptProxyProtocol`). Each session then dials a fresh upstream, never given back to the
   * pool: not with `reuseUpstream` (a TypeError). Default: off.
   */
  sendProxyProtocol?: ProxyProtocolVersion;
}

export type { ProxyProtocolAccept, ProxyProtocolVersion };

/** What the route function learns of a new connection. */
export interface RouteInfo {
  /**
   * The client's IP address, as text (`'192.0.2.1'`, `'2001:db8::1'`); with
   * `acceptProxyProtocol`, the source its PROXY header gave.
   */
  remoteAddress: string;
  /** The family of `remoteAddress`. */
  remoteFamily: 'IPv4' | 'IPv6';
  /** The client's port. */
  remotePort: number;
  /** The local port that accepted the connection (the listener's). */
  localPort: number;
  /** Up to `peek` initial bytes (empty without `peek`). */
  head: Buffer;
  /**
   * The server name (SNI) of a TLS ClientHello in `head`, lowercased: the host the client
   * wants, read without terminating TLS. Undefined without `peek`, when `head` is not a
   * ClientHello, when the hello names no host (or not a valid DNS name), or when the name is
   * not within `peek` bytes. A ClientHello that arrives in several TCP segments (browsers'
   * hellos with post-quantum key shares run to ~1.8 KB) is peeked again until it is whole,
   * `head` is full, or `peekTimeout` passes; a `peek` of 2048 holds those of common clients.
   */
  sni?: string;
  /** The ALPN protocols of that ClientHello, in the client's order (`['h2', 'http/1.1']`); undefined when it offers none. */
  alpn?: string[];
  /**
   * The `Host` header of a plaintext HTTP/1 request in `head` (the first one, trimmed, as
   * sent: it may carry a port); undefined when it is not within the peeked header lines (a
   * head is peeked again, as a ClientHello is, until its Host line or its end is in).
   */
  host?: string;
  /** The method of that HTTP/1 request line (`'GET'`); undefined unless the whole line is in `head`. */
  method?: string;
  /** The request-target of that line, as sent (`'/a/b?c'`; `'host:port'` for CONNECT). */
  path?: string;
}

/**
 * Where a connection goes: a destination (`'host:port'`, `'[v6]:port'`, `'unix:/path'`,
 * `'group:<name>'`), a {@link RouteResult} (a destination and what goes with it), or `null` /
 * `undefined` to refuse it. Throwing, rejecting, an invalid destination or an invalid result
 * refuses it too; each refusal closes the connection and counts in `stats().routeFailures`.
 */
export type RouteFunction = (
  conn: RouteInfo,
) => string | RouteResult | null | undefined | Promise<string | RouteResult | null | undefined>;

/** What `listener.stats()` reports: counters since the listener started, and gauges now. */
export interface ProxyStats {
  /** Connections routed to an upstream, ever. */
  sessionsTotal: number;
  /** Connections accepted and not yet closed (being routed or forwarding). */
  sessionsActive: number;
  /** Client to upstream bytes, over ended sessions. */
  bytesIn: number;
  /** Upstream to client bytes, over ended sessions. */
  bytesOut: number;
  /** Connections refused by the route function (null, throw, reject, invalid destination). */
  routeFailures: number;
  /** Sessions whose upstream could not be connected. */
  connectFailures: number;
  /** Sessions served by a reused upstream connection. */
  upstreamReused: number;
  /** Sessions closed by `idleTimeout` (while relaying, or not relaying in time). */
  idleTimeouts: number;
  /** Connections reset at once because their address had `maxConnectionsPerClient` sessions. */
  rejectedPerClient: number;
  /** Times the listener stopped accepting because `maxConnections` sessions were in flight. */
  acceptPauses: number;
  /** Client addresses with sessions in flight now (forgotten with their last session). */
  clients: number;
  /** Connections closed for a missing, invalid or late PROXY protocol header (with `acceptProxyProtocol`). */
  proxyProtocolErrors: number;
}

const LISTEN_KEYS: ReadonlySet<string> = new Set([
  'host',
  'port',
  'peek',
  'peekTimeout',
  'reuseUpstream',
  'backlog',
  'idleTimeout',
  'maxConnections',
  'maxConnectionsPerClient',
  'acceptProxyProtocol',
  'sendProxyProtocol',
]);
/** Default `maxConnections` and `maxConnectionsPerClient` (see ListenOptions). */
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 128;
/** Engine counters are u32. */
const MAX_COUNT = 2 ** 31 - 1;
/** Peeked bytes are copied per connection: a few KiB covers a Host header or a ClientHello. */
const MAX_PEEK = 64 * 1024;

export interface ResolvedListenOptions {
  host: string;
  port: number;
  peek: number;
  peekTimeout: number;
  reuseUpstream: boolean;
  backlog: number;
  idleTimeout: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  /** 1, 2 or 3 (both); undefined: off. */
  acceptProxyProtocol?: number;
  /** 1 or 2; undefined: off. */
  sendProxyProtocol?: number;
}


function integer(key: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`listen option "${key}" must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function resolveListenOptions(options: unknown): ResolvedListenOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`listen options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!LISTEN_KEYS.has(key)) throw new TypeError(`unknown listen option "${key}"`);
  }
  const o = options as ListenOptions;
  let host = o.host ?? '127.0.0.1';
  if (host === 'localhost') host = '127.0.0.1';
  if (typeof host !== 'string' || net.isIP(host) === 0) {
    throw new TypeError(redact(`listen option "host" must be an IP address or "localhost", got ${describe(o.host)}`));
  }
  if (host.includes('%')) {
    // A zone names a network interface: an unknown one is bad input, not a bind failure.
    try {
      checkListenHost(host);
    } catch (error) {
      throw new TypeError(`listen option "host" ${(error as Error).message}`);
    }
  }
  if (o.reuseUpstream !== undefined && typeof o.reuseUpstream !== 'boolean') {
    throw new TypeError(`listen option "reuseUpstream" must be a boolean, got ${describe(o.reuseUpstream)}`);
  }
  const peekTimeout = o.peekTimeout ?? 1000;
  if (typeof peekTimeout !== 'number' || Number.isNaN(peekTimeout) || peekTimeout < 0) {
    throw new TypeError(`listen option "peekTimeout" must be a number of milliseconds >= 0, got ${describe(o.peekTimeout)}`);
  }
  const acceptProxyProtocol = acceptProxyOption(o.acceptProxyProtocol);
  const sendProxyProtocol = sendProxyOption('listen', o.sendProxyProtocol, o.reuseUpstream ?? false);
  return {
    acceptProxyProtocol,
    sendProxyProtocol,
    host,
    port: integer('port', o.port, 0, 65535, 0),
    peek: integer('peek', o.peek, 0, MAX_PEEK, 0),
    peekTimeout,
    reuseUpstream: o.reuseUpstream ?? false,
    backlog: integer('backlog', o.backlog, 1, 65535, 511),
    idleTimeout: idleTimeoutOption('listen', o.idleTimeout) ?? DEFAULT_IDLE_TIMEOUT,
    maxConnections: integer('maxConnections', o.maxConnections, 1, MAX_COUNT, DEFAULT_MAX_CONNECTIONS),
    maxConnectionsPerClient: integer(
      'maxConnectionsPerClient',
      o.maxConnectionsPerClient,
      1,
      MAX_COUNT,
      DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    ),
  };
}

/**
 * The listener's side of routing: woken by the engine when requests wait, it takes all of
 * them in one call and calls the route function for each; every answer goes back on its own
 * (an async route's when it settles).
 */
export function routeHandler(route: RouteFunction, listener: () => NativeListener | undefined): (waiting: number) => void {
  return () => {
    const native = listener();
    if (native === undefined) return;
    for (const request of native.takeRoutes()) routeOne(route, native, request);
  };
}

function routeOne(route: RouteFunction, native: NativeListener, request: RouteRequest): void {
  const answer = (result: unknown) => {
    if (typeof result === 'string') native.answer(request.token, result);
    else if (result !== null && typeof result === 'object') {
      const object = toRouteAnswer(result as RouteResult);
      if (object === undefined) native.answer(request.token, null);
      else native.answerWith(request.token, object);
    } else native.answer(request.token, null);
  };
  const info: RouteInfo = {
    remoteAddress: request.remoteAddress,
    remoteFamily: request.remoteFamily as 'IPv4' | 'IPv6',
    remotePort: request.remotePort,
    localPort: request.localPort,
    head: request.head,
  };
  // Only what the engine found: absent fields stay absent (not even `undefined` keys).
  if (request.sni != null) info.sni = request.sni;
  if (request.alpn != null) info.alpn = request.alpn;
  if (request.host != null) info.host = request.host;
  if (request.method != null) info.method = request.method;
  if (request.path != null) info.path = request.path;
  let result: ReturnType<RouteFunction>;
  try {
    result = route(info);
  } catch {
    answer(null);
    return;
  }
  if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
    (result as Promise<unknown>).then(answer, () => answer(null));
  } else {
    answer(result);
  }
}

/** Options of `listener.close(options)`. */
export interface ListenerCloseOptions {
  /**
   * Let the sessions in flight finish by themselves for up to this many ms (accepting stops at
   * once), then close the rest. `Infinity`: until they end (each is still bounded by
   * `idleTimeout`). Default: none, the sessions in flight are closed at once.
   */
  drain?: number;
}

/** What `listener.close()` resolves to: how the sessions in flight at the close ended. */
export interface ListenerCloseResult {
  /** Sessions that ended by themselves during the drain. */
  finished: number;
  /** Sessions still in flight at the drain's end (at once, without `drain`): both sides closed. */
  cut: number;
}

function drainOption(options: unknown): number | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`listener close options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'drain') throw new TypeError(`unknown listener close option "${key}"`);
  }
  const { drain } = options as ListenerCloseOptions;
  if (drain !== undefined && (typeof drain !== 'number' || Number.isNaN(drain) || drain < 0)) {
    throw new TypeError(`listener close option "drain" must be a number of milliseconds >= 0 (or Infinity), got ${describe(drain)}`);
  }
  return drain;
}

/** Each listener's native side, for its pool's metrics (kept off the public type). */
const NATIVES = new WeakMap<ProxyListener, NativeListener>();

/** The native listener behind `listener` (for `pool.metrics()`). */
export function nativeListenerOf(listener: ProxyListener): NativeListener | undefined {
  return NATIVES.get(listener);
}

/** A running native listener (from `pool.listen`). */
export class ProxyListener implements AsyncDisposable {
  readonly #native: NativeListener;
  readonly #onClosed: () => void;
  #closed: Promise<ListenerCloseResult> | undefined;

  /** @internal Made by `pool.listen`; `onClosed` runs once every descriptor is closed. */
  constructor(native: NativeListener, onClosed: () => void) {
    this.#native = native;
    this.#onClosed = onClosed;
    NATIVES.set(this, native);
  }

  /** The bound address, as `net.Server#address()` gives it. */
  address(): net.AddressInfo {
    return { address: this.#native.address, family: this.#native.family, port: this.#native.port };
  }

  /**
   * @internal For tests: how many session ends the engine reported to JS (it reports them
   * only while `berth:listener:session` has subscribers).
   */
  [Symbol.for('berth.sessionEndsReported')](): number {
    return this.#native.sessionEndsReported;
  }

  /** Session and byte counts, read without stopping the listener. */
  stats(): ProxyStats {
    return { ...this.#native.stats() };
  }

  /**
   * Stops accepting at once and ends the sessions in progress (both sides closed), after
   * letting them finish by themselves for up to `drain` ms; resolves once every descriptor of
   * the listener is closed, with how many finished and how many were cut. Calling it again
   * returns the same promise (a shorter `drain`, or none, cuts the sessions sooner).
   */
  close(options?: ListenerCloseOptions): Promise<ListenerCloseResult> {
    let drain: number | undefined;
    try {
      drain = drainOption(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed !== undefined) {
      // Already closing: this call's deadline applies too, the first call reports.
      this.#native.close(() => {}, drain);
      return this.#closed;
    }
    this.#closed = new Promise<ListenerCloseResult>((resolve) =>
      this.#native.close(({ finished, cut }) => {
        this.#onClosed();
        resolve({ finished, cut });
      }, drain),
    );
    return this.#closed;
  }

  /** For `await using`: the same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
