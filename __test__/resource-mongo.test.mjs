// ResourcePool with MongoDB (the official `mongodb` driver against FerretDB, which speaks the
// MongoDB wire protocol): MongoClients pooled under concurrent load, a client closed underneath
// the pool, the server killed and restarted under idle clients, drain with operations in flight.
//
// The server comes from BERTH_TEST_MONGO (.ci/run), or is started for this file when FerretDB
// is built (scripts/test-servers.sh build mongo; see helpers/servers.mjs). The kill/restart test
// runs a FerretDB of its own. Connections are counted by the kernel (this process's sockets to
// the server's port, helpers/mongo.mjs), so the tests run one at a time.
import anyTest from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BerthError, pooled } from 'berth-pool';
import { MongoServerSelectionError, MongoNotConnectedError } from 'mongodb';
import { useServers, deferred, eventually, sampleMax, useAllAtOnce } from './helpers/servers.mjs';
import { fdCount } from './helpers/net.mjs';
import {
  OPENED, createMongoPool, fdBaseline, peerAddress, portOf, connectionsTo, ownFerret,
} from './helpers/mongo.mjs';

const { test: serverTest, urls } = useServers(anyTest, ['mongo']);
// One at a time (they count this process's sockets); skipped all together without a server.
const test = serverTest === anyTest.skip ? anyTest.skip : anyTest.serial;

const MAX = 5;
const OPS = 50;
const range = (n) => Array.from({ length: n }, (_, i) => i);
let seq = 0;
const collectionName = () => `berth_${process.pid}_${++seq}`;

// A FerretDB of the test's own (to kill) needs the binary here, whatever BERTH_TEST_MONGO is.
const script = fileURLToPath(new URL('../scripts/test-servers.sh', import.meta.url));
const ferretBuilt = spawnSync('bash', [script, 'available', 'mongo']).status === 0;

test(`${OPS} concurrent insert-and-find calls through pooled() on max ${MAX}: all answer, ${MAX} connections run them, none is left after close()`, async (t) => {
  const port = portOf(urls.mongo);
  const fdsBefore = await fdBaseline(urls.mongo);
  const { pool, clients } = createMongoPool(t, urls.mongo, { max: MAX });
  const name = collectionName();
  const sampler = sampleMax(t, () => connectionsTo(port));

  const call = pooled(pool, async (client, n) => {
    const docs = client.db('berth').collection(name);
    const { insertedId } = await docs.insertOne({ n, at: new Date() });
    const found = await docs.findOne({ _id: insertedId });
    return { n: found?.n, client, peer: await peerAddress(client) };
  });
  const results = await Promise.all(range(OPS).map((n) => call(n)));
  const seen = await sampler.stop();

  t.deepEqual(results.map((r) => r.n), range(OPS), 'every call found the document it inserted');
  t.is(clients.length, MAX, `the pool made ${MAX} clients for ${OPS} concurrent calls`);
  t.is(new Set(results.map((r) => r.client)).size, MAX, `the calls ran on ${MAX} clients`);
  t.is(new Set(results.map((r) => r.peer)).size, MAX, `the server saw the calls on ${MAX} connections (whatsmyuri)`);
  t.deepEqual(clients.map((c) => c[OPENED]), clients.map(() => 1), 'each client opened one operation connection (maxPoolSize 1)');
  // Each client: its operation connection and the driver's monitoring connection.
  t.true(seen.samples > 0, 'sampled during the run');
  t.true(seen.max <= 2 * MAX, `sockets to the server: at most ${2 * MAX} (got ${seen.max} in ${seen.samples} samples)`);

  const count = await pool.use((client) => client.db('berth').collection(name).countDocuments());
  t.is(count, OPS, `${OPS} documents stored`);
  await pool.use((client) => client.db('berth').collection(name).drop());
  const s = pool.stats();
  t.is(s.created, MAX, 'stats.created');
  t.is(s.borrowed, 0, 'nothing borrowed');

  await pool.close();
  t.is(pool.size, 0, 'closed pool: size 0');
  t.is(connectionsTo(port), 0, 'no socket to the server once close() resolved');
  await eventually(() => fdCount() <= fdsBefore, `the descriptor count back to ${fdsBefore} (now ${fdCount()})`);
  t.pass('no descriptor left');
});

