// The ava test files that run on Windows: __test__/*.test.mjs except the docs-*.test.mjs files
// (npm run test:docs, not ava's "files") and those scripts/windows-skip.txt lists, each with a
// reason. Used by scripts/test-windows.sh (Wine) and the release workflow's Windows runner.
//
//   node scripts/windows-test-files.mjs            the files to run, one per line
//   node scripts/windows-test-files.mjs --skipped  "file<TAB>reason" per skipped file
//
// Fails when the list names a file that does not exist (a renamed test would silently run).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const skipFile = path.join(root, 'scripts', 'windows-skip.txt');

/** Map of file name -> reason, from scripts/windows-skip.txt ("file reason", # comments). */
function readSkipList(text = fs.readFileSync(skipFile, 'utf8')) {
  const skips = new Map();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const match = /^(\S+)\s+(.+)$/.exec(line);
    if (!match) throw new Error(`scripts/windows-skip.txt: no reason given for "${line}"`);
    skips.set(match[1], match[2]);
  }
  return skips;
}

const skips = readSkipList();
const all = fs.readdirSync(path.join(root, '__test__')).filter((f) => f.endsWith('.test.mjs')).sort();
for (const name of skips.keys()) {
  if (!all.includes(name)) throw new Error(`scripts/windows-skip.txt names ${name}, which is not in __test__/`);
}
if (process.argv.includes('--skipped')) {
  for (const [name, reason] of [...skips].sort()) console.log(`${name}\t${reason}`);
} else {
  for (const name of all) if (!name.startsWith('docs-') && !skips.has(name)) console.log(`__test__/${name}`);
}
