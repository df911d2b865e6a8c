/**
 * The process-wide registry of open pools for the module's `metrics()` and
 * `berth-pool/prometheus`: each entry holds its pool weakly (a pool nobody references is
 * collected as before, and leaves the registry with it), and owns its `pool` label, unique
 * among open pools. A pool leaves when it closes or is collected.
 */
import { redact } from '../redact';
import type { Family } from './model';

interface Entry {
  /** Builds the pool's families; undefined once the pool is gone. */
  readonly collect: () => Family[] | undefined;
}

/** Open pools by name, in the order they were made (Map keeps insertion order). */
const OPEN = new Map<string, Entry>();
const GONE = new FinalizationRegistry<{ name: string; entry: Entry }>(({ name, entry }) => {
  if (OPEN.get(name) === entry) OPEN.delete(name);
});
const made = { pool: 0, resource: 0 };

/**
 * Registers a pool under `name` (or the next `pool-N` / `resource-N`); throws a TypeError when
 * an open pool already has the name. `collect` must not hold `owner` strongly.
 */
export function registerPool(kind: 'pool' | 'resource', name: string | undefined, owner: object, collect: () => Family[] | undefined): string {
  if (name === undefined) {
    do name = `${kind}-${++made[kind]}`;
    while (OPEN.has(name));
  } else if (OPEN.has(name)) {
    const what = kind === 'pool' ? 'Pool' : 'ResourcePool';
    throw new TypeError(redact(`${what} option "name": a pool named "${name}" is open already (names label metrics and must be unique; a closed pool frees its name)`));
  }
  const entry: Entry = { collect };
  OPEN.set(name, entry);
  GONE.register(owner, { name, entry }, entry);
  return name;
}

/** The pool named `name` closed: its name is free again. */
export function unregisterPool(name: string, collect: Entry['collect']): void {
  const entry = OPEN.get(name);
  if (entry?.collect !== collect) return;
  OPEN.delete(name);
  GONE.unregister(entry);
}

/** Every open pool's families, pools in creation order (not merged). */
export function collectAll(): Family[] {
  const out: Family[] = [];
  for (const entry of OPEN.values()) out.push(...(entry.collect() ?? []));
  return out;
}
