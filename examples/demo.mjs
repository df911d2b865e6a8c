// berth demo: pool connections to a TCP echo server and watch them being reused.
//
//   npm run demo        (after `npm run build`)
//
// Needs nothing external: the echo server runs in this process, on loopback.

import net from 'node:net';
import { Pool, BerthError } from 'berth';

const REQUESTS = 200;
const WORKERS = 20;
const MAX_PER_DESTINATION = 8;

// A demo must never hang: fail loudly if something keeps the process alive too long.
setTimeout(() => {
  console.error('demo: did not finish within 30 s');
  process.exit(1);
}, 30_000).unref();

// ---------------------------------------------------------------- 1. an echo server

let serverConnections = 0;
const serverSockets = new Set();
const server = net.createServer((socket) => {
  serverConnections++;
  serverSockets.add(socket);
  socket.on('close', () => serverSockets.delete(socket));
  socket.on('error', () => {});
  socket.pipe(socket); // echo every byte back
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const dest = `127.0.0.1:${server.address().port}`;

console.log('berth demo');
console.log('==========');
console.log(`echo server listening on ${dest}`);

// ---------------------------------------------------------------- 2. a pool

const pool = new Pool({ maxPerDestination: MAX_PER_DESTINATION });
console.log(`pool: new Pool({ maxPerDestination: ${MAX_PER_DESTINATION} })`);

/** Writes one line on the socket and resolves with the line echoed back. */
function roundTrip(socket, line) {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk) => {
      received += chunk.toString('utf8');
      if (received.endsWith('\n')) {
        cleanup();
        resolve(received.slice(0, -1));
      }
    };
    const onError = (err) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('connection closed before the echo arrived'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(line + '\n');
  });
}

// ---------------------------------------------------------------- 3. requests

console.log(`\nsending ${REQUESTS} requests from ${WORKERS} concurrent workers...`);
const started = performance.now();
let next = 0;
let echoed = 0;
let reusedSeen = 0;

async function worker(id) {
  while (next < REQUESTS) {
    const n = next++;
    const line = `request ${n} from worker ${id}`;
    let reply;
    if (n % 2 === 0) {
      // The short way: pool.use() acquires, runs the callback, and releases
      // (or destroys the connection if the callback throws).
      reply = await pool.use(dest, (socket) => roundTrip(socket, line));
    } else {
      // The explicit way: acquire a lease, use lease.socket, release it.
      const lease = await pool.acquire(dest);
      try {
        if (lease.reused) reusedSeen++;
        reply = await roundTrip(lease.socket, line);
      } catch (err) {
        lease.destroy(err);
        throw err;
      }
      lease.release();
    }
    if (reply !== line) throw new Error(`bad echo: sent "${line}", got "${reply}"`);
    echoed++;
  }
}

await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)));
const elapsedMs = performance.now() - started;

const stats = pool.stats();
const leases = stats.created + stats.reused;
console.log(`done in ${elapsedMs.toFixed(1)} ms`);
console.log('');
console.log(`  requests answered correctly     ${echoed} / ${REQUESTS}`);
console.log(`  connections the server saw      ${serverConnections}  (cap: ${MAX_PER_DESTINATION})`);
console.log(`  leases on a reused connection   ${stats.reused} / ${leases}  (${((100 * stats.reused) / leases).toFixed(1)}% reuse)`);
console.log(`  explicit leases marked reused   ${reusedSeen} / ${REQUESTS / 2}`);

console.log('\npool.stats():');
console.log(indent(JSON.stringify(stats, null, 2)));

const snap = pool.snapshot();
console.log('\npool.snapshot(), per connection:');
for (const d of snap.destinations) {
  console.log(`  ${d.destination}: ${d.open} open, ${d.idle} idle, ${d.inUse} in use`);
  for (const c of d.connections) {
    console.log(`    #${String(c.id).padEnd(4)} ${c.state.padEnd(5)}  uses ${String(c.uses).padStart(3)}  age ${c.ageMs} ms`);
  }
}

// ---------------------------------------------------------------- 4. a typed error

// A port nobody listens on: the acquire rejects with a BerthError carrying a stable code.
const closedPort = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
try {
  const lease = await pool.acquire(`127.0.0.1:${closedPort}`, { timeout: 5000 });
  lease.destroy();
  throw new Error(`expected acquire to 127.0.0.1:${closedPort} (nothing listening) to fail`);
} catch (err) {
  if (!(err instanceof BerthError)) throw err;
  console.log(`\nacquire('127.0.0.1:${closedPort}') with nothing listening -> BerthError ${err.code}: ${err.message}`);
}

// ---------------------------------------------------------------- 5. shutdown

await pool.close();
for (const s of serverSockets) s.destroy();
await new Promise((resolve) => server.close(resolve));
const after = pool.stats();
console.log(`\npool closed: ${after.open} open, ${after.closed} connections closed in all; server closed.`);

if (echoed !== REQUESTS) {
  console.error(`demo: only ${echoed} of ${REQUESTS} requests were answered`);
  process.exit(1);
}
if (serverConnections > MAX_PER_DESTINATION) {
  console.error(`demo: the server saw ${serverConnections} connections, more than the cap of ${MAX_PER_DESTINATION}`);
  process.exit(1);
}

function indent(text) {
  return text
    .split('\n')
    .map((l) => '  ' + l)
    .join('\n');
}
