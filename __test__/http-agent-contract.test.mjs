// The HTTP agent keeps http.Agent's contract: its options (mapped onto the pool) and Node's
// errors for bad values, keepAlive: false, the sockets / freeSockets / requests views, 'free',
// overrides of createSocket / createConnection / keepSocketAlive / reuseSocket, the idle
// timeout, aborted requests, and 'close' listeners on pooled sockets.
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { HttpAgent, Pool } from 'berth-pool';
import { createPool, settledStats } from './helpers/pool.mjs';
import { range, waitFor } from './helpers/net.mjs';
import { startHttpServer, request, targetOf } from './fixtures/http-upstream.mjs';

/** An agent with a pool of its own, destroyed (and its pool closed) after the test. */
function ownAgent(t, options) {
  const agent = new HttpAgent(options);
  t.teardown(() => {
    agent.destroy();
    return agent.pool.close();
  });
  return agent;
}

test('new HttpAgent(options) takes http.Agent\'s options and maps them onto its pool', async (t) => {
  const server = await startHttpServer(t);
  const agent = ownAgent(t, {
    keepAlive: true,
    keepAliveMsecs: 2000,
    maxSockets: 2,
    maxFreeSockets: 1,
    maxTotalSockets: 10,
    scheduling: 'fifo',
    timeout: 5000,
    connectTimeout: 3000, // a pool option in the same object
  });
  t.like(agent.pool.options, { maxPerDestination: 2, maxIdlePerDestination: 1, maxTotal: 10, order: 'fifo', connectTimeout: 3000 });
  t.like(agent, { keepAlive: true, keepAliveMsecs: 2000, maxSockets: 2, maxFreeSockets: 1, maxTotalSockets: 10, scheduling: 'fifo' });
  t.is(agent.options.timeout, 5000);
  // maxSockets bounds the connections: 6 concurrent requests on at most 2.
  const replies = await Promise.all(range(6).map(() => request(agent, targetOf(server, '/slow/20'))));
  t.true(replies.every((r) => r.status === 200));
  const stats = await server.stats();
  t.true(stats.maxOpen <= 2, `server saw ${stats.maxOpen} connections at once`);
  // Infinity: no limit of the agent's own; the pool's finite total still applies.
  const open = ownAgent(t, { maxSockets: Infinity, maxFreeSockets: Infinity, maxTotalSockets: Infinity });
  t.like(open.pool.options, { maxPerDestination: open.pool.options.maxTotal, maxIdlePerDestination: open.pool.options.maxTotal });
  t.throws(() => new HttpAgent({ maxSockets: 2, maxPerDestination: 3 }), { instanceOf: TypeError, message: /maxSockets and maxPerDestination are the same limit/ });
});

