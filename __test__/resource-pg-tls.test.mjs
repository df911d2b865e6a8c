// ResourcePool with PostgreSQL over TLS: `pg` clients that verify the server's certificate
// against a private CA. The test cluster (scripts/test-servers.sh) accepts TLS with a server
// certificate for 127.0.0.1 and localhost signed by a CA made at its start (BERTH_TEST_PG_CA).
// The server itself says whether a session is encrypted (pg_stat_ssl); a wrong CA or a wrong
// host name fails the create, and the pool surfaces that as the acquire's CREATE_FAILED with
// Node's verification error as cause.
import anyTest from 'ava';
import fs from 'node:fs';
import { BerthError, ResourcePool } from 'berth-pool';
import { useServers, uniqueName } from './helpers/servers.mjs';
import { pg, createPgPool, connectMonitor, countSessions, noSessionsLeft } from './helpers/postgres.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';

const { test, urls } = useServers(anyTest, ['pg', 'pgCa']);

const MAX = 3;
const range = (n) => Array.from({ length: n }, (_, i) => i);

/** A pool of pg clients with `ssl`, whose creates are all recorded (and the 'createError's). */
function tlsPool(t, ssl, options = {}) {
  const appName = uniqueName('berth-tls');
  const createErrors = [];
  const pool = new ResourcePool({
    create: async () => {
      const client = new pg.Client({ connectionString: urls.pg, application_name: appName, ssl });
      client.on('error', () => {});
      await client.connect();
      return client;
    },
    destroy: (client) => client.end(),
    ...options,
  });
  pool.on('createError', (err) => createErrors.push(err));
  t.teardown(() => pool.close());
  return { pool, appName, createErrors };
}

test(`verified TLS (the cluster's CA, rejectUnauthorized): 20 queries on max ${MAX}, every session encrypted as the server sees it`, async (t) => {
  const ca = fs.readFileSync(urls.pgCa, 'utf8');
  const { pool, appName } = tlsPool(t, { ca, rejectUnauthorized: true }, { max: MAX });
  const monitor = await connectMonitor(t, urls.pg);

  const rows = await Promise.all(range(20).map((n) => pool.use(async (client) => {
    const { rows: [row] } = await client.query(
      'SELECT $1::int AS n, ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()', [n]);
    return row;
  })));
  t.deepEqual(rows.map((r) => r.n), range(20), 'every query answered');
  t.true(rows.every((r) => r.ssl === true), 'pg_stat_ssl.ssl is true for the backend of every query');
  t.log(`TLS versions: ${[...new Set(rows.map((r) => r.version))].join(', ')}`);

  // From outside the pool (a plaintext monitor): every session of the pool is a TLS one.
  const { rows: sessions } = await monitor.query(
    `SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = $1`,
    [appName]);
  t.is(sessions.length, MAX, `${MAX} sessions`);
  t.true(sessions.every((s) => s.ssl === true), 'all encrypted');
  const { rows: [plain] } = await monitor.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  t.false(plain.ssl, 'the cluster still takes plaintext connections (the monitor is one)');

  await pool.close();
  await noSessionsLeft(monitor, appName);
  t.pass('every session ended after close()');
});

test('a CA that did not sign the server\'s certificate: acquire rejects with CREATE_FAILED, Node\'s verification error as cause, nothing reaches a session', async (t) => {
  const { otherCa } = makeCerts();
  const { pool, appName, createErrors } = tlsPool(t, { ca: otherCa, rejectUnauthorized: true }, { max: MAX });
  const monitor = await connectMonitor(t, urls.pg);

  const err = await t.throwsAsync(pool.acquire(), { instanceOf: BerthError });
  t.is(err.code, 'CREATE_FAILED', `acquire rejects with CREATE_FAILED (got ${err.code})`);
  t.is(err.cause?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', `Node's error as cause (got ${err.cause?.code}: ${err.cause?.message})`);
  t.is(err.message, `create failed: ${err.cause.message}`, 'the message quotes it');
  t.is(createErrors.length, 1, "one 'createError' event");
  t.is(createErrors[0], err.cause, 'with the same error');

  // pool.use() surfaces it the same way, each time (a create per acquire, nothing cached).
  await t.throwsAsync(pool.use(() => t.fail('never called')), { instanceOf: BerthError, code: 'CREATE_FAILED' });
  const s = pool.stats();
  t.is(s.createFailures, 2, 'stats.createFailures');
  t.is(s.size, 0, 'nothing in the pool');
  t.is(await countSessions(monitor, appName), 0, 'no session of this pool on the server');
});

test('the right CA but a host name the certificate does not name: CREATE_FAILED with ERR_TLS_CERT_ALTNAME_INVALID', async (t) => {
  const ca = fs.readFileSync(urls.pgCa, 'utf8');
  const { pool } = tlsPool(t, { ca, rejectUnauthorized: true, servername: 'db.example.test' });
  const err = await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'CREATE_FAILED' });
  t.is(err.cause?.code, 'ERR_TLS_CERT_ALTNAME_INVALID', `host name checked (got ${err.cause?.code}: ${err.cause?.message})`);
});

test('sessions of the TLS pool and of a plaintext pool on one cluster: each pool keeps its own kind', async (t) => {
  const ca = fs.readFileSync(urls.pgCa, 'utf8');
  const secure = tlsPool(t, { ca, rejectUnauthorized: true }, { max: 2 });
  const plain = createPgPool(t, urls.pg, { max: 2 });
  const sslOf = (client) => client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()').then((r) => r.rows[0].ssl);
  const [a, b] = await Promise.all([
    Promise.all(range(6).map(() => secure.pool.use(sslOf))),
    Promise.all(range(6).map(() => plain.pool.use(sslOf))),
  ]);
  t.deepEqual(a, range(6).map(() => true), 'TLS pool: encrypted');
  t.deepEqual(b, range(6).map(() => false), 'plaintext pool: not');
});
