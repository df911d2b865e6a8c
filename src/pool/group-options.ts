/** Options of `pool.group()`, their defaults and their validation. */
import * as net from 'node:net';
import type { TlsOptions } from './connect-options';
import type * as stream from 'node:stream';
import { checkCount, checkFunction, checkKnownKeys, checkObject, checkOneOf, checkRange, checkTime, describe } from '../shared/validate';

/** How a group picks the member of each acquire. */
export type BalanceMode = 'round-robin' | 'least-connections' | 'p2c' | 'hash';

/** One member: `'host:port'` (a host name stands for every address it resolves to), or with a weight. */
export type GroupMemberInput =
  | string
  | {
      /** `'host:port'`, `'[v6]:port'` or `'unix:/path'`. */
      dest: string;
      /** Its share of the picks relative to the others', an integer from 1 to 1000. Default 1. */
      weight?: number;
    };

/** What a user health check is told. */
export interface MemberCheckContext {
  /** The member's address (`'10.0.0.1:8080'`). */
  member: string;
  /** Aborted when the check's `timeout` passes. */
  signal: AbortSignal;
}

/** A user health check: resolves true when the member is healthy. Throwing counts as false. */
export type MemberCheckFunction = (socket: stream.Duplex, context: MemberCheckContext) => boolean | Promise<boolean>;

/** Active health checks of every member. */
export interface HealthCheckOptions {
  /** Milliseconds between two checks of a member. Default 5000. */
  interval?: number;
  /** Milliseconds a check may take; a slower one fails. Default 2000. */
  timeout?: number;
  /**
   * Runs on a connection leased from the member (released after a pass, closed after a fail).
   * Default: none, the check is a connect (then closed).
   */
  check?: MemberCheckFunction;
}

/** Passive outlier detection (Envoy's rules). */
export interface OutlierOptions {
  /** Connect failures (or leases destroyed with an error) in a row that eject a member; 0 turns ejection off. Default 5. */
  consecutiveFailures?: number;
  /** Milliseconds the first ejection lasts; the n-th lasts n times as long (at most 300000, or this if longer). Default 30000. */
  baseEjectionTime?: number;
  /** At most this percentage of the members is ejected at once, though one member may always be. Default 10. */
  maxEjectionPercent?: number;
}

/** Failing over to another member when a connect fails (only connects: a lease handed out is never retried). */
export interface RetryOptions {
  /** Tries per acquire, the first included, each on a member not tried yet. Default 3. */
  attempts?: number;
  /** Milliseconds before the first retry, doubling after (with full jitter); 0: none. Default 10. */
  backoff?: number;
  /** Retries allowed, as a fraction of the group's acquires over the last 10 s (at least 100 per 10 s: Finagle's 10 per second). Default 0.2. */
  budget?: number;
}

/** One address a host name resolved to. */
export interface LookupAddress {
  /** An IPv4 or IPv6 address (no brackets). */
  address: string;
  /** Its family. */
  family: 4 | 6;
}

/** Options of `pool.group(name, members, options)`. */
export interface GroupOptions {
  /** How the member of each acquire is picked. Default `'p2c'`. */
  balance?: BalanceMode;
  /** Active health checks; default: none (an ejected member is still checked before it returns). */
  healthCheck?: HealthCheckOptions;
  /** Passive outlier detection: when a member is ejected, and for how long. */
  outlier?: OutlierOptions;
  /** Failover on connect failures: how many tries, how soon, how many in all. */
  retry?: RetryOptions;
  /** TLS to every member, as `pool.acquire(dest, { tls })`. */
  tls?: boolean | TlsOptions;
  /** Resolves a host-name member to its addresses. Default: `dns.promises.lookup(hostname, { all: true })`. */
  lookup?: (hostname: string) => Promise<LookupAddress[]>;
  /** Milliseconds between re-resolutions of host-name members. Default 30000. */
  dnsRefresh?: number;
}

