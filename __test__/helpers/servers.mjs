// Real PostgreSQL, Redis and MongoDB-protocol (FerretDB) servers for the tests that need them.
//
// Where a server comes from, in order:
//   1. the environment: BERTH_TEST_PG=postgres://user@host:port/db (and BERTH_TEST_PG_CA, the
//      CA file of its TLS certificate, for the TLS tests), BERTH_TEST_REDIS=redis://host:port,
//      BERTH_TEST_MONGO=mongodb://host:port/ (.ci/run starts them all with
//      scripts/test-servers.sh and exports these);
//   2. else, when the binaries are on this machine, scripts/test-servers.sh starts one for the
//      test file (127.0.0.1, a free port, files in a temporary directory) before its tests and
//      stops it after them;
//   3. else the file's tests fail with the reason under CI (CI=true), and are skipped with the
//      reason printed anywhere else.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/test-servers.sh', import.meta.url));
// What a test file can ask for: the variable that gives it, and the server kind of
// scripts/test-servers.sh that provides it. `pgCa` (the CA file of the cluster's TLS
// certificate) comes with `pg`: a PostgreSQL from BERTH_TEST_PG without BERTH_TEST_PG_CA (a
// server of your own) does not serve the TLS tests, so those start one of their own.
const KINDS = {
  pg: { env: 'BERTH_TEST_PG', name: 'PostgreSQL', server: 'pg' },
  pgCa: { env: 'BERTH_TEST_PG_CA', name: 'PostgreSQL over TLS', server: 'pg' },
  redis: { env: 'BERTH_TEST_REDIS', name: 'Redis', server: 'redis' },
  mongo: { env: 'BERTH_TEST_MONGO', name: 'MongoDB (FerretDB)', server: 'mongo' },
};

const inCI = () => Boolean(process.env.CI) && !['false', '0'].includes(process.env.CI.toLowerCase());

/** Why scripts/test-servers.sh cannot start `kind` here, or null if it can. */
function unavailableReason(kind) {
  const r = spawnSync('bash', [SCRIPT, 'available', kind], { encoding: 'utf8' });
  if (r.error) return `cannot run ${SCRIPT}: ${r.error.message}`;
  return r.status === 0 ? null : (r.stdout.trim() || r.stderr.trim() || `exit code ${r.status}`);
}

/** Runs scripts/test-servers.sh with `args`; resolves with its stdout, rejects with its stderr. */
export function runScript(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`scripts/test-servers.sh ${args.join(' ')} exited with ${code}:\n${stderr}`));
    });
  });
}

/** The `export NAME=value` lines of scripts/test-servers.sh start, as an object. */
export function parseExports(out) {
  return Object.fromEntries([...out.matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
}

/**
 * Declares that this test file needs the servers `kinds` (some of 'pg', 'pgCa', 'redis',
 * 'mongo'). Call it at the top of the file, before declaring tests; it decides now whether the
 * tests can run.
 *
 * Returns { test, urls }: `test` is ava's test to declare the file's tests with (test.skip when
 * the servers cannot be had outside CI), and `urls` ({ pg, pgCa, redis, mongo }) is filled in
 * by the time the tests run.
 */
export function useServers(test, kinds) {
  const urls = {};
  const toStart = []; // server kinds of scripts/test-servers.sh
  const missing = [];
  for (const server of new Set(kinds.map((kind) => KINDS[kind].server))) {
    const wanted = kinds.filter((kind) => KINDS[kind].server === server);
    // From the environment only if it gives all that is wanted of this server: the URL and
    // the CA of one cluster, never of two.
    if (wanted.every((kind) => process.env[KINDS[kind].env])) {
      for (const kind of wanted) urls[kind] = process.env[KINDS[kind].env];
      continue;
    }
    const reason = unavailableReason(server);
    const unset = wanted.filter((kind) => !process.env[KINDS[kind].env]).map((kind) => KINDS[kind].env).join(', ');
    if (reason) missing.push(`${wanted.map((kind) => KINDS[kind].name).join(', ')}: ${unset} not set, and ${reason}`);
    else toStart.push(server);
  }

  if (missing.length) {
    const why = `these tests need real servers: ${missing.join('; ')}`;
    if (inCI()) {
      test.before(() => {
        throw new Error(`${why} (.ci/run installs and starts them)`);
      });
      return { test, urls };
    }
    console.log(`skipped: ${why}`);
    return { test: test.skip, urls };
  }

  if (toStart.length) {
    let dir = null;
    test.before(async () => {
      // --owner: should this process die without the after hook, the servers stop anyway.
      const out = await runScript(['start', ...toStart, '--owner', String(process.pid)]);
      const vars = parseExports(out);
      dir = vars.BERTH_TEST_SERVERS_DIR ?? null;
      for (const kind of kinds.filter((k) => toStart.includes(KINDS[k].server))) {
        urls[kind] = vars[KINDS[kind].env];
        if (!urls[kind]) throw new Error(`scripts/test-servers.sh start printed no ${KINDS[kind].env}:\n${out}`);
      }
    });
    test.after.always(async () => {
      if (dir) await runScript(['stop', dir]);
    });
  }
  return { test, urls };
}

/**
 * Polls `probe` (sync or async) until it returns a truthy value, which is returned. Gives up
 * with an Error naming `what` after `ms` (a hang guard, not a timing assertion).
 */
export async function eventually(probe, what, { ms = 10_000, every = 10 } = {}) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A promise with its resolve function: { promise, resolve }. */
export function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

/** A name unique to this process and call, for application_name / CLIENT SETNAME. */
let seq = 0;
export function uniqueName(prefix) {
  return `${prefix}-${process.pid}-${++seq}`;
}

/**
 * Borrows `n` resources from `pool` at once (pool.use, each held until all `n` are borrowed) and
 * returns what `fn(resource)` gave for each. With n = the pool's max this needs max resources
 * alive at the same moment, whatever the pool did before.
 */
export async function useAllAtOnce(pool, n, fn) {
  const all = deferred();
  let borrowed = 0;
  return Promise.all(Array.from({ length: n }, () => pool.use(async (resource) => {
    if (++borrowed === n) all.resolve();
    await all.promise;
    return fn(resource);
  })));
}

/**
 * Samples `count()` back to back until stop() is called (at the latest in t.teardown): the
 * most sessions a server showed during a run. stop() resolves to { max, samples }, or rejects
 * if a sample failed.
 */
export function sampleMax(t, count) {
  let running = true;
  let max = 0;
  let samples = 0;
  const loop = (async () => {
    while (running) {
      const n = await count();
      samples++;
      if (n > max) max = n;
      await new Promise((r) => setTimeout(r, 1)); // ~1000 samples/s: enough, and leaves CPU to the run
    }
  })();
  loop.catch(() => {}); // reported by stop(); a test that failed before stop() ends it in teardown
  const stop = async () => {
    running = false;
    await loop;
    return { max, samples };
  };
  t.teardown(() => stop().catch(() => {}));
  return { stop };
}
