// ResourcePool with real Redis: ioredis clients pooled under concurrent load, and connections
// killed from the server's side (CLIENT KILL) while busy and while idle.
//
// The server comes from BERTH_TEST_REDIS (.ci/run), or is started for this file when
// redis-server is installed (see helpers/servers.mjs). The pool's connections are counted by
// the server (CLIENT LIST, by client name), from a monitor connection outside the pool.
import anyTest from 'ava';
import { pooled } from 'berth-pool';
import { useServers, deferred, eventually, useAllAtOnce } from './helpers/servers.mjs';
import {
  BROKEN, ID, createRedisPool, connectMonitor, clientList, countSessions, sampleSessions, kill,
  killWhenBlocked, noSessionsLeft,
} from './helpers/redis.mjs';

const { test, urls } = useServers(anyTest, ['redis']);

const MAX = 5;
const COMMANDS = 50;
const range = (n) => Array.from({ length: n }, (_, i) => i);

// A command that occupies its connection for a moment: BLPOP on a key nobody pushes to, with a
// 10 ms timeout, answers null.
const pause = (client, key) => client.blpop(key, 0.01);

test(`${COMMANDS} concurrent calls through pooled() on max ${MAX}: all answer, the server never sees more than ${MAX} connections`, async (t) => {
  const { pool, name, clients } = createRedisPool(t, urls.redis, { max: MAX });
  const monitor = await connectMonitor(t, urls.redis);
  const key = `${name}:counter`;
  const sampler = sampleSessions(t, monitor, name);

  // Each call also counts, from inside its own connection, the pool's connections at that moment.
  const call = pooled(pool, async (client, n) => {
    t.is(await pause(client, `${name}:nothing`), null);
    const total = await client.incr(key);
    const sessions = (await clientList(client)).filter((c) => c.name === name).length;
    return { n, total, id: client[ID], sessions };
  });
  const results = await Promise.all(range(COMMANDS).map((n) => call(n)));
  const seen = await sampler.stop();

  t.deepEqual(results.map((r) => r.n), range(COMMANDS), 'every call answered, with its own result');
  t.deepEqual(results.map((r) => r.total).sort((a, b) => a - b), range(COMMANDS).map((n) => n + 1),
    'every INCR ran exactly once');
  const inCall = Math.max(...results.map((r) => r.sessions));
  t.true(inCall <= MAX, `connections seen from inside the calls: at most ${MAX} (got ${inCall})`);
  t.true(seen.samples > 0, 'the monitor sampled during the run');
  t.true(seen.max <= MAX, `connections seen by the monitor: at most ${MAX} (got ${seen.max} in ${seen.samples} samples)`);
  t.is(clients.length, MAX, `the pool opened ${MAX} clients for ${COMMANDS} concurrent calls`);
  t.is(new Set(results.map((r) => r.id)).size, MAX, `the calls ran on ${MAX} connections`);
  const s = pool.stats();
  t.is(s.created, MAX, 'stats.created');
  t.is(s.borrowed, 0, 'nothing borrowed once every call answered');
  t.is(await countSessions(monitor, name), MAX, `${MAX} connections on the server while the pool is open`);

  await monitor.del(key);
  await pool.close();
  t.is(pool.size, 0, 'closed pool: size 0');
  await noSessionsLeft(monitor, name);
  t.pass('every connection closed after close()');
});