test('invalid http.Agent options throw Node\'s errors, with Node\'s codes', (t) => {
  t.throws(() => new HttpAgent({ maxTotalSockets: 'test' }), {
    instanceOf: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'The "maxTotalSockets" argument must be of type number. Received type string (\'test\')',
  });
  for (const value of [-1, 0, NaN]) t.throws(() => new HttpAgent({ maxTotalSockets: value }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new HttpAgent({ scheduling: 'filo' }), {
    instanceOf: TypeError,
    code: 'ERR_INVALID_ARG_VALUE',
    message: "The argument 'scheduling' must be one of: 'fifo', 'lifo'. Received 'filo'",
  });
  t.throws(() => new HttpAgent({ keepAlive: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE', message: /"keepAlive" argument must be of type boolean/ });
  t.throws(() => new HttpAgent({ maxSockets: -3 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE', message: /"maxSockets"/ });
  t.throws(() => new HttpAgent({ timeout: NaN }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE', message: /"timeout"/ });
  // The same checks on a shared pool's agent.
  const pool = createPool(t);
  t.throws(() => pool.httpAgent({ maxFreeSockets: '2' }), { code: 'ERR_INVALID_ARG_TYPE' });
  // berth's own options keep their TypeErrors naming the option.
  t.throws(() => new HttpAgent({ retry: 'yes' }), { instanceOf: TypeError, message: /retry must be a boolean/ });
  t.throws(() => new HttpAgent({ tiemout: 5 }), { instanceOf: TypeError, message: /unknown HttpAgent option "tiemout"/ });
});

test('pool.httpAgent(options): the shared pool\'s limits apply, and asking for others says which pool option to set', (t) => {
  const pool = createPool(t, { maxPerDestination: 8, order: 'lifo' });
  t.throws(() => pool.httpAgent({ maxSockets: 10 }), {
    instanceOf: TypeError,
    message: /maxSockets \(10\) cannot apply: this agent uses a shared pool, whose maxPerDestination \(8\) applies; set maxPerDestination on the Pool/,
  });
  t.throws(() => pool.httpAgent({ scheduling: 'fifo' }), { instanceOf: TypeError, message: /whose order \(lifo\) applies/ });
  t.throws(() => pool.httpAgent({ maxPerDestination: 3 }), { instanceOf: TypeError, message: /maxPerDestination is a Pool option: this agent uses an existing pool/ });
  // What the pool already does is accepted, as is Infinity (no limit of the agent's own).
  const agent = pool.httpAgent({ maxSockets: 8, scheduling: 'lifo', maxTotalSockets: Infinity, keepAlive: true });
  t.is(agent.maxSockets, 8);
});

test('keepAlive: false closes each connection once its response is read', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent({ keepAlive: false });
  t.false(agent.keepAlive);
  for (const _ of range(3)) t.is((await request(agent, targetOf(server, '/'))).status, 200);
  const s = await settledStats(pool, { open: 0 });
  t.like(s, { created: 3, reused: 0, idle: 0, open: 0 });
  t.is((await server.stats()).accepted, 3);
});

test('sockets, freeSockets and requests are live views keyed by getName(); the agent emits \'free\'', async (t) => {
  const server = await startHttpServer(t);
  const agent = ownAgent(t, { maxSockets: 1 });
  const target = { ...targetOf(server, '/slow/50'), agent };
  const name = agent.getName(target);
  const freed = [];
  agent.on('free', (socket, options) => freed.push({ socket, options }));
  const seen = {};
  const first = new Promise((resolve, reject) => {
    http.get(target, (res) => {
      // The second request waits: the limit is 1.
      seen.sockets = agent.sockets[name]?.length;
      seen.requests = agent.requests[name]?.length;
      seen.free = agent.freeSockets[name];
      res.resume().on('end', resolve);
    }).on('error', reject);
  });
  const second = request(agent, target);
  await Promise.all([first, second]);
  t.deepEqual(seen, { sockets: 1, requests: 1, free: undefined });
  await waitFor(() => freed.length === 2, { message: "two 'free' events" });
  t.is(freed[0].socket, freed[1].socket);
  t.is(agent.getName(freed[0].options), name);
  t.deepEqual(Object.keys(agent.sockets), []);
  t.deepEqual(Object.keys(agent.requests), []);
  t.is(agent.freeSockets[name].length, 1);
  t.is(agent.freeSockets[name][0], freed[1].socket);
  t.is(agent.totalSocketCount, 1);
  // A view is read-only: writing to it changes nothing.
  agent.freeSockets[name] = [];
  agent.sockets.x = [1];
  t.is(agent.freeSockets[name].length, 1);
  t.deepEqual(Object.keys(agent.sockets), []);
  // A connection closed while idle leaves the view.
  agent.freeSockets[name][0].destroy();
  t.deepEqual(Object.keys(agent.freeSockets), []);
});

test('keepSocketAlive and reuseSocket overrides are called where http.Agent calls them', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const calls = [];
  const keep = agent.keepSocketAlive;
  const reuse = agent.reuseSocket;
  let keepAnswer = false;
  agent.keepSocketAlive = (socket) => {
    calls.push(['keep', socket]);
    return keepAnswer && keep.call(agent, socket);
  };
  agent.reuseSocket = (socket, req) => {
    calls.push(['reuse', socket, req]);
    return reuse.call(agent, socket, req);
  };
  const first = await request(agent, targetOf(server, '/'));
  t.is((await settledStats(pool, { open: 0 })).open, 0, 'keepSocketAlive() false: closed');
  keepAnswer = true;
  const second = await request(agent, targetOf(server, '/'));
  const third = await request(agent, targetOf(server, '/'));
  t.deepEqual(calls.map(([what]) => what), ['keep', 'keep', 'reuse', 'keep']);
  t.is(calls[2][1], third.req.socket ?? calls[3][1]);
  t.is(calls[2][2], third.req);
  t.false(first.reusedSocket);
  t.false(second.reusedSocket);
  t.true(third.reusedSocket);
  t.like(pool.stats(), { created: 2, reused: 1 });
});

test('a createSocket override is asked for each request\'s socket: its error fails the request, wrapping the default works', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const failing = pool.httpAgent();
  const kaboom = new Error('kaboom');
  failing.createSocket = (req, options, cb) => cb(kaboom);
  const err = await t.throwsAsync(request(failing, targetOf(server, '/')));
  t.is(err, kaboom);

  const wrapping = pool.httpAgent();
  const original = wrapping.createSocket;
  const made = [];
  wrapping.createSocket = function (req, options, cb) {
    original.call(this, req, options, (error, socket) => {
      made.push(socket);
      cb(error, socket);
    });
  };
  const a = await request(wrapping, targetOf(server, '/'));
  const b = await request(wrapping, targetOf(server, '/'));
  t.is(a.status, 200);
  t.true(b.reusedSocket);
  t.is(made.length, 2);
  t.is(made[0], made[1]);
  t.true(made[0] instanceof net.Socket);
});

test('a createConnection override runs once per new connection, with the dialled socket and http.Agent\'s keep-alive options', async (t) => {
  const server = await startHttpServer(t);
  const agent = ownAgent(t, { keepAliveMsecs: 1500 });
  const original = agent.createConnection;
  const seen = [];
  agent.createConnection = function (options, cb) {
    seen.push({ keepAlive: options.keepAlive, delay: options.keepAliveInitialDelay, socket: options.socket, host: options.host, port: options.port });
    return original.call(this, options, cb);
  };
  const replies = [];
  for (const _ of range(3)) replies.push(await request(agent, targetOf(server, '/')));
  t.true(replies.every((r) => r.status === 200));
  t.is(seen.length, 1);
  t.like(seen[0], { keepAlive: true, delay: 1500, host: server.host, port: server.port });
  t.true(seen[0].socket instanceof net.Socket);
  t.is(replies[2].req.socket ?? seen[0].socket, seen[0].socket);
  t.is((await server.stats()).accepted, 1);
});

test('timeout applies to idle connections: they emit \'timeout\' and are closed, the next request dials anew', async (t) => {
  const server = await startHttpServer(t);
  const agent = ownAgent(t, { timeout: 100 });
  const first = await request(agent, targetOf(server, '/'));
  const socket = first.req.socket ?? Object.values(agent.freeSockets)[0][0];
  await new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('timeout', resolve);
  });
  await waitFor(() => socket.destroyed, { message: 'the idle socket is destroyed' });
  t.deepEqual(Object.keys(agent.freeSockets), []);
  const second = await request(agent, targetOf(server, '/'));
  t.false(second.reusedSocket);
  t.is((await server.stats()).accepted, 2);
});

test('a keepSocketAlive override\'s socket timeout is the idle timeout', async (t) => {
  const server = await startHttpServer(t);
  class CustomAgent extends HttpAgent {
    keepSocketAlive(socket) {
      if (!super.keepSocketAlive(socket)) return false;
      socket.setTimeout(60);
      return true;
    }
  }
  const agent = new CustomAgent({ timeout: 5000 });
  t.teardown(() => agent.destroy());
  const socket = await new Promise((resolve, reject) => {
    http.get({ ...targetOf(server, '/'), agent }, (res) => {
      const s = res.socket;
      res.resume();
      s.once('free', () => resolve(s));
    }).on('error', reject);
  });
  await new Promise((resolve) => socket.once('timeout', resolve));
  t.is(socket.timeout, 60);
});

test('a request aborted before it got its connection: it closes, and the connection dialled for it does not stay open', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const events = [];
  await new Promise((resolve) => {
    const req = http.get({ ...targetOf(server, '/'), agent });
    req.on('socket', () => events.push('socket'));
    req.on('error', (err) => events.push(err.code ?? err.message));
    req.on('close', resolve);
    req.destroy();
  });
  t.false(events.includes('socket'));
  // Nothing keeps the server's side open (a server's close() would wait for it).
  const s = await settledStats(pool, { open: 0 });
  t.is(s.open, 0);
  await waitFor(async () => (await server.stats()).open === 0, { message: 'the server sees no connection' });
  t.pass();
});

test('\'close\' listeners a request adds to its socket fire when that socket closes, after it went back to the pool', async (t) => {
  const server = await startHttpServer(t);
  const pool = new Pool();
  const agent = pool.httpAgent();
  let closed = 0;
  const first = await new Promise((resolve, reject) => {
    const req = http.get({ ...targetOf(server, '/'), agent }, (res) => res.resume().on('end', () => resolve(req)));
    req.on('socket', (socket) => socket.on('close', () => closed++));
    req.on('error', reject);
  });
  t.truthy(first);
  // Pooled and reused: the listener stays.
  const again = await request(agent, targetOf(server, '/'));
  t.true(again.reusedSocket);
  t.is(closed, 0);
  await pool.close();
  await waitFor(() => closed === 1, { message: "the request's 'close' listener ran" });
  t.is(closed, 1);
});

test('a new connection emits \'connect\' for listeners added on the request\'s \'socket\' event', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  const agent = pool.httpAgent();
  const connected = await new Promise((resolve, reject) => {
    const req = http.get({ ...targetOf(server, '/'), agent }, (res) => res.resume());
    req.on('socket', (socket) => socket.on('connect', () => resolve(true)));
    req.on('error', reject);
  });
  t.true(connected);
});

test('createConnection() with an already aborted signal fails with AbortError and opens nothing', async (t) => {
  const server = await startHttpServer(t);
  const pool = createPool(t);
  for (const agent of [pool.httpAgent(), new HttpAgent()]) {
    t.teardown(() => agent.destroy());
    const ac = new AbortController();
    ac.abort();
    const socket = agent.createConnection({ host: server.host, port: server.port, signal: ac.signal });
    const [err] = await once(socket, 'error');
    t.is(err.name, 'AbortError');
    t.is(err.code, 'ABORT_ERR');
    await new Promise((resolve) => setImmediate(resolve));
    // net.createConnection alone still connects after emitting the error (Node 20).
    t.true(socket.destroyed);
    t.is(socket.remotePort, undefined);
  }
});
