/** The public shapes of `pool.stats()` and `pool.snapshot()`. */
import type { EngineDestSnapshot, PoolStats as EnginePoolStats } from '../shared/native';

/**
 * `pool.stats()`'s counters and gauges are the engine's own shape (crates/berth-node/src/stats.rs),
 * declared there once, in milliseconds, with their documentation.
 */
export type { LatencyQuantiles, PoolEvictions } from '../shared/native';

/** What `pool.stats()` returns: the engine's counters, and those of the connect steps JS runs. */
export interface PoolStats extends EnginePoolStats {
  /** New connections' handshakes (TLS, `handshake`) and reuse checks (`check`). */
  connect: ConnectStats;
}

/** The connect steps' counters in {@link PoolStats.connect}, since the pool was made. */
export interface ConnectStats {
  /** New connections whose handshake (`handshake`, TLS) completed. */
  handshakes: number;
  /** Handshakes that failed (`HANDSHAKE_FAILED`, `TLS_FAILED`, or the connection closed). */
  handshakesFailed: number;
  /** Handshakes that took longer than `handshakeTimeout` (`HANDSHAKE_TIMEOUT`). */
  handshakesTimedOut: number;
  /** TLS connections that needed a full handshake. */
  tlsFull: number;
  /** TLS connections that resumed a cached session (no full handshake). */
  tlsResumed: number;
  /** Reuse checks run (`check`). */
  checks: number;
  /** Reuse checks that failed (false, a throw, or no answer in time): those connections were closed. */
  checksFailed: number;
}

/** One connection in {@link DestinationSnapshot.connections}. */
export interface ConnectionSnapshot {
  /** The engine's id for the connection, unique within the pool while it exists. */
  id: number;
  /**
   * `forwarding`: an upstream connection the engine itself is relaying for a native listener
   * session (`pool.listen()`); `inUse`: leased to JS (a lease, `forward()`, the HTTP agent).
   */
  state: 'idle' | 'inUse' | 'dialing' | 'forwarding' | 'closing';
  /** Time since the connection was made (its dial started), in milliseconds. */
  ageMs: number;
  /** Time since release, for idle connections; 0 otherwise. */
  idleMs: number;
  /** Times it was leased (to JS or to a native listener session). */
  uses: number;
}

/** One destination in {@link PoolSnapshot.destinations}: its counts now, and its connections. */
export interface DestinationSnapshot {
  /** The destination as the engine writes it (`host:port` or a socket path), any `user:pass@` masked as `***@`. */
  destination: string;
  /**
   * The connect profile: `''` for plain connections; otherwise what runs on each new one
   * (`'tls <digest>'`, `'handshake#<n>'`): one address under two TLS identities is two entries.
   */
  profile: string;
  /** Connections holding a place: idle + inUse + dialing + closing (unlike `PoolStats.open`, which leaves out closing). */
  open: number;
  /** Connections idle, ready for reuse. */
  idle: number;
  /** Connections leased: to JS (`inUse`) or relayed for a native listener session (`forwarding`). */
  inUse: number;
  /** Connections being dialed. */
  dialing: number;
  /** Acquires queued for a connection to this destination. */
  waiting: number;
  /** Every connection of the destination, each with its state. */
  connections: ConnectionSnapshot[];
}

/** What `pool.snapshot()` returns: the pool's connections now, destination by destination. */
export interface PoolSnapshot {
  /** The destinations the pool holds state for (one holding nothing is dropped at the next sweep). */
  destinations: DestinationSnapshot[];
}

export function toPoolSnapshot(dests: EngineDestSnapshot[]): PoolSnapshot {
  return {
    destinations: dests.map((d) => ({
      destination: d.destination,
      profile: d.profile,
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