test('a connection killed while blocked in a command: that call fails with the driver\'s error, no other is lost, the client is replaced', async (t) => {
  const { pool, name, clients, destroyed } = createRedisPool(t, urls.redis, { max: MAX });
  const monitor = await connectMonitor(t, urls.redis);
  const killed = [];
  // One connection samples and kills: a sample is never in flight while a kill is.
  const sampler = sampleSessions(t, monitor, name, killed);

  const VICTIM = 0;
  const victim = deferred();
  const killDone = deferred();
  const call = pooled(pool, async (client, n) => {
    if (n === VICTIM) {
      victim.resolve(client);
      await client.blpop(`${name}:never`, 60);
      return { n, id: client[ID] };
    }
    // The others hold their clients until the kill is done, so that the rest wait in the
    // pool's queue when the victim's client fails: its replacement is made for them.
    await killDone.promise;
    await pause(client, `${name}:nothing`);
    return { n, id: client[ID], echo: await client.echo(`call ${n}`) };
  });
  const runs = range(COMMANDS).map((n) => call(n).then((v) => ({ ok: true, v }), (err) => ({ ok: false, err })));

  const victimClient = await victim.promise;
  const victimId = victimClient[ID];
  killed.push(victimId);
  t.is(await killWhenBlocked(monitor, victimId), 1, 'CLIENT KILL found the connection');
  killDone.resolve();
  const outcomes = await Promise.all(runs);
  const seen = await sampler.stop();

  const failed = outcomes.map((o, n) => (o.ok ? null : n)).filter((n) => n !== null);
  t.deepEqual(failed, [VICTIM], 'only the call on the killed connection failed');
  const err = outcomes[VICTIM].err;
  t.true(err instanceof Error, 'an Error');
  t.is(err?.message, 'Connection is closed.', 'the driver\'s error for a command whose connection closed');
  for (const n of range(COMMANDS)) {
    if (n === VICTIM) continue;
    t.is(outcomes[n].v?.echo, `call ${n}`, `call ${n} answered`);
    if (outcomes[n].v?.id === victimId) t.fail(`call ${n} ran on the killed connection`);
  }

  await eventually(() => destroyed.includes(victimClient), 'the pool to destroy the client whose call threw');
  await eventually(() => victimClient[BROKEN] !== null, 'the driver to report the connection broken');
  t.true(seen.max <= MAX, `live connections seen by the monitor: at most ${MAX} (got ${seen.max} in ${seen.samples} samples)`);

  // MAX calls at once again: the 4 survivors and one replacement serve them.
  const ids = await useAllAtOnce(pool, MAX, (client) => client.client('ID'));
  t.is(new Set(ids).size, MAX, `${MAX} connections serve ${MAX} calls at once`);
  t.false(ids.includes(victimId), 'none of them the killed connection');
  t.is(clients.length, MAX + 1, `one replacement client: ${MAX + 1} created in all`);
  t.is(pool.stats().created, MAX + 1, 'stats.created');
  t.is(await countSessions(monitor, name, killed), MAX, `${MAX} live connections`);

  await pool.close();
  await noSessionsLeft(monitor, name);
  t.pass('every connection closed after close()');
});

test('a connection killed while idle: the driver\'s end event marks it, validate on acquire discards it, a replacement serves', async (t) => {
  const { pool, name, clients, destroyed } = createRedisPool(t, urls.redis, { max: MAX, testOnAcquire: true });
  const monitor = await connectMonitor(t, urls.redis);

  const warm = await Promise.all(range(MAX).map(() => pool.acquire()));
  for (const c of warm) pool.release(c);
  t.is(clients.length, MAX);
  t.is(pool.available, MAX);

  const victim = clients[2];
  const victimId = victim[ID];
  const killed = [victimId];
  t.is(await kill(monitor, victimId), 1, 'CLIENT KILL found the connection');
  await eventually(() => victim[BROKEN] !== null, 'the driver to report the killed connection');
  t.is(victim.status, 'end', 'the driver gave the connection up (no reconnect: the pool replaces it)');

  const sampler = sampleSessions(t, monitor, name, killed);
  const ids = await Promise.all(range(20).map((n) => pool.use(async (client) => {
    t.is(await client.echo(`call ${n}`), `call ${n}`);
    await pause(client, `${name}:nothing`);
    return client[ID];
  })));
  const seen = await sampler.stop();

  t.false(ids.includes(victimId), 'no call was handed the killed client');
  await eventually(() => destroyed.includes(victim), 'the pool to destroy the client that failed validation');
  t.is(pool.stats().validationFailures, 1, 'stats.validationFailures');
  t.true(seen.max <= MAX, `live connections seen by the monitor: at most ${MAX} (got ${seen.max})`);

  // MAX calls at once: the 4 survivors and one replacement serve them.
  const atOnce = await useAllAtOnce(pool, MAX, (client) => client.client('ID'));
  t.is(new Set(atOnce).size, MAX, `${MAX} connections serve ${MAX} calls at once`);
  t.false(atOnce.includes(victimId), 'none of them the killed connection');
  t.is(clients.length, MAX + 1, `one replacement client: ${MAX + 1} created in all`);

  await pool.close();
  await noSessionsLeft(monitor, name);
  t.pass('every connection closed after close()');
});
