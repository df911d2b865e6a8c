/**
 * Bounded labels: per-destination series beyond `max` distinct destinations fold into
 * `destination="other"` (and `group=""`), their values summed, so that a proxy handed
 * destinations by strangers cannot grow its metrics without bound. Which destinations keep
 * their own label: the first `max` in the order given (the engine lists them oldest first),
 * so a destination's series does not come and go with load.
 */

/** One destination's gauges; series with the same (destination, group) are summed too (TLS-profile twins). */
export interface DestRow {
  readonly destination: string;
  readonly group: string;
  readonly values: readonly number[];
}

export const OTHER = 'other';

export function foldDestinations(rows: readonly DestRow[], max: number): DestRow[] {
  const kept = new Set<string>();
  const out = new Map<string, { destination: string; group: string; values: number[] }>();
  for (const row of rows) {
    let { destination, group } = row;
    if (!kept.has(destination)) {
      if (kept.size < max) kept.add(destination);
      else {
        destination = OTHER;
        group = '';
      }
    }
    const key = `${destination}\u0000${group}`;
    const seen = out.get(key);
    if (seen === undefined) out.set(key, { destination, group, values: [...row.values] });
    else row.values.forEach((v, i) => (seen.values[i] += v));
  }
  return [...out.values()];
}
