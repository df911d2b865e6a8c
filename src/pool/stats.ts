/** The public shapes of `pool.stats()` and `pool.snapshot()`. */
import type { EngineDestSnapshot, EngineStats } from '../shared/native';

/** Quantiles of a latency, in milliseconds (0 before anything was measured). */
export interface LatencyQuantiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface PoolStats {
  /** idle + inUse + dialing. */
  open: number;
  /** Destroyed, descriptor not closed yet (a moment at most): still counted against the limits. */
  closing: number;
  idle: number;
  inUse: number;
  dialing: number;
  /** Acquires queued for a connection. */
  waiting: number;
  /** Connections dialed successfully, ever. */
  created: number;
  /** Leases served by a connection an earlier lease used. */
  reused: number;
  /** Connections closed, for any reason, ever. */
  closed: number;
  dialFailures: number;
  acquireTimeouts: number;
  /** Connections the pool closed itself, by reason. */
  evicted: {
    /** Idle past `idleTimeout`, or closed to make room under `maxTotal`. */
    idle: number;
    /** Past `maxLifetime`. */
    lifetime: number;
    /** The peer closed or reset it while idle. */
    peerClosed: number;
    /** Unexpected bytes or an unusable state found at hand-out or return. */
    unhealthy: number;
    /** Leased `maxUses` times. */
    maxUses: number;
    /**
     * Leased by the HTTP agent and given back unused: the server's `Keep-Alive: timeout` hint
     * had passed (such a lease is not counted in `reused`).
     */
    keepAliveExpired: number;
  };
  /** Time from acquire to lease, in milliseconds (reuse hits count as 0). */
  acquireWaitMs: LatencyQuantiles;
  /** Time to dial a connection, in milliseconds. */
  connectMs: LatencyQuantiles;
}

export interface ConnectionSnapshot {
  id: number;
  state: 'idle' | 'inUse' | 'dialing' | 'closing';
  ageMs: number;
  /** Time since release, for idle connections; 0 otherwise. */
  idleMs: number;
  uses: number;
}

export interface DestinationSnapshot {
  destination: string;
  open: number;
  idle: number;
  inUse: number;
  dialing: number;
  waiting: number;
  connections: ConnectionSnapshot[];
}

export interface PoolSnapshot {
  destinations: DestinationSnapshot[];
}

export function toPoolStats(s: EngineStats): PoolStats {
  return {
    open: s.open,
    closing: s.closing,
    idle: s.idle,
    inUse: s.inUse,
    dialing: s.dialing,
    waiting: s.waiting,
    created: s.created,
    reused: s.reused,
    closed: s.closed,
    dialFailures: s.dialFailures,
    acquireTimeouts: s.acquireTimeouts,
    evicted: {
      idle: s.evictedIdle,
      lifetime: s.evictedLifetime,
      peerClosed: s.evictedPeerClosed,
      unhealthy: s.evictedUnhealthy,
      maxUses: s.evictedMaxUses,
      keepAliveExpired: s.evictedKeepAliveExpired,
    },
    acquireWaitMs: { p50: s.acquireWaitP50, p95: s.acquireWaitP95, p99: s.acquireWaitP99 },
    connectMs: { p50: s.connectP50, p95: s.connectP95, p99: s.connectP99 },
  };
}

export function toPoolSnapshot(dests: EngineDestSnapshot[]): PoolSnapshot {
  return {
    destinations: dests.map((d) => ({
      destination: d.destination,
      open: d.open,
      idle: d.idle,
      inUse: d.inUse,
      dialing: d.dialing,
      waiting: d.waiting,
      connections: d.connections.map((c) => ({
        id: c.id,
        state: c.state as ConnectionSnapshot['state'],
        ageMs: c.ageMs,
        idleMs: c.idleMs,
        uses: c.uses,
      })),
    })),
  };
}
