/**
 * Keeping a pool alive while it awaits its engine's events. An engine's event function is
 * unref'd by default (an idle pool must not keep the process running) and holds its pool only
 * weakly (a pool its user dropped must be collectable, which stops the engine). While acquires
 * wait, or a close is in progress, both must change: the event function is ref'd, and the pool
 * is held here, so that neither the process exits nor the pool is collected under them.
 */

/** Pools awaiting engine events: kept reachable. */
const AWAITED = new Set<object>();

/** Refs `engine` and holds `pool` while `awaiting`; unrefs and lets go otherwise. */
export function setAwaiting(engine: { ref(): void; unref(): void }, pool: object, awaiting: boolean): void {
  if (awaiting) {
    engine.ref();
    AWAITED.add(pool);
  } else {
    engine.unref();
    AWAITED.delete(pool);
  }
}
