// The reference parts of the docs against the code they describe, so they cannot drift:
// - docs/configuration.md's Pool and ResourcePool tables against the runtime DEFAULTS and
//   RESOURCE_DEFAULTS (every option listed, with the default the code uses);
// - docs/errors.md lists every BerthErrorCode of the published declarations, and no other;
// - the performance tables of README.md and docs/performance.md match benchmark/results;
// - every relative link in README.md and docs/ points at a file and heading that exist;
// - README.md stays short and links to every page of docs/.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULTS, RESOURCE_DEFAULTS } from 'berth-pool';
import { regenerate } from '../scripts/docs-tables.mjs';
import { ROOT, pages } from './helpers/docs.mjs';

const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** The rows of the first table after the heading `## title`: arrays of cell texts. */
function tableAfter(page, title) {
  const text = read(page);
  const at = text.indexOf(`\n## ${title}\n`);
  if (at < 0) throw new Error(`${page}: no "## ${title}" heading`);
  const lines = text.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(' | ').map((c) => c.trim()));
  }
  return rows.slice(2); // header and alignment rows
}

/** How a default is written in the docs: `32`, `Infinity`, `'lifo'`, `false`, `{}`. */
function written(value) {
  if (typeof value === 'string') return `\`'${value}'\``;
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return '`{}`';
  return `\`${String(value)}\``;
}

function checkDefaults(t, title, defaults, rename = {}, extra = []) {
  const rows = tableAfter('docs/configuration.md', title);
  const documented = new Map(rows.map(([key, def]) => [key.replace(/`/g, '').replace(/\(.*\)$/, ''), def]));
  for (const [key, value] of Object.entries(defaults)) {
    const name = rename[key] ?? key;
    t.true(documented.has(name), `configuration.md ${title}: option ${name} is missing`);
    if (documented.has(name)) t.is(documented.get(name), written(value), `configuration.md ${title}: default of ${name}`);
  }
  const known = new Set([...Object.keys(defaults).map((k) => rename[k] ?? k), ...extra]);
  for (const name of documented.keys()) t.true(known.has(name), `configuration.md ${title}: ${name} is not an option of the code`);
}

test('configuration.md: the Pool table matches DEFAULTS', (t) => {
  // The connect options have no default (none: plain TCP); `name` defaults to pool-<n>.
  checkDefaults(t, 'Pool', DEFAULTS, {}, ['tls', 'handshake', 'check', 'name']);
});

test('configuration.md: the ResourcePool table matches RESOURCE_DEFAULTS', (t) => {
  checkDefaults(
    t,
    'ResourcePool',
    RESOURCE_DEFAULTS,
    { createAttempts: 'createRetry.attempts', createBackoff: 'createRetry.backoff' },
    ['create', 'destroy', 'validate', 'name'],
  );
});

/** The string literals of `export type BerthErrorCode = ...;` in the built declarations. */
function berthErrorCodes() {
  const found = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.d.ts')) {
        const source = fs.readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\//g, ''); // comments hold ';'
        const m = /export type BerthErrorCode\s*=([^;]*);/.exec(source);
        if (m) found.push(...[...m[1].matchAll(/'([A-Z_]+)'/g)].map((x) => x[1]));
      }
    }
  };
  walk(path.join(ROOT, 'dist'));
  return found;
}

test('errors.md lists every BerthErrorCode, and no other', (t) => {
  const codes = berthErrorCodes();
  t.true(codes.length > 10, `BerthErrorCode found in dist/ (${codes.length} codes; run npm run build)`);
  const rows = tableAfter('docs/errors.md', 'Codes');
  const documented = rows.map(([code]) => code.replace(/`/g, ''));
  t.deepEqual([...documented].sort(), [...codes].sort());
  for (const [code, when, what] of rows) t.true(when.length > 20 && what.length > 10, `errors.md: ${code} says when and what to do`);
});

test('the performance tables match benchmark/results (npm run docs:tables)', (t) => {
  for (const page of ['README.md', 'docs/performance.md']) {
    const text = read(page);
    t.true(text.includes('<!-- generated: '), `${page} has generated tables`);
    t.is(regenerate(text, page), text, `${page} is stale: run npm run docs:tables`);
  }
});

/** GitHub's anchor of a heading. */
const slug = (heading) =>
  heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

function anchors(rel) {
  const text = read(rel).replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  return new Set([...text.matchAll(/^#{1,6}\s+(.*)$/gm)].map((m) => slug(m[1])));
}

test('every relative link in README.md and docs/ resolves, anchors included', (t) => {
  let links = 0;
  for (const page of pages()) {
    const text = read(page).replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      links++;
      const [file, anchor] = target.split('#');
      const rel = file === '' ? page : path.normalize(path.join(path.dirname(page), file));
      t.true(fs.existsSync(path.join(ROOT, rel)), `${page}: link ${target}: ${rel} does not exist`);
      if (anchor && rel.endsWith('.md') && fs.existsSync(path.join(ROOT, rel))) {
        t.true(anchors(rel).has(anchor), `${page}: link ${target}: no heading #${anchor} in ${rel}`);
      }
    }
  }
  t.true(links > 20);
});

test('README.md is short and links to every page of docs/', (t) => {
  const readme = read('README.md');
  t.true(Buffer.byteLength(readme) < 12 * 1024, `README.md is ${Buffer.byteLength(readme)} bytes: keep it under 12 KB, move detail to docs/`);
  for (const page of fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
    t.true(readme.includes(`](docs/${page}`), `README.md links to docs/${page}`);
  }
});
