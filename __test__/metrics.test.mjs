// Prometheus metrics (issue 18): pool.metrics(), resourcePool.metrics(), the module's
// metrics() and berth-pool/prometheus, against real sockets. Every exposition goes through a
// strict parser (helpers/prom-text.mjs): one HELP/TYPE per family, samples inside their
// family, histograms cumulative up to +Inf = _count.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Pool, ResourcePool, metrics, METRICS_CONTENT_TYPE } from 'berth-pool';
import { startServer } from './helpers/server.mjs';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor, range } from './helpers/net.mjs';
import { startUpstream, connect, collect } from './helpers/forward.mjs';
import { startMembers, refusingDest } from './helpers/groups.mjs';
import { parseExposition, samples, value } from './helpers/prom-text.mjs';
import { runNode, fixturePath, lastJsonLine } from './helpers/child.mjs';

let serial = 0;
/** A pool name no other test of this file uses (names are unique among open pools). */
const unique = (what) => `${what}-${process.pid}-${++serial}`;

function resourcePool(t, options) {
  const pool = new ResourcePool({ create: () => ({}), destroy: () => {}, ...options });
  t.teardown(() => pool.close());
  return pool;
}

test('pool.metrics(): acquires, reuses and a refused dial, counted as they happened', async (t) => {
  const server = await startServer(t);
  const name = unique('basic');
  const pool = createPool(t, { name });
  t.is(pool.name, name);
  for (const i of range(3)) {
    const lease = await pool.acquire(server.dest);
    t.is((await roundTrip(lease.socket, `r${i}`)).toString(), `r${i}`);
    lease.release();
  }
  const refused = await refusingDest();
  await t.throwsAsync(pool.acquire(refused), { code: 'CONNECT_REFUSED' });
  const held = await pool.acquire(server.dest);

  const m = parseExposition(pool.metrics());
  const p = { pool: name };
  t.is(value(m, 'berth_acquires_total', p), 4, 'three leases and the one held');
  t.is(value(m, 'berth_connections_created_total', p), 1);
  t.is(value(m, 'berth_connections_reused_total', p), 3);
  t.is(value(m, 'berth_dial_failures_total', { ...p, code: 'CONNECT_REFUSED' }), 1);
  t.is(value(m, 'berth_dial_failures_total', { ...p, code: 'CONNECT_TIMEOUT' }), 0, 'every code is listed, from 0');
  t.is(value(m, 'berth_acquire_timeouts_total', p), 0);
  const d = { ...p, destination: server.dest, group: '' };
  t.is(value(m, 'berth_connections_open', d), 1);
  t.is(value(m, 'berth_connections_in_use', d), 1);
  t.is(value(m, 'berth_connections_idle', d), 0);
  t.is(value(m, 'berth_connections_dialing', d), 0);
  t.is(value(m, 'berth_acquires_waiting', d), 0);
  // Every served acquire is in the wait histogram (reuse hits in the lowest bucket), one connect.
  t.is(value(m, 'berth_acquire_wait_seconds_count', p), 4);
  t.true(value(m, 'berth_acquire_wait_seconds_bucket', { ...p, le: '0.0001' }) >= 3, 'the three reuse hits waited 0 s');
  t.is(value(m, 'berth_connect_duration_seconds_count', p), 1, 'the refused dial has no connect time');
  t.true(value(m, 'berth_connect_duration_seconds_sum', p) > 0);
  t.is(m.get('berth_connections_open').type, 'gauge');
  t.is(m.get('berth_acquires_total').type, 'counter');
  t.is(m.get('berth_acquire_wait_seconds').type, 'histogram');
  held.release();
});

test('an idle eviction is counted by reason', async (t) => {
  const server = await startServer(t);
  const name = unique('evict');
  const pool = createPool(t, { name, idleTimeout: 50 });
  (await pool.acquire(server.dest)).release();
  await waitFor(() => pool.stats().evicted.idle === 1, { message: 'the idle connection is evicted' });
  const m = parseExposition(pool.metrics());
  t.is(value(m, 'berth_connections_evicted_total', { pool: name, reason: 'idle' }), 1);
  t.is(value(m, 'berth_connections_evicted_total', { pool: name, reason: 'peerClosed' }), 0);
  await waitFor(() => pool.stats().closed === 1, { message: 'the evicted connection is closed' });
  t.is(value(parseExposition(pool.metrics()), 'berth_connections_closed_total', { pool: name }), 1);
});

