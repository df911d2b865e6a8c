/** `probe()` options, their defaults and validation, and the targets it accepts. */
import { checkKnownKeys, checkObject, describe, MAX_TIME } from '../shared/validate';
import { resolveAddressPolicy, type AddressPolicy } from '../shared/address-policy';
import { redact } from '../shared/redact';

/** Options of `probe(targets, options)`. */
export interface ProbeOptions {
  /** Probes in flight at most: an integer from 1 to 65535. Default 256. */
  concurrency?: number;
  /**
   * Per probe, from its start (name resolution included) to its outcome: a target with no
   * answer by then is `'filtered'`. Milliseconds, from 1 to 2147483647. Default 1000.
   */
  timeout?: number;
  /**
   * `'tcp'` (default): a connect; `'open'` when it completes (the connection is closed at once),
   * `'closed'` when refused. `'udp'`: a datagram (`payload`); `'open'` when a datagram comes back,
   * `'closed'` on ICMP port unreachable, `'filtered'` on silence.
   */
  protocol?: 'tcp' | 'udp';
  /** The datagram sent to each target: `protocol: 'udp'` only, up to 65507 bytes. Default empty. */
  payload?: string | Uint8Array;
  /**
   * Cancels the run: every probe in flight is stopped and its socket closed, and the iterator
   * throws `signal.reason` (once every socket is closed).
   */
  signal?: AbortSignal;
  /**
   * As a pool's `addressPolicy`: a target whose every address it refuses yields a result in
   * state `'error'` with code `DESTINATION_DENIED`, and nothing is sent to it. Default `{}`:
   * everything allowed.
   */
  addressPolicy?: AddressPolicy;
}

/** A target given as an object: `{ host: '10.0.0.1', port: 22 }` (an IPv6 host needs no brackets). */
export interface ProbeTargetObject {
  /** A host name, or an IPv4 or IPv6 address (without brackets). */
  host: string;
  /** The port to probe: an integer from 1 to 65535. */
  port: number;
}

/** `'host:port'`, `'[v6addr]:port'`, or `{ host, port }`. */
export type ProbeTarget = string | ProbeTargetObject;

export interface ResolvedProbeOptions {
  concurrency: number;
  timeout: number;
  udp: boolean;
  payload: Buffer;
  signal: AbortSignal | undefined;
  addressPolicy: Readonly<AddressPolicy>;
}

export const PROBE_DEFAULTS = Object.freeze({
  concurrency: 256,
  timeout: 1000,
  protocol: 'tcp' as const,
});

export const MAX_PROBE_CONCURRENCY = 65535;
/** Largest UDP payload over IPv4 (65535 - 8 bytes UDP header - 20 bytes IP header). */
export const MAX_UDP_PAYLOAD = 65507;

const PROBE_KEYS: ReadonlySet<string> = new Set(['concurrency', 'timeout', 'protocol', 'payload', 'signal', 'addressPolicy']);

/** Throws a TypeError naming the first bad option. */
export function resolveProbeOptions(options: unknown): ResolvedProbeOptions {
  if (options === undefined) options = {};
  checkKnownKeys('probe', checkObject('probe options', options), PROBE_KEYS);
  const o = options as ProbeOptions;
  const concurrency = o.concurrency === undefined ? PROBE_DEFAULTS.concurrency : o.concurrency;
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_PROBE_CONCURRENCY) {
    throw new TypeError(`probe option "concurrency" must be an integer from 1 to ${MAX_PROBE_CONCURRENCY}, got ${describe(o.concurrency)}`);
  }
  const timeout = o.timeout === undefined ? PROBE_DEFAULTS.timeout : o.timeout;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 1 || timeout > MAX_TIME) {
    throw new TypeError(`probe option "timeout" must be a number of milliseconds from 1 to ${MAX_TIME}, got ${describe(o.timeout)}`);
  }
  const protocol = o.protocol === undefined ? PROBE_DEFAULTS.protocol : o.protocol;
  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw new TypeError(`probe option "protocol" must be 'tcp' or 'udp', got ${describe(o.protocol)}`);
  }
  let payload: Buffer = Buffer.alloc(0);
  if (o.payload !== undefined) {
    if (protocol !== 'udp') throw new TypeError(`probe option "payload" applies to protocol 'udp' only`);
    if (typeof o.payload === 'string') payload = Buffer.from(o.payload);
    else if (o.payload instanceof Uint8Array) payload = Buffer.from(o.payload); // a copy: later writes to it change nothing
    else throw new TypeError(`probe option "payload" must be a string, Buffer or Uint8Array, got ${describe(o.payload)}`);
    if (payload.length > MAX_UDP_PAYLOAD) {
      throw new TypeError(`probe option "payload" must be at most ${MAX_UDP_PAYLOAD} bytes, got ${payload.length}`);
    }
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`probe option "signal" must be an AbortSignal, got ${describe(o.signal)}`);
  }
  const addressPolicy = o.addressPolicy === undefined ? {} : resolveAddressPolicy('addressPolicy', o.addressPolicy);
  return { concurrency, timeout, udp: protocol === 'udp', payload, signal: o.signal, addressPolicy };
}

/**
 * A target as the engine takes it (`'host:port'` / `'[v6]:port'`), or an `Error` message for
 * one that is neither a string nor a `{ host, port }` object. Strings go to the engine as they
 * are: it parses them (and reports the bad ones).
 */
export function targetString(target: unknown): string | { invalid: string } {
  if (typeof target === 'string') return target;
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    const { host, port } = target as Partial<ProbeTargetObject>;
    if (typeof host !== 'string' || host === '') {
      return { invalid: redact(`invalid target: "host" must be a non-empty string, got ${describe(host)}`) };
    }
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return { invalid: redact(`invalid target ${host}: "port" must be an integer from 1 to 65535, got ${describe(port)}`) };
    }
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
  }
  return { invalid: redact(`invalid target ${describe(target)}: expected "host:port", "[v6addr]:port" or { host, port }`) };
}

/** What a result's `target` says for an input that is not a target. */
export function targetLabel(target: unknown): string {
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    const { host, port } = target as { host?: unknown; port?: unknown };
    return `${typeof host === 'string' ? host : describe(host)}:${typeof port === 'number' ? port : describe(port)}`;
  }
  if (target === null || target === undefined || typeof target === 'number' || typeof target === 'boolean' || typeof target === 'bigint') {
    return String(target);
  }
  return describe(target);
}
