/**
 * The public `Pool`: a thin layer over the native engine. The engine decides who gets which
 * connection (limits, waiters, timers, liveness); this class owns the sockets and turns the
 * engine's numbers into leases, errors and promises.
 */
import * as net from 'node:net';
import { setAwaiting } from '../shared/awaited';
import { checkForwardOptions, checkInbound, flushed, handOver, toForwardResult, type ForwardOptions, type ForwardResult } from '../proxy/forward';
import { ProxyListener, resolveListenOptions, routeHandler, type ListenOptions, type RouteFunction } from '../proxy/listener';
import { ConnState, Connection, type ConnectionOwner } from './connection';
import { resolveOptions, type PoolOptions, type ResolvedPoolOptions } from './config';
import { checkKnownKeys, checkObject, describe } from '../shared/validate';
import { BerthError, dialError } from '../shared/errors';
import { Lease, type LeaseOwner } from './lease';
import { WaiterTable } from '../shared/waiter-table';
import { checkAcquireOptions, type AcquireOptions } from '../shared/acquire-options';
import { CONNECT_KEYS, POOL_ACQUIRE_KEYS, checkConnectOptions, recipeOf, type CheckFunction, type ConnectOptions, type ConnectRecipe } from './connect-options';
import { handshake, SessionCache } from './handshake';
import { acquireMany, checkAcquireManyOptions, checkDestinations, type AcquireManyOptions } from './acquire-many';
import { UpstreamGroup, type GroupStats, type MemberState } from './group';
import { checkGroupName, checkMembers, GROUP_PREFIX, groupNameOf, resolveGroupOptions, type GroupMemberInput, type GroupOptions } from './group-options';
import { acquireFromGroup } from './group-acquire';
import { TypedEmitter } from '../shared/typed-emitter';
import type { PoolEvents } from './events';
import { poolFamilies, type ListenerMetrics } from './metrics';
import { registerPool, unregisterPool } from '../shared/metrics/registry';
import { render } from '../shared/metrics/render';
import type { Family } from '../shared/metrics/model';
import { nativeListenerOf } from '../proxy/listener';
import { PoolObserver, traceAcquire } from './observe';
import { acquireStart, releaseChannel, sessionChannel } from '../shared/diagnostics';
import { clientOf, publishForward, watchSessions } from './session-trace';
import { performance } from 'node:perf_hooks';
import { acquireWatched, poolLeakWatch, watchedOwner, type PoolLeakWatch } from './leak';
import { nodeConnect, nodeDialSelected, type NodeDial } from './node-dial';
import { relay } from '../proxy/relay';

export type { AcquireOptions } from '../shared/acquire-options';

/** Options of `pool.acquire()` (and `use`, `warm`, `acquireMany`): the wait's, and how to connect. */
export interface PoolAcquireOptions extends AcquireOptions, ConnectOptions {
  /** For `'group:<name>'` with `balance: 'hash'`: acquires with the same key go to the same member while it is up. */
  hashKey?: string;
}

// Straight from the modules (not the index): the hot path reads these as plain properties.
import {
  BAD_ARGUMENT,
  DISCARD_BY_USER,
  EVENT_DIAL_FAILED,
  EVENT_DIAL_ORDER,
  EVENT_DIALED,
  EVENT_EVICT,
  EVENT_MEMBER_CHECK,
  EVENT_MEMBER_DOWN,
  EVENT_MEMBER_EJECTED,
  EVENT_MEMBER_UP,
  EVENT_WAITER_TIMED_OUT,
  EVICT_KEEP_ALIVE_EXPIRED,
  EVICT_PEER_CLOSED,
  EVICT_UNHEALTHY,
  KEY_BASE,
  PLACED_CLOSE,
  PLACED_IDLE,
  QUEUE_FULL,
  QUEUED,
  UNKNOWN_DESTINATION,
  DEAD_BASE,
} from '../shared/native/contract';
import {
  acquire,
  acquireWith,
  createEngine,
  type Engine,
  release,
  releaseWrote,
  type EngineEvent,
} from '../shared/native/pool-engine';
import { Lifecycle, Phase, type DrainOptions } from '../shared/lifecycle';
import { toPoolSnapshot, type ConnectStats, type PoolSnapshot, type PoolStats } from './stats';

export type { DrainOptions } from '../shared/lifecycle';

interface Waiter {
  resolve(lease: Lease): void;
  reject(error: unknown): void;
  readonly destination: string;
  readonly destId: number;
  readonly signal: AbortSignal | undefined;
  /** Runs before a reused connection is handed to this waiter. */
  readonly check: CheckFunction | undefined;
  onAbort: (() => void) | undefined;
}

/** A new connection whose handshake runs: its raw socket, and whether that closed meanwhile. */
interface Handshaking {
  readonly raw: net.Socket;
  closed: boolean;
}

function ignore(): void {}

/** Pools with forwards in flight or listeners open: kept reachable, as their sockets would be. */
const FORWARDING = new Set<Pool>();

/** Matches no destination a caller can pass. */
const NO_DESTINATION: unique symbol = Symbol('berth.noDestination');

/**
 * Destination ids remembered before the tables are pruned of ids the engine has forgotten
 * (it forgets a destination that holds nothing): the tables stay bounded by what the pool
 * holds, like the engine's.
 */
const DEST_TABLE_PRUNE_AT = 1024;