test('a listener session: its counters, bytes and duration histogram, labelled with its address', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const name = unique('listen');
  const pool = createPool(t, { name });
  const proxy = await pool.listen(undefined, upstream.dest);
  t.teardown(() => proxy.close());
  const client = await connect(t, proxy.address().port);
  t.is((await roundTrip(client, 'through')).toString(), 'through');
  const rest = collect(client);
  client.end();
  await rest;
  await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'the session ended' });

  const m = parseExposition(pool.metrics());
  const l = { pool: name, listener: `127.0.0.1:${proxy.address().port}` };
  t.is(value(m, 'berth_listener_sessions_total', l), 1);
  t.is(value(m, 'berth_listener_sessions_active', l), 0);
  t.is(value(m, 'berth_listener_bytes_total', { ...l, direction: 'in' }), 'through'.length);
  t.is(value(m, 'berth_listener_bytes_total', { ...l, direction: 'out' }), 'through'.length);
  t.is(value(m, 'berth_listener_route_failures_total', l), 0);
  t.is(value(m, 'berth_listener_connect_failures_total', l), 0);
  t.is(value(m, 'berth_listener_session_duration_seconds_count', l), 1);
  t.is(value(m, 'berth_listener_session_duration_seconds_bucket', { ...l, le: '+Inf' }), 1);
  // The session's upstream was taken by the engine: an acquire served.
  t.is(value(m, 'berth_acquires_total', { pool: name }), 1);
});

test('a forward() session is counted with its bytes', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const name = unique('forward');
  const pool = createPool(t, { name });
  const done = [];
  const front = net.createServer((socket) => done.push(pool.forward(socket, upstream.dest)));
  await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.teardown(() => front.close());
  const client = await connect(t, front.address().port);
  t.is((await roundTrip(client, 'fwd!')).toString(), 'fwd!');
  const rest = collect(client);
  client.end();
  await rest;
  await waitFor(() => done.length === 1);
  const result = await done[0];
  const m = parseExposition(pool.metrics());
  t.is(value(m, 'berth_forward_sessions_total', { pool: name }), 1);
  t.is(value(m, 'berth_forward_bytes_total', { pool: name, direction: 'in' }), result.bytesIn);
  t.is(value(m, 'berth_forward_bytes_total', { pool: name, direction: 'out' }), result.bytesOut);
  t.is(result.bytesIn, 4);
});

test('a group: member gauges carry the group label; member states and ejections', async (t) => {
  const [live] = await startMembers(t, 1);
  const dead = await refusingDest();
  const name = unique('group');
  const pool = createPool(t, { name });
  const group = pool.group('api', [live.dest, dead], {
    balance: 'round-robin',
    outlier: { consecutiveFailures: 1, baseEjectionTime: 60_000, maxEjectionPercent: 50 },
    retry: { attempts: 2, budget: 1 },
  });
  // Round robin reaches the dead member within a few acquires; its refused dial ejects it.
  for (let i = 0; i < 10 && group.stats().members.every((m) => m.state !== 'ejected'); i++) {
    (await pool.acquire('group:api')).release();
  }
  const held = await pool.acquire('group:api');
  t.is(held.destination, live.dest);
  const m = parseExposition(pool.metrics());
  const g = { pool: name, group: 'api' };
  t.is(value(m, 'berth_group_member_state', { ...g, member: dead, state: 'ejected' }), 1);
  t.is(value(m, 'berth_group_member_state', { ...g, member: dead, state: 'up' }), 0);
  t.is(value(m, 'berth_group_member_state', { ...g, member: live.dest, state: 'up' }), 1);
  t.is(value(m, 'berth_group_member_ejections_total', { ...g, member: dead }), 1);
  t.is(value(m, 'berth_group_member_ejections_total', { ...g, member: live.dest }), 0);
  t.is(value(m, 'berth_connections_in_use', { pool: name, destination: live.dest, group: 'api' }), 1);
  t.true(value(m, 'berth_dial_failures_total', { pool: name, code: 'CONNECT_REFUSED' }) >= 1);
  held.release();
});

test('a resource pool: gauges, counters and its acquire wait histogram', async (t) => {
  const name = unique('res');
  const pool = resourcePool(t, { name, max: 1 });
  const a = await pool.acquire();
  const waiting = pool.acquire();
  await waitFor(() => pool.stats().pending === 1);
  let m = parseExposition(pool.metrics());
  const p = { pool: name };
  t.is(value(m, 'berth_resources_size', p), 1);
  t.is(value(m, 'berth_resources_borrowed', p), 1);
  t.is(value(m, 'berth_resources_waiting', p), 1);
  pool.release(a);
  pool.release(await waiting);
  pool.release(await pool.acquire());
  m = parseExposition(pool.metrics());
  t.is(value(m, 'berth_resources_created_total', p), 1);
  t.is(value(m, 'berth_resources_acquires_total', p), 3);
  t.is(value(m, 'berth_resources_reused_total', p), 2);
  t.is(value(m, 'berth_resources_idle', p), 1);
  t.is(value(m, 'berth_resources_waiting', p), 0);
  t.is(value(m, 'berth_resource_acquire_wait_seconds_count', p), 3);
  t.is(m.get('berth_resource_acquire_wait_seconds').type, 'histogram');
});

