// The layout of src/: one folder per product, shared/ below them all, and no import circles.
// Reads the TypeScript sources' import and export-from statements (type-only ones included: a
// circle of types is still a circle a reader must hold in their head).
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** file (relative to src, no extension) -> the src files it imports. */
function importGraph() {
  const graph = new Map();
  const files = sources(src);
  const modules = new Set(files.map((f) => relative(src, f).replace(/\.ts$/, '')));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const deps = new Set();
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'|(?:^|\n)\s*import\s+'(\.[^']+)'/g)) {
      const spec = m[1] ?? m[2];
      let target = relative(src, resolve(dirname(file), spec)).replace(/\.js$/, '');
      if (target.startsWith('..')) continue; // ../../native/index: the generated binding
      if (!modules.has(target)) target = `${target}/index`; // './pool' is './pool/index'

      deps.add(target);
    }
    graph.set(relative(src, file).replace(/\.ts$/, ''), deps);
  }
  return graph;
}

/** The folder (product) of a module: 'pool', 'http', ..., or '.' for src/index.ts. */
const folderOf = (mod) => (mod.includes('/') ? mod.slice(0, mod.indexOf('/')) : '.');

function findCycle(graph) {
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return null;
}

test('no module of src/ imports itself back through others', (t) => {
  const graph = importGraph();
  t.true(graph.size > 30, `read ${graph.size} modules`);
  const cycle = findCycle(graph);
  t.is(cycle, null, cycle ? `import circle: ${cycle.join(' -> ')}` : undefined);
});

test('no product folder imports another in a circle, and shared/ imports no product', (t) => {
  const graph = importGraph();
  const folders = new Map();
  for (const [mod, deps] of graph) {
    const from = folderOf(mod);
    if (from === '.') continue;
    for (const dep of deps) {
      const to = folderOf(dep);
      if (to === from) continue;
      if (!folders.has(from)) folders.set(from, new Set());
      folders.get(from).add(to);
    }
  }
  t.deepEqual([...(folders.get('shared') ?? [])], [], 'shared/ is below every product');
  const cycle = findCycle(folders);
  t.is(cycle, null, cycle ? `folder circle: ${cycle.join(' -> ')}` : undefined);
  // Which product builds on which: the layers a reader can rely on. A new edge is a design
  // decision: add it here on purpose.
  const allowed = {
    pool: ['proxy', 'shared'], // pool.forward() and pool.listen() hand sockets to the proxy data path
    proxy: ['shared'],
    http: ['pool', 'shared'], // the HTTP agent is built on the socket pool
    resource: ['shared'],
    'generic-pool': ['resource', 'shared'], // the drop-in is built on ResourcePool
    prometheus: ['shared'], // berth-pool/prometheus reads the metrics registry
    probe: ['shared'],
  };
  for (const [from, tos] of folders) {
    for (const to of tos) t.true(allowed[from]?.includes(to), `${from}/ imports ${to}/, which the layout does not allow`);
  }
});

test('every product folder has an index.ts, and the package entry re-exports them', (t) => {
  const entry = readFileSync(join(src, 'index.ts'), 'utf8');
  for (const folder of ['pool', 'proxy', 'http', 'resource', 'probe', 'shared']) {
    t.notThrows(() => readFileSync(join(src, folder, 'index.ts')), `${folder}/index.ts`);
    t.true(entry.includes(`from './${folder}'`), `src/index.ts re-exports ./${folder}`);
  }
  t.notThrows(() => readFileSync(join(src, 'generic-pool', 'index.ts')), 'generic-pool/index.ts (its own entry)');
  t.notThrows(() => readFileSync(join(src, 'prometheus', 'index.ts')), 'prometheus/index.ts (its own entry)');
});
