/**
 * The PROXY protocol options of listeners, forwards and route results: their values, checked,
 * as the engine's version numbers. (The protocol itself lives in the engine:
 * crates/berth-core/src/proxy/proxy_protocol.rs.)
 */
import { describe } from '../shared/validate';

/** Which PROXY protocol versions a listener reads (see `ListenOptions.acceptProxyProtocol`). */
export type ProxyProtocolAccept = 'v1' | 'v2' | 'both';
/** Which PROXY protocol version is sent upstream (see `ListenOptions.sendProxyProtocol`). */
export type ProxyProtocolVersion = 'v1' | 'v2';

const ACCEPT_PROXY: Readonly<Record<string, number>> = { v1: 1, v2: 2, both: 3 };
const SEND_PROXY: Readonly<Record<string, number>> = { v1: 1, v2: 2 };

/**
 * A `sendProxyProtocol` value ('v1' | 'v2', or undefined) as the engine's version number; a
 * TypeError for anything else, or when `reuseUpstream` is on (a reused upstream would carry
 * another client's header).
 */
export function sendProxyOption(kind: 'listen' | 'forward' | 'route', value: unknown, reuseUpstream: boolean): number | undefined {
  if (value === undefined) return undefined;
  const version = typeof value === 'string' && Object.hasOwn(SEND_PROXY, value) ? SEND_PROXY[value] : undefined;
  if (version === undefined) {
    throw new TypeError(`${kind} option "sendProxyProtocol" must be 'v1' or 'v2', got ${describe(value)}`);
  }
  if (reuseUpstream) {
    throw new TypeError(
      `${kind} option "sendProxyProtocol" cannot be used with "reuseUpstream": a reused upstream connection would carry another client's PROXY header`,
    );
  }
  return version;
}

/** An `acceptProxyProtocol` value as the engine's number (3: both), undefined when off; else a TypeError. */
export function acceptProxyOption(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const versions = typeof value === 'string' && Object.hasOwn(ACCEPT_PROXY, value) ? ACCEPT_PROXY[value] : undefined;
  if (versions === undefined) {
    throw new TypeError(`listen option "acceptProxyProtocol" must be 'v1', 'v2' or 'both', got ${describe(value)}`);
  }
  return versions;
}
