// Smoke test of the raw native addon (no facade, no loader): the native listener relaying to
// a Node TCP server in this process (bytes both ways, half close), a routed listener that
// peeks the first bytes and reuses its upstream, TCP and UDP probes of an
// open and a closed port, and a ResourceEngine acquire/release. Written for Windows Node
// under Wine (issue 19), where it proves the engine's Winsock paths at runtime; it runs the
// same on Linux against the Linux addon.
//
//   node scripts/windows-smoke.mjs path/to/berth.node
//
// Prints one line per check and "smoke: ok" at the end; exits 1 on the first failure, and
// is bounded (a 60 s timer fails the run).
import { createRequire } from 'node:module';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';

const addonPath = process.argv[2];
if (!addonPath) throw new Error('usage: node windows-smoke.mjs path/to/addon.node');
const native = createRequire(import.meta.url)(path.resolve(addonPath));

const bound = setTimeout(() => {
  console.log('smoke: FAILED (timed out after 60 s)');
  process.exit(1);
}, 60_000);

const step = (name) => console.log(`ok - ${name}`);
// The timer is cleared once `promise` settles: left running, it kept the process alive for
// 20 s after the last step.
const withTimeout = (promise, ms, what) => {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
};

async function listen(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
}

/** A port nobody listens on: bound, then closed. */
async function closedPort() {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Reads `socket` to its end, leaving its writable side open (no async iterator: that
 * destroys the socket when the reading ends). */
function readAll(socket) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

async function listenerRelay() {
  // The upstream: answers "echo:" + what it read, once the client half-closed, then ends.
  const upstream = net.createServer({ allowHalfOpen: true }, async (socket) => {
    const got = await readAll(socket);
    socket.end(Buffer.concat([Buffer.from('echo:'), got]));
  });
  const upstreamPort = await listen(upstream);
  const engine = new native.Engine(native.poolDefaults(), () => {});
  const listener = engine.listenTo(
    {
      host: '127.0.0.1',
      port: 0,
      peek: 0,
      peekTimeout: 0,
      reuseUpstream: false,
      backlog: 64,
      idleTimeout: 10_000,
      maxConnections: 16,
      maxConnectionsPerClient: 16,
    },
    `127.0.0.1:${upstreamPort}`,
  );
  assert.ok(listener.port > 0, 'the listener has a port');
  step(`native listener bound on ${listener.address}:${listener.port}`);
  const payload = Buffer.alloc(300_000, 'abcdefghij');
  const client = net.connect({ port: listener.port, host: '127.0.0.1', allowHalfOpen: true });
  await once(client, 'connect');
  client.end(payload); // half close: the upstream reads to its end, then answers
  const reply = await withTimeout(readAll(client), 20_000, 'relayed reply');
  assert.equal(reply.length, payload.length + 5, 'the whole reply came back');
  assert.ok(reply.subarray(0, 5).equals(Buffer.from('echo:')), 'reply starts with echo:');
  assert.ok(reply.subarray(5).equals(payload), 'the payload came back intact');
  step(`relay: ${payload.length} bytes up, ${reply.length} back, after the client's half close`);
  // Counters are updated as the session ends: wait for it to be counted.
  let stats = listener.stats();
  for (let i = 0; i < 100 && stats.sessionsActive > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    stats = listener.stats();
  }
  assert.equal(stats.sessionsTotal, 1);
  assert.equal(stats.bytesIn, payload.length);
  assert.equal(stats.bytesOut, payload.length + 5);
  step(`listener stats: sessions ${stats.sessionsTotal}, bytesIn ${stats.bytesIn}, bytesOut ${stats.bytesOut}`);
  const closed = await new Promise((resolve) => listener.close(resolve));
  step(`listener closed: ${JSON.stringify(closed)}`);
  engine.close();
  upstream.close();
}

/** A routed listener: the engine peeks the client's first bytes (an HTTP request line) and
 * JS routes on them; upstreams are reused (the liveness peek before reuse). */
async function routedListenerReuse() {
  const upstream = net.createServer((socket) => socket.pipe(socket)); // echo, never closes first
  const upstreamPort = await listen(upstream);
  const engine = new native.Engine(native.poolDefaults(), () => {});
  const seen = [];
  let listener;
  listener = engine.listen(
    {
      host: '127.0.0.1',
      port: 0,
      peek: 64,
      peekTimeout: 2_000,
      reuseUpstream: true,
      backlog: 64,
      idleTimeout: 10_000,
      maxConnections: 16,
      maxConnectionsPerClient: 16,
    },
    () => {
      for (const request of listener.takeRoutes()) {
        seen.push(`${request.method} ${request.host}`);
        listener.answer(request.token, `127.0.0.1:${upstreamPort}`);
      }
    },
  );
  for (const round of [1, 2]) {
    const client = net.connect({ port: listener.port, host: '127.0.0.1' });
    await once(client, 'connect');
    const request = `GET /${round} HTTP/1.1\r\nHost: round${round}.test\r\n\r\n`;
    client.write(request);
    let echoed = '';
    client.setEncoding('latin1');
    await withTimeout(
      new Promise((resolve) => client.on('data', (d) => (echoed += d).length >= request.length && resolve())),
      10_000,
      `echo of round ${round}`,
    );
    assert.equal(echoed, request);
    client.end();
    await once(client, 'close');
    // The session ends (and its upstream goes idle) once the client's FIN is relayed.
    for (let i = 0; i < 200 && listener.stats().sessionsActive > 0; i++) await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(seen, ['GET round1.test', 'GET round2.test'], 'routed on the peeked request line and Host');
  const stats = listener.stats();
  assert.equal(stats.upstreamReused, 1, `the second session reused the upstream: ${JSON.stringify(stats)}`);
  step(`routed listener: peeked ${seen.join(', ')}; upstream reused ${stats.upstreamReused}x`);
  await new Promise((resolve) => listener.close(resolve));
  engine.close();
  upstream.close();
}

async function probeRun(config, targets) {
  const results = new Map();
  const errors = [];
  await new Promise((resolve) => {
    let pushed = false;
    const engine = new native.ProbeEngine(config, (batch) => {
      batch.indices.forEach((index, i) => results.set(index, batch.states[i]));
      errors.push(...batch.errors);
      if (!pushed && batch.want > 0) {
        pushed = true;
        engine.push(targets.map((_, i) => i), targets);
        engine.endInput();
      }
      if (batch.done) resolve();
    });
  });
  return { states: targets.map((_, i) => results.get(i)), errors };
}

async function probes() {
  const open = net.createServer((s) => s.destroy());
  const openPort = await listen(open);
  const closed = await closedPort();
  const tcp = await probeRun({ concurrency: 4, timeout: 5_000 }, [`127.0.0.1:${openPort}`, `127.0.0.1:${closed}`]);
  assert.deepEqual(tcp.states, [native.PROBE_OPEN, native.PROBE_CLOSED], `tcp probe states ${tcp.states} ${JSON.stringify(tcp.errors)}`);
  step(`tcp probe: port ${openPort} open, port ${closed} closed`);
  open.close();

  const udpServer = dgram.createSocket('udp4');
  udpServer.on('message', (msg, rinfo) => udpServer.send(msg, rinfo.port, rinfo.address));
  udpServer.bind(0, '127.0.0.1');
  await once(udpServer, 'listening');
  const udpOpen = udpServer.address().port;
  const udpClosed = await new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
  const udp = await probeRun({ concurrency: 4, timeout: 3_000, udp: true, payload: Buffer.from('ping') }, [
    `127.0.0.1:${udpOpen}`,
    `127.0.0.1:${udpClosed}`,
  ]);
  assert.equal(udp.states[0], native.PROBE_OPEN, `udp open port: state ${udp.states[0]} ${JSON.stringify(udp.errors)}`);
  assert.equal(udp.states[1], native.PROBE_CLOSED, `udp closed port: state ${udp.states[1]} ${JSON.stringify(udp.errors)}`);
  step(`udp probe: port ${udpOpen} open, port ${udpClosed} closed`);
  udpServer.close();
}

function resources() {
  const io = new Float64Array(native.hotIo(), 0, 5);
  const config = { ...native.resourceDefaults(), min: 0, max: 1 };
  const engine = new native.ResourceEngine(config, () => {});
  engine.start();
  const acquire = (waiter) => {
    io[0] = engine.handle;
    io[1] = waiter;
    io[2] = 0;
    io[3] = 5_000;
    native.resAcquire();
    return [io[0], io[1]];
  };
  const release = (slot) => {
    io[0] = engine.handle * native.KEY_BASE + slot;
    native.resRelease();
    return io[0];
  };
  // Empty pool: the acquire queues and asks for a create; the create goes to that waiter.
  const [queued, create] = acquire(1);
  assert.equal(queued, native.QUEUED);
  assert.ok(create >= 0, 'a create was asked for');
  assert.equal(engine.created(create), 1, 'the created resource went to waiter 1');
  step(`resource: acquire queued, slot ${create} created and lent to waiter 1`);
  const placed = release(create);
  assert.ok(placed < 0 || placed >= 0, 'release answered');
  // Idle now: the next acquire takes it at once.
  const [again] = acquire(2);
  assert.equal(again, create, 'the idle resource was lent again at once');
  release(again);
  const stats = engine.stats();
  step(`resource: released, re-acquired slot ${again} at once, released (stats ${JSON.stringify(stats)})`);
  engine.close();
  engine.dispose();
}

try {
  console.log(`platform ${process.platform} ${process.arch}, node ${process.version}, addon ${addonPath}`);
  await listenerRelay();
  await routedListenerReuse();
  await probes();
  resources();
  clearTimeout(bound);
  console.log('smoke: ok');
} catch (error) {
  console.log(`smoke: FAILED ${error?.stack ?? error}`);
  process.exit(1);
}
