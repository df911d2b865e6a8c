/**
 * The module's metrics API: `metrics()` (every open Pool and ResourcePool in the process, in
 * the Prometheus text format 0.0.4) and `METRICS_CONTENT_TYPE` to serve it with.
 */
import { collectAll } from './registry';
import { render } from './render';

export { METRICS_CONTENT_TYPE } from './render';

/**
 * Every open Pool's and ResourcePool's metrics (their destinations, listeners and groups), in
 * the Prometheus text format 0.0.4: one `# HELP` / `# TYPE` per family, each pool's series
 * labelled with its `name`. Pools are held weakly: a closed or collected pool is not listed.
 * Families and labels: docs/metrics.md.
 */
export function metrics(): string {
  return render(collectAll());
}
