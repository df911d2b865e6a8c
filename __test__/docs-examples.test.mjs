// Every code example in README.md and docs/ runs as written, so an example that drifts from the
// API fails CI.
//
// The convention (docs/README.md, "About the examples"):
// - Fenced blocks tagged `js`, `mjs` or `ts` are examples. Each runs on its own as an ES module
//   in a fresh `node` process, from a file inside this repository, so `import ... from
//   'berth-pool'` resolves to the repository itself (the package's self-reference, dist/).
//   `ts` blocks are transpiled with typescript.transpileModule first (Node 20 strips no types;
//   `await using` is lowered, so it runs on Node 20 too), and type-checked, strict, against the
//   published declarations.
// - Upstreams come from the environment, each with a default in the block:
//   ECHO_ADDR (a TCP echo server), HTTP_ADDR (an HTTP server answering 200 "ok"), HTTP_SOCKET
//   (the same on a Unix socket), UDP_ADDR (a UDP echo server), CLOSED_ADDR (a port nothing
//   listens on), TLS_ECHO_ADDR (a TLS echo server) and HTTPS_ADDR (an HTTPS server answering
//   200 "ok"), both with a certificate for 127.0.0.1/localhost from a private CA whose PEM file
//   is TLS_CA_FILE, and for blocks marked `<!-- needs: redis -->` / `<!-- needs: pg -->` /
//   `<!-- needs: mongo -->`, REDIS_URL / DATABASE_URL / MONGO_URL (real servers:
//   BERTH_TEST_REDIS / BERTH_TEST_PG / BERTH_TEST_MONGO, as .ci/run sets, or started here when
//   the binaries are installed; else those blocks are skipped, with the reason);
//   `<!-- needs: pg-tls -->` adds PGSSLROOTCERT, the CA file of that PostgreSQL's TLS
//   certificate (BERTH_TEST_PG_CA).
// - A block must exit by itself (close its pools, servers and agents) with status 0 within
//   BLOCK_TIMEOUT_MS; it is killed and fails otherwise.
// - A block that cannot run (a fragment, a Node >= 24 `await using` in plain JS, ...) is
//   preceded by `<!-- not-run: reason -->`: it is listed here as a skipped test with its reason.
//   Other languages (sh, text, ...) are not examples.
import anyTest from 'ava';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { useServers } from './helpers/servers.mjs';
import { ROOT, pages, blocks } from './helpers/docs.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';

const RUN_DIR = path.join(ROOT, '.docs-examples');
const BLOCK_TIMEOUT_MS = 30_000;
const PARALLEL = 3;
const RUN_LANGS = new Set(['js', 'mjs', 'ts']);

const all = pages().flatMap(blocks).filter((b) => RUN_LANGS.has(b.lang));
const title = (b) => `${b.page}:${b.line} (${b.lang})`;

// What each `needs:` asks of helpers/servers.mjs, by server: its kinds there, and the variables
// a block sees.
const NEEDS = {
  pg: { server: 'pg', kinds: ['pg'], env: { DATABASE_URL: 'pg' } },
  'pg-tls': { server: 'pg', kinds: ['pg', 'pgCa'], env: { DATABASE_URL: 'pg', PGSSLROOTCERT: 'pgCa' } },
  redis: { server: 'redis', kinds: ['redis'], env: { REDIS_URL: 'redis' } },
  mongo: { server: 'mongo', kinds: ['mongo'], env: { MONGO_URL: 'mongo' } },
};

// Real servers for the blocks that need them, one useServers per server (a block needing a
// server that cannot be had is skipped with the reason outside CI; see helpers/servers.mjs).
// Declared first: their before hooks start them.
const wanted = new Set(all.filter((b) => b.notRun === undefined).flatMap((b) => b.needs).filter((n) => NEEDS[n]));
const servers = {};
for (const server of new Set([...wanted].map((n) => NEEDS[n].server))) {
  const kinds = [...new Set([...wanted].filter((n) => NEEDS[n].server === server).flatMap((n) => NEEDS[n].kinds))];
  servers[server] = useServers(anyTest, kinds);
}
const test = anyTest;
/** ava's test for a block: test.skip when one of the servers it needs cannot be had. */
const testFor = (b) => (b.needs.some((n) => NEEDS[n] && servers[NEEDS[n].server].test === anyTest.skip) ? anyTest.skip : test);

// ------------------------------------------------------------------ fixtures

const fixtures = {};
const closers = [];

