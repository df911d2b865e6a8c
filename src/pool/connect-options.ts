/**
 * What runs on a new connection before it is pooled (TLS, a handshake) and before a reuse (a
 * check): the options, their validation, and the profile that keys the pool by them.
 */
import { createHash } from 'node:crypto';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { ACQUIRE_KEYS } from '../shared/acquire-options';
import { checkFunction, checkObject } from '../shared/validate';

/**
 * TLS options of a destination: Node's `tls.connect` options (same names, same meaning; Node's
 * CA store and `NODE_EXTRA_CA_CERTS` apply), less those that say where to connect, which the
 * destination does, and `session`, which the pool's session cache supplies. `servername`
 * defaults to the destination's host name (none for an IP address); `rejectUnauthorized` to
 * `true`.
 */
export type TlsOptions = Omit<tls.ConnectionOptions, 'host' | 'port' | 'path' | 'socket' | 'session' | 'lookup' | 'timeout' | 'onread'>;

/** What a {@link HandshakeFunction} is told about the connection. */
export interface HandshakeContext {
  /** The destination as passed to `acquire`. */
  readonly destination: string;
  /** Aborted when the handshake timed out or the pool closed: stop, and let the socket go. */
  readonly signal: AbortSignal;
}

/**
 * Runs once on each new connection, before TLS (if any) and before it counts as pooled: a
 * SOCKS or HTTP CONNECT hop to an upstream proxy, a PROXY-protocol preamble, an auth exchange.
 * Resolves to the socket to pool from now on (for example one that wraps `socket`), or to
 * nothing to pool `socket` itself. A throw or rejection fails the acquire with
 * `HANDSHAKE_FAILED` (the error as `cause`); taking longer than `handshakeTimeout` with
 * `HANDSHAKE_TIMEOUT`. Either way the connection is closed.
 */
export type HandshakeFunction = (socket: net.Socket, context: HandshakeContext) => Promise<net.Socket | void> | net.Socket | void;

/** What a {@link CheckFunction} is told about the connection. */
export interface CheckContext {
  /** The destination as passed to `acquire`. */
  readonly destination: string;
  /** How long the connection sat idle before this reuse, in ms (0 for one handed straight over). */
  readonly idleMs: number;
}

/**
 * Runs before each reuse of a pooled connection, after the engine's own liveness check: for
 * protocols with their own ping. `false`, a throw, a rejection or no answer within
 * `checkTimeout` closes the connection, and the acquire goes on with another one (counted in
 * `stats().connect.checksFailed`); the caller never sees the failure. The socket must be left
 * as found: anything written must be answered and read in full.
 */
export type CheckFunction = (socket: net.Socket, context: CheckContext) => boolean | Promise<boolean>;

/** How connections to a destination are set up and checked: on the Pool, and per acquire. */
export interface ConnectOptions {
  /**
   * Connect with TLS: `true` for the defaults, or Node's `tls.connect` options. The lease's
   * `socket` is then a `tls.TLSSocket`, its handshake done and the peer verified. The pool
   * key is the destination plus the TLS identity (every option given), so a lease never
   * receives a connection made with other TLS options. `false` on an acquire: plain, whatever
   * the pool's option. Default: none (plain TCP).
   */
  tls?: boolean | TlsOptions;
  /** Runs on each new connection before TLS and pooling: see {@link HandshakeFunction}. Part of the pool key. */
  handshake?: HandshakeFunction;
  /** Runs before each reuse: see {@link CheckFunction}. Not part of the pool key. */
  check?: CheckFunction;
}

export const CONNECT_KEYS: readonly string[] = ['tls', 'handshake', 'check'];

/** The keys of a Pool's acquire options: the wait's, and the connect options. */
export const POOL_ACQUIRE_KEYS: readonly string[] = [...ACQUIRE_KEYS, ...CONNECT_KEYS, 'hashKey'];

/** What runs on a new connection to a destination: its pool-key profile, and the steps. */
export interface ConnectRecipe {
  /** The engine's name for this profile: part of the pool key. */
  readonly profile: string;
  readonly tls: TlsOptions | undefined;
  readonly handshake: HandshakeFunction | undefined;
}

