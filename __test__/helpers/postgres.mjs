// PostgreSQL for the ResourcePool tests: a pool of `pg` clients, and a separate monitor
// connection that watches the pool's sessions from the server's side (pg_stat_activity) and
// kills backends (pg_terminate_backend).
import pg from 'pg';
import { ResourcePool } from 'berth-pool';
import { eventually, sampleMax, uniqueName } from './servers.mjs';

export { pg };

/** Set on a client once the driver reported its connection broken ('error' or 'end'). */
export const BROKEN = Symbol('broken');

/**
 * A ResourcePool of pg clients tagged with a fresh application_name, closed in t.teardown.
 * create connects a client and watches it: an 'error' or 'end' event marks it broken (and keeps
 * the event from crashing the process); validate says whether it is still whole.
 *
 * Returns { pool, appName, clients, destroyed } where clients lists every client created, in
 * order, and destroyed the ones the pool destroyed.
 */
export function createPgPool(t, url, options = {}) {
  const appName = uniqueName('berth-test');
  const clients = [];
  const destroyed = [];
  const pool = new ResourcePool({
    create: async () => {
      const client = new pg.Client({ connectionString: url, application_name: appName });
      client[BROKEN] = null;
      client.on('error', (err) => { client[BROKEN] ??= err; });
      client.on('end', () => { client[BROKEN] ??= new Error('connection ended'); });
      await client.connect();
      clients.push(client);
      return client;
    },
    destroy: async (client) => {
      destroyed.push(client);
      await client.end().catch(() => {}); // already broken: nothing left to close
    },
    validate: (client) => client[BROKEN] === null,
    ...options,
  });
  t.teardown(() => pool.close());
  return { pool, appName, clients, destroyed };
}

/** A plain pg client outside any pool (for watching and killing), ended in t.teardown. */
export async function connectMonitor(t, url) {
  const client = new pg.Client({ connectionString: url, application_name: uniqueName('berth-monitor') });
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.end().catch(() => {}));
  return client;
}

/**
 * Live sessions of `appName` as the server sees them, not counting the backends in `killed`
 * (pids we terminated: a terminated backend can stay listed for a moment after its client saw
 * the connection close, while the pool's replacement already connects).
 */
export async function countSessions(client, appName, killed = []) {
  const { rows } = await client.query(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND NOT (pid = ANY($2::int[]))',
    [appName, killed],
  );
  return rows[0].n;
}

/** The most sessions of `appName` seen until stop() (see sampleMax). */
export function sampleSessions(t, monitor, appName, killed = []) {
  return sampleMax(t, () => countSessions(monitor, appName, killed));
}

/** pg_terminate_backend(pid) once the backend runs a statement (state 'active'); returns true if it was killed. */
export async function terminateWhenActive(monitor, pid) {
  await eventually(async () => {
    const { rows } = await monitor.query('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
    return rows[0]?.state === 'active';
  }, `backend ${pid} to be running a statement`);
  const { rows } = await monitor.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
  return rows[0].ok;
}

/** pg_terminate_backend(pid); returns true if the server found and signalled it. */
export async function terminate(monitor, pid) {
  const { rows } = await monitor.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
  return rows[0].ok;
}

/** Waits (bounded) until the server lists no session of `appName`. */
export function noSessionsLeft(monitor, appName) {
  return eventually(async () => (await countSessions(monitor, appName)) === 0, `every ${appName} session to end`);
}
