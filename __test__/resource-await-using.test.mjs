// `await using` with a ResourcePool and its leases, on real PostgreSQL and Redis clients.
//
// Node 20 cannot parse `await using`, so each scenario is TypeScript source that uses the real
// syntax, compiled here with the repo's `typescript` (ts.transpileModule, target ES2022, which
// lowers it to TypeScript's __addDisposableResource / __disposeResources helpers over
// Symbol.asyncDispose) and run in a child process; its last stdout line is a JSON report.
import test0 from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import ts from 'typescript';
import { useServers, uniqueName } from './helpers/servers.mjs';
import { runNode, lastJsonLine } from './helpers/child.mjs';
import * as postgres from './helpers/postgres.mjs';
import * as redis from './helpers/redis.mjs';

const { test, urls } = useServers(test0, ['pg', 'redis']);

const require = createRequire(import.meta.url);
const BERTH = pathToFileURL(fileURLToPath(new URL('../dist/index.mjs', import.meta.url))).href;
const PG = pathToFileURL(require.resolve('pg')).href;
const IOREDIS = pathToFileURL(require.resolve('ioredis')).href;

/** Compile `source` (TypeScript, ESM) to a temporary .mjs, run it with `args`, return its JSON report. */
async function runTypeScript(t, source, args) {
  t.true(source.includes('await using'), 'the scenario uses `await using`');
  const { outputText, diagnostics } = ts.transpileModule(source, {
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
  });
  t.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'it compiles');
  t.false(/\bawait using\b/.test(outputText), 'TypeScript lowered `await using` for ES2022');
  t.true(outputText.includes('__disposeResources'), 'through its dispose helpers');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-await-using-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'scenario.mjs');
  fs.writeFileSync(file, outputText);
  const r = await runNode(t, file, args, { guardMs: 30_000 });
  t.false(r.hung, `the scenario did not finish on its own\nstderr:\n${r.stderr}`);
  t.is(r.code, 0, `the scenario exited 0\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const out = lastJsonLine(r.stdout);
  t.truthy(out, `the scenario printed its report\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return out ?? {};
}

// One lease released by the end of its block, one whose block throws, and the pool itself
// closed by the end of the outer block (which destroys every client).
const scenario = ({ imports, create, destroy, whoAmI, idOf }) => `
${imports}
import { ResourcePool } from '${BERTH}';

const [url, name] = process.argv.slice(2);
const out: Record<string, unknown> = {};
const destroyed: unknown[] = [];
let outer: ResourcePool<Client> | undefined;
{
  await using pool = new ResourcePool<Client>({
    max: 2,
    create: async (): Promise<Client> => { ${create} },
    destroy: async (client: Client): Promise<void> => { destroyed.push(${idOf('client')}); ${destroy} },
  });
  outer = pool;
  {
    await using lease = await pool.lease();
    out.first = await ${whoAmI('lease.resource')};
    out.borrowedInside = pool.borrowed;
  }
  out.borrowedAfter = pool.borrowed;
  out.availableAfter = pool.available;
  try {
    await using lease = await pool.lease();
    out.second = await ${whoAmI('lease.resource')};
    out.borrowedInsideThrowing = pool.borrowed;
    throw new Error('boom');
  } catch (err) {
    out.caught = (err as Error).message;
  }
  out.borrowedAfterThrow = pool.borrowed;
  out.sizeBeforeClose = pool.size;
}
out.sizeAfterClose = outer!.size;
out.destroyed = destroyed;
console.log(JSON.stringify(out));
`;

function assertScenario(t, out) {
  t.is(out.borrowedInside, 1, 'borrowed inside the block');
  t.is(out.borrowedAfter, 0, 'released at the end of the block');
  t.is(out.availableAfter, 1, 'released, not destroyed: idle in the pool');
  t.is(out.second, out.first, 'the second lease reused the released client');
  t.is(out.borrowedInsideThrowing, 1, 'borrowed inside the block that throws');
  t.is(out.caught, 'boom', 'the error thrown in the block came out of it');
  t.is(out.borrowedAfterThrow, 0, 'the lease of a block that threw was given back');
  t.is(out.sizeBeforeClose, 1, 'one client in the pool before it closed');
  t.is(out.sizeAfterClose, 0, 'the end of the pool\'s block closed it');
  t.deepEqual(out.destroyed, [out.first], 'closing destroyed the client');
}

test('await using: pg client leases and the pool', async (t) => {
  const name = uniqueName('berth-await-using');
  const out = await runTypeScript(t, scenario({
    imports: `import pg from '${PG}';\ntype Client = InstanceType<typeof pg.Client>;`,
    create: `const c = new pg.Client({ connectionString: url, application_name: name });
      c.on('error', () => {});
      await c.connect();
      return c;`,
    destroy: 'await client.end();',
    whoAmI: (c) => `${c}.query('SELECT pg_backend_pid() AS pid').then((r) => r.rows[0].pid)`,
    idOf: (c) => `${c}.processID`,
  }), [urls.pg, name]);
  assertScenario(t, out);
  t.true(Number.isInteger(out.first), 'a backend pid');
  const monitor = await postgres.connectMonitor(t, urls.pg);
  await postgres.noSessionsLeft(monitor, name);
  t.pass('no session left on the server');
});

test('await using: ioredis client leases and the pool', async (t) => {
  const name = uniqueName('berth-await-using');
  const out = await runTypeScript(t, scenario({
    imports: `import Redis from '${IOREDIS}';\ntype Client = InstanceType<typeof Redis>;`,
    create: `const c = new Redis(url, { connectionName: name, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
      c.on('error', () => {});
      await c.connect();
      (c as any).berthId = await c.client('ID');
      return c;`,
    destroy: 'await client.quit();',
    whoAmI: (c) => `${c}.client('ID')`,
    idOf: (c) => `(${c} as any).berthId`,
  }), [urls.redis, name]);
  assertScenario(t, out);
  t.true(Number.isInteger(out.first), 'a connection id');
  const monitor = await redis.connectMonitor(t, urls.redis);
  await redis.noSessionsLeft(monitor, name);
  t.pass('no connection left on the server');
});