export class Pool extends TypedEmitter<PoolEvents> implements AsyncDisposable {
  /** The resolved configuration, defaults filled in. */
  readonly options: Readonly<ResolvedPoolOptions>;
  /** The `pool` label of this pool's metrics: `options.name`, or `pool-<n>` in creation order. */
  readonly name: string;
  /** Builds this pool's metric families for the process-wide registry (holds the pool weakly). */
  readonly #collect: () => Family[] | undefined;
  readonly #engine: Engine;
  /** The engine's handle, for the hot acquire. */
  readonly #handle: number;
  /** The engine's handle, scaled: adding a connection id gives a hot-path key. */
  readonly #keyBase: number;
  /** Destination strings as passed, and their engine ids (pruned: see DEST_TABLE_PRUNE_AT). */
  readonly #destIds = new Map<string, number>();
  #pruneAt = DEST_TABLE_PRUNE_AT;
  /**
   * The destination of the last acquire and its id: most pools serve one destination at a
   * time, and comparing a string with itself is cheaper than a Map lookup.
   */
  #lastDestination: string | typeof NO_DESTINATION = NO_DESTINATION;
  #lastDestId = 0;
  /** Destination strings by engine id, as first passed to `acquire`. */
  readonly #destNames = new Map<number, string>();
  /** Connections by engine id (ids are small and reused, so an array beats a Map). */
  readonly #conns: (Connection | undefined)[] = [];
  readonly #waiters = new WaiterTable<Waiter>();
  readonly #life = new Lifecycle({
    isDrained: () => this.#leased === 0 && this.#waiters.size === 0 && this.#forwarding === 0,
    describeOutstanding: () => `${this.#leased} leases still out`,
    startClose: () => this.#startClose(),
  });
  #leased = 0;
  #sockets = 0;
  #refed = false;
  #unrefQueue: Connection[] = [];
  /** Forwards in flight and listeners open (see FORWARDING). */
  #forwards = 0;
  /** Forwards in flight alone: `drain()` waits for them as for leases. */
  #forwarding = 0;
  readonly #listeners = new Set<ProxyListener>();
  /** What runs on new connections of acquires that give no connect options of their own. */
  readonly #recipe: ConnectRecipe | undefined;
  /** The check of acquires that give none of their own. */
  readonly #check: CheckFunction | undefined;
  /** The recipe of each destination id interned under one (pruned with the id tables). */
  readonly #recipes = new Map<number, ConnectRecipe>();
  /** Groups by name and by engine id, and the group of each member destination. */
  readonly #groups = new Map<string, UpstreamGroup>();
  readonly #groupsById = new Map<number, UpstreamGroup>();
  readonly #memberOf = new Map<number, UpstreamGroup>();
  /** Member destinations whose failure streak includes a failed lease: a release ends it. */
  readonly #leaseStreaks = new Set<number>();
  readonly #sessions: SessionCache;
  /**
   * Node connects the engine's dials (see node-dial.ts): always on Windows, elsewhere by the
   * internal switch `BERTH_INTERNAL_NODE_DIAL=1`, read when the pool is made.
   */
  readonly #nodeDial: boolean;
  /** Node's connects in flight (Node-dialled path), by connection id. */
  readonly #nodeDials = new Map<number, NodeDial>();
  /** Handshakes in flight, by connection id. */
  readonly #handshaking = new Map<number, Handshaking>();
  /** Aborted when the pool closes: handshakes in flight stop. */
  readonly #closing = new AbortController();
  /** Events and diagnostics channels (observe.ts). */
  readonly #obs: PoolObserver;
  /** Inside a traced acquire: its inner `acquire` call is not traced again. */
  #tracing = false;
  readonly #connectStats: ConnectStats = {
    handshakes: 0,
    handshakesFailed: 0,
    handshakesTimedOut: 0,
    tlsFull: 0,
    tlsResumed: 0,
    checks: 0,
    checksFailed: 0,
  };
  /** Leak detection (`leakDetectionThreshold`), or undefined when it is off. */
  readonly #leakWatch: PoolLeakWatch | undefined;
  /**
   * `#leakWatch` while calls of `acquire` are to be watched; undefined during the inner call of
   * a watched acquire, which is not watched again. One field, so that `acquire` with the
   * option off tests one thing.
   */
  #watchAcquires: PoolLeakWatch | undefined;
  /** What leases and connections call back into: kept off the public type. */
  readonly #owner: LeaseOwner & ConnectionOwner = {
    releaseConnection: (conn) => this.#releaseConnection(conn),
    destroyConnection: (conn, error, unused) => this.#destroyConnection(conn, error, unused),
    onSocketEnded: (conn) => this.#onSocketEnded(conn),
    onSocketClosed: (conn) => this.#onSocketClosed(conn),
    onIdleData: (conn) => {
      this.#engine.evictIdle(conn.id, EVICT_UNHEALTHY);
      this.#obs.evicted(conn.destination, EVICT_UNHEALTHY);
      conn.destroy();
    },
  };

  constructor(options?: PoolOptions) {
    super();
    this.options = Object.freeze(resolveOptions(options));
    const o = this.options;
    const self = new WeakRef(this);
    this.#nodeDial = nodeDialSelected();
    this.#collect = () => {
      const pool = self.deref();
      return pool === undefined ? undefined : pool.#families();
    };
    this.name = registerPool('pool', o.name, this, this.#collect);
    this.#engine = createEngine(
      {
        maxPerDestination: o.maxPerDestination,
        maxIdlePerDestination: o.maxIdlePerDestination,
        maxTotal: o.maxTotal,
        maxTotalIdle: o.maxTotalIdle,
        maxWaiters: o.maxWaiters,
        maxConcurrentDials: o.maxConcurrentDials,
        idleTimeout: o.idleTimeout,
        maxLifetime: o.maxLifetime,
        connectTimeout: o.connectTimeout,
        acquireTimeout: o.acquireTimeout,
        order: o.order,
        maxUses: o.maxUses,
        addressPolicy: { allow: o.addressPolicy.allow?.slice(), deny: o.addressPolicy.deny?.slice() },
        nodeDial: this.#nodeDial,
      },
      Pool.#eventHandler(new WeakRef(this)),
    );
    this.#handle = this.#engine.handle;
    this.#keyBase = this.#handle * KEY_BASE;
    this.#recipe = recipeOf(o.tls, o.handshake);
    this.#check = o.check;
    this.#sessions = new SessionCache(o.maxCachedSessions);
    this.#obs = new PoolObserver(this, this.#engine);
    this.#leakWatch = poolLeakWatch(o.leakDetectionThreshold, this);
    this.#watchAcquires = this.#leakWatch;
    if (this.#leakWatch !== undefined) this.#owner = watchedOwner(this.#owner, this.#leakWatch);
  }

  /** True once `close()` was called (directly, or by `drain()` finishing). */
  get closed(): boolean {
    return this.#life.closed;
  }

  /** True while `drain()` waits for leases to come back (no new acquires are taken). */
  get draining(): boolean {
    return this.#life.draining;
  }

  /**
   * Leases a connection to `destination` (`'host:port'`, `'[v6]:port'` or
   * `'unix:/absolute/path'`): an idle one that passes its liveness check, or a new one.
   */
  acquire(destination: string, options?: PoolAcquireOptions): Promise<Lease> {
    // Leak detection and tracing (when on) wrap this very call; off, each is one load.
    if (this.#watchAcquires !== undefined) return this.#acquireTracked(destination, options);
    if (acquireStart.hasSubscribers && !this.#tracing) return this.#acquireTraced(destination, options);
    // The common call (same destination as last time, no options) in as few steps as
    // possible: small enough for V8 to inline what it calls. Anything else takes the general
    // path below.
    if (destination === this.#lastDestination && options === undefined && this.#life.phase === Phase.Open) {
      const result = acquire(this.#handle, this.#lastDestId, this.#waiters.nextToken());
      if (result >= 0) {
        const conn = this.#conns[result]!;
        if (conn.stillUsable() && this.#check === undefined) return Promise.resolve(this.#lend(conn));
      } else if (result === QUEUED) {
        return this.#wait(this.#lastDestId, destination, undefined, this.#check);
      }
      return this.#acquired(result, this.#lastDestId, destination, undefined, 0, this.options.acquireTimeout, this.#check);
    }
    return this.#acquireSlow(destination, options);
  }

  /** `acquire` inside the `berth:pool:acquire` TracingChannel (observe.ts). */
  #acquireTraced(destination: string, options: PoolAcquireOptions | undefined): Promise<Lease> {
    return traceAcquire(this, destination, options, () => {
      this.#tracing = true;
      try {
        return this.acquire(destination, options);
      } finally {
        this.#tracing = false;
      }
    });
  }

  /**
   * `acquire` with leak detection on: the caller's stack kept, the lease watched (see ./leak).
   * The acquire itself is `acquire` again (unwatched, see #watchAcquires): whatever
   * else the top of `acquire` does applies to it too.
   */
  #acquireTracked(destination: string, options: PoolAcquireOptions | undefined): Promise<Lease> {
    const watch = this.#watchAcquires!;
    return acquireWatched(watch, Pool.prototype.acquire, () => {
      this.#watchAcquires = undefined;
      try {
        return this.acquire(destination, options);
      } finally {
        this.#watchAcquires = watch;
      }
    });
  }

  /** `acquire` with options, another destination than last time, or a pool not open. */
  #acquireSlow(destination: string, options: PoolAcquireOptions | undefined): Promise<Lease> {
    if (this.#life.phase !== Phase.Open) return Promise.reject(this.#life.refusal(destination));
    if (typeof destination === 'string' && groupNameOf(destination) !== undefined) return this.#acquireGroup(destination, options);
    let destId: number;
    let priority = 0;
    let timeout = this.options.acquireTimeout;
    let check = this.#check;
    try {
      if (options !== undefined) {
        checkAcquireOptions(options, POOL_ACQUIRE_KEYS);
        checkConnectOptions(options, 'acquire option');
        checkHashKey(options.hashKey);
      }
      const recipe = this.#recipeFor(options);
      destId = recipe === this.#recipe ? this.#useDestination(destination, false) : this.#profiled(destination, recipe);
    } catch (error) {
      return Promise.reject(error);
    }
    if (options !== undefined) {
      if (options.signal?.aborted) return Promise.reject(options.signal.reason);
      priority = options.priority ?? 0;
      timeout = options.timeout ?? timeout;
      check = options.check ?? check;
    }
    return this.#acquired(undefined, destId, destination, options?.signal, priority, timeout, check);
  }

  /** What runs on new connections for an acquire with `options`: the pool's, unless they say. */
  #recipeFor(options: ConnectOptions | undefined): ConnectRecipe | undefined {
    if (options === undefined || (options.tls === undefined && options.handshake === undefined)) return this.#recipe;
    return recipeOf(options.tls ?? this.options.tls, options.handshake ?? this.options.handshake);
  }

  /**
   * The engine id of `destination` under a recipe other than the pool's own: interned under
   * its profile, another destination than the plain one (not remembered for the fast path).
   */
  #profiled(destination: string, recipe: ConnectRecipe | undefined): number {
    const key = `${destination}\0${recipe?.profile ?? ''}`;
    return this.#destIds.get(key) ?? this.#intern(destination, recipe, key);
  }

  /**
   * Acts on the engine's answer to an acquire (`first`, if the caller already asked), asking
   * again after a connection that turned out dead, until the acquire is served or queued.
   */
  #acquired(
    first: number | undefined,
    destId: number,
    destination: string,
    signal: AbortSignal | undefined,
    priority: number,
    timeout: number,
    check: CheckFunction | undefined,
  ): Promise<Lease> {
    const custom = priority !== 0 || timeout !== this.options.acquireTimeout;
    let result = first;
    let reinterned = 0;
    for (;;) {
      if (result === undefined) {
        const token = this.#waiters.nextToken();
        result = custom
          ? acquireWith(this.#handle, destId, token, priority, timeout)
          : acquire(this.#handle, destId, token);
      }
      if (result === QUEUED) return this.#wait(destId, destination, signal, check);
      if (result === UNKNOWN_DESTINATION) {
        // The engine forgot the destination (it held nothing through a sweep): intern it
        // again. Interning makes sure the engine knows it, so the next call is served.
        if (++reinterned > 2) {
          return Promise.reject(new Error(`berth: the engine does not know ${destination} after interning it (a bug)`));
        }
        try {
          destId = this.#reintern(destId, destination);
        } catch (error) {
          return Promise.reject(error);
        }
        result = undefined;
        continue;
      }
      if (result === QUEUE_FULL) {
        this.#obs.queueFull(destination);
        return Promise.reject(
          new BerthError('QUEUE_FULL', `${this.options.maxWaiters} acquires already wait for ${destination}`, destination),
        );
      }
      if (result === BAD_ARGUMENT) {
        return Promise.reject(new TypeError(`berth: the engine refused an acquire argument for ${destination} (a bug)`));
      }
      if (result <= DEAD_BASE) {
        // The engine found this idle connection closed or dirty and took it out.
        const dead = this.#conns[DEAD_BASE - result];
        if (dead !== undefined) this.#obs.closedByEngine(dead.id, dead.destination);
        dead?.destroy();
      } else {
        const conn = this.#conns[result]!;
        if (conn.stillUsable()) {
          if (check === undefined || conn.uses === 0) return Promise.resolve(this.#lend(conn));
          return this.#checked(conn, check, Math.max(0, this.#engine.idleMs(conn.id))).then((passed) => {
            if (signal?.aborted) {
              // Abandoned during the check: the connection goes back, the caller gets the reason.
              if (passed) this.#lend(conn).release();
              throw signal.reason;
            }
            return passed ? this.#lend(conn) : this.#acquired(undefined, destId, destination, signal, priority, timeout, check);
          });
        }
        this.#engine.discard(result, EVICT_UNHEALTHY);
        this.#obs.evicted(conn.destination, EVICT_UNHEALTHY);
        conn.destroy();
      }
      result = undefined;
    }
  }

  /**
   * Runs `check` on a reused connection the engine just handed out, before it is lent: true
   * if it passed; otherwise the connection is closed (evicted unhealthy). Never rejects: the
   * check's throw or rejection, or no answer within `checkTimeout`, is a failed check. The
   * connection counts as leased meanwhile (a drain waits for it).
   */
  async #checked(conn: Connection, check: CheckFunction, idleMs: number): Promise<boolean> {
    this.#connectStats.checks++;
    conn.state = ConnState.Leased;
    this.#leased++;
    let timer: NodeJS.Timeout | undefined;
    let passed = false;
    try {
      const answer = await Promise.race([
        Promise.resolve().then(() => check(conn.socket, { destination: conn.destination, idleMs })),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), this.options.checkTimeout);
        }),
      ]);
      passed = answer === true;
    } catch {
      passed = false;
    } finally {
      clearTimeout(timer);
    }
    this.#leased--;
    // A check that pinged read its answer: the socket is readied as on a release (listeners
    // it added removed, paused with no reader), and refused if it left anything unread.
    if (passed && conn.state === ConnState.Leased && conn.readyForReuse()) return true;
    this.#connectStats.checksFailed++;
    if (conn.state === ConnState.Leased) {
      this.#engine.discard(conn.id, EVICT_UNHEALTHY);
      this.#obs.evicted(conn.destination, EVICT_UNHEALTHY);
      conn.destroy();
    }
    this.#life.checkDrained();
    return false;
  }

  /**
   * Makes the upstream group `name` of `members` (`'host:port'`, or `{ dest, weight }`; a host
   * name stands for every address it resolves to) and returns it; with `name` alone, returns
   * the group made earlier. Acquire from it with `pool.acquire('group:' + name)` (and `use`,
   * `warm`, `acquireMany`, listener routes, `forward`, the HTTP agents' `groups`): each acquire
   * goes to a member its balancer picks among those up, and a connect failure is retried on
   * another member. Bad input is a TypeError naming it.
   */
  group(name: string, members?: readonly GroupMemberInput[], options?: GroupOptions): UpstreamGroup {
    checkGroupName(name);
    if (members === undefined) {
      if (options !== undefined) throw new TypeError('group options need the members: pool.group(name, members, options)');
      const found = this.#groups.get(name);
      if (found === undefined) throw new TypeError(`no group named "${name}": make it with pool.group(name, members, options)`);
      return found;
    }
    if (this.#groups.has(name)) throw new TypeError(`a group named "${name}" already exists (use group.update(members))`);
    const specs = checkMembers(members);
    const resolved = resolveGroupOptions(options);
    if (resolved.tls !== undefined && resolved.tls !== false) checkConnectOptions({ tls: resolved.tls }, 'group option');
    if (this.#life.phase !== Phase.Open) throw this.#life.refusal(`${GROUP_PREFIX}${name}`);
    const recipe = resolved.tls === undefined ? this.#recipe : recipeOf(resolved.tls, undefined);
    let id: number;
    try {
      id = this.#engine.groupCreate(name, recipe?.profile ?? '', {
        balance: resolved.balance,
        consecutiveFailures: resolved.consecutiveFailures,
        baseEjectionTime: resolved.baseEjectionTime,
        maxEjectionPercent: resolved.maxEjectionPercent,
        attempts: resolved.attempts,
        backoff: resolved.backoff,
        budget: resolved.budget,
        healthInterval: resolved.healthInterval,
        healthTimeout: resolved.healthTimeout,
        userCheck: resolved.check !== undefined,
      });
    } catch (error) {
      throw new TypeError((error as Error).message);
    }
    const group = new UpstreamGroup(name, id, resolved, {
      setMembers: (gid, list) => this.#setMembers(gid, list, recipe),
      stats: (gid) => toGroupStats(this.#engine.groupStats(gid)),
      remove: (g) => {
        this.#engine.groupRemove(g.id);
        this.#groups.delete(g.name);
        this.#groupsById.delete(g.id);
        for (const [dest, owner] of this.#memberOf) {
          if (owner !== g) continue;
          this.#memberOf.delete(dest);
          this.#leaseStreaks.delete(dest);
        }
      },
    });
    this.#groups.set(name, group);
    this.#groupsById.set(id, group);
    try {
      group.setSpecs(specs);
    } catch (error) {
      group.remove();
      throw error;
    }
    return group;
  }

  /** Gives the engine a group's members; registers their destination ids here. */
  #setMembers(gid: number, list: { dest: string; host?: string; weight: number }[], recipe: ConnectRecipe | undefined): number[] {
    let ids: number[];
    try {
      ids = this.#engine.groupSetMembers(gid, list);
    } catch (error) {
      throw new TypeError((error as Error).message);
    }
    const group = this.#groupsById.get(gid)!;
    for (const [dest, owner] of this.#memberOf) if (owner === group && !ids.includes(dest)) this.#memberOf.delete(dest);
    ids.forEach((id, i) => {
      this.#memberOf.set(id, group);
      this.#destNames.set(id, list[i]!.dest);
      if (recipe !== undefined) this.#recipes.set(id, recipe);
    });
    return ids;
  }

  /** An acquire of `'group:<name>'`: see `acquireFromGroup`. */
  #acquireGroup(destination: string, options: PoolAcquireOptions | undefined): Promise<Lease> {
    const group = this.#groups.get(destination.slice(GROUP_PREFIX.length));
    if (group === undefined) {
      return Promise.reject(new TypeError(`unknown group "${destination.slice(GROUP_PREFIX.length)}": make it with pool.group(name, members) first`));
    }
    try {
      if (options !== undefined) {
        checkAcquireOptions(options, POOL_ACQUIRE_KEYS);
        checkHashKey(options.hashKey);
        if (options.tls !== undefined || options.handshake !== undefined) {
          throw new TypeError(`tls and handshake are the group's own (pool.group(name, members, { tls })), not options of an acquire of ${destination}`);
        }
        checkConnectOptions(options, 'acquire option');
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    const signal = options?.signal;
    const priority = options?.priority ?? 0;
    const check = options?.check ?? this.#check;
    return acquireFromGroup({
      engine: this.#engine,
      group,
      hashKey: options?.hashKey,
      timeout: options?.timeout ?? this.options.acquireTimeout,
      signal,
      acquireMember: (destId, timeout) => {
        if (this.#life.phase !== Phase.Open) return Promise.reject(this.#life.refusal(destination));
        return this.#acquired(undefined, destId, this.#destNames.get(destId) ?? destination, signal, priority, timeout, check);
      },
    });
  }

  /** A user health check the engine asked for: on a connection leased from the member itself. */
  async #runMemberCheck(group: UpstreamGroup, destId: number): Promise<void> {
    const check = group.options.check;
    const member = this.#destNames.get(destId) ?? 'unknown';
    // Every place of the member is leased: the check would wait for one and time out, marking
    // down a member that is busy serving. Its leases prove it up; passive detection watches them.
    const now = this.#engine.groupStats(group.id)?.members.find((m) => m.dest === member);
    if (now !== undefined && now.inUse >= this.options.maxPerDestination) {
      this.#engine.groupCheckResult(group.id, destId, true);
      return;
    }
    let passed = false;
    const timeout = AbortSignal.timeout(group.options.healthTimeout);
    try {
      const lease = await this.#acquired(undefined, destId, member, timeout, 0, group.options.healthTimeout, undefined);
      try {
        const answer = await Promise.race([
          Promise.resolve().then(() => check!(lease.socket, { member, signal: timeout })),
          new Promise<false>((resolve) => timeout.addEventListener('abort', () => resolve(false), { once: true })),
        ]);
        passed = answer === true;
      } catch {
        passed = false;
      }
      if (passed && !lease.released) lease.release();
      else if (!lease.released) lease.destroy();
    } catch {
      passed = false;
    }
    this.#engine.groupCheckResult(group.id, destId, passed);
  }

  /**
   * Acquires, runs `fn` with the socket, and releases when it returns, or destroys the
   * connection when it throws (then rethrows). Resolves to what `fn` returns.
   */
  async use<T>(destination: string, fn: (socket: net.Socket) => T | Promise<T>, options?: PoolAcquireOptions): Promise<T> {
    const lease = await this.acquire(destination, options);
    let result: T;
    try {
      result = await fn(lease.socket);
    } catch (error) {
      if (!lease.released) lease.destroy(error instanceof Error ? error : undefined);
      throw error;
    }
    if (!lease.released) lease.release();
    return result;
  }

  /**
   * Leases to every destination of `destinations` (an iterable or async iterable of strings),
   * handed out as each becomes ready, in completion order, under this pool's limits. At most
   * `concurrency` (default 16) acquires are in flight; the input is pulled only as they finish.
   * The iteration throws the first failed acquire's error, or `signal.reason` on abort; on any
   * way out (break included) acquires in flight are cancelled and leases not yet handed out
   * are released. Each lease handed out is the caller's to release.
   */
  acquireMany(destinations: Iterable<string> | AsyncIterable<string>, options?: AcquireManyOptions): AsyncGenerator<Lease, void, undefined> {
    checkDestinations(destinations);
    const concurrency = checkAcquireManyOptions(options);
    const { concurrency: _, ...perAcquire } = options ?? {};
    return acquireMany((dest, opts) => this.acquire(dest, opts), destinations, concurrency, perAcquire);
  }

  /**
   * Opens connections to `destination` until `count` of them are idle (at most
   * `maxIdlePerDestination`, and only as many as `maxPerDestination` leaves beside the
   * connections leased out now), so that traffic arriving later finds them ready. Resolves to
   * the number of idle connections to `destination` afterwards; rejects with the dial error
   * when not one could be opened.
   */
  async warm(destination: string, count: number, options?: ConnectOptions): Promise<number> {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      throw new TypeError(`warm count must be an integer >= 0, got ${describe(count)}`);
    }
    if (options !== undefined) {
      checkKnownKeys('warm', checkObject('warm options', options), CONNECT_KEYS);
      checkConnectOptions(options, 'warm option');
    }
    if (groupNameOf(destination) !== undefined) return this.#warmGroup(destination, count);
    const recipe = this.#recipeFor(options);
    const destId = recipe === this.#recipe ? (this.#destIds.get(destination) ?? this.#intern(destination)) : this.#profiled(destination, recipe);
    if (this.#life.phase !== Phase.Open) throw this.#life.refusal(destination);
    const o = this.options;
    const want = Math.min(count, o.maxIdlePerDestination, o.maxTotalIdle, o.maxPerDestination - this.#count(destId, ConnState.Leased));
    if (want <= this.#count(destId, ConnState.Idle)) return this.#count(destId, ConnState.Idle);
    const outcomes = await Promise.allSettled(Array.from({ length: want }, () => this.acquire(destination, options)));
    let failure: unknown;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') outcome.value.release();
      else failure ??= outcome.reason;
    }
    const idle = this.#count(destId, ConnState.Idle);
    if (idle === 0 && failure !== undefined) throw failure;
    return idle;
  }

  /** `warm` of a group: `count` acquires through the group (spread by its balancer), released. */
  async #warmGroup(destination: string, count: number): Promise<number> {
    const group = this.group(destination.slice(GROUP_PREFIX.length));
    if (this.#life.phase !== Phase.Open) throw this.#life.refusal(destination);
    const outcomes = await Promise.allSettled(Array.from({ length: count }, () => this.acquire(destination)));
    let failure: unknown;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') outcome.value.release();
      else failure ??= outcome.reason;
    }
    const idle = group.stats().members.reduce((n, m) => n + m.idle, 0);
    if (idle === 0 && failure !== undefined) throw failure;
    return idle;
  }

  /** Connections to `destId` in `state` (a scan: for warm(), not the hot path). */
  #count(destId: number, state: ConnState): number {
    let n = 0;
    for (const conn of this.#conns) if (conn !== undefined && conn.state === state && conn.destId === destId) n++;
    return n;
  }

  /**
   * Takes `inbound` over from Node and forwards it to `destination` natively: the engine
   * leases an upstream connection from this pool (its limits, timers and stats), writes
   * `head` upstream and `reply` to the client, then moves bytes both ways, passing each
   * side's end of stream on as a half-close, until both directions end, one fails, or
   * `signal` aborts. Resolves once with what happened (it does not reject for failures of the
   * session itself: see `end` and `error`). From the call on, JS must not touch `inbound`: it
   * is destroyed as soon as everything already written to it is flushed.
   *
   * Invalid input rejects with a TypeError and leaves `inbound` untouched, as does a pool
   * that is closed or draining (BerthError) or an aborted `signal`.
   *
   * On Windows (where the engine cannot take a Node socket over) the session is relayed in JS
   * over a lease of this pool instead, with the same options and result (docs/platforms.md).
   */
  forward(inbound: net.Socket, destination: string, options?: ForwardOptions): Promise<ForwardResult> {
    let opts: ForwardOptions;
    try {
      checkInbound(inbound);
      opts = checkForwardOptions(options);
      // Checked now (a TypeError leaves `inbound` untouched); the engine interns it again,
      // pinned for the session, when the session starts.
      this.#checkRouteTarget(destination);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#forward(inbound, destination, opts);
  }

  async #forward(inbound: net.Socket, destination: string, opts: ForwardOptions): Promise<ForwardResult> {
    if (this.#life.phase !== Phase.Open) throw this.#life.refusal(destination);
    const signal = opts.signal;
    if (signal?.aborted) throw signal.reason;
    await flushed(inbound);
    if (this.#life.phase !== Phase.Open) throw this.#life.refusal(destination);
    if (signal?.aborted) throw signal.reason;
    if (this.#nodeDial) return this.#relay(inbound, destination, opts);
    const reply = typeof opts.reply === 'string' ? Buffer.from(opts.reply) : opts.reply;
    const client = sessionChannel.hasSubscribers ? clientOf(inbound) : undefined;
    return new Promise<ForwardResult>((resolve) => {
      let onAbort: (() => void) | undefined;
      const session = handOver(this.#engine, inbound, destination, opts.head, reply, opts.failReply, opts.reuseUpstream ?? false, opts.idleTimeout, opts.sendProxyProtocol, (done, failure) => {
        if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
        this.#forwarding--;
        this.#forwardEnded();
        if (this.#life.drainWaiting) this.#life.checkDrained();
        const result = toForwardResult(done, destination, failure);
        if (sessionChannel.hasSubscribers) {
          const member = done.member == null ? undefined : this.#destNames.get(done.member);
          publishForward(this, client ?? null, destination, member, result);
        }
        resolve(result);
      });
      this.#forwarding++;
      this.#forwardStarted();
      if (signal !== undefined) {
        onAbort = () => this.#engine.abortForward(session);
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /**
   * `forward` on the Node-dialled path (see relay.ts): the engine cannot take the socket over
   * by descriptor there, so JS relays it, over a lease of this pool, with the same result.
   */
  async #relay(inbound: net.Socket, destination: string, opts: ForwardOptions): Promise<ForwardResult> {
    const client = sessionChannel.hasSubscribers ? clientOf(inbound) : undefined;
    this.#forwarding++;
    this.#forwardStarted();
    try {
      const { result, member } = await relay(
        {
          acquire: (dest, { signal }) => this.#relayUpstream(dest, signal),
          closed: () => this.#life.closing || this.#life.closed,
        },
        inbound,
        destination,
        opts,
      );
      this.#engine.forwarded(result.bytesIn, result.bytesOut);
      if (sessionChannel.hasSubscribers) publishForward(this, client ?? null, destination, member, result);
      return result;
    } finally {
      this.#forwarding--;
      this.#forwardEnded();
      if (this.#life.drainWaiting) this.#life.checkDrained();
    }
  }

  /**
   * An upstream for the JS relay: plain TCP, as the native relay's (neither the pool's TLS nor
   * its handshake or check, which are for leases); a group's through the group.
   */
  #relayUpstream(destination: string, signal: AbortSignal): Promise<Lease> {
    if (groupNameOf(destination) !== undefined) return this.acquire(destination, { signal });
    if (this.#life.phase !== Phase.Open) return Promise.reject(this.#life.refusal(destination));
    let destId: number;
    try {
      destId = this.#recipe === undefined ? (this.#destIds.get(destination) ?? this.#intern(destination)) : this.#profiled(destination, undefined);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#acquired(undefined, destId, destination, signal, 0, this.options.acquireTimeout, undefined);
  }

  /**
   * Starts a native listener on `options.host:options.port`: the engine accepts each
   * connection, calls `route` once with its addresses (and up to `peek` initial bytes), and
   * forwards it to the destination `route` returns, through this pool's upstream connections.
   * `route` may also be a destination string: every connection goes there and JS is not
   * called at all (an invalid one is a TypeError from `listen`).
   * JS never touches the sessions' bytes. A route that throws, rejects or returns null closes
   * the connection (counted in `stats().routeFailures`). The listener keeps the process
   * alive until `close()`; closing the pool closes it too.
   */
  async listen(options: ListenOptions | undefined, route: RouteFunction | string): Promise<ProxyListener> {
    const o = resolveListenOptions(options);
    if (typeof route !== 'function' && typeof route !== 'string') {
      throw new TypeError(`route must be a function or a destination string, got ${describe(route)}`);
    }
    // A fixed destination is checked now: a typo fails the listen, not every connection.
    if (typeof route === 'string') this.#checkRouteTarget(route);
    if (this.#life.phase !== Phase.Open) throw this.#life.refusal(`${o.host}:${o.port}`);
    let native: ReturnType<Engine['listen']> | undefined;
    try {
      native =
        typeof route === 'function' ? this.#engine.listen(o, routeHandler(route, () => native)) : this.#engine.listenTo(o, route);
    } catch (error) {
      throw new BerthError('LISTEN_FAILED', (error as Error).message);
    }
    const listener: ProxyListener = new ProxyListener(native, () => {
      unwatch();
      this.#listeners.delete(listener);
      this.#forwardEnded();
    });
    const unwatch = watchSessions(this, listener, native);
    this.#listeners.add(listener);
    this.#forwardStarted();
    return listener;
  }

  /** Throws a TypeError for a destination (or `group:<name>`) the native lane cannot use. */
  #checkRouteTarget(destination: string): void {
    const name = typeof destination === 'string' ? groupNameOf(destination) : undefined;
    if (name !== undefined) {
      const group = this.group(name);
      if (group.options.tls !== undefined && group.options.tls !== false) {
        throw new TypeError(`group ${group.name} connects with TLS: forward() and listeners move plain TCP only`);
      }
      return;
    }
    if (!this.#destIds.has(destination)) this.#intern(destination);
  }

  #forwardStarted(): void {
    if (this.#forwards++ === 0) FORWARDING.add(this);
  }

  #forwardEnded(): void {
    if (--this.#forwards === 0) FORWARDING.delete(this);
    // Native sessions' upstreams count as open: a close waiting for them may be done now.
    this.#checkClosed();
  }

  /** Counters, gauges and latency quantiles, read without stopping the pool. */
  stats(): PoolStats {
    return { ...this.#engine.stats(), connect: { ...this.#connectStats } };
  }

  /**
   * This pool's metrics (its destinations, listeners and groups) in the Prometheus text format
   * 0.0.4 (serve it with `METRICS_CONTENT_TYPE`); the module's `metrics()` gives every open
   * pool's. Families and labels: docs/metrics.md.
   */
  metrics(): string {
    return render(this.#families());
  }

  #families(): Family[] {
    const listeners: ListenerMetrics[] = [];
    for (const l of this.#listeners) {
      const native = nativeListenerOf(l);
      const { address, port, family } = l.address();
      if (native !== undefined) listeners.push({ listener: family === 'IPv6' ? `[${address}]:${port}` : `${address}:${port}`, native });
    }
    return poolFamilies(this.name, this.#engine.metrics(), this.#connectStats, listeners, this.options.metricsMaxDestinations);
  }

  /** Per destination counts and per connection metadata (no live handles). */
  snapshot(): PoolSnapshot {
    return toPoolSnapshot(this.#engine.snapshot());
  }

  /**
   * Refuses new acquires (`POOL_DRAINING`), lets queued acquires be served, waits for every
   * lease to come back, then closes the pool. With `timeout`, rejects with `DRAIN_TIMEOUT`
   * if leases are still out by then (the pool stays draining; call `close()` to force).
   */
  drain(options?: DrainOptions): Promise<void> {
    return this.#life.drain(options);
  }

  /**
   * Closes the pool: queued acquires reject with `POOL_CLOSED`, dials in flight are cancelled,
   * every connection (leased ones included) is destroyed. Resolves once every descriptor is
   * closed. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    return this.#life.close();
  }

  #startClose(): void {
    const closedError = () => new BerthError('POOL_CLOSED', 'the pool was closed');
    this.#closing.abort(closedError());
    unregisterPool(this.name, this.#collect);
    // Leases still out are no longer watched: a closed pool reports no leak.
    this.#leakWatch?.close();
    for (const id of this.#engine.close()) this.#settleWaiter(id)?.reject(closedError());
    for (const waiter of this.#waiters.tokens()) this.#settleWaiter(waiter)?.reject(closedError());
    for (const conn of this.#conns) conn?.destroy();
    // Node's connects in flight end as a native dial's do when the pool closes.
    for (const [id, dial] of this.#nodeDials) {
      dial.cancel();
      const failure = this.#engine.nodeDialFailed(id, 'POOL_CLOSED', '');
      if (failure.waiter >= 0) this.#settleWaiter(failure.waiter)?.reject(closedError());
    }
    this.#nodeDials.clear();
    for (const listener of this.#listeners) void listener.close();
    // Their host names are not resolved again; the engine's health tasks end with it.
    for (const group of this.#groups.values()) group.stop();
    this.#updateRef();
    this.#checkClosed();
  }

  /** For `await using`: the same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- acquiring ----------------------------------------------------------------------

  /**
   * The engine id of `destination`, interned unless known (`forgotten`: known to the facade
   * but forgotten by the engine), and remembered for the fast path. Throws a bad
   * destination's TypeError.
   */
  #useDestination(destination: string, forgotten: boolean): number {
    if (forgotten) this.#destIds.delete(destination);
    const destId = this.#destIds.get(destination) ?? this.#intern(destination);
    this.#lastDestination = destination;
    this.#lastDestId = destId;
    return destId;
  }

  /** `destination` interned again after the engine forgot `forgottenId`, under the same recipe. */
  #reintern(forgottenId: number, destination: string): number {
    const recipe = this.#recipes.get(forgottenId);
    if (recipe === this.#recipe) return this.#useDestination(destination, true);
    const key = `${destination}\0${recipe?.profile ?? ''}`;
    this.#destIds.delete(key);
    return this.#intern(destination, recipe, key);
  }

  /**
   * Interns `destination` under `recipe`'s profile (default: the pool's) and remembers its id
   * under `key` (default: the destination itself, for the pool's recipe).
   */
  #intern(destination: unknown, ...under: [recipe: ConnectRecipe | undefined, key: string] | []): number {
    const recipe = under.length === 0 ? this.#recipe : under[0];
    const key = under.length === 0 ? (destination as string) : under[1];
    if (typeof destination !== 'string') {
      throw new TypeError(`destination must be a string like "host:port" or "unix:/path", got ${describe(destination)}`);
    }
    let id: number;
    try {
      id = recipe === undefined ? this.#engine.intern(destination) : this.#engine.internProfiled(destination, recipe.profile);
    } catch (error) {
      throw new TypeError((error as Error).message);
    }
    this.#destIds.set(key, id);
    if (!this.#destNames.has(id)) this.#destNames.set(id, destination);
    if (recipe !== undefined) this.#recipes.set(id, recipe);
    if (this.#destIds.size > this.#pruneAt) this.#pruneDestinations();
    return id;
  }

  /** Drops the ids the engine has forgotten from the tables. */
  #pruneDestinations(): void {
    for (const [name, id] of this.#destIds) if (!this.#engine.knows(id)) this.#destIds.delete(name);
    for (const id of this.#destNames.keys()) if (!this.#engine.knows(id)) this.#destNames.delete(id);
    for (const id of this.#recipes.keys()) if (!this.#engine.knows(id)) this.#recipes.delete(id);
    this.#pruneAt = Math.max(DEST_TABLE_PRUNE_AT, 2 * this.#destIds.size);
  }

  #lend(conn: Connection): Lease {
    if (conn.idleWatched) conn.unwatchIdle();
    conn.state = ConnState.Leased;
    conn.wrote = false;
    conn.touched = false;
    if (!conn.refed) {
      conn.ref();
      conn.refed = true;
    }
    this.#leased++;
    if (releaseChannel.hasSubscribers) conn.leasedAt = performance.now();
    return new Lease(conn, this.#owner);
  }

  /** Books the waiter the engine just queued under the table's next token. */
  #wait(destId: number, destination: string, signal: AbortSignal | undefined, check: CheckFunction | undefined): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, destination, destId, signal, check, onAbort: undefined };
      const token = this.#waiters.add(waiter);
      this.#obs.queued(destId, destination);
      if (signal !== undefined) {
        waiter.onAbort = () => {
          // Only a waiter still queued in the engine can be taken back; otherwise its
          // outcome is already on its way and will find no waiter.
          this.#engine.cancel(destId, token);
          this.#settleWaiter(token)?.reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      if (!this.#refed) this.#updateRef();
    });
  }

  /** Takes a waiter out of the books; the caller resolves or rejects it. */
  #settleWaiter(id: number): Waiter | undefined {
    const waiter = this.#waiters.take(id);
    if (waiter !== undefined) this.#waiterGone(waiter);
    return waiter;
  }

  /** Bookkeeping once a waiter has left the table. */
  #waiterGone(waiter: Waiter): void {
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
    // Guarded here rather than inside: this runs on every hand-off.
    if (this.#refed && this.#waiters.size === 0) this.#updateRef();
    if (this.#life.drainWaiting) this.#life.checkDrained();
  }

  /** Acts on the engine's placement of a free connection. */
  #place(conn: Connection, placement: number): void {
    if (placement === PLACED_IDLE) {
      conn.state = ConnState.Idle;
      this.#queueUnref(conn);
    } else if (placement === PLACED_CLOSE) {
      this.#obs.closedByEngine(conn.id, conn.destination);
      conn.destroy();
    } else {
      const waiter = this.#waiters.take(placement);
      if (waiter === undefined) {
        // Cannot happen (hand-offs go to waiters still queued); never strand the connection.
        this.#place(conn, release(this.#keyBase + conn.id));
        return;
      }
      if (waiter.check !== undefined && conn.uses > 0) return this.#handOverChecked(conn, waiter, waiter.check);
      // Lend before the books see the waiter gone: that may find the pool drained, and it is not.
      waiter.resolve(this.#lend(conn));
      this.#waiterGone(waiter);
    }
  }

  /**
   * A reused connection handed straight to a waiter that has a check: lent if it passes, and
   * if not, the waiter acquires again (as a new acquire: at the default priority and timeout).
   */
  #handOverChecked(conn: Connection, waiter: Waiter, check: CheckFunction): void {
    this.#checked(conn, check, 0).then((passed) => {
      if (waiter.signal?.aborted) {
        // Abandoned during the check (its abort found it out of the queue already).
        if (passed) this.#lend(conn).release();
        waiter.reject(waiter.signal.reason);
      } else if (passed) waiter.resolve(this.#lend(conn));
      else {
        this.#acquired(undefined, waiter.destId, waiter.destination, waiter.signal, 0, this.options.acquireTimeout, check).then(
          waiter.resolve,
          waiter.reject,
        );
      }
      this.#waiterGone(waiter);
    }, waiter.reject);
  }

  // ---- idle sockets must not keep the process alive ------------------------------------

  /**
   * Unref'ing on every release and ref'ing on every acquire would cost two calls into libuv
   * per reuse; instead idle sockets are unref'd in one batch once the current tick is done,
   * and a socket reused before then never changes state. Idle layered (TLS) sockets start
   * reading in the same batch (see Connection.watchIdle): bytes cannot be read before the
   * loop turns anyway.
   */
  #queueUnref(conn: Connection): void {
    if (!conn.refed || conn.unrefQueued) return;
    conn.unrefQueued = true;
    if (this.#unrefQueue.push(conn) === 1) setImmediate(this.#flushUnref).unref();
  }

  readonly #flushUnref = (): void => {
    const queue = this.#unrefQueue;
    this.#unrefQueue = [];
    for (const conn of queue) {
      conn.unrefQueued = false;
      if (conn.state !== ConnState.Idle) continue;
      if (conn.refed) {
        conn.unref();
        conn.refed = false;
      }
      // Batched too: a layered connection reused within the tick never starts reading. A
      // socket Node owns reads too: the engine cannot peek at it, so its own events tell.
      if ((conn.layered || conn.nodeOwned) && !conn.idleWatched) conn.watchIdle();
    }
  };

  /** Engine events arrive through a function that only keeps the loop alive while awaited. */
  #updateRef(): void {
    const wanted = this.#waiters.size > 0 || this.#life.closing;
    if (wanted === this.#refed) return;
    this.#refed = wanted;
    setAwaiting(this.#engine, this, wanted);
  }

  /**
   * The engine's event callback holds the pool weakly: a strong reference from native code
   * would keep a pool its user dropped (and its engine's timer task) alive forever. While the
   * pool awaits engine events it is held by `setAwaiting`; otherwise its open sockets hold it (their
   * listeners lead back to it), and once they are gone it can be collected, which shuts the
   * engine down.
   */
  static #eventHandler(pool: WeakRef<Pool>): (event: EngineEvent) => void {
    return (event) => {
      const target = pool.deref();
      if (target !== undefined) target.#onEngineEvent(event);
    };
  }

  // ---- what leases call back into ------------------------------------------------------

  #releaseConnection(conn: Connection): void {
    this.#leased--;
    if (releaseChannel.hasSubscribers) this.#obs.released(conn, false);
    if (conn.group !== undefined && this.#leaseStreaks.size !== 0 && this.#leaseStreaks.delete(conn.destId)) {
      this.#engine.memberReleased(conn.destId);
    }
    if (conn.state !== ConnState.Leased) {
      // Destroyed under the lease (pool closed, or the socket died): nothing to return.
      this.#life.checkDrained();
      return;
    }
    if (conn.readyForReuse()) {
      // A reply the lease left unread in the kernel is found by the engine's watch before the
      // connection is handed out again: from the idle list by the acquire, to a waiter by a
      // look the release takes after a lease that wrote. No peek on the way to the idle list.
      const key = this.#keyBase + conn.id;
      this.#place(conn, conn.wrote ? releaseWrote(key) : release(key));
    } else {
      this.#engine.discard(conn.id, EVICT_UNHEALTHY);
      this.#obs.evicted(conn.destination, EVICT_UNHEALTHY);
      conn.destroy();
    }
    if (this.#life.drainWaiting) this.#life.checkDrained();
  }

  #destroyConnection(conn: Connection, error?: Error, unused?: boolean): void {
    this.#leased--;
    if (releaseChannel.hasSubscribers) this.#obs.released(conn, true, error);
    // A lease of a group member destroyed with an error counts against the member.
    if (error !== undefined && conn.group !== undefined) {
      this.#engine.memberFailed(conn.destId);
      this.#leaseStreaks.add(conn.destId);
    }
    if (conn.state === ConnState.Leased) {
      this.#engine.discard(conn.id, unused === true ? EVICT_KEEP_ALIVE_EXPIRED : DISCARD_BY_USER);
      if (unused === true) this.#obs.evicted(conn.destination, EVICT_KEEP_ALIVE_EXPIRED);
      conn.destroy(error);
    }
    this.#life.checkDrained();
  }

  // ---- what sockets tell the pool -------------------------------------------------------

  #onSocketEnded(conn: Connection): void {
    // While leased the user sees the end; release() then finds the socket unusable.
    if (conn.state !== ConnState.Idle) return;
    this.#engine.evictIdle(conn.id, EVICT_PEER_CLOSED);
    this.#obs.evicted(conn.destination, EVICT_PEER_CLOSED);
    conn.destroy();
  }

  #onSocketClosed(conn: Connection): void {
    // Leased (the user still holds the lease: release()/destroy() will find it gone) or idle:
    // the engine counts it evicted; either way it frees the place now.
    if (conn.state === ConnState.Idle) this.#obs.evicted(conn.destination, EVICT_PEER_CLOSED);
    if (conn.state === ConnState.Leased || conn.state === ConnState.Idle) conn.state = ConnState.Closing;
    this.#conns[conn.id] = undefined;
    this.#sockets--;
    this.#engine.closed(conn.id);
    this.#checkClosed();
  }

  // ---- engine events ------------------------------------------------------------------

  #onEngineEvent(event: EngineEvent): void {
    switch (event.kind) {
      case EVENT_DIALED:
        return this.#onDialed(event.id, event.dest, event.ms);
      case EVENT_DIAL_FAILED:
        return this.#dialFailed(event.dest, event.code ?? undefined, event.message ?? undefined, event.ms, this.#engine.dialFailed(event.id));
      case EVENT_DIAL_ORDER:
        return this.#onDialOrder(event.id, event.dest, event.addresses ?? [], event.ms);
      case EVENT_EVICT: {
        const conn = this.#conns[event.id];
        if (conn !== undefined) this.#obs.evicted(conn.destination, event.reason);
        return conn?.destroy();
      }
      case EVENT_MEMBER_UP:
      case EVENT_MEMBER_DOWN:
      case EVENT_MEMBER_EJECTED:
      case EVENT_MEMBER_CHECK:
        return this.#onMemberEvent(event);
      case EVENT_WAITER_TIMED_OUT: {
        const waiter = this.#settleWaiter(event.id);
        waiter?.reject(
          new BerthError('ACQUIRE_TIMEOUT', `no connection to ${waiter.destination} became available in time`, waiter.destination),
        );
        return;
      }
    }
  }

  /** A dial failed (the engine has counted it): observed, and its waiter (if any) rejected. */
  #dialFailed(destId: number, code: string | undefined, message: string | undefined, ms: number, waiter: number): void {
    const destination = this.#destNames.get(destId) ?? 'unknown destination';
    this.#obs.dialFailed(destination, ms, () => dialError(code, message, destination));
    if (waiter >= 0) this.#settleWaiter(waiter)?.reject(dialError(code, message, destination));
    this.#checkClosed();
  }

  /**
   * Node-dialled path: the engine resolved a dial and lets Node connect to `addresses`;
   * `resolveMs` of the connect timeout are spent. The outcome goes back to the engine, and
   * from there on as a native dial's would.
   */
  #onDialOrder(id: number, destId: number, addresses: string[], resolveMs: number): void {
    if (this.#life.phase === Phase.Closed) {
      const failure = this.#engine.nodeDialFailed(id, 'POOL_CLOSED', '');
      return this.#dialFailed(destId, failure.code, failure.message, resolveMs, failure.waiter);
    }
    const began = performance.now();
    const dial = nodeConnect(addresses, this.options.connectTimeout - resolveMs, (failed, socket) => {
      this.#nodeDials.delete(id);
      const ms = resolveMs + performance.now() - began;
      if (failed !== undefined) {
        const failure = this.#engine.nodeDialFailed(id, failed.code, failed.message);
        return this.#dialFailed(destId, failure.code, failure.message, ms, failure.waiter);
      }
      if (!this.#engine.nodeDialed(id)) {
        socket.on('error', ignore);
        socket.destroy();
        return this.#checkClosed();
      }
      this.#admitSocket(id, destId, socket, ms);
    });
    this.#nodeDials.set(id, dial);
  }

  #onMemberEvent(event: EngineEvent): void {
    const group = this.#groupsById.get(event.id);
    if (group === undefined) return;
    if (event.kind === EVENT_MEMBER_CHECK) {
      if (group.options.check !== undefined) void this.#runMemberCheck(group, event.dest);
      else this.#engine.groupCheckResult(group.id, event.dest, false);
      return;
    }
    const member = this.#destNames.get(event.dest) ?? 'unknown';
    const base = { group: group.name, member };
    if (event.kind === EVENT_MEMBER_EJECTED) group.emit('memberEjected', { ...base, reason: 'outlier', ejectedFor: event.reason });
    else if (event.kind === EVENT_MEMBER_DOWN) group.emit('memberDown', { ...base, reason: 'check' });
    else group.emit('memberUp', { ...base, reason: 'check' });
    const state = event.kind === EVENT_MEMBER_EJECTED ? 'ejected' : event.kind === EVENT_MEMBER_DOWN ? 'down' : 'up';
    this.#obs.member(group.name, member, state, event.kind === EVENT_MEMBER_EJECTED ? 'outlier' : 'check');
  }

  #onDialed(id: number, destId: number, dialMs: number): void {
    if (this.#life.phase === Phase.Closed) {
      this.#engine.abandon(id);
      return this.#checkClosed();
    }
    const recipe = this.#recipes.get(destId);
    if (recipe !== undefined) {
      const fd = this.#engine.adopt(id);
      if (fd < 0) return;
      return this.#handshake(id, destId, recipe, dialMs, new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: false }));
    }
    const { fd, placement } = this.#engine.admit(id);
    if (fd < 0) return;
    const destination = this.#destNames.get(destId) ?? 'unknown destination';
    this.#obs.connected(destination, dialMs);
    const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: false });
    const conn = new Connection(id, destId, destination, this.#owner, socket);
    conn.group = this.#memberOf.get(destId)?.name;
    this.#conns[id] = conn;
    this.#sockets++;
    this.#place(conn, placement);
  }

  /**
   * Node-dialled path: a connection Node connected (the engine took it as adopted): its
   * handshake, as for a native dial's, or straight to its place. Node owns the socket, so the
   * engine cannot peek at it: it reads while idle and is looked at when handed out.
   */
  #admitSocket(id: number, destId: number, socket: net.Socket, dialMs: number): void {
    const recipe = this.#recipes.get(destId);
    if (recipe !== undefined) return this.#handshake(id, destId, recipe, dialMs, socket);
    const destination = this.#destNames.get(destId) ?? 'unknown destination';
    this.#obs.connected(destination, dialMs);
    const conn = new Connection(id, destId, destination, this.#owner, socket);
    conn.nodeOwned = true;
    conn.group = this.#memberOf.get(destId)?.name;
    this.#conns[id] = conn;
    this.#sockets++;
    this.#place(conn, this.#engine.offer(id, false));
  }

  /**
   * Takes a dialed connection whose destination has a recipe, runs the handshake, and places
   * the connection once it is done; a failure rejects the waiter the engine names (as a
   * failed dial does) and closes the connection.
   */
  #handshake(id: number, destId: number, recipe: ConnectRecipe, dialMs: number, raw: net.Socket): void {
    const began = performance.now();
    const destination = this.#destNames.get(destId) ?? 'unknown destination';
    // The handshake's own errors come through its promise.
    raw.on('error', ignore);
    const pending: Handshaking = { raw, closed: false };
    const onRawClose = () => {
      pending.closed = true;
      // Until the handshake settles, the engine must first hear that it failed.
      if (!this.#handshaking.has(id)) this.#descriptorClosed(id);
    };
    raw.once('close', onRawClose);
    this.#handshaking.set(id, pending);
    this.#sockets++;
    handshake({ raw, recipe, destination, timeout: this.options.handshakeTimeout, sessions: this.#sessions, signal: this.#closing.signal }).then(
      ({ socket, resumed }) => {
        this.#handshaking.delete(id);
        if (pending.closed || raw.destroyed || socket.destroyed) {
          const closed = new BerthError('HANDSHAKE_FAILED', `the connection to ${destination} closed during its handshake`, destination);
          this.#obs.dialFailed(destination, dialMs + performance.now() - began, () => closed);
          return this.#handshakeFailed(id, pending, closed);
        }
        raw.off('close', onRawClose);
        raw.off('error', ignore);
        const stats = this.#connectStats;
        stats.handshakes++;
        if (resumed === true) stats.tlsResumed++;
        else if (resumed === false) stats.tlsFull++;
        this.#obs.connected(destination, dialMs + performance.now() - began);
        const conn = new Connection(id, destId, destination, this.#owner, socket, raw);
        conn.nodeOwned = this.#nodeDial;
        conn.group = this.#memberOf.get(destId)?.name;
        this.#conns[id] = conn;
        this.#place(conn, this.#engine.offer(id, conn.layered));
      },
      (error: unknown) => {
        this.#handshaking.delete(id);
        this.#obs.dialFailed(destination, dialMs + performance.now() - began, () => error as Error);
        this.#handshakeFailed(id, pending, error);
      },
    );
  }

  #handshakeFailed(id: number, pending: Handshaking, error: unknown): void {
    const stats = this.#connectStats;
    if ((error as BerthError).code === 'HANDSHAKE_TIMEOUT') stats.handshakesTimedOut++;
    else stats.handshakesFailed++;
    const waiter = this.#engine.handshakeFailed(id);
    if (waiter >= 0) this.#settleWaiter(waiter)?.reject(error);
    if (pending.closed) this.#descriptorClosed(id);
    else pending.raw.destroy();
  }

  /** A handshaking connection's descriptor closed: its place is free. */
  #descriptorClosed(id: number): void {
    this.#sockets--;
    this.#engine.closed(id);
    this.#checkClosed();
  }

  // ---- lifecycle ----------------------------------------------------------------------

  #checkClosed(): void {
    if (!this.#life.closing || this.#sockets > 0) return;
    // A listener's own socket closes on the engine's thread; its close() says when.
    if (this.#listeners.size > 0) return;
    if (this.#engine.openCount() > 0) return;
    this.#life.closeFinished();
    this.#updateRef();
  }
}

/** `hashKey` is a string when given. */
function checkHashKey(key: unknown): void {
  if (key !== undefined && typeof key !== 'string') throw new TypeError(`hashKey must be a string, got ${describe(key)}`);
}

/** The engine's group stats in their public shape (`latency` null before a connect, `host` only when set). */
function toGroupStats(s: ReturnType<Engine['groupStats']>): GroupStats | undefined {
  if (s === undefined || s === null) return undefined;
  return {
    ...s,
    members: s.members.map(({ host, latency, state, ...m }) => ({
      ...m,
      ...(host === undefined || host === null ? {} : { host }),
      state: state as MemberState,
      latency: latency ?? null,
    })),
  };
}
