// MongoDB (FerretDB) for the ResourcePool tests: a pool of MongoClients from the official
// driver, the connections this process holds to a server as the kernel lists them, and a
// FerretDB of a test's own that it can kill and restart.
//
// What the pool holds: one MongoClient per resource, with maxPoolSize 1. A MongoClient is a pool
// of its own; with maxPoolSize 1 it runs every operation on one connection, so one borrowed
// resource is one connection to the server (plus the driver's monitoring connection, which runs
// no operations), and the ResourcePool's limits, queue and validation are the ones that count.
import fs from 'node:fs';
import { MongoClient } from 'mongodb';
import { ResourcePool } from 'berth-pool';
import { runScript, parseExports } from './servers.mjs';
import { fdCount } from './net.mjs';

export { MongoClient };

/** Driver options for a pooled client; a server that went away fails an operation within ~5 s (1 s flaked on a loaded CI machine: a live FerretDB was not selected in time). */
export function clientOptions() {
  return { maxPoolSize: 1, serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000 };
}

/** Set on a client: how many operation connections (CMAP connectionCreated) it opened. */
export const OPENED = Symbol('opened');

/**
 * A ResourcePool of MongoClients, closed in t.teardown. create connects a client and runs a
 * ping (so its operation connection is open before anyone borrows it); validate pings;
 * destroy closes it.
 *
 * Returns { pool, clients, destroyed } where clients lists every client created, in order,
 * and destroyed the ones the pool destroyed.
 */
export function createMongoPool(t, url, options = {}) {
  const clients = [];
  const destroyed = [];
  const pool = new ResourcePool({
    create: async () => {
      const client = new MongoClient(url, clientOptions());
      client[OPENED] = 0;
      client.on('connectionCreated', () => { client[OPENED]++; });
      try {
        await client.connect();
        await client.db('admin').command({ ping: 1 });
      } catch (err) {
        await client.close().catch(() => {});
        throw err;
      }
      clients.push(client);
      return client;
    },
    destroy: async (client) => {
      destroyed.push(client);
      await client.close();
    },
    validate: async (client) => (await client.db('admin').command({ ping: 1 })).ok === 1,
    ...options,
  });
  t.teardown(() => pool.close());
  return { pool, clients, destroyed };
}

/**
 * The process's descriptor count once the driver and a ResourcePool have been used: the first
 * MongoClient and the first pool open descriptors the process keeps (the driver's and Node's
 * lazily started state, berth's process-wide runtime), so a baseline taken before them would
 * count those as a pool's leak.
 */
export async function fdBaseline(url) {
  const pool = new ResourcePool({
    create: async () => {
      const client = new MongoClient(url, clientOptions());
      await client.connect();
      return client;
    },
    destroy: (client) => client.close(),
  });
  await pool.use((client) => client.db('admin').command({ ping: 1 }));
  await pool.close();
  return fdCount();
}

/** The address of the client's operation connection as the server sees it (whatsmyuri). */
export async function peerAddress(client) {
  return (await client.db('admin').command({ whatsmyuri: 1 })).you;
}

/** The TCP port of a mongodb:// URL. */
export function portOf(url) {
  return Number(new URL(url).port);
}

/**
 * How many TCP connections this process has established to 127.0.0.1:`port`, as the kernel
 * lists them: the sockets among /proc/self/fd whose remote end is that port (/proc/net/tcp,
 * state 01 ESTABLISHED). Every socket counts, the driver's monitoring ones too. Linux only.
 */
export function connectionsTo(port) {
  const inodes = new Set();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let link;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed since the listing
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]);
  }
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const remotePort = parseInt(f[2].split(':')[1], 16);
      if (remotePort === port && f[3] === '01' && inodes.has(f[9])) n++;
    }
  }
  return n;
}

/**
 * A FerretDB of this test's own (scripts/test-servers.sh start mongo), stopped and removed in
 * t.teardown: { url, kill(), restart() }. kill() SIGKILLs it (its clients see their
 * connections drop); restart() starts it again on the same port with the same data.
 */
export async function ownFerret(t) {
  const vars = parseExports(await runScript(['start', 'mongo']));
  const dir = vars.BERTH_TEST_SERVERS_DIR;
  t.teardown(() => runScript(['stop', dir]));
  return {
    url: vars.BERTH_TEST_MONGO,
    kill() {
      const pid = Number(fs.readFileSync(`${dir}/mongo/ferretdb.pid`, 'utf8'));
      process.kill(pid, 'SIGKILL');
    },
    async restart() {
      return (await runScript(['restart', 'mongo', dir])).trim();
    },
  };
}