test('a client closed underneath the pool: validate on acquire discards it (the driver refuses a closed client), a replacement serves', async (t) => {
  const { pool, clients, destroyed } = createMongoPool(t, urls.mongo, { max: 3, testOnAcquire: true });
  const failures = [];
  pool.on('validateError', (err) => failures.push(err));
  const warm = await Promise.all(range(3).map(() => pool.acquire()));
  for (const c of warm) pool.release(c);

  const victim = clients[1];
  await victim.close(); // someone else's code closed a pooled client
  await t.throwsAsync(victim.db('admin').command({ ping: 1 }), { instanceOf: MongoNotConnectedError },
    'the driver refuses operations on a closed client (it does not reopen it)');

  const used = await Promise.all(range(12).map((n) => pool.use(async (client) => {
    const r = await client.db('admin').command({ ping: 1 });
    t.is(r.ok, 1, `call ${n}`);
    return client;
  })));
  t.false(used.includes(victim), 'no call was handed the closed client');
  await eventually(() => destroyed.includes(victim), 'the pool to destroy the client that failed validation');
  t.is(pool.stats().validationFailures, 1, 'stats.validationFailures');
  t.true(failures[0] instanceof MongoNotConnectedError, `'validateError' carries the driver's error (got ${failures[0]?.name})`);

  const atOnce = await useAllAtOnce(pool, 3, (client) => client);
  t.is(new Set(atOnce).size, 3, '3 clients serve 3 calls at once');
  t.false(atOnce.includes(victim), 'none of them the closed one');
  t.is(clients.length, 4, 'one replacement: 4 created in all');
});

(ferretBuilt ? test : anyTest.skip)('the server killed under idle clients: validate drops every one, acquire fails with CREATE_FAILED and the driver\'s cause; after a restart fresh clients serve, the data intact', async (t) => {
  const server = await ownFerret(t);
  const port = portOf(server.url);
  const { pool, clients, destroyed } = createMongoPool(t, server.url, { max: 3, testOnAcquire: true });
  const name = collectionName();

  const warm = await Promise.all(range(3).map(() => pool.acquire()));
  await warm[0].db('berth').collection(name).insertOne({ _id: 'kept', v: 1 });
  for (const c of warm) pool.release(c);
  t.is(connectionsTo(port), 6, '3 idle clients: an operation and a monitoring connection each');

  server.kill();
  await eventually(() => connectionsTo(port) === 0, 'the clients to see their connections dropped');

  const err = await t.throwsAsync(pool.acquire(), { instanceOf: BerthError });
  t.is(err.code, 'CREATE_FAILED', `acquire rejects with CREATE_FAILED (got ${err.code}: ${err.message})`);
  t.true(err.cause instanceof MongoServerSelectionError, `the driver's error as cause (got ${err.cause?.name})`);
  t.regex(err.message, /ECONNREFUSED/, 'the message says why');
  t.is(pool.stats().validationFailures, 3, 'the 3 idle clients failed validation');
  t.true(destroyed.length === 3 && clients.every((c) => destroyed.includes(c)), 'and were destroyed');
  t.is(pool.size, 0, 'nothing left in the pool');

  t.is(await server.restart(), server.url, 'restarted on the same port');
  const doc = await pool.use((client) => client.db('berth').collection(name).findOne({ _id: 'kept' }));
  t.deepEqual(doc, { _id: 'kept', v: 1 }, 'a fresh client reads what was written before the kill');
  t.is(clients.length, 4, 'one new client');
  t.false(destroyed.includes(clients[3]), 'the new client is alive');

  await pool.close();
  t.is(connectionsTo(port), 0, 'no socket to the server once close() resolved');
});

test('drain() with calls in flight and queued: each finishes, no new acquire is taken, then every client is closed', async (t) => {
  const port = portOf(urls.mongo);
  const fdsBefore = await fdBaseline(urls.mongo);
  const { pool, clients } = createMongoPool(t, urls.mongo, { max: 2 });
  const name = collectionName();
  const gate = deferred();
  const started = [];
  const calls = range(8).map((n) => pool.use(async (client) => {
    started.push(n);
    await gate.promise;
    await client.db('berth').collection(name).insertOne({ n });
    return n;
  }));
  await eventually(() => started.length === 2 && pool.pending === 6, '2 calls running and 6 queued');

  const drained = pool.drain({ timeout: 30_000 });
  await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'POOL_DRAINING' });
  gate.resolve();
  t.deepEqual(await Promise.all(calls), range(8), 'every call in flight or queued finished');
  await drained;

  t.true(pool.closed, 'drained: the pool is closed');
  t.is(clients.length, 2, 'two clients served all eight calls');
  t.is(connectionsTo(port), 0, 'no socket to the server once drain() resolved');
  await t.throwsAsync(pool.acquire(), { instanceOf: BerthError, code: 'POOL_CLOSED' });

  // The documents are there: read them with a pool of its own.
  const { pool: reader } = createMongoPool(t, urls.mongo, { max: 1 });
  const ns = await reader.use(async (client) => {
    const docs = client.db('berth').collection(name);
    const found = (await docs.find({}).toArray()).map((d) => d.n).sort((a, b) => a - b);
    await docs.drop();
    return found;
  });
  t.deepEqual(ns, range(8), 'all eight inserts stored');
  await reader.close();
  await eventually(() => fdCount() <= fdsBefore, `the descriptor count back to ${fdsBefore} (now ${fdCount()})`);
  t.pass('no descriptor left');
});