test('metricsMaxDestinations: 2 of 5 destinations keep their label, the other 3 sum into destination="other"', async (t) => {
  const servers = await Promise.all(range(5).map(() => startServer(t)));
  const name = unique('fold');
  const pool = createPool(t, { name, metricsMaxDestinations: 2 });
  const leases = [];
  for (const s of servers) leases.push(await pool.acquire(s.dest));
  leases.push(await pool.acquire(servers[4].dest));
  const m = parseExposition(pool.metrics());
  const open = samples(m, 'berth_connections_open', { pool: name });
  t.is(open.length, 3, 'two destinations and "other"');
  t.deepEqual(open.map((s) => s.labels.destination), [servers[0].dest, servers[1].dest, 'other'], 'the first destinations used keep their label');
  t.is(value(m, 'berth_connections_open', { pool: name, destination: 'other' }), 4, 'three destinations, four connections, summed');
  t.is(value(m, 'berth_connections_in_use', { pool: name, destination: 'other' }), 4);
  t.is(value(m, 'berth_connections_open', { pool: name, destination: servers[0].dest }), 1);
  for (const l of leases) l.release();
});

// A Unix-socket server (none on Windows) carries the secret in its path.
(process.platform === 'win32' ? test.skip : test)('no credential in a label: a destination and a pool name holding user:pass@ are masked', async (t) => {
  // A Unix socket whose path looks like user:pass@ — destinations can carry such text.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-metrics-'));
  const socketPath = path.join(dir, 'admin:hunter2@db.sock');
  const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise((resolve) => server.listen(socketPath, resolve));
  t.teardown(() => { server.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  const name = `https://root:s3cret@${unique('redact')}`;
  const pool = createPool(t, { name });
  const lease = await pool.acquire(`unix:${socketPath}`);
  const text = pool.metrics();
  const all = metrics();
  for (const out of [text, all]) {
    t.false(out.includes('hunter2'), 'the destination\'s secret is masked');
    t.false(out.includes('s3cret'), 'the name\'s secret is masked');
  }
  const m = parseExposition(text);
  const [open] = samples(m, 'berth_connections_open');
  t.is(open.labels.destination, `unix:${path.join(dir, '***@db.sock')}`);
  t.true(open.labels.pool.startsWith('https://***@'));
  lease.release();
});

test('names: pool-N and resource-N by default, unique among open pools, freed by close', async (t) => {
  const a = new Pool();
  const b = new Pool();
  t.regex(a.name, /^pool-\d+$/);
  t.regex(b.name, /^pool-\d+$/);
  t.not(a.name, b.name);
  const r = new ResourcePool({ create: () => ({}), destroy: () => {} });
  t.regex(r.name, /^resource-\d+$/);
  const name = unique('dup');
  const first = new Pool({ name });
  t.throws(() => new Pool({ name }), { instanceOf: TypeError, message: new RegExp(`"name".*${name}`) });
  t.throws(() => new ResourcePool({ name, create: () => ({}), destroy: () => {} }), { instanceOf: TypeError, message: /"name"/ });
  await first.close();
  const again = new Pool({ name });
  t.is(again.name, name, 'a closed pool frees its name');
  await Promise.all([a.close(), b.close(), r.close(), again.close()]);
});

test('bad metrics options are TypeErrors naming the key', (t) => {
  for (const bad of ['', 42, null, 'x'.repeat(201)]) {
    t.throws(() => new Pool({ name: bad }), { instanceOf: TypeError, message: /^name must be/ }, JSON.stringify(bad));
    t.throws(() => new ResourcePool({ name: bad, create: () => ({}), destroy: () => {} }), { instanceOf: TypeError, message: /^name must be/ });
  }
  for (const bad of [-1, 1.5, '3', NaN]) {
    t.throws(() => new Pool({ metricsMaxDestinations: bad }), { instanceOf: TypeError, message: /metricsMaxDestinations/ }, String(bad));
  }
});

test('module metrics(): every open pool under one HELP/TYPE per family; a closed pool leaves', async (t) => {
  const server = await startServer(t);
  const [n1, n2, n3] = [unique('all'), unique('all'), unique('all')];
  const p1 = createPool(t, { name: n1 });
  const p2 = createPool(t, { name: n2 });
  const r = resourcePool(t, { name: n3 });
  (await p1.acquire(server.dest)).release();
  (await p2.acquire(server.dest)).release();
  let m = parseExposition(metrics());
  t.is(value(m, 'berth_acquires_total', { pool: n1 }), 1);
  t.is(value(m, 'berth_acquires_total', { pool: n2 }), 1);
  t.is(value(m, 'berth_resources_size', { pool: n3 }), 0);
  const names = [...m.keys()];
  t.deepEqual(names, [...names].sort(), 'families sorted by name');
  t.is(METRICS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  await p2.close();
  m = parseExposition(metrics());
  t.deepEqual(samples(m, 'berth_acquires_total', { pool: n2 }), [], 'the closed pool is not listed');
  t.is(value(m, 'berth_acquires_total', { pool: n1 }), 1);
});

test('berth-pool/prometheus: registry.metrics() has the app\'s metric and berth\'s families; getMetricsAsJSON works', async (t) => {
  const client = await import('prom-client');
  const { registerBerthMetrics, BERTH_METRIC_NAMES } = await import('berth-pool/prometheus');
  const server = await startServer(t);
  const name = unique('prom');
  const pool = createPool(t, { name });
  (await pool.acquire(server.dest)).release();
  const registry = new client.Registry();
  const requests = new client.Counter({ name: 'app_requests_total', help: 'Requests.', registers: [registry] });
  requests.inc(3);
  const unregister = registerBerthMetrics(registry);
  const text = await registry.metrics();
  const m = parseExposition(text, { blankLines: true });
  t.is(value(m, 'app_requests_total'), 3);
  t.is(value(m, 'berth_acquires_total', { pool: name }), 1);
  t.is(value(m, 'berth_connections_open', { pool: name, destination: server.dest, group: '' }), 1);
  t.is(value(m, 'berth_connect_duration_seconds_count', { pool: name }), 1);
  for (const family of BERTH_METRIC_NAMES) t.true(m.has(family), `${family} registered`);
  const json = await registry.getMetricsAsJSON();
  const acquires = json.find((f) => f.name === 'berth_acquires_total');
  t.is(acquires.type, 'counter');
  t.deepEqual(acquires.values.filter((v) => v.labels.pool === name), [{ labels: { pool: name }, value: 1 }]);
  t.throws(() => registerBerthMetrics(registry), { message: /already been registered/ });
  unregister();
  t.false((await registry.metrics()).includes('berth_'), 'unregistered');
  t.throws(() => registerBerthMetrics({}), { instanceOf: TypeError });
});

test('berth-pool/prometheus: one gather per scrape, not one per family', async (t) => {
  const client = await import('prom-client');
  const { registerBerthMetrics } = await import('berth-pool/prometheus');
  // A resource pool's families are built from its stats(): count the reads.
  let reads = 0;
  class Counting extends ResourcePool {
    stats() {
      reads++;
      return super.stats();
    }
  }
  const name = unique('gather');
  const pool = new Counting({ name, create: () => ({}), destroy: () => {} });
  t.teardown(() => pool.close());
  const registry = new client.Registry();
  registerBerthMetrics(registry);
  const before = reads;
  const m1 = parseExposition(await registry.metrics(), { blankLines: true });
  t.is(reads - before, 1, 'one gather for every berth family of the scrape');
  t.is(value(m1, 'berth_resources_acquires_total', { pool: name }), 0);
  pool.release(await pool.acquire());
  const m2 = parseExposition(await registry.metrics(), { blankLines: true });
  t.is(reads - before, 2, 'the next scrape gathers again');
  t.is(value(m2, 'berth_resources_acquires_total', { pool: name }), 1, 'and sees what happened since');
});

test('label values are escaped: a name with a quote, a backslash and a newline comes back whole', (t) => {
  const name = `we"ird\\na\nme ${unique('esc')}`;
  const pool = new Pool({ name });
  t.teardown(() => pool.close());
  const m = parseExposition(pool.metrics());
  t.is(value(m, 'berth_acquires_total', { pool: name }), 0);
});

test('the test parser is strict (so that the tests above mean something)', (t) => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 2\n';
  t.is(parseExposition(ok).get('a_total').samples[0].value, 2);
  t.throws(() => parseExposition('a_total 1\n'), { message: /before any HELP/ });
  t.throws(() => parseExposition(`${ok}b 1\n`), { message: /outside its family/ });
  t.throws(() => parseExposition(`${ok}${ok}`), { message: /declared twice/ });
  t.throws(() => parseExposition('# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), { message: /cumulative/ });
  t.throws(() => parseExposition('# HELP h H.\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'), { message: /_count/ });
  t.throws(() => parseExposition('# HELP g G.\n# TYPE g gauge\ng{x="a"b"} 1\n'));
});

test('pools are held weakly: a dropped pool is collected, leaves metrics() and frees its name', async (t) => {
  const server = await startServer(t);
  const run = await runNode(t, fixturePath('metrics-forgotten.mjs'), [server.dest], { guardMs: 30_000 });
  t.false(run.hung, `the child hung\nstderr:\n${run.stderr}`);
  t.is(run.code, 0, `exit code\nstderr:\n${run.stderr}`);
  t.deepEqual(lastJsonLine(run.stdout), { listedBefore: true, collected: 2, listedAfter: false, namesFree: true });
});
