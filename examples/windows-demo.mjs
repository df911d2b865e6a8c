// berth on Windows: a short demo that scripts/test-windows.sh runs in Windows Node (under Wine)
// from the installed tarballs. It runs on Linux and macOS too:
//
//   node examples/windows-demo.mjs        (after `npm run build`)
//
// Everything runs in this process, on 127.0.0.1:
//   1. leases: 4 workers share a pool limited to 2 connections per destination; each acquires
//      a connection to a Node echo server, round-trips bytes over it and releases it, 10 times
//      (so they wait for each other and reuse the connections);
//   2. the native listener: pool.listen() accepts, routes on the first 4 bytes (peek) and
//      relays to the echo server inside the engine (a copy loop on Windows, splice on Linux);
//      20 client sessions go through it.
// Exits 0 when every byte came back intact and the counters agree, 1 otherwise.

import net from 'node:net';
import { Pool } from 'berth-pool';

const guard = setTimeout(() => {
  console.error('windows-demo: FAILED, not finished after 60 s (something hangs)');
  process.exit(1);
}, 60_000);
guard.unref();

const echo = net.createServer((socket) => socket.on('error', () => {}).pipe(socket));
await new Promise((resolve) => echo.listen(0, '127.0.0.1', resolve));
const dest = `127.0.0.1:${echo.address().port}`;

/** Writes `payload` on `socket` and resolves with the first payload.length bytes read back. */
function roundTrip(socket, payload) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let length = 0;
    const onData = (chunk) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length < payload.length) return;
      socket.off('data', onData).off('error', reject);
      resolve(Buffer.concat(chunks, length));
    };
    socket.on('data', onData).once('error', reject);
    socket.write(payload);
  });
}

const problems = [];
const pool = new Pool({ name: 'windows-demo', maxPerDestination: 2, addressPolicy: { allow: ['127.0.0.1'] } });

// ------------------------------------------------------------------ 1. acquire, use, release
const ROUNDS = 10;
const WORKERS = 4;
async function worker(w) {
  for (let round = 0; round < ROUNDS; round++) {
    const lease = await pool.acquire(dest);
    try {
      const payload = Buffer.from(`worker ${w} round ${round} ${'x'.repeat(2000)}`);
      const reply = await roundTrip(lease.socket, payload);
      if (!reply.equals(payload)) problems.push(`worker ${w} round ${round}: echoed bytes differ`);
    } finally {
      lease.release();
    }
  }
}
await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
const leased = pool.stats();
console.log(`leases    ${WORKERS * ROUNDS} acquire/round-trip/release over ${leased.created} connections (reused ${leased.reused} times; maxPerDestination 2)`);
if (leased.created > 2) problems.push(`${leased.created} connections opened, the limit is 2`);
if (leased.reused < WORKERS * ROUNDS - 2) problems.push(`only ${leased.reused} reuses`);

// ------------------------------------------------------------------ 2. the native listener
const proxy = await pool.listen({ host: '127.0.0.1', port: 0, peek: 4 }, (conn) => (conn.head.toString('latin1') === 'ECHO' ? dest : null));
const proxyPort = proxy.address().port;
const SESSIONS = 20;
for (let n = 0; n < SESSIONS; n++) {
  const socket = net.connect({ host: '127.0.0.1', port: proxyPort });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const payload = Buffer.from(`ECHO session ${n} ${'y'.repeat(64 * 1024)}`);
  const reply = await roundTrip(socket, payload);
  if (!reply.equals(payload)) problems.push(`session ${n}: relayed bytes differ`);
  await new Promise((resolve) => socket.once('close', resolve).end());
}
// Session ends are counted by the engine as they finish: wait for the last ones (bounded).
for (let i = 0; i < 200 && proxy.stats().sessionsActive > 0; i++) await new Promise((r) => setTimeout(r, 10));
const ps = proxy.stats();
console.log(`listener  ${ps.sessionsTotal} sessions relayed by the engine through 127.0.0.1:${proxyPort}: ${ps.bytesIn} bytes in, ${ps.bytesOut} bytes out`);
if (ps.sessionsTotal !== SESSIONS) problems.push(`the listener counted ${ps.sessionsTotal} sessions, expected ${SESSIONS}`);

await proxy.close();
await pool.close();
await new Promise((resolve) => echo.close(resolve));
console.log(`closed    proxy, pool (${pool.stats().open} connections open), echo server`);

if (problems.length) {
  console.error(`windows-demo: FAILED (${process.platform}):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`windows-demo: ok on ${process.platform}/${process.arch}, Node ${process.version}`);
