// The JS <-> engine contract, checked both ways: every code, event kind and default is
// declared once in the core (crates/berth-core/src/contract.rs, error.rs, the configs'
// Default impls) and exported by the binding (crates/berth-node/src/contract.rs); the facade
// must read them from there, know every one the engine can send, and say the same in its
// public types. A copy that drifts, or a code the facade does not know, fails here.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const binding = require('../native/index.js');
const facade = require('../dist/shared/native/index.js');
const { DEFAULTS } = require('../dist/pool/config.js');
const { RESOURCE_DEFAULTS } = require('../dist/resource/options.js');

const SCREAMING = /^[A-Z][A-Z0-9_]+$/;

/** The binding's exported constants (numbers named in capitals). */
const engineConstants = Object.entries(binding).filter(([name, value]) => SCREAMING.test(name) && typeof value === 'number');

/** Engine constants the facade does not read, and why that is safe. */
const ENGINE_ONLY = new Map([
  // resRelease / created answer it; the facade treats every negative placement other than
  // PLACED_IDLE / PLACED_CLOSE alike (the resource is destroyed, never stranded).
  ['NOT_BORROWED', 'handled as any other negative placement'],
  // Reasons the facade only passes through (evict events, stats); it never branches on them.
  ['EVICT_IDLE', 'passed through'],
  ['EVICT_LIFETIME', 'passed through'],
  ['EVICT_MAX_USES', 'passed through'],
]);

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The string members of a union type alias in a .d.ts. */
function unionMembers(dts, name) {
  const at = dts.indexOf(`type ${name} =`);
  if (at < 0) throw new Error(`no type ${name}`);
  // Up to the `;` that ends the alias (doc comments may hold semicolons of their own).
  const body = dts.slice(at, dts.indexOf("';", at) + 1);
  return new Set([...body.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]));
}

test('every engine constant is read by the facade, with the same value', (t) => {
  t.true(engineConstants.length >= 30, `the binding exports ${engineConstants.length} constants`);
  for (const [name, value] of engineConstants) {
    if (ENGINE_ONLY.has(name)) continue;
    t.is(facade[name], value, `${name}: the facade has ${facade[name]}, the engine ${value}`);
  }
});

test('the facade declares no code of its own', (t) => {
  const names = new Set(engineConstants.map(([name]) => name));
  // Every capitalised number the facade's native module exports comes from the engine ...
  for (const [name, value] of Object.entries(facade)) {
    if (SCREAMING.test(name) && typeof value === 'number') t.true(names.has(name), `${name} is not the engine's`);
  }
  // ... and no source file writes one of the engine's numbers down again.
  for (const file of sources(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bconst\s+([A-Z][A-Z0-9_]+)\s*(?::\s*number\s*)?=\s*-?\d/g)) {
      const name = m[1];
      const bare = name.replace(/^RES_/, '');
      t.false(names.has(name) || names.has(bare), `${relative(root, file)} declares ${name} itself`);
    }
  }
});

test('codes that share a number space stay apart', (t) => {
  const b = binding;
  // acquire: an id >= 0, a code, or BASE - id below every code.
  const pool = [b.QUEUED, b.QUEUE_FULL, b.UNKNOWN_DESTINATION, b.BAD_ARGUMENT];
  const resource = [b.QUEUED, b.QUEUE_FULL, b.CLOSED, b.BAD_ARGUMENT];
  for (const [codes, base] of [
    [pool, b.DEAD_BASE],
    [resource, b.EXPIRED_BASE],
  ]) {
    t.is(new Set(codes).size, codes.length);
    for (const code of codes) t.true(code < 0 && code > base, `${code} against base ${base}`);
  }
  // placements: a waiter id >= 0 or one of these.
  const placements = [b.PLACED_IDLE, b.PLACED_CLOSE, b.NOT_BORROWED];
  t.is(new Set(placements).size, placements.length);
  for (const code of placements) t.true(code < 0);
  t.is(b.KEY_BASE, 2 ** 32);
});

test('event kinds: distinct per engine, and every one handled by its pool', (t) => {
  const kinds = {
    'src/pool/pool.ts': [
      'EVENT_DIALED',
      'EVENT_DIAL_FAILED',
      'EVENT_EVICT',
      'EVENT_WAITER_TIMED_OUT',
      'EVENT_MEMBER_UP',
      'EVENT_MEMBER_DOWN',
      'EVENT_MEMBER_EJECTED',
      'EVENT_MEMBER_CHECK',
      // The Node-dialled path (Windows; BERTH_INTERNAL_NODE_DIAL=1 elsewhere).
      'EVENT_DIAL_ORDER',
    ],
    'src/resource/pool.ts': ['RES_EVENT_CREATE', 'RES_EVENT_EVICT', 'RES_EVENT_WAITER_TIMED_OUT'],
  };
  const all = Object.keys(binding).filter((name) => /^(RES_)?EVENT_/.test(name));
  t.deepEqual(all.sort(), Object.values(kinds).flat().sort(), 'the engine has exactly these event kinds');
  for (const [file, names] of Object.entries(kinds)) {
    const values = names.map((name) => binding[name]);
    t.is(new Set(values).size, values.length, `${file}: kinds ${values}`);
    const text = readFileSync(join(root, file), 'utf8');
    for (const name of names) t.regex(text, new RegExp(`case ${name}:`), `${file} handles ${name}`);
  }
});

