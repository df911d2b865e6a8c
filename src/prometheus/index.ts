/**
 * `berth-pool/prometheus`: berth's metric families in a prom-client `Registry`, so that they
 * come out of `registry.metrics()` beside the application's own.
 *
 * ```js
 * const client = require('prom-client');
 * const { registerBerthMetrics } = require('berth-pool/prometheus');
 * registerBerthMetrics(client.register); // every open Pool and ResourcePool, now and later
 * ```
 *
 * prom-client is an optional peer dependency: berth never loads it unless this entry is called
 * without a registry. Every berth family is registered up front (a family without series yet
 * prints its HELP and TYPE alone); one scrape gathers every pool once, not once per family.
 *
 * @module berth-pool/prometheus
 */
import { CATALOG, type FamilyName } from '../shared/metrics/catalog';
import type { Family } from '../shared/metrics/model';
import { collectAll } from '../shared/metrics/registry';
import { mergeFamilies } from '../shared/metrics/render';

/** A family's Prometheus type. */
export type PromMetricType = 'counter' | 'gauge' | 'histogram';

/** One series as prom-client's `get()` returns it. */
export interface PromValue {
  /** Its labels (`le` included for a histogram bucket); values already masked with `redact()`. */
  labels: Record<string, string>;
  /** Its value. */
  value: number;
  /** `<name>_bucket`, `_sum` or `_count` for a histogram's series. */
  metricName?: string;
}

/** What prom-client's `metric.get()` returns. */
export interface PromMetricData {
  /** The family's name (`berth_*`). */
  name: string;
  /** Its help text. */
  help: string;
  /** Its type. */
  type: PromMetricType;
  /** How prom-client's cluster support combines workers' values: summed. */
  aggregator: 'sum';
  /** Every series of every open pool. */
  values: PromValue[];
}

/** The object registered for each berth family: what prom-client's registry reads from a metric. */
export interface PromMetric {
  /** The family's name (`berth_*`). */
  readonly name: string;
  /** Its help text. */
  readonly help: string;
  /** Its type. */
  readonly type: PromMetricType;
  /** Summed across cluster workers. */
  readonly aggregator: 'sum';
  /** The family's series now (one gather of every open pool serves a whole scrape). */
  get(): Promise<PromMetricData>;
}

/**
 * A prom-client `Registry` (or anything with its `registerMetric`). Typed loosely on purpose:
 * berth does not depend on prom-client's types, which are optional.
 */
export interface MetricRegistry {
  /** Called once per berth family with a {@link PromMetric}. */
  registerMetric: (metric: never) => void;
  /** Used by the function `registerBerthMetrics` returns, to unregister. */
  removeSingleMetric?: (name: string) => void;
}

/** Every family berth may write, in the order `registerBerthMetrics` registers them. */
export const BERTH_METRIC_NAMES: readonly string[] = Object.keys(CATALOG).sort();

/** The last gather, shared by the families of one scrape (prom-client asks each in the same tick). */
let gathered: Map<string, Family> | undefined;

function gather(): Map<string, Family> {
  if (gathered === undefined) {
    const now = new Map(mergeFamilies(collectAll()).map((f) => [f.name, f]));
    gathered = now;
    // The next scrape gathers again: the cache lives until the current tick's jobs are done.
    queueMicrotask(() => {
      if (gathered === now) gathered = undefined;
    });
  }
  return gathered;
}

function promMetric(name: FamilyName): PromMetric {
  const { type, help } = CATALOG[name];
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    async get() {
      const family = gather().get(name);
      const values = (family?.samples ?? []).map((s) =>
        s.suffix === undefined ? { labels: { ...s.labels }, value: s.value } : { labels: { ...s.labels }, value: s.value, metricName: `${name}${s.suffix}` },
      );
      return { name, help, type, aggregator: 'sum', values };
    },
  };
}

/**
 * Registers every berth family in `registry` (default: prom-client's global `register`, which
 * needs `prom-client` installed). Each scrape then reports every Pool and ResourcePool open at
 * that moment, as the module's `metrics()` does. Returns a function that removes them again.
 * Registering twice in one registry throws prom-client's duplicate-name error.
 */
export function registerBerthMetrics(registry?: MetricRegistry): () => void {
  const target = registry ?? defaultRegistry();
  if (typeof target !== 'object' || target === null || typeof target.registerMetric !== 'function') {
    throw new TypeError('registerBerthMetrics(registry): registry must be a prom-client Registry (an object with registerMetric)');
  }
  const register = target.registerMetric as (metric: PromMetric) => void;
  for (const name of BERTH_METRIC_NAMES) register.call(target, promMetric(name as FamilyName));
  return () => {
    for (const name of BERTH_METRIC_NAMES) target.removeSingleMetric?.(name);
  };
}

function defaultRegistry(): MetricRegistry {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('prom-client') as { register: MetricRegistry }).register;
  } catch (error) {
    throw new Error('berth-pool/prometheus: prom-client is not installed (npm install prom-client), or pass a registry to registerBerthMetrics', { cause: error });
  }
}
