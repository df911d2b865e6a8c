/**
 * `UpstreamGroup`: the handle `pool.group()` returns. The engine keeps the members' health,
 * picks the member of each acquire and counts; this class resolves host-name members to
 * their addresses (and again every `dnsRefresh`), runs user health checks when the engine
 * asks, and emits the members' state changes.
 */
import * as dns from 'node:dns';
import { TypedEmitter } from '../shared/typed-emitter';
import { checkMembers, MAX_MEMBERS } from './group-options';
import type { GroupMemberInput, LookupAddress, MemberSpec, ResolvedGroupOptions } from './group-options';

/** A member's state: `up` (used), `down` (its health checks fail), `ejected` (outlier detection took it out for a while). */
export type MemberState = 'up' | 'down' | 'ejected';

/** One member in {@link GroupStats}. */
export interface MemberStats {
  /** Its address (`'10.0.0.1:8080'`). */
  dest: string;
  /** The host name it was resolved from, when it came from one. */
  host?: string;
  /** Its share of the picks, relative to the other members' (1 to 1000). */
  weight: number;
  /** Whether acquires go to it (`'up'`), or why not. */
  state: MemberState;
  /** Connections leased now. */
  inUse: number;
  /** Idle connections kept for it now. */
  idle: number;
  /** Connections being dialed (and handshaken) now. */
  dialing: number;
  /** Acquires sent to it. */
  picked: number;
  /** Connect failures and leases destroyed with an error, in total. */
  failures: number;
  /** Failures since its last usable connection: outlier ejection's count. */
  consecutiveFailures: number;
  /** Times it was ejected. */
  ejections: number;
  /** Connect time quantiles in milliseconds; null before its first connect. */
  latency: {
    /** Median connect time, ms. */
    p50: number;
    /** 99th percentile connect time, ms. */
    p99: number;
  } | null;
}

/** What `group.stats()` reports. */
export interface GroupStats {
  /** The group's name. */
  name: string;
  /** Its balancer (`'p2c'`, ...). */
  balance: string;
  /** Acquires of the group. */
  acquires: number;
  /** Retries on another member after a connect failure. */
  retries: number;
  /** Retries the retry budget refused. */
  retriesRefused: number;
  /** Acquires that found no healthy member. */
  noHealthyMember: number;
  /** Every member now, in the order given (a host name's addresses in the resolver's order). */
  members: MemberStats[];
}

/** A member's state change. */
export interface MemberEvent {
  /** The group's name. */
  group: string;
  /** The member's address. */
  member: string;
  /** Why: `'outlier'` (consecutive failures), `'check'` (a health check's result). */
  reason: string;
  /** For `memberEjected`: milliseconds it is ejected for. */
  ejectedFor?: number;
}

/** Events of an {@link UpstreamGroup}. */
export interface GroupEvents {
  /** A member's health check failed: no acquire goes to it until one passes. */
  memberDown: [event: MemberEvent];
  /** A member is used again (its check passed after it was down or its ejection ended). */
  memberUp: [event: MemberEvent];
  /** Outlier detection ejected a member (or its check failed when its ejection ended). */
  memberEjected: [event: MemberEvent];
  /** Resolving a host-name member failed (the addresses it had are kept). */
  error: [error: Error];
}

/** What the group needs from its pool. */
export interface GroupHost {
  /** Sets the engine's member list; returns the members' destination ids. */
  setMembers(id: number, members: { dest: string; host?: string; weight: number }[]): number[];
  stats(id: number): GroupStats | undefined;
  remove(group: UpstreamGroup): void;
}

/** A named set of upstream members; acquire from it with `pool.acquire('group:<name>')`. */
export class UpstreamGroup extends TypedEmitter<GroupEvents> {
  /** Its name: `pool.acquire('group:' + name)`. */
  readonly name: string;
  /** @internal The engine's id. */
  readonly id: number;
  /** @internal */
  readonly options: ResolvedGroupOptions;
  readonly #host: GroupHost;
  #specs: MemberSpec[] = [];
  /** Addresses of each host-name member, from its last successful resolution. */
  #resolved = new Map<string, string[]>();
  #refresh: NodeJS.Timeout | undefined;
  #pending: Promise<void> | undefined;
  #removed = false;
  #lastLookupError: Error | undefined;

  /** @internal Made by `pool.group()`. */
  constructor(name: string, id: number, options: ResolvedGroupOptions, host: GroupHost) {
    super();
    this.name = name;
    this.id = id;
    this.options = options;
    this.#host = host;
  }