/** Throws a TypeError naming the first bad connect option. */
export function checkConnectOptions(options: ConnectOptions, where: string): void {
  const { tls: t, handshake, check } = options;
  if (t !== undefined && typeof t !== 'boolean') {
    checkObject(`${where} tls`, t, 'true or an object of tls.connect options');
    if ('socket' in t || 'host' in t || 'port' in t || 'path' in t) {
      throw new TypeError(`${where} tls must not set socket, host, port or path: the destination says where to connect`);
    }
    if ('session' in t) throw new TypeError(`${where} tls must not set session: the pool resumes sessions itself`);
  }
  checkFunction(`${where} handshake`, handshake, false);
  checkFunction(`${where} check`, check, false);
}

/**
 * The recipe for `tls` and `handshake`, or undefined for plain connections. Recipes are
 * cached by the options object (and the handshake function): pass the same object to reuse
 * the work; an object changed after its first use is not read again.
 */
export function recipeOf(tlsOption: boolean | TlsOptions | undefined, handshake: HandshakeFunction | undefined): ConnectRecipe | undefined {
  const tlsOptions = tlsOption === true ? DEFAULT_TLS : tlsOption === false ? undefined : tlsOption;
  if (tlsOptions === undefined && handshake === undefined) return undefined;
  const outer = tlsOptions ?? NO_TLS;
  const inner = handshake ?? NO_HANDSHAKE;
  let byHandshake = RECIPES.get(outer);
  const cached = byHandshake?.get(inner);
  if (cached !== undefined) return cached;
  const parts: string[] = [];
  if (handshake !== undefined) parts.push(`handshake#${identity(handshake)}`);
  if (tlsOptions !== undefined) parts.push(`tls ${tlsOptions === DEFAULT_TLS ? 'default' : digest(tlsOptions as Record<string, unknown>)}`);
  const recipe: ConnectRecipe = { profile: parts.join(' '), tls: tlsOptions, handshake };
  if (byHandshake === undefined) RECIPES.set(outer, (byHandshake = new WeakMap()));
  byHandshake.set(inner, recipe);
  return recipe;
}

/** `tls: true`: TLS with Node's defaults. */
const DEFAULT_TLS: TlsOptions = Object.freeze({});
/** Stand for "no TLS" and "no handshake" as WeakMap keys. */
const NO_TLS = Object.freeze({});
const NO_HANDSHAKE = Object.freeze({});
const RECIPES = new WeakMap<object, WeakMap<object, ConnectRecipe>>();

/** Objects and functions by identity: numbered as first seen (a WeakMap: nothing is kept alive). */
const IDENTITIES = new WeakMap<object, number>();
let nextIdentity = 1;

/** A number for `value` by identity (the same object, the same number), for pool keys. */
export function identity(value: object): number {
  let id = IDENTITIES.get(value);
  if (id === undefined) IDENTITIES.set(value, (id = nextIdentity++));
  return id;
}

/**
 * A digest of TLS options: every key and value (strings and buffers by content; functions,
 * secure contexts and other objects by identity), so that two option objects that connect
 * alike share a profile, and any difference makes another.
 */
function digest(options: Record<string, unknown>): string {
  const hash = createHash('sha256');
  const feed = (value: unknown): void => {
    if (typeof value === 'string') hash.update(`s${value.length}:`).update(value);
    else if (ArrayBuffer.isView(value)) hash.update(`b${value.byteLength}:`).update(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    else if (Array.isArray(value)) {
      hash.update(`a${value.length}[`);
      for (const item of value) feed(item);
      hash.update(']');
    } else if (typeof value === 'function' || (typeof value === 'object' && value !== null)) hash.update(`o${identity(value)};`);
    else hash.update(`${typeof value}:${String(value)};`);
  };
  for (const key of Object.keys(options).sort()) {
    if (options[key] === undefined) continue;
    hash.update(`${key}=`);
    feed(options[key]);
  }
  return hash.digest('hex').slice(0, 16);
}
