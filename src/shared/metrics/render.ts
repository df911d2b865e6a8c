/**
 * Prometheus text exposition format 0.0.4: one `# HELP` and `# TYPE` per family (families of
 * the same name from several pools are merged under one), families sorted by name, samples in
 * the order their pools and builders gave them (pools in creation order, stable across
 * scrapes), label values and help text escaped.
 */
import { formatValue, type Family } from './model';

/** The `Content-Type` to serve `metrics()` with: Prometheus text format 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Merges families with the same name (the first one's help and type win) and sorts them by name. */
export function mergeFamilies(families: Iterable<Family>): Family[] {
  const byName = new Map<string, Family>();
  for (const f of families) {
    const seen = byName.get(f.name);
    if (seen === undefined) byName.set(f.name, { ...f, samples: [...f.samples] });
    else seen.samples.push(...f.samples);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function render(families: Iterable<Family>): string {
  const out: string[] = [];
  for (const f of mergeFamilies(families)) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      const set = labels.length > 0 ? `{${labels.join(',')}}` : '';
      out.push(`${f.name}${s.suffix ?? ''}${set} ${formatValue(s.value)}`);
    }
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
