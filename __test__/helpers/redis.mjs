// Redis for the ResourcePool tests: a pool of ioredis clients, and a separate monitor
// connection that watches the pool's sessions from the server's side (CLIENT LIST, by client
// name) and kills them (CLIENT KILL ID).
import Redis from 'ioredis';
import { ResourcePool } from 'berth-pool';
import { eventually, sampleMax, uniqueName } from './servers.mjs';

export { Redis };

/** Set on a client once the driver reported its connection broken ('error' or 'end'). */
export const BROKEN = Symbol('broken');
/** The server's id of a client's connection (CLIENT ID), for CLIENT KILL ID. */
export const ID = Symbol('client id');

/**
 * Options for a pooled client: the pool, not the driver, replaces a broken connection, so the
 * driver neither reconnects nor queues commands while disconnected.
 */
export function clientOptions(name) {
  return {
    connectionName: name,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  };
}

/**
 * A ResourcePool of ioredis clients named with a fresh CLIENT SETNAME, closed in t.teardown.
 * create connects a client and watches it: an 'error' or 'end' event marks it broken;
 * validate says whether it is still whole.
 *
 * Returns { pool, name, clients, destroyed } where clients lists every client created, in order,
 * and destroyed the ones the pool destroyed.
 */
export function createRedisPool(t, url, options = {}) {
  const name = uniqueName('berth-test');
  const clients = [];
  const destroyed = [];
  const pool = new ResourcePool({
    create: async () => {
      const client = new Redis(url, clientOptions(name));
      client[BROKEN] = null;
      client.on('error', (err) => { client[BROKEN] ??= err; });
      client.on('end', () => { client[BROKEN] ??= new Error('connection ended'); });
      await client.connect();
      client[ID] = await client.client('ID');
      clients.push(client);
      return client;
    },
    destroy: async (client) => {
      destroyed.push(client);
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
    validate: (client) => client[BROKEN] === null && client.status === 'ready',
    ...options,
  });
  t.teardown(() => pool.close());
  return { pool, name, clients, destroyed };
}

/** A plain client outside any pool (for watching and killing), closed in t.teardown. */
export async function connectMonitor(t, url) {
  const client = new Redis(url, clientOptions(uniqueName('berth-monitor')));
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.disconnect());
  return client;
}

/** CLIENT LIST as [{ id, name, cmd, flags, ... }]. */
export async function clientList(client) {
  const text = await client.client('LIST');
  return text.split('\n').filter(Boolean).map((line) =>
    Object.fromEntries(line.trim().split(' ').map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 1)];
    })));
}

/** Connections named `name` that the server lists, not counting the ids in `killed`. */
export async function countSessions(client, name, killed = []) {
  const skip = new Set(killed.map(String));
  return (await clientList(client)).filter((c) => c.name === name && !skip.has(c.id)).length;
}

/** The most sessions of `name` seen until stop() (see sampleMax). */
export function sampleSessions(t, monitor, name, killed = []) {
  return sampleMax(t, () => countSessions(monitor, name, killed));
}

/** CLIENT KILL ID id; returns the number of connections killed (1 or 0). */
export function kill(monitor, id) {
  return monitor.client('KILL', 'ID', String(id));
}

/** CLIENT KILL ID id once that connection is blocked in a command (flag b); returns the count killed. */
export async function killWhenBlocked(monitor, id) {
  await eventually(async () => {
    const c = (await clientList(monitor)).find((x) => x.id === String(id));
    return c?.flags.includes('b');
  }, `client ${id} to block in a command`);
  return kill(monitor, id);
}

/** Waits (bounded) until the server lists no connection named `name`. */
export function noSessionsLeft(monitor, name) {
  return eventually(async () => (await countSessions(monitor, name)) === 0, `every ${name} connection to close`);
}
