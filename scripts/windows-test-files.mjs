// The ava tests that run on Windows: __test__/*.test.mjs except the docs-*.test.mjs files
// (npm run test:docs, not ava's "files") and what scripts/windows-skip.txt lists, each entry
// with its reason. Used by scripts/test-windows.sh (Wine) and the release workflow's Windows
// runner.
//
//   node scripts/windows-test-files.mjs [--wine]            the files to run, one per line
//   node scripts/windows-test-files.mjs [--wine] --match    ava --match arguments that leave
//                                                           out the single tests listed
//   node scripts/windows-test-files.mjs [--wine] --skipped  "entry<TAB>reason" per skip
//
// An entry is a file name, or "file › test title" for one test; entries whose reason starts
// with [wine] apply under Wine only (--wine), not on a real Windows runner. Fails when an
// entry names a file that does not exist (a renamed test would silently run).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const wine = process.argv.includes('--wine');
const all = fs.readdirSync(path.join(root, '__test__')).filter((f) => f.endsWith('.test.mjs')).sort();

/** [{ file, title?, reason }] of scripts/windows-skip.txt: "entry  reason" (two or more spaces). */
const entries = [];
for (const raw of fs.readFileSync(path.join(root, 'scripts', 'windows-skip.txt'), 'utf8').split(/\r?\n/)) {
  const line = raw.replace(/(^|\s)#.*/, '').trim();
  if (!line) continue;
  const match = /^(\S+)(?: › (.+?))?\s{2,}(.+)$/.exec(line);
  if (!match) throw new Error(`scripts/windows-skip.txt: "${line}" is not "file[ › title]  reason"`);
  const [, file, title, reason] = match;
  if (!all.includes(file)) throw new Error(`scripts/windows-skip.txt names ${file}, which is not in __test__/`);
  if (reason.startsWith('[wine]') && !wine) continue;
  entries.push({ file, title, reason });
}

if (process.argv.includes('--skipped')) {
  for (const { file, title, reason } of entries) console.log(`${file}${title ? ` › ${title}` : ''}\t${reason}`);
} else if (process.argv.includes('--match')) {
  // ava matches titles without the file name; a leading ! excludes.
  for (const { title } of entries) if (title) console.log(`--match=!${title}`);
} else {
  const skipped = new Set(entries.filter((e) => !e.title).map((e) => e.file));
  for (const name of all) if (!name.startsWith('docs-') && !skipped.has(name)) console.log(`__test__/${name}`);
}