test("every error code the engine reports, and every one the facade raises, is in BerthErrorCode", (t) => {
  const union = unionMembers(readFileSync(join(root, 'dist/shared/errors.d.ts'), 'utf8'), 'BerthErrorCode');
  const engine = binding.engineErrorCodes();
  t.true(engine.length >= 7);
  for (const code of engine) t.true(union.has(code), `the engine's ${code} is not a BerthErrorCode`);
  for (const file of sources(join(root, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/BerthError\(\s*'([A-Z_]+)'/g)) {
      t.true(union.has(m[1]), `${relative(root, file)} raises ${m[1]}, not a BerthErrorCode`);
    }
  }
});

test("the Pool's defaults are the engine's, and its documentation says so", (t) => {
  const engine = binding.poolDefaults();
  for (const [key, value] of Object.entries(engine)) {
    // nodeDial is the internal switch of the Node-dialled path, not a public option.
    if (key === 'addressPolicy' || key === 'nodeDial') continue;
    t.is(DEFAULTS[key], value, `DEFAULTS.${key}`);
  }
  // "Default N" in each option's doc comment (the public type is the documentation).
  const dts = readFileSync(join(root, 'dist/pool/config.d.ts'), 'utf8');
  let documented = 0;
  for (const m of dts.matchAll(/\/\*\*((?:[^*]|\*(?!\/))*)\*\/\s*(\w+)\?:/g)) {
    const said = /Default `?(Infinity|[\d_]+)`?/.exec(m[1].replace(/\s*\n\s*\*\s*/g, ' '));
    if (said === null || !(m[2] in engine)) continue;
    documented++;
    t.is(Number(said[1].replaceAll('_', '')), DEFAULTS[m[2]], `the doc comment of ${m[2]}`);
  }
  t.true(documented >= 10, `${documented} options document a numeric default`);
  t.true(/'lifo'`?, default/.test(dts), "order documents 'lifo' as its default");
  t.is(engine.order, 'lifo');
});

test("the ResourcePool's defaults are the engine's for every key the engine owns", (t) => {
  const engine = binding.resourceDefaults();
  const owned = ['min', 'max', 'acquireTimeout', 'idleTimeout', 'softIdleTimeout', 'maxLifetime', 'evictionInterval', 'testsPerEviction', 'maxWaiters', 'createBackoff'];
  for (const key of owned) t.is(RESOURCE_DEFAULTS[key], engine[key], `RESOURCE_DEFAULTS.${key}`);
  t.is(RESOURCE_DEFAULTS.order, engine.lifo ? 'lifo' : 'fifo');
});

test('stats shapes: PoolStats is the engine\'s type, and every figure crosses in milliseconds', (t) => {
  const facadeStats = readFileSync(join(root, 'dist/pool/stats.d.ts'), 'utf8');
  t.false(/interface LatencyQuantiles\b/.test(facadeStats), 'the facade re-declares LatencyQuantiles');
  // The facade's PoolStats is the engine's plus what JS counts itself (the connect steps):
  // it extends the engine's type and declares nothing else.
  const own = /interface PoolStats extends (\w+) \{([^}]*)\}/.exec(facadeStats);
  t.truthy(own, 'the facade PoolStats extends the engine type');
  t.deepEqual([...own[2].matchAll(/^\s*(\w+)\??:/gm)].map((m) => m[1]), ['connect'], 'the facade PoolStats adds only connect');
  const engineTypes = readFileSync(join(root, 'native/index.d.ts'), 'utf8');
  t.regex(engineTypes, /export interface PoolStats \{/);
  for (const name of ['PoolStats', 'LatencyQuantiles', 'PoolEvictions', 'ResourceEngineStats', 'ListenerStats']) {
    const at = engineTypes.indexOf(`export interface ${name} {`);
    t.true(at >= 0, `native/index.d.ts has ${name}`);
    const body = engineTypes.slice(at, engineTypes.indexOf('\n}', at));
    t.false(/\w+Us\??:/.test(body), `${name} has a figure in microseconds`);
  }
});

test('an order the engine does not know is a TypeError naming order (the facade checks first)', (t) => {
  const config = { ...binding.poolDefaults(), order: 'FIFO' };
  const error = t.throws(() => facade.createEngine(config, () => {}), { instanceOf: TypeError });
  t.regex(error.message, /^order must be 'lifo' or 'fifo', got "FIFO"/);
  // And the engine takes the two it knows.
  for (const order of ['lifo', 'fifo']) t.truthy(facade.createEngine({ ...config, order }, () => {}));
});
