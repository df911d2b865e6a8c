// ResourcePool with real PostgreSQL: `pg` clients pooled under concurrent load, and backends
// killed from the server's side (pg_terminate_backend) while busy and while idle.
//
// The server comes from BERTH_TEST_PG (.ci/run), or is started for this file when PostgreSQL is
// installed (see helpers/servers.mjs). The pool's sessions are counted by the server
// (pg_stat_activity, by application_name), from a monitor connection outside the pool.
import anyTest from 'ava';
import { pooled } from 'berth-pool';
import { useServers, deferred, eventually, useAllAtOnce } from './helpers/servers.mjs';
import {
  pg, BROKEN, createPgPool, connectMonitor, countSessions, sampleSessions, terminate,
  terminateWhenActive, noSessionsLeft,
} from './helpers/postgres.mjs';

const { test, urls } = useServers(anyTest, ['pg']);

const MAX = 5;
const QUERIES = 50;
const range = (n) => Array.from({ length: n }, (_, i) => i);

test(`${QUERIES} concurrent queries through pooled() on max ${MAX}: all answer, the server never sees more than ${MAX} sessions`, async (t) => {
  const { pool, appName, clients } = createPgPool(t, urls.pg, { max: MAX });
  const monitor = await connectMonitor(t, urls.pg);
  const sampler = sampleSessions(t, monitor, appName);

  // Each query also counts, inside the server, the sessions of this pool at the moment it runs.
  const query = pooled(pool, async (client, n) => {
    const { rows } = await client.query(
      `SELECT $1::int AS n, pg_backend_pid() AS pid,
              (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $2) AS sessions
         FROM pg_sleep(0.01)`,
      [n, appName],
    );
    return rows[0];
  });
  const results = await Promise.all(range(QUERIES).map((n) => query(n)));
  const seen = await sampler.stop();

  t.deepEqual(results.map((r) => r.n), range(QUERIES), 'every query answered, with its own result');
  const inQuery = Math.max(...results.map((r) => r.sessions));
  t.true(inQuery <= MAX, `sessions seen from inside the queries: at most ${MAX} (got ${inQuery})`);
  t.true(seen.samples > 0, 'the monitor sampled during the run');
  t.true(seen.max <= MAX, `sessions seen by the monitor: at most ${MAX} (got ${seen.max} in ${seen.samples} samples)`);
  t.is(clients.length, MAX, `the pool opened ${MAX} clients for ${QUERIES} concurrent queries`);
  t.is(new Set(results.map((r) => r.pid)).size, MAX, `the queries ran on ${MAX} backends`);
  const s = pool.stats();
  t.is(s.created, MAX, 'stats.created');
  t.is(s.borrowed, 0, 'nothing borrowed once every query answered');
  t.is(s.available, MAX, `${MAX} clients idle`);
  t.is(await countSessions(monitor, appName), MAX, `${MAX} sessions on the server while the pool is open`);

  await pool.close();
  t.is(pool.size, 0, 'closed pool: size 0');
  await noSessionsLeft(monitor, appName);
  t.pass('every session ended after close()');
});