/** The defaults of {@link GroupOptions}. */
export const GROUP_DEFAULTS: {
  /** `balance`. */
  readonly balance: BalanceMode;
  /** `healthCheck.interval`, ms. */
  readonly healthCheckInterval: number;
  /** `healthCheck.timeout`, ms. */
  readonly healthCheckTimeout: number;
  /** `outlier.consecutiveFailures`. */
  readonly consecutiveFailures: number;
  /** `outlier.baseEjectionTime`, ms. */
  readonly baseEjectionTime: number;
  /** `outlier.maxEjectionPercent`. */
  readonly maxEjectionPercent: number;
  /** `retry.attempts`. */
  readonly attempts: number;
  /** `retry.backoff`, ms. */
  readonly backoff: number;
  /** `retry.budget`. */
  readonly budget: number;
  /** `dnsRefresh`, ms. */
  readonly dnsRefresh: number;
} = Object.freeze({
  balance: 'p2c',
  healthCheckInterval: 5000,
  healthCheckTimeout: 2000,
  consecutiveFailures: 5,
  baseEjectionTime: 30000,
  maxEjectionPercent: 10,
  attempts: 3,
  backoff: 10,
  budget: 0.2,
  dnsRefresh: 30000,
});

export const BALANCE_MODES: readonly BalanceMode[] = ['round-robin', 'least-connections', 'p2c', 'hash'];
const GROUP_KEYS = ['balance', 'healthCheck', 'outlier', 'retry', 'tls', 'lookup', 'dnsRefresh'];
/** Members of a group at most, host names' addresses included. */
export const MAX_MEMBERS = 1000;
const MAX_WEIGHT = 1000;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** A DNS name (labels of letters, digits, '-' and '_', as service names use; a trailing dot allowed). */
const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** A member as given, split: a literal address, or a host name to resolve. */
export interface MemberSpec {
  /** `host:port`, `[v6]:port` or `unix:/path`. */
  dest: string;
  weight: number;
  /** The host name to resolve, when `dest` names one; its port. */
  name?: { host: string; port: number };
}

/** The resolved options the engine is given (and the facade keeps). */
export interface ResolvedGroupOptions {
  balance: BalanceMode;
  consecutiveFailures: number;
  baseEjectionTime: number;
  maxEjectionPercent: number;
  attempts: number;
  backoff: number;
  budget: number;
  healthInterval: number | undefined;
  healthTimeout: number;
  check: MemberCheckFunction | undefined;
  tls: boolean | TlsOptions | undefined;
  lookup: ((hostname: string) => Promise<LookupAddress[]>) | undefined;
  dnsRefresh: number;
}

export function checkGroupName(name: unknown): string {
  // Not digits alone: 'group:80' is the host "group", port 80, not a group.
  if (typeof name !== 'string' || !NAME.test(name) || /^\d+$/.test(name)) {
    throw new TypeError(`group name must be 1 to 64 letters, digits, '.', '_' or '-' (not digits alone), got ${describe(name)}`);
  }
  return name;
}

/** The prefix that names a group where a destination is expected: `'group:api'`. */
export const GROUP_PREFIX = 'group:';

/**
 * The group a destination string names (`'group:api'` -> `'api'`), or undefined for an
 * ordinary destination (`'group:80'` is the host "group", port 80).
 */
export function groupNameOf(destination: string): string | undefined {
  if (!destination.startsWith(GROUP_PREFIX)) return undefined;
  const name = destination.slice(GROUP_PREFIX.length);
  return /^\d+$/.test(name) ? undefined : name;
}

