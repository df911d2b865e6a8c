// The Markdown pages of the docs (README.md, docs/**.md) and their fenced code blocks, for the
// docs tests (docs-examples.test.mjs, docs-reference.test.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** README.md and docs/**.md (not the generated docs/api). */
export function pages() {
  const out = ['README.md'];
  const walk = (dir) => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (rel !== path.join('docs', 'api')) walk(rel);
      } else if (e.name.endsWith('.md')) out.push(rel);
    }
  };
  if (fs.existsSync(path.join(ROOT, 'docs'))) walk('docs');
  return out;
}

/**
 * The fenced blocks of a Markdown page: { page, line, lang, code, notRun, needs }.
 * Directives are HTML comments on the lines right before the fence (blank lines between allowed).
 */
export function blocks(page) {
  const lines = fs.readFileSync(path.join(ROOT, page), 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    const start = i;
    const body = [];
    for (i++; i < lines.length && !lines[i].startsWith(indent + fence); i++) body.push(lines[i].slice(indent.length));
    const directives = [];
    for (let j = start - 1; j >= 0; j--) {
      const l = lines[j].trim();
      if (l === '') continue;
      const m = /^<!--\s*(.*?)\s*-->$/.exec(l);
      if (!m) break;
      directives.push(m[1]);
    }
    const notRun = directives.find((d) => d.startsWith('not-run'));
    const needs = directives
      .filter((d) => d.startsWith('needs:'))
      .flatMap((d) => d.slice('needs:'.length).split(',').map((s) => s.trim()).filter(Boolean));
    out.push({
      page,
      line: start + 1,
      lang: lang.toLowerCase(),
      code: body.join('\n'),
      notRun: notRun === undefined ? undefined : notRun.replace(/^not-run:?\s*/, ''),
      needs,
    });
  }
  return out;
}
