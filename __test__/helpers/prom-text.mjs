// A strict parser of the Prometheus text exposition format 0.0.4, for the metrics tests: it
// throws on anything a scraper would reject or that berth promises not to write.
// - no blank line (unless `blankLines`: prom-client writes one between families);
// - every family has exactly one `# HELP` then `# TYPE`, and is declared once;
// - every sample line belongs to the family declared last (histograms: <name>_bucket, _sum,
//   _count) and no series appears twice;
// - label values are quoted with `\\`, `\"` and `\n` escapes only;
// - a histogram's series, per label set, have ascending `le` buckets with cumulative counts
//   ending in `le="+Inf"`, equal to its `_count`, and a `_sum`.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text, line) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)} in: ${line}`);
  return Number(text);
}

/** `{a="x",b="y"} 1` → [labels, rest]. */
function parseLabels(text, line) {
  const labels = {};
  let i = 1;
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    const name = text.slice(i, eq);
    if (eq < 0 || !LABEL.test(name)) throw new Error(`bad label name in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '"') break;
      if (c === '\n') throw new Error(`raw newline in: ${line}`);
      if (c === '\\') {
        const n = text[j + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`bad escape \\${n} in: ${line}`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    if (name in labels) throw new Error(`label ${name} twice in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`expected , or } in: ${line}`);
  }
  return [labels, text.slice(i + 1)];
}

const key = (labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

/** Map name → { help, type, samples: [{ name, labels, value }] }; throws on any violation. */
export function parseExposition(text, { blankLines = false } = {}) {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map();
  let current = null;
  const seen = new Set();
  for (const line of text.split('\n').slice(0, -1)) {
    if (line === '') {
      // prom-client separates families with one (scrapers skip it); berth writes none.
      if (blankLines) continue;
      throw new Error('empty line');
    }
    if (line.startsWith('# HELP ')) {
      const [, name] = line.match(/^# HELP (\S+) /) ?? [];
      if (!name || !NAME.test(name)) throw new Error(`bad HELP: ${line}`);
      if (families.has(name)) throw new Error(`family ${name} declared twice`);
      current = { name, help: line.slice(`# HELP ${name} `.length), type: undefined, samples: [] };
      families.set(name, current);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, name, type] = line.match(/^# TYPE (\S+) (\S+)$/) ?? [];
      if (current?.name !== name || current.type !== undefined || current.samples.length > 0) throw new Error(`TYPE without its HELP just before: ${line}`);
      if (!TYPES.has(type)) throw new Error(`bad type: ${line}`);
      current.type = type;
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment: ${line}`);
    const [, name, rest] = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/) ?? [];
    if (!name) throw new Error(`bad sample: ${line}`);
    const [labels, tail] = rest.startsWith('{') ? parseLabels(rest, line) : [{}, rest];
    if (!tail.startsWith(' ')) throw new Error(`no value in: ${line}`);
    const value = parseValue(tail.slice(1), line);
    if (current === null || current.type === undefined) throw new Error(`sample before any HELP/TYPE: ${line}`);
    const allowed = current.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => current.name + s) : [current.name];
    if (!allowed.includes(name)) throw new Error(`sample ${name} outside its family (declared: ${current.name}): ${line}`);
    const id = `${name}${key(labels)}`;
    if (seen.has(id)) throw new Error(`series twice: ${line}`);
    seen.add(id);
    current.samples.push({ name, labels, value });
  }
  for (const f of families.values()) {
    if (f.type === undefined) throw new Error(`${f.name} has no TYPE`);
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

function checkHistogram(f) {
  const groups = new Map();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = key(rest);
    if (!groups.has(k)) groups.set(k, { buckets: [], sum: undefined, count: undefined });
    const g = groups.get(k);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push([parseValue(le, le), s.value]);
    } else if (s.name.endsWith('_sum')) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [k, g] of groups) {
    if (g.sum === undefined || g.count === undefined) throw new Error(`${f.name}${k}: _sum or _count missing`);
    if (g.buckets.length === 0 || g.buckets.at(-1)[0] !== Infinity) throw new Error(`${f.name}${k}: the last bucket is not +Inf`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i][0] > g.buckets[i - 1][0])) throw new Error(`${f.name}${k}: le not ascending`);
      if (g.buckets[i][1] < g.buckets[i - 1][1]) throw new Error(`${f.name}${k}: buckets not cumulative`);
    }
    if (g.buckets.at(-1)[1] !== g.count) throw new Error(`${f.name}${k}: +Inf bucket ${g.buckets.at(-1)[1]} != _count ${g.count}`);
  }
}

/** The samples of `name` (a family or a histogram's _bucket/_sum/_count) whose labels include `labels`. */
export function samples(families, name, labels = {}) {
  const base = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  if (!base) return [];
  return base.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of `name` matching `labels`; throws unless exactly one matches. */
export function value(families, name, labels = {}) {
  const found = samples(families, name, labels);
  if (found.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${found.length} samples match`);
  return found[0].value;
}