/** Splits and checks the member list (a TypeError names the bad entry). */
export function checkMembers(members: unknown): MemberSpec[] {
  if (!Array.isArray(members) || members.length === 0) {
    throw new TypeError(`group members must be a non-empty array, got ${describe(members)}`);
  }
  if (members.length > MAX_MEMBERS) throw new TypeError(`a group has at most ${MAX_MEMBERS} members, got ${members.length}`);
  const seen = new Set<string>();
  return members.map((m: unknown, i) => {
    let dest: unknown = m;
    let weight: unknown = 1;
    if (typeof m === 'object' && m !== null) {
      checkKnownKeys(`members[${i}]`, m, ['dest', 'weight']);
      ({ dest, weight = 1 } = m as { dest?: unknown; weight?: unknown });
    }
    if (typeof dest !== 'string') throw new TypeError(`members[${i}] must be "host:port" or { dest, weight }, got ${describe(m)}`);
    checkRange(`members[${i}].weight`, weight, 1, MAX_WEIGHT);
    if (seen.has(dest)) throw new TypeError(`members[${i}]: ${dest} is listed twice`);
    seen.add(dest);
    const name = hostName(dest);
    if (name !== undefined && !HOST_NAME.test(name.host)) {
      throw new TypeError(`members[${i}] must be a destination like "host:port", "[v6]:port" or "unix:/path", got ${JSON.stringify(dest)}`);
    }
    return { dest, weight: weight as number, name };
  });
}

/** The host name and port of `host:port` when host is a name (not an IP literal, not unix:). */
function hostName(dest: string): { host: string; port: number } | undefined {
  if (dest.startsWith('unix:') || dest.startsWith('[')) return undefined;
  const colon = dest.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const host = dest.slice(0, colon);
  const port = Number(dest.slice(colon + 1));
  if (net.isIP(host) !== 0 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

export function resolveGroupOptions(options: GroupOptions | undefined): ResolvedGroupOptions {
  const o = options === undefined ? {} : checkObject('group options', options);
  checkKnownKeys('group', o, GROUP_KEYS);
  const d = GROUP_DEFAULTS;
  const health = o.healthCheck === undefined ? undefined : checkObject('healthCheck', o.healthCheck);
  if (health !== undefined) checkKnownKeys('healthCheck', health, ['interval', 'timeout', 'check']);
  const outlier = o.outlier === undefined ? {} : checkObject('outlier', o.outlier);
  checkKnownKeys('outlier', outlier, ['consecutiveFailures', 'baseEjectionTime', 'maxEjectionPercent']);
  const retry = o.retry === undefined ? {} : checkObject('retry', o.retry);
  checkKnownKeys('retry', retry, ['attempts', 'backoff', 'budget']);
  const budget = retry.budget ?? d.budget;
  if (typeof budget !== 'number' || !(budget >= 0 && budget <= 1)) {
    throw new TypeError(`retry.budget must be a number from 0 to 1, got ${describe(budget)}`);
  }
  const tls = o.tls;
  if (tls !== undefined && typeof tls !== 'boolean' && (typeof tls !== 'object' || tls === null)) {
    throw new TypeError(`tls must be a boolean or tls.connect options, got ${describe(tls)}`);
  }
  return {
    balance: checkOneOf('balance', o.balance, BALANCE_MODES, d.balance),
    consecutiveFailures: checkCount('outlier.consecutiveFailures', outlier.consecutiveFailures, { min: 0 }, d.consecutiveFailures),
    baseEjectionTime: checkTime('outlier.baseEjectionTime', outlier.baseEjectionTime, { min: 1 }, d.baseEjectionTime),
    maxEjectionPercent: outlier.maxEjectionPercent === undefined ? d.maxEjectionPercent : checkRange('outlier.maxEjectionPercent', outlier.maxEjectionPercent, 0, 100),
    attempts: checkCount('retry.attempts', retry.attempts, { min: 1 }, d.attempts),
    backoff: checkTime('retry.backoff', retry.backoff, { min: 0 }, d.backoff),
    budget,
    healthInterval: health === undefined ? undefined : checkTime('healthCheck.interval', health.interval, { min: 1 }, d.healthCheckInterval),
    healthTimeout: checkTime('healthCheck.timeout', health?.timeout, { min: 1 }, d.healthCheckTimeout),
    check: health === undefined ? undefined : checkFunction<MemberCheckFunction>('healthCheck.check', health.check, false),
    tls: tls as boolean | TlsOptions | undefined,
    lookup: checkFunction<(hostname: string) => Promise<LookupAddress[]>>('lookup', o.lookup, false),
    dnsRefresh: checkTime('dnsRefresh', o.dnsRefresh, { min: 1 }, d.dnsRefresh),
  };
}