test('a backend killed while running a query: that query fails with the driver\'s error, no other is lost, the client is replaced', async (t) => {
  const { pool, appName, clients, destroyed } = createPgPool(t, urls.pg, { max: MAX });
  const monitor = await connectMonitor(t, urls.pg);
  const killed = [];
  // The monitor both samples and kills, over one connection: a sample is never in flight while
  // a kill is, so each sample excludes every backend killed before it.
  const sampler = sampleSessions(t, monitor, appName, killed);

  const VICTIM = 0;
  const victim = deferred();
  const killDone = deferred();
  const query = pooled(pool, async (client, n) => {
    if (n === VICTIM) {
      victim.resolve(client);
      await client.query('SELECT pg_sleep(60)');
      return { n, pid: client.processID };
    }
    // The others hold their clients until the kill is done, so that the rest wait in the
    // pool's queue when the victim's client fails: its replacement is made for them.
    await killDone.promise;
    const { rows } = await client.query('SELECT $1::int AS n, pg_backend_pid() AS pid FROM pg_sleep(0.005)', [n]);
    return rows[0];
  });
  const runs = range(QUERIES).map((n) => query(n).then((v) => ({ ok: true, v }), (err) => ({ ok: false, err })));

  const victimClient = await victim.promise;
  const victimPid = victimClient.processID;
  killed.push(victimPid);
  t.true(await terminateWhenActive(monitor, victimPid), 'pg_terminate_backend found the backend');
  killDone.resolve();
  const outcomes = await Promise.all(runs);
  const seen = await sampler.stop();

  const failed = outcomes.map((o, n) => (o.ok ? null : n)).filter((n) => n !== null);
  t.deepEqual(failed, [VICTIM], 'only the query on the killed backend failed');
  const err = outcomes[VICTIM].err;
  t.true(err instanceof pg.DatabaseError, `the driver's error (got ${err?.constructor?.name}: ${err?.message})`);
  t.is(err?.code, '57P01', 'SQLSTATE 57P01 admin_shutdown: terminating connection due to administrator command');
  for (const n of range(QUERIES)) {
    if (n === VICTIM) continue;
    t.is(outcomes[n].v?.n, n, `query ${n} answered`);
    if (outcomes[n].v?.pid === victimPid) t.fail(`query ${n} ran on the killed backend`);
  }

  await eventually(() => destroyed.includes(victimClient), 'the pool to destroy the client whose query threw');
  await eventually(() => victimClient[BROKEN] !== null, 'the driver to report the connection broken');
  t.true(seen.max <= MAX, `live sessions seen by the monitor: at most ${MAX} (got ${seen.max} in ${seen.samples} samples)`);

  // MAX queries at once again: the 4 survivors and one replacement serve them.
  const pids = await useAllAtOnce(pool, MAX, async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  t.is(new Set(pids).size, MAX, `${MAX} backends serve ${MAX} queries at once`);
  t.false(pids.includes(victimPid), 'none of them the killed backend');
  t.is(clients.length, MAX + 1, `one replacement client: ${MAX + 1} created in all`);
  t.is(pool.stats().created, MAX + 1, 'stats.created');
  t.is(await countSessions(monitor, appName, killed), MAX, `${MAX} live sessions`);

  await pool.close();
  await noSessionsLeft(monitor, appName);
  t.pass('every session ended after close()');
});

test('a backend killed while idle: the driver\'s error event marks it, validate on acquire discards it, a replacement serves', async (t) => {
  const { pool, appName, clients, destroyed } = createPgPool(t, urls.pg, { max: MAX, testOnAcquire: true });
  const monitor = await connectMonitor(t, urls.pg);

  // Open MAX clients and leave them idle.
  const warm = await Promise.all(range(MAX).map(() => pool.acquire()));
  for (const c of warm) pool.release(c);
  t.is(clients.length, MAX);
  t.is(pool.available, MAX);

  const victim = clients[2];
  const victimPid = victim.processID;
  const killed = [victimPid];
  t.true(await terminate(monitor, victimPid), 'pg_terminate_backend found the backend');
  await eventually(() => victim[BROKEN] !== null, 'the driver to report the killed connection');
  t.is(victim[BROKEN].code, '57P01', `the 'error' event carries the server's reason (got ${victim[BROKEN].message})`);

  const sampler = sampleSessions(t, monitor, appName, killed);
  const pids = await Promise.all(range(20).map((n) => pool.use(async (client) => {
    const { rows } = await client.query('SELECT $1::int AS n, pg_backend_pid() AS pid FROM pg_sleep(0.005)', [n]);
    t.is(rows[0].n, n);
    return rows[0].pid;
  })));
  const seen = await sampler.stop();

  t.false(pids.includes(victimPid), 'no query was handed the killed client');
  await eventually(() => destroyed.includes(victim), 'the pool to destroy the client that failed validation');
  t.is(pool.stats().validationFailures, 1, 'stats.validationFailures');
  t.true(seen.max <= MAX, `live sessions seen by the monitor: at most ${MAX} (got ${seen.max})`);

  // MAX queries at once: the 4 survivors and one replacement serve them.
  const atOnce = await useAllAtOnce(pool, MAX, async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  t.is(new Set(atOnce).size, MAX, `${MAX} backends serve ${MAX} queries at once`);
  t.false(atOnce.includes(victimPid), 'none of them the killed backend');
  t.is(clients.length, MAX + 1, `one replacement client: ${MAX + 1} created in all`);

  await pool.close();
  await noSessionsLeft(monitor, appName);
  t.pass('every session ended after close()');
});
