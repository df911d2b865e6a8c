// Unix socket destinations ('unix:/absolute/path').
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './helpers/server.mjs';
import { createPool, useEcho, assertStatsConsistent, BerthError } from './helpers/pool.mjs';
import { roundTrip, waitFor } from './helpers/net.mjs';

test('a Unix socket destination is reused: 50 uses, one server connection', async (t) => {
  const server = await startServer(t, { unix: true });
  t.true(server.dest.startsWith('unix:/'));
  const pool = createPool(t);
  for (let i = 0; i < 50; i++) {
    const lease = await pool.acquire(server.dest);
    t.is(lease.reused, i > 0);
    t.is(lease.destination, server.dest);
    t.is((await roundTrip(lease.socket, `unix ${i}`)).toString(), `unix ${i}`);
    lease.release();
  }
  const s = await server.stats();
  t.is(s.accepted, 1);
  t.is(s.current, 1);
  assertStatsConsistent(t, pool.stats());
  t.like(pool.stats(), { created: 1, reused: 49 });
});

test('concurrent uses over a Unix socket respect maxPerDestination', async (t) => {
  const server = await startServer(t, { unix: true });
  const pool = createPool(t, { maxPerDestination: 3 });
  await Promise.all(Array.from({ length: 100 }, (_, i) => useEcho(t, pool, server.dest, `u${i}`)));
  t.true((await server.stats()).maxConcurrent <= 3);
});

test('a Unix socket connection closed by the server is not handed out', async (t) => {
  const server = await startServer(t, { unix: true });
  const pool = createPool(t);
  await useEcho(t, pool, server.dest, 'one');
  await server.control({ cmd: 'closeAll' });
  await useEcho(t, pool, server.dest, 'two');
  t.is((await server.stats()).accepted, 2);
});

test('a Unix socket path with no listener rejects with a connect error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dest = `unix:${path.join(dir, 'nobody.sock')}`;
  const pool = createPool(t);
  const err = await t.throwsAsync(pool.acquire(dest), { instanceOf: BerthError });
  t.true(['CONNECT_FAILED', 'CONNECT_REFUSED'].includes(err.code), `code ${err.code}`);
  t.is(err.destination, dest);
  t.like(pool.stats(), { open: 0, dialing: 0 });
});

test('closing the pool closes Unix socket connections', async (t) => {
  const server = await startServer(t, { unix: true });
  const pool = createPool(t);
  await Promise.all([1, 2, 3].map((i) => useEcho(t, pool, server.dest, `c${i}`)));
  await pool.close();
  await waitFor(async () => (await server.stats()).current === 0, { message: 'server sees the closes' });
});
