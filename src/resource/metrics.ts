/**
 * A ResourcePool's Prometheus families (docs/metrics.md, shared/metrics/catalog.ts), from
 * `stats()` and the engine's acquire-wait buckets, labelled `{pool}`.
 */
import type { EngineBuckets } from '../shared/native';
import { FamilySet, type Family } from '../shared/metrics/model';
import type { ResourcePoolStats } from './stats';

export function resourceFamilies(pool: string, s: ResourcePoolStats, wait: EngineBuckets): Family[] {
  const set = new FamilySet();
  const p = { pool };
  set.add('berth_resources_size', p, s.size);
  set.add('berth_resources_idle', p, s.available);
  set.add('berth_resources_borrowed', p, s.borrowed);
  set.add('berth_resources_creating', p, s.creating);
  set.add('berth_resources_waiting', p, s.pending);
  set.add('berth_resources_created_total', p, s.created);
  set.add('berth_resources_destroyed_total', p, s.destroyed);
  set.add('berth_resources_acquires_total', p, s.acquired);
  set.add('berth_resources_reused_total', p, s.reused);
  set.add('berth_resources_acquire_timeouts_total', p, s.timeouts);
  set.add('berth_resources_validation_failures_total', p, s.validationFailures);
  set.add('berth_resources_create_errors_total', p, s.createFailures);
  for (const [reason, n] of [['idle', s.evicted.idle], ['lifetime', s.evicted.lifetime], ['unhealthy', s.evicted.unhealthy]] as const) {
    set.add('berth_resources_evicted_total', { ...p, reason }, n);
  }
  set.addHistogram('berth_resource_acquire_wait_seconds', p, wait);
  return set.families();
}
