/**
 * The metric model every renderer shares: a family (name, help, type) and its samples. Pools
 * build families from one engine gather (`src/pool/metrics.ts`, `src/resource/metrics.ts`);
 * `render.ts` writes them as Prometheus text, `berth-pool/prometheus` hands them to prom-client.
 */
import { redact } from '../redact';
import { CATALOG, type FamilyName, type MetricType } from './catalog';

export type { MetricType };

/** Label names to values; values are masked with `redact()` when the sample is made. */
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
  /** For histograms: `_bucket` (with an `le` label), `_sum` or `_count`. */
  readonly suffix?: '_bucket' | '_sum' | '_count';
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: Sample[];
}

/** A histogram as the engine gathers it: bounds in seconds, cumulative counts (the last is `+Inf`). */
export interface Buckets {
  readonly bounds: readonly number[];
  readonly cumulative: readonly number[];
  readonly sum: number;
}

/** Collects families (described in `CATALOG`) in the order first used, one per name. */
export class FamilySet {
  readonly #byName = new Map<string, Family>();

  /** The family `name`, declared even if no sample follows (a family with no series yet). */
  family(name: FamilyName): Family {
    let f = this.#byName.get(name);
    if (f === undefined) {
      f = { name, ...CATALOG[name], samples: [] };
      this.#byName.set(name, f);
    }
    return f;
  }

  add(name: FamilyName, labels: Labels, value: number): void {
    this.family(name).samples.push({ labels: safeLabels(labels), value });
  }

  /** A histogram's `_bucket` series (cumulative, ending in `+Inf`), `_sum` and `_count`. */
  addHistogram(name: FamilyName, labels: Labels, b: Buckets): void {
    const f = this.family(name);
    const safe = safeLabels(labels);
    b.bounds.forEach((bound, i) => f.samples.push({ labels: { ...safe, le: formatValue(bound) }, value: b.cumulative[i], suffix: '_bucket' }));
    const count = b.cumulative[b.cumulative.length - 1] ?? 0;
    f.samples.push({ labels: { ...safe, le: '+Inf' }, value: count, suffix: '_bucket' });
    f.samples.push({ labels: safe, value: b.sum, suffix: '_sum' });
    f.samples.push({ labels: safe, value: count, suffix: '_count' });
  }

  families(): Family[] {
    return [...this.#byName.values()];
  }
}

/** Label values never carry a credential (destinations, names, anything from user input). */
function safeLabels(labels: Labels): Labels {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[k] = redact(v);
  return out;
}

/** A sample value as Prometheus writes it. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}