test.before(async () => {
  fs.rmSync(RUN_DIR, { recursive: true, force: true });
  fs.mkdirSync(RUN_DIR, { recursive: true });

  const listen = (server, ...args) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(...args, () => resolve(server));
    });
  const track = (server) => {
    const sockets = new Set();
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    closers.push(() => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }));
    return server;
  };

  const echo = track(net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  }));
  await listen(echo, { port: 0, host: '127.0.0.1', backlog: 1024 });
  fixtures.ECHO_ADDR = `127.0.0.1:${echo.address().port}`;

  const answer = (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'));
  };
  const web = track(http.createServer(answer));
  await listen(web, { port: 0, host: '127.0.0.1', backlog: 1024 });
  fixtures.HTTP_ADDR = `127.0.0.1:${web.address().port}`;

  const certs = makeCerts();
  fixtures.TLS_CA_FILE = certs.caPath;
  const secure = { key: certs.server.key, cert: certs.server.cert };
  const tlsEcho = track(tls.createServer(secure, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  }));
  await listen(tlsEcho, { port: 0, host: '127.0.0.1', backlog: 1024 });
  fixtures.TLS_ECHO_ADDR = `127.0.0.1:${tlsEcho.address().port}`;
  const webTls = track(https.createServer(secure, answer));
  await listen(webTls, { port: 0, host: '127.0.0.1', backlog: 1024 });
  fixtures.HTTPS_ADDR = `127.0.0.1:${webTls.address().port}`;

  const sockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-docs-'));
  const webUnix = track(http.createServer(answer));
  fixtures.HTTP_SOCKET = path.join(sockDir, 'http.sock');
  await listen(webUnix, fixtures.HTTP_SOCKET);
  closers.push(() => fs.rmSync(sockDir, { recursive: true, force: true }));

  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
  fixtures.UDP_ADDR = `127.0.0.1:${udp.address().port}`;
  closers.push(() => new Promise((resolve) => udp.close(resolve)));

  // A port nothing listens on: bound once to pick it, then closed.
  const picker = net.createServer();
  await listen(picker, 0, '127.0.0.1');
  fixtures.CLOSED_ADDR = `127.0.0.1:${picker.address().port}`;
  await new Promise((resolve) => picker.close(resolve));
});

test.after.always(async () => {
  for (const close of closers.reverse()) await close();
  fs.rmSync(RUN_DIR, { recursive: true, force: true });
});

// ------------------------------------------------------------------ running a block

let running = 0;
const queue = [];
async function slot(fn) {
  if (running >= PARALLEL) await new Promise((resolve) => queue.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    queue.shift()?.();
  }
}

function source(b) {
  if (b.lang !== 'ts') return b.code;
  const out = ts.transpileModule(b.code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, lib: ['esnext'] },
    reportDiagnostics: true,
    fileName: 'example.ts',
  });
  const errors = (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (errors.length) throw new Error(`${title(b)}: TypeScript: ${errors.join('; ')}`);
  return out.outputText;
}

function run(b) {
  const file = path.join(RUN_DIR, `${b.page.replace(/[^\w]+/g, '_')}_${b.line}.mjs`);
  fs.writeFileSync(file, source(b));
  const env = { ...process.env, ...fixtures };
  for (const need of b.needs) {
    for (const [name, kind] of Object.entries(NEEDS[need]?.env ?? {})) {
      const value = servers[NEEDS[need].server].urls[kind];
      if (value) env[name] = value;
    }
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { output += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { output += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      output += `\n[docs-examples: killed, the block did not exit by itself within ${BLOCK_TIMEOUT_MS} ms]`;
    }, BLOCK_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

// ------------------------------------------------------------------ the tests

for (const b of all) {
  if (b.notRun !== undefined) {
    test.skip(`${title(b)} not-run: ${b.notRun}`, () => {});
    continue;
  }
  testFor(b)(`${title(b)} runs${b.needs.length ? ` (needs ${b.needs.join(', ')})` : ''}`, async (t) => {
    for (const need of b.needs) t.true(need in NEEDS, `unknown needs: ${need} (one of ${Object.keys(NEEDS).join(', ')})`);
    const { code, signal, output } = await slot(() => run(b));
    if (process.env.DOCS_EXAMPLES_VERBOSE) t.log(output);
    t.is(code, 0, `${title(b)} exited with ${code ?? signal}:\n${output}`);
  });
}

// `ts` blocks are also type-checked, strict, against the published declarations (dist/*.d.ts,
// through the package's "exports", as a user's project compiles them): transpiling alone would
// run an example whose types no longer match the API.
test('ts examples type-check against the published declarations', (t) => {
  const tsBlocks = all.filter((b) => b.lang === 'ts' && b.notRun === undefined);
  if (tsBlocks.length === 0) return t.pass();
  const dir = path.join(RUN_DIR, 'typecheck');
  fs.mkdirSync(dir, { recursive: true });
  const files = tsBlocks.map((b) => {
    // .mts: an ES module (top-level await), whatever package.json says.
    const file = path.join(dir, `${b.page.replace(/[^\w]+/g, '_')}_${b.line}.mts`);
    fs.writeFileSync(file, b.code);
    return { file, b };
  });
  const program = ts.createProgram(files.map((f) => f.file), {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = files.find((f) => f.file === d.file?.fileName);
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
    const at = where ? `${where.b.page}:${where.b.line + 1 + line}` : (d.file?.fileName ?? '?');
    return `${at}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  t.deepEqual(problems, [], problems.join('\n'));
});

test('every example is run or marked not-run with a reason', (t) => {
  const run = all.filter((b) => b.notRun === undefined);
  const skipped = all.filter((b) => b.notRun !== undefined);
  for (const b of skipped) t.true(b.notRun.length > 0, `${title(b)}: <!-- not-run: --> needs a reason`);
  t.log(`${all.length} examples: ${run.length} run, ${skipped.length} marked not-run`);
  for (const b of skipped) t.log(`  not run: ${title(b)}: ${b.notRun}`);
  t.true(run.length > 0);
});
