/** `ResourcePool.stats()`: the engine's counters in the shape users read. */
import type { ResourceEngineStats } from '../shared/native';

/** What `resourcePool.stats()` reports: gauges now, counters since the pool was made. */
export interface ResourcePoolStats {
  /** Resources that exist or are being created (idle + borrowed + validating + creating). */
  size: number;
  /** Idle resources. */
  available: number;
  /** Resources lent out. */
  borrowed: number;
  /** Acquires waiting. */
  pending: number;
  /** Creates in flight. */
  creating: number;
  /** Destroys in flight. */
  destroying: number;
  /** Resources created, ever. */
  created: number;
  /** Resources destroyed, ever. */
  destroyed: number;
  /** Acquires served, ever (reuse hits and hand-offs). */
  acquired: number;
  /** Acquires served with a resource that had been used before. */
  reused: number;
  /** Creates that failed for good (after their retries). */
  createFailures: number;
  /** Validations that said unhealthy, threw or rejected. */
  validationFailures: number;
  /** Acquires that timed out. */
  timeouts: number;
  /** Resources destroyed by the pool itself, by reason. */
  evicted: {
    /** Idle past `idleTimeout` or `softIdleTimeout`. */
    idle: number;
    /** Past `maxLifetime`. */
    lifetime: number;
    /** Failed validation (the same count as `validationFailures`). */
    unhealthy: number;
  };
  /** How long served acquires waited, in ms (0 for a reuse hit). */
  acquireWaitMs: {
    /** The median, in milliseconds. */
    p50: number;
    /** The 99th percentile, in milliseconds. */
    p99: number;
    /** The longest, in milliseconds. */
    max: number;
  };
}

export function toResourceStats(s: ResourceEngineStats, borrowed: number, validationFailures: number): ResourcePoolStats {
  return {
    size: s.size,
    available: s.idle,
    borrowed,
    pending: s.waiting,
    creating: s.creating,
    destroying: s.destroying,
    created: s.created,
    destroyed: s.destroyed,
    acquired: s.acquired,
    reused: s.reused,
    createFailures: s.createFailures,
    validationFailures,
    timeouts: s.timeouts,
    evicted: { idle: s.evictedIdle, lifetime: s.evictedLifetime, unhealthy: validationFailures },
    acquireWaitMs: { p50: s.acquireWaitP50Ms, p99: s.acquireWaitP99Ms, max: s.acquireWaitMaxMs },
  };
}
