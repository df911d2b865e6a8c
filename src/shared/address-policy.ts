/**
 * `addressPolicy`: which addresses a pool (or a probe run) may connect to. The engine checks
 * it on every resolved address right before connect; this file holds the public type and the
 * validation of the option (the engine parses the entries and names a bad one).
 */
import { checkObject, describe } from './validate';
import { checkAddressPolicy } from './native';

/**
 * A named class of addresses:
 * - `loopback`: 127.0.0.0/8, ::1
 * - `private`: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918), 100.64.0.0/10 (RFC 6598, carrier-grade NAT)
 * - `linkLocal`: 169.254.0.0/16 (cloud metadata services live here), fe80::/10
 * - `uniqueLocal`: fc00::/7
 * - `multicast`: 224.0.0.0/4, ff00::/8
 * - `unspecified`: 0.0.0.0/8 (a connect to 0.0.0.0 reaches this host), ::
 * - `unix`: every `unix:/path` destination
 */
export type AddressClass = 'loopback' | 'private' | 'linkLocal' | 'uniqueLocal' | 'multicast' | 'unspecified' | 'unix';

/** A class name, or a CIDR (`'10.0.0.0/8'`, `'fd00::/8'`; a bare address is a /32 or /128). */
export type AddressPolicyEntry = AddressClass | (string & {});

/**
 * Allow and deny lists, checked by the engine on every address a destination resolves to,
 * immediately before connect: DNS answers, numeric aliases (`127.1`, `2130706433`,
 * `0x7f000001`, `0177.0.0.1`) and IPv4-mapped IPv6 (`::ffff:127.0.0.1`, checked as the IPv4
 * address it carries) are all covered. An address is refused when it matches a `deny` entry,
 * or when `allow` is given and it matches none of its entries (`allow: []` allows nothing).
 * Only the allowed addresses of a destination are tried; when none is, the acquire (or
 * forward, listener session, probe) fails with `DESTINATION_DENIED` without connecting.
 * 6to4 (`2002::/16`) and NAT64 (`64:ff9b::/96`) addresses are not translated: list those
 * prefixes to cover them.
 */
export interface AddressPolicy {
  /** When given, only addresses matching an entry are allowed. Default: no allow list. */
  allow?: readonly AddressPolicyEntry[];
  /** Addresses matching an entry are refused, whatever `allow` says. Default: none. */
  deny?: readonly AddressPolicyEntry[];
}

/** Entries per list at most: a policy is checked on every dial. */
const MAX_ENTRIES = 1024;

/**
 * Checks `value` (a TypeError that names `key`, and the bad entry) and returns a frozen copy,
 * so that later changes to the caller's arrays change nothing.
 */
export function resolveAddressPolicy(key: string, value: unknown): Readonly<AddressPolicy> {
  const given = checkObject(key, value, 'an object { allow?, deny? }');
  const policy: { allow?: readonly string[]; deny?: readonly string[] } = {};
  for (const [list, entries] of Object.entries(given)) {
    if (list !== 'allow' && list !== 'deny') {
      throw new TypeError(`unknown ${key} key ${JSON.stringify(list)} (known: allow, deny)`);
    }
    if (entries === undefined) continue;
    if (!Array.isArray(entries) || entries.length > MAX_ENTRIES) {
      throw new TypeError(`${key}.${list} must be an array of at most ${MAX_ENTRIES} CIDRs or class names, got ${describe(entries)}`);
    }
    entries.forEach((entry: unknown, i) => {
      if (typeof entry !== 'string') throw new TypeError(`${key}.${list}[${i}] must be a string (a CIDR or a class name), got ${describe(entry)}`);
    });
    policy[list] = Object.freeze([...(entries as string[])]);
  }
  try {
    checkAddressPolicy(policy);
  } catch (error) {
    // The engine names the entry as `addressPolicy.deny[2] "x"`; say the caller's key.
    throw new TypeError((error as Error).message.replace(/^addressPolicy/, key));
  }
  return Object.freeze(policy);
}
