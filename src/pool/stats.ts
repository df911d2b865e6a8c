/** The public shapes of `pool.stats()` and `pool.snapshot()`. */
import type { EngineDestSnapshot } from '../shared/native';

/**
 * `pool.stats()` and its parts are the engine's own shape (crates/berth-node/src/stats.rs),
 * declared there once, in milliseconds, with their documentation.
 */
export type { LatencyQuantiles, PoolEvictions, PoolStats } from '../shared/native';

export interface ConnectionSnapshot {
  id: number;
  /**
   * `forwarding`: an upstream connection the engine itself is relaying for a native listener
   * session (`pool.listen()`); `inUse`: leased to JS (a lease, `forward()`, the HTTP agent).
   */
  state: 'idle' | 'inUse' | 'dialing' | 'forwarding' | 'closing';
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