  /** True once `remove()` was called. */
  get removed(): boolean {
    return this.#removed;
  }

  /** @internal Resolves once host-name members have been resolved (at once when there are none). */
  ready(): Promise<void> | undefined {
    return this.#pending;
  }

  /** @internal The last failure to resolve a host-name member, for error messages. */
  get lookupError(): Error | undefined {
    return this.#lastLookupError;
  }

  /**
   * Replaces the member list (same forms as `pool.group()`): members kept keep their state,
   * counters and connections; members gone have their idle connections closed.
   */
  update(members: readonly GroupMemberInput[]): void {
    if (this.#removed) throw new TypeError(`group ${this.name} was removed`);
    this.setSpecs(checkMembers(members));
  }

  /** @internal Sets the members after the pool checked them. */
  setSpecs(specs: MemberSpec[]): void {
    this.#specs = specs;
    for (const name of [...this.#resolved.keys()]) if (!specs.some((s) => s.name !== undefined && s.dest === name)) this.#resolved.delete(name);
    this.#apply();
    const named = specs.filter((s) => s.name !== undefined);
    clearInterval(this.#refresh);
    this.#refresh = undefined;
    if (named.length === 0) {
      this.#pending = undefined;
      return;
    }
    this.#pending = this.#resolve();
    this.#refresh = setInterval(() => void this.#resolve(), this.options.dnsRefresh);
    this.#refresh.unref();
  }

  /** Counters of the group and the state and counts of each member. */
  stats(): GroupStats {
    const stats = this.#host.stats(this.id);
    if (stats === undefined) throw new TypeError(`group ${this.name} was removed`);
    return stats;
  }

  /**
   * Removes the group: later acquires of `group:<name>` are TypeErrors, its members' idle
   * connections close (leased ones stay the holders' until released).
   */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    clearInterval(this.#refresh);
    this.#host.remove(this);
  }

  /** @internal The pool closed: no more resolutions. */
  stop(): void {
    clearInterval(this.#refresh);
    this.#refresh = undefined;
  }

  /** Resolves every host-name member (failures keep the addresses it had). */
  async #resolve(): Promise<void> {
    const lookup = this.options.lookup ?? defaultLookup;
    const named = this.#specs.filter((s) => s.name !== undefined);
    await Promise.all(
      named.map(async (spec) => {
        const { host, port } = spec.name!;
        try {
          const found = await lookup(host);
          if (!Array.isArray(found)) throw new TypeError(`lookup(${JSON.stringify(host)}) must resolve to an array of { address, family }`);
          const addrs = [...new Set(found.map((a) => (a.family === 6 || a.address.includes(':') ? `[${a.address}]:${port}` : `${a.address}:${port}`)))];
          if (addrs.length === 0) throw new Error(`${host} resolved to no address`);
          this.#resolved.set(spec.dest, addrs);
        } catch (error) {
          this.#lastLookupError = error instanceof Error ? error : new Error(String(error));
          if (this.listenerCount('error') > 0) this.emit('error', this.#lastLookupError);
        }
      }),
    );
    if (!this.#removed && this.#refresh !== undefined) this.#apply();
  }

  /** Gives the engine the member list: literal members, and each resolved address of the others. */
  #apply(): void {
    if (this.#removed) return;
    const members: { dest: string; host?: string; weight: number }[] = [];
    for (const spec of this.#specs) {
      if (spec.name === undefined) members.push({ dest: spec.dest, weight: spec.weight });
      else for (const addr of this.#resolved.get(spec.dest) ?? []) members.push({ dest: addr, host: spec.name.host, weight: spec.weight });
    }
    // The same address from two names (or a literal and a name): one member. Names that
    // resolve to very many addresses cannot grow the group past MAX_MEMBERS.
    const seen = new Set<string>();
    const unique = members.filter((m) => !seen.has(m.dest) && seen.add(m.dest) !== undefined).slice(0, MAX_MEMBERS);
    if (unique.length === MAX_MEMBERS && seen.size > MAX_MEMBERS && this.listenerCount('error') > 0) {
      this.emit('error', new Error(`group ${this.name}: its names resolve to ${seen.size} addresses; the first ${MAX_MEMBERS} are its members`));
    }
    this.#host.setMembers(this.id, unique);
  }
}

function defaultLookup(hostname: string): Promise<LookupAddress[]> {
  return dns.promises.lookup(hostname, { all: true, verbatim: true }) as Promise<LookupAddress[]>;
}
